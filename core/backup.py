"""Backup and restore of a workspace's notebook: one .zip that outlives the host it was made on.

An archive holds
  manifest.json           format, the schema (migration names), row counts and a sha256 per member
  tables/<table>.jsonl    every row of every table, one JSON object per line (bytes as {"$base64": …})
  models/<dir>/ftlab.json the manifest of every trained local model (task, options, metrics);
                          the weights too with `with_weights` (hundreds of MB; retrainable from the jobs)
It is portable between SQLite and PostgreSQL: export from one, import into the other.

There are no keys in an archive because there are none in the store (API keys are resolved at call
time and never written; tests/test_backup.py checks an archive of a paid run). Import reads the archive
only, refuses a non-empty target unless `merge`, and restores everything in one transaction.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Iterable

from core.store import MIGRATIONS_DIR, Store

FORMAT = "ftlab-workspace/1"
MODEL_MANIFEST = "ftlab.json"  # what core.training.setfit_local / lora_local write beside a model's weights
RESTORED_MANIFESTS = "restored-manifests"  # manifests of models whose weights were not in the archive

# Rowid tables: on --merge their ids are given anew, and the columns that point at them follow.
# natural key (None: none) and the referencing (table, column) pairs.
_REMAP: dict[str, tuple[tuple[str, ...], list[tuple[str, str]]]] = {
    "runs": (("dataset_hash", "split", "config_hash"), [("predictions", "run_id")]),
    "optimizations": (("dataset_hash", "backend", "settings_json", "created_at"), [("prompts", "optimization_id")]),
}


class ArchiveError(Exception):
    """A clear reason why an archive cannot be written or restored."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _encode(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$base64": base64.b64encode(bytes(value)).decode()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$base64"}:
        return base64.b64decode(value["$base64"])
    return value


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def primary_key(store: Store, table: str) -> tuple[str, ...]:
    if store.dialect == "postgresql":
        return store._primary_key(table)
    rows = sorted((r["pk"], r["name"]) for r in store.query(f"PRAGMA table_info({table})") if r["pk"])
    return tuple(name for _, name in rows)


def _counts(store: Store) -> dict[str, int]:
    return {t: store.query_one(f"SELECT COUNT(*) FROM {t}")[0] for t in store.tables()}


def _model_dirs(models_dir: Path) -> list[Path]:
    if not models_dir.is_dir():
        return []
    return sorted(p for p in models_dir.iterdir() if p.is_dir() and (p / MODEL_MANIFEST).is_file())


def export_archive(store: Store, archive: str | Path, *, with_weights: bool = False, force: bool = False) -> dict:
    """Write the workspace's notebook (and model manifests) to `archive`; returns its manifest."""
    archive = Path(archive)
    if archive.exists() and not force:
        raise ArchiveError(f"{archive} exists: choose another name (or pass --force to replace it)")
    manifest: dict[str, Any] = {
        "format": FORMAT, "created_at": _now(), "source": store.dialect,
        "schema": [r[0] for r in store.query("SELECT name FROM schema_migrations ORDER BY name")],
        "models_dir": str(store.workspace / "models"), "tables": {}, "models": [], "files": {},
    }
    archive.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=archive.name + ".", suffix=".part", dir=archive.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            def put(name: str, data: bytes) -> None:
                z.writestr(name, data)
                manifest["files"][name] = _sha256(data)

            for table in store.tables():
                cols = store.columns(table)
                order = ", ".join(primary_key(store, table) or cols)
                buf = io.StringIO()
                n = 0
                for row in store.query(f"SELECT * FROM {table} ORDER BY {order}"):
                    buf.write(json.dumps({c: _encode(row[c]) for c in cols}, ensure_ascii=False) + "\n")
                    n += 1
                put(f"tables/{table}.jsonl", buf.getvalue().encode("utf-8"))
                manifest["tables"][table] = {"rows": n, "columns": cols}
            models_dir = store.workspace / "models"
            for d in _model_dirs(models_dir):
                files = []
                for f in sorted(p for p in d.rglob("*") if p.is_file()):
                    data = f.read_bytes()
                    rel = f.relative_to(models_dir).as_posix()
                    files.append({"path": rel, "bytes": len(data), "sha256": _sha256(data)})
                    if with_weights or f.name == MODEL_MANIFEST and f.parent == d:
                        put(f"models/{rel}", data)
                manifest["models"].append({"name": d.name, "weights_included": with_weights, "files": files})
            z.writestr("manifest.json", json.dumps(manifest, indent=1, ensure_ascii=False))
        os.replace(tmp, archive)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return manifest


