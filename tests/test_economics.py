"""Break-even economics, checked against figures a person can work out by hand from the catalog."""

import datetime as dt

import pytest

from core import economics as eco
from core.catalog import load_bundled

CAT = load_bundled()
MINI = CAT.get("gpt-4o-mini-2024-07-18")


def test_seed_example_system_prompt_cost_per_day():
    # A ~400-token system prompt at $0.15/1M, 10,000 calls a day: $0.60/day; a 5-token prompt: $0.0075/day.
    assert eco.inference_cost_usd(MINI, 400, 0) * 10_000 == pytest.approx(0.60)
    assert eco.inference_cost_usd(MINI, 5, 0) * 10_000 == pytest.approx(0.0075)


def test_finetuned_batch_and_cached_prices():
    assert eco.inference_cost_usd(MINI, 1_000_000, 1_000_000, fine_tuned=True) == pytest.approx(0.30 + 1.20)
    assert eco.inference_cost_usd(MINI, 1_000_000, 1_000_000, batch=True) == pytest.approx((0.15 + 0.60) / 2)
    assert eco.inference_cost_usd(MINI, 1_000_000, 0, cached_input_tokens=1_000_000) == pytest.approx(0.075)


def test_training_cost_is_tokens_times_epochs_times_price():
    assert eco.training_cost_usd(MINI, 100_000 * 3) == pytest.approx(0.90)
    assert eco.training_cost_usd(CAT.get("gpt-4.1"), 1_000_000) == pytest.approx(25.0)


@pytest.mark.parametrize("n, epochs", [(1, 25), (10, 10), (20, 5), (34, 3), (100, 3), (8333, 3), (8334, 2), (30_000, 1)])
def test_default_epochs_follow_openais_rule(n, epochs):
    assert eco.default_epochs(n) == epochs
    assert 1 <= epochs <= 25


def test_break_even_by_hand():
    s = eco.Scenario("gpt-4o-mini-2024-07-18", 10_000, 400, 5, 5, 100_000, epochs=3)
    r = eco.compare(MINI, s, start=dt.date(2026, 11, 22))
    baseline_day = 10_000 * (400 * 0.15 + 5 * 0.60) / 1e6      # $0.63
    finetuned_day = 10_000 * (5 * 0.30 + 5 * 1.20) / 1e6       # $0.075
    assert r.baseline_cost_per_day == pytest.approx(baseline_day)
    assert r.finetuned_cost_per_day == pytest.approx(finetuned_day)
    assert r.training_cost == pytest.approx(0.90)
    assert r.break_even_days == pytest.approx(0.90 / (baseline_day - finetuned_day))
    assert r.retires_before_break_even is False
    days_left = (MINI.retires - dt.date(2026, 11, 22)).days
    assert r.min_calls_per_day_before_retirement == pytest.approx(0.90 / ((baseline_day - finetuned_day) / 10_000 * days_left))
    at_min = eco.compare(MINI, eco.Scenario("gpt-4o-mini", r.min_calls_per_day_before_retirement * 1.001, 400, 5, 5, 100_000),
                         start=dt.date(2026, 11, 22))
    assert at_min.break_even_days <= days_left and at_min.retires_before_break_even is False


def test_never_pays_back_and_retirement_first():
    s = eco.Scenario("gpt-4o-mini", 10, 20, 20, 5, 1_000_000, epochs=3)  # no prompt to save, dearer per call
    r = eco.compare(MINI, s, start=dt.date(2026, 11, 22))
    assert r.break_even_days is None and r.retires_before_break_even is True
    slow = eco.compare(MINI, eco.Scenario("gpt-4o-mini", 100, 400, 5, 5, 1_000_000), start=dt.date(2026, 11, 22))
    assert slow.break_even_days > (MINI.retires - dt.date(2026, 11, 22)).days
    assert slow.retires_before_break_even is True and any("retires" in w for w in slow.warnings)


