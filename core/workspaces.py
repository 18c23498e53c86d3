"""Workspaces of a public deployment: the owner's shared one, and one scratch workspace per visitor session.

The shared workspace is the lab's store (SQLite or PostgreSQL, core/store.py); the owner, unlocked by
password, works in it as in a private lab. A visitor works in a *scratch* workspace: a SQLite store in a
temporary folder of its own, seeded with copies of the shared evidence —
  - the pre-loaded runs (origin 'preloaded…') and their dataset versions,
  - every dataset version the owner marked *published* (the `published` table, owned here) with its
    examples, preferences, runs and predictions, prompts and prompt searches,
  - the owner's custom catalog rows (prices), so the economics read the same.
Nothing else is copied: not the cache of paid responses, not jobs or trained models, not unpublished
versions. What the visitor then creates — versions, runs, prompts, jobs, models (in the scratch folder's
`models/`), uploads — lands only in their scratch store, which no other session ever opens, and which
the registry deletes (store and folder) when the session ends or after an idle time. The shared store is
only ever read by a seed, so a visitor cannot change what the owner or another visitor sees.

Why copies rather than a read-through layer: every concept module (runs, prompts, datasets, jobs)
keeps working unchanged on one Store; a seed is a few thousand rows, copied in well under a second.
The registry is process-wide (the app keeps one in st.cache_resource); its clock is injected for tests.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from core.public_mode import Usage
from core.store import Store

SCRATCH_DIR_ENV = "FTLAB_SCRATCH_DIR"
DB_NAME = "lab.sqlite3"
PREFIX = "visitor-"
DEFAULT_IDLE_SECONDS = 3600.0
_CHUNK = 500  # values per IN (…) list


# --- what the owner publishes (the `published` table) -------------------------------------------

def publish(store: Store, dataset_hash: str) -> None:
    """Show this dataset version, its runs and prompts to visitors of the public URL (read-only copies)."""
    store.execute("INSERT OR IGNORE INTO published(dataset_hash) VALUES (?)", (dataset_hash,))


def unpublish(store: Store, dataset_hash: str) -> None:
    """New visitor sessions no longer see it (sessions already seeded keep their copy until they end)."""
    store.execute("DELETE FROM published WHERE dataset_hash = ?", (dataset_hash,))


def published(store: Store) -> list[str]:
    return [r[0] for r in store.query("SELECT dataset_hash FROM published ORDER BY published_at, dataset_hash")]


def is_published(store: Store, dataset_hash: str) -> bool:
    return store.query_one("SELECT 1 FROM published WHERE dataset_hash = ?", (dataset_hash,)) is not None


# --- seeding a scratch store from the shared one ------------------------------------------------

def _chunks(values: Sequence, n: int = _CHUNK) -> Iterable[Sequence]:
    for i in range(0, len(values), n):
        yield values[i:i + n]


def _select_in(store: Store, table: str, column: str, values: Sequence) -> list[dict]:
    rows: list[dict] = []
    cols = store.columns(table)
    for part in _chunks(list(values)):
        marks = ", ".join("?" * len(part))
        rows += [{c: r[c] for c in cols} for r in store.query(f"SELECT * FROM {table} WHERE {column} IN ({marks})", tuple(part))]
    return rows


def evidence(shared: Store) -> dict[str, list[dict]]:
    """The rows of the shared store a visitor may see, by table (what a scratch workspace is seeded with)."""
    pub = published(shared)
    preloaded = shared.query("SELECT id, dataset_hash FROM runs WHERE origin LIKE 'preloaded%' ORDER BY id")
    hashes = sorted(set(pub) | {r["dataset_hash"] for r in preloaded})
    run_ids = sorted({r["id"] for r in preloaded} | {r["id"] for r in _select_in(shared, "runs", "dataset_hash", pub)})
    out = {
        "datasets": _select_in(shared, "datasets", "hash", hashes),
        "examples": _select_in(shared, "examples", "dataset_hash", hashes),
        "preferences": _select_in(shared, "preferences", "dataset_hash", hashes),
        "runs": _select_in(shared, "runs", "id", run_ids),
        "predictions": _select_in(shared, "predictions", "run_id", run_ids),
        "optimizations": _select_in(shared, "optimizations", "dataset_hash", pub),
        "prompts": _select_in(shared, "prompts", "dataset_hash", pub),
        "catalog_rows": [dict(zip(shared.columns("catalog_rows"), r)) for r in shared.query("SELECT * FROM catalog_rows")],
        "published": _select_in(shared, "published", "dataset_hash", pub),
    }
    return out


def seed(scratch: Store, rows_by_table: dict[str, list[dict]]) -> int:
    """Insert the evidence into an empty scratch store (one transaction); returns the rows written."""
    n = 0
    with scratch.transaction() as conn:
        for table, rows in rows_by_table.items():
            if not rows:
                continue
            cols = list(rows[0])
            conn.executemany(f"INSERT OR IGNORE INTO {table}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                             [tuple(r[c] for c in cols) for r in rows])
            n += len(rows)
    return n


# --- the registry of scratch workspaces ---------------------------------------------------------

@dataclass
class Scratch:
    """One visitor session's workspace."""
    key: str
    store: Store
    folder: Path
    created: float
    last_seen: float
    session: str | None = None      # the Streamlit session it belongs to (to notice when it ends)
    usage: Usage = field(default_factory=Usage)  # what was charged (CPU of evaluations, measured by the page)
    seeded_runs: int = 0            # runs with an id up to this one are copies of the shared evidence


