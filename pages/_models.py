"""The Train page's model actions: send a registered model to Evaluate, and "Take your model with you" — a local
model of the registry as a .zip other tools load. Drawing only: core/training/export.py writes the export (never
over an existing file); core.training.providers keeps the session's provider credentials for Evaluate."""

from __future__ import annotations

import streamlit as st

from core.training import export, providers, registry


def model_actions(store, versions, all_jobs) -> None:
    trained = [v for v in versions if not v.baseline]
    if not trained:
        return
    c1, c2 = st.columns([3, 1])
    pick = c1.selectbox("Model to evaluate", [v.approach_spec for v in trained], key="train_send_pick",
                        format_func=lambda s: next(v.name for v in trained if v.approach_spec == s))
    if c2.button("Send to Evaluate", type="primary", icon=":material/monitoring:",
                 help="Opens Evaluate with this model and its baseline selected, on the same test split."):
        st.session_state["evaluate_specs"] = registry.evaluate_specs(trained, all_jobs, pick)
        providers.remember_credentials(st.session_state)  # Evaluate calls a provider's model with the same key
        st.switch_page("pages/evaluate.py")
    download_section(store, versions)


def download_section(store, versions) -> None:
    models = export.exportable(versions)
    if not models:
        return
    st.markdown("**Take your model with you** — download a model trained here in a form other tools load.")
    c1, c2, c3 = st.columns([2, 2, 1])
    job_id = c1.selectbox("Local model", list(models), format_func=models.get, key="export_pick")
    backend = next(v.backend for v in versions if v.job_id == job_id)
    fmt = c2.selectbox("Format", export.formats_for(backend), format_func=export.format_label, key="export_format",
                       help="merged and ollama hold the whole model (~1 GB): the CLI writes them to a folder: "
                            "`python -m core export JOB --format merged`.")
    if c3.button("Prepare download", icon=":material/archive:", key="export_go"):
        try:
            with st.spinner("Writing the export…"):
                st.session_state["export_made"] = export.export_model(
                    store, job_id, fmt, export.exports_dir(store), as_zip=True).to_dict()
        except (ValueError, FileNotFoundError, ImportError) as exc:
            st.error(str(exc))
    made = st.session_state.get("export_made")
    if made and made["job_id"] == job_id and made["format"] == fmt:
        for note in made["notes"]:
            st.caption(f"• {note}")
        with open(made["path"], "rb") as fh:
            st.download_button(f"Download {made['path'].rsplit('/', 1)[-1]}", fh, made["path"].rsplit("/", 1)[-1],
                               "application/zip", icon=":material/download:", key="export_download")
