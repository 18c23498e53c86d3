"""The Train page (AppTest): launch with an explicit confirm, watch live, refusals, budget, public mode, registry."""

import time

import pytest

from core.training import export, jobs
from core.store import Store
from core.training import hosted
from core.training.options import HostedOptions
from tests.conftest import open_page
from tests.fake_openai_ft import FakeFineTuning
from tests.training_data import repeated_dataset
from core import endpoint as endpoints
from core.endpoint import Endpoint

BASE = "gpt-4.1-mini-2025-04-14"


@pytest.fixture
def page(workspace, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("FTLAB_POLL_S", "0.1")
    return open_page("pages/train.py", timeout=120)


def _choose(at, backend):
    at.button_group(key="train_backend").set_value(backend).run()
    assert not at.exception, [e.value for e in at.exception]


def _hosted_session(at, server):
    """What a user types in the sidebar's endpoint settings."""
    at.text_input(key="openai_base_url").input(server.base_url)
    at.text_input(key="openai_api_key").input("sk-test")


def _launch(at):
    at.checkbox(key="train_confirm").check().run()
    at.button[[b.label for b in at.button].index("Launch")].click().run()
    assert not at.exception, [e.value for e in at.exception]


def _launch_button(at):
    return next(b for b in at.button if b.label == "Launch")


def test_nothing_launches_without_an_explicit_confirmation_of_the_estimate(page):
    labels = {m.label: m.value for m in page.metric}
    # review fix: `a and b or c` skipped the cost check whenever the time had an "s"
    assert labels["Estimated cost"] == "$0.00"
    assert "min" in labels["Estimated time"] or "s" in labels["Estimated time"]
    assert _launch_button(page).disabled
    assert "I confirm: Train on" in page.checkbox(key="train_confirm").label


def test_a_local_setfit_job_runs_from_the_page_and_its_model_goes_to_evaluate(page, workspace):
    pytest.importorskip("setfit")
    page.number_input(key="opt_local-setfit_max_steps").set_value(4)
    page.number_input(key="opt_local-setfit_max_examples_per_class").set_value(6).run()
    _launch(page)
    store = Store(workspace / "lab.sqlite3")
    job = jobs.list_jobs(store)[0]
    assert job.backend == "local-setfit" and job.estimate["examples"] == 48  # 8 labels × 6
    assert page.session_state["train_watch"] == job.id
    assert page.get("progress"), "the live progress bar is drawn"
    assert not page.checkbox(key="train_confirm").value  # the next launch needs a new confirmation
    deadline = time.monotonic() + 240
    while jobs.get(store, job.id).is_active and time.monotonic() < deadline:
        time.sleep(0.5)
    page.run()
    job = jobs.get(store, job.id)
    assert job.status == "succeeded", job.error
    assert {m.label: m.value for m in page.metric}["Status"] == "succeeded"
    assert any(job.approach_spec in s.value for s in page.success)
    assert page.get("vega_lite_chart"), "loss curves are drawn"
    # take it with you: the SetFit export as a .zip download (core/training/export.py writes it)
    assert page.selectbox(key="export_pick").value == job.id
    assert page.selectbox(key="export_format").options == ["setfit — " + export.FORMAT_HELP["setfit"]]
    next(b for b in page.button if b.label == "Prepare download").click().run()
    assert not page.exception and not page.error, [e.value for e in page.error]
    made = page.session_state["export_made"]
    assert made["path"].endswith(f"exports/{job.id}-setfit.zip") and made["same_labels_as_lab"]
    assert page.get("download_button")
    page.selectbox(key="train_send_pick").set_value(job.approach_spec)
    next(b for b in page.button if b.label == "Send to Evaluate").click().run()
    assert page.session_state["evaluate_specs"] == [job.approach_spec, "local:zero-shot"]
    # … on Evaluate the model is ready to run with its baseline, and runs on the frozen test split
    assert not page.exception, [e.value for e in page.exception]
    assert page.title[0].value == "Evaluate"
    assert job.approach_spec in page.text_area[0].value
    # AppTest keeps requesting the page of its last explicit switch_page (Train): follow the app's own switch.
    page.switch_page("pages/evaluate.py").run()
    next(b for b in page.button if b.label == "Run").click().run(timeout=300)
    assert not page.exception, [e.value for e in page.exception]
    from core.evaluation import runs

    evaluated = {r["approach"] for r in runs.list_runs(store, job.dataset_hash, "test")}
    assert job.approach_spec in evaluated, ([e.value for e in page.error], [w.value for w in page.warning])


def test_a_refused_hosted_launch_shows_the_reason_and_offers_local_training(page, workspace):
    with FakeFineTuning(scenario="refuse") as server:
        _hosted_session(page, server)
        page.run()
        _choose(page, "openai")
        _launch(page)
        assert server.count(kind="create_ft_job") == 1
    shown = " ".join(e.value for e in page.error)
    assert "Fine-tuning is not available for your organization" in shown and "did not start" in shown
    assert [j.status for j in jobs.list_jobs(Store(workspace / "lab.sqlite3"))] == ["refused"]
    next(b for b in page.button if b.label.startswith("Train with SetFit")).click().run()
    assert page.button_group(key="train_backend").value == "local-setfit"
    assert any(m.label == "Estimated time" for m in page.metric)


def test_a_budget_below_the_estimate_disables_the_launch(page):
    with FakeFineTuning() as server:
        _hosted_session(page, server)
        page.run()
        _choose(page, "openai")
        page.number_input(key="train_budget").set_value(0.01).run()
        assert any("above your budget of $0.01" in e.value for e in page.error)
        assert _launch_button(page).disabled
        assert server.requests == []


def test_public_mode_keeps_the_owners_endpoint_away_from_visitors(page, workspace):
    with FakeFineTuning() as server:
        page.secrets["public"] = {"enabled": True, "owner_password": "open sesame"}
        page.secrets["OPENAI_API_KEY"] = "sk-owner"
        page.secrets["OPENAI_BASE_URL"] = server.base_url
        page.run()
        _choose(page, "openai")
        assert any("needs the owner's password or your own API key" in e.value for e in page.error)
        assert _launch_button(page).disabled
        # a hosted job left running by the owner is not even listed to a visitor (their scratch workspace),
        # and never polled with the owner's key for a visitor
        store = Store(workspace / "lab.sqlite3")
        left = jobs.create(store, "openai", BASE, None, {})
        jobs.update(store, left.id, provider_id="ftjob-x")
        page.session_state["train_watch"] = left.id
        page.run()
        assert not page.exception
        assert not any(left.id in str(x.value) for x in list(page.markdown) + list(page.warning) + list(page.caption))
        assert server.requests == []  # a visitor clicking around reached nothing
        page.session_state["owner_unlocked"] = True  # what the sidebar's owner password sets
        page.run()
        assert not any("owner's password" in e.value for e in page.error)


def test_a_finished_hosted_job_shows_its_curves_with_the_overfitting_point(page, workspace):
    store = Store(workspace / "lab.sqlite3")
    with FakeFineTuning(steps=12, step_s=0.01, phase_s=0.02) as server:
        client = endpoints.client(Endpoint(api_key="sk-test", base_url=server.base_url))
        job = hosted.launch(store, client, repeated_dataset(8), BASE, HostedOptions())
        hosted.watch(store, client, job.id, interval_s=0.05, timeout_s=20)
    page.session_state["train_watch"] = job.id
    page.run()
    assert not page.exception
    assert page.get("vega_lite_chart")
    assert any("Validation loss was lowest at step" in c.value for c in page.caption)
    assert any("ft:" in s.value for s in page.success)
    registry = page.dataframe[-2].value  # jobs table, then the models table
    assert list(registry["status"]) == ["succeeded"] and registry["cost $"][0] > 0
    models = page.dataframe[-1].value
    assert "openai:gpt-4.1-mini-2025-04-14:zero-shot:output=text" in list(models["approach spec"])  # rollback
