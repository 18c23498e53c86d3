"""Statistics and the verdict: McNemar, bootstrap CIs, detectable difference — and the A/A check."""

import numpy as np
import pytest

from core.evaluation import report, runs
from core.backends import approach_from_spec
from core.evaluation.stats import compare, mcnemar_exact, minimum_detectable_difference
from tests.eval_data import make_dataset
from tests.fake_openai import FakeOpenAI


def test_mcnemar_counts_only_disagreements():
    a = [True] * 30 + [False] * 10 + [True] * 60
    b = [False] * 30 + [True] * 10 + [True] * 60
    p, only_a, only_b = mcnemar_exact(a, b)
    assert (only_a, only_b) == (30, 10) and p < 0.01
    # The same counts of disagreement with many more agreements: same p (agreements carry no information).
    assert mcnemar_exact(a + [False] * 500, b + [False] * 500)[0] == p


def test_a_real_difference_is_significant_and_its_ci_excludes_zero():
    rng = np.random.default_rng(1)
    hard = rng.random(400) < 0.3
    a = ~hard | (rng.random(400) < 0.6)  # A also solves most hard cases
    b = ~hard | (rng.random(400) < 0.1)
    c = compare(a, b, "A", "B")
    assert c.significant and c.diff > 0 and c.diff_ci95[0] > 0
    assert c.ci_a[0] < c.accuracy_a < c.ci_a[1]
    assert "really better" in c.explanation


def test_aa_simulations_rarely_look_significant():
    """Two runs of one stochastic approach: McNemar at 5 % must not cry wolf more than ~5 % of the time."""
    rng = np.random.default_rng(7)
    false_alarms = 0
    for _ in range(300):
        p = rng.beta(4, 1.5, size=150)  # per-example chance of being right
        a, b = rng.random(150) < p, rng.random(150) < p
        false_alarms += mcnemar_exact(a, b)[0] < 0.05
    assert false_alarms / 300 <= 0.07


def test_detectable_difference_shrinks_with_more_examples():
    mdd = [minimum_detectable_difference(n, 0.8) for n in (50, 200, 1000)]
    assert mdd[0] > mdd[1] > mdd[2] > 0.02
    assert 0.08 < mdd[1] < 0.13  # 200 examples at 80 %: about 10 points


def test_aa_same_approach_evaluated_twice_is_not_significant(store):
    """A/A: one sampled model behind two endpoints (different seeds): the verdict sees no real difference."""
    ds = make_dataset(train_per_label=5, test_per_label=50)
    with FakeOpenAI(seed=1, noise=0.25) as one, FakeOpenAI(seed=2, noise=0.25) as two:
        run_list = [runs.execute(store, ds, approach_from_spec("openai:fake-model:zero-shot:temperature=1", store=store,
                                                               base_url=s.base_url, concurrency=16)) for s in (one, two)]
    rep = report.build(store, run_list, ds.task.label_names)
    c = rep.comparison
    assert c.only_a_right + c.only_b_right > 20  # the two runs really disagree on many examples …
    assert not c.significant and c.diff_ci95[0] < 0 < c.diff_ci95[1]  # … but neither is better
    assert rep.verdict.significant is False and "not significantly different" in rep.verdict.sentence
    assert len(rep.metrics) == 2  # same spec on two endpoints: both kept apart


def test_the_verdict_survives_runs_without_latency():
    """Review fix: a Batch API run has no per-call latency; equal costs must not crash the "faster" branch."""
    from core.evaluation.metrics import RunMetrics
    from core.evaluation.verdict import Entry, pick_verdict

    def entry(spec, latency, correct):
        m = RunMetrics(len(correct), sum(correct) / len(correct), 0.5, 0.0, 0.0, latency, latency, 10, 1, 0.1)
        return Entry(spec, m, dict(enumerate(correct)))

    same = [True, False] * 20
    for a, b in ((None, 100.0), (100.0, None), (None, None)):
        v = pick_verdict([entry("openai:m:zero-shot:batch=true", a, same), entry("openai:m:few-shot", b, same[::-1])])
        assert v.recommended and v.reason in {"as-accurate", "as-accurate-and-faster"}


def test_wilson_interval_of_five_out_of_five_is_not_a_point():
    from core.evaluation.stats import wilson_ci

    lo, hi = wilson_ci([True] * 5)
    assert 0.5 < lo < 0.6 and hi == pytest.approx(1.0)


def test_p_values_are_worded_exactly():
    from core.evaluation.stats import explain, p_wording

    assert p_wording(0.0146) == "p = 0.015" and p_wording(0.052) == "p = 0.052" and p_wording(3e-6) == "p < 0.0001"
    assert "less than 1 %" not in explain("A", "B", 150, 0.08, 0.0146, 0.1)


def test_the_evaluate_tables_name_approaches_in_words_and_filter_errors(store):
    """The standings say what each approach is; the errors tab shows exactly the examples it promises."""
    ds = make_dataset(train_per_label=5, test_per_label=10)
    run_list = [runs.execute(store, ds, approach_from_spec(spec, store=store))
                for spec in ("classical:tfidf-lr", "classical:tfidf-lr:C=0.01")]
    rep = report.build(store, run_list, ds.task.label_names)
    rows = report.standings_rows(rep)
    assert {r["approach"] for r in rows} == {"TF-IDF + logistic regression"} and {r["family"] for r in rows} == {"classifier"}
    names = list(rep.metrics)
    every = report.side_by_side(rep)
    wrong = report.error_rows(rep, "examples some approach got wrong")
    assert wrong == [r for r in every if any(r[n] != r["gold"] for n in names)] and 0 < len(wrong) < len(every)
    disagree = report.error_rows(rep, "examples where approaches disagree")
    assert all(r[names[0]] != r[names[1]] for r in disagree)
    assert all(r["gold"] == "bug" for r in report.error_rows(rep, "all", ["bug"]))
    with pytest.raises(ValueError):
        report.error_rows(rep, "everything")
