"""Job: a training run on a backend (hosted or local) that yields a fine-tuned model — the registry of them.

Every job lives in the store's `jobs` row (what it is and where it stands) and
its `job_events` (status history, messages, metrics points). Whoever does the
work — a local worker process, a thread polling a hosted provider, the CLI —
writes here, and the page only reads, so a job outlives a closed tab, a
Streamlit rerun and an app restart.

Transitions are guarded in SQL (`… WHERE status IN active`), so two pollers of
the same hosted job, or a poller racing a cancel, can never register a model
twice or bring a finished job back to life.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from dataclasses import dataclass, field
from typing import Any, Iterable

from core.store import Store, to_json

# pending: created, not yet handed to its backend. The next four are the provider's own words.
ACTIVE = ("pending", "validating_files", "queued", "running", "paused")
# interrupted: a local worker died (machine restart, kill); the job can be restarted as a new job.
# refused: the provider would not start the job (e.g. fine-tuning not available to this organisation).
TERMINAL = ("succeeded", "failed", "cancelled", "refused", "interrupted")
STATUSES = ACTIVE + TERMINAL

LOCAL_BACKENDS = ("local-setfit", "local-lora")
HOSTED_BACKEND = "openai"  # any OpenAI-compatible fine-tuning API (OpenAI, Azure OpenAI, …)

# What each backend's model is called in the registry, and the approach spec Evaluate runs it with.
_FAMILY = {"local-setfit": "setfit", "local-lora": "lora", "openai": "ft"}
# A dead local worker stops refreshing its heartbeat; after this long the job is marked interrupted.
STALE_AFTER_S = 90.0


def now_iso() -> str:
    """The store's timestamp format (same as the SQL defaults)."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def age_s(stamp: str | None) -> float | None:
    if not stamp:
        return None
    return (dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(stamp)).total_seconds()


@dataclass(frozen=True)
class Job:
    id: str
    backend: str
    base_model: str
    dataset_hash: str | None
    params: dict[str, Any]
    status: str
    provider_id: str | None = None
    model_ref: str | None = None
    cost_usd: float | None = None
    error: str | None = None
    created_at: str = ""
    updated_at: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    progress: float = 0.0
    progress_note: str = ""
    pid: int | None = None
    heartbeat_at: str | None = None
    cancel_requested: bool = False
    trained_tokens: int | None = None
    estimate: dict[str, Any] | None = None
    version: int | None = None
    restarted_from: str | None = None

    @classmethod
    def from_row(cls, row) -> "Job":
        d = dict(row)
        d["params"] = json.loads(d.pop("params_json") or "{}")
        est = d.pop("estimate_json")
        d["estimate"] = json.loads(est) if est else None
        d["cancel_requested"] = bool(d["cancel_requested"])
        return cls(**d)

    @property
    def is_local(self) -> bool:
        return self.backend in LOCAL_BACKENDS

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def seconds(self) -> float | None:
        """Wall time from start to finish (or to now while it runs)."""
        if not self.started_at:
            return None
        end = dt.datetime.fromisoformat(self.finished_at) if self.finished_at else dt.datetime.now(dt.timezone.utc)
        return (end - dt.datetime.fromisoformat(self.started_at)).total_seconds()

    @property
    def model_name(self) -> str | None:
        """The registered model's display name: family and version, e.g. `setfit v3`."""
        if self.status != "succeeded" or self.version is None:
            return None
        return f"{_FAMILY.get(self.backend, self.backend)} · {self.base_model} v{self.version}"

    @property
    def approach_spec(self) -> str | None:
        """How Evaluate runs the resulting model (None until it exists)."""
        if self.status != "succeeded" or not self.model_ref:
            return None
        if not self.is_local:  # any hosted provider: its fine-tunes answer on an OpenAI-compatible endpoint
            # The plain-text prompt: the exact system prompt and answer format the model was trained on. A provider
            # with its own API names itself: Evaluate then calls its inference endpoint with its key (never stored).
            where = f":provider={self.backend}:tuned_from={self.base_model}" if self.backend != "openai" else ""
            return f"openai:{self.model_ref}:zero-shot:output=text{where}"
        return f"local:{_FAMILY[self.backend]}:{self.id}"

    def summary(self) -> dict[str, Any]:
        """The job as the CLI prints it (`python -m core train/jobs --json`): keys are only ever added."""
        return {"job_id": self.id, "status": self.status, "model": self.model_ref, "cost_usd": self.cost_usd,
                "seconds": round(self.seconds, 1) if self.seconds is not None else None, "backend": self.backend,
                "base_model": self.base_model, "dataset": self.dataset_hash, "approach": self.approach_spec,
                "version": self.version, "trained_tokens": self.trained_tokens, "estimate": self.estimate,
                "error": self.error, "provider": None if self.is_local else self.backend,
                "provider_job_id": self.provider_id}

    @property
    def rollback_spec(self) -> str:
        """The baseline prompt approach this model replaces — always available to go back to."""
        if not self.is_local:
            where = f":provider={self.backend}" if self.backend != "openai" else ""
            return f"openai:{self.base_model}:zero-shot:output=text{where}"
        return "local:zero-shot"


