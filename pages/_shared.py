"""What every page shares: the store, the current dataset, the endpoint settings, the sidebar.

Secrets: an API key typed in the sidebar lives in st.session_state only; keys
from st.secrets or the environment are read when needed. None is ever stored.
"""

from __future__ import annotations

import os

import streamlit as st

from core.data import dataset as datasets
from core.evaluation import preload
from core.tiers import endpoint_status, local_status
from core.config import load_settings
from core.endpoint import Endpoint, paid_actions_note, resolve_endpoint, with_azure
from core.public_mode import PublicMode
from core.store import Store


@st.cache_resource(show_spinner=False)
def _store(db_path: str) -> Store:
    s = Store(db_path)
    # A fresh workspace shows real evidence at once: the shipped sample results (local approaches only).
    preload.ensure_preloaded(s)
    return s


def ensure_app_navigation() -> None:
    """Route every page through app.py, even when a deep link is a fresh server's first request.

    Until the first st.navigation call in a process, Streamlit treats a `pages/` folder as a
    legacy multipage app: a deep link such as /decide runs pages/decide.py directly, without
    app.py (no sidebar status, file names as navigation). Turning that legacy mode off
    (Streamlit's own flag, which st.navigation also clears) and rerunning makes app.py run
    and route to the requested page. Every page calls this first.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def store() -> Store:
    # FTLAB_DATABASE_URL from secrets (Community Cloud) or the environment: PostgreSQL; else the workspace's SQLite.
    return _store(load_settings(database_url=_secret("FTLAB_DATABASE_URL")).database)


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
    ep = endpoint()
    return ep.api_key if ep else None


def base_url() -> str | None:
    ep = endpoint()
    return ep.base_url if ep else None


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
    """A stored dataset version (cached per workspace and hash)."""
    return datasets.load(_store(db_path), h)


def _try_unlock() -> None:
    """Checked in a callback, before the rerun draws the sidebar, so the status shows it at once."""
    attempt = st.session_state.get("owner_password") or ""
    st.session_state["owner_unlocked"] = public_mode().check_password(attempt)
    st.session_state["owner_password_wrong"] = bool(attempt) and not st.session_state["owner_unlocked"]
    st.session_state["owner_password"] = ""  # the password itself is not kept


def sidebar() -> None:
    s = store()
    mode, ep = public_mode(), endpoint()
    with st.sidebar:
        current_dataset()  # makes sure the sample is stored and a version is selected
        by_hash = {v["hash"]: v for v in datasets.list_versions(s)}
        if st.session_state["dataset_hash"] not in by_hash:  # e.g. the workspace was switched
            st.session_state["dataset_hash"] = next(iter(by_hash))
        st.selectbox(
            "Dataset version",
            options=list(by_hash),
            format_func=lambda h: f"{by_hash[h]['name']} · {h[:8]} · {by_hash[h]['examples']} ex.",
            key="dataset_hash",
            help="Every page works on this version. Edits create new versions; old ones stay in the store.",
        )
        st.caption("Backends")
        local = local_status()
        (st.success if local.ready else st.info)(local.detail, icon=":material/computer:")
        remote = endpoint_status(ep.api_key if ep else None, ep.base_url if ep else None)
        (st.success if remote.ready else st.info)(remote.detail, icon=":material/cloud:")
        with st.expander("Endpoint settings"):
            st.text_input(
                "Base URL", key="openai_base_url", placeholder="https://api.openai.com/v1",
                help="Any OpenAI-compatible server: Azure OpenAI, Ollama (http://localhost:11434/v1), vLLM, LM Studio …",
            )
            st.text_input(
                "API key", key="openai_api_key", type="password",
                help="Kept in this browser session only — never written to disk, logs or exports.",
            )
            if mode.enabled and not st.session_state.get("owner_unlocked"):
                st.text_input("Owner password", type="password", key="owner_password", on_change=_try_unlock,
                              help="Unlocks the owner's endpoint for this browser session.")
                if st.session_state.get("owner_password_wrong"):
                    st.error("Wrong password.")
        st.caption(f"Workspace: `{load_settings().workspace}`")
    note = paid_actions_note(mode, ep)
    if note:
        st.info(note, icon=":material/public:")
    _resume_jobs(s.path.as_posix())


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

    s = _store(db_path)
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
