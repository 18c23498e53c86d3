"""Public mode: visitors of a public deployment explore everything but cannot spend the owner's money.

Set in `.streamlit/secrets.toml` (see `secrets.toml.example`):

    [public]
    enabled = true
    owner_password = "…"          # unlocks the owner's endpoint and key for this browser session
    max_upload_mb = 5
    max_local_train_examples = 400

A paid action (hosted calls, hosted fine-tuning jobs) then needs either the
owner's password or the visitor's own API key, which lives in their browser
session only. The owner's endpoint — key *and* base URL, which may point at a
private server — is never used for a visitor. Pure functions: the pages ask,
core decides, tests check every path.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class PublicMode:
    enabled: bool = False
    owner_password: str | None = None
    max_upload_mb: int = 5
    max_local_train_examples: int = 400

    @classmethod
    def from_settings(cls, section: Mapping[str, Any] | None) -> "PublicMode":
        """From the `[public]` table of st.secrets (or any mapping); absent means a private lab."""
        if not section:
            return cls()
        return cls(
            enabled=bool(section.get("enabled", False)),
            owner_password=section.get("owner_password") or None,
            max_upload_mb=int(section.get("max_upload_mb", cls.max_upload_mb)),
            max_local_train_examples=int(section.get("max_local_train_examples", cls.max_local_train_examples)),
        )

    def check_password(self, attempt: str) -> bool:
        """Constant-time comparison; no password configured means nobody can unlock."""
        if not self.owner_password or not attempt:
            return False
        return hmac.compare_digest(attempt.encode("utf-8"), self.owner_password.encode("utf-8"))


@dataclass(frozen=True)
class Endpoint:
    """Where paid calls go. `api_key` is never persisted: the object lives in memory only."""

    api_key: str | None
    base_url: str | None
    owner: bool  # the owner's configured endpoint (as opposed to the visitor's own key)

    def __repr__(self) -> str:  # keep keys out of logs and tracebacks
        return f"Endpoint(base_url={self.base_url!r}, key={'set' if self.api_key else 'none'}, owner={self.owner})"


def resolve_endpoint(
    mode: PublicMode,
    *,
    visitor_key: str | None,
    visitor_base_url: str | None,
    owner_key: str | None,
    owner_base_url: str | None,
    owner_unlocked: bool,
) -> Endpoint | None:
    """The endpoint paid actions may use now, or None when they must stay disabled.

    Private lab: the session's entries override the owner's configuration.
    Public mode: the visitor's own key (with their own base URL, default OpenAI), or
    the owner's endpoint once unlocked with the password — nothing else.
    """
    if not mode.enabled:
        key, url = visitor_key or owner_key, visitor_base_url or owner_base_url
        return Endpoint(key, url, owner=not visitor_key) if (key or url) else None
    if visitor_key:
        return Endpoint(visitor_key, visitor_base_url, owner=False)
    if owner_unlocked and (owner_key or owner_base_url):
        return Endpoint(owner_key, visitor_base_url or owner_base_url, owner=True)
    return None


def paid_actions_note(mode: PublicMode, endpoint: Endpoint | None) -> str:
    """One sentence for the banner: what a visitor can do here."""
    if not mode.enabled:
        return ""
    if endpoint is None:
        return ("Public demo: explore every page and run the local models for free. Hosted models and "
                "hosted fine-tuning need your own API key (kept in this browser session only) or the owner's password.")
    who = "the owner's endpoint" if endpoint.owner else "your own API key"
    return f"Public demo: paid actions use {who}."


def local_training_allowed(mode: PublicMode, n_examples: int, running_jobs: int) -> tuple[bool, str]:
    """In public mode local training is capped in size and runs one at a time."""
    if not mode.enabled:
        return True, ""
    if running_jobs > 0:
        return False, "a local training is already running on this public demo; try again when it has finished"
    if n_examples > mode.max_local_train_examples:
        return False, (f"this public demo trains on at most {mode.max_local_train_examples} examples "
                       f"(this dataset has {n_examples}); run the lab locally for more")
    return True, ""
