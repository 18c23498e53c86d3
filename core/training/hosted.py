"""Hosted backend: the OpenAI fine-tuning API through the openai client — OpenAI, Azure OpenAI or any server
implementing `/v1/files` and `/v1/fine_tuning/jobs`.

    launch()      validate the chat JSONL, upload it (purpose fine-tune), create the job; a refusal is a
                  normal outcome recorded as `refused` with the provider's reason
    poll_once()   status, new events (stored once each), metrics points, and at the end the result-file
                  metrics CSV, checkpoints, trained tokens × catalog price = cost, and the model — registered once
    watch()       poll until the job is finished (the CLI); `ensure_polling` does it in a thread (the app)
    resume_polling()  on app start: pick every unfinished hosted job up again

The job row is written before anything is sent, and the provider's file and
job ids the moment they exist, so a crash at any point leaves a job that the
next start can find again (`recover_provider_id` asks the provider by metadata).
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import threading
import time
from typing import Any, Callable

from core.endpoint import Endpoint, client as make_client, explain, explain_exception
from core.training import jobs
from core.data.dataset import Dataset
from core.store import Store
from core.training import HOSTED
from core.training.chat import chat_records, preference_records, to_jsonl
from core.training.options import Estimate, HostedOptions

POLL_S = float(os.environ.get("FTLAB_POLL_S", "10"))


# --- validation and estimate ------------------------------------------------------------


def training_records(dataset: Dataset, opts: HostedOptions, split: str = "train") -> list[dict]:
    examples = [e for e in dataset.split(split) if e.label is not None]
    if opts.method == "dpo":
        return preference_records(dataset.task, examples, seed=opts.seed or 7)
    return chat_records(dataset.task, examples)


def _record_messages(record: dict) -> list[dict]:
    if "messages" in record:
        return record["messages"]
    return record["input"]["messages"] + record["preferred_output"]


def validate(records: list[dict], dataset: Dataset, base_model: str) -> list[str]:
    """The errors that would make the provider refuse the file (empty: send it), each with its 1-based line —
    the Dataset page's own checks (core/data/validation.py); warnings do not block a launch."""
    from core.data import validation as checks
    from core.tokens import count_chat_tokens

    labels = dataset.task.label_names
    limit = _max_example_tokens(base_model)
    found, answers = [], []
    for line, rec in enumerate(records, 1):
        msgs = _record_messages(rec)
        found += checks.check_messages(msgs, line)
        answer = msgs[-1].get("content") if msgs and isinstance(msgs[-1], dict) else None
        answers.append(answer)
        found += [f for f in (checks.check_label(str(answer), labels, line),
                              checks.check_tokens(count_chat_tokens(msgs, base_model), limit, base_model, line)) if f]
    found += checks.dataset_findings(answers, labels)
    return [f"line {f.line}: {f.message}" if f.line else f.message for f in checks.errors(found)]


def _catalog_row(base_model: str):
    from core.catalog import load_catalog

    try:
        return load_catalog().get(base_model)
    except KeyError:
        return None


def _max_example_tokens(base_model: str) -> int | None:
    info = _catalog_row(base_model)
    return info.max_example_tokens if info else None


def estimate(dataset: Dataset, base_model: str, opts: HostedOptions) -> Estimate:
    """Billed tokens (tokens in the file × epochs, OpenAI's default epochs when 'auto') and their price."""
    from core.economics import estimate_training
    from core.tokens import count_chat_tokens

    records = training_records(dataset, opts)
    tokens = [count_chat_tokens(_record_messages(r), base_model) for r in records]
    info = _catalog_row(base_model)
    notes = ["queue and training time depend on the provider (typically 10–60 min for a small file)"]
    if info is None or info.training_per_1m is None:
        notes.append(f"{base_model} has no training price in the catalog: cost unknown (add it on the Decide page)")
        from core.economics import default_epochs

        epochs = opts.n_epochs if isinstance(opts.n_epochs, int) else default_epochs(max(len(tokens), 1))
        return Estimate(None, 0.0, len(records), tokens=sum(tokens) * epochs, notes=tuple(notes))
    est = estimate_training(info, tokens, opts.n_epochs if isinstance(opts.n_epochs, int) else None)
    notes.insert(0, f"{est.epochs} epochs × {est.tokens_per_epoch:,} tokens at ${info.training_per_1m:g}/1M")
    if not info.can_start_jobs():
        notes.append(f"{info.id} accepts no new fine-tuning jobs since {info.no_new_jobs}")
    return Estimate(None, est.cost_usd, len(records), tokens=est.billed_tokens, notes=tuple(notes))


def cost_of(base_model: str, trained_tokens: int | None) -> float | None:
    from core.economics import training_cost_usd

    info = _catalog_row(base_model)
    if trained_tokens is None or info is None or info.training_per_1m is None:
        return None
    return training_cost_usd(info, trained_tokens)


# --- launching ---------------------------------------------------------------------------