@dataclass(frozen=True)
class Event:
    seq: int
    at: str
    kind: str  # status | message | metrics
    message: str
    data: dict[str, Any] | None = None
    provider_event_id: str | None = None


@dataclass(frozen=True)
class ModelVersion:
    """One row of the model registry: a finished job's model, or the baseline every model can roll back to."""

    name: str
    approach_spec: str
    job_id: str | None
    backend: str
    base_model: str
    version: int | None
    dataset_hash: str | None
    created_at: str
    baseline: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


# --- creating and reading -------------------------------------------------------


def new_job_id(backend: str) -> str:
    return f"{_FAMILY.get(backend, 'ft')}-{secrets.token_hex(4)}"


def create(
    store: Store,
    backend: str,
    base_model: str,
    dataset_hash: str | None,
    params: dict[str, Any],
    *,
    estimate: dict[str, Any] | None = None,
    restarted_from: str | None = None,
    job_id: str | None = None,
) -> Job:
    """Record a new job (status `pending`) before anything is sent or started, so nothing runs unrecorded."""
    job_id = job_id or new_job_id(backend)
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO jobs(id, backend, base_model, dataset_hash, params_json, status, estimate_json, restarted_from)"
            " VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
            (job_id, backend, base_model, dataset_hash, to_json(params),
             to_json(estimate) if estimate is not None else None, restarted_from),
        )
        _event(conn, job_id, "status", "pending", {"status": "pending"})
    return get(store, job_id)


def get(store: Store, job_id: str) -> Job:
    row = store.query_one("SELECT * FROM jobs WHERE id = ?", (job_id,))
    if row is None:
        raise KeyError(f"no job {job_id!r} in the store")
    return Job.from_row(row)


def list_jobs(store: Store, statuses: Iterable[str] | None = None, backend: str | None = None) -> list[Job]:
    """Newest first."""
    sql, args = "SELECT * FROM jobs WHERE 1=1", []
    if statuses is not None:
        statuses = list(statuses)
        sql += f" AND status IN ({','.join('?' * len(statuses))})"
        args += statuses
    if backend is not None:
        sql += " AND backend = ?"
        args.append(backend)
    return [Job.from_row(r) for r in store.query(sql + " ORDER BY created_at DESC, rowid DESC", args)]


def events(store: Store, job_id: str, kinds: Iterable[str] | None = None) -> list[Event]:
    rows = store.query("SELECT * FROM job_events WHERE job_id = ? ORDER BY seq", (job_id,))
    wanted = set(kinds) if kinds is not None else None
    return [
        Event(r["seq"], r["at"], r["kind"], r["message"], json.loads(r["data_json"]) if r["data_json"] else None,
              r["provider_event_id"])
        for r in rows
        if wanted is None or r["kind"] in wanted
    ]


# --- writing --------------------------------------------------------------------


def _event(conn, job_id: str, kind: str, message: str, data: dict | None = None,
           provider_event_id: str | None = None, at: str | None = None) -> bool:
    """Append an event inside an open transaction; False when this provider event is already stored."""
    if provider_event_id is not None and conn.execute(
        "SELECT 1 FROM job_events WHERE job_id = ? AND provider_event_id = ?", (job_id, provider_event_id)
    ).fetchone():
        return False
    seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM job_events WHERE job_id = ?", (job_id,)).fetchone()[0]
    conn.execute(
        "INSERT INTO job_events(job_id, seq, at, kind, message, data_json, provider_event_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (job_id, seq, at or now_iso(), kind, message, to_json(data) if data is not None else None, provider_event_id),
    )
    return True


