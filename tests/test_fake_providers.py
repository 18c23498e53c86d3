"""The Together and Fireworks loopback servers, driven through each provider's official SDK and the openai client.

These pin the fakes to the wire formats the SDKs really speak (tests/PROVIDER_WIRE_FORMATS.md), so the
provider modules built on them are tested against what production will answer.
"""

import json
import time

import pytest

together = pytest.importorskip("together")
fireworks = pytest.importorskip("fireworks")
import openai  # noqa: E402

from tests.fake_fireworks import FakeFireworks  # noqa: E402
from tests.fake_together import FakeTogether  # noqa: E402

SYSTEM = "Classify the ticket.\nCategories:\n- billing: invoices, refunds, charges\n- shipping: parcels, delivery, tracking"
TOGETHER_BASE = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
FIREWORKS_BASE = "accounts/fireworks/models/llama-v3p1-8b-instruct"


def chat_jsonl(n: int = 12) -> bytes:
    rows = []
    for i in range(n):
        label, text = ("shipping", f"my parcel {i} has not arrived") if i % 2 else ("billing", f"refund invoice {i}")
        rows.append({"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text},
                                  {"role": "assistant", "content": label}]})
    return ("\n".join(json.dumps(r) for r in rows) + "\n").encode()


def wait_for(get, done, timeout_s: float = 5.0):
    deadline = time.monotonic() + timeout_s
    seen = []
    while True:
        obj = get()
        if not seen or seen[-1] != done(obj)[1]:
            seen.append(done(obj)[1])
        if done(obj)[0] or time.monotonic() > deadline:
            return obj, seen
        time.sleep(0.01)


def ask(client, model: str, text: str) -> str:
    r = client.chat.completions.create(model=model, temperature=0, messages=[
        {"role": "system", "content": SYSTEM}, {"role": "user", "content": text}])
    return r.choices[0].message.content


# --- Together ---------------------------------------------------------------------------------------------


@pytest.fixture
def together_server():
    with FakeTogether(noise=0.0) as server:
        yield server


def _together(server):
    return together.Together(base_url=server.root_url, api_key="tk-test", max_retries=0, timeout=10)


def _together_upload(client, tmp_path, content: bytes = None, check: bool = True):
    path = tmp_path / "train.jsonl"
    path.write_bytes(content if content is not None else chat_jsonl())
    return client.files.upload(path, purpose="fine-tune", check=check)


def _together_done(job):
    return job.status in ("completed", "error", "cancelled"), job.status


def test_together_upload_takes_the_sdks_presigned_route(together_server, tmp_path):
    client = _together(together_server)
    f = _together_upload(client, tmp_path)
    assert f.id.startswith("file-") and f.processing_status == "COMPLETED" and f.bytes == len(chat_jsonl())
    assert together_server.calls == [("POST", "/v1/files"), ("PUT", f"/_presigned/{f.id}"),
                                     ("POST", f"/v1/files/{f.id}/preprocess")]
    assert together_server.files[f.id]["content"] == chat_jsonl()
    assert client.files.retrieve(f.id).filename == "train.jsonl"


def test_together_job_goes_from_pending_to_completed_with_events_metrics_and_a_model_that_answers(
        together_server, tmp_path):
    client = _together(together_server)
    train, dev = _together_upload(client, tmp_path), _together_upload(client, tmp_path)
    job = client.fine_tuning.create(training_file=train.id, validation_file=dev.id, model=TOGETHER_BASE, n_epochs=2,
                                    n_evals=2, learning_rate=2e-4, suffix="ftlab", lora=True, train_on_inputs="auto")
    assert job.status == "pending" and job.id.startswith("ft-")
    output = job.output_name  # the create response already names the model (model_output_name)
    assert output.startswith("fake-user/Meta-Llama-3.1-8B-Instruct-Reference-ftlab-")
    sent = together_server.fine_tunes[job.id]
    assert sent["training_type"]["type"] == "Lora" and sent["learning_rate"] == 2e-4 and sent["n_epochs"] == 2
    assert ("GET", "/v1/fine-tunes/models/limits") in together_server.calls  # the SDK asks for limits and price first
    assert ("POST", "/v1/fine-tunes/estimate-price") in together_server.calls

    job, seen = wait_for(lambda: client.fine_tuning.retrieve(job.id), _together_done)
    assert job.status == "completed" and job.x_model_output_name == output
    assert seen[0] in ("pending", "queued") and "running" in seen and seen[-1] == "completed"
    assert job.steps_completed == job.total_steps == together_server.steps

    events = client.fine_tuning.list_events(job.id).data
    types = [e.type for e in events]
    assert types[0] == "job_pending" and types[-1] == "job_complete"
    assert {"job_start", "training_start", "epoch_complete", "model_upload_complete"} <= set(types)

    metrics = client.fine_tuning.list_metrics(job.id).metrics
    train_loss = [m["train/loss"] for m in metrics if "train/loss" in m]
    assert len(train_loss) == together_server.steps and train_loss[-1] < train_loss[0]
    assert [m for m in metrics if "eval/loss" in m]  # a validation file and n_evals give eval losses

    listed = client.fine_tuning.list().data
    assert [j.id for j in listed] == [job.id] and listed[0].status == "completed"

    oa = openai.OpenAI(base_url=together_server.base_url, api_key="tk-test", max_retries=0)
    assert ask(oa, output, "my parcel never arrived, where is the delivery") == "shipping"
    assert ask(client, output, "please refund this invoice charge") == "billing"  # the together SDK's chat too


