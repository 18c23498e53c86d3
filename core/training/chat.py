"""The chat-format training records every generative backend trains on — hosted or local, the same bytes.

One example becomes {"messages": [system: the Task's prompt, user: the text,
assistant: the label]} — rendered by the Dataset page's exporter (core/data/export.py),
so the file the user downloads there is the file a job trains on. For DPO, the
gold label is the preferred answer and a wrong label the non-preferred one.
Fine-tuned models are evaluated with the same plain-text prompt
(`openai:<ft-model>:zero-shot:output=text`).
"""

from __future__ import annotations

import json
import random
from typing import Iterable

from core.data.dataset import Dataset, Example
from core.data.export import chat_messages
from core.data.task import Task


def chat_record(task: Task, text: str, label: str | None = None) -> dict:
    return {"messages": chat_messages(task, text, label)}


def system_text(task: Task) -> str:
    """The system prompt of every record of this task."""
    return chat_messages(task, "")[0]["content"]


def short_system_text(task: Task) -> str:
    """The short system prompt: the instruction and the bare label names (what a local fine-tune is asked with)."""
    return task.system_prompt(with_descriptions=False)


def fine_tune_system_text(task: Task, prompt: str) -> str:
    """The system prompt a local fine-tune is trained and asked with: `short` (instruction + label names) or
    `full` (the chat records' own, guidelines included — what adapters saved before the option used)."""
    return short_system_text(task) if prompt == "short" else system_text(task)


def chat_records(task: Task, examples: Iterable[Example]) -> list[dict]:
    return [chat_record(task, e.text, e.label) for e in examples if e.label is not None]


def preference_records(task: Task, examples: Iterable[Example], seed: int = 7) -> list[dict]:
    """DPO pairs from labelled examples: prefer the gold label over a wrong one (drawn with a fixed seed)."""
    rng = random.Random(seed)
    out = []
    for e in examples:
        if e.label is None:
            continue
        wrong = rng.choice([n for n in task.label_names if n != e.label])
        out.append({
            "input": {"messages": chat_messages(task, e.text)},
            "preferred_output": [{"role": "assistant", "content": e.label}],
            "non_preferred_output": [{"role": "assistant", "content": wrong}],
        })
    return out


def to_jsonl(records: Iterable[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def training_examples(dataset: Dataset, max_per_class: int | None = None, seed: int = 7) -> list[Example]:
    """The labelled train split, optionally capped per class (a fixed-seed sample, original order kept)."""
    train = [e for e in dataset.split("train") if e.label is not None]
    if not max_per_class:
        return train
    rng = random.Random(seed)
    keep: set[int] = set()
    by_label: dict[str, list[int]] = {}
    for i, e in enumerate(train):
        by_label.setdefault(e.label, []).append(i)
    for idxs in by_label.values():
        keep.update(idxs if len(idxs) <= max_per_class else rng.sample(idxs, max_per_class))
    return [e for i, e in enumerate(train) if i in keep]