def add_event(store: Store, job_id: str, kind: str, message: str, data: dict | None = None, *,
              provider_event_id: str | None = None, at: str | None = None) -> bool:
    with store.transaction() as conn:
        return _event(conn, job_id, kind, message, data, provider_event_id, at)


def record_metrics(store: Store, job_id: str, step: int, *, provider_event_id: str | None = None,
                   at: str | None = None, **values: float | None) -> bool:
    """One point of the loss curves: `train_loss`, `valid_loss`, accuracies … at a training step."""
    data = {"step": int(step), **{k: float(v) for k, v in values.items() if v is not None}}
    return add_event(store, job_id, "metrics", "", data, provider_event_id=provider_event_id, at=at)


def metrics(store: Store, job_id: str) -> list[dict[str, float]]:
    """The job's metric points merged by step (a step's train and validation loss may arrive separately)."""
    by_step: dict[int, dict[str, float]] = {}
    for ev in events(store, job_id, kinds=("metrics",)):
        if ev.data and "step" in ev.data:
            by_step.setdefault(int(ev.data["step"]), {}).update(ev.data)
    return [by_step[s] for s in sorted(by_step)]


def _update(conn, job_id: str, **cols: Any) -> None:
    cols["updated_at"] = now_iso()
    conn.execute(f"UPDATE jobs SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?", (*cols.values(), job_id))


def update(store: Store, job_id: str, **cols: Any) -> None:
    """Set plain columns (provider_id, pid, trained_tokens, …); dict values are stored as JSON."""
    cols = {("params_json" if k == "params" else "estimate_json" if k == "estimate" else k):
            (to_json(v) if isinstance(v, dict) else v) for k, v in cols.items()}
    with store.transaction() as conn:
        _update(conn, job_id, **cols)


