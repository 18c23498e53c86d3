"""Prompts: search for the best prompt on the dev split within a budget, chart accuracy against cost, promote the winner."""

import json

import streamlit as st

from core.endpoint import Endpoint
from core.prompts import charts, results, store as prompt_store
from core.prompts.budget import default_calls
from core.prompts.search import Budget, CallOptions, PromptSearch, estimate, latest
from core.tiers import endpoint_status, local_status
from core.prompts.space import DESCRIPTIONS, INSTRUCTIONS, OUTPUTS, SELECTIONS, SearchSpace, instruction_text
from pages import _shared as shared

shared.ensure_app_navigation()

st.title("Prompts")
st.markdown(
    "The cheapest lever first: let the lab search instruction wordings, label guidelines, few-shot examples "
    "(how many, and chosen at random, class-balanced, most diverse, or retrieved per input = RAG) and the "
    "output format — scored on the **dev** split only, within a hard budget. The chosen prompt is scored "
    "**once** on the test split after the choice, next to the naive prompt (bare label names, zero-shot)."
)
store = shared.store()
ds = shared.current_dataset()
st.caption(f"Working on **{ds.name}** · version `{ds.hash}`")

# --- where to search ----------------------------------------------------------------------

local_ok = local_status().ready
remote_ok = endpoint_status(shared.api_key(), shared.base_url()).ready
backends = (["local"] if local_ok else []) + (["openai"] if remote_ok else [])
if not backends:
    st.info("No backend is ready: install the local tier (`pip install -r requirements-local.txt`) or configure an "
            "OpenAI-compatible endpoint in the sidebar.", icon=":material/info:")
    st.stop()
labels = {"local": "Local models (MiniLM, free)", "openai": "Chat model (OpenAI-compatible endpoint)"}
previous = latest(store, ds.hash)  # the page opens on the last search of this dataset
last_backend, _, last_model = (previous["backend"] if previous else "local").partition(":")
c1, c2 = st.columns([2, 1])
backend = c1.radio("Score candidates on", backends, format_func=labels.get, horizontal=True, key="prompts_backend",
                   index=backends.index(last_backend) if last_backend in backends else 0,
                   help="Local: each label is embedded as its guideline; exemplars become class prototypes or "
                        "retrieved neighbours. Chat: the rendered prompt is sent to the model.")
model = ""
if backend == "openai":
    model = c2.text_input("Model", value=last_model or "gpt-4.1-mini", key="prompts_model",
                          help="Any model id the endpoint serves; prices come from the model catalog.").strip()
    if not model:
        st.stop()
target = "local" if backend == "local" else f"openai:{model}"

# --- the search space and the budget ------------------------------------------------------------

n_train = len([e for e in ds.split("train") if e.label is not None])
default = SearchSpace.for_backend(backend, len(ds.task.labels), n_train)
with st.expander("Search space", expanded=False):
    s1, s2 = st.columns(2)
    instructions = default.instructions
    outputs, meta = default.outputs, 0
    if backend == "openai":
        choices = ["task", *INSTRUCTIONS]
        instructions = tuple(s1.multiselect(
            "Instruction wordings", choices, default=list(default.instructions), key="ps_instr",
            help="\n\n".join(f"**{c}**: {instruction_text(c, ds.task)}" for c in choices)))
        outputs = tuple(s2.multiselect("Output format", OUTPUTS, default=list(default.outputs), key="ps_out",
                                       help="text: the label name; json: {\"label\": …} with structured output."))
        meta = s2.number_input("Instructions written by the model", 0, 8, default.meta_rewrites, key="ps_meta",
                               help="APE/OPRO-style: after the first round the model sees the best instructions, "
                                    "their scores and their mistakes, and proposes new ones.")
    descriptions = tuple(s1.multiselect(
        "Label guidelines", DESCRIPTIONS, default=list(default.descriptions), key=f"ps_desc_{backend}",
        help="none: bare label names (the naive prompt) · task: the task's guidelines · short: their first "
             "sentence · terms: the words that mark each label in the train split (chi²)."))
    k_choices = sorted(set(default.ks) | {0, 1, 2, 4, 8, 16, 32})
    ks = tuple(s1.multiselect("Exemplars in the prompt (k)", k_choices, default=list(default.ks),
                              key=f"ps_k_{backend}", help="Total exemplars per prompt (retrieved: per input)."))
    selections = tuple(s2.multiselect(
        "Exemplar choice", SELECTIONS, default=list(default.selections), key=f"ps_sel_{backend}",
        help="random · balanced (round-robin over labels) · diverse (class-balanced, least alike) · "
             "retrieved (the k nearest train examples per input = RAG)."))
    retrievers = (["minilm"] if local_ok else []) + ["tfidf"]
    retriever = s2.radio("Similarity for retrieval", retrievers, horizontal=True, key="ps_retriever",
                         help="MiniLM sentence embeddings, or TF-IDF (no model needed).")
    seed = s2.number_input("Seed", 0, 10_000, 0, key="ps_seed", help="Exemplar draws and candidate order.")
