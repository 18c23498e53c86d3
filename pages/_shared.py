"""What every page shares: the store, the current dataset, the endpoint settings, quotas, the sidebar.

Secrets: an API key typed in the sidebar lives in st.session_state only; keys
from st.secrets or the environment are read when needed. None is ever stored.
In public mode a visitor's store() is their own scratch workspace (core/workspaces.py); the owner's is the shared one.
"""

from __future__ import annotations

import os

import streamlit as st

from core.data import dataset as datasets
from core.evaluation import preload
from core.config import load_settings
from core.endpoint import Endpoint, resolve_endpoint, with_azure
from core.public_mode import PublicMode, QuotaCheck, Usage, check_dataset, check_evaluation, check_training
from core.store import Store
from core.workspaces import ScratchRegistry, new_key


@st.cache_resource(show_spinner=False)
def _store(db_path: str) -> Store:
    s = Store(db_path)
    # A fresh workspace shows real evidence at once: the shipped sample results (local approaches only).
    preload.ensure_preloaded(s)
    return s


def ensure_app_navigation() -> None:
    """Route every page through app.py, even when a deep link is a fresh server's first request: until the first
    st.navigation call Streamlit treats pages/ as a legacy multipage app (a deep link would run the page without
    app.py). Turning that mode off (Streamlit's own flag) and rerunning routes through app.py. Pages call this first."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def shared_store() -> Store:
    # FTLAB_DATABASE_URL from secrets (Community Cloud) or the environment: PostgreSQL; else the workspace's SQLite.
    return _store(load_settings(database_url=_secret("FTLAB_DATABASE_URL")).database)


def store() -> Store:
    """This session's workspace: a public visitor's own scratch store, else the shared one."""
    return _scratch().store if is_visitor() else shared_store()


def is_visitor() -> bool:
    return public_mode().enabled and not st.session_state.get("owner_unlocked")


@st.cache_resource(show_spinner=False)
def registry(shared_path: str) -> ScratchRegistry:
    """The process's scratch workspaces of public visitors, over the shared store at this address."""
    return ScratchRegistry(_store(shared_path), idle_seconds=public_mode().idle_seconds)


def _scratch():
    reg = registry(shared_store().path.as_posix())
    reg.expire(_alive_sessions())  # idle ones, and those of sessions Streamlit has closed
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return reg.open(st.session_state.setdefault("scratch_key", new_key()), session=ctx.session_id if ctx else None)


def _alive_sessions() -> set[str] | None:
    """The ids of the sessions this Streamlit server still holds (None: unknown, e.g. under AppTest)."""
    from streamlit import runtime

    try:  # an internal API: if it moves, idle expiry still applies
        return {i.session.id for i in runtime.get_instance()._session_mgr.list_sessions()} if runtime.exists() else None
    except Exception:
        return None


def usage() -> Usage:
    return registry(shared_store().path.as_posix()).usage(_scratch().key) if is_visitor() else Usage()


def charge(**amounts: float) -> None:
    """Count work against this visitor session's quotas (core.public_mode.Usage fields)."""
    if is_visitor():
        registry(shared_store().path.as_posix()).charge(st.session_state["scratch_key"], **amounts)


def evaluation_quota(ds: datasets.Dataset, split: str, n_approaches: int) -> QuotaCheck:
    """Whether this session may evaluate n approaches on a split (core.public_mode.check_evaluation)."""
    n = sum(e.split == split for e in ds.examples) * n_approaches
    return check_evaluation(public_mode(), usage(), n, owner=not is_visitor())


def dataset_quota(n_bytes: int, n_rows: int) -> QuotaCheck:
    return check_dataset(public_mode(), n_bytes, n_rows, owner=not is_visitor())


def with_training_quota(check, plan):
    """A launch check (core.training.guards.LaunchCheck) refused too when a local training exceeds this
    visitor's quotas, or another session's local training is running (core.public_mode.check_training)."""
    from dataclasses import replace

    if not (plan.is_local and is_visitor()):
        return check
    running = registry(shared_store().path.as_posix()).running_local_jobs()
    quota = check_training(public_mode(), usage(), plan.estimate.examples, plan.estimate.seconds, running_local_jobs=running)
    return check if quota.allowed else replace(check, allowed=False, reasons=check.reasons + (quota.reason,))


def refused(check: QuotaCheck, where=st) -> bool:
    """Show why a quota refuses (True), or nothing (False)."""
    if not check.allowed:
        where.error(check.reason, icon=":material/block:")
    return not check.allowed


def _secret(name: str):
    try:
        return st.secrets.get(name) or None
    except Exception:  # no secrets.toml: Streamlit raises rather than returning nothing
        return None


def public_mode() -> PublicMode:
    return PublicMode.from_settings(_secret("public"))


def endpoint() -> Endpoint | None:
    """Where paid calls may go now (None: hosted actions stay disabled). See core/endpoint.py."""
    return resolve_endpoint(
        public_mode(),
        visitor_key=st.session_state.get("openai_api_key") or None,
        visitor_base_url=st.session_state.get("openai_base_url") or None,
        owner_key=_secret("OPENAI_API_KEY") or os.environ.get("OPENAI_API_KEY") or None,
        owner_base_url=_secret("OPENAI_BASE_URL") or load_settings().base_url,
        owner_unlocked=bool(st.session_state.get("owner_unlocked")),
    )


