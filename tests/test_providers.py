"""Hosted providers as plug-ins (issue 16): Together AI and Fireworks AI through their official SDKs against the
loopback fakes, the same flow as the OpenAI-compatible path — launch, watch, register once, refusals and failures
with the provider's reason, resume after a restart, the CLI, and the Train page."""

import json
import time

import pytest

pytest.importorskip("together")
pytest.importorskip("fireworks")

from core.endpoint import Endpoint  # noqa: E402
from core.store import Store  # noqa: E402
from core.training import hosted, jobs, parse_backend, providers  # noqa: E402
from core.training.options import options_for  # noqa: E402
from tests.fake_fireworks import FakeFireworks  # noqa: E402
from tests.fake_together import FakeTogether  # noqa: E402
from tests.training_data import repeated_dataset, tiny_dataset  # noqa: E402

TOGETHER_BASE = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
FIREWORKS_BASE = "accounts/fireworks/models/llama-v3p1-8b-instruct"
CASES = {"together": (FakeTogether, TOGETHER_BASE), "fireworks": (FakeFireworks, FIREWORKS_BASE)}


def _endpoint(name, server):
    return Endpoint(api_key="test-key", base_url=server.root_url, provider=name,
                    account_id=getattr(server, "account", None))


def _launch(store, name, server, ds=None, **opts):
    ep = _endpoint(name, server)
    client = providers.get(name).client(ep)
    job = hosted.launch(store, client, ds or repeated_dataset(8), CASES[name][1], options_for(name, opts),
                        endpoint_label=ep.label, provider=name)
    return job, client


def test_the_registry_lists_every_provider_with_capabilities_credentials_and_catalog_rows():
    from core.catalog import load_catalog

    assert {"openai", "together", "fireworks"} <= set(providers.names())
    for prov in providers.all_providers():
        assert prov.capabilities.sft and prov.availability and prov.credentials_needed and prov.options
        assert load_catalog().fine_tunable(provider=prov.catalog_provider), prov.name
    assert providers.get("together").capabilities.lora and not providers.get("fireworks").capabilities.loss_curve
    assert parse_backend(f"fireworks:{FIREWORKS_BASE}") == ("fireworks", FIREWORKS_BASE)
    with pytest.raises(ValueError, match="together:<model>"):
        parse_backend("nebula:some-model")


def test_credentials_come_from_the_session_then_secrets_then_environment_and_never_for_a_visitor():
    tog = providers.get("together")
    env = {"TOGETHER_API_KEY": "env-key"}
    assert tog.credentials(environ=env).api_key == "env-key"
    assert tog.credentials(secrets={"TOGETHER_API_KEY": "secret-key"}, environ=env).api_key == "secret-key"
    typed = tog.credentials(session={"TOGETHER_API_KEY": "mine"}, secrets={"TOGETHER_API_KEY": "s"}, environ=env)
    assert typed.api_key == "mine" and not typed.owner and "mine" not in repr(typed)
    assert tog.credentials(environ=env, owner=False) is None  # a visitor never gets the owner's key
    assert tog.credentials(environ={}) is None
    fw = providers.get("fireworks").credentials(environ={"FIREWORKS_API_KEY": "k"})
    assert providers.get("fireworks").ready(fw) and "FIREWORKS_ACCOUNT_ID" in providers.get("fireworks").ready(fw)
    assert providers.get("together").inference_endpoint(typed).base_url == "https://api.together.ai/v1"
    assert providers.get("fireworks").inference_endpoint(fw).base_url == "https://api.fireworks.ai/inference/v1"


