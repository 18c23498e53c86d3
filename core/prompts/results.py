"""What a prompt search reports: a row per tried candidate, progress, the result, and its honesty panel."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from core.prompts import store as prompt_store
from core.prompts.halving import pareto_front
from core.prompts.scoring import Scorer
from core.prompts.space import Candidate

ROLES = ("chosen", "naive", "Pareto front", "scored on all dev", "dropped early")  # legend order, most telling first


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


def role(row: Mapping[str, Any], dev_n: int) -> str:
    """What a candidate row (a CandidateRow's dict, as stored) was in its search: one of ROLES."""
    if row["chosen"]:
        return "chosen"
    if row["naive"]:
        return "naive"
    if row["pareto_tokens"] or row["pareto_cost"]:
        return "Pareto front"
    return "scored on all dev" if row["dev_n"] >= dev_n else "dropped early"


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


# --- rows -------------------------------------------------------------------------------


def candidate_row(scorer: Scorer, cand: Candidate, naive_hash: str, round_: int) -> CandidateRow:
    """Tokens and cost measured from the server's usage when every answer reports it, else estimated."""
    have = [r for r in scorer.answers(cand, "dev").values() if r["error"] is None]
    n = scorer.answered_n(cand)
    measured = scorer.backend != "local" and bool(have) and all(
        r["input_tokens"] is not None and r["output_tokens"] is not None for r in have)
    if measured:
        tokens = float(np.mean([r["input_tokens"] + r["output_tokens"] for r in have]))
        costs = [r["cost_usd"] for r in have]
        cost = None if any(c is None for c in costs) else float(np.mean(costs)) * 1000
    else:
        tokens = scorer.costs.estimated_tokens(cand)
        usd = scorer.costs.estimated_usd(cand)
        cost = None if usd is None else usd * 1000
    return CandidateRow(
        hash=cand.hash, spec=prompt_store.spec_for(cand), name=cand.name, origin=cand.origin,
        instruction=cand.instruction, instruction_name=cand.instruction_name, descriptions=cand.descriptions,
        k=cand.k, selection=cand.selection, output=cand.output,
        dev_accuracy=scorer.accuracy(cand, n) if n else None, dev_n=n, round=round_,
        tokens_per_call=tokens, cost_per_1k_usd=cost, measured=measured, naive=cand.hash == naive_hash)


def candidate_rows(scorer: Scorer, cands: Sequence[Candidate], naive_hash: str,
                   rounds: Mapping[str, int]) -> list[CandidateRow]:
    """The rows, with the Pareto fronts (accuracy vs tokens, vs $) among those scored on the longest prefix."""
    out = [candidate_row(scorer, c, naive_hash, rounds.get(c.hash, 0)) for c in cands]
    top = max((r.dev_n for r in out), default=0)
    for attr, flag in (("tokens_per_call", "pareto_tokens"), ("cost_per_1k_usd", "pareto_cost")):
        pts = [(i, getattr(r, attr), r.dev_accuracy) for i, r in enumerate(out)
               if r.dev_n == top and getattr(r, attr) is not None and r.dev_accuracy is not None]
        for (i, _, _), on in zip(pts, pareto_front([(x, a) for _, x, a in pts])):
            setattr(out[i], flag, on)
    return out


# --- honesty ----------------------------------------------------------------------------


def honesty(scorer: Scorer, chosen: Candidate | None, naive: Candidate, finalists: list[Candidate],
            final_n: int | None, tried: int) -> dict:
    """Can the dev split tell the top candidates apart? What a user must know before trusting the choice."""
    from core.evaluation.stats import aligned, compare, minimum_detectable_difference

    dev_n = len(scorer.dev)
    out: dict[str, Any] = {"dev_n": dev_n, "final_n": final_n, "top_two": None, "chosen_vs_naive_dev": None,
                           "min_detectable_diff": None, "separable": None, "warnings": []}
    if chosen is None:
        return out
    acc = scorer.accuracy(chosen, scorer.answered_n(chosen)) or 0.0
    mdd = minimum_detectable_difference(dev_n, acc)
    out["min_detectable_diff"] = mdd
    warnings = out["warnings"]
    if len(finalists) >= 2:
        a, b = finalists[0], finalists[1]
        cmp = compare(*aligned(scorer.correct(a, "dev", final_n), scorer.correct(b, "dev", final_n)),
                      a=a.name, b=b.name)
        out["top_two"] = {"chosen": a.hash, "runner_up": b.hash, **cmp.to_dict()}
        out["separable"] = bool(cmp.significant)
        if not cmp.significant:
            warnings.append(
                f"The dev split cannot separate the top two candidates: {cmp.diff * 100:+.1f} points on "
                f"{cmp.n} examples (McNemar p = {cmp.mcnemar_p:.2f}); on {dev_n} dev examples only gaps "
                f"above about {mdd * 100:.0f} points are detectable. Treat them as equally good — the cheaper "
                "one is as sound a choice — and grow the dev split to decide.")
    if chosen.hash != naive.hash:
        cmp = compare(*aligned(scorer.correct(chosen, "dev"), scorer.correct(naive, "dev")),
                      a="the chosen prompt", b="the naive prompt")
        out["chosen_vs_naive_dev"] = cmp.to_dict()
    if tried > 10:
        warnings.append(f"{tried} candidates were compared on the same dev split: the best dev score is "
                        "optimistic (it won partly by luck) — the test accuracy, measured once after the "
                        "choice, is the figure to quote.")
    if dev_n < 50:
        warnings.append(f"The dev split has only {dev_n} labelled examples; 100 or more make the "
                        "search's choice far more reliable.")
    return out


# --- a stored result, as figures --------------------------------------------------------


def pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def headline(result: Mapping[str, Any]) -> list[dict]:
    """The choice in four figures (chosen / naive × dev / test) from a stored result: label, value, delta, help."""
    chosen, test = result["chosen"], result["test"]
    drift = (None if test["chosen_accuracy"] is None or chosen["dev_accuracy"] is None
             else f"{(test['chosen_accuracy'] - chosen['dev_accuracy']) * 100:+.1f} pts vs dev")
    return [
        {"label": "Chosen · dev", "value": pct(chosen["dev_accuracy"]), "delta": None,
         "help": f"on {chosen['dev_n']} dev examples"},
        {"label": "Chosen · test", "value": pct(test["chosen_accuracy"]), "delta": drift,
         "help": f"measured once, after the choice, on {test['n']} test examples"},
        {"label": "Naive · dev", "value": pct(result["naive_dev_accuracy"]), "delta": None,
         "help": "bare label names, zero-shot"},
        {"label": "Naive · test", "value": pct(test["naive_accuracy"]), "delta": None, "help": None},
    ]
