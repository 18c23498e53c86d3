"""The chat-format training records every generative backend trains on — hosted or local, the same bytes.

One example becomes {"messages": [system: the Task's prompt, user: the text,
assistant: the label]}; for DPO, the gold label is the preferred answer and a
wrong label the non-preferred one.
"""

from __future__ import annotations

import json
import random
from typing import Iterable

from core.dataset import Dataset, Example
from core.prompting import PromptConfig, format_answer, messages
from core.task import Task

# Fine-tuned models answer with the bare label: the plain-text zero-shot prompt is the one they learn and are
# evaluated with (`openai:<ft-model>:zero-shot:output=text`), so training and evaluation use the same words.
PROMPT = PromptConfig(output="text")


def chat_record(task: Task, text: str, label: str | None = None) -> dict:
    msgs = messages(task, PROMPT, text)
    if label is not None:
        msgs.append({"role": "assistant", "content": format_answer(label, PROMPT)})
    return {"messages": msgs}


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
            "input": {"messages": chat_record(task, e.text)["messages"]},
            "preferred_output": [{"role": "assistant", "content": format_answer(e.label, PROMPT)}],
            "non_preferred_output": [{"role": "assistant", "content": format_answer(wrong, PROMPT)}],
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