@pytest.mark.parametrize("name", ["together", "fireworks"])
def test_a_job_is_watched_to_success_registered_once_with_cost_and_its_model_answers(store, name):
    import openai

    fake, base = CASES[name]
    with fake(noise=0.0) as server:
        job, client = _launch(store, name, server)
        assert job.backend == name and job.is_active and job.provider_id
        job = hosted.watch(store, client, job.id, interval_s=0.05, timeout_s=30)
        assert job.status == "succeeded", job.error
        assert hosted.poll_once(store, client, job.id).version == 1  # a second poll registers nothing
        assert [m.job_id for m in jobs.models(store) if not m.baseline] == [job.id]
        assert job.trained_tokens > 0 and job.cost_usd == pytest.approx(
            job.trained_tokens * (0.48 if name == "together" else 0.50) / 1e6)
        assert job.approach_spec == (f"openai:{job.model_ref}:zero-shot:output=text:provider={name}"
                                     f":tuned_from={job.base_model}")
        # A provider's fine-tune id has no `ft:` prefix: it is still filed, and named, as a fine-tune of its base.
        from core.backends import describe, family

        assert family(job.approach_spec) == "fine-tuned"
        assert describe(job.approach_spec).startswith(f"{job.base_model} fine-tuned on {name} (")
        assert family(job.rollback_spec) == "prompting"
        # Evaluate runs it on the provider's inference endpoint with the provider's key (none in the spec)
        from core.backends import approach_from_spec
        from core.evaluation import runs

        ds = repeated_dataset(8)
        approach = approach_from_spec(job.approach_spec, store=store, api_key=None, base_url=None,
                                      provider_endpoint=lambda p: _endpoint(p, server) if p == name else None)
        assert approach.base_url == providers.get(name).inference_endpoint(_endpoint(name, server)).base_url
        run = runs.execute(store, ds, approach, "test")
        assert run.status == "finished" and "test-key" not in json.dumps(run.config)
        inference = providers.get(name).inference_endpoint(_endpoint(name, server))
        answer = openai.OpenAI(base_url=inference.base_url, api_key="test-key", max_retries=0).chat.completions.create(
            model=job.model_ref, messages=[{"role": "user", "content": "where is my parcel delivery"}])
        assert answer.choices[0].message.content
    statuses = [e.data["status"] for e in jobs.events(store, job.id, kinds=("status",))]
    assert statuses[0] == "pending" and "running" in statuses and statuses[-1] == "succeeded"
    if name == "together":  # events and the loss curve come over Together's API; Fireworks has none for SFT
        assert len(jobs.metrics(store, job.id)) == server.steps
        assert any("Training completed" in e.message or "job" in e.message.lower()
                   for e in jobs.events(store, job.id, kinds=("message",)))


@pytest.mark.parametrize("name,scenario,status,words", [
    ("together", "quota", "refused", "allowed_to_proceed = false"),
    ("fireworks", "quota", "refused", "insufficient credits"),
    ("together", "invalid_file", "failed", "Invalid file format"),
    ("fireworks", "invalid_file", "failed", "invalid dataset"),
    ("together", "fail", "failed", "maximum sequence length"),
    ("fireworks", "fail", "failed", "maximum context length"),
])
def test_refusals_invalid_files_and_failed_jobs_end_with_the_providers_reason(store, name, scenario, status, words):
    with CASES[name][0](scenario=scenario) as server:
        job, client = _launch(store, name, server)
        job = hosted.watch(store, client, job.id, interval_s=0.05, timeout_s=30)
    assert job.status == status and words in job.error and job.model_ref is None
    assert not [m for m in jobs.models(store) if not m.baseline]


@pytest.mark.parametrize("name", ["together", "fireworks"])
def test_cancel_reaches_the_provider_and_the_job_ends_cancelled(store, name):
    with CASES[name][0](steps=500, step_s=0.05) as server:
        job, client = _launch(store, name, server)
        deadline = time.monotonic() + 10
        while hosted.poll_once(store, client, job.id).status != "running" and time.monotonic() < deadline:
            time.sleep(0.05)
        hosted.cancel(store, client, job.id)
        job = hosted.watch(store, client, job.id, interval_s=0.05, timeout_s=10)
    assert job.status == "cancelled" and job.model_ref is None


def test_a_file_over_a_providers_documented_limit_is_refused_before_upload_with_line_numbers(store):
    from core.data.dataset import Dataset, Example

    ds = tiny_dataset()
    bad = Dataset(ds.name, ds.task, [Example("x", "oops", "not-a-label", "train")] + list(ds.examples))
    with FakeFireworks() as server:
        with pytest.raises(hosted.InvalidTrainingFile) as err:
            _launch(store, "fireworks", server, ds=bad)
        assert server.calls == [] and jobs.list_jobs(store) == []
    assert any(p.startswith("line 1:") for p in err.value.problems)


