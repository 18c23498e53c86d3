"""The OpenAI-compatible backend against the loopback server, through the real openai client."""

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import responses

from core.evaluation import runs
from core.backends import approach_from_spec
from core.data.dataset import Dataset
from core.evaluation.metrics import compute
from tests.eval_data import make_dataset
from tests.fake_openai import Faults, error_response

ROOT = Path(__file__).resolve().parent.parent


def _approach(server, store, spec="openai:fake-model:zero-shot", **kw):
    opts = dict(store=store, base_url=server.base_url, api_key="test-key", concurrency=16, max_retries=4, timeout=0.5)
    return approach_from_spec(spec, **(opts | kw))


def test_faulty_server_every_example_answered_once_and_never_paid_twice(fake_openai, store):
    """500 examples, 20 % injected faults (429, 500, hangs, malformed content): all answered once, nothing paid twice."""
    fake_openai.latency_s = 0.02
    fake_openai.faults = Faults(rate=0.2, hang_s=1.0)
    ds = make_dataset(train_per_label=5, test_per_label=125)
    run = runs.execute(store, ds, _approach(fake_openai, store))
    rows = runs.predictions(store, run.id)
    assert run.status == "finished" and len(rows) == 500
    assert len({r["example_idx"] for r in rows}) == 500 and not any(r["error"] for r in rows)
    assert responses.count(store) == 500 == len(fake_openai.billed)
    assert fake_openai.duplicate_paid_calls() == 0
    faults = {k: fake_openai.count(fault=k) for k in ("429", "500", "timeout", "malformed")}
    assert all(n > 0 for n in faults.values()), faults
    # A malformed answer was paid for: it is kept, and counted as an invalid output — not retried.
    m = compute(rows, ds.task.label_names)
    assert round(m.invalid_rate * 500) == faults["malformed"]
    assert 0.5 < m.accuracy < 0.99 and m.input_tokens_per_call > 50

    before = len(fake_openai.requests)
    again = runs.execute(store, ds, _approach(fake_openai, store))
    assert again.id == run.id and len(fake_openai.requests) == before  # a rerun is free


def _write_csv(ds: Dataset, path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label", "split"])
        for e in ds.examples:
            w.writerow([e.text, e.label, e.split])


def test_killed_run_resumes_with_only_the_missing_examples(fake_openai, workspace, tmp_path):
    fake_openai.latency_s = 0.05
    ds = make_dataset(train_per_label=5, test_per_label=50)
    path = tmp_path / "tickets.csv"
    _write_csv(ds, path)
    cmd = [sys.executable, "-m", "core", "--workspace", str(workspace), "evaluate", "--dataset", str(path),
           "--approach", "openai:fake-model:zero-shot", "--base-url", fake_openai.base_url, "--concurrency", "4",
           "--json", "--quiet"]
    env = os.environ | {"OPENAI_API_KEY": "test-key"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    db = workspace / "lab.sqlite3"
    deadline = time.monotonic() + 60
    done = 0
    while time.monotonic() < deadline and done < 60:
        time.sleep(0.05)
        if db.exists():
            try:
                with sqlite3.connect(db) as conn:
                    done = conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
            except sqlite3.OperationalError:  # tables not created yet
                pass
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)  # calls that were in flight finish on the server side (billed, never stored: the kill's price)
    assert 60 <= done < 200, f"the run was not caught mid-way ({done} predictions)"
    with sqlite3.connect(db) as conn:
        stored = {r[0] for r in conn.execute("SELECT key FROM responses")}
        answered = conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
    assert answered < 200

    fake_openai.reset_counters()
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    # Only what had no stored response was asked again, each once.
    assert sum(fake_openai.billed.values()) == 200 - len(stored)
    assert fake_openai.count(path="/v1/chat/completions") == 200 - len(stored)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*), COUNT(DISTINCT example_idx) FROM predictions").fetchone() == (200, 200)
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1


def test_stopping_early_keeps_every_paid_answer(fake_openai, store):
    fake_openai.latency_s = 0.05
    ds = make_dataset(train_per_label=5, test_per_label=50)
    a = _approach(fake_openai, store, concurrency=4).fit(ds.split("train"), ds.task)
    stream = a.predict_stream(ds.split("test"))
    got = [next(stream) for _ in range(5)]
    stream.close()
    assert len(got) == 5
    assert sum(fake_openai.billed.values()) < 20  # it stopped asking
    assert responses.count(store) == sum(fake_openai.billed.values())  # in-flight answers were kept


