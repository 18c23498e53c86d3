"""`python -m core breakeven`: when does fine-tuning pay back, and does it before the base model retires?"""

from __future__ import annotations

import datetime as dt

from core import economics as eco
from core.catalog import CatalogError, load_catalog
from core.cli import CommandError, Result

HELP = "daily cost of prompting vs a fine-tune, the training cost, the break-even day and the retirement check"


def add_arguments(parser) -> None:
    parser.add_argument("--model", required=True, help="catalog model id, alias or ft: name (see data/catalog.toml)")
    parser.add_argument("--calls-per-day", type=float, required=True)
    parser.add_argument("--prompt-tokens", type=float, required=True, help="input tokens per call of the prompted baseline")
    parser.add_argument("--finetuned-prompt-tokens", type=float, required=True, help="input tokens per call once fine-tuned")
    parser.add_argument("--output-tokens", type=float, required=True, help="output tokens per call (both approaches)")
    parser.add_argument("--training-tokens", type=float, required=True, help="tokens in the training file (one epoch)")
    parser.add_argument("--epochs", type=int, help="default: OpenAI's rule from --examples, else 3")
    parser.add_argument("--examples", type=int, help="training examples, for OpenAI's default-epochs rule")
    parser.add_argument("--rag-prompt-tokens", type=float, help="input tokens per call with RAG, to compare it too")
    parser.add_argument("--batch", action="store_true", help="price inference at the Batch API discount")
    parser.add_argument("--horizon-days", type=int, default=365, help="total cost of ownership horizon (default 365)")
    parser.add_argument("--change-every-days", type=int, help="after retirement, how often the successor base model changes")
    parser.add_argument("--shared-prefix-tokens", type=float, default=0,
                        help="tokens of the prompt prefix repeated on every call (instruction, exemplars): cacheable "
                             "from the provider's minimum (OpenAI: 1,024, then 128-token steps)")
    parser.add_argument("--cache-hit-rate", type=float, default=0.0,
                        help="share of calls that find the prefix in the provider's prompt cache (0–1, default 0)")
    parser.add_argument("--start", type=dt.date.fromisoformat, help="day the fine-tune would be trained (default today)")


def run(args) -> Result:
    try:
        catalog = load_catalog(args.workspace)
        info = catalog.get(args.model)
    except KeyError as exc:
        raise CommandError(exc.args[0]) from exc
    except CatalogError as exc:
        raise CommandError(str(exc)) from exc
    epochs = args.epochs or (eco.default_epochs(args.examples) if args.examples else eco.TARGET_EPOCHS)
    try:
        scenario = eco.Scenario(
            model=info.id, calls_per_day=args.calls_per_day, prompt_tokens=args.prompt_tokens,
            finetuned_prompt_tokens=args.finetuned_prompt_tokens, output_tokens=args.output_tokens,
            training_tokens=args.training_tokens, epochs=epochs, rag_prompt_tokens=args.rag_prompt_tokens,
            batch=args.batch, horizon_days=args.horizon_days, change_every_days=args.change_every_days,
            shared_prefix_tokens=args.shared_prefix_tokens, cache_hit_rate=args.cache_hit_rate,
        )
        result = eco.compare(info, scenario, start=args.start, successor=catalog.successor_of(info))
    except (ValueError, eco.PricingError) as exc:
        raise CommandError(str(exc)) from exc
    return Result(data=result.to_dict(), text=_text(result))


def _text(r: eco.CostComparison) -> str:
    be = "never" if r.break_even_days is None else f"{r.break_even_days:,.1f} days ({r.break_even_date})"
    lines = [
        f"{r.model} at {r.calls_per_day:,.0f} calls/day",
        f"  prompted baseline  ${r.baseline_cost_per_day:,.4f}/day"
        + (f" ({r.cached_tokens_per_call:,.0f} cached tokens/call; ${r.baseline_uncached_cost_per_day:,.4f} uncached)"
           if r.cached_tokens_per_call else ""),
        f"  fine-tuned         ${r.finetuned_cost_per_day:,.4f}/day + ${r.training_cost:,.2f} training ({r.epochs} epochs)",
        f"  break-even         {be}",
    ]
    if r.retires:
        lines.append(f"  base model retires {r.retires}: " + ("before break-even" if r.retires_before_break_even else "after break-even"))
    if r.min_calls_per_day_before_retirement is not None:
        lines.append(f"  pays back before retirement from {r.min_calls_per_day_before_retirement:,.0f} calls/day")
    lines.append(f"  {r.horizon_days}-day cost: " + ", ".join(f"{k} ${v:,.2f}" for k, v in r.tco.items()))
    lines += [f"  ! {w}" for w in r.warnings]
    return "\n".join(lines)