class InvalidTrainingFile(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("the training file would be refused: " + "; ".join(problems[:5])
                         + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""))
        self.problems = problems


def launch(store: Store, client, dataset: Dataset, base_model: str, opts: HostedOptions, *,
           endpoint_label: str = "", estimate_: dict | None = None) -> jobs.Job:
    """Validate, upload and create the job. Returns the job: `validating_files`/`queued`/… when the provider
    took it, `refused` (with the provider's reason) or `failed` when it did not. Raises InvalidTrainingFile
    before anything is sent when the file would be refused."""
    from core.data import dataset as datasets

    records = training_records(dataset, opts)
    problems = validate(records, dataset, base_model)
    if problems:
        raise InvalidTrainingFile(problems)
    datasets.save(store, dataset)
    params = {**opts.model_dump(), "endpoint": endpoint_label}
    job = jobs.create(store, HOSTED, base_model, dataset.hash, params, estimate=estimate_)
    try:
        train_file = client.files.create(file=(f"ftlab-{dataset.hash}-train.jsonl", to_jsonl(records)),
                                         purpose="fine-tune")
        params["training_file"] = train_file.id
        jobs.update(store, job.id, params=params)
        jobs.add_event(store, job.id, "message", f"uploaded the training file ({len(records)} examples): {train_file.id}")
        dev = training_records(dataset, opts, "dev") if opts.use_validation else []
        if dev:
            valid_file = client.files.create(file=(f"ftlab-{dataset.hash}-dev.jsonl", to_jsonl(dev)), purpose="fine-tune")
            params["validation_file"] = valid_file.id
            jobs.update(store, job.id, params=params)
            jobs.add_event(store, job.id, "message", f"uploaded the validation file ({len(dev)} examples): {valid_file.id}")
        created = client.fine_tuning.jobs.create(
            model=base_model, training_file=train_file.id, validation_file=params.get("validation_file"),
            method=opts.method_payload(), suffix=opts.suffix or None, seed=opts.seed,
            # Found again by this metadata if the app dies before it records the provider's job id.
            metadata={"ftlab_job": job.id, "ftlab_dataset": dataset.hash},
        )
    except Exception as exc:  # every failure is recorded on the job; the caller reads job.status / job.error
        message, refused = explain_exception(exc)
        jobs.set_status(store, job.id, "refused" if refused else "failed", message, error=message)
        return jobs.get(store, job.id)
    jobs.update(store, job.id, provider_id=created.id)
    jobs.add_event(store, job.id, "message", f"provider job {created.id} created")
    _apply_status(store, job.id, created)
    return jobs.get(store, job.id)


# --- polling -----------------------------------------------------------------------------


def _apply_status(store: Store, job_id: str, ft) -> None:
    status = ft.status
    if status in ("validating_files", "queued", "running", "paused"):
        jobs.set_status(store, job_id, status, f"{status.replace('_', ' ')}")
    elif status == "failed":
        err = ft.error
        message = explain(err.code, err.message) if err is not None else "the provider reports the job failed"
        jobs.set_status(store, job_id, "failed", f"failed: {message}", error=message)
    elif status == "cancelled":
        jobs.set_status(store, job_id, "cancelled", "cancelled")


def _sync_events(store: Store, client, job: jobs.Job) -> None:
    """Store the provider's new events (newest first from the API; stop at the first one already stored)."""
    known = {e.provider_event_id for e in jobs.events(store, job.id) if e.provider_event_id}
    fresh = []
    page = client.fine_tuning.jobs.list_events(job.provider_id, limit=100)
    while True:
        batch = [ev for ev in page.data if ev.id not in known]
        fresh += batch
        if len(batch) < len(page.data) or not page.has_next_page():
            break
        page = page.get_next_page()
    last_step = None
    for ev in reversed(fresh):  # oldest first
        at = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ev.created_at))
        data = ev.data if isinstance(ev.data, dict) else None
        if ev.type == "metrics" and data and "step" in data:
            values = {k: data.get(k) for k in ("train_loss", "valid_loss", "full_valid_loss",
                                               "train_mean_token_accuracy", "valid_mean_token_accuracy")}
            jobs.record_metrics(store, job.id, int(data["step"]), provider_event_id=ev.id, at=at, **values)
            if data.get("total_steps"):
                last_step = (int(data["step"]), int(data["total_steps"]))
        else:
            jobs.add_event(store, job.id, "message", ev.message, {"level": ev.level}, provider_event_id=ev.id, at=at)
    if last_step:
        step, total = last_step
        jobs.set_progress(store, job.id, step / total, f"step {step}/{total}")


