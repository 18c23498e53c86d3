"""Break-even economics: what each approach costs per call, per day, up front and over its lifetime.

Pure functions over catalog rows (core.catalog.ModelInfo). Money is US$ as
float; days are float days from the start date. The lifecycle matters as much
as the prices: a fine-tune that pays back after its base model retires never
pays back at all.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field

from core.catalog import ModelInfo

PER_1M = 1_000_000

# OpenAI's default n_epochs ("auto"), as its fine-tuning cookbook computes it: 3 epochs, changed so
# that examples × epochs lands in 100–25,000, never outside 1–25 epochs.
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25


# Self-hosting: a machine's price per hour, spread over the calls it answers in that hour (measured
# throughput). The default is a 2-vCPU / 8 GiB cloud VM, like the machine the lab's local figures
# were measured on.
DEFAULT_SELF_HOST_USD_PER_HOUR = 0.1008
SELF_HOST_SOURCE = ("AWS EC2 on-demand, m7i.large (2 vCPU, 8 GiB), us-east-1, Linux: $0.1008/hour "
                    "(https://aws.amazon.com/ec2/pricing/on-demand/, as last read; checked 2026-11-30, "
                    "not re-verifiable offline)")


def self_hosted_cost_per_call(usd_per_hour: float, latency_ms: float | None, parallel: int = 1) -> float | None:
    """US$ per call of a model on your own machine: its $/hour ÷ calls answered per hour (measured latency).

    None when the latency was not measured. `parallel`: calls the machine answers at once.
    """
    if usd_per_hour < 0:
        raise ValueError("a machine cannot cost less than nothing")
    if latency_ms is None:
        return None
    calls_per_hour = 3_600_000 / max(latency_ms, 1e-3) * max(parallel, 1)
    return usd_per_hour / calls_per_hour


def cached_tokens_per_call(info: ModelInfo, shared_prefix_tokens: float, hit_rate: float) -> float:
    """Input tokens per call billed at the cached price: the cacheable part of the shared prefix × hit rate."""
    if not 0 <= hit_rate <= 1:
        raise ValueError("the cache hit rate is a share between 0 and 1")
    return info.cacheable_tokens(shared_prefix_tokens) * hit_rate


class PricingError(ValueError):
    """The catalog row lacks a price the calculation needs (e.g. a model with no fine-tuned price)."""


def _price(info: ModelInfo, field_name: str) -> float:
    value = getattr(info, field_name)
    if value is None:
        raise PricingError(f"{info.id} has no {field_name.replace('_per_1m', '').replace('_', ' ')} price in the catalog")
    return value


def inference_cost_usd(
    info: ModelInfo,
    input_tokens: float,
    output_tokens: float,
    fine_tuned: bool = False,
    batch: bool = False,
    cached_input_tokens: float = 0,
) -> float:
    """US$ for one call (or a total of calls) with these token counts.

    `cached_input_tokens` is the part of `input_tokens` served from the prompt cache;
    a row without a cached price bills them at the full input price.
    """
    if min(input_tokens, output_tokens, cached_input_tokens) < 0:
        raise ValueError("token counts cannot be negative")
    cached_input_tokens = min(cached_input_tokens, input_tokens)
    prefix = "ft_" if fine_tuned else ""
    input_price = _price(info, f"{prefix}input_per_1m")
    cached_price = getattr(info, f"{prefix}cached_input_per_1m")
    cached_price = input_price if cached_price is None else cached_price
    cost = (
        (input_tokens - cached_input_tokens) * input_price
        + cached_input_tokens * cached_price
        + output_tokens * _price(info, f"{prefix}output_per_1m")
    ) / PER_1M
    return cost * (1 - info.batch_discount) if batch else cost


def training_cost_usd(info: ModelInfo, trained_tokens: float) -> float:
    """US$ for a fine-tuning job billed for `trained_tokens` (= tokens in the file × epochs)."""
    if trained_tokens < 0:
        raise ValueError("trained tokens cannot be negative")
    return trained_tokens * _price(info, "training_per_1m") / PER_1M


def default_epochs(n_examples: int) -> int:
    """OpenAI's default epochs for a training file of `n_examples` examples."""
    if n_examples <= 0:
        raise ValueError("a training file needs at least one example")
    if n_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_examples)
    if n_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_examples)
    return TARGET_EPOCHS


@dataclass(frozen=True)
class TrainingEstimate:
    epochs: int
    tokens_per_epoch: int
    billed_tokens: int
    cost_usd: float


