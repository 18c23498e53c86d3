"""Prompts rendered from the Task: chat messages, exemplar choice, the output contract and its parser.

One `PromptConfig` describes a prompt completely (it is part of an approach's
config, so it is hashed into every Run). The Prompts page searches over these
fields; the chat backends render them; the fine-tuning export uses the same
system prompt, so every approach is compared on the same words.
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any, Literal, Sequence

from core.data.dataset import Example
from core.data.task import Label, Task

Selection = Literal["balanced", "random", "retrieved"]
OutputFormat = Literal["json", "text"]

JSON_LINE = 'Answer with JSON only: {"label": "<category name>"}.'


@dataclass(frozen=True)
class PromptConfig:
    """Everything that shapes a prompt. Defaults are the lab's baseline zero-shot prompt."""

    instruction: str | None = None  # None: the task's own instruction
    descriptions: bool = True  # label guidelines in the system prompt (False: bare names, the naive prompt)
    description_overrides: tuple[tuple[str, str], ...] = ()  # (label, guideline) pairs replacing the task's
    k: int = 0  # exemplars in the prompt (total, not per class)
    selection: Selection = "balanced"  # how exemplars are chosen; "retrieved" = RAG (k nearest per input)
    output: OutputFormat = "json"  # json: structured output where the server supports it
    seed: int = 0

    def __post_init__(self) -> None:
        if self.k < 0:
            raise ValueError("k must be ≥ 0")
        if self.selection not in ("balanced", "random", "retrieved"):
            raise ValueError(f"selection must be balanced, random or retrieved, not {self.selection!r}")
        if self.output not in ("json", "text"):
            raise ValueError(f"output must be json or text, not {self.output!r}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["description_overrides"] = [list(p) for p in self.description_overrides]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PromptConfig":
        d = dict(d)
        d["description_overrides"] = tuple(tuple(p) for p in d.get("description_overrides", ()))
        return cls(**d)


def effective_task(task: Task, cfg: PromptConfig) -> Task:
    """The task as this prompt words it (instruction and label guidelines overridden)."""
    overrides = dict(cfg.description_overrides)
    unknown = set(overrides) - set(task.label_names)
    if unknown:
        raise ValueError(f"description overrides for unknown labels: {', '.join(sorted(unknown))}")
    labels = [Label(name=lab.name, description=overrides.get(lab.name, lab.description)) for lab in task.labels]
    return task.model_copy(update={"labels": labels, "instruction": cfg.instruction or task.instruction})


def system_prompt(task: Task, cfg: PromptConfig) -> str:
    text = effective_task(task, cfg).system_prompt(with_descriptions=cfg.descriptions)
    if cfg.output == "json":
        # Task.system_prompt ends with the plain-text answer line; the JSON contract replaces it.
        text = text.rsplit("\n", 1)[0] + "\n" + JSON_LINE
    return text


def format_answer(label: str, cfg: PromptConfig) -> str:
    """What the assistant says for a label — used for exemplars and for the fine-tuning export."""
    return json.dumps({"label": label}, ensure_ascii=False) if cfg.output == "json" else label


def messages(task: Task, cfg: PromptConfig, text: str, exemplars: Sequence[Example] = ()) -> list[dict[str, str]]:
    """System prompt, exemplars as user/assistant turns, then the input."""
    out = [{"role": "system", "content": system_prompt(task, cfg)}]
    for ex in exemplars:
        out += [{"role": "user", "content": ex.text}, {"role": "assistant", "content": format_answer(ex.label, cfg)}]
    out.append({"role": "user", "content": text})
    return out


def response_format(task: Task) -> dict[str, Any]:
    """OpenAI structured output: a JSON object whose `label` is one of the task's labels."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": "classification",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {"label": {"type": "string", "enum": task.label_names}},
                "required": ["label"],
                "additionalProperties": False,
            },
        },
    }


def select_exemplars(train: Sequence[Example], k: int, selection: Selection, seed: int = 0) -> list[Example]:
    """k fixed exemplars: class-balanced (round-robin over labels) or uniformly random, seeded.

    'retrieved' exemplars depend on the input and are chosen per call by a Retriever.
    """
    if k == 0 or not train:
        return []
    rng = random.Random(seed)
    if selection == "random":
        return rng.sample(list(train), min(k, len(train)))
    by_label: dict[str, list[Example]] = defaultdict(list)
    for ex in train:
        by_label[ex.label].append(ex)
    for pool in by_label.values():
        rng.shuffle(pool)
    labels = sorted(by_label)
    rng.shuffle(labels)
    chosen: list[Example] = []
    while len(chosen) < min(k, len(train)):
        for lab in labels:
            if by_label[lab] and len(chosen) < k:
                chosen.append(by_label[lab].pop())
    # Interleaved order keeps the last exemplar from always being the same class (recency bias).
    return chosen


_NORM = re.compile(r"[^0-9a-z]+")


def _norm(s: str) -> str:
    return _NORM.sub(" ", s.lower()).strip()


def parse_label(raw: str, labels: Sequence[str]) -> str | None:
    """The label in a model's output, or None (an invalid output).

    Accepts the JSON contract, a bare label (any case, quotes, trailing dot), or
    text that names exactly one label. Refuses anything that names several.
    """
    if raw is None:
        return None
    text = raw.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and isinstance(obj.get("label"), str):
        text = obj["label"]
    elif isinstance(obj, str):
        text = obj
    by_norm = {_norm(lab): lab for lab in labels}
    hit = by_norm.get(_norm(text))
    if hit is not None:
        return hit
    padded = f" {_norm(text)} "
    named = [lab for n, lab in by_norm.items() if n and f" {n} " in padded]
    # A longer label containing a shorter one ("billing" in "billing dispute") counts once.
    named = [lab for lab in named if not any(lab != o and _norm(lab) in _norm(o) for o in named)]
    return named[0] if len(named) == 1 else None


def spec_params(prompt: PromptConfig, method: str, default_output: OutputFormat) -> dict[str, Any]:
    """The prompt fields a spec shows (those off their defaults), the same for every prompted backend."""
    shown: dict[str, Any] = {}
    if method != "zero-shot":
        shown["k"] = prompt.k
    if prompt.seed:
        shown["seed"] = prompt.seed
    if not prompt.descriptions:
        shown["descriptions"] = False
    if prompt.output != default_output:
        shown["output"] = prompt.output
    return shown


class PromptedExemplars:
    """The examples a prompted approach shows the model: k fixed exemplars, or per input the k nearest train
    examples (RAG, nearest last). One mixin for every backend that renders this module's prompt (the chat
    backend, the local Gemma), so "few-shot" and "RAG" pick the same examples whatever model reads them.

    The class using it is an Approach with `prompt` (a PromptConfig) and `retriever` (for RAG)."""

    prompt: PromptConfig
    retriever: str | None

    def _fit(self, train: list[Example]) -> None:
        self._train = train
        if self.prompt.k and not train:
            raise ValueError(f"{self.spec} needs labelled train examples for its exemplars")
        if self.prompt.selection == "retrieved":
            from core.retrieval import Retriever

            self._index = Retriever(self.retriever).fit([e.text for e in train])
            self._fixed: list[Example] = []
        else:
            self._fixed = self._fixed_exemplars(train)

    def _fixed_exemplars(self, train: list[Example]) -> list[Example]:
        return select_exemplars(train, self.prompt.k, self.prompt.selection, self.prompt.seed)

    @property
    def retrieves(self) -> bool:
        return self.prompt.selection == "retrieved" and self.prompt.k > 0

    def exemplars_for(self, texts: Sequence[str]) -> list[list[Example]]:
        self._require_fit()
        if not self.retrieves:
            return [self._fixed for _ in texts]
        idx, _ = self._index.query(list(texts), self.prompt.k)
        # Nearest last: closest to the input, where a model weighs context most.
        return [[self._train[j] for j in reversed(row)] for row in idx]