def parse_metrics_csv(content: bytes | str) -> list[dict[str, float]]:
    """The result file's step metrics: plain CSV, or base64 of it (as OpenAI serves it)."""
    import pandas as pd

    raw = content.encode() if isinstance(content, str) else content
    if not raw.lstrip().startswith(b"step"):
        try:
            raw = base64.b64decode(raw, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("the result file is neither CSV nor base64-encoded CSV") from exc
    frame = pd.read_csv(io.BytesIO(raw))
    if "step" not in frame.columns:
        raise ValueError(f"the result file has no 'step' column (columns: {', '.join(frame.columns)})")
    rows = []
    for rec in frame.to_dict("records"):
        rows.append({k: (int(v) if k == "step" else float(v)) for k, v in rec.items()
                     if v == v and v is not None and str(v) != ""})  # v == v drops NaN
    return rows


def _finish(store: Store, client, job: jobs.Job, ft) -> None:
    """Result metrics, checkpoints, cost — then register the model (once, whoever gets here first)."""
    for file_id in ft.result_files or []:
        try:
            rows = parse_metrics_csv(client.files.content(file_id).content)
        except Exception as exc:  # the model is still good without its curves
            jobs.add_event(store, job.id, "message", f"could not read the result file {file_id}: {exc}")
            continue
        for row in rows:
            step = row.pop("step")
            if "train_accuracy" in row:
                row["train_mean_token_accuracy"] = row.pop("train_accuracy")
            jobs.record_metrics(store, job.id, step, provider_event_id=f"{file_id}:{step}", **row)
    try:
        for ck in client.fine_tuning.jobs.checkpoints.list(job.provider_id).data:
            m = ck.metrics
            jobs.add_event(store, job.id, "message",
                           f"checkpoint at step {ck.step_number}: {ck.fine_tuned_model_checkpoint}",
                           {"checkpoint": ck.fine_tuned_model_checkpoint, "step": ck.step_number,
                            "valid_loss": m.valid_loss, "train_loss": m.train_loss}, provider_event_id=ck.id)
    except Exception as exc:  # servers without checkpoints still give a model
        jobs.add_event(store, job.id, "message", f"checkpoints not available: {exc}",
                       provider_event_id="checkpoints-unavailable")
    cost = cost_of(job.base_model, ft.trained_tokens)
    jobs.succeed(store, job.id, ft.fine_tuned_model, cost_usd=cost, trained_tokens=ft.trained_tokens,
                 message=f"succeeded: {ft.fine_tuned_model}"
                         + (f" ({ft.trained_tokens:,} trained tokens, ${cost:.2f})" if cost is not None else ""))


def poll_once(store: Store, client, job_id: str) -> jobs.Job:
    job = jobs.get(store, job_id)
    if job.backend != HOSTED or not job.is_active:
        return job
    if not job.provider_id and not recover_provider_id(store, client, job):
        return jobs.get(store, job_id)
    job = jobs.get(store, job_id)
    ft = client.fine_tuning.jobs.retrieve(job.provider_id)
    _sync_events(store, client, job)
    if ft.status == "succeeded":
        _finish(store, client, job, ft)
    else:
        _apply_status(store, job_id, ft)
    return jobs.get(store, job_id)


def recover_provider_id(store: Store, client, job: jobs.Job, give_up_after_s: float = 600) -> bool:
    """A job whose launch was interrupted before the provider's id was stored: find it by its metadata."""
    for ft in client.fine_tuning.jobs.list(metadata={"ftlab_job": job.id}, limit=10).data:
        jobs.update(store, job.id, provider_id=ft.id)
        jobs.add_event(store, job.id, "message", f"found the provider's job {ft.id} again")
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
    while True:
        try:
            job = poll_once(store, client, job_id)
            last_error = None
        except Exception as exc:
            message, fatal = explain_exception(exc)
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
    if not job.provider_id:
        if action == "cancel":
            return jobs.request_cancel(store, job_id)
        raise ValueError(f"job {job_id} has no provider job yet")
    try:
        ft = getattr(client.fine_tuning.jobs, action)(job.provider_id)
    except Exception as exc:
        message, _ = explain_exception(exc)
        raise RuntimeError(f"could not {action} the job: {message}") from exc
    jobs.add_event(store, job_id, "message", f"{action} requested")
    _apply_status(store, job_id, ft)
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


def resume_polling(store: Store, client_factory: Callable[[], Any], interval_s: float = POLL_S) -> list[str]:
    """On app start: poll every unfinished hosted job again. Returns the ids now being polled."""
    started = []
    for job in jobs.list_jobs(store, jobs.ACTIVE, backend=HOSTED):
        if ensure_polling(str(store.path), job.id, client_factory, interval_s):
            started.append(job.id)
    return started


def resume_on_start(store: Store, endpoint: Endpoint, public_mode: bool = False,
                    interval_s: float = POLL_S) -> list[str]:
    """What the app does once when it starts: local jobs whose worker died are marked interrupted, and
    unfinished hosted jobs are polled again — with the configured key only, and never in public mode (a
    visitor's page load must not reach a paid endpoint). Returns the ids now being polled."""
    jobs.reconcile_local(store)
    if public_mode or not endpoint.configured:
        return []
    return resume_polling(store, lambda: make_client(endpoint), interval_s)


def polling(store_path: str, job_id: str) -> bool:
    thread = _POLLERS.get((str(store_path), job_id))
    return thread is not None and thread.is_alive()