def estimate_training(
    info: ModelInfo, example_tokens: list[int], epochs: int | None = None
) -> TrainingEstimate:
    """Billed tokens and US$ of fine-tuning on examples of these token lengths.

    Examples longer than the model's per-example limit are counted at the limit
    (the provider truncates or rejects them; the Dataset page flags them).
    """
    epochs = epochs or default_epochs(len(example_tokens))
    cap = info.max_example_tokens or math.inf
    per_epoch = int(sum(min(t, cap) for t in example_tokens))
    billed = per_epoch * epochs
    return TrainingEstimate(epochs, per_epoch, billed, training_cost_usd(info, billed))


# --- approaches over time ----------------------------------------------------------------------

@dataclass(frozen=True)
class ApproachCost:
    """One approach's costs: per call, once up front, and again each time the base model changes."""

    name: str
    cost_per_call: float
    upfront_usd: float = 0.0
    retrain_usd: float = 0.0

    def per_day(self, calls_per_day: float) -> float:
        return self.cost_per_call * calls_per_day

    def cumulative(self, day: float, calls_per_day: float, retrain_days: tuple[float, ...] = ()) -> float:
        """Total spent by the end of `day` (training paid on day 0 and on every retraining day reached)."""
        retrains = sum(1 for r in retrain_days if r <= day)
        return self.upfront_usd + retrains * self.retrain_usd + self.per_day(calls_per_day) * day


def break_even_days(baseline: ApproachCost, candidate: ApproachCost, calls_per_day: float) -> float | None:
    """Days until `candidate` (paying more up front, less per call) has cost no more than `baseline`.

    0 when it is never more expensive; None when it never catches up.
    """
    extra_upfront = candidate.upfront_usd - baseline.upfront_usd
    saving_per_day = baseline.per_day(calls_per_day) - candidate.per_day(calls_per_day)
    if extra_upfront <= 0 and saving_per_day >= 0:
        return 0.0
    if saving_per_day <= 0:
        return None
    return extra_upfront / saving_per_day


def calls_to_break_even_within(baseline: ApproachCost, candidate: ApproachCost, days: float) -> float | None:
    """The smallest calls/day at which `candidate` pays back within `days` (None: never, at any volume)."""
    saving_per_call = baseline.cost_per_call - candidate.cost_per_call
    extra_upfront = candidate.upfront_usd - baseline.upfront_usd
    if extra_upfront <= 0:
        return 0.0
    if saving_per_call <= 0 or days <= 0:
        return None
    return extra_upfront / (saving_per_call * days)


def retires_before_break_even(
    break_even: float | None, retires: dt.date | None, start: dt.date | None = None
) -> bool | None:
    """True when the base model retires before the fine-tune has paid back (or it never pays back).

    None when the model has no announced retirement date.
    """
    if retires is None:
        return None
    if break_even is None:
        return True
    start = start or dt.date.today()
    return start + dt.timedelta(days=break_even) > retires


def days_until(when: dt.date | None, start: dt.date | None = None) -> int | None:
    if when is None:
        return None
    return (when - (start or dt.date.today())).days


def retraining_days(
    horizon_days: int, first_change_day: int | None, change_every_days: int | None = None
) -> tuple[int, ...]:
    """Days within the horizon on which the base model changes and a fine-tune must be trained again.

    The first change is the base model's retirement (if announced); after it the
    successor is assumed to change every `change_every_days` (None: no further change).
    """
    if first_change_day is None or first_change_day > horizon_days:
        return ()
    days = [max(first_change_day, 0)]
    while change_every_days and days[-1] + change_every_days <= horizon_days:
        days.append(days[-1] + change_every_days)
    return tuple(days)


# --- the standard comparison: prompt vs fine-tuned (vs RAG) on one model ---------------------------

@dataclass(frozen=True)
class Scenario:
    """What the break-even question needs; token counts are per call, training tokens per epoch."""

    model: str
    calls_per_day: float
    prompt_tokens: float                  # input tokens of the prompted baseline (system prompt + ticket)
    finetuned_prompt_tokens: float        # input tokens once fine-tuned (the instruction is trained in)
    output_tokens: float
    training_tokens: float                # tokens in the training file (one epoch)
    epochs: int = TARGET_EPOCHS
    rag_prompt_tokens: float | None = None  # input tokens with retrieved examples, if RAG is compared
    batch: bool = False
    horizon_days: int = 365
    change_every_days: int | None = None  # how often a successor base model changes after retirement
    shared_prefix_tokens: float = 0       # the prompt's prefix repeated on every call (instruction, exemplars)
    cache_hit_rate: float = 0.0           # share of calls that find that prefix in the provider's cache

    def __post_init__(self):
        if self.calls_per_day < 0:
            raise ValueError("calls per day cannot be negative")
        if not 0 <= self.cache_hit_rate <= 1:
            raise ValueError("the cache hit rate is a share between 0 and 1")
        if self.shared_prefix_tokens < 0:
            raise ValueError("the shared prefix cannot be negative")
        if not 1 <= self.epochs <= MAX_DEFAULT_EPOCHS:
            raise ValueError(f"epochs must be between 1 and {MAX_DEFAULT_EPOCHS}")


