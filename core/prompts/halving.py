"""Successive halving on a dev split: the schedule, its cost, and the plan a budget affords (pure functions).

Round r scores the surviving candidates on the first min(dev_n, n0·2^r) examples of a
stratified dev order (prefixes are nested, so every answer is reused), then the better
half survives; the round with two or three left is the last (Jamieson & Talwalkar 2016,
with the budget split as in Karnin, Koren & Somekh 2013: as many arms as the first round
can afford, then as long a first round as the budget allows).
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from typing import Sequence

from core.data.dataset import Example

KEEP = 0.5  # share of candidates that survive a round


def stratified_order(examples: Sequence[tuple[int, Example]], seed: int) -> list[int]:
    """Dataset indices in an order whose every prefix is roughly stratified by label (round-robin)."""
    rng = random.Random(seed)
    pools: dict[str, list[int]] = defaultdict(list)
    for i, e in examples:
        pools[e.label].append(i)
    labels = sorted(pools)
    for lab in labels:
        rng.shuffle(pools[lab])
    rng.shuffle(labels)
    out: list[int] = []
    while any(pools.values()):
        for lab in labels:
            if pools[lab]:
                out.append(pools[lab].pop())
    return out


def pareto_front(points: Sequence[tuple[float, float]]) -> list[bool]:
    """For (cost, accuracy) points: True where no other point is at least as accurate for no more cost."""
    flags = []
    for i, (c, a) in enumerate(points):
        dominated = any((c2 <= c and a2 >= a) and (c2 < c or a2 > a) for j, (c2, a2) in enumerate(points) if j != i)
        flags.append(not dominated)
    return flags


def round_length(have: Sequence[int], n_prev: int, budget: float, dev_n: int) -> int:
    """The longest dev prefix (≥ n_prev, ≤ dev_n) every member can reach within `budget` calls
    (`have` = the prefix each member has already answered)."""
    n = n_prev
    while n < dev_n and sum(max(0, n + 1 - h) for h in have) <= budget:
        n += 1
    return n


def halving_cost(free: int, new: int, meta: int, n0: int, dev_n: int) -> tuple[int, int]:
    """(calls, rounds) of the halving schedule on an empty cache, as `PromptSearch` runs it.

    Round r scores the survivors on the first min(dev_n, n0·2^r) dev examples, then the better half
    survives; the round with two (or three) left is the last. `free` members are already scored
    on the whole dev split (the naive prompt); `meta` proposals join the first round, after the
    one call that asks for them. Survivors are assumed to be unscored ones (the dearer case).
    """
    have = [dev_n] * free + [0] * new
    n, calls, r = min(n0, dev_n), 0, 0
    while True:
        extra = meta if r == 0 else 0
        calls += sum(max(0, n - h) for h in have) + extra * n + (1 if extra else 0)
        have = [max(h, n) for h in have] + [n] * extra
        r += 1
        if n >= dev_n or len(have) <= 3:
            return calls, r
        have = sorted(have)[: math.ceil(len(have) * KEEP)]
        n = min(dev_n, 2 * n)


def plan_size(others: int, meta_max: int, budget: int, dev_n: int, first_round: int) -> tuple[int, int, int, int]:
    """(templated candidates, meta proposals, rounds, first-round prefix) that the budget affords.

    First as many candidates as keep at least `first_round` dev examples each in the first round
    (proposals from the model take at most a quarter of the places), then as long a first round as
    the budget allows.
    """
    first_round = min(first_round, dev_n)

    def meta_for(new: int) -> int:
        return min(meta_max, new // 3)

    def cost(new: int, n0: int) -> int:
        return halving_cost(1, new, meta_for(new), n0, dev_n)[0]

    lo, hi, new = 1, others, 0
    while lo <= hi:  # the cost grows with the number of candidates: bisect on it
        mid = (lo + hi) // 2
        if cost(mid, first_round) <= budget:
            new, lo = mid, mid + 1
        else:
            hi = mid - 1
    if new == 0:
        return 0, 0, 0, 0
    n0 = first_round
    while n0 < dev_n and cost(new, n0 + 1) <= budget:
        n0 += 1
    return new, meta_for(new), halving_cost(1, new, meta_for(new), n0, dev_n)[1], n0
