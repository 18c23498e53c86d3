"""Public mode: visitors of a public deployment explore everything but cannot spend the owner's money,
and each works within quotas in a scratch workspace of their own (core/workspaces.py).

Set in `.streamlit/secrets.toml` (see `secrets.toml.example`):

    [public]
    enabled = true
    owner_password = "…"          # unlocks the owner's endpoint, key and shared workspace for this browser session
    max_upload_mb = 5             # per uploaded file
    max_rows_per_dataset = 5000   # per dataset version a visitor saves
    max_evaluated_examples = 3000 # predictions per visitor session (examples × approaches)
    max_local_train_examples = 400  # training examples per visitor session (summed over trainings)
    max_cpu_seconds = 900         # local compute per visitor session (evaluations measured, trainings estimated)
    idle_minutes = 60             # a visitor's scratch workspace is deleted after this long without activity

A paid action (hosted calls, hosted fine-tuning jobs) then needs either the
owner's password or the visitor's own API key, which lives in their browser
session only (core/endpoint.py decides who may spend). Pure functions: the pages ask,
core decides, tests check every path.
"""

from __future__ import annotations

import hmac
import time
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from typing import Any, Iterator, Mapping


@dataclass(frozen=True)
class PublicMode:
    enabled: bool = False
    owner_password: str | None = None
    max_upload_mb: int = 5
    max_rows_per_dataset: int = 5000
    max_evaluated_examples: int = 3000
    max_local_train_examples: int = 400
    max_cpu_seconds: int = 900
    idle_minutes: int = 60

    @classmethod
    def from_settings(cls, section: Mapping[str, Any] | None) -> "PublicMode":
        """From the `[public]` table of st.secrets (or any mapping); absent means a private lab."""
        if not section:
            return cls()
        numbers = {f.name: type(getattr(cls, f.name))(section[f.name]) for f in fields(cls)
                   if f.name not in ("enabled", "owner_password") and section.get(f.name) is not None}
        return cls(enabled=bool(section.get("enabled", False)),
                   owner_password=section.get("owner_password") or None, **numbers)

    def check_password(self, attempt: str) -> bool:
        """Constant-time comparison; no password configured means nobody can unlock."""
        if not self.owner_password or not attempt:
            return False
        return hmac.compare_digest(attempt.encode("utf-8"), self.owner_password.encode("utf-8"))

    @property
    def idle_seconds(self) -> float:
        return self.idle_minutes * 60.0


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


# --- quotas of one visitor session --------------------------------------------------------------

@dataclass(frozen=True)
class Usage:
    """What one visitor session has used so far (kept with its scratch workspace, core/workspaces.py)."""
    evaluated_examples: int = 0
    local_train_examples: int = 0
    cpu_seconds: float = 0.0

    def plus(self, **amounts: float) -> "Usage":
        return replace(self, **{k: getattr(self, k) + v for k, v in amounts.items()})


@dataclass(frozen=True)
class QuotaCheck:
    allowed: bool
    reason: str = ""   # why not, in one sentence a visitor understands


OK = QuotaCheck(True)
_LOCALLY = "run the lab on your own machine (or ask the owner) for more"


def _limited(mode: PublicMode, owner: bool) -> bool:
    return mode.enabled and not owner


def check_upload(mode: PublicMode, n_bytes: int, *, owner: bool = False) -> QuotaCheck:
    if _limited(mode, owner) and n_bytes > mode.max_upload_mb * 1024 * 1024:
        return QuotaCheck(False, f"Quota: uploads on this public demo are limited to {mode.max_upload_mb} MB "
                                 f"(this file has {n_bytes / 1024 / 1024:.1f} MB); {_LOCALLY}.")
    return OK


def check_rows(mode: PublicMode, n_rows: int, *, owner: bool = False) -> QuotaCheck:
    if _limited(mode, owner) and n_rows > mode.max_rows_per_dataset:
        return QuotaCheck(False, f"Quota: a dataset on this public demo holds at most {mode.max_rows_per_dataset:,} rows "
                                 f"(this one has {n_rows:,}); {_LOCALLY}.")
    return OK


