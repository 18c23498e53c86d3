"""Local backend 1: SetFit on MiniLM — real (tiny) trainings, in-process and in the detached worker."""

import os
import signal
import time

import pytest

from core.data import dataset as datasets
from core.training import jobs
from core.training.options import SetFitOptions, estimate_setfit, setfit_pairs
from tests.training_data import repeated_dataset, tiny_dataset

pytest.importorskip("setfit")

FAST = SetFitOptions(max_steps=4, batch_size=8)


def _wait(store, job_id, until, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = jobs.get(store, job_id)
        if until(job):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} stuck at {jobs.get(store, job_id)}")


def test_pairs_grow_with_the_square_of_the_examples_and_steps_are_capped():
    assert setfit_pairs([8] * 5, None) == 1280  # SetFit's own count for 40 examples in 5 classes
    assert setfit_pairs([16] * 5, None) == 5120  # twice the examples, four times the pairs
    assert setfit_pairs([16] * 5, 20) == 3200  # num_iterations makes it linear
    ds = repeated_dataset(60)
    est = estimate_setfit(ds.split("train"), ds.split("dev"), SetFitOptions(target_minutes=1))
    assert est.seconds < 100 and est.steps < 960 and "capped" in " ".join(est.notes)


def test_a_saved_model_reloads_with_the_same_predictions(tmp_path):
    from core.training.setfit_local import SetFitClassifier

    ds = tiny_dataset()
    train, test = ds.split("train"), ds.split("test")
    clf = SetFitClassifier(FAST).fit([e.text for e in train], [e.label for e in train], label_order=ds.task.label_names)
    texts = [e.text for e in test]
    before, proba = clf.predict(texts), clf.predict_proba(texts)
    assert set(before) <= {"billing", "shipping"} and proba.shape == (4, 2)
    again = SetFitClassifier.load(clf.save(tmp_path / "m"))
    assert again.labels == ["billing", "shipping"]
    assert again.predict(texts) == before
    assert abs(again.predict_proba(texts) - proba).max() < 1e-5


def test_a_setfit_job_streams_its_loss_and_registers_its_model(store):
    from core.training.worker import launch_local

    ds = tiny_dataset()
    job = launch_local(store, "local-setfit", ds, SetFitOptions(max_steps=10, batch_size=4), detach=False)
    assert job.status == "succeeded", job.error
    assert os.path.isdir(job.model_ref) and job.model_ref.startswith(str(store.path.parent / "models"))
    assert job.version == 1 and job.cost_usd == 0.0 and job.progress == 1.0
    points = jobs.metrics(store, job.id)
    assert any("train_loss" in p for p in points) and any("valid_loss" in p for p in points)
    assert any(e.data and "dev_accuracy" in e.data for e in jobs.events(store, job.id))
    assert datasets.load(store, job.dataset_hash).hash == ds.hash  # the exact version it was trained on
    assert job.approach_spec == f"local:setfit:{job.id}"


def test_a_trained_model_evaluates_as_an_approach(store):
    from core.evaluation import runs
    from core.backends import approach_from_spec
    from core.backends.local_finetuned import trained_models
    from core.training.worker import launch_local

    ds = tiny_dataset()
    job = launch_local(store, "local-setfit", ds, FAST, detach=False)
    assert trained_models(store, ds) == [job.approach_spec]  # offered on the Evaluate page
    approach = approach_from_spec(job.approach_spec, store=store)
    assert approach.spec == job.approach_spec and approach.config()["model_dir"] == job.model_ref
    run = runs.execute(store, ds, approach, "test")
    rows = runs.predictions(store, run.id)
    assert len(rows) == 4 and all(r["label"] in ("billing", "shipping") for r in rows)
    with pytest.raises(ValueError, match="no such trained model"):
        approach_from_spec("local:setfit:nope-123", store=store)


def test_detached_workers_queue_one_at_a_time_and_stop_when_cancelled(store):
    from core.training.worker import launch_local

    ds = tiny_dataset()
    slow = launch_local(store, "local-setfit", ds, SetFitOptions(max_steps=400, batch_size=4))
    _wait(store, slow.id, lambda j: j.status == "running" and j.progress > 0.06)  # past loading, inside the steps
    quick = launch_local(store, "local-setfit", ds, FAST)
    _wait(store, quick.id, lambda j: j.status == "queued")  # it waits for the training slot
    assert jobs.get(store, slow.id).status == "running"
    jobs.request_cancel(store, slow.id)
    slow = _wait(store, slow.id, lambda j: not j.is_active)
    assert slow.status == "cancelled" and slow.model_ref is None
    assert not (store.path.parent / "models" / slow.id).exists()
    quick = _wait(store, quick.id, lambda j: not j.is_active)
    assert quick.status == "succeeded", quick.error


def test_a_killed_worker_leaves_an_interrupted_job_that_restarts(store):
    from core.training.worker import launch_local

    job = launch_local(store, "local-setfit", tiny_dataset(), SetFitOptions(max_steps=400, batch_size=4))
    job = _wait(store, job.id, lambda j: j.status == "running")
    os.kill(job.pid, signal.SIGKILL)  # the machine's OOM killer, a reboot …
    _wait(store, job.id, lambda j: jobs.reconcile_local(store) or not j.is_active, timeout=30)
    job = jobs.get(store, job.id)
    assert job.status == "interrupted" and "restart" in jobs.events(store, job.id)[-1].message
    again = jobs.restart(store, job.id)
    assert again.status == "pending" and again.params == job.params and again.restarted_from == job.id
