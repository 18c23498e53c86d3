"""Local backend 1: SetFit on MiniLM — real (tiny) trainings, in-process and in the detached worker."""

import json
import os
import signal
import time

import pytest

from core.data import dataset as datasets
from core.training import jobs
from core.data.dataset import Example
from core.training.options import (HEAD_CS, SetFitOptions, estimate_setfit, setfit_pair_batch, setfit_pairs,
                                   setfit_plan)
from core.training.setfit_local import head_c_of, logistic_head
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


def test_the_defaults_follow_the_sweep_and_the_estimate_says_what_is_capped_and_why():
    opts = SetFitOptions()
    assert (opts.head_c, opts.tfidf_blend, opts.max_seq_length, opts.max_steps) == (None, True, 256, 65)
    assert opts.max_examples_per_class is None  # the head learns from every example
    ds = repeated_dataset(100)
    train = ds.split("train")
    plan = setfit_plan(train, SetFitOptions(body_examples_per_class=30))
    assert plan.body_examples == 60 and plan.max_steps == 65 and plan.natural > 65
    notes = " ".join(estimate_setfit(train, ds.split("dev"), SetFitOptions(body_examples_per_class=30)).notes)
    assert "more steps hurt" in notes and "C cross-validated (0.3–100) on all 200 examples" in notes and "TF-IDF" in notes
    assert "at most 30 examples per class" in notes
    assert "minutes" not in notes and "budget" in notes


def test_the_head_is_cross_validated_unless_a_class_is_too_small_or_c_is_given():
    from sklearn.linear_model import LogisticRegressionCV

    cv = logistic_head(None, [0, 0, 0, 1, 1, 1, 1, 1, 1])
    assert isinstance(cv, LogisticRegressionCV) and cv.cv == 3 and list(cv.Cs) == list(HEAD_CS)
    assert logistic_head(None, [0] * 10 + [1] * 10).cv == 5
    assert logistic_head(None, [0, 0, 1, 1, 1]).C == 10  # 2 examples in a class: too few to cross-validate
    assert logistic_head(3.0, [0] * 10 + [1] * 10).C == 3.0


def test_long_texts_get_fewer_pairs_per_step():
    assert setfit_pair_batch(30, 16) == 16  # BANKING77-like texts: the full batch
    assert setfit_pair_batch(82, 16) == 16  # BANKING77's longest text
    assert setfit_pair_batch(256, 16) == 6  # 12 texts × 256 word pieces per step (2.36 GB peak measured)
    long = [Example(f"l{i}", "word " * 160, "ab"[i % 2], "train") for i in range(20)]
    plan = setfit_plan(long, SetFitOptions())
    assert plan.batch == 7 and plan.longest_pieces == 218
    assert "7 pairs per step instead of 16" in " ".join(estimate_setfit(long, [], SetFitOptions()).notes)


def test_a_saved_model_reloads_with_the_same_predictions(tmp_path):
    from core.training.setfit_local import SetFitClassifier

    ds = tiny_dataset()
    train, test = ds.split("train"), ds.split("test")
    clf = SetFitClassifier(FAST).fit([e.text for e in train], [e.label for e in train], label_order=ds.task.label_names)
    texts = [e.text for e in test]
    before, proba = clf.predict(texts), clf.predict_proba(texts)
    assert set(before) <= {"billing", "shipping"} and proba.shape == (4, 2)
    # The default blend: 50/50 with TF-IDF + LR, saved beside the model and reloaded with it.
    assert clf.tfidf is not None and clf.fit_info["head_c_chosen_by"] == "cross-validation"
    assert clf.fit_info["head_c"] in HEAD_CS and head_c_of(clf.model.model_head) == clf.fit_info["head_c"]
    setfit_only = clf.model.predict_proba(texts, as_numpy=True)
    assert abs(0.5 * setfit_only + 0.5 * clf.tfidf.predict_proba(texts) - proba).max() < 1e-9
    path = clf.save(tmp_path / "m")
    assert json.loads((path / "ftlab.json").read_text())["tfidf_blend"] is True
    again = SetFitClassifier.load(path)
    assert again.labels == ["billing", "shipping"] and again.tfidf is not None
    assert head_c_of(again.model.model_head) == clf.fit_info["head_c"]
    assert again.predict(texts) == before
    assert abs(again.predict_proba(texts) - proba).max() < 1e-5


def test_the_head_uses_every_example_and_the_body_stops_at_its_time_budget():
    from core.training.setfit_local import SetFitClassifier

    ds = tiny_dataset()
    train = ds.split("train")
    # 2 × 100 pairs per body example: 200 steps, far more than a 3-second budget holds on any machine
    opts = SetFitOptions(max_steps=400, batch_size=4, target_minutes=0.05, body_examples_per_class=2,
                         num_iterations=100, tfidf_blend=False)
    clf = SetFitClassifier(opts).fit([e.text for e in train], [e.label for e in train], label_order=ds.task.label_names)
    info = clf.fit_info
    assert info["stopped_by"] == "time budget" and 1 <= info["body_steps"] < 200 and info["s_per_step"] > 0
    assert info["body_examples"] == 4 and info["head_examples"] == 8 and info["tfidf_blend"] is False
    assert clf.tfidf is None and len(clf.predict([e.text for e in ds.split("test")])) == 4


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
    from core.backends import approach_from_spec, describe
    from core.backends.local_finetuned import trained_models
    from core.training.worker import launch_local

    ds = tiny_dataset()
    job = launch_local(store, "local-setfit", ds, FAST, detach=False)
    assert trained_models(store, ds) == [job.approach_spec]  # offered on the Evaluate page
    approach = approach_from_spec(job.approach_spec, store=store)
    n = len(ds.split("train"))
    assert describe(f"local:setfit:{job.model_ref}").startswith(f"SetFit (MiniLM) fine-tuned on {n} examples + TF-IDF blend · ")
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