def default_root() -> Path:
    return Path(os.environ.get(SCRATCH_DIR_ENV) or Path(tempfile.gettempdir()) / "ftlab-scratch")


class ScratchRegistry:
    """Every live scratch workspace of this process, by key (one per browser session).

    `clock` returns seconds (time.monotonic by default; tests pass a fake). Idle means: not opened or
    touched for `idle_seconds`. Expiry deletes the store and its folder (trained models included)."""

    def __init__(self, shared: Store, root: str | Path | None = None, *, idle_seconds: float = DEFAULT_IDLE_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.shared = shared
        self.root = Path(root) if root else default_root()
        self.idle_seconds = float(idle_seconds)
        self.clock = clock
        self._lock = threading.RLock()
        self._live: dict[str, Scratch] = {}
        self.root.mkdir(parents=True, exist_ok=True)
        self._remove_orphans()

    def _remove_orphans(self) -> None:
        """Folders a previous process left (it ended without cleaning up), once they are idle-old."""
        cutoff = time.time() - self.idle_seconds
        for d in self.root.glob(PREFIX + "*"):
            try:
                if d.is_dir() and d.stat().st_mtime < cutoff:
                    shutil.rmtree(d, ignore_errors=True)
            except OSError:
                pass

    def open(self, key: str, session: str | None = None) -> Scratch:
        """This session's scratch workspace, created and seeded on first use; opening counts as activity."""
        with self._lock:
            self.expire()
            scratch = self._live.get(key)
            if scratch is not None:
                scratch.last_seen = self.clock()
                if session:
                    scratch.session = session
                return scratch
            folder = Path(tempfile.mkdtemp(prefix=PREFIX, dir=self.root))
            try:
                store = Store(folder / DB_NAME, workspace=folder)
                seed(store, evidence(self.shared))
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            now = self.clock()
            top = store.query_one("SELECT MAX(id) FROM runs")[0] or 0
            scratch = Scratch(key=key, store=store, folder=folder, created=now, last_seen=now, session=session,
                              seeded_runs=top)
            self._live[key] = scratch
            return scratch

    def get(self, key: str) -> Scratch | None:
        with self._lock:
            return self._live.get(key)

    def by_path(self, path: str) -> Store | None:
        """The live scratch store at this database path (None: not a live scratch workspace)."""
        with self._lock:
            for s in self._live.values():
                if s.store.path.as_posix() == str(path):
                    return s.store
        return None

    def is_scratch_path(self, path: str) -> bool:
        """Whether a database path lies in the scratch root (live or already deleted): never reopen one."""
        try:
            return Path(str(path)).resolve().is_relative_to(self.root.resolve())
        except (OSError, ValueError):
            return False

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._live)

    def charge(self, key: str, **amounts: float) -> Usage:
        """Add to this session's usage (see core.public_mode.Usage); returns the new total."""
        with self._lock:
            scratch = self._live[key]
            scratch.usage = scratch.usage.plus(**amounts)
            scratch.last_seen = self.clock()
            return scratch.usage

    def usage(self, key: str) -> Usage:
        """What this session used: what was charged, plus what its scratch store records — predictions of the
        runs it made, and the examples and estimated seconds of the local trainings it launched."""
        from core.training import jobs

        with self._lock:
            s = self._live.get(key)
        if s is None:
            return Usage()
        predicted = s.store.query_one("SELECT COUNT(*) FROM predictions WHERE run_id > ?", (s.seeded_runs,))[0]
        estimates = [j.estimate or {} for j in jobs.list_jobs(s.store) if j.is_local]
        return s.usage.plus(evaluated_examples=predicted,
                            local_train_examples=sum(int(e.get("examples") or 0) for e in estimates),
                            cpu_seconds=sum(float(e.get("seconds") or 0) for e in estimates))

    def end(self, key: str) -> bool:
        """Delete this session's scratch workspace now (the session ended). False: there was none."""
        with self._lock:
            scratch = self._live.pop(key, None)
        if scratch is None:
            return False
        _cancel_local_jobs(scratch.store)
        scratch.store.close()
        shutil.rmtree(scratch.folder, ignore_errors=True)
        return True

    def expire(self, alive_sessions: Iterable[str] | None = None) -> list[str]:
        """Delete scratch workspaces idle for longer than idle_seconds, and — when the caller knows which
        Streamlit sessions are still alive — those whose session ended. Returns the keys deleted."""
        alive = set(alive_sessions) if alive_sessions is not None else None
        now = self.clock()
        with self._lock:
            gone = [k for k, s in self._live.items()
                    if now - s.last_seen > self.idle_seconds
                    or (alive is not None and s.session is not None and s.session not in alive)]
        return [k for k in gone if self.end(k)]

    def running_local_jobs(self) -> int:
        """Local trainings running in any workspace of this process (shared and scratch): the machine is one."""
        from core.training import jobs

        with self._lock:
            stores = [self.shared] + [s.store for s in self._live.values()]
        return sum(sum(j.is_local for j in jobs.list_jobs(s, jobs.ACTIVE)) for s in stores)


