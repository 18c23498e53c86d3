"""Export: a dataset version as OpenAI chat JSONL, DPO preference JSONL, or a CSV safe to open in a spreadsheet.

Every file name carries the version hash, so a file on disk always says which
version it is. The system prompt is rendered from the Task — the same words
the prompting approaches use — so a fine-tune learns the prompt it will see.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from core.data.dataset import Dataset, Example
from core.data.task import Task

# OWASP "CSV injection": a cell starting with one of these runs as a formula in Excel / Sheets / LibreOffice.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def chat_messages(task: Task, text: str, label: str | None = None) -> list[dict]:
    """One example as chat messages: the Task's system prompt, the text, and (if labelled) the label as the answer."""
    messages = [{"role": "system", "content": task.system_prompt(with_descriptions=True)}, {"role": "user", "content": text}]
    if label is not None:
        messages.append({"role": "assistant", "content": label})
    return messages


def _jsonl(records: Iterable[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def chat_jsonl(dataset: Dataset, split: str | None = "train") -> str:
    """OpenAI chat fine-tuning JSONL of the labelled examples of a split (None: all splits)."""
    examples = dataset.examples if split is None else dataset.split(split)
    return _jsonl({"messages": chat_messages(dataset.task, e.text, e.label)} for e in examples if e.label is not None)


def preference_jsonl(task: Task, pairs: Sequence[tuple[Example, str]]) -> str:
    """OpenAI DPO JSONL: for each (example, rejected answer), the example's label is preferred over the rejected one."""
    return _jsonl(
        {
            "input": {"messages": chat_messages(task, e.text)},
            "preferred_output": [{"role": "assistant", "content": e.label}],
            "non_preferred_output": [{"role": "assistant", "content": rejected}],
        }
        for e, rejected in pairs
        if e.label is not None and rejected != e.label
    )


def neutralise(cell: str | None) -> str:
    """A cell a spreadsheet shows as text: a leading formula character gets an apostrophe in front (OWASP)."""
    if cell is None:
        return ""
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def csv_text(examples: Iterable[Example]) -> str:
    """id,text,label,split as CSV, every cell neutralised against formula injection."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "text", "label", "split"])
    for e in examples:
        writer.writerow([neutralise(e.id), neutralise(e.text), neutralise(e.label), e.split])
    return out.getvalue()


def file_name(dataset: Dataset, kind: str, ext: str) -> str:
    """e.g. `support-tickets-3f2a9c1b0d4e5f60-train.jsonl`: name, version hash, what is in it."""
    slug = re.sub(r"[^a-z0-9]+", "-", dataset.name.lower()).strip("-")[:40] or "dataset"
    return f"{slug}-{dataset.hash}-{kind}.{ext}"


@dataclass(frozen=True)
class Download:
    label: str
    data: bytes
    file_name: str
    mime: str
    help: str | None = None

    @property
    def empty(self) -> bool:
        return not self.data


def downloads(dataset: Dataset, pairs: Sequence[tuple[Example, str]] = ()) -> list[Download]:
    """Every file a version exports: train and dev as chat JSONL, all splits as CSV, preference pairs as DPO JSONL
    (empty without pairs)."""
    return [
        Download("Train JSONL (OpenAI chat)", chat_jsonl(dataset, "train").encode("utf-8"),
                 file_name(dataset, "train", "jsonl"), "application/jsonl",
                 "The labelled train split; the system prompt is rendered from the task."),
        Download("Validation JSONL (dev)", chat_jsonl(dataset, "dev").encode("utf-8"),
                 file_name(dataset, "dev", "jsonl"), "application/jsonl"),
        Download("CSV (all splits)", csv_text(dataset.examples).encode("utf-8"), file_name(dataset, "all", "csv"),
                 "text/csv", "Cells that a spreadsheet would run as formulas get a leading apostrophe."),
        Download("DPO JSONL (preference pairs)", preference_jsonl(dataset.task, pairs).encode("utf-8") if pairs else b"",
                 file_name(dataset, "dpo", "jsonl"), "application/jsonl",
                 "Only when the imported file had preference pairs (chosen / rejected answers)."),
    ]
