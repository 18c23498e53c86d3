"""Acting on a job: which actions it offers now, and carrying one out — the same rules for every caller.

cancel: any unfinished job (a local worker stops at its next step); pause and
resume: a hosted job that runs or is paused; restart: a local job that did not
finish (a new job with the same dataset version and hyperparameters).
"""

from __future__ import annotations

from typing import Any, Callable

from core.store import Store
from core.training import jobs

RESTARTABLE = ("interrupted", "failed", "cancelled")

# How a page offers each action: (button column 0–2, label, icon, help).
BUTTONS = {
    "cancel": (0, "Cancel", ":material/cancel:", None),
    "pause": (1, "Pause", None, None),
    "resume": (1, "Resume", None, None),
    "restart": (2, "Restart", ":material/restart_alt:", "A new job with the same dataset version and hyperparameters."),
}


def actions(job: jobs.Job) -> list[str]:
    """What can be done with this job now, in the order a page shows the buttons."""
    offered = []
    if job.is_active:
        offered.append("cancel")
    can_pause = not job.is_local and _provider_can(job.backend, "pause")
    if can_pause and job.status == "running":
        offered.append("pause")
    if can_pause and job.status == "paused":
        offered.append("resume")
    if job.is_local and job.status in RESTARTABLE:
        offered.append("restart")
    return offered


def _provider_can(name: str, what: str) -> bool:
    from core.training import providers

    return providers.is_provider(name) and getattr(providers.get(name).capabilities, what)


def act(store: Store, job: jobs.Job, action: str, client_factory: Callable[[], Any] | None = None) -> jobs.Job:
    """Carry out one of `actions(job)`; returns the job to watch next (a restart's new job).

    A hosted job needs a client to reach its provider. Raises RuntimeError with a sentence for the user
    when the action cannot be done (no endpoint, no provider job yet, the provider refused).
    """
    if action not in actions(job):
        raise RuntimeError(f"{job.id} cannot {action} while it is {job.status.replace('_', ' ')}.")
    if action == "restart":
        from core.training.worker import restart  # spawns a worker process: only when asked

        return restart(store, job.id)
    if job.is_local:  # only cancel is offered: the worker stops at its next step
        return jobs.request_cancel(store, job.id)
    if client_factory is None:
        raise RuntimeError("No endpoint in this session to reach the provider.")
    from core.training import hosted

    try:
        return getattr(hosted, action)(store, client_factory(), job.id)
    except ValueError as exc:  # e.g. pause before the provider created the job
        raise RuntimeError(str(exc)) from exc
