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
from dataclasses import asdict, replace
from typing import Callable, Sequence

from core import responses, specs
from core.data.dataset import Dataset
from core.evaluation import runs
from core.prompts import store as prompt_store
from core.prompts.budget import Budget, Ledger, SearchEstimate, check_room, plan
from core.prompts.costs import CallCosts
from core.prompts.halving import KEEP, round_length, stratified_order
from core.prompts.proposals import propose
from core.prompts.results import CandidateRow, Progress, Result, candidate_rows, honesty
from core.prompts.scoring import CallOptions, Scorer, Stopped
from core.prompts.space import Candidate, SearchSpace, generate, naive_candidate
from core.store import Store, to_json

# The names callers import from here (the search's public face; each lives in its own module).
__all__ = ["Budget", "CallOptions", "CandidateRow", "Progress", "PromptSearch", "Result", "SearchEstimate", "Stopped",
           "estimate", "latest", "optimize", "parse_target"]


def parse_target(text: str) -> tuple[str, str]:
    """'local' or 'openai:<model>' → (backend, model)."""
    return specs.backend_and_model(text, {"local": ""}, ("openai",))


class PromptSearch:
    """One prompt optimization of one dataset version on one backend. `estimate()`, then `run()`.

    The pieces: a Ledger (budget.py) counts calls, a Scorer (scoring.py) gets and scores answers,
    CallCosts (costs.py) sizes calls; this class runs successive halving over them.
    """

    def __init__(self, store: Store, dataset: Dataset, target: str, budget: Budget,
                 space: SearchSpace | None = None, calls: CallOptions | None = None,
                 progress: Callable[[Progress], None] | None = None,
                 stop: threading.Event | Callable[[], bool] | None = None):
        self.store, self.dataset, self.budget = store, dataset, budget
        self.backend, self.model = parse_target(target)
        self.target = target.strip()
        self.calls = calls or CallOptions()
        self.task = dataset.task
        train = [e for e in dataset.split("train") if e.label is not None]
        dev = runs.split_examples(dataset, "dev")
        test = runs.split_examples(dataset, "test")
        if not dev:
            raise ValueError(f"dataset {dataset.hash} has no labelled dev examples: the search scores on dev only "
                             "(split some off on the Dataset page)")
        self.space = space or SearchSpace.for_backend(self.backend, len(self.task.labels), len(train))
        if self.backend == "local" and self.space.meta_rewrites:
            self.space = replace(self.space, meta_rewrites=0)  # nothing to ask on the local backend
        self._progress = progress
        dev_order = stratified_order(dev, self.space.seed)
        by_idx = dict(dev)
        self.ledger = Ledger(budget)
        self.costs = CallCosts(store, self.task, train, [by_idx[i].text for i in dev_order[:8]], self.backend,
                               self.model, self.calls.prices)
        self.scorer = Scorer(store, dataset, train, dev, test, dev_order, self.backend, self.model, self.calls,
                             self.space.retriever, self.ledger, self.costs, stop, self._emit)
        self._rounds: dict[str, int] = {}  # candidate hash -> the last halving round it took part in
        self._tried: list[Candidate] = []
        self._candidates: list[Candidate] | None = None
        self.optimization_id: int | None = None

    def candidates(self) -> list[Candidate]:
        if self._candidates is None:
            self._candidates = generate(self.task, self.scorer.train, self.dataset.hash, self.backend, self.model,
                                        self.space, retriever=self.scorer.retriever)
        return self._candidates

    @property
    def naive(self) -> Candidate:
        return naive_candidate(self.task, self.backend, self.model, self.dataset.hash)

    def estimate(self) -> SearchEstimate:
        dev_n, test_n = len(self.scorer.dev), len(self.scorer.test)
        check_room(self.budget, dev_n, test_n)  # before generating anything
        return plan(self.budget, self.candidates(), local=self.backend == "local", model=self.model,
                    meta_rewrites=self.space.meta_rewrites, n_labels=len(self.task.labels), dev_n=dev_n,
                    test_n=test_n, usd_of=self.costs.estimated_usd)

    def rows(self, cands: Sequence[Candidate]) -> list[CandidateRow]:
        return candidate_rows(self.scorer, cands, self.naive.hash, self._rounds)

    # -- progress and the optimizations table
    def _emit(self, phase: str, message: str, cands: Sequence[Candidate] = ()) -> None:
        if self._progress is None:
            return
        snapshot = list(cands)
        ledger = self.ledger
        self._progress(Progress(phase, message, ledger.calls_used, self.budget.calls, ledger.usd_used,
                                self.budget.usd, (lambda: self.rows(snapshot)) if snapshot else None))

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
            (status, self.ledger.calls_used, self.ledger.usd_used, to_json(result.to_dict()) if result else None,
             error, self.optimization_id))

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

    # -- the search itself
    def _rank(self, alive: list[Candidate], n: int) -> list[Candidate]:
        """Best first on the first n dev examples; ties go to fewer tokens, then to the earlier candidate."""
        acc, order = self.scorer.accuracy, {c.hash: i for i, c in enumerate(self._tried)}
        scored = [c for c in alive if acc(c, n) is not None]
        return sorted(scored, key=lambda c: (-acc(c, n), self.costs.estimated_tokens(c), order[c.hash]))

    def _search(self, est: SearchEstimate) -> Result:
        scorer, ledger = self.scorer, self.ledger
        cands = self.candidates()
        naive, D = cands[0], len(scorer.dev_order)
        reserved_usd = 0.0
        if self.budget.usd is not None:
            reserved_usd = est.test_n * 2 * max((self.costs.estimated_usd(c) or 0.0) for c in cands[: est.tried])
        ledger.reserve(est.calls, est.test_calls, reserved_usd)
        alive = list(cands[: est.tried - est.meta])
        self._tried = list(alive)
        # 1. The naive prompt on the whole dev split: the reference every figure is compared with.
        self._emit("naive", f"scoring the naive prompt on all {D} dev examples", self._tried)
        self._rounds[naive.hash] = 0
        budget_hit = not scorer.score(naive, "dev", scorer.dev_order)
        # 2. Successive halving: every survivor on a dev prefix twice as long as the round before.
        ranking: tuple[int, list[Candidate]] | None = None  # (prefix, candidates best first) of the last full round
        n, n_prev, r = est.first_round_n, 0, 0
        while len(alive) > 1 and not budget_hit:
            last = len(alive) <= 3 or n >= D
            if last:  # the finalists get everything that is left, up to the whole dev split
                n = max(n, round_length([ledger.planned_n(c.hash, scorer.dev_order) for c in alive], n_prev,
                                        ledger.planned_left(), D))
            for c in alive:
                self._rounds[c.hash] = r
                budget_hit |= not scorer.score(c, "dev", scorer.dev_order[:n])
                self._emit(f"round {r + 1}", f"round {r + 1}: {len(alive)} candidates on {n} dev examples",
                           self._tried)
            if r == 0 and est.meta and not budget_hit:
                # 3. On a chat backend, the model proposes instructions from the first round's ranking.
                proposals = [c for c in propose(scorer, self._rank(alive, n), n, est.meta,
                                                known=[c.instruction for c in self.candidates()],
                                                announce=lambda msg: self._emit("meta", msg, self._tried))
                             if c.hash not in {t.hash for t in self._tried}]
                self._tried += proposals
                alive += proposals
                for c in proposals:
                    self._rounds[c.hash] = r
                    budget_hit |= not scorer.score(c, "dev", scorer.dev_order[:n])
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
            ranking = (ledger.planned_n(naive.hash, scorer.dev_order), [naive])
        final_n, finalists = ranking
        # The last few calls of the budget (fewer than the finalists) extend the finalists one example at a
        # time — the ranking stays on their common prefix — so the search stops exactly at the budget.
        for c in finalists[:2]:
            n_c = ledger.planned_n(c.hash, scorer.dev_order)
            while ledger.planned_left() > 0 and n_c < D and scorer.score(c, "dev", scorer.dev_order[: n_c + 1]):
                n_c += 1
        return self._result(est, "budget" if budget_hit else "finished", finalists[0], finalists, final_n=final_n)

    def _result(self, est: SearchEstimate, status: str, chosen: Candidate | None, finalists: list[Candidate],
                final_n: int | None = None, final: bool = True) -> Result:
        scorer = self.scorer
        naive = self.naive
        tried = self._tried or [naive]
        if naive.hash not in {c.hash for c in tried}:
            tried = [naive] + list(tried)
        test: dict = {"n": len(scorer.test), "chosen_accuracy": None, "naive_accuracy": None, "comparison": None}
        if chosen is not None and status != "stopped" and scorer.test and final:
            self.ledger.release()
            self._emit("test", f"scoring the chosen and the naive prompt once on {len(scorer.test)} test examples",
                       tried)
            positions = [i for i, _ in scorer.test]
            for c in dict.fromkeys([chosen, naive]):
                scorer.score(c, "test", positions)
            test["chosen_accuracy"] = scorer.accuracy(chosen, split="test")
            test["naive_accuracy"] = scorer.accuracy(naive, split="test")
            if chosen.hash != naive.hash and test["chosen_accuracy"] is not None and test["naive_accuracy"] is not None:
                from core.evaluation.stats import aligned, compare

                cmp = compare(*aligned(scorer.correct(chosen, "test"), scorer.correct(naive, "test")),
                              a="the chosen prompt", b="the naive prompt")
                test["comparison"] = cmp.to_dict()
        rows = self.rows(tried)
        by_hash = {r.hash: r for r in rows}
        if chosen is not None:
            by_hash[chosen.hash].chosen = True
        honest = honesty(scorer, chosen, naive, finalists, final_n, est.tried)
        for cand, row in ((c, by_hash[c.hash]) for c in tried):
            prompt_store.save(self.store, cand, dev_accuracy=row.dev_accuracy, dev_n=row.dev_n,
                              tokens_per_call=row.tokens_per_call, cost_per_1k_usd=row.cost_per_1k_usd,
                              optimization_id=self.optimization_id)
        for cand, key in ((chosen, "chosen_accuracy"), (naive, "naive_accuracy")):
            if cand is not None and test[key] is not None:
                prompt_store.save(self.store, cand, test_accuracy=test[key], test_n=len(scorer.test))
        if final:
            self._emit("done", "done", tried)
        naive_row = by_hash[naive.hash]
        return Result(
            optimization_id=self.optimization_id, dataset_hash=self.dataset.hash, target=self.target, status=status,
            candidates=rows, chosen=by_hash[chosen.hash] if chosen is not None else None, naive=naive_row,
            naive_dev_accuracy=naive_row.dev_accuracy if naive_row.dev_n == len(scorer.dev) else None, test=test,
            honesty=honest, calls_used=self.ledger.calls_used, usd_used=self.ledger.usd_used,
            budget=asdict(self.budget), estimate=est.to_dict())


# --- entry points -----------------------------------------------------------------------


def estimate(store: Store, dataset: Dataset, target: str, budget: Budget, space: SearchSpace | None = None,
             calls: CallOptions | None = None) -> SearchEstimate:
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
