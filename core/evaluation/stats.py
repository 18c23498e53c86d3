"""Is the difference between two approaches real? Paired statistics on the same test examples.

- McNemar's exact test (statsmodels): only the examples where exactly one approach
  is right carry information about which is better.
- Bootstrap 95 % confidence intervals (scipy) of each accuracy and of the paired difference.
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
        return (f"{lead} is really better than {trail}: a {_gap(diff)} as large as this would come from luck less than "
                f"{max(p, 0.001) * 100:.1g} % of the time on these {n} test examples.")
    return (f"The {_gap(diff)} between {c_a} and {c_b} could be luck (p = {p:.2f}): with {n} test examples only "
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