def training_endpoint(session_azure_endpoint: str | None, api_version: str | None) -> Endpoint | None:
    """The fine-tuning endpoint: this session's, with Azure OpenAI where typed here or configured by the owner."""
    return with_azure(endpoint(), session_azure_endpoint=session_azure_endpoint or None,
                      owner_azure_endpoint=_secret("AZURE_OPENAI_ENDPOINT"),
                      owner_azure_key=_secret("AZURE_OPENAI_API_KEY"),
                      api_version=api_version or _secret("OPENAI_API_VERSION"))


def api_key() -> str | None:
    return (ep := endpoint()) and ep.api_key or None


def base_url() -> str | None:
    return (ep := endpoint()) and ep.base_url or None


def max_upload_mb() -> int | None:
    """The upload cap for st.file_uploader(max_upload_size=…): lower on a public demo."""
    mode = public_mode()
    return mode.max_upload_mb if mode.enabled else None


def select_dataset(dataset_hash: str) -> None:
    """Make a (new) version the current one from the next run on (call st.rerun() after).

    The sidebar's selectbox owns the `dataset_hash` key and cannot be changed once drawn,
    so the choice waits in `dataset_hash_next` until `current_dataset()` applies it.
    """
    st.session_state["dataset_hash_next"] = dataset_hash


def current_dataset() -> datasets.Dataset:
    """The dataset version the pages work on; the bundled sample until the user picks another."""
    s = store()
    if "dataset_hash_next" in st.session_state:
        st.session_state["dataset_hash"] = st.session_state.pop("dataset_hash_next")
    h = st.session_state.get("dataset_hash")
    if h is None:
        h = datasets.save(s, datasets.load_sample())
        st.session_state["dataset_hash"] = h
    return load_version(s.path.as_posix(), h)


@st.cache_data(show_spinner=False, max_entries=16)
def load_version(db_path: str, h: str) -> datasets.Dataset:
    """A stored dataset version (cached per workspace and hash; db_path is this session's store's)."""
    return datasets.load(store(), h)


def try_unlock() -> None:
    """Checked in a callback, before the rerun draws the sidebar, so the status shows it at once."""
    attempt = st.session_state.get("owner_password") or ""
    st.session_state["owner_unlocked"] = public_mode().check_password(attempt)
    st.session_state["owner_password_wrong"] = bool(attempt) and not st.session_state["owner_unlocked"]
    st.session_state["owner_password"] = ""  # the password itself is not kept


def resume_jobs() -> list[str]:
    return _resume_jobs(shared_store().path.as_posix())


@st.cache_resource(show_spinner=False)
def _resume_jobs(db_path: str) -> list[str]:
    """Once per app process: unfinished fine-tuning jobs are picked up again — with the owner's configured
    endpoint, never in public mode (core/training/hosted.py: resume_on_start)."""
    from core.training.hosted import resume_on_start

    owner = Endpoint(api_key=_secret("OPENAI_API_KEY") or os.environ.get("OPENAI_API_KEY"),
                     base_url=_secret("OPENAI_BASE_URL") or load_settings().base_url)
    return resume_on_start(_store(db_path), owner, public_mode=public_mode().enabled)


def report(run_rows: list[dict], labels: list[str]):
    """The EvaluationReport of these runs (rows of runs.list_runs), cached until a run gains predictions."""
    stamp = tuple((r["id"], r["n_predictions"], r.get("n_errors")) for r in run_rows)
    return _report(store().path.as_posix(), stamp, tuple(labels))


@st.cache_data(show_spinner="Computing metrics and confidence intervals …", max_entries=32)
def _report(db_path: str, stamp: tuple, labels: tuple[str, ...]):
    from core.evaluation import report as reports
    from core.evaluation import runs

    s = store()  # db_path (this session's store's) keys the cache
    return reports.build(s, [runs.get(s, run_id) for run_id, *_ in stamp], list(labels))


def memo_buttons(container, ds: datasets.Dataset, run_ids: list[int], scenario=None, recommendation: str | None = None,
                 key: str = "memo") -> None:
    """"Export decision memo" as HTML and Markdown, rendered only when clicked (charts take a moment)."""
    from core.decision import memo

    if not run_ids:
        container.caption("The decision memo needs evaluation runs: run approaches on the Evaluate page.")
        return
    stem = f"decision-memo-{ds.hash[:8]}"

    def build(kind: str):
        m = memo.build(store(), ds, run_ids, scenario, recommendation=recommendation)
        return m.html if kind == "html" else m.markdown

    c1, c2 = container.columns(2)
    c1.download_button("Export decision memo (HTML)", lambda: build("html"), file_name=f"{stem}.html",
                       mime="text/html", key=f"{key}_html", type="primary", icon=":material/description:",
                       help="One page for the meeting: question, evidence with charts, break-even, risks, decision. "
                            "Every number links to the run it came from.")
    c2.download_button("Export decision memo (Markdown)", lambda: build("md"), file_name=f"{stem}.md",
                       mime="text/markdown", key=f"{key}_md")
