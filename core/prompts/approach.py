"""Optimized prompts as approaches: `local:prompt:<hash>` and `openai:<model>:prompt:<hash>`.

The hash names a row of the store's `prompts` table (core.prompts.store), so the
factories need the `store` backend option. Importing this module does not import torch.

- LocalPrompt: each label is embedded as its name + the prompt's guideline; fixed
  exemplars turn into class prototypes mixed with that label vector (a class
  without exemplars keeps its guideline vector); retrieved exemplars (RAG) vote by
  similarity, on top of the guideline similarity.
- ChatPrompt: the prompt rendered by core.prompting with the stored exemplars, on
  the OpenAI-compatible backend (paid-response cache, retries, structured output).

Both accept an `embedder` / `index` backend option so that a prompt search encodes
each text once instead of once per candidate.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np

from core.approach import Approach, Prediction, Spec

from core.backends import register, register_suggestions
from core.backends.local import ENCODER, _normalise
from core.backends.openai_compat import ChatApproach, chat_family, chat_model_words
from core.data.dataset import Example
from core.prompts.space import Candidate, resolve_exemplars
from core.retrieval import Retriever


class CachedRetriever(Retriever):
    """A Retriever whose MiniLM vectors come from an embedder (e.g. core.embeddings.EmbeddingCache)."""

    def __init__(self, kind: str = "minilm", embedder=None):
        super().__init__(kind)
        self._embedder = embedder

    def _vectors(self, texts: Sequence[str]):
        if self.kind == "minilm" and self._embedder is not None:
            return self._embedder(list(texts))
        return super()._vectors(texts)


class SharedIndex:
    """A retriever fitted once on a train split, shared by every candidate that retrieves from it."""

    def __init__(self, train: Sequence[Example], kind: str, embedder=None):
        self.ids = [e.id for e in train]
        self.kind = kind
        self.retriever = CachedRetriever(kind, embedder).fit([e.text for e in train])

    def fits(self, train: Sequence[Example], kind: str | None) -> bool:
        return kind == self.kind and [e.id for e in train] == self.ids


def _load(spec: Spec, ref: str, options: dict) -> Candidate:
    from core.prompts import store as prompt_store

    store = options.get("store")
    if store is None:
        raise ValueError(f"{spec} needs the store that holds prompt {ref!r}")
    if not ref:
        raise ValueError(f"{spec.backend}:…:prompt needs a prompt hash, e.g. {spec.backend}:prompt:<hash>")
    try:
        return prompt_store.get(store, ref).candidate
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from exc


# --- local ------------------------------------------------------------------------


class LocalPrompt(Approach):
    backend = "local"
    method = "prompt"
    model = ENCODER
    model_in_spec = False
    backend_options = ("embedder", "index")

    def __init__(self, candidate: Candidate, embedder=None, index: SharedIndex | None = None):
        self.candidate = candidate
        self._embedder = embedder
        self._shared = index

    def params(self) -> dict:
        return {"prompt": self.candidate.hash, "encoder": ENCODER}

    @property
    def spec(self) -> str:
        return f"local:prompt:{self.candidate.hash}"

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self._embedder is not None:
            return np.asarray(self._embedder(texts))
        from core.encoder import embed

        return embed(texts)

    def label_texts(self) -> list[str]:
        guide = dict(self.candidate.guidelines)
        out = []
        for name in self._require_fit().label_names:
            words = name.replace("_", " ").replace("-", " ")
            out.append(f"{words}: {guide[name]}" if guide.get(name) else words)
        return out

    def _fit(self, train: list[Example]) -> None:
        task = self._require_fit()
        self._labels = self._embed(self.label_texts())
        col = {lab: j for j, lab in enumerate(task.label_names)}
        c = self.candidate
        if c.selection == "retrieved" and c.k:
            if not train:
                raise ValueError(f"{self.spec} retrieves from the train split, which has no labelled examples")
            kind = c.retriever or "minilm"
            shared = self._shared if self._shared is not None and self._shared.fits(train, kind) else None
            self._index = (shared or SharedIndex(train, kind, self._embedder)).retriever
            self._label_col = np.array([col[e.label] for e in train])
            self._matrix = None
            return
        self._index = None
        matrix = self._labels.copy()
        shots = resolve_exemplars(c, train)
        if shots:
            vectors = self._embed([e.text for e in shots])
            for lab, j in col.items():
                mine = [i for i, e in enumerate(shots) if e.label == lab]
                if mine:  # the class prototype, pulled towards what its guideline says
                    matrix[j] = _normalise(vectors[mine].mean(axis=0)) + self._labels[j]
        self._matrix = _normalise(matrix)

    def scores(self, texts: list[str]) -> np.ndarray:
        x = self._embed(texts)
        if self._index is None:
            return x @ self._matrix.T
        idx, sims = self._index.query(texts, self.candidate.k)
        votes = np.zeros((len(texts), self._labels.shape[0]))
        weights = np.clip(sims, 0, None) + 1e-6
        for row in range(len(texts)):
            np.add.at(votes[row], self._label_col[idx[row]], weights[row])
        return votes / votes.sum(axis=1, keepdims=True) + x @ self._labels.T

    def _predict_batch(self, texts: list[str]) -> list[Prediction]:
        labels = self._require_fit().label_names
        out = []
        for row in self.scores(texts):
            best = int(np.argmax(row))
            out.append(Prediction(labels[best], raw_output=json.dumps({"label": labels[best],
                                                                       "score": round(float(row[best]), 4)}),
                                  cost_usd=0.0))
        return out


@register("local", "prompt", family="classifier", model="all-MiniLM-L6-v2",
          words=lambda s: f"MiniLM embeddings · optimized label descriptions (prompt {s.model[:8]})")
def _local_factory(spec: Spec, **options: Any) -> LocalPrompt:
    if spec.params:
        raise ValueError(f"local:prompt takes no parameters (got {', '.join(sorted(spec.params))})")
    cand = _load(spec, spec.model, options)
    return LocalPrompt(cand, embedder=options.get("embedder"), index=options.get("index"))


# --- chat -------------------------------------------------------------------------


class ChatPrompt(ChatApproach):
    """A stored prompt on an OpenAI-compatible chat model."""

    backend_options = ChatApproach.backend_options + ("index",)

    def __init__(self, model: str, candidate: Candidate, *, index: SharedIndex | None = None, **options: Any):
        super().__init__(model, "prompt", prompt=candidate.prompt_config(), retriever=candidate.retriever,
                         **options)
        self.candidate = candidate
        self.arg = candidate.hash
        self._shared = index

    def params(self) -> dict[str, Any]:
        return super().params() | {"exemplar_ids": list(self.candidate.exemplar_ids),
                                   "prompt_hash": self.candidate.hash}

    @property
    def spec(self) -> str:
        return str(Spec(self.backend, self.method, self.model, {"batch": True} if self.batch else {}, arg=self.arg))

    def _fit(self, train: list[Example]) -> None:
        self._train = train
        if self.prompt.selection == "retrieved":
            if not train:
                raise ValueError(f"{self.spec} retrieves from the train split, which has no labelled examples")
            shared = self._shared if self._shared is not None and self._shared.fits(train, self.retriever) else None
            self._index = (shared or SharedIndex(train, self.retriever)).retriever
            self._fixed = []
        else:
            self._fixed = resolve_exemplars(self.candidate, train)

    def requests(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """The chat request each input will send (what the paid-response cache is keyed by)."""
        structured = self._structured_ok is not False
        return [self.request(t, shots, structured) for t, shots in zip(texts, self.exemplars_for(texts))]


@register("openai", "prompt", family=chat_family, words=lambda s: f"{chat_model_words(s.model)} · optimized prompt {s.arg[:8]}")
def _chat_factory(spec: Spec, **options: Any) -> ChatPrompt:
    allowed = {"batch", "structured", "temperature"}
    unknown = set(spec.params) - allowed
    if unknown:
        raise ValueError(f"openai:<model>:prompt:<hash> does not take {', '.join(sorted(unknown))}; "
                         f"it takes {', '.join(sorted(allowed))}")
    cand = _load(spec, spec.arg, options)
    opts = {k: v for k, v in options.items() if k in ChatPrompt.backend_options}
    return ChatPrompt(spec.model, cand, **spec.params, **opts)


@register_suggestions
def _promoted(store, dataset) -> list[str]:
    """The prompted baseline of this dataset version, offered wherever approaches are picked (Evaluate)."""
    from core.prompts import store as prompt_store

    rec = prompt_store.promoted_baseline(store, dataset.hash)
    return [rec.spec] if rec is not None else []
