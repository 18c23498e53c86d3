"""Train: launch, watch and keep fine-tuning jobs — SetFit or LoRA on this machine, or any OpenAI-compatible API.

The page only draws: jobs run in a detached worker (local) or are polled by a
thread of this process (hosted), and both write to the store, which this page
reads every two seconds while a job is live.
"""

from __future__ import annotations

import types
import typing

import altair as alt
import pandas as pd
import streamlit as st
from pydantic import ValidationError

from core.training import jobs
from core.tiers import missing_modules
from core.training import HOSTED, LOCAL_LORA, LOCAL_SETFIT, guards
from core.training.curves import loss_rows, overfitting_point
from core.training.options import OPTIONS
from pages import _shared as shared
from core import endpoint as endpoints

shared.ensure_app_navigation()

BACKENDS = {
    LOCAL_SETFIT: "Local · SetFit (MiniLM)",
    LOCAL_LORA: "Local · LoRA (Gemma 3 270M)",
    HOSTED: "Hosted · OpenAI-compatible API",
}
BACKEND_HELP = (
    "**SetFit**: contrastive fine-tuning of the embedded MiniLM sentence encoder plus a classification head — "
    "minutes on this CPU. **LoRA**: a small generative model trained on the very chat JSONL a hosted provider "
    "takes — the portable twin of hosted fine-tuning (~4 GB of memory). **Hosted**: OpenAI, Azure OpenAI or any "
    "server implementing the fine-tuning API; costs money, runs on the provider."
)
STATUS_ICON = {"pending": ":material/hourglass_empty:", "validating_files": ":material/fact_check:",
               "queued": ":material/schedule:", "running": ":material/autorenew:", "paused": ":material/pause:",
               "succeeded": ":material/check_circle:", "failed": ":material/error:",
               "cancelled": ":material/cancel:", "refused": ":material/block:", "interrupted": ":material/report:"}

st.title("Train")
st.markdown("Fine-tune on the current dataset version — on this machine or on a hosted API — and keep every "
            "job and model in one registry. A finished model goes straight to **Evaluate**.")
store = shared.store()
ds = shared.current_dataset()
st.caption(f"Working on **{ds.name}** · version `{ds.hash}`")


# --- who may spend money: decided in core/endpoint.py, credentials from the sidebar ------------------------

MODE = shared.public_mode()


def _endpoint():
    """This session's fine-tuning API, or None when hosted actions must stay disabled (public mode)."""
    return shared.training_endpoint(st.session_state.get("train_azure_endpoint"),
                                    st.session_state.get("train_api_version"))


jobs.reconcile_local(store)  # a worker that died since the last look shows as interrupted, with a Restart button


# --- option inputs generated from the typed options (field descriptions are the help texts) ------------

def _kinds(annotation) -> tuple[set, tuple]:
    """(plain types allowed, literal values allowed) of a field annotation."""
    plain, literals = set(), ()
    for arg in (typing.get_args(annotation) if isinstance(annotation, types.UnionType) or
                typing.get_origin(annotation) is typing.Union else (annotation,)):
        if typing.get_origin(arg) is typing.Literal:
            literals += typing.get_args(arg)
        else:
            plain.add(arg)
    return plain, literals


def option_inputs(backend: str) -> dict:
    values: dict = {}
    fields = OPTIONS[backend].model_fields
    cols = st.columns(3)
    for i, (name, field) in enumerate(fields.items()):
        col, key, label = cols[i % 3], f"opt_{backend}_{name}", name.replace("_", " ").capitalize()
        plain, literals = _kinds(field.annotation)
        default = field.default
        if plain == {bool}:
            values[name] = col.checkbox(label, value=default, help=field.description, key=key)
        elif literals and not plain - {type(None)}:
            values[name] = col.selectbox(label, literals, index=literals.index(default), help=field.description, key=key)
        elif literals or plain == {str}:  # "auto" or a number, or free text
            raw = col.text_input(label, value=str(default), help=field.description, key=key).strip()
            values[name] = raw if raw in literals or plain == {str} else _number(raw)
        else:
            is_int = int in plain
            values[name] = col.number_input(
                label, value=default, step=1 if is_int else (default / 2 if default else 0.1),
                format=None if is_int else "%g", key=key,
                help=field.description + (" Empty: automatic." if type(None) in plain else ""))
    return values


def _number(raw: str):
    try:
        return int(raw)
    except ValueError:
        try:
            return float(raw)
        except ValueError:
            return raw  # validation names the field


# --- 1 · launch -----------------------------------------------------------------------------------------------

st.subheader("Launch a job", divider="gray")
if MODE.enabled:
    st.caption(f"Public demo: local training is open to everyone (up to {MODE.max_local_train_examples} examples, "
               "a few minutes, one at a time); hosted fine-tuning needs your own API key or the owner's password "
               "in the sidebar.")

