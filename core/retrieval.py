"""Retriever: the k most similar training examples to each input — the "R" of RAG.

Two kinds: `minilm` (the embedded sentence encoder, local tier) and `tfidf`
(scikit-learn, light tier), so RAG prompts work on Streamlit Cloud too.
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np

RetrieverKind = Literal["minilm", "tfidf"]


def local_tier_available() -> bool:
    from core.tiers import local_status

    return local_status().ready


def default_retriever() -> RetrieverKind:
    return "minilm" if local_tier_available() else "tfidf"


class Retriever:
    def __init__(self, kind: RetrieverKind = "minilm"):
        if kind not in ("minilm", "tfidf"):
            raise ValueError(f"retriever must be minilm or tfidf, not {kind!r}")
        self.kind = kind
        self._matrix = None
        self._vectorizer = None

    def _vectors(self, texts: Sequence[str]):
        if self.kind == "minilm":
            from core.encoder import embed

            return embed(list(texts))
        return self._vectorizer.transform(list(texts))

    def fit(self, texts: Sequence[str]) -> "Retriever":
        if self.kind == "tfidf":
            from sklearn.feature_extraction.text import TfidfVectorizer

            self._vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1).fit(list(texts))
        self._matrix = self._vectors(texts)
        return self

    def similarities(self, queries: Sequence[str]) -> np.ndarray:
        """Cosine similarity of each query to each indexed text (both kinds are L2-normalised)."""
        sims = self._vectors(queries) @ self._matrix.T
        return np.asarray(sims.todense() if hasattr(sims, "todense") else sims)

    def query(self, queries: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """(indices, similarities) of the k nearest indexed texts per query, nearest first."""
        sims = self.similarities(queries)
        k = min(k, sims.shape[1])
        idx = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        return idx, np.take_along_axis(sims, idx, axis=1)
