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
def store(workspace, request, monkeypatch):
    """The workspace's store: SQLite; PostgreSQL for the whole run with FTLAB_TEST_STORE=postgresql."""
    from core.store import Store

    if os.environ.get("FTLAB_TEST_STORE") == "postgresql":
        url = request.getfixturevalue("pg_url")
        monkeypatch.setenv("FTLAB_DATABASE_URL", url)  # the CLI and pages of the test see the same database
        s = Store(url, workspace=workspace)
    else:
        s = Store(workspace / "lab.sqlite3")
    yield s
    s.close()


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server for the session (tests/postgres_server.py), or a skip that says what is missing."""
    from tests.postgres_server import APT_HINT, PostgresServer, find_bindir

    bindir = find_bindir()
    if bindir is None:
        pytest.skip(f"PostgreSQL tests skipped: no PostgreSQL server installed ('{APT_HINT}'; `make test` installs it as root)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("PostgreSQL tests skipped: psycopg is not installed (pip install -r requirements.txt)")
    server = PostgresServer(bindir).start()
    try:
        server.create_template()
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(postgres):
    """The URL of a fresh, migrated PostgreSQL database for this test."""
    url = postgres.new_database()
    yield url
    postgres.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, workspace, monkeypatch):
    """The store on each backend in turn; FTLAB_DATABASE_URL is set for the PostgreSQL one."""
    from core.store import Store

    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
        monkeypatch.setenv("FTLAB_DATABASE_URL", url)
        s = Store(url, workspace=workspace)
    else:
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
