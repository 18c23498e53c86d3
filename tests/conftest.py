import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Before anything imports torch or transformers: no hub access, no OpenMP spin-waiting on 2 shared cores.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A fresh, empty workspace for the test, also seen by pages and the CLI."""
    ws = tmp_path / "workspace"
    monkeypatch.setenv("FTLAB_WORKSPACE", str(ws))
    return ws


@pytest.fixture
def store(workspace):
    from core.store import Store

    s = Store(workspace / "lab.sqlite3")
    yield s
    s.close()


@pytest.fixture
def fake_openai():
    """A started loopback OpenAI-compatible server (tests/fake_openai.py); configure it via its attributes."""
    from tests.fake_openai import FakeOpenAI

    with FakeOpenAI() as server:
        yield server


def open_page(page: str, timeout: float = 180, session_state: dict | None = None):
    """The app opened on `page` in AppTest, as a user would reach it: app.py first, then the page."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    for key, value in (session_state or {}).items():
        at.session_state[key] = value
    at.run()
    if page != "pages/home.py":
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def force_app_navigation() -> None:
    """Make AppTest run pages through app.py's st.navigation, as a real server does.

    AppTest resets Streamlit's legacy "pages/ directory" flag before every run, so
    without this each switched-to page would run alone, without app.py and its sidebar.
    (The browser test covers the real server's deep-link path.)
    """
    from streamlit.runtime.pages_manager import PagesManager

    if getattr(PagesManager.__init__, "_ftlab", False):
        return
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    init._ftlab = True
    PagesManager.__init__ = init


force_app_navigation()
