"""The shipped sample results: current, importable once, and reproducible."""

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
    assert {r["backend"] for r in bundle["runs"]} <= {"local", "classical"}
    n_test = len(datasets.load_sample().split("test"))
    assert all(len(r["predictions"]) == n_test for r in bundle["runs"])


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


@pytest.mark.parametrize("spec", ["classical:tfidf-lr", "local:zero-shot"])
def test_regenerating_reproduces_the_shipped_predictions(spec, store, bundle):
    shipped = next(r for r in bundle["runs"] if r["approach"] == spec)
    sample = datasets.load_sample()
    approach = approach_from_spec(spec, store=store)
    assert approach.config_hash == shipped["config_hash"]
    run = runs.execute(store, sample, approach, "test")
    fresh = {p["example_idx"]: p["label"] for p in runs.predictions(store, run.id)}
    assert fresh == {p["example_idx"]: p["label"] for p in shipped["predictions"]}
