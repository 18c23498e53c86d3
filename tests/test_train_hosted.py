"""Hosted backend against the loopback fine-tuning server, through the real openai client."""

import base64
import json
import time

import pytest

from core.training import jobs
from core.training import hosted
from core.training.providers.openai import parse_metrics_csv
from core.training.curves import loss_rows, overfitting_point
from core.training.options import HostedOptions
from tests.fake_openai_ft import FakeFineTuning
from tests.training_data import repeated_dataset, tiny_dataset
from core import endpoint as endpoints
from core.endpoint import Endpoint

BASE = "gpt-4.1-mini-2025-04-14"


@pytest.fixture
def ft_server():
    with FakeFineTuning(steps=12, step_s=0.02, phase_s=0.05) as server:
        yield server


def _client(server):
    return endpoints.client(Endpoint(api_key="sk-test", base_url=server.base_url), max_retries=0, timeout=10)


def _launch(store, server, opts=HostedOptions(), ds=None):
    return hosted.launch(store, _client(server), ds or repeated_dataset(8), BASE, opts, endpoint_label=server.base_url)


def test_a_hosted_job_lives_its_life_and_registers_its_model_with_loss_curves_and_cost(store):
    with FakeFineTuning(steps=12, step_s=0.03, phase_s=0.4) as ft_server:  # phases longer than the poll interval
        job = _launch(store, ft_server)
        assert job.status == "validating_files" and job.provider_id
        job = hosted.watch(store, _client(ft_server), job.id, interval_s=0.05, timeout_s=30)
    assert job.status == "succeeded"
    assert job.model_ref.startswith(f"ft:{BASE}:fake-org:ftlab:")
    history = [e.data["status"] for e in jobs.events(store, job.id, kinds=("status",))]
    assert history == ["pending", "validating_files", "queued", "running", "succeeded"]
    messages = [e.message for e in jobs.events(store, job.id, kinds=("message",))]
    assert "Fine-tuning job started" in messages and any(m.startswith("checkpoint at step") for m in messages)
    points = jobs.metrics(store, job.id)
    assert [p["step"] for p in points] == list(range(1, 13))
    assert all("train_loss" in p and "valid_loss" in p for p in points)
    assert points[-1]["train_loss"] < points[0]["train_loss"]
    turn = overfitting_point(points)
    assert turn is not None and 6 <= turn.step <= 9  # the server's validation loss turns up after 60 % of steps
    assert {r["series"] for r in loss_rows(points)} == {"train", "validation"}
    # trained tokens × the catalog's training price ($5 / 1M for gpt-4.1-mini)
    assert job.trained_tokens > 0 and job.cost_usd == pytest.approx(job.trained_tokens * 5 / 1e6)
    assert job.approach_spec == f"openai:{job.model_ref}:zero-shot:output=text"


def test_the_uploaded_file_is_the_chat_jsonl_of_the_train_split(store, ft_server):
    ds = repeated_dataset(8)
    job = _launch(store, ft_server, ds=ds)
    train = ft_server.files[job.params["training_file"]]
    assert train["meta"]["purpose"] == "fine-tune"
    lines = [json.loads(x) for x in train["content"].splitlines()]
    assert len(lines) == len(ds.split("train"))
    roles = [m["role"] for m in lines[0]["messages"]]
    assert roles == ["system", "user", "assistant"]
    assert lines[0]["messages"][2]["content"] in ds.task.label_names
    assert "Categories:" in lines[0]["messages"][0]["content"]
    dev = ft_server.files[job.params["validation_file"]]
    assert len(dev["content"].splitlines()) == len(ds.split("dev"))


def test_dpo_sends_preference_pairs_and_its_beta(store, ft_server):
    job = _launch(store, ft_server, HostedOptions(method="dpo", beta=0.2, n_epochs=2))
    line = json.loads(ft_server.files[job.params["training_file"]]["content"].splitlines()[0])
    assert set(line) == {"input", "preferred_output", "non_preferred_output"}
    assert line["preferred_output"][0]["content"] != line["non_preferred_output"][0]["content"]
    created = ft_server.ft_jobs[job.provider_id]
    assert created["method"] == {"type": "dpo", "dpo": {"hyperparameters": {
        "n_epochs": 2, "batch_size": "auto", "learning_rate_multiplier": "auto", "beta": 0.2}}}


def test_a_refused_launch_shows_the_providers_reason_and_nothing_claims_success(store):
    with FakeFineTuning(scenario="refuse") as server:
        job = _launch(store, server)
    assert job.status == "refused" and job.model_ref is None and job.version is None
    assert "Fine-tuning is not available for your organization" in job.error
    assert "local SetFit" in job.error and "2027-01-06" in job.error
    assert jobs.models(store, include_baselines=False) == []
    assert [j.status for j in jobs.list_jobs(store)] == ["refused"]


def test_a_failed_job_says_why(store):
    with FakeFineTuning(scenario="fail", phase_s=0.05) as server:
        job = _launch(store, server)
        job = hosted.watch(store, _client(server), job.id, interval_s=0.05, timeout_s=10)
    assert job.status == "failed" and "invalid training file" in job.error and "rejected the training file" in job.error


def test_a_file_the_provider_would_refuse_is_never_sent(store, ft_server):
    with pytest.raises(hosted.InvalidTrainingFile, match="at least 10"):
        _launch(store, ft_server, ds=tiny_dataset())  # 8 examples
    assert ft_server.requests == [] and not ft_server.files and jobs.list_jobs(store) == []


