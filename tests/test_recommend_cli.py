"""`python -m core recommend --json`: the one recommendation for a CSV task evaluated with four approaches."""

import csv
import json
import subprocess
import sys
from pathlib import Path

from tests.eval_data import make_dataset
from tests.fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent
COMPARISON_KEYS = {"approach", "accuracy", "accuracy_ci95", "diff", "diff_ci95", "p", "p_holm", "outcome",
                   "more_examples_needed"}


def _cli(workspace, *args, env=None):
    return subprocess.run([sys.executable, "-m", "core", "--workspace", str(workspace), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env=env)


def test_csv_task_four_approaches_then_recommend_json(workspace, tmp_path):
    ds = make_dataset(train_per_label=12, test_per_label=40)
    path = tmp_path / "tickets.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "label", "split"])
        for e in ds.examples:
            w.writerow([e.id, e.text, e.label, e.split])
    approaches = ["classical:tfidf-lr", "classical:tfidf-lr:C=0.05", "openai:fake-model:zero-shot",
                  "openai:fake-model:few-shot:k=4"]
    import os

    with FakeOpenAI(noise=0.3) as server:
        env = {**os.environ, "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": server.base_url}
        args = ["evaluate", "--dataset", str(path), "--json", "--quiet", "--base-url", server.base_url]
        for a in approaches:
            args += ["--approach", a]
        out = _cli(workspace, *args, env=env)
        assert out.returncode == 0, out.stderr
        evaluated = json.loads(out.stdout)
    h = evaluated["dataset"]
    out = _cli(workspace, "recommend", "--dataset", h, "--split", "test", "--calls-per-day", "10000",
               "--model", "gpt-4o-mini", "--cache-hit-rate", "0.8", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["recommended"] in approaches and data["family"] in {"prompting", "classifier"}
    assert data["reasons"] and all(isinstance(r, str) for r in data["reasons"])
    assert data["recommended"] == evaluated["verdict"]["recommended"]  # the same object as evaluate's verdict
    comps = data["comparisons"]
    assert {c["approach"] for c in comps} == set(approaches)
    for c in comps:
        assert COMPARISON_KEYS <= set(c)
        lo, hi = c["accuracy_ci95"]
        assert 0 <= lo <= c["accuracy"] <= hi <= 1
        if c["outcome"] == "best":
            assert c["p"] is None and c["diff"] == 0
            continue
        assert c["p_holm"] >= c["p"]
        assert (c["outcome"] in ("better", "worse")) == (c["p_holm"] < 0.05)
        assert c["diff_ci95"][0] <= c["diff"] <= c["diff_ci95"][1]
        assert (c["more_examples_needed"] is not None) == (c["outcome"] == "undecided")
    assert next(c for c in comps if c["approach"] == data["recommended"])["outcome"] != "worse"
    assert data["settings"]["cache_hit_rate"] == 0.8 and data["breakeven"]["model"] == "gpt-4o-mini-2024-07-18"
    # the text output says the same
    text = _cli(workspace, "recommend", "--dataset", h).stdout
    assert text.startswith("Use ") and f"(`{data['recommended']}`)" in text.splitlines()[0]


def test_no_runs_is_a_clear_error(workspace):
    out = _cli(workspace, "recommend", "--dataset", "sample", "--json")
    assert out.returncode == 1 and "run `python -m core evaluate` first" in json.loads(out.stdout)["error"]
