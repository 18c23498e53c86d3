"""What the Train page shows and offers, decided in core: option inputs, the loss chart, job figures and
tables, the actions a job offers, and the launch preflight."""

import datetime as dt

import pytest
from pydantic import ValidationError

from core.public_mode import PublicMode
from core.training import control, form, jobs, registry
from core.training.charts import loss_chart
from core.training.options import Estimate, options_for
from core.training.plan import Plan, preflight


def _job(**kw) -> jobs.Job:
    base = dict(id="setfit-1", backend="local-setfit", base_model="all-MiniLM-L6-v2", dataset_hash="abcdef123456",
                params={}, status="running", created_at="2026-11-30T10:00:00")
    return jobs.Job(**(base | kw))


def _started(seconds_ago: float) -> str:
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=seconds_ago)).isoformat()


# --- option inputs ----------------------------------------------------------------------------------------

def test_hosted_auto_options_are_text_boxes_that_take_auto_or_a_number():
    inputs = {f.name: f for f in form.option_inputs("openai")}
    epochs, lr = inputs["n_epochs"], inputs["learning_rate_multiplier"]
    assert (epochs.widget, epochs.default) == ("text", "auto")
    assert epochs.parse(" 4 ") == 4 and isinstance(epochs.parse("4"), int)
    assert epochs.parse("auto") == "auto"
    assert lr.parse("0.5") == 0.5
    assert inputs["method"].widget == "select" and inputs["method"].choices == ("supervised", "dpo")


def test_a_typo_in_an_option_is_refused_with_the_field_named():
    inputs = {f.name: f for f in form.option_inputs("openai")}
    typed = inputs["n_epochs"].parse("three")
    assert typed == "three"  # passed on as typed, so that validation can name the field
    with pytest.raises(ValidationError) as caught:
        options_for("openai", {"n_epochs": typed})
    assert form.refused_fields(caught.value).startswith("**n_epochs")


def test_optional_local_options_are_number_boxes_that_say_empty_means_automatic():
    inputs = {f.name: f for f in form.option_inputs("local-setfit")}
    steps, lr = inputs["max_steps"], inputs["body_learning_rate"]
    assert steps.widget == "number" and steps.step == 1 and steps.format is None
    assert steps.help.endswith("Empty: automatic.")
    assert lr.widget == "number" and lr.format == "%g" and lr.step == pytest.approx(1e-5)
    assert not inputs["epochs"].help.endswith("Empty: automatic.")


# --- the loss chart ------------------------------------------------------------------------------------------

def _layers(chart) -> list[dict]:
    spec = chart.to_dict()
    return spec.get("layer", [spec])


def test_loss_chart_marks_where_validation_loss_turned_up():
    assert loss_chart([]) is None
    falling = [{"step": s, "train_loss": 1 / s, "valid_loss": 1 / s} for s in range(1, 7)]
    assert len(_layers(loss_chart(falling))) == 1
    turning = [{"step": s, "train_loss": 1 / s, "valid_loss": v} for s, v in zip(range(1, 7), [1.0, 0.6, 0.4, 0.5, 0.6, 0.7])]
    chart = loss_chart(turning)
    assert len(_layers(chart)) == 3
    assert "overfitting from step 3" in str(chart.to_dict())


# --- job figures and tables ------------------------------------------------------------------------------------

def test_time_left_is_extrapolated_for_a_running_local_job_only():
    quarter = _job(started_at=_started(60), progress=0.25)
    assert registry.time_left_s(quarter) == pytest.approx(180, rel=0.05)
    assert registry.time_left_s(_job(started_at=_started(60), progress=0.01)) is None  # too early to say
    assert registry.time_left_s(_job(backend="openai", started_at=_started(60), progress=0.25)) is None
    figures = registry.job_figures(quarter)
    assert figures[2][0] == "Time left (est.)"


def test_cost_shows_the_bill_or_else_the_estimate_marked_as_such():
    assert registry.job_figures(_job(cost_usd=1.5, status="succeeded"))[3][:2] == ("Cost", "$1.50")
    assert registry.job_figures(_job(estimate={"cost_usd": 2.0, "seconds": 60}))[3][:2] == ("Cost (estimated)", "$2.00")
    assert registry.job_figures(_job())[2] is None  # no progress, no estimate: no timing figure
    assert registry.job_figures(_job())[3][1] == "—"


