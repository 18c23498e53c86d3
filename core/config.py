"""Where the lab keeps its notebook and how it reaches an OpenAI-compatible server.

Settings come from the environment. Secrets (API keys) are resolved at call
time and never stored on a Settings object that could be written anywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"


@dataclass(frozen=True)
class Settings:
    workspace: Path
    base_url: str | None  # None means api.openai.com (the openai client's default)

    @property
    def db_path(self) -> Path:
        return self.workspace / "lab.sqlite3"

    @property
    def models_dir(self) -> Path:
        return self.workspace / "models"


def load_settings(workspace: str | os.PathLike | None = None) -> Settings:
    ws = workspace or os.environ.get("FTLAB_WORKSPACE") or PROJECT_ROOT / "workspace"
    return Settings(workspace=Path(ws).expanduser().resolve(), base_url=os.environ.get("OPENAI_BASE_URL") or None)


def api_key_from_env() -> str | None:
    """The key from the environment only; pages may pass one from st.secrets or the session instead."""
    return os.environ.get("OPENAI_API_KEY") or None
