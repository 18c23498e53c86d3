"""The one Recommendation: statistics (Holm, Wilson, McNemar-consistent intervals, power), the rule among the
not-worse, the lifecycle guard, and the questionnaire as prior."""

import datetime as dt
import itertools

import numpy as np
import pytest

from core import economics as eco
from core.catalog import load_bundled
from core.decision import questionnaire as qn
from core.decision import recommendation as recs
from core.evaluation import stats

CAT = load_bundled()
MINI = CAT.get("gpt-4o-mini")
START = dt.date(2026, 11, 30)


def _vectors(rng, k, n, p=None):
    p = rng.beta(4, 1.5, size=n) if p is None else p
    return {f"a{i}": dict(enumerate((rng.random(n) < p).tolist())) for i in range(k)}


# --- statistics -------------------------------------------------------------------------------

def test_holm_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(3)
    for _ in range(100):
        p = rng.random(rng.integers(1, 9)) ** 3
        assert np.allclose(stats.holm_adjust(p), multipletests(p, method="holm")[1])


def test_comparisons_p_holm_at_least_p_and_outcome_iff_p_holm_below_alpha():
    rng = np.random.default_rng(11)
    seen = set()
    for _ in range(60):
        n = int(rng.integers(30, 300))
        base = rng.random(n) < 0.75
        correct = {"best": dict(enumerate((base | (rng.random(n) < 0.5)).tolist()))}
        for i in range(int(rng.integers(1, 5))):
            flip = rng.random(n) < rng.uniform(0.02, 0.3)
            correct[f"x{i}"] = dict(enumerate((base ^ flip).tolist()))
        comps = stats.compare_to_best(correct)
        assert comps[0].outcome == "best" and comps[0].p is None
        for c in comps[1:]:
            seen.add(c.outcome)
            assert c.p_holm >= c.p
            assert (c.outcome in ("better", "worse")) == (c.p_holm < 0.05)
            # the 95 % interval of the difference agrees with the test, the Holm interval with the corrected one
            assert (c.diff_ci95[0] > 0 or c.diff_ci95[1] < 0) == (c.p < 0.05)
            assert (c.diff_ci_holm[0] > 0 or c.diff_ci_holm[1] < 0) == (c.p_holm < 0.05)
            assert c.diff_ci95[0] <= c.diff <= c.diff_ci95[1]
            assert c.accuracy_ci95[0] <= c.accuracy <= c.accuracy_ci95[1]
            assert (c.more_examples_needed is not None) == (c.outcome == "undecided")
    assert {"worse", "undecided"} <= seen


def test_an_undecided_pair_names_how_many_examples_would_settle_it_and_more_data_does():
    """A real 5-point gap on 150 examples is undecided; the stated extra examples settle it (in expectation)."""
    rng = np.random.default_rng(5)
    n = 150
    a, b = rng.random(20_000) < 0.80, rng.random(20_000) < 0.75  # a real 5-point gap, errors unrelated
    comps = stats.compare_to_best({"a": dict(enumerate(a[:n].tolist())), "b": dict(enumerate(b[:n].tolist()))})
    c = comps[1]
    assert c.outcome == "undecided" and c.more_examples_needed > 0
    assert f"About {c.more_examples_needed:,} more test examples" in c.sentence
    total = n + c.more_examples_needed  # planned for 80 % power: this seed's larger sample does settle it
    settled = stats.compare_to_best({"a": dict(enumerate(a[:total].tolist())), "b": dict(enumerate(b[:total].tolist()))})
    assert settled[1].outcome == "worse"


def test_equivalent_when_the_difference_interval_lies_within_the_margin():
    n = 2000
    same = [i % 4 != 0 for i in range(n)]
    other = list(same)
    for i in range(0, 40, 2):  # 20 examples each way: no difference, tight interval
        other[i] = not other[i]
    comps = stats.compare_to_best({"a": dict(enumerate(same)), "b": dict(enumerate(other))}, margin=0.02)
    assert comps[1].outcome == "equivalent" and -0.02 < comps[1].diff_ci95[0] and comps[1].diff_ci95[1] < 0.02


@pytest.mark.parametrize("k", [2, 3, 4, 5, 6])
def test_identical_approaches_are_called_better_at_most_5_percent_of_the_time(k):
    """2–6 approaches of identical quality, 150 test examples: the chance that any is called better or worse
    stays ≤ 5 % (uncorrected pairwise testing: ~30 % with 6)."""
    rng = np.random.default_rng(1000 + k)
    reps = 400
    false_alarms = sum(any(c.outcome in ("better", "worse") for c in stats.compare_to_best(_vectors(rng, k, 150)))
                       for _ in range(reps))
    assert false_alarms / reps <= 0.05


