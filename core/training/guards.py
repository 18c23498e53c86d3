"""Guards before a launch: the budget, public mode, and the size of local trainings on a shared machine.

Pure functions: the page reads `public_mode` and the owner's password from
st.secrets and passes plain values; the CLI passes its flags. Nothing here
knows where a value came from, so the rules are tested once for both.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from core.training.options import Estimate

# Public mode (the Community Cloud URL): local trainings stay small and one at a time.
PUBLIC_MAX_LOCAL_EXAMPLES = 400
PUBLIC_MAX_LOCAL_SECONDS = 300


@dataclass(frozen=True)
class LaunchCheck:
    allowed: bool
    reasons: tuple[str, ...] = ()   # why not, one sentence each
    confirm: str = ""               # what the user confirms: the estimate in words


def password_matches(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison; no expected password means nobody is the owner."""
    return bool(given and expected) and hmac.compare_digest(given.encode(), expected.encode())


def hosted_allowed(public_mode: bool, owner_ok: bool, visitor_key: bool) -> tuple[bool, str]:
    """In public mode a hosted job spends money: only the owner (password) or a visitor with their own key."""
    if not public_mode or owner_ok or visitor_key:
        return True, ""
    return False, ("Public mode: hosted fine-tuning needs the owner's password or your own API key "
                   "(kept in this browser session only). Local training is open to everyone.")


def describe(estimate: Estimate) -> str:
    """The estimate as the sentence the user confirms."""
    when = (f"about {_duration(estimate.seconds)} on this machine" if estimate.seconds is not None
            else "a provider-dependent time")
    cost = "no API cost" if estimate.cost_usd == 0 and estimate.seconds is not None else f"about ${estimate.cost_usd:,.2f}"
    return f"Train on {estimate.examples} examples: {when}, {cost}."


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def check_launch(backend: str, estimate: Estimate, *, budget_usd: float | None = None, public_mode: bool = False,
                 owner_ok: bool = False, visitor_key: bool = False, local_busy: bool = False,
                 price_known: bool = True) -> LaunchCheck:
    """Whether a launch may go ahead, and if not every reason why."""
    reasons = []
    hosted = not backend.startswith("local")
    if hosted:
        ok, why = hosted_allowed(public_mode, owner_ok, visitor_key)
        if not ok:
            reasons.append(why)
    if budget_usd is not None:
        if hosted and not price_known:
            reasons.append("The base model has no training price in the catalog, so the budget cannot be checked: "
                           "add its price on the Decide page or clear the budget.")
        elif estimate.cost_usd > budget_usd:
            reasons.append(f"The estimated cost ${estimate.cost_usd:,.2f} is above your budget of ${budget_usd:,.2f}.")
    if public_mode and not hosted:
        if local_busy:
            reasons.append("Public mode: one local training at a time — wait for the running one to finish.")
        if estimate.examples > PUBLIC_MAX_LOCAL_EXAMPLES:
            reasons.append(f"Public mode: local training is limited to {PUBLIC_MAX_LOCAL_EXAMPLES} examples "
                           f"(this is {estimate.examples}); lower the examples per class.")
        if estimate.seconds is not None and estimate.seconds > PUBLIC_MAX_LOCAL_SECONDS:
            reasons.append(f"Public mode: local training is limited to about {PUBLIC_MAX_LOCAL_SECONDS // 60} min "
                           f"(this is estimated at {_duration(estimate.seconds)}); lower the steps or epochs.")
    return LaunchCheck(allowed=not reasons, reasons=tuple(reasons), confirm=describe(estimate))
