"""What every page shares: the store, the current dataset, the endpoint settings, the sidebar.

Secrets: an API key typed in the sidebar lives in st.session_state only; keys
from st.secrets or the environment are read when needed. None is ever stored.
"""

from __future__ import annotations

import os

import streamlit as st

from core import dataset as datasets
from core.backends.status import endpoint_status, local_status
from core.config import load_settings
from core.store import Store


@st.cache_resource(show_spinner=False)
def _store(db_path: str) -> Store:
    return Store(db_path)


def store() -> Store:
    return _store(str(load_settings().db_path))


def _secret(name: str) -> str | None:
    try:
        return st.secrets.get(name) or None
    except Exception:  # no secrets.toml: Streamlit raises rather than returning nothing
        return None


def api_key() -> str | None:
    return st.session_state.get("openai_api_key") or _secret("OPENAI_API_KEY") or os.environ.get("OPENAI_API_KEY") or None


def base_url() -> str | None:
    return st.session_state.get("openai_base_url") or _secret("OPENAI_BASE_URL") or load_settings().base_url


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
    return _load_dataset(s.path.as_posix(), h)


@st.cache_data(show_spinner=False, max_entries=16)
def _load_dataset(db_path: str, h: str) -> datasets.Dataset:
    return datasets.load(_store(db_path), h)


def sidebar() -> None:
    s = store()
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
        remote = endpoint_status(api_key(), base_url())
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
        st.caption(f"Workspace: `{load_settings().workspace}`")
