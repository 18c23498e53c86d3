"""The local training worker: one detached process per local job, reporting only through the store.

    python -m core.training.worker --db WORKSPACE/lab.sqlite3 --job JOB_ID

A detached process (own session) survives a Streamlit rerun, a closed tab and
an app restart; if it dies, its heartbeat stops and `jobs.reconcile_local`
marks the job interrupted. Local trainings take a workspace lock so two of
them never share the machine's cores: a second job waits as `queued`.
The CLI runs the same `run_local_job` in its own process.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from core.training import jobs
from core.config import PROJECT_ROOT
from core.store import Store
from core.training import LOCAL_LORA, LOCAL_SETFIT, JobCancelled
from core.training.progress import Reporter

LOCK_NAME = "local-training.lock"
ENV_DB = "env:FTLAB_DATABASE_URL"  # --db value: the PostgreSQL URL is in the worker's environment
_CHILDREN: dict[str, subprocess.Popen] = {}  # reaped on the next spawn, so no zombie lingers


def workspace_of(store: Store) -> Path:
    return store.path.parent


def models_dir(store: Store) -> Path:
    return workspace_of(store) / "models"


def log_path(store: Store, job_id: str) -> Path:
    return workspace_of(store) / "jobs" / f"{job_id}.log"


@contextmanager
def _training_slot(store: Store, job_id: str, reporter: Reporter) -> Iterator[None]:
    """Hold the workspace's local-training lock; wait as `queued` (cancellable) while another job holds it."""
    path = workspace_of(store) / LOCK_NAME
    with open(path, "a+") as handle:
        queued = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not queued:
                    jobs.set_status(store, job_id, "queued", "queued: another local training is running")
                    queued = True
                reporter.check_cancel(every_s=0)
                jobs.heartbeat(store, job_id)
                time.sleep(1.0)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_local_job(store: Store, job_id: str) -> jobs.Job:
    """Train a pending local job to its end (succeeded, failed or cancelled) in this process."""
    job = jobs.get(store, job_id)
    if not job.is_local:
        raise ValueError(f"job {job_id} runs on {job.backend}, not on this machine")
    if not job.is_active:
        return job
    jobs.update(store, job_id, pid=os.getpid())
    reporter = Reporter(store, job_id)
    out_dir = models_dir(store) / job_id
    try:
        reporter.check_cancel(every_s=0)
        with _training_slot(store, job_id, reporter):
            reporter.check_cancel(every_s=0)
            jobs.set_status(store, job_id, "running", "training on this machine")
            from core.data import dataset as datasets

            data = datasets.load(store, job.dataset_hash)
            models_dir(store).mkdir(parents=True, exist_ok=True)
            if job.backend == LOCAL_SETFIT:
                from core.training import setfit_local as trainer
            elif job.backend == LOCAL_LORA:
                from core.training import lora_local as trainer
            else:  # pragma: no cover - guarded by is_local
                raise ValueError(job.backend)
            path, summary = trainer.train_job(job, data, reporter, models_dir(store))
            if "dev_accuracy" in summary:
                reporter.message(f"dev accuracy {summary['dev_accuracy']:.1%} on {summary.get('dev_examples')} examples",
                                 {"dev_accuracy": summary["dev_accuracy"]})
            jobs.succeed(store, job_id, path, cost_usd=0.0)
    except JobCancelled as exc:
        shutil.rmtree(out_dir, ignore_errors=True)
        jobs.set_status(store, job_id, "cancelled", f"cancelled: {exc}")
    except Exception as exc:  # the job records why; the log file keeps the traceback
        traceback.print_exc()
        shutil.rmtree(out_dir, ignore_errors=True)
        jobs.set_status(store, job_id, "failed", f"failed: {type(exc).__name__}: {exc}", error=f"{type(exc).__name__}: {exc}")
    finally:
        reporter.close()
    return jobs.get(store, job_id)


def spawn(store: Store, job_id: str) -> int:
    """Start the worker for a pending local job as a detached process; returns its pid."""
    for jid, child in list(_CHILDREN.items()):
        if child.poll() is not None:
            del _CHILDREN[jid]
    log = log_path(store, job_id)
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}  # a local job needs no key: don't hand it one
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_WAIT_POLICY="PASSIVE", TOKENIZERS_PARALLELISM="false",
               TQDM_DISABLE="1")  # progress goes to the store; the log keeps messages and tracebacks
    db = str(store.path)
    if store.dialect == "postgresql":  # the URL may hold a password: in the environment, not on the command line
        env.update(FTLAB_DATABASE_URL=db, FTLAB_WORKSPACE=str(workspace_of(store)))
        db = ENV_DB
    with open(log, "ab") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "core.training.worker", "--db", db, "--job", job_id],
            cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # not killed with the app's process group
        )
    _CHILDREN[job_id] = child
    jobs.update(store, job_id, pid=child.pid)
    jobs.add_event(store, job_id, "message", f"worker started (pid {child.pid}); log: {log}")
    return child.pid


def launch_local(store: Store, backend: str, dataset, options, *, estimate: dict | None = None,
                 detach: bool = True) -> jobs.Job:
    """Record a local job for this dataset version and start it: detached (the page) or here (the CLI)."""
    from core.data import dataset as datasets
    from core.training import parse_backend

    _, base_model = parse_backend(backend)
    datasets.save(store, dataset)
    job = jobs.create(store, backend, base_model, dataset.hash, options.model_dump(), estimate=estimate)
    if detach:
        spawn(store, job.id)
        return jobs.get(store, job.id)
    return run_local_job(store, job.id)


def restart(store: Store, job_id: str) -> jobs.Job:
    """Re-run an interrupted (or failed, cancelled) local job as a new job with the same settings."""
    job = jobs.restart(store, job_id)
    spawn(store, job.id)
    return jobs.get(store, job.id)


def _terminate(signum, frame):  # noqa: ARG001 - signal handler signature
    raise JobCancelled("stopped by a signal")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one local training job (started by the Train page or the CLI).")
    parser.add_argument("--db", required=True, help=f"the workspace's lab.sqlite3, or {ENV_DB}")
    parser.add_argument("--job", required=True)
    args = parser.parse_args(argv)
    from core.encoder import prepare_torch_env

    prepare_torch_env()
    signal.signal(signal.SIGTERM, _terminate)
    job = run_local_job(Store(os.environ["FTLAB_DATABASE_URL"] if args.db == ENV_DB else args.db), args.job)
    print(f"job {job.id}: {job.status} {job.model_ref or job.error or ''}", flush=True)
    return 0 if job.status == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
