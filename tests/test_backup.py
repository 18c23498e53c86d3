"""Backup and restore: `python -m core workspace export|import` between SQLite and PostgreSQL."""

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from core import backup
from core.store import Store

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-ftlab-backup-secret-5d2b9a"


def _cli(*args, env=None, check=True):
    out = subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, env={**os.environ, **(env or {})},
                         capture_output=True, text=True, timeout=300)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def _report(store: Store) -> dict:
    """Every run's metrics, comparison and verdict, as core.evaluation.report computes them."""
    from core.data import dataset as datasets
    from core.evaluation import report, runs

    sample = datasets.load_sample()
    ids = [r["id"] for r in runs.list_runs(store, sample.hash, "test")]
    assert len(ids) == 2
    rep = report.build(store, [runs.get(store, i) for i in ids], sample.task.label_names)
    return report.to_json(rep)


def _counts(store: Store) -> dict:
    return {t: store.query_one(f"SELECT COUNT(*) FROM {t}")[0] for t in store.tables()}


@pytest.fixture(scope="module")
def paid_archive(tmp_path_factory):
    """A workspace that ran a paid evaluation (loopback fake server, a distinctive key) + the classical baseline,
    exported to an archive. Module-scoped: one evaluation for every test here."""
    from tests.fake_openai import FakeOpenAI

    root = tmp_path_factory.mktemp("paid")
    ws = root / "workspace"
    with FakeOpenAI() as server:
        _cli("--workspace", str(ws), "evaluate", "--dataset", "sample", "--approach", "openai:fake-model:few-shot:k=4",
             "--approach", "classical:tfidf-lr", "--json", "--quiet",
             env={"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": server.base_url, "FTLAB_DATABASE_URL": ""})
    archive = root / "notebook.zip"
    out = _cli("--workspace", str(ws), "workspace", "export", str(archive), "--json", env={"FTLAB_DATABASE_URL": ""})
    assert json.loads(out.stdout)["tables"]["responses"] > 0  # the paid answers are in it
    source = Store(ws / "lab.sqlite3")
    expected = {"report": _report(source), "counts": _counts(source)}
    source.close()
    return archive, expected


def test_an_archive_of_a_paid_run_holds_no_key(paid_archive):
    archive, _ = paid_archive
    assert KEY.encode() not in archive.read_bytes()
    with zipfile.ZipFile(archive) as z:
        leaks = [n for n in z.namelist() if KEY.encode() in z.read(n)]
        manifest = json.loads(z.read("manifest.json"))
    assert not leaks, leaks
    assert manifest["format"] == backup.FORMAT and manifest["schema"][0] == "0001_initial.sql"
    assert {n for n in manifest["files"]} >= {f"tables/{t}.jsonl" for t in ("runs", "predictions", "responses")}


@pytest.mark.parametrize("target", ["sqlite", "postgresql"])
def test_export_then_import_reproduces_every_run_exactly(paid_archive, target, tmp_path, request):
    archive, expected = paid_archive
    before = (hashlib.sha256(archive.read_bytes()).hexdigest(), archive.stat().st_mtime_ns)
    ws = tmp_path / "fresh"
    env = {"FTLAB_DATABASE_URL": request.getfixturevalue("pg_url") if target == "postgresql" else ""}
    out = _cli("--workspace", str(ws), "workspace", "import", str(archive), "--json", env=env)
    result = json.loads(out.stdout)
    assert result["target"] == target and result["restored"]["runs"] == 2
    text = _cli("--workspace", str(ws), "workspace", "import", str(archive), env=env, check=False)
    assert text.returncode == 2 and "not empty" in text.stderr and "--merge" in text.stderr  # refuses to overwrite
    assert (hashlib.sha256(archive.read_bytes()).hexdigest(), archive.stat().st_mtime_ns) == before  # untouched

    store = Store(env["FTLAB_DATABASE_URL"] or ws / "lab.sqlite3", workspace=ws)
    try:
        assert _counts(store) == expected["counts"]
        assert _report(store) == expected["report"]
        # New rows continue after the restored ids (PostgreSQL's identity sequences were moved on).
        cur = store.execute("INSERT INTO optimizations(dataset_hash, backend, settings_json) VALUES ('h', 'local', '{}')")
        assert cur.lastrowid == 1
        cur = store.execute("INSERT INTO runs(dataset_hash, split, approach, config_hash, config_json, backend)"
                            " SELECT dataset_hash, 'dev', approach, config_hash, config_json, backend FROM runs LIMIT 1")
        assert store.query_one("SELECT MAX(id) FROM runs")[0] == 3
    finally:
        store.close()