try:
    space = SearchSpace(instructions=instructions, descriptions=descriptions, ks=ks, selections=selections,
                        outputs=outputs, meta_rewrites=int(meta), retriever=retriever, seed=int(seed),
                        max_retrieved_k=default.max_retrieved_k)
except ValueError as exc:
    st.error(f"Search space: {exc}")
    st.stop()

b1, b2, b3 = st.columns(3)
n_dev, n_test = (sum(1 for e in ds.split(sp) if e.label is not None) for sp in ("dev", "test"))
calls = b1.number_input("Budget: calls", 50, 1_000_000, default_calls(n_dev, n_test, backend == "local"), step=50,
                        key=f"prompts_calls_{backend}",
                        help="Hard cap on new calls (local: predictions), including scoring the chosen and the "
                             "naive prompt once on test. Answers already stored are free.")
usd = None
if backend == "openai" and b2.toggle("Cap dollars", key="prompts_cap_usd"):
    usd = b3.number_input("Budget: US$", 0.01, 10_000.0, 1.0, step=0.5, key="prompts_usd")
budget = Budget(int(calls), usd)
calls = CallOptions(shared.endpoint() or Endpoint())


@st.cache_data(show_spinner=False, max_entries=32)
def _estimate(db: str, dataset_hash: str, target: str, space_json: str, calls: int, usd, base_url):
    return estimate(shared.store(), shared.current_dataset(), target, Budget(calls, usd),
                    SearchSpace.from_dict(json.loads(space_json)), CallOptions(Endpoint(base_url=base_url)))


try:
    est = _estimate(str(store.path), ds.hash, target, json.dumps(space.to_dict()), budget.calls, budget.usd,
                    calls.endpoint.base_url)
except ValueError as exc:  # no new search with this budget; the stored results below stay visible
    st.error(str(exc), icon=":material/error:")
    est = None
if est:
    m = st.columns(4)
    m[0].metric("Candidates", f"{est.tried} of {est.candidates}", help="Tried within the budget / in the space "
                + (f"(+{est.meta} written by the model)" if est.meta else ""))
    m[1].metric("Halving rounds", est.rounds, help=f"Round 1 scores every candidate on {est.first_round_n} of "
                f"{est.dev_n} dev examples; each round the better half gets twice as many.")
    m[2].metric("Calls at most", f"{est.calls:,}", help=f"search {est.search_calls:,} + test {est.test_calls:,} "
                f"(chosen and naive, once). Every candidate on the whole dev split: {est.exhaustive_calls:,}.")
    m[3].metric("Cost at most", "free" if backend == "local" else ("unknown price" if est.usd is None
                else f"${est.usd:,.3f}"), help="tiktoken estimate × catalog price, before any call.")
    for note in est.notes:
        st.caption(f"Note: {note}")

# --- running --------------------------------------------------------------------------------------

r1, r2 = st.columns([1, 1])
run_clicked = r1.button("Run the search", type="primary", icon=":material/play_arrow:", key="prompts_run",
                        disabled=est is None)
stopped = r2.button("Stop", icon=":material/stop:", key="prompts_stop",
                    help="Stops after the calls in flight; everything scored is kept, and running again "
                         "continues for free.")
if stopped:
    st.info("Stopped. Every answer so far is stored: run again to go on without paying twice.", icon=":material/stop:")


def _draw(df, table, chart) -> None:
    if df.empty:
        return
    chart.altair_chart(charts.search_chart(df, local=backend == "local"), width="stretch")
    table.dataframe(
        df[charts.TABLE_COLUMNS], hide_index=True, width="stretch",
        column_config={
            "name": st.column_config.TextColumn("candidate", width="large"),
            "dev_accuracy": st.column_config.ProgressColumn("dev accuracy", format="percent", min_value=0,
                                                            max_value=1),
            "dev_n": st.column_config.NumberColumn("dev n", help="dev examples it was scored on"),
            "round": st.column_config.NumberColumn("round", help="last halving round it took part in (0 = first)"),
            "tokens_per_call": st.column_config.NumberColumn("tokens/call", format="%.0f"),
            "cost_per_1k_usd": st.column_config.NumberColumn("$/1k calls", format="$%.3f"),
        })