if "train_backend_next" in st.session_state:  # a "train locally instead" button asked for another backend
    st.session_state["train_backend"] = st.session_state.pop("train_backend_next")
backend = st.segmented_control("Backend", list(BACKENDS), format_func=BACKENDS.get, default=LOCAL_SETFIT,
                               key="train_backend", help=BACKEND_HELP) or LOCAL_SETFIT

backend_spec = backend
if backend == HOSTED:
    from core.catalog import load_catalog

    catalog = load_catalog(store=store)
    tunable = [m.id for m in catalog.fine_tunable(provider="openai")]
    c1, c2 = st.columns([2, 1])
    choice = c1.selectbox("Base model", tunable + ["other…"], key="train_base_model",
                          help="Models the catalog lists as accepting new fine-tuning jobs today (with their retirement "
                               "dates on the Decide page). Choose other… for a model of another compatible server.")
    base_model = c2.text_input("Model id", key="train_base_other", placeholder="e.g. my-vllm-model") \
        if choice == "other…" else choice
    with st.expander("Azure OpenAI"):
        st.text_input("Azure endpoint", key="train_azure_endpoint", placeholder="https://<resource>.openai.azure.com",
                      help="Set it to fine-tune on Azure OpenAI (the API key comes from the sidebar).")
        st.text_input("API version", key="train_api_version", placeholder="2025-04-01-preview")
    backend_spec = f"{HOSTED}:{base_model}" if base_model else ""

with st.expander("Hyperparameters", expanded=False):
    st.caption({LOCAL_SETFIT: "Defaults suit two CPU cores: steps are capped so that training takes minutes.",
                LOCAL_LORA: "Defaults from a measured sweep on this machine: r=8, learning rate 2e-3, 3 epochs.",
                HOSTED: "'auto' lets the provider choose from the file size."}[backend])
    option_values = option_inputs(backend)

plan = None
if backend_spec:
    from core.training.plan import make_plan
    from core.training.worker import models_dir

    try:
        plan = make_plan(backend_spec, ds, {k: v for k, v in option_values.items()}, models_dir(store))
    except ValidationError as exc:
        st.error("Check the hyperparameters: " + "; ".join(f"**{'.'.join(map(str, e['loc']))}**: {e['msg']}"
                                                          for e in exc.errors()), icon=":material/tune:")
    except ValueError as exc:
        st.error(str(exc))

if plan is not None:
    est = plan.estimate
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Estimated time", guards.duration(est.seconds))
    m2.metric("Estimated cost", f"${est.cost_usd:,.2f}" if plan.price_known or plan.is_local else "unknown")
    m3.metric("Training examples", f"{est.examples:,}")
    if est.steps is not None:
        m4.metric("Steps", f"{est.steps:,}")
    elif est.tokens is not None:
        m4.metric("Billed tokens", f"{est.tokens:,}")
    for note in est.notes:
        st.caption(f"• {note}")
    budget = st.number_input("Budget for this launch (US$)", min_value=0.0, value=None, step=1.0, key="train_budget",
                             help="Launches whose estimated cost is above it are refused. Empty: no budget.")
    running_local = sum(j.is_local for j in jobs.list_jobs(store, jobs.ACTIVE))
    endpoint = _endpoint() if not plan.is_local else None
    check = guards.check_launch(plan.backend, est, budget_usd=budget, price_known=plan.price_known, mode=MODE,
                                endpoint_ok=endpoint is not None, running_local_jobs=running_local)
    reasons = list(check.reasons)
    missing = missing_modules(plan.backend)
    if missing:
        reasons.append(f"Local training needs the local tier (`pip install -r requirements-local.txt`); "
                       f"missing here: {', '.join(missing)}.")
    for reason in reasons:
        st.error(reason, icon=":material/block:")
    if st.session_state.pop("train_reset_confirm", False):
        st.session_state["train_confirm"] = False
    confirmed = st.checkbox(f"I confirm: {check.confirm}", key="train_confirm", disabled=bool(reasons),
                            help="Every launch is confirmed with its estimate; the estimate is stored with the job.")
    if st.button("Launch", type="primary", icon=":material/rocket_launch:", disabled=bool(reasons) or not confirmed):
        from core.training import hosted
        from core.training.plan import launch

        st.session_state["train_reset_confirm"] = True
        try:
            with st.spinner("Validating, uploading and creating the job…" if not plan.is_local else "Starting…"):
                job = launch(store, plan, endpoint=endpoint)
        except hosted.InvalidTrainingFile as exc:
            st.error("Nothing was sent — the provider would refuse this file:\n\n"
                     + "\n".join(f"- {p}" for p in exc.problems[:20]), icon=":material/rule:")
            job = None
        if job is not None:
            st.session_state["train_watch"] = job.id
            if job.status in ("refused", "failed"):
                st.session_state["train_refused"] = job.id
            elif not job.is_local:
                hosted.ensure_polling(str(store.path), job.id, lambda e=endpoint: endpoints.client(e))
            st.rerun()

