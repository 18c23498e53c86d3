"""The prompt search space: what a candidate prompt is made of, and the templated candidates.

A `Candidate` is one fully materialised prompt design — instruction text, the
guideline shown for each label, the exemplar ids (or "retrieved per input"),
the output format — plus the backend it is scored on. Everything is spelled
out (no "the task's default"), so its hash names exactly one prompt and the
stored row reproduces it without the code that generated it.

What each dimension means per backend:

- chat (`openai:<model>`): the rendered system prompt + exemplars as turns (core.prompting).
- local (MiniLM): the label guidelines are what each label is embedded as (zero-shot);
  the exemplars become class prototypes mixed with that label vector, or — retrieved —
  the k nearest train examples vote (RAG). Instruction and output format don't apply.

The naive prompt (the reference every search reports against): a generic
instruction, bare label names, zero-shot, plain-text answer.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from typing import Callable, Literal, Sequence

import numpy as np

from core.approach import config_hash
from core.data.dataset import Example
from core.prompting import PromptConfig, select_exemplars
from core.data.task import Task

NAIVE_INSTRUCTION = Task.model_fields["instruction"].default

# Templated instruction wordings; {labels} and {domain} are filled from the task.
INSTRUCTIONS: dict[str, str] = {
    "naive": NAIVE_INSTRUCTION,
    "role": ("You are an expert annotator.{domain} Read the text, work out what its author mainly wants, "
             "and assign the single category below that fits best."),
    "rules": ("Classify the text into exactly one of the categories below. Each category has a guideline: "
              "check what it covers, what it does NOT cover and its tie-break rules, and choose the category "
              "whose guideline fits the text's main request."),
    "stepwise": ("Decide which one of the {labels} categories below the text belongs to. First identify the "
                 "author's primary request, then compare it with each category and pick the closest."),
}
DESCRIPTIONS = ("none", "task", "short", "terms", "short+terms", "task+terms")
SELECTIONS = ("random", "balanced", "diverse", "retrieved")
OUTPUTS = ("text", "json")
Selection = Literal["none", "random", "balanced", "diverse", "retrieved"]

TERMS_PER_LABEL = 10


@dataclass(frozen=True)
class SearchSpace:
    """The declared space. `instructions` names keys of INSTRUCTIONS or "task" (the task's own wording)."""

    instructions: tuple[str, ...] = ("task", "naive", "role", "rules")
    descriptions: tuple[str, ...] = ("none", "task", "task+terms")
    ks: tuple[int, ...] = (0, 1, 2, 4, 8)
    selections: tuple[str, ...] = SELECTIONS
    outputs: tuple[str, ...] = OUTPUTS
    max_retrieved_k: int = 32  # RAG prompts beyond this are not worth their tokens
    meta_rewrites: int = 4  # chat backends: instructions proposed by the model itself (APE/OPRO); 0 = off
    retriever: str | None = None  # minilm | tfidf; None = MiniLM when the local tier is installed
    seed: int = 0

    def __post_init__(self) -> None:
        bad = [i for i in self.instructions if i != "task" and i not in INSTRUCTIONS]
        bad += [d for d in self.descriptions if d not in DESCRIPTIONS]
        bad += [s for s in self.selections if s not in SELECTIONS]
        bad += [o for o in self.outputs if o not in OUTPUTS]
        if bad:
            raise ValueError(f"unknown search-space values: {', '.join(map(str, bad))}")
        if not (self.instructions and self.descriptions and self.ks and self.outputs):
            raise ValueError("every dimension of the search space needs at least one value")
        if any(int(k) < 0 for k in self.ks):
            raise ValueError("k must be ≥ 0")
        if self.retriever not in (None, "minilm", "tfidf"):
            raise ValueError("retriever must be minilm or tfidf")

    @classmethod
    def for_backend(cls, backend: str, n_labels: int, n_train: int, **overrides) -> "SearchSpace":
        """Sensible defaults: chat prompts up to 8 exemplars; local prototypes up to 32 per class."""
        if backend == "local":
            ks = tuple(k for k in [0] + [n_labels * m for m in (1, 2, 4, 8, 16, 32)] if k <= max(n_train, 1))
            base = cls(instructions=("task",), descriptions=("none", "task", "short", "terms", "short+terms"),
                       ks=ks, outputs=("text",), meta_rewrites=0)
        else:
            base = cls()
        return replace(base, **overrides)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SearchSpace":
        d = dict(d)
        for key in ("instructions", "descriptions", "ks", "selections", "outputs"):
            if key in d:
                d[key] = tuple(d[key])
        return cls(**d)


@dataclass(frozen=True)
class Candidate:
    """One prompt design, materialised. `hash` covers everything that changes predictions."""

    backend: str  # local | openai
    model: str  # the chat model it is scored on; "" for local
    dataset: str  # dataset version: exemplar ids refer to its train split
    instruction: str
    guidelines: tuple[tuple[str, str], ...]  # (label, guideline shown) for every label; "" = bare name
    k: int = 0
    selection: Selection = "none"
    exemplar_ids: tuple[str, ...] = ()  # fixed exemplars in prompt order; empty when retrieved per input
    output: str = "text"
    retriever: str | None = None  # retrieved only
    # How it came about (not hashed: the same prompt found twice is one candidate).
    instruction_name: str = field(default="task", compare=False)
    descriptions: str = field(default="task", compare=False)
    origin: str = field(default="template", compare=False)  # naive | template | meta

    def __post_init__(self) -> None:
        if self.selection == "retrieved" and self.exemplar_ids:
            raise ValueError("retrieved exemplars are chosen per input; a fixed list makes no sense")
        if self.selection not in ("none", *SELECTIONS):
            raise ValueError(f"unknown exemplar selection {self.selection!r}")

    def identity(self) -> dict:
        return {"backend": self.backend, "model": self.model, "dataset": self.dataset,
                "instruction": self.instruction, "guidelines": [list(p) for p in self.guidelines], "k": self.k,
                "selection": self.selection, "exemplar_ids": list(self.exemplar_ids), "output": self.output,
                "retriever": self.retriever}

    @cached_property
    def hash(self) -> str:
        return config_hash(self.identity())

    def to_dict(self) -> dict:
        return self.identity() | {"instruction_name": self.instruction_name, "descriptions": self.descriptions,
                                  "origin": self.origin}

    @classmethod
    def from_dict(cls, d: dict) -> "Candidate":
        d = dict(d)
        d["guidelines"] = tuple(tuple(p) for p in d.get("guidelines", ()))
        d["exemplar_ids"] = tuple(d.get("exemplar_ids", ()))
        return cls(**d)

    @property
    def has_guidelines(self) -> bool:
        return any(g for _, g in self.guidelines)

    def prompt_config(self) -> PromptConfig:
        """The chat rendering (core.prompting) of this design."""
        return PromptConfig(
            instruction=self.instruction,
            descriptions=self.has_guidelines,
            description_overrides=tuple((lab, g) for lab, g in self.guidelines if g),
            k=self.k,
            selection="retrieved" if self.selection == "retrieved" else "balanced",
            output=self.output,
        )

    @property
    def name(self) -> str:
        """A short readable summary for tables and charts."""
        shots = "zero-shot" if self.k == 0 else (
            f"RAG k={self.k}" if self.selection == "retrieved" else f"{self.k} {self.selection} ex.")
        parts = [shots, f"guidelines: {self.descriptions}"]
        if self.backend != "local":
            parts = [f"instr: {self.instruction_name}"] + parts + [self.output]
        return " · ".join(parts)

    def local_identity(self) -> tuple:
        """What the local backend reads: candidates equal here predict identically there."""
        return self.guidelines, self.k, self.selection, self.exemplar_ids, self.retriever


# --- the pieces ---------------------------------------------------------------------


def instruction_text(name: str, task: Task) -> str:
    if name == "task":
        return task.instruction
    domain = f" Context: {task.domain.strip()}" if task.domain.strip() else ""
    return INSTRUCTIONS[name].format(domain=domain, labels=len(task.labels))


_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def first_sentence(text: str) -> str:
    return _SENTENCE.split(text.strip(), maxsplit=1)[0] if text.strip() else ""


def discriminative_terms(train: Sequence[Example], labels: Sequence[str], n: int = TERMS_PER_LABEL) -> dict[str, list[str]]:
    """The words most associated with each label in the train split (chi², positively associated only).

    Binary word presence, alphabetic tokens of 3+ letters, English stop words removed:
    numbers and one-off names make poor guidelines.
    """
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.feature_selection import chi2

    labelled = [e for e in train if e.label is not None]
    out: dict[str, list[str]] = {lab: [] for lab in labels}
    if len({e.label for e in labelled}) < 2:
        return out
    min_df = 3 if len(labelled) >= 100 else 1
    vec = CountVectorizer(stop_words="english", binary=True, min_df=min_df,
                          token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]{2,}\b")
    try:
        counts = vec.fit_transform([e.text for e in labelled])
    except ValueError:  # no usable words at all
        return out
    vocab = np.asarray(vec.get_feature_names_out())
    y = np.asarray([e.label for e in labelled])
    for lab in labels:
        inside = y == lab
        if not inside.any():
            continue
        score, _ = chi2(counts, inside)
        score = np.nan_to_num(score)
        rate_in = np.asarray(counts[inside].mean(axis=0)).ravel()
        rate_out = np.asarray(counts[~inside].mean(axis=0)).ravel() if (~inside).any() else np.zeros_like(rate_in)
        score[rate_in <= rate_out] = 0  # chi² also rewards words that mark the *other* labels
        best = [i for i in np.argsort(-score, kind="stable")[:n] if score[i] > 0]
        out[lab] = [str(vocab[i]) for i in best]
    return out


def guidelines_for(variant: str, task: Task, terms: dict[str, list[str]]) -> tuple[tuple[str, str], ...]:
    """The guideline shown for each label under a description variant."""
    out = []
    for lab in task.labels:
        full, short = lab.description.strip(), first_sentence(lab.description)
        words = terms.get(lab.name) or []
        typical = f"Typical words: {', '.join(words)}." if words else ""
        text = {
            "none": "",
            "task": full,
            "short": short,
            "terms": typical,
            "short+terms": " ".join(p for p in (short, typical) if p),
            "task+terms": " ".join(p for p in (full, typical) if p),
        }[variant]
        out.append((lab.name, text))
    return tuple(out)


def diverse_exemplars(train: Sequence[Example], k: int, vectors) -> list[Example]:
    """k class-balanced exemplars that cover each class's variety (greedy max-min distance).

    Round-robin over labels; each label first contributes its most typical example (nearest
    its centroid), then the example least similar to every exemplar chosen so far — so the
    prompt shows the range of each class instead of near-duplicates. `vectors`: one row per
    train example, dense or scipy-sparse (one similarity column per pick: linear in the train size).
    """
    from sklearn.preprocessing import normalize

    if k <= 0 or not train:
        return []
    vectors = normalize(vectors)

    def sims_to(rows: list[int]) -> np.ndarray:
        target = vectors[rows].mean(axis=0) if len(rows) > 1 else vectors[rows[0]]
        out = vectors @ np.asarray(target).ravel() if not hasattr(target, "tocsr") else vectors @ target.T
        return np.asarray(out.todense() if hasattr(out, "todense") else out).ravel()

    by_label: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(train):
        by_label[e.label].append(i)
    labels = sorted(by_label)
    closest = np.full(len(train), -np.inf)  # each example's similarity to its most similar chosen exemplar
    chosen: list[int] = []
    taken: set[int] = set()
    while len(chosen) < min(k, len(train)):
        progressed = False
        for lab in labels:
            pool = [i for i in by_label[lab] if i not in taken]
            if not pool or len(chosen) >= k:
                continue
            if not any(train[c].label == lab for c in chosen):
                pick = pool[int(np.argmax(sims_to(by_label[lab])[pool]))]  # nearest the label's centroid
            else:
                pick = pool[int(np.argmin(closest[pool]))]
            chosen.append(pick)
            taken.add(pick)
            closest = np.maximum(closest, sims_to([pick]))
            progressed = True
        if not progressed:
            break
    return [train[i] for i in chosen]


def lexical_vectors(texts: Sequence[str]):
    """TF-IDF vectors (scikit-learn, sparse): what "most diverse" is measured in — cheap, no model, every tier."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(list(texts))


def exemplars_for(selection: str, k: int, train: Sequence[Example], seed: int, vectors: Callable) -> list[Example]:
    if k == 0 or selection in ("none", "retrieved"):
        return []
    if selection == "diverse":
        return diverse_exemplars(train, k, vectors())
    return select_exemplars(train, k, selection, seed)


# --- the candidates -------------------------------------------------------------------


def naive_candidate(task: Task, backend: str, model: str, dataset_hash: str) -> Candidate:
    """Bare label names, zero-shot, a generic instruction, plain-text answer: what anyone writes first."""
    return Candidate(backend=backend, model=model, dataset=dataset_hash, instruction=NAIVE_INSTRUCTION,
                     guidelines=guidelines_for("none", task, {}), output="text", instruction_name="naive",
                     descriptions="none", origin="naive")


def generate(task: Task, train: Sequence[Example], dataset_hash: str, backend: str, model: str,
             space: SearchSpace, retriever: str = "tfidf") -> list[Candidate]:
    """Every templated candidate of the space, deduplicated, naive first, then a seeded shuffle.

    The order is the priority when the budget cannot try them all: a seeded random sample of a
    grid covers its dimensions better than the grid's first rows would. Generating needs no
    model (diversity is lexical), so the page can show the plan before anything heavy loads.
    """
    train = [e for e in train if e.label is not None]
    terms = discriminative_terms(train, task.label_names) if any("terms" in d for d in space.descriptions) else {}
    cached_vectors: list = []

    def train_vectors():
        if not cached_vectors:
            cached_vectors.append(lexical_vectors([e.text for e in train]))
        return cached_vectors[0]

    naive = naive_candidate(task, backend, model, dataset_hash)
    shot_plans: list[tuple[int, str]] = [(0, "none")] if 0 in space.ks else []
    for k in sorted({int(k) for k in space.ks if int(k) > 0}):
        for sel in space.selections:
            if sel == "retrieved" and k > space.max_retrieved_k:
                continue
            if k > len(train):
                continue
            shot_plans.append((k, sel))
    exemplar_cache: dict[tuple[int, str], tuple[str, ...]] = {}

    def exemplar_ids(k: int, sel: str) -> tuple[str, ...]:
        if (k, sel) not in exemplar_cache:
            chosen = exemplars_for(sel, k, train, space.seed, train_vectors)
            exemplar_cache[(k, sel)] = tuple(e.id for e in chosen)
        return exemplar_cache[(k, sel)]

    grid: list[Candidate] = []
    for instr in space.instructions:
        for desc in space.descriptions:
            guides = guidelines_for(desc, task, terms)
            for k, sel in shot_plans:
                for out in space.outputs:
                    grid.append(Candidate(
                        backend=backend, model=model, dataset=dataset_hash,
                        instruction=instruction_text(instr, task), guidelines=guides, k=k, selection=sel,
                        exemplar_ids=exemplar_ids(k, sel), output=out,
                        retriever=retriever if sel == "retrieved" else None,
                        instruction_name=instr, descriptions=desc))
    random.Random(space.seed).shuffle(grid)
    return dedupe([naive] + grid)


def dedupe(candidates: Sequence[Candidate]) -> list[Candidate]:
    """First occurrence wins; on the local backend, designs that predict identically are one candidate."""
    seen: set = set()
    out = []
    for c in candidates:
        key = c.local_identity() if c.backend == "local" else c.hash
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def resolve_exemplars(candidate: Candidate, train: Sequence[Example]) -> list[Example]:
    """The candidate's fixed exemplars from a train split, in prompt order."""
    by_id = {e.id: e for e in train}
    missing = [i for i in candidate.exemplar_ids if i not in by_id]
    if missing:
        raise ValueError(f"prompt {candidate.hash} uses exemplars that are not in this train split: "
                         f"{', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}")
    return [by_id[i] for i in candidate.exemplar_ids]
