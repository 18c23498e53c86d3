"""Train: launch, watch and keep fine-tuning jobs — SetFit or LoRA on this machine, or a hosted provider. The page
only draws: jobs run in a detached worker (local) or are polled by this process (hosted) and write to the store."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from core.training import HOSTED, LOCAL_LORA, LOCAL_SETFIT, control, form, guards, hosted, jobs, providers, registry
from core.training.charts import loss_chart
from core.training.curves import overfitting_point
from pages import _shared as shared
from pages._models import model_actions

shared.ensure_app_navigation()

st.title("Train")
st.markdown("Fine-tune on the current dataset version — on this machine or on a hosted API — and keep every "
            "job and model in one registry. A finished model goes straight to **Evaluate**.")
store = shared.store()
ds = shared.current_dataset()
st.caption(f"Working on **{ds.name}** · version `{ds.hash}`")

MODE = shared.public_mode()  # who may spend money: decided in core/endpoint.py, credentials from the sidebar


def _endpoint(name: str):
    """This session's endpoint for a provider (typed here, else the owner's secrets / environment; never stored),
    or None when hosted actions must stay disabled (public mode)."""
    if name == HOSTED:
        return shared.training_endpoint(st.session_state.get("train_azure_endpoint"),
                                        st.session_state.get("train_api_version"))
    return providers.session_credentials(name, st.session_state, st.secrets, public=MODE.enabled)


def hosted_client(name: str):
    return hosted.client_factory(endpoint) if (endpoint := _endpoint(name)) is not None else None


jobs.reconcile_local(store)  # a worker that died since the last look shows as interrupted, with a Restart button


def option_inputs(backend: str) -> dict:
    """Inputs generated from the typed options (core/training/form.py); field descriptions are the help texts."""
    values: dict = {}
    cols = st.columns(3)
    for i, f in enumerate(form.option_inputs(backend)):
        col, key = cols[i % 3], f"opt_{backend}_{f.name}"
        if f.widget == "checkbox":
            values[f.name] = col.checkbox(f.label, value=f.default, help=f.help, key=key)
        elif f.widget == "select":
            values[f.name] = col.selectbox(f.label, f.choices, index=f.choices.index(f.default), help=f.help, key=key)
        elif f.widget == "text":
            values[f.name] = f.parse(col.text_input(f.label, value=f.default, help=f.help, key=key))
        else:
            values[f.name] = col.number_input(f.label, value=f.default, step=f.step, format=f.format, key=key, help=f.help)
    return values


# --- 1 · launch -----------------------------------------------------------------------------------------------

st.subheader("Launch a job", divider="gray")
if guards.public_mode_note(MODE):
    st.caption(guards.public_mode_note(MODE))

if "train_backend_next" in st.session_state:  # a "train locally instead" button asked for another backend
    st.session_state["train_backend"] = st.session_state.pop("train_backend_next")
backend = st.segmented_control("Backend", list(registry.BACKEND_NAMES), format_func=registry.backend_name,
                               default=LOCAL_SETFIT, key="train_backend", help=registry.BACKEND_HELP) or LOCAL_SETFIT

backend_spec = backend
if providers.is_provider(backend):
    from core.catalog import load_catalog
    prov = providers.get(backend)
    st.caption(registry.provider_caption(backend))
    tunable = [m.id for m in load_catalog(store=store).fine_tunable(provider=prov.catalog_provider)]
    c1, c2 = st.columns([2, 1])
    choice = c1.selectbox("Base model", tunable + ["other…"], key=f"train_base_model_{backend}",
                          help="Catalog models open to new fine-tuning jobs today; other…: any model of this provider.")
    base_model = c2.text_input("Model id", key=f"train_base_other_{backend}", placeholder="e.g. my-vllm-model") \
        if choice == "other…" else choice
    with st.expander("Azure OpenAI" if backend == HOSTED else f"{prov.label} credentials"):
        if backend == HOSTED:
            st.text_input("Azure endpoint", key="train_azure_endpoint", placeholder="https://<resource>.openai.azure.com",
                          help="Set it to fine-tune on Azure OpenAI (the API key comes from the sidebar).")
            st.text_input("API version", key="train_api_version", placeholder="2025-04-01-preview")
        for cred in prov.credentials_needed if backend != HOSTED else ():
            st.text_input(cred.label, key=providers.session_key(cred), type="password" if cred.secret else "default",
                          help=f"Kept in this browser session only. Empty: ${cred.env} from the secrets or environment.")
    backend_spec = f"{backend}:{base_model}" if base_model else ""

with st.expander("Hyperparameters", expanded=False):
    st.caption(registry.DEFAULTS_NOTE[backend])
    option_values = option_inputs(backend)

plan = None
if backend_spec:
    from core.training.plan import make_plan, preflight
    from core.training.worker import models_dir

    try:
        plan = make_plan(backend_spec, ds, option_values, models_dir(store))
    except ValidationError as exc:
        st.error("Check the hyperparameters: " + form.refused_fields(exc), icon=":material/tune:")
    except ValueError as exc:
        st.error(str(exc))

if plan is not None:
    for col, (label, value) in zip(st.columns(4), registry.estimate_figures(plan.estimate, plan.price_known or plan.is_local)):
        col.metric(label, value)
    for note in plan.estimate.notes:
        st.caption(f"• {note}")
    budget = st.number_input("Budget for this launch (US$)", min_value=0.0, value=None, step=1.0, key="train_budget",
                             help="Launches whose estimated cost is above it are refused. Empty: no budget.")
    endpoint = _endpoint(plan.backend) if not plan.is_local else None
    check = shared.with_training_quota(preflight(store, plan, budget_usd=budget, mode=MODE,
                                                  endpoint_ok=endpoint is not None), plan)
    for reason in check.reasons:
        st.error(reason, icon=":material/block:")
    if st.session_state.pop("train_reset_confirm", False):
        st.session_state["train_confirm"] = False
    confirmed = st.checkbox(f"I confirm: {check.confirm}", key="train_confirm", disabled=not check.allowed,
                            help="Every launch is confirmed with its estimate; the estimate is stored with the job.")
    if st.button("Launch", type="primary", icon=":material/rocket_launch:", disabled=not (check.allowed and confirmed)):
        from core.training.plan import launch_here

        st.session_state["train_reset_confirm"] = True
        try:
            with st.spinner("Validating, uploading and creating the job…" if not plan.is_local else "Starting…"):
                job = launch_here(store, plan, endpoint)
        except hosted.InvalidTrainingFile as exc:
            st.error("Nothing was sent — the provider would refuse this file:\n\n"
                     + "\n".join(f"- {p}" for p in exc.problems[:20]), icon=":material/rule:")
        else:
            st.session_state["train_watch"] = job.id
            if job.status in ("refused", "failed"):
                st.session_state["train_refused"] = job.id
            st.rerun()

refused_id = st.session_state.get("train_refused")
if refused_id:
    refused = jobs.get(store, refused_id)
    st.error(f"**The provider did not start job `{refused.id}`** — {refused.error}", icon=":material/block:")
    b1, b2, b3 = st.columns([1, 1, 2])
    for col, alt_backend in ((b1, LOCAL_SETFIT), (b2, LOCAL_LORA)):
        if col.button(f"Train with {registry.backend_name(alt_backend).split('· ')[1]} instead", key=f"instead_{alt_backend}",
                      help="Same dataset version, on this machine, no API cost."):
            st.session_state["train_backend_next"] = alt_backend
            st.session_state.pop("train_refused")
            st.rerun()
    if b3.button("Dismiss", key="dismiss_refusal"):
        st.session_state.pop("train_refused")
        st.rerun()


# --- 2 · watch ------------------------------------------------------------------------------------------------

def job_panel(job_id: str) -> None:
    job = jobs.get(store, job_id)
    if not job.is_local and job.is_active:
        factory = hosted_client(job.backend)
        if factory is None:
            st.warning("This hosted job is not being polled: no endpoint configured in this session.",
                       icon=":material/sync_problem:")
        else:  # once per job and process: reruns find the thread still running
            hosted.ensure_polling(str(store.path), job.id, factory)
    for col, figure in zip(st.columns(4), registry.job_figures(job)):
        if figure is not None:
            col.metric(figure[0], figure[1], help=figure[2])
    st.progress(job.progress, text=job.progress_note or job.status.replace("_", " "))
    if job.error:
        st.error(job.error, icon=registry.STATUS_ICON.get(job.status))
    if job.status == "succeeded":
        st.success(f"Model **{job.model_name}** registered: `{job.model_ref}` — evaluate it as `{job.approach_spec}`. "
                   + (registry.model_note(job) or ""), icon=":material/check_circle:")
    points = jobs.metrics(store, job.id)
    chart = loss_chart(points)
    if chart is not None:
        st.altair_chart(chart, width="stretch")
        if (turn := overfitting_point(points)) is not None:
            st.caption(turn.advice)
    elif job.is_active:
        st.caption("The loss curves appear with the first training steps.")
    events = [e for e in jobs.events(store, job.id) if e.kind != "metrics"]
    with st.expander(f"Events ({len(events)})", expanded=job.status in ("failed", "refused", "interrupted")):
        st.dataframe(pd.DataFrame(registry.event_rows(events)), hide_index=True, width="stretch")
    d1, d2, *buttons = st.columns(5)
    d1.download_button("Metrics CSV", pd.DataFrame(points).to_csv(index=False), f"{job.id}-metrics.csv", "text/csv",
                       disabled=not points, key=f"dl_metrics_{job.id}", icon=":material/download:")
    d2.download_button("Events CSV", pd.DataFrame([e.__dict__ for e in events]).to_csv(index=False),
                       f"{job.id}-events.csv", "text/csv", key=f"dl_events_{job.id}", icon=":material/download:")
    for action in control.actions(job):
        column, label, icon, help_ = control.BUTTONS[action]
        if buttons[column].button(label, key=f"{action}_{job.id}", icon=icon, help=help_):
            try:
                watched = control.act(store, job, action, None if job.is_local else hosted_client(job.backend))
            except RuntimeError as exc:
                st.error(str(exc))
                continue
            if action == "restart":
                st.session_state["train_watch"] = watched.id
                st.rerun()
            elif job.is_local:
                st.toast(f"{job.id}: stopping at its next step")


st.subheader("Watch", divider="gray")
all_jobs = jobs.list_jobs(store)
if not all_jobs:
    st.info("No jobs yet. Launch one above — a SetFit job on the sample task takes a few minutes on this machine.",
            icon=":material/model_training:")
else:
    by_id = {j.id: j for j in all_jobs}
    if st.session_state.get("train_watch") not in by_id:
        st.session_state["train_watch"] = registry.default_watch(all_jobs)
    st.selectbox("Job", list(by_id), key="train_watch", format_func=lambda i: registry.job_label(by_id[i]))
    watched = by_id[st.session_state["train_watch"]]

    def live(job_id: str, was_active: bool) -> None:
        job_panel(job_id)
        if was_active and not jobs.get(store, job_id).is_active:
            st.rerun()  # finished: redraw the whole page (registry, no more auto-refresh)

    # Only a live job refreshes itself (every 2 s); a finished one is drawn once.
    st.fragment(live, run_every=2 if watched.is_active else None)(watched.id, watched.is_active)


# --- 3 · registry -----------------------------------------------------------------------------------------------

st.subheader("Registry", divider="gray")
if all_jobs:
    table = pd.DataFrame(registry.registry_rows(all_jobs))
    st.caption(f"{len(all_jobs)} jobs · ${registry.spent_usd(all_jobs):,.2f} spent on hosted fine-tuning")
    st.dataframe(table, hide_index=True, width="stretch")
    st.download_button("Registry CSV", table.to_csv(index=False), "ftlab-jobs.csv", "text/csv",
                       icon=":material/download:")

versions = jobs.models(store)
st.markdown("**Models** — every version stays; the baseline prompt is always there to roll back to.")
st.dataframe(pd.DataFrame(registry.model_rows(versions)), hide_index=True, width="stretch")
model_actions(store, versions, all_jobs)  # Send to Evaluate; download a local model (pages/_models.py)
