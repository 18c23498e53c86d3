"""API keys are never written: not to the workspace (database, WAL, models), not to the CLI output, not to exports."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-ftlab-secret-8c1f2e"


def test_a_paid_evaluation_leaves_no_key_anywhere(workspace, fake_openai):
    env = {**os.environ, "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake_openai.base_url}
    out = subprocess.run(
        [sys.executable, "-m", "core", "--workspace", str(workspace), "evaluate", "--dataset", "sample",
         "--approach", "openai:fake-model:few-shot:k=4", "--approach", "classical:tfidf-lr", "--json", "--quiet"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert fake_openai.count(status=200) > 0  # the key was really used for paid calls
    assert KEY not in out.stdout and KEY not in out.stderr
    written = [p for p in workspace.rglob("*") if p.is_file()]
    assert any(p.name.startswith("lab.sqlite3") for p in written)
    leaks = [str(p) for p in written if KEY.encode() in p.read_bytes()]
    assert not leaks, leaks

    # Exports: the decision memo and the per-example rows of the same runs.
    from core.decision import memo
    from core.evaluation import report, runs
    from core.data import dataset as datasets
    from core.store import Store

    store = Store(workspace / "lab.sqlite3")
    sample = datasets.load_sample()
    ids = [r["id"] for r in runs.list_runs(store, sample.hash, "test")]
    m = memo.build(store, sample, ids)
    rep = report.build(store, [runs.get(store, i) for i in ids], sample.task.label_names)
    exported = m.html + m.markdown + json.dumps(report.long_rows(rep), default=str)
    assert KEY not in exported
