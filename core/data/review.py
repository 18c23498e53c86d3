"""A data report as the Dataset page reviews it: its tables as plain rows, and what each fix button changes.

Pure functions over `report.DataReport`; the page draws the rows and saves the
fixes as new versions (core/data/versions.py).
"""

from __future__ import annotations

from core.catalog import Catalog
from core.data.report import DataReport


def summary(report: DataReport) -> list[tuple[str, int]]:
    """The report's counts, in the order the page shows them."""
    q = report.quality
    return [("Rows", report.records), ("Usable", len(report.rows)), ("Errors", len(report.errors)),
            ("Warnings", len(report.warnings)), ("PII", len(report.pii)), ("Duplicates", len(q.duplicates)),
            ("Conflicts", len(q.conflicts)), ("Label issues", len(q.label_issues))]


def tables(report: DataReport) -> list[tuple[str, str, list[dict]]]:
    """(title, name, rows) of each problem table the report has rows for: findings, personal data, duplicates."""
    found = [("Findings", "findings", findings_rows(report)), ("Personal data", "pii", pii_rows(report)),
             ("Duplicates and conflicts", "dupes", duplicate_rows(report))]
    return [t for t in found if t[2]]


def findings_rows(report: DataReport) -> list[dict]:
    return [{"line": f.line, "severity": f.severity, "code": f.code, "message": f.message} for f in report.findings]


def pii_rows(report: DataReport) -> list[dict]:
    return [{"line": report.rows[i].line, "kind": m.kind, "found": m.text} for i, m in report.pii]


def duplicate_rows(report: DataReport) -> list[dict]:
    """One row per group of duplicates: its lines, how alike, its labels, whether they conflict."""
    rows, conflicting = report.rows, {g.rows for g in report.quality.conflicts}
    return [{
        "lines": ", ".join(str(rows[i].line) for i in g.rows), "kind": g.kind, "similarity": g.similarity,
        "labels": ", ".join(sorted({str(rows[i].label) for i in g.rows})), "conflict": g.rows in conflicting,
        "text": rows[g.rows[0]].text[:120],
    } for g in report.quality.duplicates]


def label_issue_rows(report: DataReport, text_chars: int = 160) -> list[dict]:
    """Likely label errors: the given label, the one a cross-validated model suggests, and its confidence."""
    rows = report.rows
    return [{"line": rows[x.row].line, "id": rows[x.row].id, "label": x.given, "suggested": x.suggested,
             "confidence": x.confidence, "text": rows[x.row].text[:text_chars]} for x in report.quality.label_issues]


def relabel_rows(report: DataReport) -> list[dict]:
    """The likely label errors as a review table: none accepted yet, the suggestion editable, the full text."""
    return [{"accept": False, "id": r["id"], "text": r["text"], "label": r["label"], "suggested": r["suggested"],
             "confidence": r["confidence"]} for r in label_issue_rows(report, text_chars=None)]


def training_cost_rows(report: DataReport, catalog: Catalog) -> list[dict]:
    """What fine-tuning on these rows would cost per model, with the dates the model stops taking jobs and retires."""
    return [{
        "model": m, "epochs": e.epochs, "tokens per epoch": e.tokens_per_epoch, "billed tokens": e.billed_tokens,
        "US$": round(e.cost_usd, 2), "no new jobs from": str(catalog.get(m).no_new_jobs or "—"),
        "retires": str(catalog.get(m).retires or "—"),
    } for m, e in report.training.items()]


def pii_example_ids(report: DataReport) -> list[str]:
    """The examples whose text holds personal data (what "Redact" changes)."""
    return sorted({report.rows[i].id for i, _ in report.pii})


def duplicates_to_drop(report: DataReport) -> list[str]:
    """What "Drop duplicates" removes: every example but the first of each group. Groups whose labels
    disagree are kept whole — which label is right is the user's call (relabel), not a coin toss."""
    conflicting = {g.rows for g in report.quality.conflicts}
    return [report.rows[i].id for g in report.quality.duplicates if g.rows not in conflicting for i in g.rows[1:]]