def set_status(store: Store, job_id: str, status: str, message: str = "", *, error: str | None = None,
               data: dict | None = None) -> bool:
    """Move an active job to `status`; a finished job never changes again. Returns whether it moved."""
    if status not in STATUSES:
        raise ValueError(f"unknown job status {status!r}")
    if status == "succeeded":
        raise ValueError("use jobs.succeed() so that the model is registered with its version")
    with store.transaction() as conn:
        row = conn.execute("SELECT status, started_at FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(f"no job {job_id!r} in the store")
        if row["status"] not in ACTIVE or row["status"] == status:
            return False
        cols: dict[str, Any] = {"status": status}
        if status == "running" and not row["started_at"]:
            cols["started_at"] = now_iso()
        if status in TERMINAL:
            cols["finished_at"] = now_iso()
            cols["started_at"] = row["started_at"] or cols["finished_at"]
        if error is not None:
            cols["error"] = error
        _update(conn, job_id, **cols)
        _event(conn, job_id, "status", message or status, {"status": status, **({"error": error} if error else {}),
                                                           **(data or {})})
        return True


def succeed(store: Store, job_id: str, model_ref: str, *, cost_usd: float | None = None,
            trained_tokens: int | None = None, message: str = "") -> bool:
    """Register the resulting model exactly once: only the caller that moves the job to `succeeded` does.

    The model gets the next version number among jobs of the same backend and base model.
    """
    with store.transaction() as conn:
        row = conn.execute("SELECT status, backend, base_model, started_at FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(f"no job {job_id!r} in the store")
        if row["status"] not in ACTIVE:
            return False
        version = conn.execute(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM jobs WHERE backend = ? AND base_model = ? AND status = 'succeeded'",
            (row["backend"], row["base_model"]),
        ).fetchone()[0]
        finished = now_iso()
        cols: dict[str, Any] = {"status": "succeeded", "model_ref": model_ref, "version": version, "progress": 1.0,
                                "finished_at": finished, "started_at": row["started_at"] or finished}
        if cost_usd is not None:
            cols["cost_usd"] = cost_usd
        if trained_tokens is not None:
            cols["trained_tokens"] = trained_tokens
        _update(conn, job_id, **cols)
        _event(conn, job_id, "status", message or f"succeeded: model v{version} registered ({model_ref})",
               {"status": "succeeded", "model_ref": model_ref, "version": version})
        return True


def set_progress(store: Store, job_id: str, progress: float, note: str = "") -> None:
    """Progress 0..1 for the page's bar; also counts as a heartbeat of the local worker."""
    with store.transaction() as conn:
        _update(conn, job_id, progress=max(0.0, min(1.0, float(progress))), progress_note=note, heartbeat_at=now_iso())


def heartbeat(store: Store, job_id: str) -> None:
    with store.transaction() as conn:
        conn.execute("UPDATE jobs SET heartbeat_at = ? WHERE id = ?", (now_iso(), job_id))


def request_cancel(store: Store, job_id: str) -> Job:
    """Ask a local worker to stop at its next step (it checks this flag); a pending job is cancelled at once."""
    job = get(store, job_id)
    if not job.is_active:
        return job
    update(store, job_id, cancel_requested=1)
    if job.status == "pending" and job.pid is None and not job.provider_id:
        set_status(store, job_id, "cancelled", "cancelled before it started")
    return get(store, job_id)


def cancel_requested(store: Store, job_id: str) -> bool:
    row = store.query_one("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,))
    return bool(row and row[0])


# --- liveness of local workers ------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is dead for our purpose
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def reconcile_local(store: Store, stale_after_s: float = STALE_AFTER_S) -> list[str]:
    """Mark local jobs whose worker died as `interrupted` (they can be restarted). Returns their ids.

    Dead means: its process is gone, or it stopped refreshing its heartbeat. A
    pending job nobody picked up within the same time is dead too.
    """
    marked = []
    for job in list_jobs(store, ACTIVE):
        if not job.is_local:
            continue
        beat = age_s(job.heartbeat_at) if job.heartbeat_at else age_s(job.created_at)
        dead_pid = job.pid is not None and not _pid_alive(job.pid)
        if dead_pid or (beat is not None and beat > stale_after_s):
            why = "its worker process is gone" if dead_pid else f"no sign of life for {beat:.0f} s"
            if set_status(store, job.id, "interrupted", f"interrupted: {why}; restart it to train again",
                          error=f"interrupted ({why})"):
                marked.append(job.id)
    return marked


def restart(store: Store, job_id: str) -> Job:
    """A new pending job with the same backend, base model, dataset and parameters as a finished one."""
    old = get(store, job_id)
    if old.is_active:
        raise ValueError(f"job {job_id} is still {old.status}; only a finished job can be restarted")
    new = create(store, old.backend, old.base_model, old.dataset_hash, old.params, estimate=old.estimate,
                 restarted_from=old.id)
    add_event(store, old.id, "message", f"restarted as {new.id}", {"restarted_as": new.id})
    return new


# --- the model registry ---------------------------------------------------------


def models(store: Store, include_baselines: bool = True) -> list[ModelVersion]:
    """Every registered model, newest first, then the baselines they roll back to (always present)."""
    out = []
    rollbacks: dict[str, ModelVersion] = {}
    for job in list_jobs(store, ("succeeded",)):
        spec = job.approach_spec
        if spec is None:
            continue
        out.append(ModelVersion(
            name=job.model_name or job.id, approach_spec=spec, job_id=job.id, backend=job.backend,
            base_model=job.base_model, version=job.version, dataset_hash=job.dataset_hash,
            created_at=job.finished_at or job.updated_at, extra={"model_ref": job.model_ref, "cost_usd": job.cost_usd},
        ))
        rollbacks.setdefault(job.rollback_spec, _baseline(job.rollback_spec, job.base_model if not job.is_local else ""))
    if include_baselines:
        # The local zero-shot prompt (label descriptions) needs no key and no training: the rollback that always works.
        rollbacks.setdefault("local:zero-shot", _baseline("local:zero-shot", ""))
        out += list(rollbacks.values())
    return out


def _baseline(spec: str, base_model: str) -> ModelVersion:
    where = f" on {base_model}" if base_model else " (local MiniLM)"
    return ModelVersion(name=f"baseline: zero-shot prompt{where}", approach_spec=spec, job_id=None,
                        backend="openai" if spec.startswith("openai:") else "local", base_model=base_model,
                        version=None, dataset_hash=None, created_at="", baseline=True)