def has_fine_tuned_prices(info: ModelInfo) -> bool:
    return None not in (info.training_per_1m, info.ft_input_per_1m, info.ft_output_per_1m)


def scenario_cached_tokens(info: ModelInfo, s: Scenario) -> float:
    """Cached input tokens per prompted call: the cacheable shared prefix (within the prompt) × hit rate."""
    return cached_tokens_per_call(info, min(s.shared_prefix_tokens, s.prompt_tokens), s.cache_hit_rate)


def approach_costs(info: ModelInfo, s: Scenario) -> dict[str, ApproachCost]:
    """The approaches of a scenario, keyed by name: prompt, fine-tuned (when the row prices it) and RAG (when given).

    Prompting and RAG send the shared prefix first (RAG's retrieved examples come after it), so both
    get the cached price on its cacheable part; the fine-tuned prompt is the ticket alone.
    """
    cached = scenario_cached_tokens(info, s)
    out = {"prompt": ApproachCost("prompt", inference_cost_usd(info, s.prompt_tokens, s.output_tokens, batch=s.batch,
                                                               cached_input_tokens=cached))}
    if has_fine_tuned_prices(info):
        training = training_cost_usd(info, s.training_tokens * s.epochs)
        out["fine-tuned"] = ApproachCost(
            "fine-tuned",
            inference_cost_usd(info, s.finetuned_prompt_tokens, s.output_tokens, fine_tuned=True, batch=s.batch),
            upfront_usd=training,
            retrain_usd=training,
        )
    if s.rag_prompt_tokens is not None:
        out["rag"] = ApproachCost("rag", inference_cost_usd(info, s.rag_prompt_tokens, s.output_tokens, batch=s.batch,
                                                            cached_input_tokens=min(cached, s.rag_prompt_tokens)))
    return out


@dataclass(frozen=True)
class CostComparison:
    """The break-even answer, as the CLI prints it (keys are a stable contract: add, never rename).

    The fine-tuned fields are None for a model the catalog gives no fine-tuning prices.
    """

    model: str
    calls_per_day: float
    baseline_cost_per_call: float
    finetuned_cost_per_call: float | None
    baseline_cost_per_day: float
    finetuned_cost_per_day: float | None
    training_cost: float | None
    epochs: int
    break_even_days: float | None
    break_even_date: str | None
    retires: str | None
    no_new_jobs: str | None
    retires_before_break_even: bool | None
    fine_tuning_open: bool
    horizon_days: int
    retraining_days: list[int]
    tco: dict[str, float]
    rag_cost_per_day: float | None = None
    warnings: list[str] = field(default_factory=list)
    min_calls_per_day_before_retirement: float | None = None  # volume needed to pay back before the base model retires
    cached_tokens_per_call: float = 0.0          # prompted input tokens billed at the cached price
    baseline_uncached_cost_per_day: float | None = None  # the prompted baseline without prompt caching
    successor: str | None = None                 # the catalog's successor of the base model
    finetune_path_ends: str | None = None        # retirement day with no fine-tunable successor (None: it goes on)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def pays_back_before_retirement(self) -> bool | None:
        """True: the fine-tune pays back before its base model retires; False: only after it, or never;
        None: nothing to say (no fine-tuned prices, or no retirement date)."""
        return None if self.retires_before_break_even is None else not self.retires_before_break_even


def successor_fine_tunable(info: ModelInfo, successor: ModelInfo | None) -> bool:
    """Whether the catalog names a successor that can still be fine-tuned on the day this model retires."""
    return successor is not None and info.retires is not None and successor.can_start_jobs(info.retires)


