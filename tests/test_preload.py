"""The shipped sample results: current, importable once, and reproducible."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.data import dataset as datasets
from core.evaluation import preload, runs
from core.backends import approach_from_spec


@pytest.fixture(scope="module")
def bundle():
    b = preload.load_bundle()
    assert b is not None, f"missing {preload.BUNDLE_PATH}: run {preload.REGENERATE_COMMAND}"
    return b


def test_bundle_is_for_the_current_sample(bundle):
    """Fails when the sample changed without regenerating the results (they would describe other data)."""
    assert bundle["dataset_hash"] == datasets.load_sample().hash, f"stale: run {preload.REGENERATE_COMMAND}"
    assert bundle["command"] == preload.REGENERATE_COMMAND and bundle["generated_at"] and bundle["versions"]
    # Never fabricate hosted-model numbers: only local and classical runs are shipped.
    assert {r["backend"] for r in bundle["runs"]} <= {"local", "classical", "gemma"}
    n_test = len(datasets.load_sample().split("test"))
    assert n_test >= 400  # a gap of ~7 points is detectable
    assert all(len(r["predictions"]) == n_test for r in bundle["runs"])
    assert bundle["seconds"] > 0  # the regeneration's wall time


LORA_SPEC = "local:lora:data/results/models/gemma-lora-sample"


def test_the_bundle_holds_the_whole_ladder_on_one_model_and_the_classifiers(bundle):
    from core.backends import family, model_of

    shipped = {r["approach"] for r in bundle["runs"]}
    ladder = ["gemma:zero-shot", "gemma:few-shot:k=8", "gemma:rag:k=8", LORA_SPEC]
    assert set(ladder) <= shipped
    assert [family(s) for s in ladder] == ["prompting", "prompting", "rag", "fine-tuned"]
    assert {model_of(s) for s in ladder} == {"gemma-3-270m"}
    assert {"local:zero-shot", "local:few-shot:k=8", "local:rag:k=8", "classical:tfidf-lr"} <= shipped
    assert any(s.startswith("local:setfit:") for s in shipped)


def test_the_lora_adapter_ships_small_with_its_manifest():
    from core.config import PROJECT_ROOT

    folder = PROJECT_ROOT / LORA_SPEC.split(":", 2)[2]
    manifest = json.loads((folder / "ftlab.json").read_text(encoding="utf-8"))
    assert manifest["backend"] == "local-lora" and manifest["options"]["prompt"] == "short"
    assert manifest["dataset_hash"] == datasets.load_sample().hash
    assert (folder / "adapter_model.safetensors").is_file()
    assert json.loads((folder / "adapter_config.json").read_text())["base_model_name_or_path"] == "gemma-3-270m"
    assert sum(f.stat().st_size for f in folder.iterdir()) < 20e6  # a few MB


def test_a_run_whose_model_is_not_shipped_says_how_to_reproduce_it(bundle):
    setfit = next(r for r in bundle["runs"] if r["approach"].startswith("local:setfit:"))
    how = setfit["reproduce"]
    assert how["train"].startswith("python -m core train --backend local-setfit --dataset sample ")
    assert f"--set seed={how['seed']}" in how["train"] and how["seed"] is not None
    assert setfit["training"]["seconds"] > 0
    lora = next(r for r in bundle["runs"] if r["approach"] == LORA_SPEC)
    assert lora["shipped_model"] == LORA_SPEC.split(":", 2)[2] and lora["training"]["seconds"] > 0


def test_regenerate_works_in_a_fresh_temporary_workspace(store, tmp_path):
    """Nothing is reused from (or written to) the caller's workspace: every run is recomputed."""
    out = tmp_path / "bundle.json"
    bundle = preload.regenerate(["classical:tfidf-lr"], path=out, trainings=(), progress=None,
                                on_message=lambda m: None)
    assert json.loads(out.read_text())["runs"][0]["approach"] == "classical:tfidf-lr"
    assert bundle["seconds"] > 0 and bundle["dataset_hash"] == datasets.load_sample().hash
    assert store.query_one("SELECT COUNT(*) AS n FROM runs")["n"] == 0


