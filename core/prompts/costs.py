"""Tokens and dollars of one call of a candidate prompt, estimated before any call (tiktoken × catalog price)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from core.data.dataset import Example
from core.data.task import Task
from core.prompts.space import Candidate, resolve_exemplars
from core.store import Store

TOKEN_MODEL = "gpt-4.1-mini"  # whose tokenizer sizes local prompts (what the exported prompt would cost)


class CallCosts:
    """Per-candidate token and dollar estimates, each computed once (exemplars repeat across candidates)."""

    def __init__(self, store: Store, task: Task, train: Sequence[Example], sample_texts: Sequence[str],
                 backend: str, model: str, prices: tuple[float, float] | None = None):
        self.store, self.task, self.train = store, task, list(train)
        self.sample_texts = list(sample_texts)  # a few dev inputs the prompt is sized on
        self.backend, self.model, self.prices = backend, model, prices
        self._catalog = None
        self._tokens: dict[str, float] = {}
        self._msg_tokens: dict[tuple[str, str], int] = {}
        self._out_tokens: dict[str, int] = {}
        self._usd_call: dict[str, float | None] = {}

    def catalog(self):
        if self._catalog is None:
            from core.catalog import load_catalog

            ws = self.store.path.parent if str(self.store.path) != ":memory:" else None
            self._catalog = load_catalog(ws, self.store)
        return self._catalog

    def price(self, input_tokens: float, output_tokens: float) -> float | None:
        """$ for one call of the target model; 0 on the local backend; None when its price is unknown."""
        if self.backend == "local":
            return 0.0
        if self.prices is not None:
            return (input_tokens * self.prices[0] + output_tokens * self.prices[1]) / 1e6
        from core.economics import inference_cost_usd

        try:
            info = self.catalog().get(self.model)
            return inference_cost_usd(info, input_tokens, output_tokens, fine_tuned=self.model.startswith("ft:"))
        except (KeyError, ValueError):
            return None

    def output_tokens(self, cand: Candidate) -> int:
        """The answer's tokens: the longest label in the candidate's output format."""
        if cand.output not in self._out_tokens:
            from core.prompting import format_answer
            from core.tokens import count_tokens

            longest = max(self.task.label_names, key=len)
            self._out_tokens[cand.output] = count_tokens(format_answer(longest, cand.prompt_config()),
                                                         self.model or TOKEN_MODEL) + 1
        return self._out_tokens[cand.output]

    def message_tokens(self, message: dict) -> int:
        """Tokens one chat message adds (framing included)."""
        key = (message["role"], message["content"])
        if key not in self._msg_tokens:
            from core.tokens import REPLY_PRIMING_TOKENS, count_chat_tokens

            self._msg_tokens[key] = count_chat_tokens([message], self.model or TOKEN_MODEL) - REPLY_PRIMING_TOKENS
        return self._msg_tokens[key]

    def estimated_tokens(self, cand: Candidate) -> float:
        """Prompt + answer tokens of one call (tiktoken), averaged over the sample inputs.

        Retrieved exemplars differ per input: they are sized as k typical train examples.
        """
        if cand.hash not in self._tokens:
            from core.prompting import messages
            from core.tokens import REPLY_PRIMING_TOKENS

            cfg = cand.prompt_config()
            shots = resolve_exemplars(cand, self.train) if cand.selection != "retrieved" else self.train[: cand.k]
            n_in = np.mean([REPLY_PRIMING_TOKENS + sum(self.message_tokens(m) for m in messages(self.task, cfg, t, shots))
                            for t in self.sample_texts])
            self._tokens[cand.hash] = float(n_in) + self.output_tokens(cand)
        return self._tokens[cand.hash]

    def estimated_usd(self, cand: Candidate) -> float | None:
        if cand.hash not in self._usd_call:
            out = self.output_tokens(cand)
            self._usd_call[cand.hash] = self.price(self.estimated_tokens(cand) - out, out)
        return self._usd_call[cand.hash]
