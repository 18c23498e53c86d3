"""Decide: answer a short questionnaire, see which approach to try and why, then drag the call volume to see when fine-tuning pays back."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import streamlit as st

from core import catalog as cat
from core import economics as eco
from core.decision import charts
from core.evaluation import runs
from core.decision.questionnaire import CHANGES_OFTEN, Questionnaire, flow_dot, recommend
from core.decision.evidence import load_evidence
from core.tokens import count_tokens
from pages import _shared as shared

shared.ensure_app_navigation()

FIELD = Questionnaire.model_fields  # field descriptions double as help text
DEFAULT_MODEL = "gpt-4o-mini-2024-07-18"
TODAY = dt.date.today()

st.title("Decide")
st.markdown(
    "Answer a short questionnaire about your task and see which approach to try — prompting, RAG, fine-tuning "
    "or a combination — with the reasons, then drag the call volume to see the day fine-tuning pays back and "
    "whether that comes before the base model retires."
)
store = shared.store()
try:
    ds = shared.current_dataset()
except (OSError, ValueError, KeyError) as exc:  # the page still works on typed-in numbers without a dataset
    ds = None
    st.warning(f"No dataset could be loaded ({exc}); token counts below are your own figures.")
else:
    st.caption(f"Working on **{ds.name}** · version `{ds.hash}`")

try:
    catalog = cat.load_catalog(store=store)
except cat.CatalogError as exc:
    st.error(f"Your custom catalog rows are invalid, so only the bundled catalog is used: {exc}")
    catalog = cat.load_bundled()


@st.cache_data(show_spinner=False, max_entries=32)
def _profile(dataset_hash: str | None, system_prompt: str, model: str) -> eco.TokenProfile | None:
    if ds is None:
        return None
    labelled = ds.labelled
    if not labelled:
        return None
    train = [e for e in ds.split("train") if e.label] or labelled
    return eco.token_profile(system_prompt, [e.text for e in labelled], [e.label for e in labelled], model,
                             [e.text for e in train], [e.label for e in train])


# --- 0 · evidence from measured runs ------------------------------------------------------------

evidence = load_evidence(store, ds.hash if ds else None)
EVIDENCE_KEYS = {  # evidence field -> widget key
    "prompt_tokens": "prompt_tokens", "finetuned_prompt_tokens": "finetuned_prompt_tokens",
    "rag_prompt_tokens": "rag_prompt_tokens", "output_tokens": "output_tokens",
    "quality_gap_points": "q_gap", "prompted_latency_ms": "q_prompted_latency",
}


def _fill_from_evidence() -> None:
    sources = {}
    for name, measured in evidence.filled().items():
        st.session_state[EVIDENCE_KEYS[name]] = round(float(measured.value), 1)
        sources[EVIDENCE_KEYS[name]] = measured
    st.session_state["evidence_sources"] = sources


def _evidence_caption(key: str) -> None:
    """Say which run a number came from, as long as the widget still holds the measured value."""
    measured = st.session_state.get("evidence_sources", {}).get(key)
    if measured is not None and st.session_state.get(key) == round(float(measured.value), 1):
        st.caption(f":material/straighten: measured: {measured.source}")


if evidence.filled():
    with st.container(border=True):
        st.markdown(f"**Evidence mode** · {len(evidence.runs)} evaluation run(s) of this dataset are in the store.")
        st.button("Fill token counts, accuracy gap and latency from measured runs", on_click=_fill_from_evidence,
                  key="use_evidence", type="primary",
                  help="Replaces the guesses below with figures from Evaluate runs; each filled field names its run.")
        with st.expander("Runs used as evidence"):
            st.dataframe(pd.DataFrame([{
                "run": r.id, "approach": r.approach, "family": r.family, "split": r.split, "n": r.n,
                "accuracy": r.accuracy, "input tokens": r.input_tokens, "output tokens": r.output_tokens,
                "latency p50 ms": r.latency_p50_ms, "cost/call $": r.cost_per_call, "created": r.created_at,
            } for r in evidence.runs]), hide_index=True)
else:
    st.info("No evaluation runs in the store yet: the figures below are estimates from the task's prompt and "
            "examples. Run approaches on **Evaluate** and come back to fill them from measurements.", icon=":material/straighten:")

# --- 1 · the questionnaire -----------------------------------------------------------------------

st.header("1 · Your task")
left, right = st.columns(2)
with left:
    need = st.radio("What does the model lack?", ["behaviour", "knowledge", "both"], key="q_need", horizontal=True,
                    help=FIELD["need"].description)
    changes = st.select_slider("How often does the underlying data change?", ["never", "yearly", "monthly", "weekly", "daily"],
                               value="monthly", key="q_changes", help=FIELD["data_changes"].description)
    n_labelled = len(ds.labelled) if ds else 0
    examples = st.number_input("Labelled examples", min_value=0, value=n_labelled, step=10, key="q_examples",
                               help=FIELD["labelled_examples"].description)
    fmt = st.checkbox("Outputs must follow a strict format or style", key="q_format", help=FIELD["consistent_format"].description)
    small = st.checkbox("A small model must match a large one", key="q_small", help=FIELD["small_must_match_large"].description)
    pii = st.checkbox("Training data contains personal data (PII)", key="q_pii", help=FIELD["pii_in_data"].description)
with right:
    budget = st.number_input("Latency budget per call (ms)", min_value=1.0, value=None, step=50.0, key="q_latency",
                             placeholder="no constraint", help=FIELD["latency_budget_ms"].description)
    prompted_latency = st.number_input("Prompted approach's latency (ms)", min_value=1.0, value=None, step=50.0,
                                       key="q_prompted_latency", placeholder="not measured",
                                       help=FIELD["prompted_latency_ms"].description)
    _evidence_caption("q_prompted_latency")
    gap = st.number_input("Quality gap of the best prompt (accuracy points)", min_value=-100.0, max_value=100.0, value=None,
                          step=1.0, key="q_gap", placeholder="not measured", help=FIELD["quality_gap_points"].description)
    _evidence_caption("q_gap")
    org_open = st.checkbox("My organisation can still start hosted fine-tuning jobs", value=True, key="q_org_open",
                           help="OpenAI refuses organisations that never fine-tuned (since 2026-05-07) and takes no new "
                                "jobs from anyone after 2027-01-06. The chosen model's own dates are applied as well.")

default_prompt = ds.task.system_prompt() if ds else ""
system_prompt = st.text_area("System prompt of the prompted approach", value=default_prompt, height=150, key="system_prompt",
                             help="Rendered from the task's label guidelines; edit it or paste your own. Its tokens are "
                                  "counted exactly with the chosen model's tokenizer.")

# --- 3 · economics inputs (drawn below the recommendation; needed before it) ---------------------

rec_box = st.container()
st.header("3 · Economics")
ids = catalog.ids()
c1, c2 = st.columns([2, 1])
model_id = c1.selectbox("Model", ids, index=ids.index(DEFAULT_MODEL) if DEFAULT_MODEL in ids else 0, key="decide_model",
                        format_func=lambda i: f"{catalog.get(i).display_name} · {i}",
                        help="Prices, tokenizer and retirement dates come from the model catalog (section 4).")
horizon = c2.selectbox("Horizon (days)", [30, 90, 180, 365, 730], index=3, key="horizon",
                       help="Total cost of ownership is summed over this many days, re-training when the base model retires.")
info = catalog.get(model_id)
calls = st.select_slider(
    "Calls per day", options=list(eco.CALL_VOLUME_STEPS), value=10_000, key="calls_per_day",
    format_func=lambda v: f"{v:,}", help="Log scale from 10 to 10,000,000 calls a day; charts update as you drag.",
)

system_tokens = count_tokens(system_prompt, model_id) if system_prompt else 0
profile = _profile(ds.hash if ds else None, system_prompt, model_id)

with st.expander("Token counts per call and training file", expanded=False):
    st.caption(
        f"The system prompt above is **{system_tokens:,} tokens** ({info.encoding}). Defaults are counted from the "
        "task's prompt and examples; fill them from measured runs when you have them."
    )
    t1, t2, t3, t4 = st.columns(4)

    def _num(col, label, key, default, help_):
        with col:
            value = st.number_input(label, min_value=0.0, value=float(round(default, 1)), step=1.0, key=key, help=help_)
            _evidence_caption(key)
        return value

    prompt_tokens = _num(t1, "Prompted: input tokens", "prompt_tokens", profile.prompt_tokens if profile else system_tokens + 60,
                         "System prompt + ticket + chat framing, per call.")
    ft_tokens = _num(t2, "Fine-tuned: input tokens", "finetuned_prompt_tokens", profile.finetuned_prompt_tokens if profile else 60,
                     "The ticket alone: a fine-tune needs no long instruction.")
    rag_tokens = _num(t3, "RAG: input tokens", "rag_prompt_tokens", profile.rag_prompt_tokens if profile else system_tokens + 600,
                      "The prompt plus 8 retrieved labelled examples.")
    out_tokens = _num(t4, "Output tokens", "output_tokens", profile.output_tokens if profile else 3, "The label, per call.")
    t5, t6, t7 = st.columns(3)
    train_examples = int(t5.number_input("Training examples", min_value=1, value=max(1, profile.training_examples if profile else 100),
                                         key="train_examples", help="Examples in the training file."))
    train_tokens = t6.number_input("Training file tokens (one epoch)", min_value=0, value=int(profile.training_tokens if profile else 10_000),
                                   step=1000, key="training_tokens", help="Billed once per epoch.")
    epochs = int(t7.number_input("Epochs", min_value=1, max_value=25, value=eco.default_epochs(train_examples), key="epochs",
                                 help="Default: OpenAI's rule — 3, changed so examples × epochs stays within 100–25,000."))
    batch = st.checkbox("Batch API (inference at the batch discount)", key="batch")

scenario = eco.Scenario(model_id, calls, prompt_tokens, ft_tokens, out_tokens, train_tokens, epochs=epochs,
                        rag_prompt_tokens=rag_tokens, batch=batch, horizon_days=horizon)
comparison = eco.compare(info, scenario, start=TODAY)
money = lambda v: "—" if v is None else f"${v:,.2f}"  # noqa: E731
m1, m2, m3, m4 = st.columns(4)
m1.metric("Prompted baseline / day", money(comparison.baseline_cost_per_day))
m2.metric("Fine-tuned / day", money(comparison.finetuned_cost_per_day),
          delta=None if comparison.finetuned_cost_per_day is None else
          f"{comparison.finetuned_cost_per_day - comparison.baseline_cost_per_day:+,.2f} $/day", delta_color="inverse")
m3.metric("Training (one-time)", money(comparison.training_cost),
          help=f"{train_tokens:,} tokens × {epochs} epochs × ${info.training_per_1m or 0:g}/1M")
m4.metric("Break-even", "never" if comparison.break_even_days is None else f"{comparison.break_even_days:,.1f} days",
          help="Days until training plus fine-tuned calls cost no more than prompting.")
for warning in comparison.warnings:
    st.warning(warning, icon=":material/schedule:")
if comparison.retires_before_break_even is False:
    st.success(f"Pays back on {comparison.break_even_date}, before {model_id} retires on {comparison.retires}.", icon=":material/check_circle:")
if comparison.min_calls_per_day_before_retirement is not None:
    st.caption(f"To pay back before {model_id} retires ({comparison.retires}) the fine-tune needs at least "
               f"**{comparison.min_calls_per_day_before_retirement:,.0f} calls/day** at these token counts.")

# --- 2 · the recommendation (drawn in its place above the economics) -------------------------------

q = Questionnaire(
    need=need, data_changes=changes, labelled_examples=int(examples), system_prompt_tokens=system_tokens,
    calls_per_day=calls, latency_budget_ms=budget, prompted_latency_ms=prompted_latency, quality_gap_points=gap,
    consistent_format=fmt, small_must_match_large=small, pii_in_data=pii,
    hosted_fine_tuning_open=org_open and info.can_start_jobs(TODAY),
    pays_back_before_retirement=None if comparison.retires_before_break_even is None else not comparison.retires_before_break_even,
)
decision = recommend(q)
with rec_box:
    st.header("2 · Recommendation")
    recs = decision.recommendations
    rec_col, flow_col = st.columns(2)
    for rec in recs:
        badge = {"baseline": "BASELINE", "recommended": "RECOMMENDED", "next step": "NEXT STEP"}[rec.role]
        box = rec_col.container(border=True)
        box.markdown(f"**{rec.title}** · :blue-badge[{badge}]")
        for reason, rule in zip(rec.reasons, rec.rules):
            box.markdown(f"- {reason} `{rule}`")
    for approach, why in decision.not_recommended.items():
        rec_col.markdown(f":material/block: **Not {approach}**: {why}")
    if changes in CHANGES_OFTEN and any(r.approach.startswith("fine-tune") for r in recs):
        rec_col.caption("The data changes often: budget a re-training per change in the costs below.")
    flow_col.graphviz_chart(flow_dot(decision), width="stretch")
    flow_col.caption("The decision flow: diamonds are questions, boxes are outcomes; your answers' path is highlighted in blue.")
    rec_col.download_button("Download the recommendation (JSON)", json.dumps({"answers": q.model_dump(), **decision.to_dict()}, indent=2),
                       file_name="decision.json", mime="application/json", key="dl_decision")

# --- 3 · charts --------------------------------------------------------------------------------

costs = eco.approach_costs(info, scenario)
series = eco.cumulative_series(costs, calls, horizon, tuple(comparison.retraining_days), TODAY)
st.subheader("Cumulative cost")
st.altair_chart(charts.cumulative_chart(series, comparison, TODAY, model_id), width="stretch")
if comparison.retraining_days:
    st.caption(f"The step on day {comparison.retraining_days[0]} is re-training on a successor when {model_id} retires "
               "(assumed to cost what this model costs). Total over the horizon: "
               + ", ".join(f"{k} ${v:,.2f}" for k, v in comparison.tco.items()) + ".")
b1, b2 = st.columns(2)
with b1:
    st.subheader("Cost per 1,000 calls")
    rows = eco.cost_per_1k(costs)
    local = next((m for m in catalog if m.provider == "local"), None)
    if local is not None:
        rows.append({"approach": "local", "usd_per_1k_calls": 0.0})
        st.caption(f"local = {local.display_name}: $0 per call, {local.latency_ms or '?'} ms ({local.latency_note or local.source}).")
    st.altair_chart(charts.cost_per_1k_chart(rows), width="stretch")
with b2:
    st.subheader("Break-even vs call volume")
    if "fine-tuned" in costs:
        curve = eco.break_even_curve(costs["prompt"], costs["fine-tuned"])
        st.altair_chart(charts.sensitivity_chart(curve, calls, eco.days_until(info.retires, TODAY)), width="stretch")
        st.caption("Dashed black: your volume. Dashed red: days until the base model retires — below it the fine-tune "
                   "pays back in time. Volumes where it never pays back have no point.")
    else:
        st.info(f"{model_id} has no fine-tuning prices: nothing to break even against.")
memo_runs = [r["id"] for r in runs.list_runs(shared.store(), ds.hash, "test") if r["n_predictions"]][-8:] if ds else []
shared.memo_buttons(st, ds, memo_runs, scenario, key="memo_decide",
                    recommendation="Recommended by the decision framework: "
                    + "; ".join(f"{r.title} ({', '.join(r.rules)})" for r in decision.recommendations) + ".")
d1, d2 = st.columns(2)
d1.download_button("Download break-even (JSON)", json.dumps(comparison.to_dict(), indent=2), file_name=f"breakeven-{model_id}.json",
                   mime="application/json", key="dl_breakeven")
d2.download_button("Download cumulative cost (CSV)", pd.DataFrame(series).to_csv(index=False), file_name=f"cumulative-cost-{model_id}.csv",
                   mime="text/csv", key="dl_series")

# --- 4 · the model catalog -------------------------------------------------------------------------

st.header("4 · Model catalog")
st.caption("Prices in US$ per 1M tokens. Bundled rows come from `data/catalog.toml` (never edited); your rows are kept in "
           "the workspace store, or write a `catalog.toml` in the workspace folder with the same layout.")
cat_df = pd.DataFrame([m.to_row() | {"origin": m.origin} for m in catalog])
st.dataframe(cat_df[["id", "provider", "input_per_1m", "output_per_1m", "training_per_1m", "ft_input_per_1m", "ft_output_per_1m",
                     "fine_tunable", "no_new_jobs", "retires", "max_example_tokens", "latency_ms", "origin", "checked", "source"]],
             hide_index=True)
st.download_button("Download catalog (CSV)", cat_df.to_csv(index=False), file_name="model-catalog.csv", mime="text/csv", key="dl_catalog")

with st.expander("Add or edit a custom row (self-hosted or another provider's model, a negotiated price)"):
    template = st.selectbox("Start from", ["(empty)"] + ids, key="row_template")
    base = catalog.get(template).to_row() if template != "(empty)" else {}
    with st.form("custom_row"):
        f1, f2, f3 = st.columns(3)
        row = {
            "id": f1.text_input("Model id", value=base.get("id", ""), help="As the API names it; a bundled id is overridden."),
            "provider": f2.text_input("Provider", value=base.get("provider", "self-hosted")),
            "encoding": f3.selectbox("Tokenizer", ["o200k_base", "cl100k_base"],
                                     index=1 if base.get("encoding") == "cl100k_base" else 0),
        }
        p = st.columns(4)
        for i, (name, label) in enumerate([("input_per_1m", "Input $/1M"), ("output_per_1m", "Output $/1M"),
                                           ("training_per_1m", "Training $/1M"), ("batch_discount", "Batch discount")]):
            row[name] = p[i].number_input(label, min_value=0.0, value=float(base.get(name) or 0.0), step=0.01, format="%.4f")
        p = st.columns(4)
        for i, (name, label) in enumerate([("ft_input_per_1m", "Fine-tuned input $/1M"), ("ft_output_per_1m", "Fine-tuned output $/1M"),
                                           ("latency_ms", "Latency ms")]):
            row[name] = p[i].number_input(label, min_value=0.0, value=float(base.get(name) or 0.0), step=0.01, format="%.4f")
        row["fine_tunable"] = p[3].checkbox("Fine-tunable", value=bool(base.get("fine_tunable", False)))
        d = st.columns(4)
        retires = d[0].date_input("Retires", value=dt.date.fromisoformat(base["retires"]) if base.get("retires") else None)
        no_new = d[1].date_input("No new jobs from", value=dt.date.fromisoformat(base["no_new_jobs"]) if base.get("no_new_jobs") else None)
        row["retires"], row["no_new_jobs"] = retires, no_new
        row["checked"] = d[2].date_input("Figures checked on", value=TODAY)
        row["source"] = d[3].text_input("Source", value="", placeholder="URL or 'our invoice 2026-11'",
                                        help="Where the figures come from — required.")
        if st.form_submit_button("Save row", type="primary"):
            if not row["fine_tunable"]:  # no fine-tuned prices for a model that cannot be fine-tuned
                row.update(training_per_1m=None, ft_input_per_1m=None, ft_output_per_1m=None)
            row["latency_ms"] = row["latency_ms"] or None
            clean = {k: v for k, v in row.items() if v is not None and v != ""}
            try:
                saved = cat.save_row(store, clean)
            except (cat.CatalogError, KeyError) as exc:
                st.error(str(exc))
            else:
                st.success(f"Saved {saved.id}: it is used on every page from now on.")
                st.rerun()
    custom = [m.id for m in catalog if m.origin == "store"]
    if custom:
        gone = st.selectbox("Custom row to delete", custom, key="row_delete")
        if st.button("Delete custom row", key="row_delete_btn"):
            cat.delete_row(store, gone)
            st.rerun()
