"""Report: the evidence of several runs on the same data — metrics per run, the paired test, the verdict.

What the Evaluate page draws, the CLI prints and the Decide page consumes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from core import runs as runs_mod
from core.metrics import RunMetrics, compute, correct_vector
from core.stats import Comparison, aligned, compare
from core.store import Store
from core.verdict import Entry, Verdict, decide


@dataclass
class Report:
    runs: list[runs_mod.Run]
    metrics: dict[str, RunMetrics]  # by spec
    rows: dict[str, list[dict]]  # per-example predictions by spec
    comparison: Comparison | None  # the first two runs, as the CLI reports them
    verdict: Verdict
    labels: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, dict]:
        """Per spec: the headline metrics; for the first two, mcnemar_p and diff_ci95 (CLI contract)."""
        out = {spec: m.summary() for spec, m in self.metrics.items()}
        if self.comparison is not None:
            for spec in (self.comparison.a, self.comparison.b):
                out[spec]["mcnemar_p"] = self.comparison.mcnemar_p
                out[spec]["diff_ci95"] = list(self.comparison.diff_ci95)
        return out


def display_name(run: runs_mod.Run, among: Sequence[runs_mod.Run]) -> str:
    """The spec, unless two runs share it (another endpoint or dataset): then the run id tells them apart."""
    return run.approach if sum(r.approach == run.approach for r in among) == 1 else f"{run.approach} (run {run.id})"


def build(store: Store, run_list: Sequence[runs_mod.Run], labels: Sequence[str]) -> Report:
    labels = list(labels)
    metrics, rows, entries = {}, {}, []
    for run in run_list:
        name = display_name(run, run_list)
        r = runs_mod.predictions(store, run.id)
        rows[name] = r
        metrics[name] = compute(r, labels)
        entries.append(Entry(name, metrics[name], correct_vector(r)))
    comparison = None
    if len(entries) >= 2:
        a, b = entries[0], entries[1]
        comparison = compare(*aligned(a.correct, b.correct), a=a.spec, b=b.spec)
    return Report(list(run_list), metrics, rows, comparison, decide(entries), labels)
