"""Verdict: the standings of the runs (Wilson intervals) and the best two compared — the statistics view.

The one recommendation every page, the memo and the CLI show is core.decision.recommendation's
(all approaches against the best, Holm-corrected, priced at the user's volume); this module's
standings feed the charts and its sentence is the two-approach summary the report keeps.

A structured object (for the Decide page and the memo) plus one plain sentence.
Rule: the most accurate approach wins if its lead over the runner-up is
statistically significant; otherwise the two are treated as equally accurate
and the cheaper (then the faster) one is recommended.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Sequence

from core.backends import family
from core.evaluation.metrics import RunMetrics
from core.evaluation.stats import Comparison, aligned, compare, wilson_ci


@dataclass(frozen=True)
class Entry:
    """One evaluated approach: its spec, its metrics and which examples it got right."""

    spec: str
    metrics: RunMetrics
    correct: dict[int, bool]


@dataclass(frozen=True)
class Standing:
    spec: str
    kind: str  # prompting | rag | fine-tuned | classifier | other (core.backends.family)
    accuracy: float
    accuracy_ci95: tuple[float, float]
    macro_f1: float
    cost_per_1k_usd: float | None
    latency_p50_ms: float | None
    invalid_rate: float
    n: int


@dataclass(frozen=True)
class Verdict:
    recommended: str | None
    reason: str  # more-accurate | as-accurate-and-cheaper | as-accurate-and-faster | as-accurate | only-one | none
    sentence: str
    best_accuracy: str | None
    runner_up: str | None
    significant: bool | None
    comparison: Comparison | None
    standings: list[Standing] = field(default_factory=list)  # best first
    best_by_kind: dict[str, str] = field(default_factory=dict)  # kind -> its most accurate spec

    def to_dict(self) -> dict:
        return asdict(self)


def _cost(s: Standing) -> float:
    return s.cost_per_1k_usd if s.cost_per_1k_usd is not None else float("inf")  # unknown price: never "cheaper"


def _money(x: float | None) -> str:
    return "unknown cost" if x is None else f"${x:,.2f} per 1,000 calls"


def pick_verdict(entries: Sequence[Entry], seed: int = 0) -> Verdict:
    if not entries:
        return Verdict(None, "none", "Nothing evaluated yet: run at least two approaches on the test split.",
                       None, None, None, None)
    standings = sorted(
        (Standing(e.spec, family(e.spec), e.metrics.accuracy, wilson_ci(list(e.correct.values())),
                  e.metrics.macro_f1, e.metrics.cost_per_1k_usd, e.metrics.latency_p50_ms, e.metrics.invalid_rate,
                  e.metrics.n) for e in entries),
        key=lambda s: (-s.accuracy, _cost(s), s.latency_p50_ms or 0.0),
    )
    by_kind: dict[str, str] = {}
    for s in standings:
        by_kind.setdefault(s.kind, s.spec)
    best = standings[0]
    if len(standings) == 1:
        return Verdict(best.spec, "only-one",
                       f"Only {best.spec} was evaluated ({best.accuracy:.1%} accuracy, {_money(best.cost_per_1k_usd)}); "
                       "evaluate another approach on the same split to compare.",
                       best.spec, None, None, None, standings, by_kind)
    runner = standings[1]
    correct = {e.spec: e.correct for e in entries}
    cmp = compare(*aligned(correct[best.spec], correct[runner.spec]), a=best.spec, b=runner.spec, seed=seed)
    head = "{rec} — {acc:.1%} accuracy (95 % CI {lo:.0%}–{hi:.0%}), {money}."
    if cmp.significant:
        rec, reason = best, "more-accurate"
        why = (f" It beats {runner.spec} ({runner.accuracy:.1%}) by {cmp.diff * 100:.1f} points, a statistically "
               f"significant difference (McNemar p = {cmp.mcnemar_p:.3g}, {cmp.n} test examples).")
    else:
        if _cost(runner) < _cost(best):
            rec, reason, edge = runner, "as-accurate-and-cheaper", f"cheaper ({_money(runner.cost_per_1k_usd)} vs {_money(best.cost_per_1k_usd)})"
        elif (_cost(runner) == _cost(best) and runner.latency_p50_ms is not None and best.latency_p50_ms is not None
              and runner.latency_p50_ms < best.latency_p50_ms * 0.8):  # unmeasured latency (Batch API): never "faster"
            rec, reason, edge = runner, "as-accurate-and-faster", (
                f"faster ({runner.latency_p50_ms:.0f} vs {best.latency_p50_ms:.0f} ms per call)")
        else:
            rec, reason, edge = best, "as-accurate", "at least as cheap and fast"
        other = runner if rec is best else best
        why = (f" {other.spec} ({other.accuracy:.1%}) is not significantly different (McNemar p = {cmp.mcnemar_p:.2f}; "
               f"with {cmp.n} test examples only gaps above about {cmp.min_detectable_diff * 100:.0f} points show), "
               f"and {rec.spec} is {edge}.")
    sentence = head.format(rec=f"Use {rec.spec}", acc=rec.accuracy, lo=rec.accuracy_ci95[0], hi=rec.accuracy_ci95[1],
                           money=_money(rec.cost_per_1k_usd)) + why
    return Verdict(rec.spec, reason, sentence, best.spec, runner.spec, cmp.significant, cmp, standings, by_kind)