# --- the rule among the not-worse ---------------------------------------------------------------

def _econ(name, fam, per_call, upfront=0.0, latency=100.0, retires=None, ends=None, budget=None):
    settings = recs.Settings(start=START)
    calls, days = settings.calls_per_day, settings.horizon_days
    return recs.ApproachEconomics(name, fam, per_call, per_call * calls * recs.DAYS_PER_MONTH, upfront,
                                  upfront + per_call * calls * days, latency,
                                  None if budget is None else latency <= budget, "test", 0.0, retires, ends)


def _same(n=200, acc=0.8, shift=0):
    return dict(enumerate([((i + shift) % 10) < acc * 10 for i in range(n)]))


def _flip(base, down, up):
    """`base` with `down` right answers made wrong and `up` wrong answers made right."""
    out, rights, wrongs = dict(base), [i for i, v in base.items() if v], [i for i, v in base.items() if not v]
    for i in rights[:down]:
        out[i] = False
    for i in wrongs[:up]:
        out[i] = True
    return out


def test_cheapest_of_the_not_worse_wins_and_the_dearer_better_one_is_a_trade_off():
    correct = {"big": _same(), "small": _flip(_same(), 10, 6), "bad": _same(acc=0.4)}  # small: 2 points behind
    priced = {"big": _econ("big", "prompting", 0.001), "small": _econ("small", "classifier", 0.00001),
              "bad": _econ("bad", "classifier", 0.0)}
    rec = recs.decide(correct, priced, recs.Settings(start=START))
    out = {c.approach: c.outcome for c in rec.comparisons}
    assert out["bad"] == "worse" and out["small"] != "worse"
    assert rec.recommended == "small" and rec.family == "classifier"
    assert any(t.startswith("big: +2.0 points for $") and "more per month" in t for t in rec.tradeoffs)
    assert any(t.startswith("bad: $") for t in rec.tradeoffs)


def test_within_the_latency_budget_first_then_cheapest():
    correct = {"slow": _same(), "fast": _same(shift=0)}
    priced = {"slow": _econ("slow", "classifier", 0.0, latency=900, budget=200),
              "fast": _econ("fast", "prompting", 0.0001, latency=150, budget=200)}
    rec = recs.decide(correct, priced, recs.Settings(start=START, latency_budget_ms=200))
    assert rec.recommended == "fast"


def test_a_fine_tune_that_pays_back_only_after_retirement_is_never_recommended():
    """The fine-tune is as accurate and cheaper per call, but its training is repaid after its base model retires."""
    correct = {"ft": _same(), "prompt": _same()}
    ft = _econ("ft", "fine-tuned", 0.0001, upfront=500.0, retires="2027-01-14", ends="2027-01-14")
    rec = recs.decide(correct, {"ft": ft, "prompt": _econ("prompt", "prompting", 0.0002)}, recs.Settings(start=START))
    assert rec.recommended == "prompt"
    assert any(r.startswith("Not ft:") and "2027-01-14" in r for r in rec.reasons)
    # … and the same fine-tune with a tiny training cost pays back at once: then it wins on cost
    cheap = _econ("ft", "fine-tuned", 0.0001, upfront=0.5, retires="2027-01-14", ends="2027-01-14")
    assert recs.decide(correct, {"ft": cheap, "prompt": _econ("prompt", "prompting", 0.0002)},
                       recs.Settings(start=START)).recommended == "ft"


# --- the questionnaire as prior, checked against the economics ------------------------------------

ANSWERS = dict(
    need=["behaviour", "both"], data_changes=["monthly", "daily"], labelled_examples=[30, 500],
    consistent_format=[False, True], small_must_match_large=[False, True], pii_in_data=[False, True],
    latency_budget_ms=[None, 100.0], quality_gap_points=[None, 25.0], calls_per_day=[100, 10_000, 1_000_000],
)
ECONOMICS = [  # (model, prompt tokens, fine-tuned prompt tokens, training tokens, cache hit rate, start)
    ("gpt-4o-mini", 2_100, 100, 100_000, 1.0, START),
    ("gpt-4o-mini", 400, 60, 2_000_000, 0.0, START),
    ("gpt-4.1", 1_200, 60, 5_000_000, 0.5, START),
    ("gpt-4o", 300, 300, 100_000, 0.0, START),          # nothing saved per call: never pays back
    ("gpt-4o-mini", 2_100, 100, 100_000, 0.5, dt.date(2027, 1, 10)),  # after no-new-jobs
]


