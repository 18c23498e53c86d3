"""The economic scenario of the Decide page and the memo, before and after the arithmetic.

Before: token counts per call, counted from the task's own prompt and labelled examples with the model's
tokenizer, or — without labelled examples — the system prompt plus guesses. After: what a comparison
(core/economics.py) says, as the figures and sentences the page and the memo show.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import economics as eco
from core.catalog import Catalog, ModelInfo
from core.data.dataset import Dataset


@dataclass(frozen=True)
class Figure:
    label: str
    value: str
    delta: str | None = None
    help: str | None = None


def _money(v: float | None) -> str:
    return "—" if v is None else f"${v:,.2f}"


_PROFILES: dict[tuple[str, str, str], eco.TokenProfile | None] = {}


def dataset_profile(dataset: Dataset, system_prompt: str, model: str) -> eco.TokenProfile | None:
    """Tokens per call of each approach, counted over the labelled examples (training tokens over the labelled
    train split, or every labelled example when the split has none). None: no labelled example to count.
    Remembered per dataset version, prompt and model (a version's examples never change): a Decide slider
    rerun does not count 1,290 tickets again."""
    key = (dataset.hash, system_prompt, model)
    if key not in _PROFILES:
        if len(_PROFILES) > 64:
            _PROFILES.clear()
        _PROFILES[key] = _count_profile(dataset, system_prompt, model)
    return _PROFILES[key]


def _count_profile(dataset: Dataset, system_prompt: str, model: str) -> eco.TokenProfile | None:
    labelled = dataset.labelled
    if not labelled:
        return None
    train = [e for e in dataset.split("train") if e.label] or labelled
    return eco.token_profile(system_prompt, [e.text for e in labelled], [e.label for e in labelled], model,
                             [e.text for e in train], [e.label for e in train])


def token_defaults(dataset: Dataset | None, system_prompt: str, model: str,
                   system_prompt_tokens: int) -> eco.TokenProfile:
    """What the token inputs start from: counted from the dataset when it has labelled examples, else guessed."""
    counted = dataset_profile(dataset, system_prompt, model) if dataset is not None else None
    return counted or eco.guessed_profile(system_prompt_tokens)


def headline(c: eco.CostComparison, info: ModelInfo, training_tokens: float, epochs: int) -> list[Figure]:
    """The four figures above the charts: prompting and fine-tuned cost per day (with the difference), the
    one-time training cost, and the break-even day ("never" when the fine-tune never pays back)."""
    diff = None if c.finetuned_cost_per_day is None else f"{c.finetuned_cost_per_day - c.baseline_cost_per_day:+,.2f} $/day"
    return [
        Figure("Prompted baseline / day", _money(c.baseline_cost_per_day)),
        Figure("Fine-tuned / day", _money(c.finetuned_cost_per_day), delta=diff),
        Figure("Training (one-time)", _money(c.training_cost),
               help=f"{training_tokens:,} tokens × {epochs} epochs × ${info.training_per_1m or 0:g}/1M"),
        Figure("Break-even", "never" if c.break_even_days is None else f"{c.break_even_days:,.1f} days",
               help="Days until training plus fine-tuned calls cost no more than prompting."),
    ]


def payback_sentences(c: eco.CostComparison) -> tuple[str | None, str | None]:
    """(good news, volume needed): that the fine-tune pays back before its base model retires, and how many
    calls a day it needs to — None where there is nothing to say."""
    good = (f"Pays back on {c.break_even_date}, before {c.model} retires on {c.retires}."
            if c.pays_back_before_retirement else None)
    need = None if c.min_calls_per_day_before_retirement is None else (
        f"To pay back before {c.model} retires ({c.retires}) the fine-tune needs at least "
        f"**{c.min_calls_per_day_before_retirement:,.0f} calls/day** at these token counts.")
    return good, need


def retraining_sentence(c: eco.CostComparison) -> str | None:
    """Why the cumulative cost steps up (a re-training on a fine-tunable successor) or the fine-tune line stops
    (no fine-tunable successor: the path ends at retirement); None when neither happens within the horizon."""
    if c.finetune_path_ends:
        return (f"The fine-tune line stops on {c.finetune_path_ends}: {c.model} retires and the catalog names "
                + ("no successor" if not c.successor else f"a successor ({c.successor}) that cannot be fine-tuned")
                + ", so the fine-tune path ends there; from then the total counts prompting. Total over the horizon: "
                + ", ".join(f"{k} ${v:,.2f}" for k, v in c.tco.items()) + ".")
    if not c.retraining_days:
        return None
    return (f"The step on day {c.retraining_days[0]} is re-training on a successor when {c.model} retires "
            "(assumed to cost what this model costs). Total over the horizon: "
            + ", ".join(f"{k} ${v:,.2f}" for k, v in c.tco.items()) + ".")


def cost_per_1k_rows(costs: dict[str, eco.ApproachCost], catalog: Catalog) -> tuple[list[dict], str | None]:
    """Cost per 1,000 calls of each approach, with the catalog's local model at $0 when it lists one, and the
    sentence that says what "local" stands for."""
    rows = eco.cost_per_1k(costs)
    local = next((m for m in catalog if m.provider == "local"), None)
    if local is None:
        return rows, None
    return rows + [{"approach": "local", "usd_per_1k_calls": 0.0}], (
        f"local = {local.display_name}: $0 per call, {local.latency_ms or '?'} ms ({local.latency_note or local.source}).")


def recommendation_sentence(recommendations) -> str:
    """The framework's recommendations in one sentence, with the rules that fired (for the memo)."""
    return ("Recommended by the decision framework: "
            + "; ".join(f"{r.title} ({', '.join(r.rules)})" for r in recommendations) + ".")
