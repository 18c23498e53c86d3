"""Per-visitor scratch workspaces (core/workspaces.py): two concurrent visitor sessions over one shared store.

B never sees A's upload, versions, runs or prompts; the owner's shared workspace is untouched by both;
A's scratch space is gone after expiry (time injected); published evidence reaches every visitor.
Runs on SQLite and on a real PostgreSQL shared store.
"""

import threading

import pytest

from core import workspaces
from core.data import dataset as datasets
from core.data.dataset import Dataset, Example
from core.evaluation import preload, runs
from core.public_mode import PublicMode, Usage, check_evaluation

SAMPLE = datasets.load_sample()


def _variant(name: str, n: int = 12) -> Dataset:
    labels = [getattr(l, "name", l) for l in SAMPLE.task.labels]
    examples = tuple(Example(id=f"{name}-{i}", text=f"{name} private text {i}", label=labels[i % len(labels)],
                             split=("train", "dev", "test")[i % 3]) for i in range(n))
    return Dataset(name=name, task=SAMPLE.task, examples=examples)


def _run(store, dataset_hash: str, approach: str) -> int:
    recorded = [{"approach": approach, "split": "test", "config": {"approach": approach}, "config_hash": approach,
                 "backend": "classical", "model": "", "status": "finished", "created_at": "2026-11-01T00:00:00.000Z",
                 "finished_at": "2026-11-01T00:00:01.000Z",
                 "predictions": [dict.fromkeys(runs.PREDICTION_FIELDS) | {"example_idx": 2, "gold": "x", "label": "x", "raw_output": "x"}]}]
    return runs.add_recorded(store, dataset_hash, recorded, origin="")[0]


def _prompt(store, dataset_hash: str, key: str) -> None:
    store.execute("INSERT INTO prompts(hash, dataset_hash, config_json, name) VALUES (?, ?, '{}', ?)",
                  (key, dataset_hash, key))


def _prompts(store) -> set[str]:
    return {r[0] for r in store.query("SELECT hash FROM prompts")}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def shared(any_store):
    preload.ensure_preloaded(any_store)
    private = datasets.save(any_store, _variant("owner-private"))
    _run(any_store, private, "owner:private-run")
    _prompt(any_store, private, "owner-private-prompt")
    public = datasets.save(any_store, _variant("owner-published"))
    _run(any_store, public, "owner:published-run")
    _prompt(any_store, public, "owner-published-prompt")
    workspaces.publish(any_store, public)
    any_store.ids = {"private": private, "public": public}
    return any_store


@pytest.fixture
def registry(shared, tmp_path):
    clock = Clock()
    reg = workspaces.ScratchRegistry(shared, tmp_path / "scratch", idle_seconds=3600, clock=clock)
    reg.clock_ = clock
    yield reg
    for k in reg.keys():
        reg.end(k)