def test_grid_of_answers_and_economics_never_recommends_a_fine_tune_that_does_not_pay_back():
    keys = list(ANSWERS)
    checked = fine_tunes = 0
    for model, prompt, ft_prompt, training, hit, start in ECONOMICS:
        info = CAT.get(model)
        for values in itertools.product(*ANSWERS.values()):
            a = dict(zip(keys, values))
            s = eco.Scenario(info.id, a["calls_per_day"], prompt, ft_prompt, 5, training,
                             shared_prefix_tokens=prompt - 100, cache_hit_rate=hit)
            c = eco.compare(info, s, start=start)
            q = recs.with_economics(qn.Questionnaire(system_prompt_tokens=prompt - 100, **a), c)
            rec = recs.from_prior(qn.recommend(q), q, recs.Settings(model=info.id, start=start), c)
            never = c.break_even_days is None or start + dt.timedelta(days=c.break_even_days) > info.retires
            checked += never
            if never:
                assert rec.recommended != "Fine-tune (hosted)", (model, a, c.break_even_days)
                assert not any("repay training quickly" in r for r in rec.reasons)
                if rec.family == "fine-tuned":  # only locally, and never for volume alone
                    fine_tunes += 1
                    assert rec.recommended.startswith("Fine-tune locally")
                    assert not any(r.startswith(f"{a['calls_per_day']:,.0f} calls/day") for r in rec.reasons)
            elif rec.recommended == "Fine-tune (hosted)":
                assert q.pays_back_before_retirement and q.hosted_fine_tuning_open
    assert checked > 1000 and fine_tunes > 0


def test_measurements_contradicting_answers_are_said_plainly():
    correct = {"openai:m:zero-shot": _same(acc=0.5), "classical:tfidf-lr": _same(acc=0.9)}
    priced = {"openai:m:zero-shot": _econ("openai:m:zero-shot", "prompting", 0.001, latency=400),
              "classical:tfidf-lr": _econ("classical:tfidf-lr", "classifier", 0.00001, latency=2)}
    q = qn.Questionnaire(labelled_examples=500, quality_gap_points=5, prompted_latency_ms=2000)
    rec = recs.decide(correct, priced, recs.Settings(start=START), prior=qn.recommend(q), answers=q)
    text = " ".join(rec.contradictions)
    assert "You answered that the best prompt falls 5 points short; the measurements say 40.0 points" in text
    assert "You answered a prompted latency of 2,000 ms; the measurements say 400 ms" in text
    assert "the measurements say its best run, openai:m:zero-shot, is 40.0 points less accurate" in text


def test_grid_of_measured_runs_and_economics_never_recommends_a_fine_tune_that_does_not_pay_back():
    """Measured mode: a hosted fine-tune as accurate as prompting is recommended only when its training is
    repaid before its base model retires (break-even against the prompted run, caching included)."""
    seen = {True: 0, False: 0}
    for model, calls, hit, training, start in itertools.product(
            ["gpt-4o-mini", "gpt-4.1"], [100, 10_000, 1_000_000], [0.0, 1.0], [50_000, 5_000_000],
            [START, dt.date(2027, 1, 1)]):
        info = CAT.get(model)
        settings = recs.Settings(model=info.id, calls_per_day=calls, cache_hit_rate=hit, start=start)
        prompt_cost = eco.inference_cost_usd(info, 2_100, 5, cached_input_tokens=eco.cached_tokens_per_call(info, 2_000, hit))
        ft_cost = eco.inference_cost_usd(info, 100, 5, fine_tuned=True)
        upfront = eco.training_cost_usd(info, training * 3)
        days = settings.horizon_days
        priced = {
            "prompt": recs.ApproachEconomics("prompt", "prompting", prompt_cost, prompt_cost * calls * recs.DAYS_PER_MONTH,
                                             0.0, prompt_cost * calls * days, 400.0, None, "test",
                                             retires=info.retires.isoformat()),
            "ft": recs.ApproachEconomics("ft", "fine-tuned", ft_cost, ft_cost * calls * recs.DAYS_PER_MONTH, upfront,
                                         upfront + ft_cost * calls * days, 300.0, None, "test",
                                         retires=info.retires.isoformat(), path_ends=info.retires.isoformat()),
        }
        rec = recs.decide({"prompt": _same(), "ft": _same()}, priced, settings)
        be = eco.break_even_days(eco.ApproachCost("p", prompt_cost), eco.ApproachCost("f", ft_cost, upfront), calls)
        pays = be is not None and start + dt.timedelta(days=be) <= info.retires
        seen[pays] += 1
        assert (rec.recommended == "ft") == pays, (model, calls, hit, training, start, be)
    assert seen[True] and seen[False]
