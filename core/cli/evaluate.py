"""`python -m core evaluate`: every approach on the same frozen split — metrics, significance, verdict."""

from __future__ import annotations

import sys

from core.data import dataset as datasets
from core.evaluation import report as reports
from core.evaluation import runs
from core.backends import approach_from_spec, describe, family, model_of
from core.cli import CommandError, Result, open_dataset
from core.config import api_key_from_env, load_settings

HELP = "evaluate approaches on a dataset split: accuracy, macro-F1, latency, cost, McNemar p, verdict"

EXAMPLES = """approach specs:
  local:zero-shot  local:few-shot:k=8  local:rag:k=8  local:setfit:<model>  classical:tfidf-lr  (classifiers: no LM asked)
  openai:<model>:zero-shot  openai:<model>:few-shot:k=N  openai:<model>:rag:k=N  (add :batch=true for the Batch API)
The endpoint comes from --base-url or $OPENAI_BASE_URL, the key from $OPENAI_API_KEY; a hosted provider's
fine-tune (spec …:provider=together|fireworks) answers on that provider's endpoint with $TOGETHER_API_KEY / …
Runs resume: rerunning the same command predicts only what is missing and pays for nothing twice."""


def add_arguments(parser) -> None:
    parser.epilog = EXAMPLES
    import argparse

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--dataset", required=True, help="'sample', a CSV path, or a stored version hash (prefix)")
    parser.add_argument("--split", default="test", choices=datasets.SPLITS, help="split to evaluate on (default test)")
    parser.add_argument("--approach", action="append", required=True, metavar="SPEC",
                        help="an approach spec; repeat for several (the first two are compared)")
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint (default $OPENAI_BASE_URL or api.openai.com)")
    parser.add_argument("--concurrency", type=int, default=8, help="parallel calls to the endpoint (default 8)")
    parser.add_argument("--max-retries", type=int, default=6, help="retries per call; Retry-After is honoured")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per call attempt (default 60)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def run(args) -> Result:
    store, ds = open_dataset(args)
    if not runs.split_examples(ds, args.split):
        raise CommandError(f"dataset {ds.hash} has no labelled examples in the {args.split} split")
    options = dict(store=store, api_key=api_key_from_env(), base_url=args.base_url or load_settings(args.workspace).base_url,
                   concurrency=args.concurrency, max_retries=args.max_retries, timeout=args.timeout)
    try:
        approaches = [approach_from_spec(spec, **options) for spec in args.approach]
    except ValueError as exc:
        raise CommandError(str(exc)) from exc

    def progress(spec: str, done: int, total: int) -> None:
        if not args.quiet and (done == total or done % max(1, total // 10) == 0):
            print(f"{spec}: {done}/{total}", file=sys.stderr, flush=True)

    try:
        run_list = runs.evaluate(store, ds, approaches, args.split, progress)
    except (ValueError, RuntimeError, ImportError) as exc:
        raise CommandError(str(exc)) from exc
    rep = reports.build(store, run_list, ds.task.label_names)
    summary = rep.summary()
    data = {
        "dataset": ds.hash,
        "split": args.split,
        "approaches": [{"approach": name, "name": describe(r.approach), "family": family(r.approach),
                        "model": model_of(r.approach), "run_id": r.id, "status": r.status, **summary[name]}
                       for name, r in zip(summary, run_list)],
    }
    # The one recommendation (core.decision.recommendation, default economics): what `recommend` and every page say.
    from core.decision import recommendation as recs

    rec = recs.recommend(store, ds, rep)
    best = next((c for c in rec.comparisons if c.approach == rec.recommended), None)
    data["verdict"] = {"recommended": rec.recommended,
                       "reason": "most-accurate" if best is None or best.outcome == "best" else "not-worse-and-cheaper",
                       "significant": any(c.outcome in ("better", "worse") for c in rec.comparisons),
                       "sentence": rec.headline}
    data["recommendation"] = rec.to_dict()
    failed = [r.approach for r in run_list if r.status != "finished"]
    lines = [f"{'approach':<52} {'family':<10} {'acc':>6} {'F1':>6} {'invalid':>7} {'p50 ms':>8} {'p95 ms':>8} {'$/1k':>8} {'n':>5}"]
    for row in data["approaches"]:
        cost = "?" if row["cost_per_1k_usd"] is None else f"{row['cost_per_1k_usd']:.3f}"
        p50 = "-" if row["latency_p50_ms"] is None else f"{row['latency_p50_ms']:.1f}"
        p95 = "-" if row["latency_p95_ms"] is None else f"{row['latency_p95_ms']:.1f}"
        lines.append(f"{row['name'][:52]:<52} {row['family']:<10} {row['accuracy']:>6.1%} {row['macro_f1']:>6.3f} {row['invalid_rate']:>7.1%}"
                     f" {p50:>8} {p95:>8} {cost:>8} {row['n']:>5}")
    if rep.comparison is not None:
        c = rep.comparison
        lines.append(f"\nMcNemar p = {c.mcnemar_p:.3g}; difference {c.diff:+.1%} "
                     f"(95 % CI {c.diff_ci95[0]:+.1%} to {c.diff_ci95[1]:+.1%}). {c.explanation}")
    lines.append(f"\nRecommendation: {rec.headline} (details: python -m core recommend --dataset {ds.hash[:12]})")
    if failed:
        lines.append(f"\nSome calls failed for {', '.join(failed)}: rerun the same command to retry only those.")
    return Result(data=data, text="\n".join(lines), exit_code=1 if failed else 0)