def read_manifest(archive: str | Path) -> dict:
    try:
        with zipfile.ZipFile(archive) as z:
            manifest = json.loads(z.read("manifest.json"))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise ArchiveError(f"{archive} is not a workspace archive: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise ArchiveError(f"{archive}: unknown archive format {manifest.get('format')!r} (this lab reads {FORMAT})")
    return manifest


def _rows(z: zipfile.ZipFile, name: str) -> Iterable[dict]:
    for line in z.read(name).decode("utf-8").splitlines():
        if line:
            yield {k: _decode(v) for k, v in json.loads(line).items()}


def import_archive(store: Store, archive: str | Path, *, merge: bool = False) -> dict:
    """Restore `archive` into `store` (one transaction); returns what was restored.

    The target must be empty (no row in any table) unless `merge`: then rows the target already has
    (same key) stay as they are, and runs / optimizations get new ids where theirs are taken."""
    archive = Path(archive)
    manifest = read_manifest(archive)
    known = {p.name for p in MIGRATIONS_DIR.glob("*.sql")}
    newer = [m for m in manifest["schema"] if m not in known]
    if newer:
        raise ArchiveError(f"the archive comes from a newer lab (migrations {', '.join(newer)}): update the lab first")
    before = _counts(store)
    if any(before.values()) and not merge:
        busy = ", ".join(f"{t} {n}" for t, n in before.items() if n)
        raise ArchiveError(f"the target is not empty ({busy} rows): restore into an empty workspace or database, "
                           "or pass --merge to add what it lacks")
    workspace = store.workspace
    models_dir = workspace / "models"
    source_models = manifest.get("models_dir", "")
    restored: dict[str, int] = {}
    kept: dict[str, int] = {}
    with zipfile.ZipFile(archive) as z:
        for name, digest in manifest["files"].items():
            if _sha256(z.read(name)) != digest:
                raise ArchiveError(f"{archive}: {name} is damaged (sha256 differs from the manifest)")
        ids: dict[str, dict[int, int]] = {t: {} for t in _REMAP}
        refs = {(t, c): owner for owner, (_, pairs) in _REMAP.items() for t, c in pairs}
        target_tables = store.tables()
        with store.transaction() as conn:
            for table, info in manifest["tables"].items():
                if table not in target_tables:
                    raise ArchiveError(f"the archive has a table this lab does not know: {table}")
                have = set(store.columns(table))
                extra = [c for c in info["columns"] if c not in have]
                if extra:
                    raise ArchiveError(f"{table}: columns {', '.join(extra)} are unknown to this lab")
                rows = list(_rows(z, f"tables/{table}.jsonl"))
                for r in rows:
                    if table == "jobs" and source_models and isinstance(r.get("model_ref"), str) \
                            and r["model_ref"].startswith(source_models + os.sep):
                        r["model_ref"] = str(models_dir) + r["model_ref"][len(source_models):]  # this workspace's models
                    for (t, c), owner in refs.items():
                        if t == table and r.get(c) is not None and merge:
                            r[c] = ids[owner].get(r[c], r[c])
                n_new = 0
                if not merge:
                    if rows:
                        cols = list(rows[0])
                        conn.executemany(f"INSERT INTO {table}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                                         [tuple(r[c] for c in cols) for r in rows])
                    n_new = len(rows)
                else:
                    for r in rows:
                        if table in _REMAP:
                            natural = _REMAP[table][0]
                            old = r.pop("id")
                            hit = conn.execute(f"SELECT id FROM {table} WHERE " + " AND ".join(f"{c} = ?" for c in natural),
                                               tuple(r[c] for c in natural)).fetchone()
                            if hit is not None:
                                ids[table][old] = hit[0]
                                continue
                            cur = conn.execute(f"INSERT INTO {table}({', '.join(r)}) VALUES ({', '.join('?' * len(r))})",
                                               tuple(r.values()))
                            ids[table][old] = cur.lastrowid
                            n_new += 1
                        else:
                            cur = conn.execute(f"INSERT OR IGNORE INTO {table}({', '.join(r)}) VALUES ({', '.join('?' * len(r))})",
                                               tuple(r.values()))
                            n_new += max(cur.rowcount, 0)
                restored[table] = n_new
                kept[table] = len(rows) - n_new
        store.reset_identities()
        models = _restore_models(z, manifest, models_dir, workspace)
    return {"archive": str(archive), "target": store.dialect, "schema": manifest["schema"][-1] if manifest["schema"] else None,
            "created_at": manifest["created_at"], "merge": merge, "restored": restored,
            "already_present": {t: n for t, n in kept.items() if n}, "models": models}


def _restore_models(z: zipfile.ZipFile, manifest: dict, models_dir: Path, workspace: Path) -> list[dict]:
    out = []
    members = set(z.namelist())
    for m in manifest["models"]:
        target = models_dir / m["name"]
        files = [f for f in m["files"] if f"models/{f['path']}" in members]
        if m["weights_included"]:
            if target.exists():
                out.append({"name": m["name"], "status": "kept (a folder of that name exists)", "path": str(target)})
                continue
            for f in files:
                dest = models_dir / f["path"]
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(z.read(f"models/{f['path']}"))
            out.append({"name": m["name"], "status": "restored with its weights", "path": str(target)})
        else:
            dest = workspace / RESTORED_MANIFESTS / m["name"] / MODEL_MANIFEST
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(z.read(f"models/{m['name']}/{MODEL_MANIFEST}"))
            status = "present" if target.is_dir() else "manifest only: weights not in the archive (retrain, or copy the folder)"
            out.append({"name": m["name"], "status": status, "path": str(dest)})
    return out


def describe(result: dict) -> str:
    """What an import restored, for a person."""
    total = sum(result["restored"].values())
    lines = [f"restored {total} rows into {result['target']} from {result['archive']} "
             f"(made {result['created_at']}, schema {result['schema']})"]
    lines += [f"  {t:<20} {n:>8}" for t, n in result["restored"].items() if n]
    if result["already_present"]:
        lines.append("already in the target, kept as they were: "
                     + ", ".join(f"{t} {n}" for t, n in result["already_present"].items()))
    for m in result["models"]:
        lines.append(f"  model {m['name']}: {m['status']}")
    return "\n".join(lines)
