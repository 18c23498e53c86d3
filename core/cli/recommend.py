"""`python -m core recommend`: the one recommendation for the runs of a dataset version and split.

The same object Home, Evaluate, Decide and the memo show (core.decision.recommendation): every
approach against the most accurate (McNemar exact, Holm-corrected, equivalence margin), then the
cheapest of the not-worse over the horizon at your volume, caching and retirement included.
"""

from __future__ import annotations

import datetime as dt

from core.cli import CommandError, Result, open_dataset

HELP = "the one recommendation from the evaluated runs: comparisons (Holm-corrected), economics, risks"


def add_arguments(parser) -> None:
    from core.decision import recommendation as rec

    d = rec.Settings()
    parser.add_argument("--dataset", required=True, help="'sample', a CSV path, or a stored version hash (prefix)")
    parser.add_argument("--split", default="test", help="the split the runs were evaluated on (default test)")
    parser.add_argument("--run", type=int, action="append", metavar="ID",
                        help="a run id to include (repeat); default: the newest runs on the split, as the pages use")
    parser.add_argument("--calls-per-day", type=float, default=d.calls_per_day, help=f"default {d.calls_per_day:,}")
    parser.add_argument("--model", default=d.model,
                        help="catalog model that prices hosted approaches not in the catalog and the fine-tune "
                             f"break-even (default {d.model})")
    parser.add_argument("--cache-hit-rate", type=float, default=d.cache_hit_rate,
                        help=f"share of calls that find the shared prompt prefix cached (0–1, default {d.cache_hit_rate})")
    parser.add_argument("--horizon-days", type=int, default=d.horizon_days, help=f"default {d.horizon_days}")
    parser.add_argument("--batch", action="store_true", help="price hosted inference at the Batch API discount")
    parser.add_argument("--self-host-usd-per-hour", type=float, default=d.self_host_usd_per_hour,
                        help="price of the machine that runs local models (default: a 2-vCPU cloud VM; see SELF_HOST_SOURCE)")
    parser.add_argument("--latency-budget-ms", type=float, help="per-call latency the product can afford")
    parser.add_argument("--margin-points", type=float, default=d.margin * 100,
                        help="equivalence margin in accuracy points (default 2)")
    parser.add_argument("--start", type=dt.date.fromisoformat, help="the day the costs start (default today)")


def run(args) -> Result:
    from core.decision import recommendation as rec

    store, ds = open_dataset(args)
    try:
        settings = rec.Settings(model=args.model, calls_per_day=args.calls_per_day, horizon_days=args.horizon_days,
                                cache_hit_rate=args.cache_hit_rate, batch=args.batch,
                                self_host_usd_per_hour=args.self_host_usd_per_hour,
                                latency_budget_ms=args.latency_budget_ms, margin=args.margin_points / 100,
                                start=args.start)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    run_ids = args.run or rec.default_run_ids(store, ds.hash, args.split)
    if not run_ids:
        raise CommandError(f"no runs on the {args.split} split of {ds.hash}: run `python -m core evaluate` first", 1)
    try:
        r = rec.for_runs(store, ds, run_ids, settings)
    except KeyError as exc:
        raise CommandError(str(exc.args[0])) from exc
    data = r.to_dict()
    return Result(data=data, text=text(r))


def text(r) -> str:
    lines = [r.headline, ""]
    lines += [f"- {x}" for x in r.reasons]
    if r.comparisons:
        lines.append("")
        lines.append(f"{'approach':<38} {'acc':>6} {'diff':>7} {'p':>8} {'p_holm':>8}  outcome")
        for c in r.comparisons:
            p = "" if c.p is None else f"{c.p:.3g}"
            ph = "" if c.p_holm is None else f"{c.p_holm:.3g}"
            more = f" (~{c.more_examples_needed:,} more examples)" if c.more_examples_needed else ""
            lines.append(f"{c.approach:<38} {c.accuracy:>6.1%} {c.diff * 100:>+6.1f} {p:>8} {ph:>8}  {c.outcome}{more}")
    for title, items in (("Trade-offs", r.tradeoffs), ("Risks", r.risks), ("Contradicted answers", r.contradictions)):
        if items:
            lines += ["", f"{title}:"] + [f"- {x}" for x in items]
    lines.append(f"\nConfidence: {r.confidence}")
    return "\n".join(lines)
