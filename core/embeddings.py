"""Embedding cache: each text is encoded once per workspace, whoever asks for it.

Encoding the sample task's 1,290 tickets takes ~1 min on two shared cores; a prompt
search scores dozens of candidates on the same dev texts, and a rerun scores
them again. So vectors are kept in memory for the process and in the store's
`embeddings` table (float32 blobs keyed by the text's sha256) for later runs.
"""

from __future__ import annotations

import hashlib
from typing import Callable, Sequence

import numpy as np

from core.store import Store

Embedder = Callable[[list[str]], np.ndarray]


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """`cache(texts)` → L2-normalised vectors, encoding only texts never seen before (in one batch)."""

    def __init__(self, store: Store | None = None, encoder: str = "all-MiniLM-L6-v2",
                 embed: Embedder | None = None):
        self.store, self.encoder = store, encoder
        self._embed = embed
        self._memory: dict[str, np.ndarray] = {}
        self.encoded = 0  # texts this cache had to encode (the rest came from memory or the store)

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self._embed is None:
            from core.encoder import embed

            self._embed = embed
        return np.asarray(self._embed(texts), dtype=np.float32)

    def _load(self, keys: list[str]) -> None:
        if self.store is None or not keys:
            return
        for start in range(0, len(keys), 500):  # SQLite's bound-parameter limit
            chunk = keys[start:start + 500]
            rows = self.store.query(
                f"SELECT text_sha, dim, vector FROM embeddings WHERE encoder = ? AND text_sha IN"
                f" ({','.join('?' * len(chunk))})", [self.encoder, *chunk])
            for r in rows:
                self._memory[r["text_sha"]] = np.frombuffer(r["vector"], dtype=np.float32, count=r["dim"])

    def missing(self, texts: Sequence[str]) -> int:
        """How many of these texts would have to be encoded."""
        keys = {text_key(t) for t in texts}
        self._load(sorted(k for k in keys if k not in self._memory))
        return sum(k not in self._memory for k in keys)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        keys = [text_key(t) for t in texts]
        self._load(sorted({k for k in keys if k not in self._memory}))
        todo = {k: t for k, t in zip(keys, texts) if k not in self._memory}
        if todo:
            vectors = self._encode(list(todo.values()))
            self.encoded += len(todo)
            rows = []
            for k, v in zip(todo, vectors):
                self._memory[k] = v
                rows.append((self.encoder, k, int(v.shape[0]), v.astype(np.float32).tobytes()))
            if self.store is not None:
                with self.store.transaction() as conn:
                    conn.executemany("INSERT OR IGNORE INTO embeddings(encoder, text_sha, dim, vector)"
                                     " VALUES (?, ?, ?, ?)", rows)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._memory[k] for k in keys])
