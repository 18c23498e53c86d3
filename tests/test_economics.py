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


def test_tco_pays_training_again_when_the_base_model_retires():
    s = eco.Scenario("gpt-4o-mini", 10_000, 400, 5, 5, 100_000, epochs=3, horizon_days=365)
    r = eco.compare(MINI, s, start=dt.date(2026, 11, 22))
    assert r.retraining_days == [53]  # 2027-01-14
    assert r.tco["fine-tuned"] == pytest.approx(2 * 0.90 + 365 * r.finetuned_cost_per_day)
    assert r.tco["prompt"] == pytest.approx(365 * r.baseline_cost_per_day)
    assert eco.retraining_days(365, 53, 180) == (53, 233)