def test_together_model_is_not_served_before_its_job_completes(tmp_path):
    with FakeTogether(phase_s=5) as server:
        client = _together(server)
        job = client.fine_tuning.create(training_file=_together_upload(client, tmp_path).id, model=TOGETHER_BASE)
        oa = openai.OpenAI(base_url=server.base_url, api_key="tk-test", max_retries=0)
        with pytest.raises(openai.NotFoundError) as err:
            ask(oa, job.output_name, "hello")
    assert err.value.body["message"].startswith("Unable to access model")


def test_together_cancel(tmp_path):
    with FakeTogether(steps=500, step_s=0.05) as server:
        client = _together(server)
        job = client.fine_tuning.create(training_file=_together_upload(client, tmp_path).id, model=TOGETHER_BASE)
        wait_for(lambda: client.fine_tuning.retrieve(job.id), lambda j: (j.status == "running", j.status))
        assert client.fine_tuning.cancel(job.id).status == "cancel_requested"
        assert client.fine_tuning.retrieve(job.id).status == "cancelled"
        assert "cancel_requested" in [e.type for e in client.fine_tuning.list_events(job.id).data]
        with pytest.raises(together.BadRequestError):
            client.fine_tuning.cancel(job.id)


def test_together_quota_refusal_raises_the_sdks_status_error_with_together_error_body(tmp_path):
    with FakeTogether(scenario="quota") as server:
        client = _together(server)
        train = _together_upload(client, tmp_path)
        estimate = client.fine_tuning.estimate_price(training_file=train.id, model=TOGETHER_BASE, n_epochs=3)
        assert estimate.estimation_available and estimate.allowed_to_proceed is False
        with pytest.raises(together.APIStatusError) as err:
            client.fine_tuning.create(training_file=train.id, model=TOGETHER_BASE)
    assert err.value.status_code == 402
    assert set(err.value.body["error"]) == {"message", "type", "param", "code"}
    assert "Insufficient balance" in err.value.body["error"]["message"]
    assert server.fine_tunes == {}


def test_together_invalid_file_is_reported_by_preprocess_and_refused_at_create(tmp_path):
    with FakeTogether(scenario="invalid_file") as server:
        client = _together(server)
        f = _together_upload(client, tmp_path)
        assert f.processing_status == "INVALID_FORMAT"
        assert client.files.retrieve(f.id).validation_report.error_type == "INVALID_FORMAT"
        with pytest.raises(together.BadRequestError) as err:
            client.fine_tuning.create(training_file=f.id, model=TOGETHER_BASE)
    assert "failed validation" in err.value.body["error"]["message"]
    assert err.value.body["error"]["param"] == "training_file"


def test_together_sdk_checks_the_file_locally_before_sending_anything(together_server, tmp_path):
    from together.lib.types.error import FileTypeError

    with pytest.raises(FileTypeError):
        _together_upload(_together(together_server), tmp_path, content=b"not json\n")
    assert together_server.calls == []


def test_together_failed_job_ends_in_error_with_a_job_error_event(tmp_path):
    with FakeTogether(scenario="fail") as server:
        client = _together(server)
        job = client.fine_tuning.create(training_file=_together_upload(client, tmp_path).id, model=TOGETHER_BASE)
        job, _ = wait_for(lambda: client.fine_tuning.retrieve(job.id), _together_done)
        events = client.fine_tuning.list_events(job.id).data
    assert job.status == "error"
    assert events[-1].type == "job_error" and events[-1].level == "error" and "maximum sequence" in events[-1].message