def compare(info: ModelInfo, s: Scenario, start: dt.date | None = None,
            successor: ModelInfo | None = None) -> CostComparison:
    """Prompting vs fine-tuning (vs RAG) on one model: daily costs, break-even, lifecycle and total cost.

    When the base model retires within the horizon, the fine-tune is re-trained on the catalog's
    successor only if that successor can be fine-tuned (`successor`, its row; assumed to cost what
    this model costs); otherwise the fine-tune path ends at retirement and the total cost counts
    the prompted baseline from that day (prompting moves to a successor without training).
    """
    start = start or dt.date.today()
    costs = approach_costs(info, s)
    base, ft = costs["prompt"], costs.get("fine-tuned")
    be = break_even_days(base, ft, s.calls_per_day) if ft else None
    change_day = days_until(info.retires, start)
    goes_on = successor_fine_tunable(info, successor)
    retrain = retraining_days(s.horizon_days, change_day, s.change_every_days) if ft and goes_on else ()
    ends_day = change_day if ft and not goes_on and change_day is not None and change_day <= s.horizon_days else None
    tco = {}
    for name, c in costs.items():
        if c.retrain_usd and ends_day is not None:
            end = max(ends_day, 0)
            tco[name] = c.cumulative(end, s.calls_per_day) + base.per_day(s.calls_per_day) * (s.horizon_days - end)
        else:
            tco[name] = c.cumulative(s.horizon_days, s.calls_per_day, retrain if c.retrain_usd else ())
    to_retirement = days_until(info.retires, start)
    min_calls = calls_to_break_even_within(base, ft, to_retirement) if ft and to_retirement is not None else None
    warnings = []
    open_ = info.can_start_jobs(start)
    flag = retires_before_break_even(be, info.retires, start) if ft else None
    if ft is None:
        warnings.append(f"{info.id} has no fine-tuning prices in the catalog: only prompting and RAG are priced")
    elif not open_:
        warnings.append(
            f"{info.id} accepts no new fine-tuning jobs on {start.isoformat()}"
            + (f" (stopped {info.no_new_jobs.isoformat()})" if info.no_new_jobs else "")
            + ": price the fine-tune on another provider or a local model"
        )
    if ft is not None and be is None:
        warnings.append(f"the fine-tune never pays back at {s.calls_per_day:,.0f} calls/day")
    elif flag:
        warnings.append(f"{info.id} retires on {info.retires.isoformat()}, before the fine-tune pays back")
    if ends_day is not None:
        warnings.append(f"the fine-tune path ends on {info.retires.isoformat()}: {info.id} retires and the catalog names "
                        + ("no successor" if info.successor is None else f"a successor ({info.successor}) that cannot be fine-tuned")
                        + " — from then on the total cost counts prompting")
    return CostComparison(
        model=info.id,
        calls_per_day=s.calls_per_day,
        baseline_cost_per_call=base.cost_per_call,
        finetuned_cost_per_call=ft.cost_per_call if ft else None,
        baseline_cost_per_day=base.per_day(s.calls_per_day),
        finetuned_cost_per_day=ft.per_day(s.calls_per_day) if ft else None,
        training_cost=ft.upfront_usd if ft else None,
        epochs=s.epochs,
        break_even_days=be,
        break_even_date=None if be is None else (start + dt.timedelta(days=math.ceil(be))).isoformat(),
        retires=info.retires.isoformat() if info.retires else None,
        no_new_jobs=info.no_new_jobs.isoformat() if info.no_new_jobs else None,
        retires_before_break_even=flag,
        fine_tuning_open=open_,
        horizon_days=s.horizon_days,
        retraining_days=list(retrain),
        tco=tco,
        rag_cost_per_day=costs["rag"].per_day(s.calls_per_day) if "rag" in costs else None,
        warnings=warnings,
        min_calls_per_day_before_retirement=min_calls,
        cached_tokens_per_call=scenario_cached_tokens(info, s),
        baseline_uncached_cost_per_day=inference_cost_usd(info, s.prompt_tokens, s.output_tokens, batch=s.batch)
        * s.calls_per_day,
        successor=info.successor,
        finetune_path_ends=None if ends_day is None else info.retires.isoformat(),
    )


# --- series for the charts (pure data; core/decision/charts.py draws them) -----------------------

# The call-volume slider: a 1-2-5 series from 10 to 10,000,000 calls/day (even steps on a log scale).
CALL_VOLUME_STEPS: tuple[int, ...] = tuple(m * 10**e for e in range(1, 8) for m in (1, 2, 5) if m * 10**e <= 10_000_000)


def log_spaced(lo: float, hi: float, n: int) -> list[float]:
    """n values evenly spaced on a log scale from lo to hi, both included."""
    step = (math.log10(hi) - math.log10(lo)) / (n - 1)
    return [10 ** (math.log10(lo) + i * step) for i in range(n)]


