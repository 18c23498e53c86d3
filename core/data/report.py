"""The dataset report: one pass over imported rows (or a stored version) that gathers every finding.

import → validate (line findings, label set, per-example token limit, dataset
rules) → PII → quality (duplicates, conflicts, leakage, label errors) → token
statistics and training cost per fine-tunable model → advice. The CLI's
`validate` and the Dataset page both draw this object.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from statistics import mean, median
from typing import Callable, Literal

from core import economics, tokens

from core.data import pii, quality
from core.catalog import load_catalog
from core.data.dataset import Dataset, Example, stratified_split
from core.data.export import chat_messages
from core.data.importer import ImportResult, Row
from core.data.task import Task
from core.data.validation import Finding, check_label, check_tokens, dataset_findings, errors, warnings

DEFAULT_MODEL = "gpt-4.1-mini-2025-04-14"
EMBEDDING_MAX_ROWS = 20_000  # MiniLM embeds ~400 texts/s here: beyond this the semantic check would take minutes
Progress = Callable[[float, str], None]


@dataclass
class TokenStats:
    model: str
    encoding: str
    limit: int | None
    per_row: list[int]  # aligned with DataReport.rows

    def summary(self) -> dict:
        n = self.per_row
        if not n:
            return {"model": self.model, "encoding": self.encoding, "total": 0, "limit": self.limit, "over_limit": 0}
        ordered = sorted(n)
        return {
            "model": self.model, "encoding": self.encoding, "total": sum(n), "min": ordered[0],
            "mean": round(mean(n), 1), "median": median(n), "p95": ordered[min(len(n) - 1, math.ceil(0.95 * len(n)) - 1)],
            "max": ordered[-1], "limit": self.limit, "over_limit": sum(self.limit is not None and t > self.limit for t in n),
        }


@dataclass
class DataReport:
    name: str
    format: str = "unknown"
    records: int = 0
    rows: list[Row] = field(default_factory=list)              # the kept rows
    findings: list[Finding] = field(default_factory=list)
    task: Task | None = None
    model: str = DEFAULT_MODEL
    pii: list[tuple[int, pii.PiiMatch]] = field(default_factory=list)  # (row index, match)
    quality: quality.QualityReport = field(default_factory=quality.QualityReport)
    tokens: TokenStats | None = None
    training: dict[str, economics.TrainingEstimate] = field(default_factory=dict)
    training_rows: int = 0
    advice: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def errors(self) -> list[Finding]:
        return errors(self.findings)

    @property
    def warnings(self) -> list[Finding]:
        return warnings(self.findings)

    @property
    def exit_code(self) -> int:
        return 2 if self.error else 1 if self.errors else 0

    def line(self, row_index: int) -> int:
        return self.rows[row_index].line

    def to_json(self) -> dict:
        """The `validate --json` contract (keys are only ever added)."""
        if self.error:
            return {"error": self.error, "rows": 0, "valid_rows": 0, "errors": [{"line": None, "code": "unreadable", "message": self.error}]}
        rows = self.rows
        return {
            "rows": self.records,
            "valid_rows": len(rows),
            "errors": [f.to_dict() for f in self.errors],
            "warnings": [f.to_dict() for f in self.warnings],
            "pii": [{"line": rows[i].line, "kind": m.kind} for i, m in self.pii],
            "duplicates": [{"lines": [rows[i].line for i in g.rows], "kind": g.kind, "similarity": g.similarity}
                           for g in self.quality.duplicates],
            "conflicts": [{"lines": [rows[i].line for i in g.rows], "labels": [rows[i].label for i in g.rows]}
                          for g in self.quality.conflicts],
            "label_issues": [{"line": rows[x.row].line, "label": x.given, "suggested": x.suggested, "confidence": x.confidence}
                             for x in self.quality.label_issues],
            "tokens": (self.tokens.summary() if self.tokens else {}) | {
                "training_rows": self.training_rows,
                "epochs": {m: t.epochs for m, t in self.training.items()},
                "billed_training_tokens": {m: t.billed_tokens for m, t in self.training.items()},
            },
            "training_cost_usd": {m: round(t.cost_usd, 4) for m, t in self.training.items()},
        }


def local_tier_installed() -> bool:
    from core.tiers import local_status

    return local_status().ready


# --- building the report -------------------------------------------------------------------------


def build(
    imported: ImportResult,
    task: Task | None = None,
    model: str = DEFAULT_MODEL,
    embeddings: bool | Literal["auto"] = "auto",
    progress: Progress | None = None,
) -> DataReport:
    """The full report of an import. `task`: check answers against its labels (default: infer the label set)."""
    step = progress or (lambda _f, _m: None)
    report = DataReport(name=imported.name, format=imported.format, records=imported.records,
                        findings=list(imported.findings), model=model, error=imported.error)
    if imported.error:
        return report
    step(0.05, "checking labels and token limits")
    rows = list(imported.rows)
    if task is not None:
        rows = _check_labels(rows, task, report.findings)
    else:
        task = infer_task(rows, imported.name)
    report.task = task
    report.rows = rows
    _check_tokens(report)
    _finish(report, embeddings, step)
    return report


def from_dataset(dataset: Dataset, model: str = DEFAULT_MODEL, embeddings: bool | Literal["auto"] = "auto",
                 progress: Progress | None = None) -> DataReport:
    """The report of a stored version; its 'line numbers' are row positions (1-based)."""
    rows = [Row(line=i, text=e.text, label=e.label, split=e.split, id=e.id) for i, e in enumerate(dataset.examples, 1)]
    report = DataReport(name=dataset.name, format="dataset", records=len(rows), rows=rows, task=dataset.task, model=model)
    report.findings = []
    _check_labels(rows, dataset.task, report.findings)  # a stored version may carry labels its task lost
    _check_tokens(report, drop=False)
    _finish(report, embeddings, progress or (lambda _f, _m: None))
    return report


def infer_task(rows: list[Row], name: str) -> Task | None:
    """A task from the file's labels (None when there are fewer than two)."""
    labels = sorted({r.label for r in rows if r.label is not None})
    return Task.from_labels(labels, name=name) if len(labels) >= 2 else None