# --- Fireworks --------------------------------------------------------------------------------------------


@pytest.fixture
def fireworks_server():
    with FakeFireworks(noise=0.0) as server:
        yield server


def _fireworks(server):
    return fireworks.Fireworks(base_url=server.root_url, api_key="fw-test", account_id=server.account,
                               max_retries=0, timeout=10)


def _fireworks_dataset(client, dataset_id: str = "ftlab-train", content: bytes = None):
    content = content if content is not None else chat_jsonl()
    ds = client.datasets.create(dataset_id=dataset_id, dataset={"user_uploaded": {},
                                                                "example_count": str(content.count(b"\n"))})
    client.datasets.upload(dataset_id, file=("train.jsonl", content, "application/jsonl"))
    return ds


def _fireworks_done(job):
    return job.state in ("JOB_STATE_COMPLETED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED"), job.state


def test_fireworks_dataset_is_created_then_uploaded_then_ready(fireworks_server):
    client = _fireworks(fireworks_server)
    ds = client.datasets.create(dataset_id="ftlab-train", dataset={"user_uploaded": {}, "example_count": "12"})
    assert ds.name == "accounts/fake-account/datasets/ftlab-train" and ds.state == "UPLOADING"
    up = client.datasets.upload("ftlab-train", file=("train.jsonl", chat_jsonl(), "application/jsonl"))
    assert up.bytes == len(chat_jsonl()) and up.filename == "train.jsonl"
    got = client.datasets.get("ftlab-train")
    assert got.state == "READY" and got.example_count == "12"
    assert fireworks_server.calls == [("POST", "/v1/accounts/fake-account/datasets"),
                                      ("POST", "/v1/accounts/fake-account/datasets/ftlab-train:upload"),
                                      ("GET", "/v1/accounts/fake-account/datasets/ftlab-train")]
    with pytest.raises(fireworks.ConflictError) as err:
        client.datasets.create(dataset_id="ftlab-train", dataset={"user_uploaded": {}})
    assert err.value.body == {"code": 6, "message": "dataset accounts/fake-account/datasets/ftlab-train already exists",
                              "details": []}


def test_fireworks_job_runs_to_completion_and_its_output_model_answers(fireworks_server):
    client = _fireworks(fireworks_server)
    ds = _fireworks_dataset(client)
    job = client.supervised_fine_tuning_jobs.create(
        dataset=ds.name, base_model=FIREWORKS_BASE, epochs=2, learning_rate=2e-4, lora_rank=16,
        output_model="ftlab-tickets", display_name="ftlab tickets", supervised_fine_tuning_job_id="ftlab-job-1")
    assert job.name == "accounts/fake-account/supervisedFineTuningJobs/ftlab-job-1"
    assert job.state == "JOB_STATE_VALIDATING" and job.output_model == "accounts/fake-account/models/ftlab-tickets"
    sent = fireworks_server.jobs["ftlab-job-1"]
    assert (sent["epochs"], sent["learningRate"], sent["loraRank"]) == (2, 2e-4, 16)

    percents = []

    def get():
        j = client.supervised_fine_tuning_jobs.get("ftlab-job-1")
        if j.job_progress and j.job_progress.percent is not None:
            percents.append(j.job_progress.percent)
        return j

    job, seen = wait_for(get, _fireworks_done)
    assert job.state == "JOB_STATE_COMPLETED" and job.completed_time is not None
    assert seen[0] in ("JOB_STATE_VALIDATING", "JOB_STATE_PENDING") and "JOB_STATE_RUNNING" in seen
    assert percents == sorted(percents) and percents[-1] == 100
    curve = fireworks_server.loss_curve("ftlab-job-1")
    assert len(curve) == fireworks_server.steps and curve[-1]["train_loss"] < curve[0]["train_loss"]

    listed = client.supervised_fine_tuning_jobs.list()
    assert [j.name for j in listed] == [job.name]

    oa = openai.OpenAI(base_url=fireworks_server.inference_url, api_key="fw-test", max_retries=0)
    assert ask(oa, job.output_model, "my parcel never arrived, where is the delivery") == "shipping"
    assert ask(client, job.output_model, "please refund this invoice charge") == "billing"  # the fireworks SDK's chat
    assert ("POST", "/inference/v1/chat/completions") in fireworks_server.calls
    assert ("POST", "/v1/chat/completions") in fireworks_server.calls  # the SDK's path under an overridden base_url