refused_id = st.session_state.get("train_refused")
if refused_id:
    refused = jobs.get(store, refused_id)
    st.error(f"**The provider did not start job `{refused.id}`** — {refused.error}", icon=":material/block:")
    b1, b2, b3 = st.columns([1, 1, 2])
    for col, alt_backend in ((b1, LOCAL_SETFIT), (b2, LOCAL_LORA)):
        if col.button(f"Train with {BACKENDS[alt_backend].split('· ')[1]} instead", key=f"instead_{alt_backend}",
                      help="Same dataset version, on this machine, no API cost."):
            st.session_state["train_backend_next"] = alt_backend
            st.session_state.pop("train_refused")
            st.rerun()
    if b3.button("Dismiss", key="dismiss_refusal"):
        st.session_state.pop("train_refused")
        st.rerun()


# --- 2 · watch ------------------------------------------------------------------------------------------------

def loss_chart(points: list[dict]) -> alt.LayerChart | None:
    rows = loss_rows(points)
    if not rows:
        return None
    data = pd.DataFrame(rows)
    lines = alt.Chart(data).mark_line(point=alt.OverlayMarkDef(size=18)).encode(
        x=alt.X("step:Q", title="training step"),
        y=alt.Y("loss:Q", title="loss", scale=alt.Scale(zero=False)),
        color=alt.Color("series:N", title=None, scale=alt.Scale(domain=["train", "validation", "validation (full)"],
                                                                range=["#4C78A8", "#F58518", "#E45756"])),
        tooltip=["step", "series", alt.Tooltip("loss:Q", format=".4f")],
    )
    turn = overfitting_point(points)
    if turn is None:
        return lines.properties(height=280)
    mark = pd.DataFrame([{"step": turn.step, "label": f"overfitting from step {turn.step}"}])
    rule = alt.Chart(mark).mark_rule(strokeDash=[4, 4], color="#E45756").encode(x="step:Q")
    text = alt.Chart(mark).mark_text(align="left", dx=4, dy=-110, color="#E45756").encode(x="step:Q", text="label:N")
    return (lines + rule + text).properties(height=280)


def hosted_client():
    endpoint = _endpoint()
    return (lambda: endpoints.client(endpoint)) if endpoint is not None else None


def job_panel(job_id: str) -> None:
    job = jobs.get(store, job_id)
    if job.backend == HOSTED and job.is_active:
        from core.training import hosted

        factory = hosted_client()
        if factory is None:
            st.warning("This hosted job is not being polled: no endpoint configured in this session.",
                       icon=":material/sync_problem:")
        elif not hosted.polling(str(store.path), job.id):
            hosted.ensure_polling(str(store.path), job.id, factory)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Status", job.status.replace("_", " "), help="pending → (validating files → queued →) running → "
              "succeeded | failed | cancelled | refused | interrupted")
    elapsed = job.seconds
    c2.metric("Elapsed", guards.duration(elapsed) if elapsed is not None else "—")
    if job.is_local and job.is_active and job.progress > 0.02 and elapsed:
        c3.metric("Time left (est.)", guards.duration(elapsed * (1 - job.progress) / job.progress))
    elif job.estimate:
        c3.metric("Estimated", guards.duration(job.estimate.get("seconds")))
    cost = job.cost_usd if job.cost_usd is not None else (job.estimate or {}).get("cost_usd")
    c4.metric("Cost" if job.cost_usd is not None else "Cost (estimated)", f"${cost:,.2f}" if cost is not None else "—")
    st.progress(job.progress, text=job.progress_note or job.status.replace("_", " "))
    if job.error:
        st.error(job.error, icon=STATUS_ICON.get(job.status))
    if job.status == "succeeded":
        st.success(f"Model **{job.model_name}** registered: `{job.model_ref}` — evaluate it as `{job.approach_spec}`",
                   icon=":material/check_circle:")
    points = jobs.metrics(store, job.id)
    chart = loss_chart(points)
    if chart is not None:
        st.altair_chart(chart, width="stretch")
        turn = overfitting_point(points)
        if turn is not None:
            st.caption(f"Validation loss was lowest at step {turn.step} ({turn.best_loss:.3f}) and ended "
                       f"{turn.rise:.0%} higher: later steps overfit. Fewer epochs would likely do as well.")
    elif job.is_active:
        st.caption("The loss curves appear with the first training steps.")
    events = [e for e in jobs.events(store, job.id) if e.kind != "metrics"]
    with st.expander(f"Events ({len(events)})", expanded=job.status in ("failed", "refused", "interrupted")):
        st.dataframe(pd.DataFrame([{"at": e.at, "kind": e.kind, "message": e.message} for e in reversed(events)]),
                     hide_index=True, width="stretch")
    d1, d2, a1, a2, a3 = st.columns(5)
    d1.download_button("Metrics CSV", pd.DataFrame(points).to_csv(index=False), f"{job.id}-metrics.csv", "text/csv",
                       disabled=not points, key=f"dl_metrics_{job.id}", icon=":material/download:")
    d2.download_button("Events CSV", pd.DataFrame([e.__dict__ for e in events]).to_csv(index=False),
                       f"{job.id}-events.csv", "text/csv", key=f"dl_events_{job.id}", icon=":material/download:")
    if job.is_active and a1.button("Cancel", key=f"cancel_{job.id}", icon=":material/cancel:"):
        _act(job, "cancel")
    if job.backend == HOSTED and job.status == "running" and a2.button("Pause", key=f"pause_{job.id}"):
        _act(job, "pause")
    if job.backend == HOSTED and job.status == "paused" and a2.button("Resume", key=f"resume_{job.id}"):
        _act(job, "resume")
    if job.is_local and job.status in ("interrupted", "failed", "cancelled") and \
            a3.button("Restart", key=f"restart_{job.id}", icon=":material/restart_alt:",
                      help="A new job with the same dataset version and hyperparameters."):
        from core.training.worker import restart

        st.session_state["train_watch"] = restart(store, job.id).id
        st.rerun()


