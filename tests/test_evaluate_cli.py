"""`python -m core evaluate --json`: the contract CI pipelines rely on."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"accuracy", "macro_f1", "invalid_rate", "latency_p50_ms", "latency_p95_ms", "cost_per_1k_usd", "n"}


def _cli(workspace, *args):
    return subprocess.run([sys.executable, "-m", "core", "--workspace", str(workspace), "evaluate", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_sample_two_approaches_json(workspace):
    out = _cli(workspace, "--dataset", "sample", "--approach", "classical:tfidf-lr", "--approach",
               "classical:tfidf-lr:C=1", "--json", "--quiet")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    first, second = data["approaches"]
    assert KEYS | {"mcnemar_p", "diff_ci95"} <= set(first) and KEYS | {"mcnemar_p", "diff_ci95"} <= set(second)
    assert first["approach"] == "classical:tfidf-lr" and first["n"] >= 80 and 0.3 < first["accuracy"] < 1
    assert first["cost_per_1k_usd"] == 0 and len(first["diff_ci95"]) == 2 and 0 <= first["mcnemar_p"] <= 1
    # The verdict is the one recommendation (review fix: `in {first, second}` held for any answer it could give).
    rec = data["recommendation"]
    assert data["verdict"]["recommended"] == rec["recommended"] and rec["recommended"] is not None
    outcome = {c["approach"]: c["outcome"] for c in rec["comparisons"]}
    assert set(outcome) == {first["approach"], second["approach"]}
    assert outcome[rec["recommended"]] != "worse"  # never an approach really worse than the best
    assert data["verdict"]["significant"] == any(o in ("better", "worse") for o in outcome.values())


def test_bad_spec_and_bad_dataset_are_clear_errors(workspace):
    out = _cli(workspace, "--dataset", "sample", "--approach", "local:rag:k=8:depth=2")
    assert out.returncode == 2 and "does not take depth" in out.stderr
    out = _cli(workspace, "--dataset", "nosuchhash", "--approach", "classical:tfidf-lr", "--json")
    assert out.returncode == 2 and "nosuchhash" in json.loads(out.stdout)["error"]
