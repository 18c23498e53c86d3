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
def gemma_base(tmp_path_factory):
    """The Gemma 3 270M base model, converted from its GGUF package AT MOST ONCE per test session.

    The conversion (GGUF → dequantized safetensors) takes 30–65 s on two free cores and minutes under load,
    so every test that needs the base model — tests/test_gemma_backend.py, tests/test_train_lora.py, an
    export test, … — asks for this fixture instead of converting into its own workspace. It points
    $FTLAB_BASE_MODELS (core.training.lora_local.base_dir: the base shared by workspaces) at a session
    temporary folder for the rest of the session and yields that folder (it holds `gemma-3-270m/`); any
    workspace's `models_dir` then finds the base there. A $FTLAB_BASE_MODELS already set by the developer
    and holding a converted base is reused as is (no conversion at all). Skips, saying what is missing,
    when the local LLM tier is not installed.
    """
    from core.tiers import missing_modules
    from core.training import LOCAL_LORA

    missing = missing_modules(LOCAL_LORA)
    if missing:
        pytest.skip(f"the local LLM tier is not installed (missing {', '.join(missing)})")
    from core.training.lora_local import BASE_DIR_NAME, ensure_base

    preset = os.environ.get("FTLAB_BASE_MODELS")
    if preset and (Path(preset) / BASE_DIR_NAME / "model.safetensors").is_file():
        yield Path(preset)
        return
    root = tmp_path_factory.mktemp("gemma-base")
    os.environ["FTLAB_BASE_MODELS"] = str(root)
    try:
        ensure_base(root, on_message=lambda m: None)  # models_dir is ignored: $FTLAB_BASE_MODELS decides
        yield root
    finally:
        if preset is None:
            os.environ.pop("FTLAB_BASE_MODELS", None)
        else:
            os.environ["FTLAB_BASE_MODELS"] = preset


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