def _act(job: jobs.Job, action: str) -> None:
    if job.is_local:
        jobs.request_cancel(store, job.id)
        st.toast(f"{job.id}: stopping at its next step")
        return
    from core.training import hosted

    factory = hosted_client()
    if factory is None:
        st.error("No endpoint in this session to reach the provider.")
        return
    try:
        getattr(hosted, action)(store, factory(), job.id)
    except RuntimeError as exc:
        st.error(str(exc))


st.subheader("Watch", divider="gray")
all_jobs = jobs.list_jobs(store)
if not all_jobs:
    st.info("No jobs yet. Launch one above — a SetFit job on the sample task takes a few minutes on this machine.",
            icon=":material/model_training:")
else:
    by_id = {j.id: j for j in all_jobs}
    if st.session_state.get("train_watch") not in by_id:
        st.session_state["train_watch"] = next((j.id for j in all_jobs if j.is_active), all_jobs[0].id)
    st.selectbox("Job", list(by_id), key="train_watch",
                 format_func=lambda i: f"{i} · {by_id[i].status} · {BACKENDS.get(by_id[i].backend, by_id[i].backend)}"
                                       f" · {by_id[i].base_model} · {by_id[i].created_at[:16].replace('T', ' ')}")
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
    table = pd.DataFrame([{
        "job": j.id, "status": j.status, "backend": BACKENDS.get(j.backend, j.backend), "base model": j.base_model,
        "dataset": (j.dataset_hash or "")[:8], "model": j.model_name or "", "cost $": j.cost_usd,
        "minutes": round(j.seconds / 60, 1) if j.seconds is not None else None,
        "created": j.created_at[:19].replace("T", " "), "hyperparameters": ", ".join(
            f"{k}={v}" for k, v in sorted(j.params.items()) if k not in ("endpoint", "training_file", "validation_file")),
    } for j in all_jobs])
    spent = sum(j.cost_usd or 0 for j in all_jobs)
    st.caption(f"{len(all_jobs)} jobs · ${spent:,.2f} spent on hosted fine-tuning")
    st.dataframe(table, hide_index=True, width="stretch")
    st.download_button("Registry CSV", table.to_csv(index=False), "ftlab-jobs.csv", "text/csv",
                       icon=":material/download:")

versions = jobs.models(store)
st.markdown("**Models** — every version stays; the baseline prompt is always there to roll back to.")
st.dataframe(pd.DataFrame([{
    "model": v.name, "approach spec": v.approach_spec, "version": v.version,
    "dataset": (v.dataset_hash or "")[:8], "job": v.job_id or "", "rollback": "baseline" if v.baseline else "",
} for v in versions]), hide_index=True, width="stretch")
trained = [v for v in versions if not v.baseline]
if trained:
    c1, c2 = st.columns([3, 1])
    pick = c1.selectbox("Model to evaluate", [v.approach_spec for v in trained], key="train_send_pick",
                        format_func=lambda s: next(v.name for v in trained if v.approach_spec == s))
    if c2.button("Send to Evaluate", type="primary", icon=":material/monitoring:",
                 help="Opens Evaluate with this model and its baseline selected, on the same test split."):
        job = jobs.get(store, next(v.job_id for v in trained if v.approach_spec == pick))
        st.session_state["evaluate_specs"] = [pick, job.rollback_spec]
        st.switch_page("pages/evaluate.py")
