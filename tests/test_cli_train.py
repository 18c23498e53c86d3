"""`python -m core train` and `python -m core jobs`: the CI contract, the budget, and surviving a killed process."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.training import jobs
from core.cli import main
from core.store import Store
from tests.fake_openai_ft import FakeFineTuning
from tests.training_data import repeated_dataset

ROOT = Path(__file__).resolve().parent.parent
BASE = "gpt-4.1-mini-2025-04-14"


def _csv(tmp_path, ds=None) -> str:
    ds = ds or repeated_dataset(8)
    path = tmp_path / "tickets.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label", "split"])
        for e in ds.examples:
            w.writerow([e.text, e.label, e.split])
    return str(path)


def _json(capsys) -> dict | list:
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out[:3]  # stdout is the JSON line and nothing else (trainer logs go to stderr)
    return json.loads(out[0])


def test_train_local_setfit_prints_the_ci_contract(workspace, tmp_path, capsys):
    pytest.importorskip("setfit")
    code = main(["train", "--backend", "local-setfit", "--dataset", _csv(tmp_path), "--set", "max_steps=4", "--json"])
    out = _json(capsys)
    assert code == 0, out
    assert {"job_id", "status", "model", "cost_usd", "seconds"} <= set(out)
    assert out["status"] == "succeeded" and Path(out["model"]).is_dir() and out["cost_usd"] == 0.0
    assert out["seconds"] > 0 and out["approach"] == f"local:setfit:{out['job_id']}"
    assert main(["jobs", "--json"]) == 0
    listed = _json(capsys)
    assert [j["job_id"] for j in listed] == [out["job_id"]]
    assert main(["jobs", "--show", out["job_id"], "--json"]) == 0
    shown = _json(capsys)
    assert shown["metrics"] and shown["events"][0]["message"] == "pending"


def test_a_budget_below_the_estimate_refuses_before_anything_is_sent(workspace, tmp_path, capsys, monkeypatch):
    with FakeFineTuning() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        code = main(["train", "--backend", f"openai:{BASE}", "--dataset", _csv(tmp_path), "--budget-usd", "0.0001",
                     "--json"])
        assert code == 3 and "above your budget" in _json(capsys)["error"]
        assert server.requests == []
    assert jobs.list_jobs(Store(workspace / "lab.sqlite3")) == []


def test_a_refused_hosted_launch_exits_1_with_the_providers_reason(workspace, tmp_path, capsys, monkeypatch):
    with FakeFineTuning(scenario="refuse") as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        code = main(["train", "--backend", f"openai:{BASE}", "--dataset", _csv(tmp_path), "--json"])
    out = _json(capsys)
    assert code == 1 and out["status"] == "refused" and out["model"] is None
    assert "Fine-tuning is not available for your organization" in out["error"]


def test_bad_options_are_named(workspace, tmp_path, capsys):
    assert main(["train", "--backend", "local-setfit", "--dataset", _csv(tmp_path), "--set", "batch_size=0",
                 "--json"]) == 2
    assert "batch_size" in _json(capsys)["error"]
    assert main(["train", "--backend", "azure-magic", "--dataset", "sample", "--json"]) == 2


def test_killing_the_app_mid_job_and_restarting_resumes_polling_and_registers_the_model_once(workspace, tmp_path):
    """The 'app' is the CLI process: killed with SIGKILL while the provider trains, then `jobs --resume`."""
    with FakeFineTuning(steps=40, step_s=0.1, phase_s=0.2) as server:
        env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-test",
               "FTLAB_WORKSPACE": str(workspace), "FTLAB_POLL_S": "0.1"}
        first = subprocess.Popen([sys.executable, "-m", "core", "train", "--backend", f"openai:{BASE}",
                                  "--dataset", _csv(tmp_path), "--json"], cwd=ROOT, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        store = Store(workspace / "lab.sqlite3")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            running = jobs.list_jobs(store, ("running",))
            if running and len(jobs.metrics(store, running[0].id)) >= 3:
                break
            time.sleep(0.1)
        else:
            first.kill()
            raise AssertionError(first.communicate())
        first.send_signal(signal.SIGKILL)
        first.wait()
        job = jobs.get(store, running[0].id)
        assert job.status == "running" and job.model_ref is None  # left mid-job
        resumed = subprocess.run([sys.executable, "-m", "core", "jobs", "--resume", "--json"], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr
        # a second restart finds nothing left to do and changes nothing
        again = subprocess.run([sys.executable, "-m", "core", "jobs", "--resume", "--json"], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=60)
        assert server.count(kind="create_ft_job") == 1  # never launched twice
    listed = json.loads(again.stdout)
    assert len(listed) == 1 and listed[0]["status"] == "succeeded" and listed[0]["model"].startswith("ft:")
    registered = [e for e in jobs.events(store, job.id) if e.data and e.data.get("status") == "succeeded"]
    assert len(registered) == 1
    assert [p["step"] for p in jobs.metrics(store, job.id)] == list(range(1, 41))  # the whole curve, no gaps
    assert jobs.get(store, job.id).cost_usd > 0
