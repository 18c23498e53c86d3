"""Is the difference between two approaches real? Paired statistics on the same test examples.

- McNemar's exact test (statsmodels): only the examples where exactly one approach
  is right carry information about which is better.
- Bootstrap 95 % confidence intervals (scipy) of each accuracy and of the paired difference
  (the pairwise view); the verdict's comparisons use Wilson intervals and the McNemar-consistent
  paired interval instead (`compare_to_best`).
- Every approach against the most accurate one, Holm-corrected (statsmodels), with an
  equivalence margin and the test examples that would settle an undecided comparison.
- The minimum detectable difference for the test-set size (statsmodels power
  analysis), so a "not significant" reads as "this test set cannot tell gaps that small apart".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

ALPHA = 0.05
POWER = 0.8
N_RESAMPLES = 2000


def mcnemar_exact(a_correct: Sequence[bool], b_correct: Sequence[bool]) -> tuple[float, int, int]:
    """(p-value, #only A right, #only B right) of McNemar's exact test on paired outcomes."""
    from statsmodels.stats.contingency_tables import mcnemar

    a, b = np.asarray(a_correct, bool), np.asarray(b_correct, bool)
    if a.shape != b.shape:
        raise ValueError("McNemar needs the two approaches' outcomes on the same examples")
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    table = [[int(np.sum(a & b)), only_a], [only_b, int(np.sum(~a & ~b))]]
    return float(mcnemar(table, exact=True).pvalue), only_a, only_b


def _bootstrap(data: tuple[np.ndarray, ...], statistic, seed: int) -> tuple[float, float]:
    from scipy.stats import bootstrap

    point = float(statistic(*data))
    if len(data[0]) < 2 or all(np.all(d == d[0]) for d in data):  # no variation to resample
        return point, point
    res = bootstrap(data, statistic, n_resamples=N_RESAMPLES, paired=len(data) > 1, vectorized=True,
                    confidence_level=0.95, method="percentile", rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def accuracy_ci(correct: Sequence[bool], seed: int = 0) -> tuple[float, float]:
    """Bootstrap 95 % CI of an accuracy."""
    return _bootstrap((np.asarray(correct, float),), lambda x, axis=-1: np.mean(x, axis=axis), seed)


def difference_ci(a_correct: Sequence[bool], b_correct: Sequence[bool], seed: int = 0) -> tuple[float, float]:
    """Paired bootstrap 95 % CI of accuracy(A) − accuracy(B) (examples resampled together)."""
    a, b = np.asarray(a_correct, float), np.asarray(b_correct, float)
    return _bootstrap((a, b), lambda x, y, axis=-1: np.mean(x, axis=axis) - np.mean(y, axis=axis), seed)


def minimum_detectable_difference(n: int, accuracy: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest accuracy gain over `accuracy` that n test examples detect with this power.

    Two-proportion power analysis on Cohen's h (statsmodels). It treats the two runs as
    independent samples, which is conservative for paired runs on the same examples.
    """
    from statsmodels.stats.power import NormalIndPower

    if n < 2:
        return 1.0
    h = NormalIndPower().solve_power(effect_size=None, nobs1=n, alpha=alpha, power=power, ratio=1.0)
    base = 2 * math.asin(math.sqrt(min(max(accuracy, 0.0), 1.0)))
    # Up from the base if there is room, else down: the gap either way is what can be told apart.
    target = base + h if base + h <= math.pi else base - h
    return abs(math.sin(target / 2) ** 2 - accuracy)


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    n: int
    accuracy_a: float
    accuracy_b: float
    ci_a: tuple[float, float]
    ci_b: tuple[float, float]
    diff: float  # accuracy_a − accuracy_b
    diff_ci95: tuple[float, float]
    mcnemar_p: float
    only_a_right: int
    only_b_right: int
    significant: bool
    min_detectable_diff: float
    explanation: str

    def to_dict(self) -> dict:
        return asdict(self)


def _pts(x: float) -> str:
    return f"{abs(x) * 100:.1f} points"


def _gap(x: float) -> str:
    return f"{abs(x) * 100:.1f}-point gap"


def explain(c_a: str, c_b: str, n: int, diff: float, p: float, mdd: float) -> str:
    """One sentence a manager understands."""
    if p < ALPHA:
        lead, trail = (c_a, c_b) if diff > 0 else (c_b, c_a)
        return (f"{lead} is really better than {trail}: a {_gap(diff)} this large is unlikely to be luck "
                f"(McNemar {p_wording(p)}, {n} test examples).")
    return (f"The {_gap(diff)} between {c_a} and {c_b} could be luck ({p_wording(p)}): with {n} test examples only "
            f"differences above about {_pts(mdd)} can be told apart reliably — treat them as equally accurate.")


def compare(a_correct: Sequence[bool], b_correct: Sequence[bool], a: str = "A", b: str = "B",
            seed: int = 0) -> Comparison:
    """Everything the Evaluate page and the verdict say about A versus B on the same examples."""
    ac, bc = np.asarray(a_correct, bool), np.asarray(b_correct, bool)
    n = len(ac)
    p, only_a, only_b = mcnemar_exact(ac, bc)
    acc_a, acc_b = float(ac.mean()) if n else 0.0, float(bc.mean()) if n else 0.0
    diff = acc_a - acc_b
    mdd = minimum_detectable_difference(n, max(acc_a, acc_b) if n else 0.5)
    return Comparison(a, b, n, acc_a, acc_b, accuracy_ci(ac, seed), accuracy_ci(bc, seed), diff,
                      difference_ci(ac, bc, seed), p, only_a, only_b, p < ALPHA, mdd, explain(a, b, n, diff, p, mdd))


def aligned(a: dict[int, bool], b: dict[int, bool]) -> tuple[list[bool], list[bool]]:
    """Outcomes of two runs on the examples both answered, in the same order."""
    common = sorted(set(a) & set(b))
    return [a[i] for i in common], [b[i] for i in common]


# --- every approach against the most accurate one, Holm-corrected --------------------------------

MARGIN = 0.02  # default equivalence margin: ± 2 accuracy points
OUTCOMES = ("best", "better", "worse", "equivalent", "undecided")


def holm_adjust(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the given order: the same numbers as statsmodels'
    `multipletests(p, method="holm")[1]` (a test checks), without the `gc.collect()` that
    statsmodels runs on every Holm call (~0.14 s here, on every page render)."""
    p = np.asarray(pvalues, float)
    m = len(p)
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(np.maximum.accumulate(p[order] * np.arange(m, 0, -1)), 1.0)
    out = np.empty(m)
    out[order] = adjusted
    return [float(x) for x in out]


def wilson_ci(correct: Sequence[bool], alpha: float = ALPHA) -> tuple[float, float]:
    """Wilson score interval of an accuracy (statsmodels): 5 right out of 5 gives 57 %–100 %, not 100 %–100 %."""
    from statsmodels.stats.proportion import proportion_confint

    c = np.asarray(correct, bool)
    if len(c) == 0:
        return 0.0, 1.0
    lo, hi = proportion_confint(int(c.sum()), len(c), alpha=alpha, method="wilson")
    return float(lo), float(hi)


def paired_difference_ci(only_a: int, only_b: int, n: int, alpha: float = ALPHA) -> tuple[float, float]:
    """CI of accuracy(A) − accuracy(B) that agrees with McNemar's exact test at level `alpha`.

    McNemar's exact test is a binomial test of θ = only_a / (only_a + only_b) = ½ on the
    discordant examples, and its p-value (twice the smaller tail) is inverted by the
    Clopper–Pearson interval of θ. Mapping θ to the difference, (d / n)(2θ − 1), gives an
    interval that excludes 0 exactly when p < alpha. With no discordant example it is the
    range a discordance rate as large as Clopper–Pearson's upper bound of 0 out of n allows.
    """
    from statsmodels.stats.proportion import proportion_confint

    if n <= 0:
        return -1.0, 1.0
    d = only_a + only_b
    if d == 0:
        upper = float(proportion_confint(0, n, alpha=alpha, method="beta")[1])
        return -upper, upper
    lo, hi = proportion_confint(only_a, d, alpha=alpha, method="beta")
    scale = d / n
    return float(scale * (2 * lo - 1)), float(scale * (2 * hi - 1))


def examples_to_settle(only_a: int, only_b: int, n: int, margin: float = MARGIN, alpha: float = ALPHA,
                       power: float = POWER, m: int = 1) -> int | None:
    """About how many test examples in total would settle a comparison (power calculation for paired data).

    Two ways to settle it: the observed gap is real (McNemar sample size, Connor 1987:
    n = (z·√ψ + z_β·√(ψ − δ²))² / δ²) or the two are equivalent within `margin` (two one-sided
    tests: n = (z + z_β/2)² ψ / (margin − |δ|)²), whichever needs fewer; ψ is the discordant share,
    δ the observed difference, z at alpha / m (the strictest Holm step). None: n is zero.
    """
    from scipy.stats import norm

    if n <= 0:
        return None
    psi = max((only_a + only_b) / n, 1 / n)
    delta = abs(only_a - only_b) / n
    z_a, z_b = norm.ppf(1 - alpha / (2 * m)), norm.ppf(power)
    best = math.inf
    if delta > 0:
        best = (z_a * math.sqrt(psi) + z_b * math.sqrt(max(psi - delta**2, 0.0))) ** 2 / delta**2
    if delta < margin:
        z_eq, z_b2 = norm.ppf(1 - alpha / m), norm.ppf(1 - (1 - power) / 2)
        best = min(best, (z_eq + z_b2) ** 2 * psi / (margin - delta) ** 2)
    return None if math.isinf(best) else int(math.ceil(best))


def p_wording(p: float) -> str:
    """An exact p-value in words: "p = 0.0146" and never "less than 1 %" for 1.46 %."""
    if p < 0.0001:
        return "p < 0.0001"
    return f"p = {p:.2g}"


@dataclass(frozen=True)
class VsBest:
    """One approach compared with the most accurate one on the same test examples."""

    approach: str
    reference: str
    n: int
    accuracy: float
    accuracy_ci95: tuple[float, float]     # Wilson
    diff: float                            # accuracy − the reference's accuracy (≤ 0)
    diff_ci95: tuple[float, float]         # agrees with p (McNemar exact)
    diff_ci_holm: tuple[float, float]      # agrees with p_holm (level α · p / p_holm)
    p: float | None                        # McNemar exact; None for the reference itself
    p_holm: float | None                   # Holm-corrected over every pair of approaches (≥ p)
    only_approach_right: int
    only_reference_right: int
    outcome: str                           # best | better | worse | equivalent | undecided
    more_examples_needed: int | None       # undecided: about this many more test examples would settle it
    sentence: str

    def to_dict(self) -> dict:
        d = asdict(self)
        d["accuracy_ci95"], d["diff_ci95"], d["diff_ci_holm"] = (list(d["accuracy_ci95"]), list(d["diff_ci95"]),
                                                                 list(d["diff_ci_holm"]))
        return d


def _vs_sentence(c: str, ref: str, n: int, diff: float, p: float, p_holm: float, outcome: str, margin: float,
                 more: int | None, m: int) -> str:
    gap = f"{abs(diff) * 100:.1f} points"
    corr = (f"McNemar {p_wording(p)}, {p_wording(p_holm).replace('p', 'Holm-corrected p', 1)} over "
            + ("1 pair" if m == 1 else f"all {m} pairs"))
    if outcome == "worse":
        return f"{ref} is really better than {c}: {gap} more accurate ({corr}, {n} test examples)."
    if outcome == "equivalent":
        return (f"{c} is as accurate as {ref}: the difference ({gap}) is within ± {margin * 100:g} points "
                f"with 95 % confidence ({corr}).")
    tail = f" About {more:,} more test examples would settle it." if more else ""
    return f"{c} vs {ref}: a gap of {gap} that could be luck ({corr}): undecided.{tail}"


def compare_to_best(correct: dict[str, dict[int, bool]], margin: float = MARGIN, alpha: float = ALPHA) -> list[VsBest]:
    """Every approach against the most accurate one: McNemar exact, Holm over every pair, outcomes.

    `correct`: approach -> {example index: answered right}. Approaches are compared on the examples
    both answered. Outcome: worse (or better) iff p_holm < alpha; equivalent when not and the
    95 % difference interval lies within ± margin; otherwise undecided, with the test examples that
    would settle it. The reference (the most accurate; ties to the first given) has outcome "best".
    """
    if not correct:
        return []
    names = list(correct)
    acc = {k: (sum(v.values()) / len(v) if v else 0.0) for k, v in correct.items()}
    ref = max(names, key=lambda k: acc[k])  # max keeps the first of ties
    others = [k for k in names if k != ref]
    raw = []
    for k in others:
        a, r = aligned(correct[k], correct[ref])
        p, only_a, only_r = mcnemar_exact(a, r)
        raw.append((k, len(a), p, only_a, only_r, (only_a - only_r) / len(a) if a else 0.0))
    # Picking the most accurate is itself a look at every pair, so the Holm family is every pair of
    # approaches (strong control over all of them; a simulation test holds the chance of calling any of
    # 2–6 identical approaches better at ≤ 5 %). Holm over the k − 1 comparisons shown alone let it reach 8 %.
    family = {(k, ref): x[2] for k, x in zip(others, raw)}
    for i, a in enumerate(others):
        for b in others[i + 1:]:
            family[(a, b)] = mcnemar_exact(*aligned(correct[a], correct[b]))[0]
    adjusted = dict(zip(family, holm_adjust(list(family.values()))))
    holm = [adjusted[(k, ref)] for k in others]
    m = len(family)
    ref_vec = list(correct[ref].values())
    out = [VsBest(ref, ref, len(ref_vec), acc[ref], wilson_ci(ref_vec, alpha), 0.0, (0.0, 0.0), (0.0, 0.0), None, None,
                  0, 0, "best", None, f"{ref} is the most accurate ({acc[ref]:.1%} on {len(ref_vec)} test examples).")]
    for (k, n, p, only_a, only_r, diff), ph in zip(raw, holm):
        ph = max(float(ph), p)
        ci = paired_difference_ci(only_a, only_r, n, alpha)
        ci_holm = paired_difference_ci(only_a, only_r, n, alpha * p / ph) if ph > 0 else ci
        outcome = _outcome(ph, diff, ci, margin, alpha)
        need = examples_to_settle(only_a, only_r, n, margin, alpha, m=m) if outcome == "undecided" else None
        more = None if need is None else max(need - n, math.ceil(0.1 * n))
        vec = list(correct[k].values())
        out.append(VsBest(k, ref, n, acc[k], wilson_ci(vec, alpha), diff, ci, ci_holm, p, ph, only_a, only_r, outcome,
                          more, _vs_sentence(k, ref, n, diff, p, ph, outcome, margin, more, m)))
    return out


def _outcome(p_holm: float, diff: float, ci: tuple[float, float], margin: float, alpha: float) -> str:
    """better / worse: Holm-corrected p below alpha · equivalent: the CI within ± margin · else undecided."""
    if p_holm < alpha:
        return "better" if diff > 0 else "worse"
    if -margin < ci[0] and ci[1] < margin:
        return "equivalent"
    return "undecided"


def compare_pair(correct: dict[str, dict[int, bool]], a: str, b: str, margin: float = MARGIN,
                 alpha: float = ALPHA) -> VsBest:
    """A against B (any pair the user picks), Holm-corrected over every pair of the given approaches:
    picking a pair to look at is a comparison too. Outcome from A's side: better / worse / equivalent / undecided."""
    names = list(correct)
    pairs = [(x, y) for i, x in enumerate(names) for y in names[i + 1:]]
    pvals = {pair: mcnemar_exact(*aligned(correct[pair[0]], correct[pair[1]]))[0] for pair in pairs}
    adjusted = dict(zip(pvals, holm_adjust(list(pvals.values()))))
    ra, rb = aligned(correct[a], correct[b])
    n = len(ra)
    p, only_a, only_b = mcnemar_exact(ra, rb)
    ph = max(adjusted.get((a, b), adjusted.get((b, a), p)), p)
    diff = (only_a - only_b) / n if n else 0.0
    ci = paired_difference_ci(only_a, only_b, n, alpha)
    ci_holm = paired_difference_ci(only_a, only_b, n, alpha * p / ph) if ph > 0 else ci
    outcome = _outcome(ph, diff, ci, margin, alpha)
    m = len(pairs)
    need = examples_to_settle(only_a, only_b, n, margin, alpha, m=m) if outcome == "undecided" else None
    more = None if need is None else max(need - n, math.ceil(0.1 * n))
    acc_a = float(np.mean(ra)) if n else 0.0
    if outcome == "better":
        sentence = _vs_sentence(b, a, n, -diff, p, ph, "worse", margin, more, m)
    else:
        sentence = _vs_sentence(a, b, n, diff, p, ph, outcome, margin, more, m)
    return VsBest(a, b, n, acc_a, wilson_ci(ra, alpha), diff, ci, ci_holm, p, ph, only_a, only_b, outcome, more, sentence)
