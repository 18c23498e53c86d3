"""Guards before a launch: the budget, public mode, and the size of local trainings on a shared machine.

Pure functions: the page passes what it knows (the budget typed, the public-mode
settings, whether core.public_mode resolved an endpoint paid actions may use),
the CLI passes its flags. Who may spend money is decided once, in
core/public_mode.py; this module adds what is particular to training.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.public_mode import PublicMode, local_training_allowed
from core.training.options import Estimate

# Public mode also caps a local training's time: the demo's machine is shared by every visitor.
PUBLIC_MAX_LOCAL_SECONDS = 300


@dataclass(frozen=True)
class LaunchCheck:
    allowed: bool
    reasons: tuple[str, ...] = ()   # why not, one sentence each
    confirm: str = ""               # what the user confirms: the estimate in words


def public_mode_note(mode: PublicMode) -> str | None:
    """What a visitor of the public demo may train, and with whose key (None: not a public demo)."""
    if not mode.enabled:
        return None
    return (f"Public demo: local training is open to everyone (up to {mode.max_local_train_examples} examples, "
            "a few minutes, one at a time); hosted fine-tuning needs your own API key or the owner's password "
            "in the sidebar.")


def describe(estimate: Estimate) -> str:
    """The estimate as the sentence the user confirms."""
    when = (f"about {duration(estimate.seconds)} on this machine" if estimate.seconds is not None
            else "a provider-dependent time")
    cost = "no API cost" if estimate.cost_usd == 0 and estimate.seconds is not None else f"about ${estimate.cost_usd:,.2f}"
    return f"Train on {estimate.examples} examples: {when}, {cost}."


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "provider-dependent"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def check_launch(backend: str, estimate: Estimate, *, budget_usd: float | None = None, price_known: bool = True,
                 mode: PublicMode = PublicMode(), endpoint_ok: bool = True, running_local_jobs: int = 0) -> LaunchCheck:
    """Whether a launch may go ahead, and if not every reason why.

    `endpoint_ok`: a hosted endpoint paid actions may use was resolved (core.endpoint.resolve_endpoint).
    """
    reasons = []
    hosted = not backend.startswith("local")
    if hosted and not endpoint_ok:
        reasons.append("Public mode: hosted fine-tuning needs the owner's password or your own API key "
                       "(kept in this browser session only). Local training is open to everyone."
                       if mode.enabled else
                       "Configure the fine-tuning endpoint first: an API key (and a base URL for another server) "
                       "in the sidebar's endpoint settings.")
    if budget_usd is not None:
        if hosted and not price_known:
            reasons.append("The base model has no training price in the catalog, so the budget cannot be checked: "
                           "add its price on the Decide page or clear the budget.")
        elif estimate.cost_usd > budget_usd:
            reasons.append(f"The estimated cost ${estimate.cost_usd:,.2f} is above your budget of ${budget_usd:,.2f}.")
    if not hosted:
        ok, why = local_training_allowed(mode, estimate.examples, running_local_jobs)
        if not ok:
            reasons.append(f"Public mode: {why}.")
        if mode.enabled and estimate.seconds is not None and estimate.seconds > PUBLIC_MAX_LOCAL_SECONDS:
            reasons.append(f"Public mode: local training is limited to about {PUBLIC_MAX_LOCAL_SECONDS // 60} min "
                           f"(this is estimated at {duration(estimate.seconds)}); lower the steps, epochs or "
                           f"examples per class.")
    return LaunchCheck(allowed=not reasons, reasons=tuple(reasons), confirm=describe(estimate))
