"""The job registry: status history, metrics, exactly-once registration, dead workers, versions, rollback."""

import subprocess
import sys
import threading

import pytest

from core.training import jobs


def _job(store, backend="local-setfit", base="all-MiniLM-L6-v2"):
    return jobs.create(store, backend, base, "abc123", {"epochs": 1}, estimate={"seconds": 30, "cost_usd": 0.0})


def test_a_job_keeps_its_status_history_and_never_leaves_a_final_state(store):
    job = _job(store)
    assert job.status == "pending" and job.params == {"epochs": 1} and job.estimate["seconds"] == 30
    assert jobs.set_status(store, job.id, "queued")
    assert jobs.set_status(store, job.id, "running")
    assert not jobs.set_status(store, job.id, "running")  # no duplicate history line
    assert jobs.set_status(store, job.id, "failed", "boom", error="out of memory")
    assert not jobs.set_status(store, job.id, "running")
    assert not jobs.succeed(store, job.id, "/tmp/model")
    job = jobs.get(store, job.id)
    assert job.status == "failed" and job.error == "out of memory" and job.model_ref is None
    assert job.started_at and job.finished_at
    history = [e.data["status"] for e in jobs.events(store, job.id, kinds=("status",))]
    assert history == ["pending", "queued", "running", "failed"]


def test_the_model_is_registered_once_even_when_two_pollers_race(store):
    job = _job(store, "openai", "gpt-4.1-mini")
    jobs.set_status(store, job.id, "running")
    results = []
    barrier = threading.Barrier(6)

    def finish():
        barrier.wait()
        results.append(jobs.succeed(store, job.id, "ft:gpt-4.1-mini:org::abc", cost_usd=1.5, trained_tokens=1000))

    threads = [threading.Thread(target=finish) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1
    registered = [e for e in jobs.events(store, job.id) if e.data and e.data.get("status") == "succeeded"]
    assert len(registered) == 1
    job = jobs.get(store, job.id)
    assert (job.version, job.cost_usd, job.trained_tokens, job.progress) == (1, 1.5, 1000, 1.0)
    assert job.approach_spec == "openai:ft:gpt-4.1-mini:org::abc:zero-shot:output=text"


def test_models_are_versioned_and_the_baseline_always_stays(store):
    assert [m.approach_spec for m in jobs.models(store)] == ["local:zero-shot"]  # before any training
    ids = []
    for _ in range(2):
        job = _job(store)
        jobs.succeed(store, job.id, f"/models/{job.id}")
        ids.append(job.id)
    hosted = _job(store, "openai", "gpt-4.1-mini")
    jobs.succeed(store, hosted.id, "ft:gpt-4.1-mini:org::x")
    versions = {m.job_id: m for m in jobs.models(store) if not m.baseline}
    assert versions[ids[0]].version == 1 and versions[ids[1]].version == 2
    assert versions[hosted.id].version == 1  # versions count per backend and base model
    assert versions[ids[1]].approach_spec == f"local:setfit:{ids[1]}"
    baselines = {m.approach_spec for m in jobs.models(store) if m.baseline}
    assert baselines == {"local:zero-shot", "openai:gpt-4.1-mini:zero-shot:output=text"}


def test_metrics_merge_by_step_and_provider_events_are_stored_once(store):
    job = _job(store, "openai", "gpt-4.1-mini")
    assert jobs.record_metrics(store, job.id, 2, train_loss=1.0)
    jobs.record_metrics(store, job.id, 1, train_loss=1.5, valid_loss=1.6)
    jobs.record_metrics(store, job.id, 2, valid_loss=1.2)
    assert jobs.metrics(store, job.id) == [
        {"step": 1, "train_loss": 1.5, "valid_loss": 1.6},
        {"step": 2, "train_loss": 1.0, "valid_loss": 1.2},
    ]
    assert jobs.add_event(store, job.id, "message", "Job started", provider_event_id="ftevent-1")
    assert not jobs.add_event(store, job.id, "message", "Job started", provider_event_id="ftevent-1")
    assert [e.message for e in jobs.events(store, job.id, kinds=("message",))] == ["Job started"]


def test_a_local_job_whose_worker_died_is_marked_interrupted_and_can_be_restarted(store):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    job = _job(store)
    jobs.update(store, job.id, pid=dead.pid)
    jobs.set_status(store, job.id, "running")
    alive = _job(store)
    jobs.update(store, alive.id, pid=subprocess.os.getpid())  # this test process: alive
    jobs.set_progress(store, alive.id, 0.5, "step 5/10")  # fresh heartbeat
    hosted = _job(store, "openai", "gpt-4.1-mini")  # hosted jobs are resumed by polling, never marked here
    assert jobs.reconcile_local(store) == [job.id]
    assert jobs.get(store, job.id).status == "interrupted"
    assert jobs.get(store, alive.id).status == "pending"
    assert jobs.get(store, hosted.id).status == "pending"
    again = jobs.restart(store, job.id)
    assert again.id != job.id and again.restarted_from == job.id and again.params == job.params
    with pytest.raises(ValueError):
        jobs.restart(store, alive.id)


def test_a_stale_heartbeat_counts_as_dead(store):
    job = _job(store)
    jobs.update(store, job.id, pid=subprocess.os.getpid(), heartbeat_at="2020-01-01T00:00:00.000Z")
    assert jobs.reconcile_local(store) == [job.id]


def test_cancelling_a_job_nobody_started_is_immediate(store):
    job = _job(store)
    assert jobs.request_cancel(store, job.id).status == "cancelled"
    running = _job(store)
    jobs.update(store, running.id, pid=1234)
    jobs.set_status(store, running.id, "running")
    assert jobs.request_cancel(store, running.id).status == "running"  # the worker stops itself
    assert jobs.cancel_requested(store, running.id)