def _check_labels(rows: list[Row], task: Task, findings: list[Finding]) -> list[Row]:
    names = set(task.label_names)
    kept = []
    for r in rows:
        bad = check_label(r.label, names, r.line) if r.label is not None else None
        if bad:
            findings.append(bad)
        else:
            kept.append(r)
    return kept


def _messages(row: Row, task: Task | None) -> list[dict]:
    """What one training example sends: its own chat as given, else the Task's prompt + text + label."""
    if row.messages is not None:
        return row.messages
    if task is not None:
        return chat_messages(task, row.text, row.label)
    return [{"role": "user", "content": row.text}] + ([{"role": "assistant", "content": row.label}] if row.label else [])


def chat_token_counts(conversations: list[list[dict]], model: str) -> list[int]:
    """`tokens.count_chat_tokens` of each conversation, with each distinct message counted once.

    The chat count is a sum over messages plus one reply priming, so a message
    repeated on every line (the system prompt, a label) is encoded once: 100,000
    lines take about a second instead of a minute with a long system prompt.
    """
    per_message: dict = {}
    enc = tokens.encoding_for_model(model)  # resolved once, not per message
    prime = tokens.REPLY_PRIMING_TOKENS
    out = []
    for messages in conversations:
        total = prime
        for msg in messages:
            try:
                key = tuple(msg.items())
                n = per_message.get(key)
                if n is None:
                    n = per_message[key] = tokens.message_tokens(msg, enc)
            except TypeError:  # unhashable content (content parts): count it directly
                n = tokens.message_tokens(msg, enc)
            total += n
        out.append(total)
    return out


def _check_tokens(report: DataReport, drop: bool = True) -> None:
    """Exact token counts for the chosen model; examples over its per-example limit are errors."""
    limit = None
    try:
        limit = load_catalog().get(report.model).max_example_tokens
    except KeyError:
        report.notes.append(f"{report.model} is not in the model catalog: no per-example token limit checked")
    counts = chat_token_counts([_messages(r, report.task) for r in report.rows], report.model)
    kept_rows, kept_counts = [], []
    for r, n in zip(report.rows, counts):
        bad = check_tokens(n, limit, report.model, r.line)
        if bad:
            report.findings.append(bad)
            if drop:
                continue
        kept_rows.append(r)
        kept_counts.append(n)
    report.rows = kept_rows
    report.tokens = TokenStats(report.model, tokens.encoding_name_for_model(report.model), limit, kept_counts)


def _finish(report: DataReport, embeddings: bool | Literal["auto"], step: Progress) -> None:
    rows = report.rows
    report.findings += dataset_findings([r.label for r in rows], report.task.label_names if report.task else None)
    vectors = None
    use = local_tier_installed() and len(rows) <= EMBEDDING_MAX_ROWS if embeddings == "auto" else bool(embeddings)
    if use and rows:
        step(0.1, f"embedding {len(rows):,} texts with MiniLM")
        from core.encoder import embed

        vectors = embed([r.text for r in rows])
    elif embeddings == "auto" and rows:
        why = "the local tier is not installed" if not local_tier_installed() else f"{len(rows):,} rows > {EMBEDDING_MAX_ROWS:,}"
        report.notes.append(f"semantic duplicates not checked ({why}); exact and near duplicates were")
    step(0.3, "duplicates, conflicts, leakage, likely label errors and personal data")
    splits = [r.split for r in rows]
    # The quality checks spend most of their time in numpy / scipy / scikit-learn, which release the GIL:
    # on two cores the PII scan (pure Python) and the cost estimate run alongside them in this thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        checked = pool.submit(quality.check, [r.text for r in rows], [r.label for r in rows],
                              splits if any(splits) else None, embeddings=vectors)
        report.pii = [(i, m) for i, r in enumerate(rows) for m in pii.scan(r.text)]
        _training(report)
        report.quality = checked.result()
    report.notes += report.quality.notes
    for test_row, other in report.quality.leakage:
        report.findings.append(Finding(rows[test_row].line, "leakage",
                                       f"test text also in {rows[other].split} (line {rows[other].line}): the test score would flatter"))
    report.findings.sort(key=lambda f: (f.line is not None, f.line or 0))
    report.advice = advice(report)
    step(1.0, "done")