def test_the_registry_table_never_shows_the_endpoint_or_file_ids():
    job = _job(params={"endpoint": "https://acme.openai.azure.com", "training_file": "file-abc",
                       "validation_file": "file-def", "n_epochs": 3, "batch_size": "auto"})
    row = registry.registry_rows([job])[0]
    assert row["hyperparameters"] == "batch_size=auto, n_epochs=3"
    assert "azure" not in str(row) and "file-abc" not in str(row)
    assert row["backend"] == "Local · SetFit (MiniLM)" and row["dataset"] == "abcdef12"


def test_an_unknown_training_price_is_shown_as_unknown_not_as_zero():
    est = Estimate(seconds=None, cost_usd=0.0, examples=120, tokens=40_000)
    figures = dict(registry.estimate_figures(est, price_known=False))
    assert figures["Estimated cost"] == "unknown" and figures["Billed tokens"] == "40,000"
    assert dict(registry.estimate_figures(est))["Estimated cost"] == "$0.00"


def test_a_live_job_is_watched_first_and_events_come_newest_first():
    done, live = _job(id="a", status="succeeded"), _job(id="b", status="queued")
    assert registry.default_watch([done, live]) == "b"
    assert registry.default_watch([done]) == "a"
    events = [jobs.Event(seq=i, at=f"t{i}", kind=k, message=k) for i, k in
              enumerate(["status", "metrics", "message"])]
    assert [r["kind"] for r in registry.event_rows(events)] == ["message", "status"]


# --- actions ---------------------------------------------------------------------------------------------------

def test_each_job_offers_only_the_actions_its_backend_and_status_allow():
    assert control.actions(_job(backend="openai", status="running")) == ["cancel", "pause"]
    assert control.actions(_job(backend="openai", status="paused")) == ["cancel", "resume"]
    assert control.actions(_job(status="running")) == ["cancel"]  # a local worker cannot pause
    assert control.actions(_job(status="interrupted")) == ["restart"]
    assert control.actions(_job(backend="openai", status="failed")) == []  # hosted: launch again instead
    assert control.actions(_job(status="succeeded")) == []


def test_cancelling_a_local_job_asks_its_worker_to_stop(store):
    job = jobs.create(store, "local-setfit", "all-MiniLM-L6-v2", "abc", {})
    control.act(store, job, "cancel")
    assert jobs.cancel_requested(store, job.id)


def test_a_hosted_action_without_an_endpoint_says_so(store):
    job = jobs.create(store, "openai", "gpt-4.1-mini", "abc", {})
    jobs.set_status(store, job.id, "running")
    with pytest.raises(RuntimeError, match="No endpoint"):
        control.act(store, jobs.get(store, job.id), "pause")
    with pytest.raises(RuntimeError, match="cannot resume"):
        control.act(store, jobs.get(store, job.id), "resume")


# --- preflight ---------------------------------------------------------------------------------------------------

def _plan(examples=40) -> Plan:
    return Plan("local-setfit", "all-MiniLM-L6-v2", None, None, Estimate(seconds=30, cost_usd=0.0, examples=examples))


def test_a_local_launch_without_the_local_tier_is_refused_with_the_install_line(store, monkeypatch):
    monkeypatch.setattr("core.training.plan.missing_modules", lambda backend: ["setfit"])
    check = preflight(store, _plan())
    assert not check.allowed
    assert "requirements-local.txt" in check.reasons[-1] and "setfit" in check.reasons[-1]


def test_the_public_demo_runs_one_local_training_at_a_time(store, monkeypatch):
    monkeypatch.setattr("core.training.plan.missing_modules", lambda backend: [])
    mode = PublicMode(enabled=True)
    assert preflight(store, _plan(), mode=mode).allowed
    running = jobs.create(store, "local-setfit", "all-MiniLM-L6-v2", "abc", {})
    jobs.set_status(store, running.id, "running")
    check = preflight(store, _plan(), mode=mode)
    assert not check.allowed and "already running" in check.reasons[0]
    assert preflight(store, _plan()).allowed  # a private lab decides for itself
