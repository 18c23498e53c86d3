import sqlite3
import threading

import pytest

from core.store import Store


def test_migrations_apply_once_and_are_recorded(tmp_path):
    s = Store(tmp_path / "lab.sqlite3")
    names = [r["name"] for r in s.query("SELECT name FROM schema_migrations")]
    assert "0001_initial.sql" in names
    s.close()
    again = Store(tmp_path / "lab.sqlite3")
    assert again.migrate() == []  # nothing re-applied on reopen
    assert again.query_one("PRAGMA journal_mode")[0] == "wal"


def test_transaction_rolls_back_on_error(store):
    with pytest.raises(RuntimeError):
        with store.transaction() as conn:
            conn.execute("INSERT INTO jobs(id, backend, base_model, status) VALUES ('j1', 'local', 'm', 'queued')")
            raise RuntimeError("boom")
    assert store.query_one("SELECT COUNT(*) FROM jobs")[0] == 0


def test_each_thread_gets_its_own_connection(store):
    errors = []

    def write(i):
        try:
            store.execute("INSERT INTO jobs(id, backend, base_model, status) VALUES (?, 'local', 'm', 'queued')", (f"j{i}",))
        except sqlite3.Error as exc:  # pragma: no cover - the failure we guard against
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.query_one("SELECT COUNT(*) FROM jobs")[0] == 8
