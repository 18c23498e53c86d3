"""Public mode: visitors of a public deployment explore everything but cannot spend the owner's money.

Set in `.streamlit/secrets.toml` (see `secrets.toml.example`):

    [public]
    enabled = true
    owner_password = "…"          # unlocks the owner's endpoint and key for this browser session
    max_upload_mb = 5
    max_local_train_examples = 400

A paid action (hosted calls, hosted fine-tuning jobs) then needs either the
owner's password or the visitor's own API key, which lives in their browser
session only (core/endpoint.py decides who may spend). Pure functions: the pages ask,
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