def cumulative_series(
    costs: dict[str, ApproachCost], calls_per_day: float, horizon_days: int,
    retrain: tuple[int, ...] = (), start: dt.date | None = None, ends_day: int | None = None,
) -> list[dict]:
    """Cumulative US$ per approach per day (day 0 = training day), with the retraining steps; a
    trained approach's line stops at `ends_day` (its path ends at retirement)."""
    start = start or dt.date.today()
    rows = []
    for day in range(horizon_days + 1):
        for name, c in costs.items():
            if c.retrain_usd and ends_day is not None and day > ends_day:
                continue
            rows.append({
                "day": day, "date": (start + dt.timedelta(days=day)).isoformat(), "approach": name,
                "cumulative_usd": c.cumulative(day, calls_per_day, retrain if c.retrain_usd else ()),
            })
    return rows


def break_even_curve(
    baseline: ApproachCost, candidate: ApproachCost, calls: list[float] | None = None
) -> list[dict]:
    """Break-even days across call volumes (None where it never pays back)."""
    calls = calls or log_spaced(10, 10_000_000, 61)
    return [{"calls_per_day": c, "break_even_days": break_even_days(baseline, candidate, c)} for c in calls]


def cost_per_1k(costs: dict[str, ApproachCost]) -> list[dict]:
    return [{"approach": name, "usd_per_1k_calls": c.cost_per_call * 1000} for name, c in costs.items()]


# --- token counts per call, from the task's own prompt and examples -----------------------------

@dataclass(frozen=True)
class TokenProfile:
    """Typical tokens per call of each approach, counted with the model's tokenizer (guesses until measured)."""

    system_prompt_tokens: int
    prompt_tokens: float            # system prompt + ticket, with the chat framing
    finetuned_prompt_tokens: float  # the ticket alone: the instruction is trained into the weights
    rag_prompt_tokens: float        # the prompt plus k retrieved labelled examples
    output_tokens: float            # the label
    training_tokens: int            # one epoch of the training file (ticket + label per example)
    training_examples: int


# Guesses per call until the task's examples or measured runs say better: a short ticket with its chat framing,
# eight retrieved examples for RAG, a label of a few tokens; a training file of 100 such examples.
GUESS_TICKET_TOKENS = 60
GUESS_RAG_EXTRA_TOKENS = 600
GUESS_OUTPUT_TOKENS = 3
GUESS_TRAINING_EXAMPLES = 100
GUESS_TRAINING_TOKENS = 10_000


def guessed_profile(system_prompt_tokens: int) -> TokenProfile:
    """Token counts per call when there are no labelled examples to count: the system prompt plus guesses."""
    return TokenProfile(
        system_prompt_tokens=system_prompt_tokens,
        prompt_tokens=system_prompt_tokens + GUESS_TICKET_TOKENS,
        finetuned_prompt_tokens=GUESS_TICKET_TOKENS,
        rag_prompt_tokens=system_prompt_tokens + GUESS_RAG_EXTRA_TOKENS,
        output_tokens=GUESS_OUTPUT_TOKENS,
        training_tokens=GUESS_TRAINING_TOKENS,
        training_examples=GUESS_TRAINING_EXAMPLES,
    )


def token_profile(
    system_prompt: str, texts: list[str], labels: list[str], model: str, train_texts: list[str] | None = None,
    train_labels: list[str] | None = None, rag_k: int = 8,
) -> TokenProfile:
    """Mean per-call tokens over the given tickets; training tokens over the train examples (default: all)."""
    from core.tokens import count_chat_tokens, count_tokens, count_tokens_batch

    if not texts:
        raise ValueError("token_profile needs at least one example text")
    system = count_tokens(system_prompt, model)
    ticket_tokens = count_tokens_batch(texts, model)
    ticket = sum(ticket_tokens) / len(ticket_tokens)
    label = sum(count_tokens_batch(labels, model)) / len(labels) if labels else 1.0
    framing = count_chat_tokens([{"role": "system", "content": ""}, {"role": "user", "content": ""}], model)
    prompt = system + ticket + framing
    finetuned = ticket + count_chat_tokens([{"role": "user", "content": ""}], model)
    train_texts = texts if train_texts is None else train_texts
    train_labels = labels if train_labels is None else train_labels
    per_example = [
        count_chat_tokens([{"role": "user", "content": t}, {"role": "assistant", "content": y}], model)
        for t, y in zip(train_texts, train_labels)
    ]
    return TokenProfile(
        system_prompt_tokens=system,
        prompt_tokens=prompt,
        finetuned_prompt_tokens=finetuned,
        rag_prompt_tokens=prompt + rag_k * (ticket + label + 4),  # "Ticket: …\nCategory: …\n\n" per example
        output_tokens=label,
        training_tokens=sum(per_example),
        training_examples=len(per_example),
    )
