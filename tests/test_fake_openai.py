"""The loopback server speaks the OpenAI wire format to the real openai client."""

import openai
import pytest

from core.prompting import PromptConfig, messages, response_format
from tests.eval_data import make_task
from tests.fake_openai import FakeOpenAI, FakeResponse, Faults, route


def _client(server, **kw):
    return openai.OpenAI(base_url=server.base_url, api_key="test-key", **kw)


def test_structured_answer_with_usage(fake_openai):
    fake_openai.noise = 0  # no deliberate mistakes
    task = make_task()
    r = _client(fake_openai).chat.completions.create(
        model="fake-model", messages=messages(task, PromptConfig(), "my parcel never arrived, courier lost it"),
        response_format=response_format(task))
    assert r.choices[0].message.content == '{"label": "shipping"}'
    assert r.usage.prompt_tokens > 20 and r.usage.completion_tokens > 0
    assert fake_openai.count(status=200) == 1 and fake_openai.duplicate_paid_calls() == 0


def test_429_is_retried_after_retry_after(fake_openai):
    fake_openai.faults = Faults(rate=1.0, kinds=("429",), max_per_request=2, retry_after_s=0.2)
    raw = _client(fake_openai, max_retries=3).chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": "hi"}])
    assert raw.retries_taken == 2
    times = [r["t"] for r in fake_openai.requests]
    assert [r["status"] for r in fake_openai.requests] == [429, 429, 200]
    assert min(b - a for a, b in zip(times, times[1:])) >= 0.19  # the client waited as told


def test_faults_surface_as_client_errors_without_retries(fake_openai):
    fake_openai.faults = Faults(rate=1.0, kinds=("500",), max_per_request=1)
    with pytest.raises(openai.InternalServerError):
        _client(fake_openai, max_retries=0).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    fake_openai.faults = Faults(rate=1.0, kinds=("timeout",), max_per_request=1, hang_s=1.0)
    with pytest.raises(openai.APITimeoutError):
        _client(fake_openai, max_retries=0, timeout=0.3).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "y"}])
    assert fake_openai.billed == {}  # nothing answered, nothing billed


def test_unknown_model_and_model_list():
    with FakeOpenAI(models={"gpt-test"}) as server:
        assert [m.id for m in _client(server).models.list()] == ["gpt-test"]
        with pytest.raises(openai.NotFoundError, match="does not exist"):
            _client(server).chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])


def test_files_round_trip(fake_openai):
    c = _client(fake_openai)
    f = c.files.create(file=("train.jsonl", b'{"a": 1}\n'), purpose="fine-tune")
    assert c.files.retrieve(f.id).purpose == "fine-tune"
    assert c.files.content(f.id).read() == b'{"a": 1}\n'


def test_subclasses_add_routes_without_editing_the_server():
    class WithJobs(FakeOpenAI):
        @route("GET", r"/v1/fine_tuning/jobs/(?P<id>[^/]+)")
        def get_job(self, req):
            return FakeResponse(200, {"id": req.params["id"], "object": "fine_tuning.job", "status": "running",
                                      "model": "gpt-4o-mini", "created_at": 0, "training_file": "file-1"})

    with WithJobs() as server:
        assert _client(server).fine_tuning.jobs.retrieve("ftjob-7").status == "running"
