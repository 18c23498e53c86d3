"""Evidence for the decision: measured token counts, accuracy and latency from the store's evaluation runs.

Reads the runs and their predictions through core.evaluation.runs (their one
owner) and scores them with core.evaluation.metrics (the one accuracy), so the
Decide page can replace guesses with measurements and say which run each
number came from. With no runs it returns nothing and the page keeps guesses.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.backends import family
from core.evaluation import metrics
from core.evaluation import runs as runs_mod

if TYPE_CHECKING:
    from core.store import Store

@dataclass(frozen=True)
class RunSummary:
    id: int
    approach: str
    family: str                     # prompting | rag | fine-tuned | classifier | other (core.backends.family)
    backend: str
    model: str
    dataset_hash: str
    split: str
    status: str
    created_at: str
    n: int                          # scored predictions (failed calls and invalid outputs count as wrong)
    accuracy: float | None
    input_tokens: float | None      # mean per call, where the backend reported usage
    output_tokens: float | None
    latency_p50_ms: float | None
    cost_per_call: float | None

    @property
    def label(self) -> str:
        acc = "" if self.accuracy is None else f", accuracy {self.accuracy:.1%}"
        return f"run #{self.id} · {self.approach} · {self.split} · {self.dataset_hash[:8]} · {self.created_at[:16]}{acc}"


def run_summaries(store: "Store", dataset_hash: str | None = None, split: str | None = None) -> list[RunSummary]:
    """One summary per run that has predictions, newest first (optionally of one dataset version / split)."""
    listed = [r for r in runs_mod.list_runs(store, dataset_hash, split) if r["n_predictions"]]
    listed.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)
    rows = runs_mod.prediction_rows(store, [r["id"] for r in listed])
    return [_summary(r, [p for p in rows.get(r["id"], []) if p["gold"] is not None]) for r in listed]


def _mean(values) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.fmean(known) if known else None


def _summary(run: dict, rows: list[dict]) -> RunSummary:
    answered = [p for p in rows if p["error"] is None]
    latencies = [p["latency_ms"] for p in answered if p["latency_ms"] is not None]
    return RunSummary(
        id=run["id"], approach=run["approach"], family=family(run["approach"]),
        backend=run["backend"], model=run["model"], dataset_hash=run["dataset_hash"], split=run["split"],
        status=run["status"], created_at=run["created_at"], n=len(rows), accuracy=metrics.accuracy(rows),
        input_tokens=_mean(p["input_tokens"] for p in rows), output_tokens=_mean(p["output_tokens"] for p in rows),
        latency_p50_ms=statistics.median(latencies) if latencies else None,
        cost_per_call=_mean(p["cost_usd"] for p in answered),
    )


@dataclass(frozen=True)
class Measured:
    """A number taken from a run, with the run it came from."""

    value: float
    run_id: int
    source: str


@dataclass
class Evidence:
    prompt_tokens: Measured | None = None
    finetuned_prompt_tokens: Measured | None = None
    rag_prompt_tokens: Measured | None = None
    output_tokens: Measured | None = None
    quality_gap_points: Measured | None = None
    prompted_latency_ms: Measured | None = None
    runs: list[RunSummary] = field(default_factory=list)

    def filled(self) -> dict[str, Measured]:
        """The fields a measurement is available for."""
        names = ("prompt_tokens", "finetuned_prompt_tokens", "rag_prompt_tokens", "output_tokens",
                 "quality_gap_points", "prompted_latency_ms")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


    def run_rows(self) -> list[dict]:
        """The runs used as evidence, as a table."""
        return [{
            "run": r.id, "approach": r.approach, "family": r.family, "split": r.split, "n": r.n,
            "accuracy": r.accuracy, "input tokens": r.input_tokens, "output tokens": r.output_tokens,
            "latency p50 ms": r.latency_p50_ms, "cost/call $": r.cost_per_call, "created": r.created_at,
        } for r in self.runs]


def _best(runs: list[RunSummary], fam: str, need: str | None = None) -> RunSummary | None:
    """The most accurate run of a family (that has the `need`ed field measured), ties to the newest."""
    pool = [r for r in runs if r.family == fam and r.accuracy is not None and (need is None or getattr(r, need) is not None)]
    return max(pool, key=lambda r: r.accuracy, default=None)


def evidence_from_runs(runs: list[RunSummary], baseline_spec: str | None = None) -> Evidence:
    """Pick the measured inputs of the break-even and the questionnaire from runs.

    The prompted baseline is the prompt promoted on the Prompts page (`baseline_spec`)
    when it has a run, else the most accurate prompting run (that reported usage, for
    token counts); the quality gap is the best run of any approach minus that baseline,
    in accuracy points.
    """
    ev = Evidence(runs=list(runs))
    promoted = [r for r in runs if baseline_spec and r.approach == baseline_spec and r.accuracy is not None]

    def baseline(need: str | None = None) -> RunSummary | None:
        own = [r for r in promoted if need is None or getattr(r, need) is not None]
        # the newest run of the promoted prompt (whatever order the runs came in), not the oldest
        return max(own, key=lambda r: (r.created_at, r.id)) if own else _best(runs, "prompting", need)

    prompt = baseline("input_tokens")
    if prompt:
        ev.prompt_tokens = Measured(prompt.input_tokens, prompt.id, prompt.label)
        if prompt.output_tokens is not None:
            ev.output_tokens = Measured(prompt.output_tokens, prompt.id, prompt.label)
    ft = _best(runs, "fine-tuned", "input_tokens")
    if ft:
        ev.finetuned_prompt_tokens = Measured(ft.input_tokens, ft.id, ft.label)
    rag = _best(runs, "rag", "input_tokens")
    if rag:
        ev.rag_prompt_tokens = Measured(rag.input_tokens, rag.id, rag.label)
    best_prompt = baseline()
    scored = [r for r in runs if r.accuracy is not None]
    if best_prompt and scored:
        best = max(scored, key=lambda r: r.accuracy)
        gap = 100 * (best.accuracy - best_prompt.accuracy)
        ev.quality_gap_points = Measured(gap, best.id, f"{best.label} vs {best_prompt.label}")
    lat = baseline("latency_p50_ms")
    if lat:
        ev.prompted_latency_ms = Measured(lat.latency_p50_ms, lat.id, lat.label)
    return ev


def load_evidence(store: "Store", dataset_hash: str | None = None, split: str | None = "test") -> Evidence:
    """Evidence from the store's runs; empty (nothing filled) when there are none."""
    from core.prompts.store import promoted_baseline

    promoted = promoted_baseline(store, dataset_hash) if dataset_hash else None
    return evidence_from_runs(run_summaries(store, dataset_hash, split), promoted.spec if promoted else None)
