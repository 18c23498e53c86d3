"""Metrics of a Run, derived from its stored predictions (scikit-learn), never stored themselves.

The one definition of accuracy in the lab (`is_correct` / `accuracy`; the
Evaluate page, the CLI, the verdict, the Decide page's evidence and the prompt
search all use it): an answer is right when the call succeeded and returned the
gold label. An invalid output (no label) or a failed call (an error after
retries) counts as a wrong answer — a user would get no usable label either
way — so failed calls stay in the denominator: n is every prediction row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

INVALID = "(invalid)"


@dataclass(frozen=True)
class RunMetrics:
    n: int
    accuracy: float
    macro_f1: float
    invalid_rate: float  # answered, but not with a label
    error_rate: float  # the call failed after retries
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    input_tokens_per_call: float | None
    output_tokens_per_call: float | None
    cost_per_1k_usd: float | None  # None: the price of a call is unknown
    labels: list[str] = field(default_factory=list)
    per_class: list[dict] = field(default_factory=list)  # label, precision, recall, f1, support
    confusion: list[list[int]] = field(default_factory=list)  # rows: gold labels; columns: labels + (invalid)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> dict:
        """The headline figures (what the CLI prints per approach)."""
        keys = ("accuracy", "macro_f1", "invalid_rate", "latency_p50_ms", "latency_p95_ms", "cost_per_1k_usd", "n")
        return {k: getattr(self, k) for k in keys}


def _mean_or_none(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if known and len(known) == len(values) else None


def is_correct(row: dict) -> bool:
    """Right: the call did not fail and its label is the gold one (see the module docstring)."""
    return row.get("error") is None and row["label"] is not None and row["label"] == row["gold"]


def accuracy(rows: Sequence[dict]) -> float | None:
    """Share of rows answered right, failed calls and invalid outputs counting as wrong; None without rows."""
    return sum(map(is_correct, rows)) / len(rows) if rows else None


def compute(rows: Sequence[dict], labels: Sequence[str]) -> RunMetrics:
    """Metrics from prediction rows (dicts with gold, label, latency_ms, input/output_tokens, cost_usd, error)."""
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

    labels = list(labels)
    n = len(rows)
    if n == 0:
        return RunMetrics(0, 0.0, 0.0, 0.0, 0.0, None, None, None, None, None, labels)
    gold = [r["gold"] for r in rows]
    # a failed call gives no usable label, whatever it stored: it sits in the (invalid) column
    pred = [r["label"] if r["label"] is not None and r.get("error") is None else INVALID for r in rows]
    errors = sum(r.get("error") is not None for r in rows)
    invalid = sum(r["label"] is None and r.get("error") is None for r in rows)
    p, rec, f1, support = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    lat = [r["latency_ms"] for r in rows if r.get("latency_ms") is not None and r.get("error") is None]
    answered = [r for r in rows if r.get("error") is None]  # a failed call has no tokens and costs nothing
    return RunMetrics(
        n=n,
        accuracy=accuracy(rows),
        macro_f1=float(f1_score(gold, pred, labels=labels, average="macro", zero_division=0)),
        invalid_rate=invalid / n,
        error_rate=errors / n,
        latency_p50_ms=float(np.percentile(lat, 50)) if lat else None,
        latency_p95_ms=float(np.percentile(lat, 95)) if lat else None,
        input_tokens_per_call=_mean_or_none([r.get("input_tokens") for r in answered]),
        output_tokens_per_call=_mean_or_none([r.get("output_tokens") for r in answered]),
        cost_per_1k_usd=None if not answered else (
            None if (c := _mean_or_none([r.get("cost_usd") for r in answered])) is None else c * 1000),
        labels=labels,
        per_class=[{"label": lab, "precision": float(p[i]), "recall": float(rec[i]), "f1": float(f1[i]),
                    "support": int(support[i])} for i, lab in enumerate(labels)],
        confusion=confusion_matrix(gold, pred, labels=labels + [INVALID]).tolist()[: len(labels)],
    )


def correct_vector(rows: Sequence[dict]) -> dict[int, bool]:
    """example index -> answered correctly: what the paired statistics compare."""
    return {r["example_idx"]: is_correct(r) for r in rows}
