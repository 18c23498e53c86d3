"""Decide: answer a short questionnaire, see which approach to try and why, then drag the call volume to see when fine-tuning pays back."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import streamlit as st

from core import catalog as cat
from core import economics as eco
from core.decision import charts
from core.decision import recommendation as recs
from core.decision.questionnaire import CHANGES_OFTEN, Questionnaire, flow_dot, recommend
from core.decision.evidence import load_evidence
from core.decision import scenario as scenarios
from core.tokens import count_tokens
from pages import _catalog_editor as catalog_editor
from pages import _shared as shared
from pages import _verdict as verdict

shared.ensure_app_navigation()

FIELD = Questionnaire.model_fields  # field descriptions double as help text
DEFAULT_MODEL = "gpt-4o-mini-2024-07-18"
TODAY = dt.date.today()
TOKEN_INPUTS = [("prompt_tokens", "Prompted: input tokens", "System prompt + ticket + chat framing, per call."),
                ("finetuned_prompt_tokens", "Fine-tuned: input tokens", "The ticket alone: a fine-tune needs no long instruction."),
                ("rag_prompt_tokens", "RAG: input tokens", "The prompt plus 8 retrieved labelled examples."),
                ("output_tokens", "Output tokens", "The label, per call.")]

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
def _defaults(dataset_hash: str | None, system_prompt: str, model: str, system_tokens: int) -> eco.TokenProfile:
    return scenarios.token_defaults(ds, system_prompt, model, system_tokens)


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
            st.dataframe(pd.DataFrame(evidence.run_rows()), hide_index=True)
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
e1, e2 = st.columns(2)
hit_rate = e1.slider("Prompt cache hit rate", 0.0, 1.0, recs.DEFAULT_CACHE_HIT_RATE, 0.05, key="cache_hit_rate",
                     help="Share of calls that find the system prompt in the provider's cache: cached from "
                          f"{info.cache_min_tokens or 0:,} tokens in {info.cache_step_tokens or 1}-token steps, "
                          "billed at the catalog's cached-input price.")
host = e2.number_input("Self-hosting $/hour (local models)", 0.0, value=eco.DEFAULT_SELF_HOST_USD_PER_HOUR, step=0.01,
                       format="%.4f", key="self_host", help=eco.SELF_HOST_SOURCE + " ÷ measured throughput.")

system_tokens = count_tokens(system_prompt, model_id) if system_prompt else 0
guess = _defaults(ds.hash if ds else None, system_prompt, model_id, system_tokens)  # counted, else guessed

with st.expander("Token counts per call and training file", expanded=False):
    st.caption(
        f"The system prompt above is **{system_tokens:,} tokens** ({info.encoding}). Defaults are counted from the "
        "task's prompt and examples; fill them from measured runs when you have them."
    )
    tokens = {}
    for col, (key, label, help_) in zip(st.columns(4), TOKEN_INPUTS):  # widget key = TokenProfile field
        with col:
            tokens[key] = st.number_input(label, min_value=0.0, value=float(round(getattr(guess, key), 1)), step=1.0,
                                          key=key, help=help_)
            _evidence_caption(key)
    t5, t6, t7 = st.columns(3)
    train_examples = int(t5.number_input("Training examples", min_value=1, value=max(1, guess.training_examples),
                                         key="train_examples", help="Examples in the training file."))
    train_tokens = t6.number_input("Training file tokens (one epoch)", min_value=0, value=int(guess.training_tokens),
                                   step=1000, key="training_tokens", help="Billed once per epoch.")
    epochs = int(t7.number_input("Epochs", min_value=1, max_value=25, value=eco.default_epochs(train_examples), key="epochs",
                                 help="Default: OpenAI's rule — 3, changed so examples × epochs stays within 100–25,000."))
    batch = st.checkbox("Batch API (inference at the batch discount)", key="batch")

scenario = eco.Scenario(model_id, calls, tokens["prompt_tokens"], tokens["finetuned_prompt_tokens"], tokens["output_tokens"],
                        train_tokens, epochs=epochs, rag_prompt_tokens=tokens["rag_prompt_tokens"], batch=batch,
                        horizon_days=horizon, shared_prefix_tokens=system_tokens, cache_hit_rate=hit_rate)
comparison = eco.compare(info, scenario, start=TODAY, successor=catalog.successor_of(info))
for col, f in zip(st.columns(4), scenarios.headline(comparison, info, train_tokens, epochs)):
    col.metric(f.label, f.value, delta=f.delta, delta_color="inverse", help=f.help)
for warning in comparison.warnings:
    st.warning(warning, icon=":material/schedule:")
pays_back, volume_needed = scenarios.payback_sentences(comparison)
if pays_back:
    st.success(pays_back, icon=":material/check_circle:")
if volume_needed:
    st.caption(volume_needed)

# --- 2 · the one recommendation (drawn in its place above the economics) --------------------------

q = Questionnaire(
    need=need, data_changes=changes, labelled_examples=int(examples), system_prompt_tokens=system_tokens,
    calls_per_day=calls, latency_budget_ms=budget, prompted_latency_ms=prompted_latency, quality_gap_points=gap,
    consistent_format=fmt, small_must_match_large=small, pii_in_data=pii, hosted_fine_tuning_open=org_open,
)
st.session_state[verdict.SETTINGS_KEY] = recs.Settings(model_id, calls, horizon, hit_rate, batch, host, budget)
st.session_state[verdict.ANSWERS_KEY] = q  # Home and Evaluate show the same recommendation
rec = verdict.recommendation(ds, verdict.run_ids(ds.hash), q) if ds else recs.from_prior(recommend(q), q, recs.Settings(), None)
decision = rec.prior
with rec_box:
    st.header("2 · Recommendation")
    verdict.draw(rec)
    st.subheader("From your answers" + (" (the prior; the measurements above decide)" if rec.comparisons else ""))
    verdict.draw_prior(decision, frequent_changes=changes in CHANGES_OFTEN)
    st.graphviz_chart(flow_dot(decision), width="stretch")
    st.caption("The decision flow: diamonds are questions, boxes are outcomes; your answers' path is highlighted in blue.")
    st.download_button("Download the recommendation (JSON)", json.dumps(rec.to_dict(), indent=2, default=str),
                       file_name="recommendation.json", mime="application/json", key="dl_decision")

# --- 3 · charts --------------------------------------------------------------------------------

costs = eco.approach_costs(info, scenario)
ends = eco.days_until(dt.date.fromisoformat(comparison.finetune_path_ends), TODAY) if comparison.finetune_path_ends else None
series = eco.cumulative_series(costs, calls, horizon, tuple(comparison.retraining_days), TODAY, ends_day=ends)
st.subheader("Cumulative cost")
st.altair_chart(charts.cumulative_chart(series, comparison, TODAY, model_id), width="stretch")
if scenarios.retraining_sentence(comparison):
    st.caption(scenarios.retraining_sentence(comparison))
b1, b2 = st.columns(2)
with b1:
    st.subheader("Cost per 1,000 calls")
    rows, local_note = scenarios.cost_per_1k_rows(costs, catalog)
    if local_note:
        st.caption(local_note)
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
memo_runs = verdict.run_ids(ds.hash) if ds else []
shared.memo_buttons(st, ds, memo_runs, scenario, key="memo_decide", recommendation=rec)
d1, d2 = st.columns(2)
d1.download_button("Download break-even (JSON)", json.dumps(comparison.to_dict(), indent=2), file_name=f"breakeven-{model_id}.json",
                   mime="application/json", key="dl_breakeven")
d2.download_button("Download cumulative cost (CSV)", pd.DataFrame(series).to_csv(index=False), file_name=f"cumulative-cost-{model_id}.csv",
                   mime="text/csv", key="dl_series")

# --- 4 · the model catalog (table and custom-row editor: pages/_catalog_editor.py) ------------------------

catalog_editor.draw(store, catalog, TODAY)
