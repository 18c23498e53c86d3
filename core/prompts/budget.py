"""The search's budget: what it affords (the plan, known before any call) and what it has spent (the ledger).

The budget is a hard cap. The test split is reserved up front (the chosen and the naive
prompt, once each); the naive prompt takes the whole dev split; successive halving
(core.prompts.halving) gets the rest. A dollar budget lowers the call cap by a tiktoken
estimate per call.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np

from core.prompts.halving import plan_size
from core.prompts.space import Candidate

MIN_FIRST_ROUND = 8  # dev examples per candidate in the first round, at least (and at least one per label)


@dataclass(frozen=True)
class Budget:
    calls: int
    usd: float | None = None

    def __post_init__(self) -> None:
        if int(self.calls) < 1:
            raise ValueError("the call budget must be at least 1")
        if self.usd is not None and self.usd < 0:
            raise ValueError("the dollar budget cannot be negative")


@dataclass(frozen=True)
class SearchEstimate:
    """What a prompt search will try and spend at most (not a training Estimate: see core.training.options)."""

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


# --- the plan ---------------------------------------------------------------------------


def too_small(budget: Budget, dev_n: int, test_n: int) -> ValueError:
    test_calls = 2 * test_n
    usd = "" if budget.usd is None else f" / ${budget.usd:g}"
    return ValueError(
        f"a budget of {budget.calls} calls{usd} is too small: scoring the chosen and the naive prompt once "
        f"on test takes {test_calls} calls, the naive prompt on dev {dev_n}, and a search at least "
        f"{2 * MIN_FIRST_ROUND} more — give at least {test_calls + dev_n + 2 * MIN_FIRST_ROUND} calls")


def default_calls(dev_n: int, test_n: int, local: bool) -> int:
    """The budget a search starts with: the references (chosen and naive on test, naive on dev) and room for the
    first round of a few dozen candidates plus the halving rounds (4 × dev), in steps of 50; at least 600 calls
    (3,000 predictions locally, where they are free). The sample task (dev 168, test 452): 1,750 calls."""
    need = 2 * test_n + dev_n + 4 * dev_n
    return max(3000 if local else 600, -(-need // 50) * 50)


def check_room(budget: Budget, dev_n: int, test_n: int) -> None:
    """Refuse a call budget that cannot even pay for the references (cheap: before any candidate is generated)."""
    if budget.calls - 2 * test_n < dev_n + 2 * MIN_FIRST_ROUND:
        raise too_small(budget, dev_n, test_n)


def plan(budget: Budget, cands: Sequence[Candidate], *, local: bool, model: str, meta_rewrites: int, n_labels: int,
         dev_n: int, test_n: int, usd_of: Callable[[Candidate], float | None]) -> SearchEstimate:
    """How many candidates, rounds and calls the budget affords; cands[0] is the naive prompt."""
    check_room(budget, dev_n, test_n)
    test_calls = test_n * 2
    notes = []
    meta = meta_rewrites if not local else 0
    search = budget.calls - test_calls
    prices = [usd_of(c) for c in cands[:50]] if not local else [0.0]
    usd_call = None if any(p is None for p in prices) else float(np.mean(prices))
    if budget.usd is not None:
        if usd_call is None:
            raise ValueError(f"the price of {model} is unknown (not in the model catalog): add it on the "
                             "Decide page or give prices, or drop the dollar budget")
        worst = max(p for p in prices) if prices else 0.0
        search_usd = budget.usd - test_calls * worst
        if usd_call > 0:
            search = min(search, int(search_usd / usd_call))
    if search < dev_n + 2 * MIN_FIRST_ROUND:
        raise too_small(budget, dev_n, test_n)
    first = min(dev_n, max(MIN_FIRST_ROUND, n_labels))
    # The naive prompt is one of the candidates, scored first on the whole dev split: plan the others.
    others = len(cands) - 1
    templ, meta, rounds, n0 = plan_size(others, meta, search - dev_n, dev_n, first)
    if templ == 0:
        raise ValueError(f"a budget of {budget.calls} calls is too small to try even one candidate "
                         f"besides the naive prompt on {first} dev examples")
    tried = 1 + templ + meta
    if tried < len(cands) + meta_rewrites:
        notes.append(f"the budget affords {tried} of the {len(cands)} candidates"
                     f"{f' and {meta} instructions proposed by the model' if meta else ''}: "
                     "the first in a seeded random order are tried")
    exhaustive = (len(cands) + meta) * dev_n
    calls = min(budget.calls, search + test_calls)
    if dev_n < 100:
        notes.append(f"the dev split has only {dev_n} examples: gaps of a few points between candidates "
                     "cannot be told apart (see the honesty panel after the run)")
    return SearchEstimate(
        candidates=len(cands), tried=tried, meta=meta, rounds=rounds, first_round_n=n0, dev_n=dev_n,
        test_n=test_n, search_calls=search, test_calls=test_calls, calls=calls, exhaustive_calls=exhaustive,
        usd_per_call=usd_call, usd=None if usd_call is None else calls * usd_call, notes=tuple(notes))


# --- the ledger -------------------------------------------------------------------------


class Ledger:
    """Two ledgers. Real: calls actually made (what the hard cap limits; cached answers are free).

    Planned: calls the search would make on an empty cache. Every decision (how many examples a
    round gets) is taken on the planned ledger, so a rerun makes the same decisions — and, its
    answers all cached, no call at all.
    """

    def __init__(self, budget: Budget):
        self.budget = budget
        self.calls_used, self.usd_used = 0, 0.0
        self.planned_calls = 0
        self.call_cap = budget.calls  # the plan's cap: a dollar budget may allow fewer calls than budget.calls
        self.reserved_calls, self.reserved_usd = 0, 0.0  # kept back for the final test scoring
        self._touched: dict[tuple[str, str], set[int]] = {}

    def calls_left(self) -> int:
        return self.budget.calls - self.calls_used - self.reserved_calls

    def planned_left(self) -> int:
        """Calls left on the planned ledger, under the plan's cap."""
        return self.call_cap - self.planned_calls - self.reserved_calls

    def usd_left(self) -> float:
        if self.budget.usd is None:
            return math.inf
        return self.budget.usd - self.usd_used - self.reserved_usd

    def plan_calls(self, cand_hash: str, split: str, positions: Sequence[int]) -> None:
        """Charge the planned ledger for the examples this search asks of the candidate for the first time."""
        touched = self._touched.setdefault((cand_hash, split), set())
        first_time = [i for i in positions if i not in touched]
        self.planned_calls += len(first_time)
        touched.update(first_time)

    def planned_n(self, cand_hash: str, dev_order: Sequence[int]) -> int:
        """How long a prefix of the dev order this search has scored the candidate on."""
        touched = self._touched.get((cand_hash, "dev"), set())
        n = 0
        for i in dev_order:
            if i not in touched:
                break
            n += 1
        return n

    def reserve(self, call_cap: int, calls: int, usd: float) -> None:
        self.call_cap, self.reserved_calls, self.reserved_usd = call_cap, calls, usd

    def release(self) -> None:
        """The reserve is for the final test scoring: free it just before."""
        self.reserved_calls, self.reserved_usd = 0, 0.0

    def spend(self, calls: int, usd: float = 0.0) -> None:
        self.calls_used += calls
        self.usd_used += usd
