"""The lab's notebook: one SQLite file (WAL) in the workspace.

The store owns the connection and the schema; each concept module (dataset,
runs, jobs, …) owns its own queries. Migrations are the numbered `.sql` files
in `core/migrations/`, applied once each in name order and recorded by name,
so that work on different concepts never collides on a schema version number.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class Store:
    """A thread-safe handle on the workspace database.

    SQLite connections may not cross threads by default; the lab runs
    evaluations in asyncio and trainings in worker threads, so each thread gets
    its own connection to the same WAL database.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.migrate()

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def query(self, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: Any = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    def migrate(self) -> list[str]:
        """Apply pending migrations; returns the names applied now."""
        conn = self.conn
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name TEXT PRIMARY KEY,"
            " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"
        )
        done = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
        applied = []
        for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
            if path.name in done:
                continue
            # executescript commits implicitly, so the script and its record go in one explicit transaction.
            try:
                conn.executescript(
                    "BEGIN IMMEDIATE;\n" + path.read_text(encoding="utf-8")
                    + f"\nINSERT INTO schema_migrations(name) VALUES ('{path.name}');\nCOMMIT;"
                )
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise RuntimeError(f"migration {path.name} failed: {exc}") from exc
            applied.append(path.name)
        return applied

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def to_json(value: Any) -> str:
    """Stable JSON for hashing and storage (sorted keys, no whitespace)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def open_store(workspace: str | Path | None = None) -> Store:
    """The store of the configured (or given) workspace."""
    from core.config import load_settings

    return Store(load_settings(workspace).db_path)
