"""The embedded local backend: MiniLM sentence embeddings, no API, no cost.

Three estimators over the same encoder (loaded once per process, lazily —
importing this module does not import torch):

- `local:zero-shot`       each label's name + guideline is embedded; nearest label wins
- `local:few-shot:k=8`    class prototypes: the mean of k train embeddings per class, re-normalised
- `local:rag:k=8`         the k nearest train examples vote, weighted by similarity

`scores(texts)` is the decision function (cosine similarity per label), so
callers such as teacher labelling can read a confidence.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict

import numpy as np

from core.approach import Approach, Prediction

from core.backends import per_k, register
from core.data.dataset import Example

ENCODER = "all-MiniLM-L6-v2"


def _normalise(m: np.ndarray) -> np.ndarray:
    # A mean of unit vectors is shorter than 1: without this, big classes' prototypes would lose every comparison.
    return m / np.clip(np.linalg.norm(m, axis=-1, keepdims=True), 1e-12, None)


class _EmbeddingApproach(Approach):
    backend = "local"
    model = ENCODER
    model_in_spec = False

    def _predict_batch(self, texts: list[str]) -> list[Prediction]:
        labels = self._require_fit().label_names
        scores = self.scores(texts)
        out = []
        for row in scores:
            best = int(np.argmax(row))
            raw = json.dumps({"label": labels[best], "score": round(float(row[best]), 4)})
            out.append(Prediction(label=labels[best], raw_output=raw, cost_usd=0.0))
        return out

    def scores(self, texts: list[str]) -> np.ndarray:
        """(n_texts, n_labels) similarity per label, in the task's label order."""
        from core.encoder import embed

        return embed(texts) @ self._label_matrix().T

    def _label_matrix(self) -> np.ndarray:
        raise NotImplementedError


@register("local", "zero-shot", family="classifier", model="all-MiniLM-L6-v2",
          words=lambda s: "MiniLM embeddings · label-description similarity")
class LocalZeroShot(_EmbeddingApproach):
    method = "zero-shot"

    def __init__(self, descriptions: bool = True):
        self.descriptions = bool(descriptions)

    def params(self) -> dict:
        return {"descriptions": self.descriptions, "encoder": ENCODER}

    def spec_params(self) -> set[str]:
        return set() if self.descriptions else {"descriptions"}

    def label_texts(self) -> list[str]:
        """What each label is embedded as: its name in words, plus its guideline."""
        task = self._require_fit()
        out = []
        for lab in task.labels:
            name = lab.name.replace("_", " ").replace("-", " ")
            out.append(f"{name}: {lab.description}" if self.descriptions and lab.description else name)
        return out

    def _fit(self, train: list[Example]) -> None:
        from core.encoder import embed

        self._labels = embed(self.label_texts())

    def _label_matrix(self) -> np.ndarray:
        return self._labels


@register("local", "few-shot", family="classifier", model="all-MiniLM-L6-v2",
          words=lambda s: "MiniLM embeddings · class prototypes" + per_k(s, "examples per class"))
class LocalFewShot(_EmbeddingApproach):
    method = "few-shot"

    def __init__(self, k: int = 8, seed: int = 0):
        if int(k) < 1:
            raise ValueError("local:few-shot needs k ≥ 1 examples per class")
        self.k, self.seed = int(k), int(seed)

    def params(self) -> dict:
        return {"k": self.k, "seed": self.seed, "encoder": ENCODER}

    def spec_params(self) -> set[str]:
        return {"k"} | ({"seed"} if self.seed else set())

    def _fit(self, train: list[Example]) -> None:
        from core.encoder import embed

        task = self._require_fit()
        rng = random.Random(self.seed)
        by_label: dict[str, list[str]] = defaultdict(list)
        for ex in train:
            by_label[ex.label].append(ex.text)
        missing = [lab for lab in task.label_names if not by_label[lab]]
        if missing:
            raise ValueError(f"local:few-shot needs train examples of every label; none for {', '.join(missing)}")
        shots = {lab: rng.sample(by_label[lab], min(self.k, len(by_label[lab]))) for lab in task.label_names}
        vectors = embed([t for lab in task.label_names for t in shots[lab]])
        protos, at = [], 0
        for lab in task.label_names:
            n = len(shots[lab])
            protos.append(vectors[at:at + n].mean(axis=0))
            at += n
        self._protos = _normalise(np.stack(protos))

    def _label_matrix(self) -> np.ndarray:
        return self._protos


@register("local", "rag", family="classifier", model="all-MiniLM-L6-v2",
          words=lambda s: "MiniLM embeddings · nearest-neighbour vote" + per_k(s, "neighbours"))
class LocalRAG(_EmbeddingApproach):
    method = "rag"

    def __init__(self, k: int = 8):
        if int(k) < 1:
            raise ValueError("local:rag needs k ≥ 1 neighbours")
        self.k = int(k)

    def params(self) -> dict:
        return {"k": self.k, "encoder": ENCODER}

    def spec_params(self) -> set[str]:
        return {"k"}

    def _fit(self, train: list[Example]) -> None:
        from core.retrieval import Retriever

        if not train:
            raise ValueError("local:rag needs labelled train examples")
        task = self._require_fit()
        self._index = Retriever("minilm").fit([e.text for e in train])
        col = {lab: j for j, lab in enumerate(task.label_names)}
        self._label_col = np.array([col[e.label] for e in train])

    def scores(self, texts: list[str]) -> np.ndarray:
        """Similarity-weighted votes of the k nearest train examples (sums to 1 per row)."""
        idx, sims = self._index.query(texts, self.k)
        n_labels = len(self._require_fit().label_names)
        votes = np.zeros((len(texts), n_labels))
        weights = np.clip(sims, 0, None) + 1e-6  # a far neighbour still counts a little; negative ones don't push
        for row in range(len(texts)):
            np.add.at(votes[row], self._label_col[idx[row]], weights[row])
        return votes / votes.sum(axis=1, keepdims=True)
