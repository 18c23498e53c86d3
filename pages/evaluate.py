"""Evaluate: every approach on the same frozen test split — accuracy, cost, latency, significance, verdict."""

import json
import time

import pandas as pd
import streamlit as st

from core.evaluation import report as reports
from core.prompts import store as prompt_store
from core.evaluation import runs
from core.backends import approach_from_spec, suggested_specs
from core.training import providers
from core.tiers import endpoint_status, local_status
from pages import _shared as shared
from pages import _verdict as verdict

shared.ensure_app_navigation()

st.title("Evaluate")
st.markdown(
    "Run every approach on the **same frozen split** and compare accuracy, cost, latency and whether the "
    "differences are real. Runs are kept in the workspace: a run that was stopped resumes where it stopped, "
    "and an answer that was paid for is never paid for again."
)
store = shared.store()
ds = shared.current_dataset()
st.caption(f"Working on **{ds.name}** · version `{ds.hash}`")

LOCAL_PRESETS = ["local:zero-shot", "local:few-shot:k=8", "local:rag:k=8"]
CLASSICAL = "classical:tfidf-lr"
OPENAI_METHODS = {"zero-shot": "zero-shot", "few-shot (4 exemplars)": "few-shot:k=4",
                  "RAG (8 nearest train examples)": "rag:k=8"}


def _parse_specs(text: str) -> list[str]:
    return [s.strip() for s in text.replace(",", "\n").splitlines() if s.strip()]


# --- run approaches ---------------------------------------------------------------------

sent = st.session_state.get("evaluate_specs", [])  # a model sent from the Train page, with its baseline
with st.expander("Run approaches", icon=":material/play_arrow:", expanded=bool(sent) or not runs.list_runs(store, ds.hash)):
    local_ok = local_status().ready
    remote = endpoint_status(shared.api_key(), shared.base_url())
    offered = [CLASSICAL] + (LOCAL_PRESETS if local_ok else []) + suggested_specs(store, ds)
    # The prompted baseline is the prompt promoted on the Prompts page, when there is one.
    baseline = prompt_store.promoted_baseline(store, ds.hash)
    baseline_spec = [baseline.spec] if baseline and baseline.spec in offered else []
    c1, c2 = st.columns([3, 1])
    chosen = c1.multiselect(
        "Approaches", offered,
        default=[CLASSICAL] + (["local:zero-shot", "local:rag:k=8"] if local_ok else []) + baseline_spec,
        help="zero-shot: label guidelines as embeddings · few-shot: class prototypes of k examples per class · "
             "RAG: the k nearest training examples vote · classical: TF-IDF + logistic regression."
             + ("" if local_ok else " Local models are not installed here (light tier): only the classical baseline."),
    )
    split = c2.selectbox("Split", ["test", "dev"], help="Compare on test; tune prompts on dev (Prompts page).")
    if baseline_spec:
        st.caption(f"Prompted baseline: `{baseline.spec}` (v{baseline.version}), promoted on the Prompts page.")
    if remote.ready:
        o1, o2, o3 = st.columns([2, 2, 1])
        model = o1.text_input("Chat model on the endpoint", value="gpt-4o-mini",
                              help="Any model id the endpoint serves, fine-tuned `ft:` ids included.")
        methods = o2.multiselect("Prompting approaches", list(OPENAI_METHODS), default=["zero-shot"])
        concurrency = o3.number_input("Parallel calls", 1, 64, 8, help="Calls in flight at once.")
        batch = st.checkbox("Batch API (half price, results within 24 h)", value=False,
                            help="For large test sets. The page waits for the batch; a stopped wait resumes later.")
        chosen += [f"openai:{model}:{OPENAI_METHODS[m]}" + (":batch=true" if batch else "") for m in methods if model]
    else:
        concurrency = 8
        st.info("Configure an OpenAI-compatible endpoint in the sidebar to add prompted chat models "
                "(OpenAI, Azure OpenAI, Ollama, vLLM, LM Studio …).", icon=":material/cloud:")
    extra = st.text_area("More approach specs (one per line)", value="\n".join(sent),
                         placeholder="local:setfit:<model path>\n"
                         "openai:ft:gpt-4o-mini-2024-07-18:acme::abc123:zero-shot",
                         help="Any spec the CLI accepts: `python -m core evaluate --help` lists them.")
    chosen += [s for s in _parse_specs(extra) if s not in chosen]
    if st.button("Run", type="primary", disabled=not chosen,
                 help="Stop at any time with the ■ button at the top right; running again resumes.") \
            and not shared.refused(shared.evaluation_quota(ds, split, len(chosen))):  # a public visitor's quotas
        cpu_start = time.process_time()
        options = dict(store=store, api_key=shared.api_key(), base_url=shared.base_url(), concurrency=int(concurrency),
                       provider_endpoint=lambda name: providers.session_credentials(  # a provider's fine-tune
                           name, st.session_state, st.secrets, public=shared.public_mode().enabled))
        try:
            approaches = [approach_from_spec(s, **options) for s in chosen]
        except ValueError as exc:
            st.error(f"Bad approach spec: {exc}")
            approaches = []
        total = len(approaches)
        for n, approach in enumerate(approaches, start=1):
            bar = st.progress(0.0, text=f"{approach.spec}: preparing ({n}/{total})")

            def progress(done: int, of: int, _bar=bar, _spec=approach.spec) -> None:
                _bar.progress(done / max(of, 1), text=f"{_spec}: {done}/{of} examples")

            try:
                run = runs.execute(store, ds, approach, split, progress)
            except (ValueError, RuntimeError, ImportError) as exc:
                st.error(f"{approach.spec}: {exc}")
                continue
            if run.status != "finished":
                st.warning(f"{approach.spec}: some calls failed — run again to retry only those.")
        shared.charge(cpu_seconds=time.process_time() - cpu_start)