def test_two_visitors_never_see_each_other_and_the_owner_keeps_the_shared_workspace(shared, registry):
    # Both sessions open at the same time, as two browser tabs would.
    opened = {}
    threads = [threading.Thread(target=lambda k=k: opened.setdefault(k, registry.open(k))) for k in ("A", "B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    a, b = opened["A"].store, opened["B"].store
    assert opened["A"].folder != opened["B"].folder

    # Both start from the shared evidence: the sample with its pre-loaded runs, and what the owner published.
    for s in (a, b):
        hashes = {v["hash"] for v in datasets.list_versions(s)}
        assert {SAMPLE.hash, shared.ids["public"]} <= hashes
        assert shared.ids["private"] not in hashes
        approaches = {r["approach"] for r in runs.list_runs(s)}
        assert "owner:published-run" in approaches and "owner:private-run" not in approaches
        assert any(r.origin.startswith("preloaded") for r in map(lambda r: runs.get(s, r["id"]), runs.list_runs(s)))
        assert _prompts(s) == {"owner-published-prompt"}
        assert workspaces.published(s) == [shared.ids["public"]]
        assert s.query("SELECT COUNT(*) FROM responses")[0][0] == 0  # the owner's paid responses are not copied

    # A uploads a dataset, runs an approach on it and stores a prompt.
    upload = datasets.save(a, _variant("visitor-A-upload"))
    _run(a, upload, "visitorA:run")
    _prompt(a, upload, "visitor-A-prompt")

    assert upload in {v["hash"] for v in datasets.list_versions(a)}
    for other in (b, shared):  # visitor B and the owner's shared workspace
        assert upload not in {v["hash"] for v in datasets.list_versions(other)}
        assert "visitorA:run" not in {r["approach"] for r in runs.list_runs(other)}
        assert "visitor-A-prompt" not in _prompts(other)
    # The owner sees the shared workspace as it was, private work included.
    assert shared.ids["private"] in {v["hash"] for v in datasets.list_versions(shared)}
    assert "owner-private-prompt" in _prompts(shared)


def test_scratch_space_is_deleted_after_the_idle_time_and_when_the_session_ends(registry):
    a = registry.open("A", session="sess-A")
    b = registry.open("B", session="sess-B")
    datasets.save(a.store, _variant("visitor-A-upload"))
    assert (a.folder / workspaces.DB_NAME).is_file()

    registry.clock_.now += 3000
    registry.open("B")  # B is active; A is not
    assert registry.expire() == []
    registry.clock_.now += 601  # A idle for 3601 s > 1 h, B for 601 s
    assert registry.expire() == ["A"]
    assert not a.folder.exists() and registry.get("A") is None
    assert registry.get("B") is b and b.folder.exists()
    assert registry.by_path(a.store.path.as_posix()) is None and registry.is_scratch_path(a.store.path.as_posix())

    # A returning after expiry gets a fresh scratch seeded from the shared evidence, without the old upload.
    again = registry.open("A")
    assert "visitor-A-upload" not in {v["name"] for v in datasets.list_versions(again.store)}

    # A session that ended (Streamlit no longer knows it) loses its scratch at the next sweep.
    assert registry.expire(alive_sessions={"sess-other"}) == ["B"]
    assert not b.folder.exists()


def test_unpublished_versions_leave_new_sessions(shared, registry):
    workspaces.unpublish(shared, shared.ids["public"])
    s = registry.open("C").store
    assert shared.ids["public"] not in {v["hash"] for v in datasets.list_versions(s)}
    assert SAMPLE.hash in {v["hash"] for v in datasets.list_versions(s)}  # the pre-loaded evidence stays


def test_usage_is_per_session_and_a_visitor_over_quota_is_refused(registry):
    mode = PublicMode(enabled=True, max_evaluated_examples=100)
    registry.open("A")
    registry.open("B")
    registry.charge("A", evaluated_examples=90, cpu_seconds=5.0)
    assert registry.usage("A") == Usage(evaluated_examples=90, cpu_seconds=5.0)
    assert registry.usage("B") == Usage()
    refused = check_evaluation(mode, registry.usage("A"), 20)
    assert not refused.allowed and "10 more examples" in refused.reason
    assert check_evaluation(mode, registry.usage("B"), 20).allowed
    assert check_evaluation(mode, registry.usage("A"), 20, owner=True).allowed  # the owner has no quotas


def test_local_trainings_are_counted_across_every_workspace(registry):
    from core.training import jobs

    a = registry.open("A").store
    registry.open("B")
    assert registry.running_local_jobs() == 0
    job = jobs.create(a, "local-setfit", "minilm", SAMPLE.hash, {})  # pending: active
    assert registry.running_local_jobs() == 1  # B's session sees the machine busy
    registry.end("A")  # ending the session asks the training to stop, then deletes the folder
    assert registry.running_local_jobs() == 0
    assert job.id


def test_backup_download_restores_into_a_fresh_workspace_with_the_same_metrics(shared, tmp_path):
    from core.evaluation import metrics

    data = workspaces.archive_bytes(shared)
    fresh, result = workspaces.restore_bytes(data, parent=tmp_path)
    assert fresh.workspace.parent == tmp_path and result["restored"]["runs"] == len(runs.list_runs(shared))
    assert {v["hash"] for v in datasets.list_versions(fresh)} == {v["hash"] for v in datasets.list_versions(shared)}
    for r in runs.list_runs(shared):
        assert metrics.accuracy(runs.predictions(fresh, r["id"])) == metrics.accuracy(runs.predictions(shared, r["id"]))
    # Into a workspace that already has rows: what it lacks is added, nothing twice.
    _, again = workspaces.restore_bytes(data, shared)
    assert sum(again["restored"].values()) == 0
    fresh.close()