def test_server_without_structured_output_gets_plain_prompts(fake_openai, store):
    def refuse(server, req):
        if "response_format" in req.json:
            return error_response(400, "Unrecognized request argument supplied: response_format")
        return server.chat_completions(req)

    fake_openai.add_route("POST", r"/v1/chat/completions", refuse)
    ds = make_dataset(train_per_label=3, test_per_label=5)
    preds = _approach(fake_openai, store).fit(ds.split("train"), ds.task).predict(ds.split("test"))
    assert all(p.label is not None and p.error is None for p in preds)
    assert fake_openai.count(status=200) == 20


def test_usage_missing_is_estimated_and_known_models_are_priced(fake_openai, store):
    def no_usage(server, req):
        resp = server.chat_completions(req)
        resp.body.pop("usage", None)
        return resp

    fake_openai.add_route("POST", r"/v1/chat/completions", no_usage)
    ds = make_dataset(train_per_label=3, test_per_label=2)
    preds = _approach(fake_openai, store, spec="openai:gpt-4o-mini:few-shot:k=4").fit(
        ds.split("train"), ds.task).predict(ds.split("test"))
    assert all(p.input_tokens > 100 and p.output_tokens >= 3 for p in preds)  # tiktoken estimates
    assert all(p.cost_usd is not None and 0 < p.cost_usd < 0.01 for p in preds)  # priced from the catalog


def test_failed_calls_are_recorded_and_retried_by_a_rerun(fake_openai, store):
    fake_openai.faults = Faults(rate=1.0, kinds=("500",), max_per_request=1)
    ds = make_dataset(train_per_label=3, test_per_label=5)
    run = runs.execute(store, ds, _approach(fake_openai, store, max_retries=0))
    assert run.status == "incomplete"
    rows = runs.predictions(store, run.id)
    assert all((r["error"] or "").startswith("HTTP 500") for r in rows), {r["error"] for r in rows}
    run = runs.execute(store, ds, _approach(fake_openai, store, max_retries=0))  # the server recovered
    assert run.status == "finished" and not any(r["error"] for r in runs.predictions(store, run.id))


@pytest.mark.parametrize("method", ["few-shot:k=8", "rag:k=4:retriever=tfidf"])
def test_exemplars_help_the_model(fake_openai, store, method):
    fake_openai.noise = 0
    ds = make_dataset(train_per_label=10, test_per_label=15)
    test = ds.split("test")

    def accuracy(spec):
        preds = _approach(fake_openai, store, spec=spec).fit(ds.split("train"), ds.task).predict(test)
        return sum(p.label == e.label for p, e in zip(preds, test)) / len(test)

    zero = accuracy("openai:fake-model:zero-shot:descriptions=false")
    assert accuracy(f"openai:fake-model:{method}:descriptions=false") > zero


def test_batch_api_half_price_and_a_resumed_batch_is_not_submitted_twice(fake_openai, store):
    import asyncio
    import threading

    from core.backends.openai_batch import run_batch

    fake_openai.batch_delay_s = 0.3
    ds = make_dataset(train_per_label=3, test_per_label=5)
    live = _approach(fake_openai, store, spec="openai:gpt-4o-mini:zero-shot").fit(ds.split("train"), ds.task)
    batch = _approach(fake_openai, store, spec="openai:gpt-4o-mini:zero-shot:batch=true", poll_interval=0.05)
    batch.fit(ds.split("train"), ds.task)
    assert batch.spec.endswith(":batch=true") and batch.config_hash != live.config_hash
    test = ds.split("test")
    texts, shots = [e.text for e in test], batch.exemplars_for([e.text for e in test])

    async def first_attempt():  # interrupted while the provider is still working on the batch
        stop = threading.Event()
        asyncio.get_running_loop().call_later(0.15, stop.set)
        return [item async for item in run_batch(batch, texts, shots, stop, 0.05)]

    assert asyncio.run(first_attempt()) == []
    assert len(fake_openai.batches) == 1 and store.query_one("SELECT status FROM batches")[0] != "done"

    preds = batch.predict(test)  # resumes polling the same batch
    assert len(fake_openai.batches) == 1 and fake_openai.duplicate_paid_calls() == 0
    assert all(p.label is not None and p.latency_ms is None for p in preds)
    assert store.query_one("SELECT status FROM batches")[0] == "done"
    fake_openai.reset_counters()
    live_preds = live.predict(test)  # the same requests, already answered by the batch: free
    assert fake_openai.count(path="/v1/chat/completions") == 0
    assert [p.label for p in live_preds] == [p.label for p in preds]
    assert sum(p.cost_usd for p in preds) == pytest.approx(sum(p.cost_usd for p in live_preds) / 2)
