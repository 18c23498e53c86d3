"""Fine-Tuning Lab — entrypoint: navigation and sidebar only. Pages draw; core decides."""

import streamlit as st

from core.backup import ArchiveError, describe
from core.data import dataset as datasets
from core.endpoint import paid_actions_note
from core.public_mode import remaining
from core.tiers import endpoint_status, local_status
from core import workspaces
from pages import _shared as shared

st.set_page_config(page_title="Fine-Tuning Lab", page_icon=":material/science:", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/decide.py", title="Decide", icon=":material/explore:"),
    st.Page("pages/prompts.py", title="Prompts", icon=":material/edit_note:"),
    st.Page("pages/dataset.py", title="Dataset", icon=":material/dataset:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/evaluate.py", title="Evaluate", icon=":material/monitoring:"),
]


def workspace_panel(mode) -> None:
    """Who works where: a visitor's scratch workspace and what is left of its quotas; the owner's backup,
    restore and publishing (owner only in public mode)."""
    left = remaining(mode, shared.usage(), owner=not shared.is_visitor())
    if left is not None:
        st.caption(f"Your scratch workspace: what you add is seen by you only, and deleted when you leave or after "
                   f"{mode.idle_minutes} idle minutes. Left this session:")
        st.caption("\n".join(f"- {k}: {v}" for k, v in left.items()))
        return
    s = shared.store()
    st.caption(f"Workspace: `{s.workspace}`" + (" — shared; you are the owner" if mode.enabled else ""))
    with st.expander("Backup and restore", icon=":material/backup:"):
        if mode.enabled:
            h = st.session_state.get("dataset_hash")
            if h and st.toggle("Published to visitors", value=workspaces.is_published(s, h), key=f"publish_{h}",
                               help="Visitors of the public URL see this version with its runs and prompts "
                                    "(read-only copies in their scratch workspace)."):
                workspaces.publish(s, h)
            elif h:
                workspaces.unpublish(s, h)
        st.download_button("Download a backup", lambda: workspaces.archive_bytes(s), file_name="ftlab-workspace.zip",
                           mime="application/zip", icon=":material/download:",
                           help="Every table of the notebook and the trained models' manifests (python -m core workspace export).")
        archive = st.file_uploader("Restore a backup", type=["zip"], key="restore_archive")
        fresh, here = st.columns(2)
        target = "fresh" if fresh.button("Into a fresh workspace", disabled=archive is None) else \
            "here" if here.button("Into this one", disabled=archive is None, help="Adds what this workspace lacks.") else None
        if target:
            try:
                into, result = workspaces.restore_bytes(archive.getvalue(), s if target == "here" else None,
                                                        parent=s.workspace.parent)
            except ArchiveError as exc:
                st.error(str(exc))
            else:
                st.success(describe(result).replace("\n", "  \n"))
                if target == "fresh":
                    st.info(f"Open it with `FTLAB_WORKSPACE={into.workspace} streamlit run app.py`, or import the "
                            "archive into your database with `python -m core workspace import`.")


def sidebar() -> None:
    s, mode, ep = shared.store(), shared.public_mode(), shared.endpoint()
    with st.sidebar:
        shared.current_dataset()  # makes sure the sample is stored and a version is selected
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
                st.text_input("Owner password", type="password", key="owner_password", on_change=shared.try_unlock,
                              help="Unlocks the owner's endpoint and the shared workspace for this browser session.")
                if st.session_state.get("owner_password_wrong"):
                    st.error("Wrong password.")
        workspace_panel(mode)
    note = paid_actions_note(mode, ep)
    if note:
        st.info(note, icon=":material/public:")
    shared.resume_jobs()


page = st.navigation(PAGES)
sidebar()
page.run()