def test_fireworks_output_model_is_not_served_before_the_job_completes():
    with FakeFireworks(phase_s=5) as server:
        client = _fireworks(server)
        job = client.supervised_fine_tuning_jobs.create(dataset=_fireworks_dataset(client).name,
                                                        base_model=FIREWORKS_BASE)
        assert job.output_model == f"accounts/fake-account/models/{job.name.rsplit('/', 1)[-1]}"  # job id by default
        oa = openai.OpenAI(base_url=server.inference_url, api_key="fw-test", max_retries=0)
        with pytest.raises(openai.NotFoundError):
            ask(oa, job.output_model, "hello")


def test_fireworks_cancel_and_delete():
    with FakeFireworks(steps=500, step_s=0.05) as server:
        client = _fireworks(server)
        job = client.supervised_fine_tuning_jobs.create(dataset=_fireworks_dataset(client).name,
                                                        base_model=FIREWORKS_BASE, supervised_fine_tuning_job_id="j1")
        wait_for(lambda: client.supervised_fine_tuning_jobs.get("j1"), lambda j: (j.state == "JOB_STATE_RUNNING", j.state))
        assert client.supervised_fine_tuning_jobs.cancel("j1", body={}) == {}
        job = client.supervised_fine_tuning_jobs.get("j1")
        assert job.state == "JOB_STATE_CANCELLED" and job.status.code == "CANCELLED"
        with pytest.raises(fireworks.BadRequestError):
            client.supervised_fine_tuning_jobs.cancel("j1", body={})
        client.supervised_fine_tuning_jobs.delete("j1")
        with pytest.raises(fireworks.NotFoundError) as err:
            client.supervised_fine_tuning_jobs.get("j1")
    assert err.value.body["code"] == 5 and "not found" in err.value.body["message"]


def test_fireworks_quota_refusal_raises_permission_denied_with_a_google_rpc_status_body():
    with FakeFireworks(scenario="quota") as server:
        client = _fireworks(server)
        ds = _fireworks_dataset(client)
        with pytest.raises(fireworks.PermissionDeniedError) as err:
            client.supervised_fine_tuning_jobs.create(dataset=ds.name, base_model=FIREWORKS_BASE)
    assert err.value.status_code == 403
    assert err.value.body["code"] == 7 and "insufficient credits" in err.value.body["message"]
    assert err.value.body["details"] == [] and server.jobs == {}


def test_fireworks_invalid_file_is_refused_at_upload_and_a_job_on_it_is_refused_too():
    with FakeFireworks(scenario="invalid_file") as server:
        client = _fireworks(server)
        ds = client.datasets.create(dataset_id="bad", dataset={"user_uploaded": {}})
        with pytest.raises(fireworks.BadRequestError) as err:
            client.datasets.upload("bad", file=("train.jsonl", chat_jsonl(), "application/jsonl"))
        assert err.value.body["code"] == 3 and "invalid dataset" in err.value.body["message"]
        assert client.datasets.get("bad").state == "UPLOADING"
        with pytest.raises(fireworks.BadRequestError) as err:
            client.supervised_fine_tuning_jobs.create(dataset=ds.name, base_model=FIREWORKS_BASE)
    assert err.value.body["code"] == 9 and "not ready" in err.value.body["message"]


def test_fireworks_failed_job_says_why_in_its_status():
    with FakeFireworks(scenario="fail") as server:
        client = _fireworks(server)
        client.supervised_fine_tuning_jobs.create(dataset=_fireworks_dataset(client).name, base_model=FIREWORKS_BASE,
                                                  supervised_fine_tuning_job_id="j1")
        job, _ = wait_for(lambda: client.supervised_fine_tuning_jobs.get("j1"), _fireworks_done)
    assert job.state == "JOB_STATE_FAILED"
    assert job.status.code == "INVALID_ARGUMENT" and "maximum context length" in job.status.message


def test_fireworks_wrong_account_and_missing_key_are_refused(fireworks_server):
    other = fireworks.Fireworks(base_url=fireworks_server.root_url, api_key="fw-test", account_id="someone-else",
                                max_retries=0)
    with pytest.raises(fireworks.PermissionDeniedError):
        other.datasets.get("ftlab-train")
    import httpx

    r = httpx.get(fireworks_server.root_url + "/v1/accounts/fake-account/datasets/x")
    assert r.status_code == 401 and r.json()["code"] == 16
