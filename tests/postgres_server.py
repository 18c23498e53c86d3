"""A throw-away PostgreSQL server for the tests: Debian's `postgresql` package, one per test session.

It runs from a temporary data directory, listens only on a Unix socket in that directory (no TCP
port to collide with), trusts local connections, and skips durability (fsync off): it is
started in ~1–2 s and removed after the session. As root, initdb and postgres refuse to run,
so they run as the `postgres` system user (which the package creates) in a folder it owns.
Each test gets its own database, cloned from a migrated template (CREATE DATABASE … TEMPLATE).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

APT_HINT = "apt-get install postgresql"


def find_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin that has initdb and postgres (or $FTLAB_PG_BINDIR)."""
    candidates = [os.environ.get("FTLAB_PG_BINDIR", "")] + sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0,
        reverse=True)
    for c in filter(None, candidates):
        if (Path(c) / "initdb").is_file() and (Path(c) / "postgres").is_file():
            return Path(c)
    return None


class PostgresServer:
    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="ftlab-pg-"))
        self.data = self.root / "data"
        self.user = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise RuntimeError("running as root needs the 'postgres' system user (the postgresql package creates it)") from exc
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self.proc: subprocess.Popen | None = None
        self._n = itertools.count(1)

    def _run(self, *cmd: str, **kw) -> subprocess.CompletedProcess:
        kw.setdefault("capture_output", True)
        if self.user:
            kw.update(user=self.user.pw_uid, group=self.user.pw_gid, extra_groups=[])
        return subprocess.run(cmd, check=True, text=True, cwd=self.root, **kw)

    def start(self) -> "PostgresServer":
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
        popen = dict(stdout=subprocess.DEVNULL, stderr=open(self.root / "server.log", "w"), cwd=self.root)
        if self.user:
            popen.update(user=self.user.pw_uid, group=self.user.pw_gid, extra_groups=[])
        self.proc = subprocess.Popen(
            [str(self.bindir / "postgres"), "-D", str(self.data), "-k", str(self.root), "-c", "listen_addresses=",
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=200", "-c", "shared_buffers=32MB"], **popen)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited: {(self.root / 'server.log').read_text()[-2000:]}")
            if (self.root / ".s.PGSQL.5432").exists():
                try:
                    self.admin("SELECT 1")
                    return self
                except Exception:
                    pass
            time.sleep(0.1)
        raise RuntimeError("postgres did not accept connections within 30 s")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@/{dbname}?host={self.root}"

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql)

    def create_template(self) -> None:
        from core.store import Store

        self.admin("CREATE DATABASE ftlab_template")
        s = Store(self.url("ftlab_template"), workspace=self.root / "unused")
        s.close()

    def new_database(self) -> str:
        """A fresh, migrated database; returns its URL."""
        name = f"ftlab_test_{next(self._n)}"
        self.admin(f"CREATE DATABASE {name} TEMPLATE ftlab_template")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.split("?")[0].rsplit("/", 1)[1]
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # "fast" shutdown: ends the sessions still open
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)
