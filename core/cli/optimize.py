"""`python -m core optimize`: search for the best prompt on the dev split within a budget of calls and dollars."""

from __future__ import annotations

import argparse
import sys

from core.prompts import store as prompt_store
from core.cli import CommandError, Result, open_dataset
from core.config import api_key_from_env, load_settings
from core.endpoint import Endpoint
from core.prompts.search import Budget, CallOptions, PromptSearch, Progress
from core.prompts.space import SearchSpace

HELP = "optimize the prompt on the dev split (successive halving within a call/$ budget); test accuracy once after"

EPILOG = """The search tries instruction wordings, label guidelines (none = the naive prompt, the task's,
discriminative terms from the train split), k exemplars chosen at random / class-balanced / most diverse /
retrieved per input (RAG), and plain or JSON output; on a chat backend the model also proposes instructions.
Every answer is stored: rerunning the same command makes no new calls. --budget-calls includes scoring
the chosen and the naive prompt once on the test split. Promote the chosen prompt with --promote (or on
the Prompts page): it becomes the prompted baseline Evaluate and Decide use, runnable as the printed spec."""


def add_arguments(parser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--dataset", required=True, help="'sample', a CSV path, or a stored version hash (prefix)")
    parser.add_argument("--backend", required=True, metavar="local|openai:<model>",
                        help="where candidates are scored: the local MiniLM models, or a chat model")
    parser.add_argument("--budget-calls", type=int, required=True, metavar="N",
                        help="hard cap on new calls (predictions on the local backend); cached answers are free")
    parser.add_argument("--budget-usd", type=float, metavar="X", help="hard cap in US$ (chat backends; catalog prices)")
    parser.add_argument("--meta", type=int, default=None, metavar="N",
                        help="instructions the chat model proposes from the best so far (default 4; 0 = off)")
    parser.add_argument("--retriever", choices=("minilm", "tfidf"),
                        help="similarity for RAG and most-diverse exemplars (default MiniLM if installed)")
    parser.add_argument("--seed", type=int, default=0, help="seed of exemplar choice and candidate order")
    parser.add_argument("--estimate", action="store_true", help="print the plan and its cost, make no call")
    parser.add_argument("--promote", action="store_true", help="promote the chosen prompt to the prompted baseline")
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint (default $OPENAI_BASE_URL or api.openai.com)")
    parser.add_argument("--concurrency", type=int, default=8, help="parallel calls to the endpoint (default 8)")
    parser.add_argument("--max-retries", type=int, default=6, help="retries per call; Retry-After is honoured")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per call attempt (default 60)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _fmt(x, pattern: str, none: str = "?") -> str:
    return none if x is None else format(x, pattern)


def run(args) -> Result:
    store, ds = open_dataset(args)
    try:
        budget = Budget(args.budget_calls, args.budget_usd)
        from core.prompts.search import parse_target

        backend, _ = parse_target(args.backend)
        overrides = {"seed": args.seed}
        if args.retriever:
            overrides["retriever"] = args.retriever
        if args.meta is not None:
            overrides["meta_rewrites"] = max(0, args.meta)
        space = SearchSpace.for_backend(backend, len(ds.task.labels), len(ds.split("train")), **overrides)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    calls = CallOptions(Endpoint(api_key=api_key_from_env(),
                                 base_url=args.base_url or load_settings(args.workspace).base_url),
                        concurrency=args.concurrency, max_retries=args.max_retries, timeout=args.timeout)

    def progress(p: Progress) -> None:
        if not args.quiet:
            print(f"[{p.calls_used}/{p.calls_budget} calls] {p.message}", file=sys.stderr, flush=True)

    try:
        search = PromptSearch(store, ds, args.backend, budget, space, calls, progress)
        est = search.estimate()
        if args.estimate:
            return Result(data={"dataset": ds.hash, "backend": args.backend, "estimate": est.to_dict()},
                          text=_estimate_text(est))
        result = search.run()
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    except KeyboardInterrupt as exc:
        raise CommandError("stopped: every answer so far is stored — rerun the same command to go on for free",
                           130) from exc
    data = result.to_dict()
    promoted = None
    if args.promote and result.chosen is not None:
        promoted = prompt_store.promote(store, result.chosen.hash)
        data["promoted"] = {"hash": promoted.hash, "version": promoted.version, "spec": promoted.spec}
    return Result(data=data, text=_result_text(result, promoted))


def _estimate_text(est) -> str:
    lines = [f"{est.candidates} candidates in the space; the budget tries {est.tried}"
             f"{f' (incl. {est.meta} proposed by the model)' if est.meta else ''} in {est.rounds} halving round(s), "
             f"the first on {est.first_round_n} of {est.dev_n} dev examples.",
             f"At most {est.calls} calls: search {est.search_calls}, test {est.test_calls} (chosen + naive, once). "
             f"Scoring every candidate on the whole dev split would take {est.exhaustive_calls}.",
             f"Estimated cost: {'unknown (no price)' if est.usd is None else f'${est.usd:.4f}'}."]
    lines += [f"note: {n}" for n in est.notes]
    return "\n".join(lines)


def _result_text(result, promoted) -> str:
    rows = sorted(result.candidates, key=lambda r: (-r.dev_n, -(r.dev_accuracy or 0), r.tokens_per_call or 0))
    lines = [f"{'':2}{'dev acc':>8} {'dev n':>5} {'tok/call':>8} {'$/1k':>8}  candidate"]
    for r in rows[:25]:
        mark = "*" if r.chosen else ("n" if r.naive else " ")
        lines.append(f"{mark:2}{_fmt(r.dev_accuracy, '8.1%')} {r.dev_n:>5} {_fmt(r.tokens_per_call, '8.0f')} "
                     f"{_fmt(r.cost_per_1k_usd, '8.3f')}  {r.name}  [{r.hash}]")
    if len(rows) > 25:
        lines.append(f"  … {len(rows) - 25} more (--json lists them all)")
    t = result.test
    if result.chosen is not None:
        c = result.chosen
        lines += ["", f"Chosen: {c.name}", f"  spec {c.spec}",
                  f"  dev {_fmt(c.dev_accuracy, '.1%')} (n={c.dev_n}) · test {_fmt(t['chosen_accuracy'], '.1%')} "
                  f"(n={t['n']}, measured once after the choice)",
                  f"Naive prompt (bare label names, zero-shot): dev {_fmt(result.naive_dev_accuracy, '.1%')} · "
                  f"test {_fmt(t['naive_accuracy'], '.1%')}"]
        if t.get("comparison"):
            lines.append(f"  {t['comparison']['explanation']}")
    lines += [f"Spent {result.calls_used} new calls" + (f", ${result.usd_used:.4f}" if result.usd_used else "")
              + f" of a budget of {result.budget['calls']}" + (f" / ${result.budget['usd']:g}" if result.budget['usd'] else "")
              + f" — search {result.status}."]
    lines += [f"warning: {w}" for w in result.honesty.get("warnings", [])]
    if promoted is not None:
        lines.append(f"Promoted as v{promoted.version}: the prompted baseline is now {promoted.spec}")
    return "\n".join(lines)