progress_slot, chart_slot, table_slot = st.empty(), st.empty(), st.empty()
if run_clicked:
    import time

    bar = progress_slot.progress(0.0, text="starting")
    last_draw = [0.0]

    def on_progress(p) -> None:
        bar.progress(p.fraction, text=f"{p.message} · {p.calls_used:,}/{p.calls_budget:,} calls"
                     + (f" · ${p.usd_used:,.4f}" if p.usd_used else ""))
        if p.phase in ("round 1", "done", "test") or time.monotonic() - last_draw[0] > 1.0:
            rows = p.rows
            if rows:
                _draw(charts.candidates_frame([r.to_dict() for r in rows], est.dev_n), table_slot, chart_slot)
                last_draw[0] = time.monotonic()

    search = PromptSearch(store, ds, target, budget, space, calls, progress=on_progress)
    try:
        result = search.run()
    except ValueError as exc:
        st.error(str(exc), icon=":material/error:")
        st.stop()
    bar.progress(1.0, text=f"done · {result.calls_used:,} new calls" + (f" · ${result.usd_used:,.4f}"
                                                                          if result.usd_used else ""))

# --- the latest result of this dataset ----------------------------------------------------------

stored = latest(store, ds.hash, target)
if stored is None:
    st.caption("No search on this dataset and backend yet.")
    st.stop()
res = stored["result"]
df = charts.candidates_frame(res["candidates"], res["honesty"]["dev_n"])
if not run_clicked:
    st.caption(f"Latest search: #{stored['id']} · {stored['created_at'][:19].replace('T', ' ')} UTC · "
               f"{stored['status']} · {stored['calls_used']:,} new calls")
_draw(df, table_slot, chart_slot)
st.caption("Each point is a candidate; bigger points were scored on more dev examples. The dashed line joins the "
           "Pareto front — no other candidate scored on the whole dev split is as accurate for fewer tokens"
           + (" (local candidates run free; tokens are what the exported prompt costs on a chat model)."
              if backend == "local" else " or dollars."))

chosen, test = res.get("chosen"), res["test"]
if chosen is not None:
    st.subheader("The choice, honestly")
    for col, figure in zip(st.columns(4), results.headline(res)):
        col.metric(**figure, delta_color="off")
    st.markdown(f"**Chosen:** {chosen['name']} — `{chosen['spec']}`")
    if test.get("comparison"):
        (st.success if test["comparison"]["significant"] else st.info)(test["comparison"]["explanation"])
    for w in res["honesty"]["warnings"]:
        st.warning(w, icon=":material/warning:")
    top = res["honesty"].get("top_two")
    if top:
        st.caption(f"Top two on dev: {top['explanation']}")
elif res["status"] == "stopped":
    st.info("This search was stopped before a choice; run it again to finish for free.")

# --- promote and export ----------------------------------------------------------------------------

st.subheader("Promote and export")
baseline = prompt_store.promoted_baseline(store, ds.hash)
if baseline is not None:
    st.caption(f"Prompted baseline now: v{baseline.version} · {baseline.name} · `{baseline.spec}` "
               f"(dev {results.pct(baseline.dev_accuracy)}, test {results.pct(baseline.test_accuracy)})")
else:
    st.caption("No prompt promoted yet: Evaluate and Decide use their default zero-shot prompt.")
options = list(df["hash"])
default_i = options.index(chosen["hash"]) if chosen is not None and chosen["hash"] in options else 0
names = dict(zip(df["hash"], df["name"]))
accs = dict(zip(df["hash"], df["dev_accuracy"]))
pick = st.selectbox("Candidate", options, index=default_i, key="prompts_pick",
                    format_func=lambda h: f"{names[h]} · dev {results.pct(accs[h])} · {h}")
p1, p2, p3 = st.columns(3)
if p1.button("Promote to prompted baseline", icon=":material/verified:", key="prompts_promote",
             help="Evaluate and Decide compare every approach with the promoted prompt."):
    rec = prompt_store.promote(store, pick)
    st.success(f"v{rec.version} is now the prompted baseline: `{rec.spec}`", icon=":material/check_circle:")
doc = prompt_store.export(store, pick)
p2.download_button("Download prompt (JSON)", json.dumps(doc, indent=2, ensure_ascii=False), f"prompt-{pick}.json",
                   "application/json", icon=":material/download:", key="prompts_dl_json")
p3.download_button("Download prompt (text)", prompt_store.export_text(doc), f"prompt-{pick}.txt", "text/plain",
                   icon=":material/download:", key="prompts_dl_txt")
with st.expander("Show the prompt"):
    st.code(prompt_store.export_text(doc)[:20_000], language=None)