def test_tco_pays_training_again_only_on_a_fine_tunable_successor():
    s = eco.Scenario("gpt-4o-mini", 10_000, 400, 5, 5, 100_000, epochs=3, horizon_days=365)
    successor = MINI.model_copy(update={"id": "successor-mini", "retires": None, "no_new_jobs": None})
    r = eco.compare(MINI, s, start=dt.date(2026, 11, 22), successor=successor)
    assert r.retraining_days == [53]  # 2027-01-14
    assert r.finetune_path_ends is None
    assert r.tco["fine-tuned"] == pytest.approx(2 * 0.90 + 365 * r.finetuned_cost_per_day)
    assert r.tco["prompt"] == pytest.approx(365 * r.baseline_cost_per_day)
    assert eco.retraining_days(365, 53, 180) == (53, 233)


def test_without_a_fine_tunable_successor_the_fine_tune_path_ends_at_retirement():
    s = eco.Scenario("gpt-4o-mini", 10_000, 400, 5, 5, 100_000, epochs=3, horizon_days=365)
    for successor in (None, CAT.get("gpt-4.1-mini")):  # none named, or one that takes no new jobs either
        r = eco.compare(MINI, s, start=dt.date(2026, 11, 22), successor=successor)
        assert r.retraining_days == [] and r.finetune_path_ends == "2027-01-14"
        # fine-tuned until retirement, then back to prompting for the rest of the horizon
        assert r.tco["fine-tuned"] == pytest.approx(0.90 + 53 * r.finetuned_cost_per_day + 312 * r.baseline_cost_per_day)
        assert any("path ends" in w for w in r.warnings)
    costs = eco.approach_costs(MINI, s)
    rows = eco.cumulative_series(costs, 10_000, 365, (), dt.date(2026, 11, 22), ends_day=53)
    assert max(r["day"] for r in rows if r["approach"] == "fine-tuned") == 53
    assert max(r["day"] for r in rows if r["approach"] == "prompt") == 365


@pytest.mark.parametrize("prefix, cached", [(0, 0), (1023, 0), (1024, 1024), (1151, 1024), (1152, 1152), (2000, 1920)])
def test_only_the_prefix_from_1024_tokens_in_128_token_steps_is_cached(prefix, cached):
    assert MINI.cacheable_tokens(prefix) == cached
    assert eco.cached_tokens_per_call(MINI, prefix, 0.5) == cached / 2


def test_issue_caching_example_to_the_cent():
    """gpt-4o-mini, 10,000 calls/day, 2,100-token prompt of which a 2,000-token shared prefix, hit rate 1.0,
    fine-tuned prompt 100, output 5: 1,920 cached tokens/call, prompted $1.74/day (vs $3.18), fine-tuned $0.36/day."""
    s = eco.Scenario("gpt-4o-mini", 10_000, 2_100, 100, 5, 100_000, shared_prefix_tokens=2_000, cache_hit_rate=1.0)
    r = eco.compare(MINI, s, start=dt.date(2026, 11, 30))
    assert r.cached_tokens_per_call == 1_920
    assert round(r.baseline_cost_per_day, 2) == 1.74 and r.baseline_cost_per_day == pytest.approx(1.74)
    assert round(r.baseline_uncached_cost_per_day, 2) == 3.18
    assert round(r.finetuned_cost_per_day, 2) == 0.36
    # by hand: (180 × 0.15 + 1,920 × 0.075 + 5 × 0.60) / 1M × 10,000
    assert r.baseline_cost_per_day == pytest.approx((180 * 0.15 + 1920 * 0.075 + 5 * 0.60) / 1e6 * 10_000)


def test_self_hosting_is_the_machine_hour_over_measured_throughput():
    assert eco.self_hosted_cost_per_call(0.36, 100) == pytest.approx(0.36 / 36_000)
    assert eco.self_hosted_cost_per_call(0.36, None) is None
    assert "m7i.large" in eco.SELF_HOST_SOURCE and "2026-11-30" in eco.SELF_HOST_SOURCE