# --- results ----------------------------------------------------------------------------

available = runs.list_runs(store, ds.hash, None)
if not available:
    st.info("No runs on this dataset version yet: pick approaches above and press **Run**.")
    st.stop()
split_runs = [r for r in available if r["split"] == split]
if not split_runs:
    st.info(f"No runs on the {split} split yet.")
    st.stop()
label_of = {r["id"]: f"{r['approach']} · run {r['id']} · {r['n_predictions']} ex."
            + (" · pre-computed" if r.get("origin") else "") for r in split_runs}
default_ids = verdict.run_ids(ds.hash, split)  # the runs Home, Decide and the memo use
selected = st.multiselect("Runs to compare", list(label_of), default=default_ids, format_func=label_of.get,
                          help="Runs on this dataset version and split: each is compared with the most accurate.")
if not selected:
    st.stop()
shipped = sorted({r["origin"] for r in split_runs if r["id"] in selected and r.get("origin")})
if shipped:
    st.caption("Pre-computed runs ship with the lab so a first visit shows real evidence: "
               + "; ".join(o.removeprefix("preloaded: ") for o in shipped)
               + ". Run them again here to reproduce them on this machine.")


shown_runs = [r for r in split_runs if r["id"] in selected]
rep = shared.report(shown_runs, ds.task.label_names)
runs_key = (tuple((r["id"], r["n_predictions"], r.get("n_errors")) for r in shown_runs), tuple(ds.task.label_names))
v = rep.verdict
rec = verdict.recommendation(ds, list(selected), st.session_state.get(verdict.ANSWERS_KEY))
verdict.draw(rec)
shared.memo_buttons(st, ds, list(selected), key="memo_evaluate", recommendation=rec)

table = pd.DataFrame(reports.standings_rows(rep))
st.dataframe(table, hide_index=True, column_config={
    "spec": st.column_config.TextColumn("spec", help="The approach's exact spec: what the CLI and the store call it."),
    "accuracy": st.column_config.ProgressColumn("accuracy", format="percent", min_value=0, max_value=1),
    "macro-F1": st.column_config.NumberColumn(format="%.3f"),
    "invalid": st.column_config.NumberColumn(format="percent", help="Answers that were not one of the labels."),
    "p50 ms": st.column_config.NumberColumn(format="%.0f"),
    "p95 ms": st.column_config.NumberColumn(format="%.0f"),
    "tokens in/call": st.column_config.NumberColumn(format="%.0f", help="Prompt tokens per call; none for local models, which take no prompt."),
    "$ / 1k calls": st.column_config.NumberColumn(format="$%.4f", help="Empty: the model's price is unknown."),
})

from core.evaluation import charts as charts  # noqa: E402 — altair only once there is something to draw


@st.cache_data(show_spinner=False, max_entries=64)
def _chart_spec(name: str, runs_key: tuple, args: tuple, _rep) -> dict:
    """A chart's Vega-Lite spec, built and schema-validated once per report (altair re-validates on every draw)."""
    import altair as alt
    with alt.theme.enable("none"):  # as st.altair_chart draws it
        return getattr(charts, name)(_rep, *args).to_dict()


tab_overview, tab_sig, tab_classes, tab_errors, tab_download = st.tabs(
    ["Accuracy, cost, latency", "Significance", "Per class", "Errors side by side", "Downloads"])

with tab_overview:
    a, b = st.columns(2)
    a.vega_lite_chart(_chart_spec("accuracy_chart", runs_key, (), rep), width="stretch")
    b.vega_lite_chart(_chart_spec("cost_chart", runs_key, (), rep), width="stretch")
    st.vega_lite_chart(_chart_spec("latency_chart", runs_key, (), rep), width="stretch")
    st.caption("Local latency is measured per batch and shared out per example; hosted latency is per call "
               "(a cached answer shows the latency it had when it was paid for).")