def test_fresh_workspace_gets_the_runs_once(store, bundle):
    added = preload.ensure_preloaded(store)
    assert len(added) == len(bundle["runs"])
    assert preload.ensure_preloaded(store) == []  # idempotent
    listed = runs.list_runs(store, bundle["dataset_hash"], "test")
    assert {r["approach"] for r in listed} == {r["approach"] for r in bundle["runs"]}
    assert all(r["origin"].startswith("preloaded:") for r in listed)


def test_preloaded_run_is_not_recomputed(store, bundle):
    """Running a shipped approach again resumes its finished run: nothing is predicted twice."""
    preload.ensure_preloaded(store)
    sample = datasets.load_sample()
    calls = []
    run = runs.execute(store, sample, approach_from_spec("classical:tfidf-lr"), "test",
                       progress=lambda d, t: calls.append(d))
    assert calls == [len(sample.split("test"))]  # already complete at the first progress report
    assert run.origin.startswith("preloaded:")


@pytest.mark.parametrize("spec", ["classical:tfidf-lr", "local:zero-shot", "local:rag:k=8"])
def test_regenerating_reproduces_the_shipped_predictions(spec, store, bundle):
    shipped = next(r for r in bundle["runs"] if r["approach"] == spec)
    sample = datasets.load_sample()
    approach = approach_from_spec(spec, store=store)
    assert approach.config_hash == shipped["config_hash"]
    run = runs.execute(store, sample, approach, "test")
    fresh = {p["example_idx"]: p["label"] for p in runs.predictions(store, run.id)}
    assert fresh == {p["example_idx"]: p["label"] for p in shipped["predictions"]}


def test_the_shipped_lora_adapter_reproduces_its_predictions(gemma_base, store, bundle):
    """Evaluate can re-run the shipped fine-tune anywhere the local tier is installed (a handful of examples)."""
    shipped = next(r for r in bundle["runs"] if r["approach"] == LORA_SPEC)
    sample = datasets.load_sample()
    approach = approach_from_spec(LORA_SPEC, store=store)
    assert approach.config_hash == shipped["config_hash"]  # the same run key on every machine
    approach.fit(sample.split("train"), sample.task)
    test = sample.split("test")
    idx = list(range(0, len(test), len(test) // 6))[:6]
    fresh = [p.label for p in approach.predict([test[i] for i in idx])]
    by_idx = {p["example_idx"]: p["label"] for p in shipped["predictions"]}
    test_idx = [i for i, e in enumerate(sample.examples) if e.split == "test"]
    assert fresh == [by_idx[test_idx[i]] for i in idx]


@pytest.mark.slow  # trains SetFit (minutes): `pytest -m slow tests/test_preload.py`
def test_the_setfit_run_is_reproduced_by_its_recorded_command(bundle, tmp_path):
    """The shipped SetFit run's `reproduce.train` command, run in a fresh workspace, gives the shipped
    predictions (the same seed and options; CPU float arithmetic may flip a rare near-tie)."""
    from core.config import PROJECT_ROOT

    setfit = next(r for r in bundle["runs"] if r["approach"].startswith("local:setfit:"))
    ws = tmp_path / "ws"
    words = setfit["reproduce"]["train"].split()
    assert words[:3] == ["python", "-m", "core"]
    core = [sys.executable, "-m", "core", "--workspace", str(ws)]
    done = subprocess.run([*core, *words[3:]], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    spec = json.loads(done.stdout)["approach"]
    out = subprocess.run([*core, "evaluate", "--dataset", "sample", "--split", "test", "--approach", spec, "--json"],
                         cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)
    from core.store import Store

    store = Store(Path(ws) / "lab.sqlite3")
    run = runs.list_runs(store, bundle["dataset_hash"], "test")[0]
    fresh = {p["example_idx"]: p["label"] for p in runs.predictions(store, run["id"])}
    shipped = {p["example_idx"]: p["label"] for p in setfit["predictions"]}
    agree = sum(fresh[i] == shipped[i] for i in shipped) / len(shipped)
    assert agree >= 0.99, agree
