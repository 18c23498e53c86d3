"""EvaluationReport: the evidence of several runs on the same data — metrics per run, the paired test, the verdict.

What the Evaluate page draws, the CLI prints and the Decide page consumes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from core.evaluation import runs as runs_mod
from core.evaluation.metrics import RunMetrics, compute, correct_vector, is_correct
from core.evaluation.stats import Comparison, aligned, compare
from core.store import Store
from core.evaluation.verdict import Entry, Verdict, pick_verdict


@dataclass
class EvaluationReport:
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


def build(store: Store, run_list: Sequence[runs_mod.Run], labels: Sequence[str]) -> EvaluationReport:
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
    return EvaluationReport(list(run_list), metrics, rows, comparison, pick_verdict(entries), labels)


def long_rows(rep: EvaluationReport) -> list[dict]:
    """One row per (approach, example): the per-example CSV."""
    out = []
    for name, rows in rep.rows.items():
        for r in rows:
            out.append({"approach": name, "example_idx": r["example_idx"], "example_id": r["example_id"],
                        "text": r["text"], "gold": r["gold"], "predicted": r["label"],
                        "correct": is_correct(r), "raw_output": r["raw_output"],
                        "latency_ms": r["latency_ms"], "input_tokens": r["input_tokens"],
                        "output_tokens": r["output_tokens"], "cost_usd": r["cost_usd"], "error": r["error"]})
    return out


def side_by_side(rep: EvaluationReport) -> list[dict]:
    """One row per example: the text, the gold label and each approach's answer (None: invalid or failed)."""
    by_idx: dict[int, dict] = {}
    for name, rows in rep.rows.items():
        for r in rows:
            row = by_idx.setdefault(r["example_idx"], {"example_id": r["example_id"], "text": r["text"],
                                                        "gold": r["gold"]})
            row[name] = r["label"]
    return [by_idx[i] for i in sorted(by_idx)]


def to_json(rep: EvaluationReport) -> dict:
    """Everything measured, for the metrics download and for other tools."""
    return {
        "runs": [{"id": r.id, "approach": r.approach, "dataset": r.dataset_hash, "split": r.split,
                  "config_hash": r.config_hash, "config": r.config, "backend": r.backend, "model": r.model,
                  "status": r.status, "finished_at": r.finished_at} for r in rep.runs],
        "metrics": {name: m.to_dict() for name, m in rep.metrics.items()},
        "comparison": rep.comparison.to_dict() if rep.comparison else None,
        "verdict": rep.verdict.to_dict(),
    }


# --- what the Evaluate page tabulates ------------------------------------------------------------

ERROR_VIEWS = ("examples some approach got wrong", "examples where approaches disagree", "all")


def error_rows(rep: EvaluationReport, view: str = ERROR_VIEWS[0], gold: Sequence[str] = ()) -> list[dict]:
    """The side-by-side rows a user inspects: those some approach got wrong, those where approaches disagree
    (an invalid output or a failed call counts as its own answer), or all; optionally only some gold labels."""
    if view not in ERROR_VIEWS:
        raise ValueError(f"view must be one of {', '.join(ERROR_VIEWS)}")
    names = list(rep.metrics)
    out = []
    for row in side_by_side(rep):
        answers = [row[n] for n in names]
        keep = (view == "all" or (view == ERROR_VIEWS[0] and any(a != row["gold"] for a in answers))
                or (view == ERROR_VIEWS[1] and len(set(answers)) > 1))
        if keep and (not gold or row["gold"] in gold):
            out.append(row)
    return out


def standings_rows(rep: EvaluationReport) -> list[dict]:
    """One row per approach, most accurate first: named in words, its spec beside it."""
    from core.backends import describe, family

    rows = []
    for s in rep.verdict.standings:
        m = rep.metrics[s.spec]
        base = s.spec.split(" (run ", 1)[0]
        rows.append({"approach": describe(base), "family": family(base), "spec": s.spec, "accuracy": s.accuracy,
                     "95 % CI": f"{s.accuracy_ci95[0]:.1%} – {s.accuracy_ci95[1]:.1%}", "macro-F1": s.macro_f1,
                     "invalid": s.invalid_rate, "p50 ms": m.latency_p50_ms, "p95 ms": m.latency_p95_ms,
                     "tokens in/call": m.input_tokens_per_call, "$ / 1k calls": s.cost_per_1k_usd, "n": s.n})
    return rows