with tab_sig:
    names = [s.spec for s in v.standings]
    if len(names) < 2:
        st.info("Select at least two runs to test a difference.")
    else:
        s1, s2 = st.columns(2)
        first = s1.selectbox("Approach A", names, index=0)
        second = s2.selectbox("Approach B", [n for n in names if n != first], index=0)
        from core.evaluation.metrics import correct_vector
        from core.evaluation.stats import compare_pair, p_wording

        c = compare_pair({n: correct_vector(rep.rows[n]) for n in names}, first, second, rec.settings.margin)
        m1, m2, m3 = st.columns(3)
        m1.metric("Accuracy difference (A − B)", f"{c.diff * 100:+.1f} pts",
                  help=f"95 % CI {c.diff_ci95[0] * 100:+.1f} to {c.diff_ci95[1] * 100:+.1f} points (paired, agrees "
                       "with McNemar's test)")
        m2.metric("McNemar p (Holm)", p_wording(c.p_holm), help=f"Uncorrected {p_wording(c.p)}; Holm-corrected over "
                  f"every pair of the {len(names)} approaches. Only A right: {c.only_approach_right} · only B right: "
                  f"{c.only_reference_right}.")
        m3.metric("Outcome", c.outcome, help="better / worse: Holm-corrected p < 0.05 · equivalent: the difference "
                  f"is within ± {rec.settings.margin * 100:g} points · undecided: more test examples needed.")
        (st.success if c.outcome in ("better", "worse", "equivalent") else st.info)(c.sentence)

with tab_classes:
    st.vega_lite_chart(_chart_spec("per_class_chart", runs_key, (), rep), width="stretch")
    cols = st.columns(min(3, len(rep.metrics)))
    for i, name in enumerate(rep.metrics):
        cols[i % len(cols)].vega_lite_chart(_chart_spec("confusion_chart", runs_key, (name,), rep), width="stretch")

with tab_errors:
    show = st.radio("Show", reports.ERROR_VIEWS, horizontal=True)
    pick = st.multiselect("Gold label", ds.task.label_names, help="Filter by the true label.")
    view = pd.DataFrame(reports.error_rows(rep, show, pick))
    st.caption(f"{len(view)} of {len(rep.rows[next(iter(rep.rows))])} examples · an empty cell is an invalid "
               "output or a failed call.")
    st.dataframe(view.drop(columns=["example_id"], errors="ignore"), hide_index=True, height=420,
                 column_config={"text": st.column_config.TextColumn(width="large")})

with tab_download:
    long = pd.DataFrame(reports.long_rows(rep))
    st.download_button("Per-example predictions (CSV)", long.to_csv(index=False).encode("utf-8"),
                       file_name=f"predictions_{ds.hash[:8]}_{split}.csv", mime="text/csv",
                       help="One row per approach and example: prediction, raw output, latency, tokens, cost.")
    st.download_button("Metrics, comparisons and recommendation (JSON)",
                       json.dumps({**reports.to_json(rep), "recommendation": rec.to_dict()}, indent=2,
                                  default=str).encode("utf-8"),
                       file_name=f"metrics_{ds.hash[:8]}_{split}.json", mime="application/json")

# --- capability regression check ------------------------------------------------------------

with st.expander("Capability regression check (fine-tuned chat models)", icon=":material/psychology:"):
    st.markdown("Fine-tuning on one narrow task can cost general ability. This runs a small bundled suite of "
                "general prompts (arithmetic, knowledge, language, instructions, format) on a base chat model "
                "and its fine-tune and lists what the fine-tune lost.")
    if not endpoint_status(shared.api_key(), shared.base_url()).ready:
        st.info("Needs an OpenAI-compatible endpoint (sidebar).")
    else:
        k1, k2 = st.columns(2)
        base_model = k1.text_input("Base model", value="gpt-4o-mini-2024-07-18")
        tuned_model = k2.text_input("Fine-tuned model", placeholder="ft:gpt-4o-mini-2024-07-18:acme::abc123")
        if st.button("Check capabilities", disabled=not (base_model and tuned_model)):
            from core.evaluation import capability

            with st.spinner("Asking both models the general questions …"):
                cap = capability.check(base_model, tuned_model, store=store, base_url=shared.base_url(),
                                       api_key=shared.api_key())
            (st.warning if cap.regressions else st.success)(cap.sentence)
            st.dataframe(pd.DataFrame([{
                "probe": pid, "skill": skill, "base": cap.base.passed[pid], "fine-tune": cap.tuned.passed[pid],
                "base answer": cap.base.outputs[pid], "fine-tune answer": cap.tuned.outputs[pid],
            } for pid, skill in cap.skills.items()]), hide_index=True)
