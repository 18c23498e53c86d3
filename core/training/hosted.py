"""Hosted fine-tuning, the same flow for every provider (core/training/providers/: OpenAI-compatible, Together
AI, Fireworks AI, …):

    launch()      convert and check the training file (line-numbered, against the provider's documented limits),
                  record the job, upload and create; a refusal is a normal outcome recorded as `refused` with
                  the provider's reason, any other error as `failed` — no job row ever claims success
    poll_once()   the provider's status, new events (stored once each), loss points, and at the end the model —
                  registered once, with trained tokens × catalog price = cost
    watch()       poll until the job is finished (the CLI); `ensure_polling` does it in a thread (the app)
    resume_on_start()  on app start: pick every unfinished hosted job up again, each with its provider's credentials

A job's `backend` is its provider's name. The job row is written before anything is sent, and the provider's
file and job ids the moment they exist, so a crash at any point leaves a job that the next start can find
again (`recover_provider_id` asks the provider where it can).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable, Mapping

from core.data.dataset import Dataset
from core.endpoint import Endpoint, client as make_client, explain_exception
from core.store import Store
from core.training import jobs, providers
from core.training.options import Estimate
from core.training.providers import Progress, files
from core.training.providers.files import InvalidTrainingFile  # noqa: F401 - the name callers catch

POLL_S = float(os.environ.get("FTLAB_POLL_S", "10"))


def provider_of(job_or_name) -> providers.Provider:
    return providers.get(job_or_name if isinstance(job_or_name, str) else job_or_name.backend)


# --- validation and estimate ------------------------------------------------------------


def training_records(dataset: Dataset, opts, split: str = "train", provider: str = "openai") -> list[dict]:
    return providers.get(provider).records(dataset, opts, split)


def validate(records: list[dict], dataset: Dataset, base_model: str, provider: str = "openai") -> list[str]:
    """The errors that would make the provider refuse the file (empty: send it), each with its 1-based line."""
    return providers.get(provider).validate(records, dataset, base_model)


def estimate(dataset: Dataset, base_model: str, opts, provider: str = "openai") -> Estimate:
    """Billed tokens (tokens in the file × epochs) and their catalog price, with its source."""
    return providers.get(provider).estimate(dataset, base_model, opts)


def cost_of(base_model: str, trained_tokens: int | None) -> float | None:
    return files.cost_of(base_model, trained_tokens)


# --- launching ---------------------------------------------------------------------------


def launch(store: Store, client, dataset: Dataset, base_model: str, opts, *, endpoint_label: str = "",
           estimate_: dict | None = None, provider: str = "openai") -> jobs.Job:
    """Validate, upload and create the job. Returns the job: active when the provider took it, `refused` (with
    the provider's reason) or `failed` when it did not. Raises InvalidTrainingFile before anything is sent
    when the file would be refused."""
    from core.data import dataset as datasets

    prov = providers.get(provider)
    problems = prov.validate(prov.records(dataset, opts), dataset, base_model)
    if problems:
        raise InvalidTrainingFile(problems)
    datasets.save(store, dataset)
    params = {**opts.model_dump(), "endpoint": endpoint_label}
    job = jobs.create(store, prov.name, base_model, dataset.hash, params, estimate=estimate_)
    try:
        progress = prov.submit(store, client, job, dataset, opts)
    except Exception as exc:  # every failure is recorded on the job; the caller reads job.status / job.error
        message, refused = explain_exception(exc, prov.name)
        jobs.set_status(store, job.id, "refused" if refused else "failed", message, error=message)
        return jobs.get(store, job.id)
    apply(store, jobs.get(store, job.id), progress)
    return jobs.get(store, job.id)


# --- polling -----------------------------------------------------------------------------


def apply(store: Store, job: jobs.Job, progress: Progress) -> None:
    """Write what the provider said: a status (never `succeeded` without a model), progress, or the model —
    registered once, whoever gets here first."""
    if progress.fraction is not None:
        jobs.set_progress(store, job.id, progress.fraction, progress.note)
    if progress.status == "succeeded":
        if not progress.model:
            message = "the provider reports success but names no model"
            jobs.set_status(store, job.id, "failed", f"failed: {message}", error=message)
            return
        cost = progress.cost_usd if progress.cost_usd is not None else cost_of(job.base_model, progress.trained_tokens)
        jobs.succeed(store, job.id, progress.model, cost_usd=cost, trained_tokens=progress.trained_tokens,
                     message=f"succeeded: {progress.model}"
                             + (f" ({progress.trained_tokens:,} trained tokens, ${cost:.2f})"
                                if cost is not None and progress.trained_tokens else ""))
    elif progress.status in jobs.STATUSES:
        jobs.set_status(store, job.id, progress.status, progress.message or progress.status.replace("_", " "),
                        error=progress.error)


def poll_once(store: Store, client, job_id: str) -> jobs.Job:
    job = jobs.get(store, job_id)
    if job.is_local or not job.is_active:
        return job
    if not job.provider_id and not recover_provider_id(store, client, job):
        return jobs.get(store, job_id)
    job = jobs.get(store, job_id)
    apply(store, job, provider_of(job).poll(store, client, job))
    return jobs.get(store, job_id)


def recover_provider_id(store: Store, client, job: jobs.Job, give_up_after_s: float = 600) -> bool:
    """A job whose launch was interrupted before the provider's id was stored: find it again where the provider
    allows (OpenAI: by metadata; Fireworks: by the job id the lab chose)."""
    if provider_of(job).recover(store, client, job):
        return True
    age = jobs.age_s(job.created_at) or 0
    if age > give_up_after_s:
        jobs.set_status(store, job.id, "failed", "the launch was interrupted before the provider created a job",
                        error="launch interrupted")
    return False


def watch(store: Store, client, job_id: str, interval_s: float = POLL_S, timeout_s: float | None = None,
          on_update: Callable[[jobs.Job], None] | None = None, stop: threading.Event | None = None) -> jobs.Job:
    """Poll until the job is finished (or timeout / stop). Transient errors are recorded and retried."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    last_error = None
    provider = jobs.get(store, job_id).backend
    while True:
        try:
            job = poll_once(store, client, job_id)
            last_error = None
        except Exception as exc:
            message, fatal = explain_exception(exc, provider)
            if message != last_error:  # one line per distinct problem, not one per poll
                jobs.add_event(store, job_id, "message", f"polling failed: {message}")
                last_error = message
            if fatal:
                return jobs.get(store, job_id)
            job = jobs.get(store, job_id)
        if on_update:
            on_update(job)
        if not job.is_active or (deadline and time.monotonic() > deadline) or (stop and stop.is_set()):
            return job
        (stop or threading.Event()).wait(interval_s)


def cancel(store: Store, client, job_id: str) -> jobs.Job:
    return _act(store, client, job_id, "cancel")


def pause(store: Store, client, job_id: str) -> jobs.Job:
    return _act(store, client, job_id, "pause")


def resume(store: Store, client, job_id: str) -> jobs.Job:
    return _act(store, client, job_id, "resume")


def _act(store: Store, client, job_id: str, action: str) -> jobs.Job:
    job = jobs.get(store, job_id)
    prov = provider_of(job)
    if not job.provider_id:
        if action == "cancel":
            return jobs.request_cancel(store, job_id)
        raise ValueError(f"job {job_id} has no provider job yet")
    if not getattr(prov.capabilities, "pause" if action == "resume" else action, False):
        raise ValueError(f"{prov.label} cannot {action} a job")
    try:
        progress = prov.cancel(store, client, job) if action == "cancel" else prov.act(store, client, job, action)
    except Exception as exc:
        message, _ = explain_exception(exc, prov.name)
        raise RuntimeError(f"could not {action} the job: {message}") from exc
    jobs.add_event(store, job_id, "message", f"{action} requested")
    apply(store, job, progress)
    return jobs.get(store, job_id)


# --- background polling inside the app -----------------------------------------------------------

_POLLERS: dict[tuple[str, str], threading.Thread] = {}
_POLLERS_LOCK = threading.Lock()


def ensure_polling(store_path: str, job_id: str, client_factory: Callable[[], Any],
                   interval_s: float = POLL_S) -> bool:
    """Poll a hosted job in a daemon thread of this process (once per job); True when a thread was started.

    The thread opens its own store connection and ends with the job; reruns of
    the page find it still running and start nothing.
    """
    key = (str(store_path), job_id)
    with _POLLERS_LOCK:
        thread = _POLLERS.get(key)
        if thread is not None and thread.is_alive():
            return False

        def run() -> None:
            store = Store(store_path)
            try:
                watch(store, client_factory(), job_id, interval_s)
            finally:
                store.close()

        thread = threading.Thread(target=run, daemon=True, name=f"poll-{job_id}")
        _POLLERS[key] = thread
        thread.start()
        return True


def resume_polling(store: Store, client_factory: Callable[[], Any] | Mapping[str, Callable[[], Any]],
                   interval_s: float = POLL_S) -> list[str]:
    """On app start: poll every unfinished hosted job again, each with its provider's client (one factory: the
    OpenAI-compatible jobs'; a mapping: provider name → factory). Returns the ids now being polled."""
    factories = client_factory if isinstance(client_factory, Mapping) else {"openai": client_factory}
    started = []
    for job in jobs.list_jobs(store, jobs.ACTIVE):
        factory = None if job.is_local else factories.get(job.backend)
        if factory is not None and ensure_polling(str(store.path), job.id, factory, interval_s):
            started.append(job.id)
    return started


def client_factory(endpoint: Endpoint) -> Callable[[], Any]:
    """How a poller thread gets its provider's client for this endpoint."""
    prov = providers.get(endpoint.provider)
    return lambda: prov.client(endpoint)


def resume_on_start(store: Store, endpoint: Endpoint, public_mode: bool = False, interval_s: float = POLL_S, *,
                    secrets: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> list[str]:
    """What the app does once when it starts: local jobs whose worker died are marked interrupted, and
    unfinished hosted jobs are polled again — the OpenAI-compatible ones with the configured endpoint, the other
    providers' with the owner's credentials (secrets passed down, else the environment); never in public mode
    (a visitor's page load must not reach a paid endpoint). Returns the ids now being polled."""
    jobs.reconcile_local(store)
    if public_mode:
        return []
    factories: dict[str, Callable[[], Any]] = {}
    if endpoint.configured:
        factories["openai"] = lambda: make_client(endpoint)
    for prov in providers.all_providers():
        if prov.name != "openai":
            found = prov.credentials(secrets=secrets, environ=environ)
            if found is not None:
                factories[prov.name] = client_factory(found)
    return resume_polling(store, factories, interval_s) if factories else []


def polling(store_path: str, job_id: str) -> bool:
    thread = _POLLERS.get((str(store_path), job_id))
    return thread is not None and thread.is_alive()