def check_dataset(mode: PublicMode, n_bytes: int, n_rows: int, *, owner: bool = False) -> QuotaCheck:
    """Before saving an uploaded or pasted dataset: its size and its rows."""
    upload = check_upload(mode, n_bytes, owner=owner)
    return upload if not upload.allowed else check_rows(mode, n_rows, owner=owner)


def check_cpu(mode: PublicMode, usage: Usage, seconds: float = 0.0, *, owner: bool = False) -> QuotaCheck:
    """Whether `seconds` more of local compute fit (0: whether any is left)."""
    if not _limited(mode, owner):
        return OK
    left = mode.max_cpu_seconds - usage.cpu_seconds
    if left <= 0 or seconds > left:
        return QuotaCheck(False, f"Quota: this session has used {usage.cpu_seconds:.0f} of its {mode.max_cpu_seconds} "
                                 f"CPU seconds on this public demo" + (f" (this needs about {seconds:.0f} s)" if seconds else "")
                                 + f"; {_LOCALLY}.")
    return OK


def check_evaluation(mode: PublicMode, usage: Usage, n_predictions: int, *, owner: bool = False) -> QuotaCheck:
    """Before evaluating: `n_predictions` = examples of the split × approaches to run."""
    if not _limited(mode, owner):
        return OK
    left = mode.max_evaluated_examples - usage.evaluated_examples
    if n_predictions > left:
        return QuotaCheck(False, f"Quota: this session may evaluate {max(left, 0):,} more examples on this public demo "
                                 f"(of {mode.max_evaluated_examples:,}); this run needs {n_predictions:,} — "
                                 f"pick fewer approaches or a smaller split, or {_LOCALLY}.")
    return check_cpu(mode, usage, owner=owner)


def check_training(mode: PublicMode, usage: Usage, n_examples: int, estimated_seconds: float | None, *,
                   owner: bool = False, running_local_jobs: int = 0) -> QuotaCheck:
    """Before a local training: its examples and estimated time against what is left; one training at a time
    on the whole demo (`running_local_jobs` counts every session's)."""
    if not _limited(mode, owner):
        return OK
    if running_local_jobs > 0:
        return QuotaCheck(False, "A local training is already running on this public demo (the machine is shared); "
                                 "try again when it has finished.")
    left = mode.max_local_train_examples - usage.local_train_examples
    if n_examples > left:
        return QuotaCheck(False, f"Quota: this session may train on {max(left, 0):,} more examples on this public demo "
                                 f"(of {mode.max_local_train_examples:,}); this training needs {n_examples:,}; {_LOCALLY}.")
    return check_cpu(mode, usage, estimated_seconds or 0.0, owner=owner)


def remaining(mode: PublicMode, usage: Usage, *, owner: bool = False) -> dict[str, str] | None:
    """What this session has left, in words (None: no quotas apply)."""
    if not _limited(mode, owner):
        return None
    return {
        "Upload": f"≤ {mode.max_upload_mb} MB per file, ≤ {mode.max_rows_per_dataset:,} rows per dataset",
        "Evaluated examples": f"{max(mode.max_evaluated_examples - usage.evaluated_examples, 0):,} of {mode.max_evaluated_examples:,} left",
        "Local training examples": f"{max(mode.max_local_train_examples - usage.local_train_examples, 0):,} of {mode.max_local_train_examples:,} left",
        "CPU seconds": f"{max(mode.max_cpu_seconds - usage.cpu_seconds, 0):,.0f} of {mode.max_cpu_seconds:,} left",
    }


@contextmanager
def cpu_meter() -> Iterator[list[float]]:
    """Measure the process CPU time (every thread, torch's included) spent inside the block; the list holds
    the seconds once it ends. Process-wide: work of other sessions at the same time counts too (conservative)."""
    out: list[float] = []
    start = time.process_time()
    try:
        yield out
    finally:
        out.append(time.process_time() - start)