def test_unfinished_jobs_of_every_provider_resume_after_a_restart_with_their_own_credentials(store):
    with FakeTogether(phase_s=0.3) as tog, FakeFireworks(phase_s=0.3) as fw:
        a, _ = _launch(store, "together", tog)
        b, _ = _launch(store, "fireworks", fw)
        env = {"TOGETHER_API_KEY": "k", "TOGETHER_BASE_URL": tog.root_url, "FIREWORKS_API_KEY": "k",
               "FIREWORKS_ACCOUNT_ID": fw.account, "FIREWORKS_BASE_URL": fw.root_url}
        assert hosted.resume_on_start(store, Endpoint(), public_mode=True, environ=env) == []
        assert sorted(hosted.resume_on_start(store, Endpoint(), environ=env, interval_s=0.05)) == sorted([a.id, b.id])
        deadline = time.monotonic() + 30
        while any(jobs.get(store, j).is_active for j in (a.id, b.id)) and time.monotonic() < deadline:
            time.sleep(0.1)
    assert [jobs.get(store, j).status for j in (a.id, b.id)] == ["succeeded", "succeeded"]


@pytest.mark.parametrize("name", ["together", "fireworks"])
def test_cli_estimate_only_prints_the_catalog_price_with_its_source(name, workspace):
    from core.cli import main

    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["train", "--backend", f"{name}:{CASES[name][1]}", "--dataset", "sample", "--estimate-only",
                     "--json"])
    data = json.loads(out.getvalue())
    assert code == 0 and data["provider"] == name and data["estimate"]["cost_usd"] > 0
    assert data["price"]["source"].startswith("https://") and data["price"]["checked"]
    assert any("catalog:" in n for n in data["estimate"]["notes"])