def _training(report: DataReport) -> None:
    """Billed tokens and US$ per fine-tunable catalog model, with OpenAI's default-epochs rule."""
    has_split = any(r.split for r in report.rows)
    train = [r for r in report.rows if r.label is not None and (r.split == "train" or not has_split)]
    report.training_rows = len(train)
    if not train:
        return
    counted = dict(zip(map(id, report.rows), report.tokens.per_row)) if report.tokens else {}
    by_encoding: dict[str, list[int]] = {}
    if report.tokens:  # the chosen model's counts are already there
        by_encoding[report.tokens.encoding] = [counted[id(r)] for r in train]
    for info in load_catalog().fine_tunable():
        enc = tokens.encoding_name_for_model(info.id)
        if enc not in by_encoding:
            by_encoding[enc] = chat_token_counts([_messages(r, report.task) for r in train], info.id)
        try:
            report.training[info.id] = economics.estimate_training(info, by_encoding[enc])
        except economics.PricingError as exc:
            report.notes.append(str(exc))


def advice(report: DataReport) -> list[str]:
    """What to do next, most useful first."""
    q, out = report.quality, []
    n = sum(r.label is not None for r in report.rows)
    if report.errors:
        out.append(f"Fix or drop the {len(report.errors)} error(s) first: a provider refuses the whole file for one bad line.")
    if report.pii:
        out.append(f"Redact the {len(report.pii)} piece(s) of personal data before the data leaves this machine.")
    if q.conflicts:
        out.append(f"{len(q.conflicts)} group(s) of (near-)identical texts carry different labels: a model cannot learn both — decide each.")
    if q.label_issues:
        out.append(f"Review the {len(q.label_issues)} likely label error(s): a cross-validated model confidently disagrees with them.")
    if q.leakage:
        out.append(f"{len(q.leakage)} test example(s) also appear in train/dev: drop them or the test score will flatter.")
    if q.duplicates:
        extra = sum(len(g.rows) - 1 for g in q.duplicates)
        out.append(f"Dropping duplicates removes {extra} row(s) that over-weight a few examples.")
    if n < 50:
        out.append("Collect more examples: OpenAI sees clear gains from 50–100 good ones.")
    out.append("50–100 good examples usually beat 10,000 noisy ones: clean before you collect more.")
    return out


# --- from a report to a dataset version -------------------------------------------------------------


def to_dataset(report: DataReport, name: str | None = None, seed: int = 7) -> Dataset:
    """The kept rows as a Dataset; the file's split column is used when every labelled row has one."""
    if report.task is None:
        raise ValueError("the file needs at least two distinct labels to define a task")
    return Dataset(name=name or report.name, task=report.task, examples=tuple(examples_from_rows(report.rows, seed)))


def dataset_from_import(imported: ImportResult, task: Task | None = None, seed: int = 7) -> Dataset:
    """A Dataset straight from an import, without the report's checks (rows outside the task's labels are left out)."""
    if imported.error:
        raise ValueError(imported.error)
    rows = [r for r in imported.rows if task is None or r.label is None or r.label in task.label_names]
    task = task or infer_task(rows, imported.name)
    if task is None:
        raise ValueError(f"{imported.name} needs at least two distinct labels to define a task")
    return Dataset(name=imported.name, task=task, examples=tuple(examples_from_rows(rows, seed)))


def examples_from_rows(rows: list[Row], seed: int = 7) -> list[Example]:
    """Examples with unique ids (the id column, else `L<line>`), in file order, split by the file or stratified."""
    seen: set[str] = set()
    examples = []
    for r in rows:
        ident = r.id or f"L{r.line}"
        if ident in seen:  # ids must be unique within a version
            ident = f"{ident}-L{r.line}"
        seen.add(ident)
        examples.append(Example(id=ident, text=r.text, label=r.label, split=r.split or "train"))
    labelled = [r for r in rows if r.label is not None]
    if labelled and all(r.split for r in labelled):
        return examples
    order = {e.id: i for i, e in enumerate(examples)}
    return sorted(stratified_split(examples, seed=seed), key=lambda e: order[e.id])


def rejected_answers(report: DataReport, dataset: Dataset) -> dict[str, str]:
    """Example id → the imported non-preferred answer, for files of preference pairs (row order = example order)."""
    return {e.id: r.rejected for r, e in zip(report.rows, dataset.examples) if r.rejected}