def test_cancel_pause_and_resume_reach_the_provider(store):
    with FakeFineTuning(steps=200, step_s=0.05, phase_s=0.02) as server:
        client = _client(server)
        job = _launch(store, server)
        deadline = time.monotonic() + 10
        while hosted.poll_once(store, client, job.id).status != "running" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hosted.pause(store, client, job.id).status == "paused"
        assert hosted.resume(store, client, job.id).status == "running"
        assert hosted.cancel(store, client, job.id).status == "cancelled"
        assert hosted.poll_once(store, client, job.id).status == "cancelled"  # stays so
    assert jobs.get(store, job.id).model_ref is None


def test_unfinished_jobs_resume_polling_in_the_background_once(store, ft_server):
    job = _launch(store, ft_server)
    started = hosted.resume_polling(store, lambda: _client(ft_server), interval_s=0.05)
    assert started == [job.id]
    assert hosted.resume_polling(store, lambda: _client(ft_server), interval_s=0.05) == []  # already polled
    deadline = time.monotonic() + 20
    while jobs.get(store, job.id).is_active and time.monotonic() < deadline:
        time.sleep(0.1)
    assert jobs.get(store, job.id).status == "succeeded"


def test_a_launch_interrupted_before_the_provider_id_was_stored_is_found_again(store, ft_server):
    client = _client(ft_server)
    ds = repeated_dataset(8)
    job = jobs.create(store, "openai", BASE, ds.hash, {})
    file = client.files.create(file=("t.jsonl", b'{"messages": []}\n'), purpose="fine-tune")
    client.fine_tuning.jobs.create(model=BASE, training_file=file.id, metadata={"ftlab_job": job.id})
    job = hosted.watch(store, client, job.id, interval_s=0.05, timeout_s=20)
    assert job.status == "succeeded" and job.provider_id


@pytest.mark.parametrize("encode", [lambda b: b, base64.b64encode], ids=["plain", "base64"])
def test_result_file_metrics_are_read_plain_or_base64(encode):
    csv = b"step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n1,2.0,0.1,,\n2,1.5,0.3,1.7,0.2\n"
    rows = parse_metrics_csv(encode(csv))
    assert rows == [{"step": 1, "train_loss": 2.0, "train_accuracy": 0.1},
                    {"step": 2, "train_loss": 1.5, "train_accuracy": 0.3, "valid_loss": 1.7,
                     "valid_mean_token_accuracy": 0.2}]
    with pytest.raises(ValueError):
        parse_metrics_csv(b"\x00\x01 not a csv")


def test_errors_are_explained_in_words_a_user_can_act_on():
    assert "check it in the sidebar" in endpoints.explain("invalid_api_key", "Incorrect API key provided", 401)
    refusal = endpoints.explain("fine_tuning_unavailable", "Fine-tuning is not available for your organization.", 403)
    assert refusal.startswith("The provider refused to fine-tune: Fine-tuning is not available")
    assert "local" in refusal


def test_the_estimate_uses_the_catalog_price_and_openai_default_epochs():
    ds = repeated_dataset(8)
    est = hosted.estimate(ds, BASE, HostedOptions())
    assert est.examples == 16 and est.seconds is None
    # 16 examples → OpenAI's default of 100 // 16 = 6 epochs
    assert "6 epochs" in est.notes[0] and est.cost_usd == pytest.approx(est.tokens * 5 / 1e6)
    assert hosted.estimate(ds, BASE, HostedOptions(n_epochs=2)).tokens == est.tokens // 6 * 2


def test_app_start_resumes_polling_but_never_in_public_mode(store, ft_server):
    job = _launch(store, ft_server)
    endpoint = Endpoint(api_key="sk-test", base_url=ft_server.base_url)
    ft_server.reset_counters()
    assert hosted.resume_on_start(store, endpoint, public_mode=True) == []
    assert hosted.resume_on_start(store, Endpoint(), public_mode=False) == []  # nothing configured
    assert ft_server.requests == []
    assert hosted.resume_on_start(store, endpoint, interval_s=0.05) == [job.id]
    deadline = time.monotonic() + 20
    while jobs.get(store, job.id).is_active and time.monotonic() < deadline:  # let the poller finish its job
        time.sleep(0.1)
    assert jobs.get(store, job.id).status == "succeeded"


def test_azure_openai_gets_the_azure_client_and_its_api_version():
    import openai

    client = endpoints.client(Endpoint(api_key="az-key", azure_endpoint="https://res.openai.azure.com",
                                                api_version="2025-04-01-preview"))
    assert isinstance(client, openai.AzureOpenAI)
    assert str(client.base_url).startswith("https://res.openai.azure.com/openai")
    assert client._custom_query["api-version"] == "2025-04-01-preview"
    plain = endpoints.client(Endpoint(base_url="http://127.0.0.1:9/v1"))  # a keyless local server
    assert not isinstance(plain, openai.AzureOpenAI) and str(plain.base_url) == "http://127.0.0.1:9/v1/"


def test_the_dataset_pages_checks_name_the_line_of_a_bad_example(store, ft_server):
    from dataclasses import replace

    ds = repeated_dataset(8)
    train = [i for i, e in enumerate(ds.examples) if e.split == "train"]
    bad = list(ds.examples)
    bad[train[2]] = replace(bad[train[2]], label="shiping")  # a typo the task does not define
    with pytest.raises(hosted.InvalidTrainingFile) as err:
        _launch(store, ft_server, ds=ds.with_examples(bad))
    assert any(p.startswith("line 3:") and "'shipping'" in p for p in err.value.problems)  # "did you mean"
    assert ft_server.requests == []