@pytest.mark.parametrize("name", ["together", "fireworks"])
def test_cli_trains_on_a_provider_and_waits_for_the_model(name, workspace, monkeypatch, capsys):
    from core.cli import main

    with CASES[name][0]() as server:
        prefix = name.upper()
        monkeypatch.setenv(f"{prefix}_API_KEY", "k")
        monkeypatch.setenv(f"{prefix}_BASE_URL", server.root_url)
        monkeypatch.setenv("FIREWORKS_ACCOUNT_ID", "fake-account")
        monkeypatch.setenv("FTLAB_POLL_S", "0.05")
        code = main(["train", "--backend", f"{name}:{CASES[name][1]}", "--dataset", "sample", "--json"])
        root = server.root_url
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["status"] == "succeeded" and data["provider"] == name, data
    assert data["approach"].startswith(f"openai:{data['model']}:zero-shot:output=text:provider={name}:tuned_from=")
    assert data["inference_base_url"].startswith(root)
    with CASES[name][0]() as server:  # the CLI evaluates it on the provider's endpoint, credentials from the env
        monkeypatch.setenv(f"{prefix}_BASE_URL", server.root_url)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
        code = main(["evaluate", "--dataset", "sample", "--approach", data["approach"], "--json", "--quiet"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    assert out["approaches"][0]["accuracy"] > 0 and out["approaches"][0]["status"] == "finished"


def test_a_provider_model_without_its_key_or_an_unreachable_endpoint_fails_at_once(store, monkeypatch):
    from core.backends import approach_from_spec
    from core.evaluation import runs

    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    with pytest.raises(ValueError, match="TOGETHER_API_KEY"):
        approach_from_spec("openai:acct/m-ftlab:zero-shot:output=text:provider=together", store=store)
    ds = tiny_dataset()
    t0 = time.monotonic()
    for options in ({"api_key": None, "base_url": None},  # no endpoint at all: no call to api.openai.com
                    {"api_key": "k", "base_url": "http://127.0.0.1:9/v1", "max_retries": 1}):  # nothing listens
        run = runs.execute(store, ds, approach_from_spec("openai:gpt-4.1-mini:zero-shot", store=store, **options),
                           "test")
        assert run.status != "finished"
        errors = {p["error"] for p in runs.predictions(store, run.id)}
        assert all(any(w in (e or "") for w in ("no OpenAI-compatible endpoint", "unreachable", "connection failed"))
                   for e in errors), errors
    assert time.monotonic() - t0 < 30


def test_cli_refusal_exits_1_with_the_reason(workspace, monkeypatch, capsys):
    from core.cli import main

    with FakeFireworks(scenario="quota") as server:
        for k, v in {"FIREWORKS_API_KEY": "k", "FIREWORKS_BASE_URL": server.root_url,
                     "FIREWORKS_ACCOUNT_ID": server.account}.items():
            monkeypatch.setenv(k, v)
        code = main(["train", "--backend", f"fireworks:{FIREWORKS_BASE}", "--dataset", "sample", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1 and data["status"] == "refused" and "insufficient credits" in data["error"]


@pytest.mark.parametrize("name", ["together", "fireworks", "openai"])
def test_the_train_page_launches_on_each_provider_watches_to_success_and_sends_the_model_to_evaluate(name, workspace,
                                                                                               monkeypatch):
    from tests.conftest import open_page
    from tests.fake_openai_ft import FakeFineTuning

    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "TOGETHER_API_KEY", "FIREWORKS_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("FTLAB_POLL_S", "0.1")
    fake = {"together": FakeTogether, "fireworks": FakeFireworks, "openai": FakeFineTuning}[name]
    with fake() as server:
        at = open_page("pages/train.py", timeout=120)
        at.button_group(key="train_backend").set_value(name).run()
        if name == "openai":  # the sidebar's endpoint, as before
            at.text_input(key="openai_base_url").input(server.base_url)
            at.text_input(key="openai_api_key").input("sk-test").run()
        else:
            creds = {"api_key": "k", "base_url": server.root_url, "account_id": getattr(server, "account", "")}
            for cred in providers.get(name).credentials_needed:
                at.text_input(key=providers.session_key(cred)).input(creds[cred.name])
            at.run()
        assert not at.exception, [e.value for e in at.exception]
        if name == "openai":
            at.selectbox(key="train_base_model_openai").set_value("gpt-4.1-mini-2025-04-14").run()
        assert any(m.label == "Estimated cost" and m.value != "unknown" for m in at.metric)
        at.checkbox(key="train_confirm").check().run()
        next(b for b in at.button if b.label == "Launch").click().run()
        assert not at.exception, [e.value for e in at.exception]
        store = Store(workspace / "lab.sqlite3")
        job = jobs.list_jobs(store)[0]
        assert job.backend == name
        deadline = time.monotonic() + 60
        while jobs.get(store, job.id).is_active and time.monotonic() < deadline:
            time.sleep(0.2)
        at.run()
        job = jobs.get(store, job.id)
        assert job.status == "succeeded", job.error
        assert [j.id for j in jobs.list_jobs(store, ("succeeded",))] == [job.id]  # registered once
        assert any(job.model_ref in s.value for s in at.success)
        at.selectbox(key="train_send_pick").set_value(job.approach_spec)
        next(b for b in at.button if b.label == "Send to Evaluate").click().run()
        assert at.session_state["evaluate_specs"][0] == job.approach_spec
        # … and on Evaluate it runs on the provider's inference endpoint (the loopback fake) with the key typed
        # on Train, and gets an accuracy. AppTest keeps requesting its last explicit page: follow the app's switch.
        at.switch_page("pages/evaluate.py").run()
        assert not at.exception, [e.value for e in at.exception]
        assert job.approach_spec in at.text_area[0].value
        if name == "openai":  # AppTest drops the sidebar's inputs on a page switch (a browser keeps them)
            at.text_input(key="openai_base_url").input(server.base_url)
            at.text_input(key="openai_api_key").input("sk-test").run()
        started = time.monotonic()
        next(b for b in at.button if b.label == "Run").click().run(timeout=240)
        assert not at.exception, [e.value for e in at.exception]
        from core.evaluation import runs

        done = {r["approach"]: r for r in runs.list_runs(store, job.dataset_hash, "test")}
        assert job.approach_spec in done, ([e.value for e in at.error], [w.value for w in at.warning])
        model_run = runs.get(store, done[job.approach_spec]["id"])
        rows = runs.predictions(store, model_run.id)
        assert model_run.status == "finished", {r["error"] for r in rows}
        assert sum(r["label"] == r["gold"] for r in rows) > 0 and time.monotonic() - started < 200


def test_a_refused_launch_on_the_page_shows_the_providers_reason(workspace, monkeypatch):
    from tests.conftest import open_page

    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    with FakeTogether(scenario="quota") as server:
        at = open_page("pages/train.py", timeout=120)
        at.button_group(key="train_backend").set_value("together").run()
        for cred, value in zip(providers.get("together").credentials_needed, ("k", server.root_url)):
            at.text_input(key=providers.session_key(cred)).input(value)
        at.run()
        at.checkbox(key="train_confirm").check().run()
        next(b for b in at.button if b.label == "Launch").click().run()
    shown = " ".join(e.value for e in at.error)
    assert "did not start" in shown and "allowed_to_proceed = false" in shown
    assert [j.status for j in jobs.list_jobs(Store(workspace / "lab.sqlite3"))] == ["refused"]
