"""Prompt optimization on the dev split: successive halving under a hard budget in calls and dollars.

    result = optimize(store, dataset, "openai:gpt-4.1-mini", Budget(calls=800, usd=1.0))
    result.chosen.dev_accuracy, result.test["chosen_accuracy"], result.naive.dev_accuracy

How the budget is spent (all of it is known before the first call — `estimate()`):

1. The test split is reserved up front: after the choice, the chosen prompt and the
   naive prompt are each scored once on test (honesty: the choice never sees test).
2. The naive prompt is scored on the whole dev split: the reference every figure is against.
3. Successive halving (core.prompts.halving) over as many candidates as the budget affords:
   every survivor on a dev prefix twice as long as the round before, the better half
   survives, the finalists get all that is left. On a chat backend the model proposes
   new instructions after the first round (APE/OPRO, core.prompts.meta).
4. The budget is a hard cap: a batch is trimmed before it is sent so that new calls never
   exceed what is left (answers already in the store are free), and the search stops
   exactly when the calls run out. Dollars are capped by a tiktoken estimate per request
   before it is sent and counted from the reported usage after.

Every answer is stored as it arrives: predictions in per-candidate dev Runs (so the
Evaluate page sees them too), raw chat responses in the paid-response cache — so a
second identical search makes no new calls and reaches the same choice.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Sequence

import numpy as np

from core.prompts import store as prompt_store

from core import responses, specs

from core.evaluation import runs
from core.data.dataset import Dataset
from core.endpoint import Endpoint, client as make_client
from core.prompts.halving import KEEP, pareto_front, plan_size, round_length, stratified_order
from core.prompts.meta import Mistake, ScoredInstruction, meta_request, parse_proposals
from core.prompts.space import Candidate, SearchSpace, generate, naive_candidate, resolve_exemplars
from core.store import Store, to_json

TOKEN_MODEL = "gpt-4.1-mini"  # whose tokenizer sizes local prompts (what the exported prompt would cost)
MIN_FIRST_ROUND = 8  # dev examples per candidate in the first round, at least (and at least one per label)


# --- inputs -------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    calls: int
    usd: float | None = None

    def __post_init__(self) -> None:
        if int(self.calls) < 1:
            raise ValueError("the call budget must be at least 1")
        if self.usd is not None and self.usd < 0:
            raise ValueError("the dollar budget cannot be negative")


def parse_target(text: str) -> tuple[str, str]:
    """'local' or 'openai:<model>' → (backend, model)."""
    return specs.backend_and_model(text, {"local": ""}, ("openai",))


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


# --- outputs ------------------------------------------------------------------------


@dataclass
class CandidateRow:
    """One tried candidate as the table, the chart and the CLI show it."""

    hash: str
    spec: str
    name: str
    origin: str
    instruction: str
    instruction_name: str
    descriptions: str
    k: int
    selection: str
    output: str
    dev_accuracy: float | None
    dev_n: int
    round: int  # the last round it took part in (0 = first)
    tokens_per_call: float | None
    cost_per_1k_usd: float | None
    measured: bool  # tokens/cost from the server's usage (else a tiktoken estimate)
    naive: bool = False
    chosen: bool = False
    pareto_tokens: bool = False
    pareto_cost: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Estimate:
    candidates: int  # in the space, deduplicated
    tried: int  # the budget lets the search try (templated, meta proposals included)
    meta: int  # instructions the chat model will be asked for
    rounds: int
    first_round_n: int  # dev examples per candidate in the first round
    dev_n: int
    test_n: int
    search_calls: int  # at most
    test_calls: int  # reserved
    calls: int  # at most, in total (≤ the budget)
    exhaustive_calls: int  # every candidate on the whole dev split (what halving saves)
    usd_per_call: float | None  # mean estimate over the candidates tried (None: price unknown)
    usd: float | None  # at most, estimated
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Progress:
    phase: str  # embed | naive | round N | meta | test | done
    message: str
    calls_used: int
    calls_budget: int
    usd_used: float
    usd_budget: float | None
    _rows: Callable[[], list[CandidateRow]] | None = None

    @property
    def rows(self) -> list[CandidateRow]:
        """The candidates tried so far, as the table shows them (computed when asked: a page asks, the CLI doesn't)."""
        return self._rows() if self._rows is not None else []

    @property
    def fraction(self) -> float:
        f = self.calls_used / max(self.calls_budget, 1)
        if self.usd_budget:
            f = max(f, self.usd_used / self.usd_budget)
        return min(1.0, f)


@dataclass
class Result:
    optimization_id: int
    dataset_hash: str
    target: str  # local | openai:<model>
    status: str  # finished | stopped | budget (the budget ran out before the halving ended)
    candidates: list[CandidateRow]
    chosen: CandidateRow | None
    naive: CandidateRow | None
    naive_dev_accuracy: float | None
    test: dict  # chosen_accuracy, naive_accuracy, n, comparison
    honesty: dict  # dev_n, top-two McNemar, minimum detectable difference, warnings
    calls_used: int
    usd_used: float
    budget: dict
    estimate: dict

    def to_dict(self) -> dict:
        d = asdict(self)
        d["test_accuracy"] = self.test.get("chosen_accuracy")
        return d


# --- helpers ------------------------------------------------------------------------


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if known else None


class Stopped(Exception):
    """The stop flag was raised."""


# --- the search ---------------------------------------------------------------------


class PromptSearch:
    """One prompt optimization of one dataset version on one backend. `estimate()`, then `run()`."""

    def __init__(self, store: Store, dataset: Dataset, target: str, budget: Budget,
                 space: SearchSpace | None = None, calls: CallOptions | None = None,
                 progress: Callable[[Progress], None] | None = None,
                 stop: threading.Event | Callable[[], bool] | None = None):
        self.store, self.dataset, self.budget = store, dataset, budget
        self.backend, self.model = parse_target(target)
        self.target = target.strip()
        self.calls = calls or CallOptions()
        self.task = dataset.task
        self.train = [e for e in dataset.split("train") if e.label is not None]
        self.dev = runs.split_examples(dataset, "dev")
        self.test = runs.split_examples(dataset, "test")
        if not self.dev:
            raise ValueError(f"dataset {dataset.hash} has no labelled dev examples: the search scores on dev only "
                             "(split some off on the Dataset page)")
        self.space = space or SearchSpace.for_backend(self.backend, len(self.task.labels), len(self.train))
        if self.backend == "local" and self.space.meta_rewrites:
            self.space = replace(self.space, meta_rewrites=0)  # nothing to ask on the local backend
        self._progress = progress
        self._stop = stop
        self.dev_order = stratified_order(self.dev, self.space.seed)
        self.by_idx = {i: e for i, e in self.dev + self.test}
        self.calls_used, self.usd_used = 0, 0.0
        self.planned_calls = 0
        self._call_cap = budget.calls
        self._touched: dict[tuple[str, str], set[int]] = {}
        self._reserved_calls, self._reserved_usd = 0, 0.0
        self._approaches: dict[str, Any] = {}
        self._runs: dict[tuple[str, str], runs.Run] = {}
        self._tokens: dict[str, float] = {}
        self._msg_tokens: dict[tuple[str, str], int] = {}
        self._out_tokens: dict[str, int] = {}
        self._usd_call: dict[str, float | None] = {}
        self._rounds: dict[str, int] = {}
        self._answers: dict[tuple[str, str], dict[int, dict]] = {}
        self._tried: list[Candidate] = []
        self._embedder = None
        self._index = None
        self._catalog = None
        self._candidates: list[Candidate] | None = None
        self.optimization_id: int | None = None

    # -- the pieces the backends share
    @property
    def retriever(self) -> str:
        if self.space.retriever:
            return self.space.retriever
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

    def candidates(self) -> list[Candidate]:
        if self._candidates is None:
            self._candidates = generate(self.task, self.train, self.dataset.hash, self.backend, self.model,
                                        self.space, retriever=self.retriever)
        return self._candidates

    @property
    def naive(self) -> Candidate:
        return naive_candidate(self.task, self.backend, self.model, self.dataset.hash)

    # -- cost per call
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
        if self.calls.prices is not None:
            return (input_tokens * self.calls.prices[0] + output_tokens * self.calls.prices[1]) / 1e6
        from core.economics import inference_cost_usd

        try:
            info = self.catalog().get(self.model)
            return inference_cost_usd(info, input_tokens, output_tokens, fine_tuned=self.model.startswith("ft:"))
        except (KeyError, ValueError):
            return None

    def _output_tokens(self, cand: Candidate) -> int:
        """The answer's tokens: the longest label in the candidate's output format."""
        if cand.output not in self._out_tokens:
            from core.prompting import format_answer
            from core.tokens import count_tokens

            longest = max(self.task.label_names, key=len)
            self._out_tokens[cand.output] = count_tokens(format_answer(longest, cand.prompt_config()),
                                                         self.model or TOKEN_MODEL) + 1
        return self._out_tokens[cand.output]

    def _message_tokens(self, message: dict) -> int:
        """Tokens one chat message adds (framing included); cached, since exemplars repeat across candidates."""
        key = (message["role"], message["content"])
        if key not in self._msg_tokens:
            from core.tokens import REPLY_PRIMING_TOKENS, count_chat_tokens

            self._msg_tokens[key] = count_chat_tokens([message], self.model or TOKEN_MODEL) - REPLY_PRIMING_TOKENS
        return self._msg_tokens[key]

    def estimated_tokens(self, cand: Candidate) -> float:
        """Prompt + answer tokens of one call (tiktoken), averaged over a few dev inputs.

        Retrieved exemplars differ per input: they are sized as k typical train examples.
        """
        if cand.hash not in self._tokens:
            from core.prompting import messages
            from core.tokens import REPLY_PRIMING_TOKENS

            cfg = cand.prompt_config()
            shots = resolve_exemplars(cand, self.train) if cand.selection != "retrieved" else self.train[: cand.k]
            sample = [self.by_idx[i].text for i in self.dev_order[:8]]
            n_in = np.mean([REPLY_PRIMING_TOKENS + sum(self._message_tokens(m) for m in messages(self.task, cfg, t, shots))
                            for t in sample])
            self._tokens[cand.hash] = float(n_in) + self._output_tokens(cand)
        return self._tokens[cand.hash]

    def estimated_usd(self, cand: Candidate) -> float | None:
        if cand.hash not in self._usd_call:
            out = self._output_tokens(cand)
            self._usd_call[cand.hash] = self.price(self.estimated_tokens(cand) - out, out)
        return self._usd_call[cand.hash]

    # -- the plan
    def _too_small(self) -> ValueError:
        dev_n, test_calls = len(self.dev), 2 * len(self.test)
        usd = "" if self.budget.usd is None else f" / ${self.budget.usd:g}"
        return ValueError(
            f"a budget of {self.budget.calls} calls{usd} is too small: scoring the chosen and the naive prompt once "
            f"on test takes {test_calls} calls, the naive prompt on dev {dev_n}, and a search at least "
            f"{2 * MIN_FIRST_ROUND} more — give at least {test_calls + dev_n + 2 * MIN_FIRST_ROUND} calls")

    def estimate(self) -> Estimate:
        dev_n, test_n = len(self.dev), len(self.test)
        test_calls = test_n * 2
        if self.budget.calls - test_calls < dev_n + 2 * MIN_FIRST_ROUND:
            raise self._too_small()  # before generating anything
        cands = self.candidates()
        notes = []
        meta = self.space.meta_rewrites if self.backend != "local" else 0
        search = self.budget.calls - test_calls
        prices = [self.estimated_usd(c) for c in cands[:50]] if self.backend != "local" else [0.0]
        usd_call = None if any(p is None for p in prices) else float(np.mean(prices))
        if self.budget.usd is not None:
            if usd_call is None:
                raise ValueError(f"the price of {self.model} is unknown (not in the model catalog): add it on the "
                                 "Decide page or give prices, or drop the dollar budget")
            worst = max(p for p in prices) if prices else 0.0
            search_usd = self.budget.usd - test_calls * worst
            if usd_call > 0:
                search = min(search, int(search_usd / usd_call))
        if search < dev_n + 2 * MIN_FIRST_ROUND:
            raise self._too_small()
        first = min(dev_n, max(MIN_FIRST_ROUND, len(self.task.labels)))
        # The naive prompt is one of the candidates, scored first on the whole dev split: plan the others.
        others = len(cands) - 1
        templ, meta, rounds, n0 = plan_size(others, meta, search - dev_n, dev_n, first)
        if templ == 0:
            raise ValueError(f"a budget of {self.budget.calls} calls is too small to try even one candidate "
                             f"besides the naive prompt on {first} dev examples")
        tried = 1 + templ + meta
        if tried < len(cands) + self.space.meta_rewrites:
            notes.append(f"the budget affords {tried} of the {len(cands)} candidates"
                         f"{f' and {meta} instructions proposed by the model' if meta else ''}: "
                         "the first in a seeded random order are tried")
        exhaustive = (len(cands) + meta) * dev_n
        calls = min(self.budget.calls, search + test_calls)
        if dev_n < 100:
            notes.append(f"the dev split has only {dev_n} examples: gaps of a few points between candidates "
                         "cannot be told apart (see the honesty panel after the run)")
        return Estimate(
            candidates=len(cands), tried=tried, meta=meta, rounds=rounds, first_round_n=n0, dev_n=dev_n,
            test_n=test_n, search_calls=search, test_calls=test_calls, calls=calls, exhaustive_calls=exhaustive,
            usd_per_call=usd_call, usd=None if usd_call is None else calls * usd_call, notes=tuple(notes))

    # -- budget accounting
    # Two ledgers. Real: calls actually made (what the hard cap limits; cached answers are free).
    # Planned: calls the search would make on an empty cache. Every decision (how many examples a
    # round gets) is taken on the planned ledger, so a rerun makes the same decisions — and, its
    # answers all cached, no call at all.
    def calls_left(self) -> int:
        return self.budget.calls - self.calls_used - self._reserved_calls

    def planned_left(self) -> int:
        """Calls left on the planned ledger, under the plan's cap (a dollar budget may allow fewer calls)."""
        return self._call_cap - self.planned_calls - self._reserved_calls

    def planned_n(self, cand: Candidate) -> int:
        """How long a prefix of the dev order this search has scored the candidate on."""
        touched = self._touched.get((cand.hash, "dev"), set())
        n = 0
        for i in self.dev_order:
            if i not in touched:
                break
            n += 1
        return n

    def usd_left(self) -> float:
        if self.budget.usd is None:
            return math.inf
        return self.budget.usd - self.usd_used - self._reserved_usd

    def stopped(self) -> bool:
        s = self._stop
        if s is None:
            return False
        return s.is_set() if hasattr(s, "is_set") else bool(s())

    # -- scoring
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
            run = self.run_of(cand, split)
            self._answers[key] = {r["example_idx"]: dict(r) for r in self.store.query(
                "SELECT example_idx, gold, label, input_tokens, output_tokens, cost_usd, error FROM predictions"
                " WHERE run_id = ?", (run.id,))}
        return self._answers[key]

    def _admit(self, approach, todo: list[int]) -> tuple[list[int], list[str | None], dict[str, float]]:
        """The longest prefix of `todo` the budget allows: (positions, request key of each, new keys with their $ estimate).

        Answers already in the paid-response cache are free; the same request twice is one call.
        """
        calls, usd = self.calls_left(), self.usd_left()
        if self.backend == "local":
            admitted = todo[: max(0, calls)]
            return admitted, [None] * len(admitted), {}
        from core.tokens import count_chat_tokens

        reqs = approach.requests([self.by_idx[i].text for i in todo])
        out_tokens = self._output_tokens(approach.candidate)
        fresh: dict[str, float] = {}
        admitted: list[int] = []
        keys: list[str | None] = []
        for i, req in zip(todo, reqs):
            key = responses.response_key(self.calls.endpoint.base_url, req)
            if key not in fresh and responses.get(self.store, key) is None:
                cost = self.price(count_chat_tokens(req["messages"], self.model), out_tokens) or 0.0
                if len(fresh) + 1 > calls or sum(fresh.values()) + cost > usd:
                    break
                fresh[key] = cost
            admitted.append(i)
            keys.append(key)
        return admitted, keys, fresh

    def score(self, cand: Candidate, split: str, positions: Sequence[int]) -> bool:
        """Make sure the candidate has answered these examples, within the budget.

        True when every one has an answer (a failed call counts as a wrong answer until a rerun retries it).
        """
        if self.stopped():
            raise Stopped
        touched = self._touched.setdefault((cand.hash, split), set())
        first_time = [i for i in positions if i not in touched]
        self.planned_calls += len(first_time)
        touched.update(first_time)
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

    def _predict(self, cand: Candidate, split: str, approach, admitted: list[int], keys: list[str | None],
                 fresh: dict[str, float]) -> None:
        run = self.run_of(cand, split)
        self.store.execute("UPDATE runs SET status = 'running', finished_at = NULL WHERE id = ?", (run.id,))
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
            self._mark(run, split)

    def _account(self, n_preds: int, fresh: dict[str, float], reported: dict[str, float | None]) -> None:
        """Count what was really spent: local predictions, or the new responses now in the paid-response cache."""
        if self.backend == "local":
            self.calls_used += n_preds
            return
        keys = list(fresh)
        paid: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            paid |= {r[0] for r in self.store.query(
                f"SELECT key FROM responses WHERE key IN ({','.join('?' * len(chunk))})", chunk)}
        self.calls_used += len(paid)
        # Dollars from the server's reported usage where an answer came back, else the pre-call estimate.
        self.usd_used += sum(reported[k] if reported.get(k) is not None else fresh[k] for k in paid)

    def _mark(self, run: runs.Run, split: str) -> None:
        """A candidate scored on part of the split is a 'partial' run; on all of it, finished (or incomplete)."""
        total = len(self.dev if split == "dev" else self.test)
        row = self.store.query_one("SELECT COUNT(*) AS n, SUM(error IS NOT NULL) AS failed FROM predictions"
                                   " WHERE run_id = ?", (run.id,))
        status = "partial" if row["n"] < total else ("incomplete" if row["failed"] else "finished")
        self.store.execute("UPDATE runs SET status = ?, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
                           " WHERE id = ?", (status, run.id))

    def accuracy(self, cand: Candidate, n: int | None = None, split: str = "dev") -> float | None:
        """Accuracy on the first n examples of the dev order (None unless all of them are answered)."""
        order = self.dev_order if split == "dev" else [i for i, _ in self.test]
        positions = order[: n if n is not None else len(order)]
        have = self.answers(cand, split)
        if not positions or any(i not in have for i in positions):
            return None
        return float(np.mean([have[i]["label"] is not None and have[i]["label"] == have[i]["gold"]
                              for i in positions]))

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
        order = self.dev_order if split == "dev" else [i for i, _ in self.test]
        have = self.answers(cand, split)
        return {i: have[i]["label"] is not None and have[i]["label"] == have[i]["gold"]
                for i in order[: n if n is not None else len(order)] if i in have}

    # -- progress
    def _emit(self, phase: str, message: str, cands: Sequence[Candidate] = ()) -> None:
        if self._progress is None:
            return
        snapshot = list(cands)
        self._progress(Progress(phase, message, self.calls_used, self.budget.calls, self.usd_used, self.budget.usd,
                                (lambda: self.rows(snapshot)) if snapshot else None))

    def row(self, cand: Candidate, naive_hash: str) -> CandidateRow:
        have = [r for r in self.answers(cand, "dev").values() if r["error"] is None]
        n = self.answered_n(cand)
        measured = self.backend != "local" and bool(have) and all(
            r["input_tokens"] is not None and r["output_tokens"] is not None for r in have)
        if measured:
            tokens = float(np.mean([r["input_tokens"] + r["output_tokens"] for r in have]))
            costs = [r["cost_usd"] for r in have]
            cost = None if any(c is None for c in costs) else float(np.mean(costs)) * 1000
        else:
            tokens = self.estimated_tokens(cand)
            usd = self.estimated_usd(cand)
            cost = None if usd is None else usd * 1000
        return CandidateRow(
            hash=cand.hash, spec=prompt_store.spec_for(cand), name=cand.name, origin=cand.origin,
            instruction=cand.instruction, instruction_name=cand.instruction_name, descriptions=cand.descriptions,
            k=cand.k, selection=cand.selection, output=cand.output,
            dev_accuracy=self.accuracy(cand, n) if n else None, dev_n=n, round=self._rounds.get(cand.hash, 0),
            tokens_per_call=tokens, cost_per_1k_usd=cost, measured=measured, naive=cand.hash == naive_hash)

    def rows(self, cands: Sequence[Candidate]) -> list[CandidateRow]:
        naive = self.naive.hash
        out = [self.row(c, naive) for c in cands]
        top = max((r.dev_n for r in out), default=0)
        for attr, flag in (("tokens_per_call", "pareto_tokens"), ("cost_per_1k_usd", "pareto_cost")):
            pts = [(i, getattr(r, attr), r.dev_accuracy) for i, r in enumerate(out)
                   if r.dev_n == top and getattr(r, attr) is not None and r.dev_accuracy is not None]
            for (i, _, _), on in zip(pts, pareto_front([(x, a) for _, x, a in pts])):
                setattr(out[i], flag, on)
        return out

    # -- the search itself
    def _rank(self, alive: list[Candidate], n: int) -> list[Candidate]:
        order = {c.hash: i for i, c in enumerate(self._tried)}
        scored = [c for c in alive if self.accuracy(c, n) is not None]
        return sorted(scored, key=lambda c: (-self.accuracy(c, n), self.estimated_tokens(c), order[c.hash]))

    def _propose(self, ranked: list[Candidate], n: int, how_many: int) -> list[Candidate]:
        """Instructions written by the chat model from the best so far and their mistakes (one cached call)."""
        if how_many <= 0 or not ranked or self.planned_left() < 1:
            return []
        best = ranked[0]
        seen: dict[str, Candidate] = {}
        for c in ranked:
            seen.setdefault(c.instruction, c)
        scored = [ScoredInstruction(c.instruction, self.accuracy(c, n), n) for c in list(seen.values())[:4]]
        have = self.answers(best, "dev")
        mistakes = [Mistake(self.by_idx[i].text, have[i]["gold"], have[i]["label"])
                    for i in self.dev_order[:n] if i in have and have[i]["label"] != have[i]["gold"]]
        req = meta_request(self.model, self.task, scored, mistakes, how_many)
        self._emit("meta", f"asking {self.model} for {how_many} new instructions", self._tried)
        content = self._chat_once(req)
        if content is None:
            return []
        proposals = parse_proposals(content, how_many, known=[c.instruction for c in self.candidates()])
        return [replace(best, instruction=text, instruction_name=f"meta-{j + 1}", origin="meta")
                for j, text in enumerate(proposals)]

    def _chat_once(self, req: dict) -> str | None:
        """One chat call through the paid-response cache (counted against the budget)."""
        key = responses.response_key(self.calls.endpoint.base_url, req)
        hit = responses.get(self.store, key)
        self.planned_calls += 1
        if hit is None:
            if self.calls_left() < 1:
                return None
            import openai

            client = make_client(self.calls.endpoint, max_retries=self.calls.max_retries, timeout=self.calls.timeout)
            try:
                raw = client.chat.completions.with_raw_response.create(**req)
            except openai.OpenAIError:
                return None  # no proposals this time; the templated search goes on
            finally:
                client.close()
            from core.backends.openai_compat import _body_of

            body = _body_of(raw.text)
            responses.put(self.store, key, self.calls.endpoint.base_url, req, body, None)
            self.calls_used += 1
            usage = body.get("usage") or {}
            self.usd_used += self.price(usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0) or 0.0
        else:
            body = hit.body
        try:
            return body["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            return None

    def _start(self) -> int:
        settings = {"space": self.space.to_dict(), "budget": asdict(self.budget),
                    "base_url": responses.endpoint_id(self.calls.endpoint.base_url) if self.backend != "local" else None}
        cur = self.store.execute("INSERT INTO optimizations(dataset_hash, backend, settings_json) VALUES (?, ?, ?)",
                                 (self.dataset.hash, self.target, to_json(settings)))
        return int(cur.lastrowid)

    def _finish(self, status: str, result: Result | None, error: str | None = None) -> None:
        self.store.execute(
            "UPDATE optimizations SET status = ?, calls_used = ?, usd_used = ?, result_json = ?, error = ?,"
            " finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
            (status, self.calls_used, self.usd_used, to_json(result.to_dict()) if result else None, error,
             self.optimization_id))

    def run(self) -> Result:
        est = self.estimate()
        self.optimization_id = self._start()
        try:
            result = self._search(est)
        except Stopped:
            result = self._result(est, "stopped", None, [])
        except BaseException as exc:  # a Streamlit rerun (the stop button), Ctrl-C, a bug: record what was scored
            failed = isinstance(exc, Exception)
            try:
                partial = self._result(est, "stopped", None, [], final=False)
            except Exception:  # noqa: BLE001 — the original error matters more
                partial = None
            self._finish("failed" if failed else "stopped", partial, f"{type(exc).__name__}: {exc}" if failed else None)
            raise
        self._finish(result.status, result)
        return result

    def _search(self, est: Estimate) -> Result:
        cands = self.candidates()
        naive, D = cands[0], len(self.dev_order)
        self._call_cap, self._reserved_calls = est.calls, est.test_calls
        if self.budget.usd is not None:
            self._reserved_usd = est.test_n * 2 * max((self.estimated_usd(c) or 0.0) for c in cands[: est.tried])
        alive = list(cands[: est.tried - est.meta])
        self._tried = list(alive)
        # 1. The naive prompt on the whole dev split: the reference every figure is compared with.
        self._emit("naive", f"scoring the naive prompt on all {D} dev examples", self._tried)
        self._rounds[naive.hash] = 0
        budget_hit = not self.score(naive, "dev", self.dev_order)
        # 2. Successive halving: every survivor on a dev prefix twice as long as the round before.
        ranking: tuple[int, list[Candidate]] | None = None  # (prefix, candidates best first) of the last full round
        n, n_prev, r = est.first_round_n, 0, 0
        while len(alive) > 1 and not budget_hit:
            last = len(alive) <= 3 or n >= D
            if last:  # the finalists get everything that is left, up to the whole dev split
                n = max(n, round_length([self.planned_n(c) for c in alive], n_prev, self.planned_left(), D))
            for c in alive:
                self._rounds[c.hash] = r
                budget_hit |= not self.score(c, "dev", self.dev_order[:n])
                self._emit(f"round {r + 1}", f"round {r + 1}: {len(alive)} candidates on {n} dev examples",
                           self._tried)
            if r == 0 and est.meta and not budget_hit:
                proposals = [c for c in self._propose(self._rank(alive, n), n, est.meta)
                             if c.hash not in {t.hash for t in self._tried}]
                self._tried += proposals
                alive += proposals
                for c in proposals:
                    self._rounds[c.hash] = r
                    budget_hit |= not self.score(c, "dev", self.dev_order[:n])
                    self._emit(f"round {r + 1}", f"round {r + 1}: scored the proposed instruction "
                               f"{c.instruction_name}", self._tried)
            ranked = self._rank(alive, n)
            if len(ranked) < len(alive):  # the budget ran out inside this round: the last full one decides
                ranking = ranking or ((n, ranked) if ranked else None)
                break
            ranking = (n, ranked)
            if last or len(ranked) <= 3:
                break
            alive = ranked[: math.ceil(len(ranked) * KEEP)]
            n_prev, n, r = n, min(D, 2 * n), r + 1
        if ranking is None:  # not one full round: the naive prompt is all there is to choose
            ranking = (self.planned_n(naive), [naive])
        final_n, finalists = ranking
        # The last few calls of the budget (fewer than the finalists) extend the finalists one example at a
        # time — the ranking stays on their common prefix — so the search stops exactly at the budget.
        for c in finalists[:2]:
            n_c = self.planned_n(c)
            while self.planned_left() > 0 and n_c < D and self.score(c, "dev", self.dev_order[: n_c + 1]):
                n_c += 1
        return self._result(est, "budget" if budget_hit else "finished", finalists[0], finalists, final_n=final_n)

    def _result(self, est: Estimate, status: str, chosen: Candidate | None, finalists: list[Candidate],
                final_n: int | None = None, final: bool = True) -> Result:
        naive = self.naive
        tried = self._tried if getattr(self, "_tried", None) else [naive]
        if naive.hash not in {c.hash for c in tried}:
            tried = [naive] + list(tried)
        test: dict = {"n": len(self.test), "chosen_accuracy": None, "naive_accuracy": None, "comparison": None}
        if chosen is not None and status != "stopped" and self.test and final:
            self._reserved_calls, self._reserved_usd = 0, 0.0  # the reserve is for exactly this
            self._emit("test", f"scoring the chosen and the naive prompt once on {len(self.test)} test examples",
                       tried)
            positions = [i for i, _ in self.test]
            for c in dict.fromkeys([chosen, naive]):
                self.score(c, "test", positions)
            test["chosen_accuracy"] = self.accuracy(chosen, split="test")
            test["naive_accuracy"] = self.accuracy(naive, split="test")
            if chosen.hash != naive.hash and test["chosen_accuracy"] is not None and test["naive_accuracy"] is not None:
                from core.evaluation.stats import aligned, compare

                cmp = compare(*aligned(self.correct(chosen, "test"), self.correct(naive, "test")),
                              a="the chosen prompt", b="the naive prompt")
                test["comparison"] = cmp.to_dict()
        rows = self.rows(tried)
        by_hash = {r.hash: r for r in rows}
        if chosen is not None:
            by_hash[chosen.hash].chosen = True
        honesty = self._honesty(chosen, finalists, final_n, est)
        for cand, row in ((c, by_hash[c.hash]) for c in tried):
            prompt_store.save(self.store, cand, dev_accuracy=row.dev_accuracy, dev_n=row.dev_n,
                              tokens_per_call=row.tokens_per_call, cost_per_1k_usd=row.cost_per_1k_usd,
                              optimization_id=self.optimization_id)
        for cand, key in ((chosen, "chosen_accuracy"), (naive, "naive_accuracy")):
            if cand is not None and test[key] is not None:
                prompt_store.save(self.store, cand, test_accuracy=test[key], test_n=len(self.test))
        if final:
            self._emit("done", "done", tried)
        naive_row = by_hash[naive.hash]
        return Result(
            optimization_id=self.optimization_id, dataset_hash=self.dataset.hash, target=self.target, status=status,
            candidates=rows, chosen=by_hash[chosen.hash] if chosen is not None else None, naive=naive_row,
            naive_dev_accuracy=naive_row.dev_accuracy if naive_row.dev_n == len(self.dev) else None, test=test,
            honesty=honesty, calls_used=self.calls_used, usd_used=self.usd_used, budget=asdict(self.budget),
            estimate=est.to_dict())

    def _honesty(self, chosen: Candidate | None, finalists: list[Candidate], final_n: int | None,
                 est: Estimate) -> dict:
        """Can the dev split tell the top candidates apart? What a user must know before trusting the choice."""
        from core.evaluation.stats import aligned, compare, minimum_detectable_difference

        out: dict[str, Any] = {"dev_n": len(self.dev), "final_n": final_n, "top_two": None, "chosen_vs_naive_dev": None,
                               "min_detectable_diff": None, "separable": None, "warnings": []}
        if chosen is None:
            return out
        acc = self.accuracy(chosen, self.answered_n(chosen)) or 0.0
        mdd = minimum_detectable_difference(len(self.dev), acc)
        out["min_detectable_diff"] = mdd
        warnings = out["warnings"]
        if len(finalists) >= 2:
            a, b = finalists[0], finalists[1]
            cmp = compare(*aligned(self.correct(a, "dev", final_n), self.correct(b, "dev", final_n)),
                          a=a.name, b=b.name)
            out["top_two"] = {"chosen": a.hash, "runner_up": b.hash, **cmp.to_dict()}
            out["separable"] = bool(cmp.significant)
            if not cmp.significant:
                warnings.append(
                    f"The dev split cannot separate the top two candidates: {cmp.diff * 100:+.1f} points on "
                    f"{cmp.n} examples (McNemar p = {cmp.mcnemar_p:.2f}); on {len(self.dev)} dev examples only gaps "
                    f"above about {mdd * 100:.0f} points are detectable. Treat them as equally good — the cheaper "
                    "one is as sound a choice — and grow the dev split to decide.")
        naive = self.naive
        if chosen.hash != naive.hash:
            cmp = compare(*aligned(self.correct(chosen, "dev"), self.correct(naive, "dev")),
                          a="the chosen prompt", b="the naive prompt")
            out["chosen_vs_naive_dev"] = cmp.to_dict()
        if est.tried > 10:
            warnings.append(f"{est.tried} candidates were compared on the same dev split: the best dev score is "
                            "optimistic (it won partly by luck) — the test accuracy, measured once after the "
                            "choice, is the figure to quote.")
        if len(self.dev) < 50:
            warnings.append(f"The dev split has only {len(self.dev)} labelled examples; 100 or more make the "
                            "search's choice far more reliable.")
        return out


# --- entry points -----------------------------------------------------------------------


def estimate(store: Store, dataset: Dataset, target: str, budget: Budget, space: SearchSpace | None = None,
             calls: CallOptions | None = None) -> Estimate:
    """What a search will try and spend at most — computed before any call."""
    return PromptSearch(store, dataset, target, budget, space, calls).estimate()


def optimize(store: Store, dataset: Dataset, target: str, budget: Budget, space: SearchSpace | None = None,
             calls: CallOptions | None = None, progress: Callable[[Progress], None] | None = None,
             stop: threading.Event | Callable[[], bool] | None = None) -> Result:
    """Search for the best prompt of `dataset` on `target` ('local' or 'openai:<model>') within `budget`."""
    return PromptSearch(store, dataset, target, budget, space, calls, progress, stop).run()


def latest(store: Store, dataset_hash: str, target: str | None = None) -> dict | None:
    """The most recent search of a dataset version (its stored result), or None."""
    sql, args = "SELECT * FROM optimizations WHERE dataset_hash = ?", [dataset_hash]
    if target:
        sql += " AND backend = ?"
        args.append(target)
    row = store.query_one(sql + " AND result_json IS NOT NULL ORDER BY id DESC LIMIT 1", args)
    if row is None:
        return None
    return {"id": row["id"], "status": row["status"], "backend": row["backend"], "calls_used": row["calls_used"],
            "usd_used": row["usd_used"], "created_at": row["created_at"], "result": json.loads(row["result_json"])}
