"""Scoring a candidate prompt on examples of the dev (or test) split, within the budget, through the runs store.

Each candidate's answers live in an ordinary per-candidate Run (core.evaluation.runs), so the
Evaluate page sees them too and a second identical search finds them: answers already stored,
or already in the paid-response cache, cost nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from core import responses
from core.data.dataset import Dataset, Example
from core.endpoint import Endpoint
from core.evaluation import metrics, runs
from core.prompts import store as prompt_store
from core.prompts.budget import Ledger
from core.prompts.costs import CallCosts
from core.prompts.space import Candidate
from core.store import Store


@dataclass(frozen=True)
class CallOptions:
    """How the search calls an OpenAI-compatible server: the Endpoint (the key is used, never stored) and limits."""

    endpoint: Endpoint = Endpoint()
    concurrency: int = 8
    max_retries: int = 6
    timeout: float = 60.0
    prices: tuple[float, float] | None = None  # $ per 1M input/output tokens, overriding the catalog

    def options(self, store: Store) -> dict[str, Any]:
        return dict(store=store, api_key=self.endpoint.api_key, base_url=self.endpoint.base_url,
                    concurrency=self.concurrency,
                    max_retries=self.max_retries, timeout=self.timeout, prices=self.prices)


class Stopped(Exception):
    """The stop flag was raised."""


class Scorer:
    """Answers of candidates on dataset examples: stored runs, the budget's admission, accuracy."""

    def __init__(self, store: Store, dataset: Dataset, train: list[Example], dev: list[tuple[int, Example]],
                 test: list[tuple[int, Example]], dev_order: list[int], backend: str, model: str,
                 calls: CallOptions, retriever: str | None, ledger: Ledger, costs: CallCosts,
                 stop: threading.Event | Callable[[], bool] | None = None,
                 emit: Callable[[str, str], None] | None = None):
        self.store, self.dataset, self.task = store, dataset, dataset.task
        self.train, self.dev, self.test, self.dev_order = train, dev, test, dev_order
        self.by_idx = {i: e for i, e in dev + test}
        self.backend, self.model, self.calls = backend, model, calls
        self.ledger, self.costs = ledger, costs
        self._retriever = retriever
        self._stop = stop
        self._emit = emit or (lambda phase, message: None)
        self._approaches: dict[str, Any] = {}
        self._runs: dict[tuple[str, str], runs.Run] = {}
        self._answers: dict[tuple[str, str], dict[int, dict]] = {}
        self._embedder = None
        self._index = None

    # -- the pieces the backends share
    @property
    def retriever(self) -> str:
        if self._retriever:
            return self._retriever
        from core.retrieval import default_retriever

        return default_retriever()

    def embedder(self):
        """MiniLM vectors, each text encoded once: the whole dataset in one batch on first use."""
        if self._embedder is None:
            from core.embeddings import EmbeddingCache

            cache = EmbeddingCache(self.store)
            every = [e.text for e in self.dataset.examples]
            warmed: list[bool] = []

            def embed(texts: list[str]) -> np.ndarray:
                if not warmed:
                    todo = cache.missing(every)
                    if todo:
                        self._emit("embed", f"encoding {todo} texts once (MiniLM; kept in the store for reruns)")
                    cache(every)
                    warmed.append(True)
                return cache(texts)

            self._embedder = embed
        return self._embedder

    def shared_index(self):
        from core.prompts.approach import SharedIndex

        if self._index is None:
            kind = self.retriever
            self._index = SharedIndex(self.train, kind, self.embedder() if kind == "minilm" else None)
        return self._index

    def stopped(self) -> bool:
        s = self._stop
        if s is None:
            return False
        return s.is_set() if hasattr(s, "is_set") else bool(s())

    # -- a candidate's runs and answers
    def approach(self, cand: Candidate):
        if cand.hash not in self._approaches:
            from core.prompts.approach import ChatPrompt, LocalPrompt

            prompt_store.save(self.store, cand)
            if self.backend == "local":
                a = LocalPrompt(cand, embedder=self.embedder(),
                                index=self.shared_index() if cand.selection == "retrieved" else None)
            else:
                index = self.shared_index() if cand.selection == "retrieved" else None
                a = ChatPrompt(self.model, cand, index=index, **self.calls.options(self.store))
                if any(getattr(b, "_structured_ok", None) is False for b in self._approaches.values()):
                    a._structured_ok = False  # this server refuses structured output: don't ask again per candidate
            a.fit(self.train, self.task)
            self._approaches[cand.hash] = a
        return self._approaches[cand.hash]

    def run_of(self, cand: Candidate, split: str) -> runs.Run:
        key = (cand.hash, split)
        if key not in self._runs:
            self._runs[key] = runs.start(self.store, self.dataset, split, self.approach(cand))
        return self._runs[key]

    def answers(self, cand: Candidate, split: str) -> dict[int, dict]:
        """example index -> its stored prediction row (cached; refreshed whenever the candidate is scored)."""
        key = (cand.hash, split)
        if key not in self._answers:
            self._answers[key] = runs.answers(self.store, self.run_of(cand, split).id)
        return self._answers[key]

    # -- scoring within the budget
    def score(self, cand: Candidate, split: str, positions: Sequence[int]) -> bool:
        """Make sure the candidate has answered these examples, within the budget.

        True when every one has an answer (a failed call counts as a wrong answer until a rerun retries it).
        """
        if self.stopped():
            raise Stopped
        self.ledger.plan_calls(cand.hash, split, positions)
        have = self.answers(cand, split)
        todo = [i for i in positions if i not in have or have[i]["error"] is not None]
        if todo:
            approach = self.approach(cand)
            admitted, keys, fresh = self._admit(approach, todo)
            if admitted:
                self._predict(cand, split, approach, admitted, keys, fresh)
            have = self.answers(cand, split)
        if self.stopped():
            raise Stopped
        return all(i in have for i in positions)

    def _admit(self, approach, todo: list[int]) -> tuple[list[int], list[str | None], dict[str, float]]:
        """The longest prefix of `todo` the budget allows: (positions, request key of each, new keys with their $ estimate).

        Answers already in the paid-response cache are free; the same request twice is one call.
        """
        calls, usd = self.ledger.calls_left(), self.ledger.usd_left()
        if self.backend == "local":
            admitted = todo[: max(0, calls)]
            return admitted, [None] * len(admitted), {}
        from core.tokens import count_chat_tokens

        reqs = approach.requests([self.by_idx[i].text for i in todo])
        out_tokens = self.costs.output_tokens(approach.candidate)
        fresh: dict[str, float] = {}
        admitted: list[int] = []
        keys: list[str | None] = []
        for i, req in zip(todo, reqs):
            key = responses.response_key(self.calls.endpoint.base_url, req)
            if key not in fresh and responses.get(self.store, key) is None:
                cost = self.costs.price(count_chat_tokens(req["messages"], self.model), out_tokens) or 0.0
                if len(fresh) + 1 > calls or sum(fresh.values()) + cost > usd:
                    break
                fresh[key] = cost
            admitted.append(i)
            keys.append(key)
        return admitted, keys, fresh

    def _predict(self, cand: Candidate, split: str, approach, admitted: list[int], keys: list[str | None],
                 fresh: dict[str, float]) -> None:
        run = self.run_of(cand, split)
        runs.mark_running(self.store, run.id)
        examples = [self.by_idx[i] for i in admitted]
        reported: dict[str, float | None] = {}
        n_preds = 0
        stream = approach.predict_stream(examples)
        try:
            for pos, pred in stream:
                runs.record(self.store, run.id, admitted[pos], examples[pos].label, pred)
                n_preds += 1
                if keys[pos] in fresh and pred.error is None:
                    reported.setdefault(keys[pos], pred.cost_usd)
                if self.stopped():
                    break
        finally:
            stream.close()  # on a stop: calls on the wire finish and are stored; no new ones start
            self._answers.pop((cand.hash, split), None)
            self._account(n_preds, fresh, reported)
            # A candidate scored on part of the split is a 'partial' run; on all of it, finished (or incomplete).
            runs.mark_scored(self.store, run.id, len(self.dev if split == "dev" else self.test))

    def _account(self, n_preds: int, fresh: dict[str, float], reported: dict[str, float | None]) -> None:
        """Count what was really spent: local predictions, or the new responses now in the paid-response cache."""
        if self.backend == "local":
            self.ledger.spend(n_preds)
            return
        keys = list(fresh)
        paid: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            paid |= {r[0] for r in self.store.query(
                f"SELECT key FROM responses WHERE key IN ({','.join('?' * len(chunk))})", chunk)}
        # Dollars from the server's reported usage where an answer came back, else the pre-call estimate.
        self.ledger.spend(len(paid), sum(reported[k] if reported.get(k) is not None else fresh[k] for k in paid))

    # -- accuracy
    def order(self, split: str) -> list[int]:
        return self.dev_order if split == "dev" else [i for i, _ in self.test]

    def accuracy(self, cand: Candidate, n: int | None = None, split: str = "dev") -> float | None:
        """Accuracy on the first n examples of the split's order (None unless all of them are answered)."""
        order = self.order(split)
        positions = order[: n if n is not None else len(order)]
        have = self.answers(cand, split)
        if not positions or any(i not in have for i in positions):
            return None
        return metrics.accuracy([have[i] for i in positions])

    def answered_n(self, cand: Candidate) -> int:
        """How long a prefix of the dev order this candidate has answers for (in this search or earlier ones)."""
        have = self.answers(cand, "dev")
        n = 0
        for i in self.dev_order:
            if i not in have:
                break
            n += 1
        return n

    def correct(self, cand: Candidate, split: str, n: int | None = None) -> dict[int, bool]:
        order = self.order(split)
        have = self.answers(cand, split)
        return {i: metrics.is_correct(have[i])
                for i in order[: n if n is not None else len(order)] if i in have}