def _cancel_local_jobs(store: Store) -> None:
    """Ask a visitor's still-running local trainings to stop before their folder goes."""
    try:
        from core.training import jobs

        for j in jobs.list_jobs(store, jobs.ACTIVE):
            if j.is_local:
                jobs.request_cancel(store, j.id)
    except Exception:  # best effort: the folder is deleted either way, and the worker then fails on its own
        pass


def new_key() -> str:
    return uuid.uuid4().hex


# --- backup and restore from the app (core/backup.py does the work) ------------------------------

def archive_bytes(store: Store) -> bytes:
    """The workspace archive of `store` (core/backup.py format) as bytes, for a download button."""
    from core.backup import export_archive

    with tempfile.TemporaryDirectory(prefix="ftlab-export-") as tmp:
        path = Path(tmp) / "workspace.zip"
        export_archive(store, path)
        return path.read_bytes()


def restore_bytes(data: bytes, target: Store | None = None, *, parent: str | Path | None = None) -> tuple[Store, dict]:
    """Restore an uploaded archive: into `target` (rows it lacks are added: core.backup merge), or into a
    fresh SQLite workspace made under `parent`. Returns the store restored into and what was restored.
    Raises core.backup.ArchiveError with the reason when the archive cannot be restored."""
    from core.backup import import_archive

    if target is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        folder = Path(tempfile.mkdtemp(prefix=f"restored-{stamp}-", dir=Path(parent or default_root())))
        target = Store(folder / DB_NAME, workspace=folder)
    with tempfile.TemporaryDirectory(prefix="ftlab-import-") as tmp:
        path = Path(tmp) / "upload.zip"
        path.write_bytes(data)
        return target, import_archive(target, path, merge=target.query_one("SELECT 1 FROM datasets") is not None)
