"""Where the lab keeps its notebook and how it reaches an OpenAI-compatible server.

Settings come from the environment (pages may pass a value they read from
st.secrets, such as the database URL, down as an argument). Secrets (API keys) are resolved at call
time and never stored on a Settings object that could be written anywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"


@dataclass(frozen=True)
class Settings:
    workspace: Path
    base_url: str | None  # None means api.openai.com (the openai client's default)
    # FTLAB_DATABASE_URL: a PostgreSQL URL (postgresql://user:password@host:5432/db?sslmode=require) puts
    # the notebook there, durable across restarts of a host without a disk (Community Cloud). None: SQLite.
    database_url: str | None = field(default=None, repr=False)  # may hold a password: never in a repr

    @property
    def db_path(self) -> Path:
        return self.workspace / "lab.sqlite3"

    @property
    def database(self) -> str:
        """What core.store.Store opens: the database URL when one is set, else the workspace's SQLite file."""
        return self.database_url or str(self.db_path)

    @property
    def models_dir(self) -> Path:
        return self.workspace / "models"


def load_settings(workspace: str | os.PathLike | None = None, database_url: str | None = None) -> Settings:
    ws = workspace or os.environ.get("FTLAB_WORKSPACE") or PROJECT_ROOT / "workspace"
    url = (database_url or os.environ.get("FTLAB_DATABASE_URL") or "").strip() or None
    if url and url.split("://", 1)[0] not in ("postgresql", "postgres"):
        raise ValueError("FTLAB_DATABASE_URL must be a postgresql:// URL (unset it to use the workspace's SQLite file)")
    return Settings(workspace=Path(ws).expanduser().resolve(), base_url=os.environ.get("OPENAI_BASE_URL") or None,
                    database_url=url)


def api_key_from_env() -> str | None:
    """The key from the environment only; pages may pass one from st.secrets or the session instead."""
    return os.environ.get("OPENAI_API_KEY") or None
