"""Meta-prompted instruction rewrites, in the spirit of APE (Zhou et al. 2022) and OPRO (Yang et al. 2023).

The chat model itself is shown the best instructions so far with their dev
scores and the dev examples the best one got wrong, and asked for new
instructions. The request is an ordinary chat call: it goes through the
paid-response cache like every other call, so a rerun proposes the same
instructions for free.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Sequence

from core.data.task import Task

MAX_ERRORS = 8
MAX_TEXT_CHARS = 400


@dataclass(frozen=True)
class ScoredInstruction:
    instruction: str
    accuracy: float
    n: int


@dataclass(frozen=True)
class Mistake:
    text: str
    gold: str
    predicted: str | None


def _clip(text: str, n: int = MAX_TEXT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def meta_messages(task: Task, scored: Sequence[ScoredInstruction], mistakes: Sequence[Mistake],
                  n_proposals: int) -> list[dict[str, str]]:
    """The rewrite request. Labels are listed in the user turn, not as a system 'Categories:' list,
    so that nothing mistakes this request for a classification call."""
    label_lines = "\n".join(f"* {lab.name}" + (f" — {_clip(lab.description, 300)}" if lab.description else "")
                            for lab in task.labels)
    ranked = sorted(scored, key=lambda s: -s.accuracy)
    history = "\n\n".join(f"Instruction (accuracy {s.accuracy:.0%} on {s.n} examples):\n{s.instruction}"
                          for s in reversed(ranked))  # best last: OPRO puts the strongest closest to the ask
    errors = "\n\n".join(f"Text: {_clip(m.text)}\nCorrect label: {m.gold}\nModel answered: {m.predicted or '(no label)'}"
                         for m in mistakes[:MAX_ERRORS]) or "(none)"
    user = (
        f"A language model classifies texts for the task \"{task.name}\" into these labels:\n{label_lines}\n\n"
        f"Here are instructions it was given, each with its accuracy, worst first:\n\n{history}\n\n"
        f"Texts the best instruction got wrong:\n\n{errors}\n\n"
        f"Write {n_proposals} new instructions, different from the ones above, that would make the model "
        "classify such texts correctly. Each must be self-contained, at most 80 words, and must not list the "
        "labels (they are appended after it). Reply with JSON only: {\"instructions\": [\"...\", ...]}"
    )
    return [
        {"role": "system", "content": "You are an expert prompt engineer who writes instructions for text classifiers."},
        {"role": "user", "content": user},
    ]


def meta_request(model: str, task: Task, scored: Sequence[ScoredInstruction], mistakes: Sequence[Mistake],
                 n_proposals: int) -> dict:
    # Some diversity is the point of asking; the temperature is part of the cached request, so reruns agree.
    return {"model": model, "messages": meta_messages(task, scored, mistakes, n_proposals), "temperature": 0.7,
            "response_format": {"type": "json_object"}}


_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


def parse_proposals(content: str, n: int, known: Sequence[str] = ()) -> list[str]:
    """New instructions from the model's reply (JSON, or a bulleted list as a fallback), deduplicated."""
    text = (content or "").strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    items: list = []
    try:
        obj = json.loads(text)
        items = obj.get("instructions", []) if isinstance(obj, dict) else obj if isinstance(obj, list) else []
    except ValueError:
        items = [_BULLET.sub("", line) for line in text.splitlines() if _BULLET.match(line)]
    seen = {" ".join(k.split()).lower() for k in known}
    out = []
    for item in items:
        if not isinstance(item, str):
            continue
        clean = " ".join(item.split())
        if 15 <= len(clean) <= 1200 and clean.lower() not in seen:
            seen.add(clean.lower())
            out.append(clean)
    return out[:n]