def test_merge_adds_what_the_target_lacks_and_renumbers_taken_ids(any_store, tmp_path):
    from core.evaluation import runs
    from tests.eval_data import make_dataset
    from core.backends import approach_from_spec

    src = Store(tmp_path / "src" / "lab.sqlite3")
    ds = make_dataset(train_per_label=4, test_per_label=5)
    run = runs.execute(src, ds, approach_from_spec("classical:tfidf-lr").fit(ds.split("train"), ds.task))
    archive = tmp_path / "a.zip"
    backup.export_archive(src, archive)
    with pytest.raises(backup.ArchiveError, match="exists"):
        backup.export_archive(src, archive)

    # The target already has another run with id 1 (another dataset): the archive's run 1 gets a new id.
    other = make_dataset(train_per_label=4, test_per_label=3, seed=7)
    mine = runs.execute(any_store, other, approach_from_spec("classical:tfidf-lr").fit(other.split("train"), other.task))
    assert mine.id == run.id == 1
    with pytest.raises(backup.ArchiveError, match="not empty"):
        backup.import_archive(any_store, archive)
    result = backup.import_archive(any_store, archive, merge=True)
    assert result["restored"]["runs"] == 1 and result["restored"]["predictions"] == len(runs.predictions(src, run.id))
    moved = runs.get_by_key(any_store, ds.hash, "test", run.config_hash)
    assert moved.id == 2
    assert runs.predictions(any_store, moved.id) == runs.predictions(src, run.id) or \
        [dict(p, run_id=None) for p in runs.predictions(any_store, moved.id)] == \
        [dict(p, run_id=None) for p in runs.predictions(src, run.id)]
    assert len(runs.predictions(any_store, mine.id)) == 3 * len(other.task.label_names)  # untouched
    again = backup.import_archive(any_store, archive, merge=True)  # nothing new the second time
    assert sum(again["restored"].values()) == 0 and again["already_present"]["predictions"] > 0
    src.close()


def test_model_manifests_travel_and_weights_on_request(any_store, tmp_path):
    from core.training import jobs

    src_ws = tmp_path / "src"
    src = Store(src_ws / "lab.sqlite3")
    model = src_ws / "models" / "setfit-abc"
    model.mkdir(parents=True)
    (model / "ftlab.json").write_text('{"task": "t", "options": {}}')
    (model / "model.safetensors").write_bytes(b"\x00" * 1000)
    job = jobs.create(src, "local-setfit", "all-MiniLM-L6-v2", None, {})
    jobs.update(src, job.id, model_ref=str(model), status="succeeded")

    plain, full = tmp_path / "plain.zip", tmp_path / "full.zip"
    m = backup.export_archive(src, plain)
    assert [x["name"] for x in m["models"]] == ["setfit-abc"]
    assert zipfile.ZipFile(plain).namelist().count("models/setfit-abc/model.safetensors") == 0
    backup.export_archive(src, full, with_weights=True)

    result = backup.import_archive(any_store, plain)
    assert "manifest only" in result["models"][0]["status"]
    assert (any_store.workspace / "restored-manifests" / "setfit-abc" / "ftlab.json").is_file()
    # The job's model path now points into this workspace's models folder.
    assert jobs.get(any_store, job.id).model_ref == str(any_store.workspace / "models" / "setfit-abc")

    other = Store(tmp_path / "other" / "lab.sqlite3")
    result = backup.import_archive(other, full)
    assert result["models"][0]["status"] == "restored with its weights"
    assert (other.workspace / "models" / "setfit-abc" / "model.safetensors").read_bytes() == b"\x00" * 1000
    other.close()
    src.close()


def test_a_damaged_or_foreign_archive_is_refused(tmp_path, store):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(backup.ArchiveError, match="not a workspace archive"):
        backup.import_archive(store, bad)
    good = tmp_path / "good.zip"
    backup.export_archive(store, good)
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(good) as z, zipfile.ZipFile(damaged, "w") as out:
        for n in z.namelist():
            out.writestr(n, z.read(n) + (b"x" if n == "tables/runs.jsonl" else b""))
    with pytest.raises(backup.ArchiveError, match="damaged"):
        backup.import_archive(store, damaged)
