"""Home: the decision the lab helps make, and the task loaded."""

import streamlit as st

from core.evaluation import runs
from pages import _shared as shared
from pages import _verdict as verdict

shared.ensure_app_navigation()

st.title("Fine-Tuning Lab")
st.markdown(
    """
**Should this task be solved by prompting, by retrieval (RAG) or by fine-tuning?**
The lab answers with measured evidence instead of opinion: it runs every approach on the
*same* frozen test set, measures accuracy, cost and latency, tests whether the differences
are real, and computes the call volume at which fine-tuning pays for itself — before the
base model it was trained on retires.
"""
)

cols = st.columns(5)
steps = [
    ("pages/decide.py", "Decide", ":material/explore:", "Questionnaire → recommended approach; break-even of fine-tuning vs prompting."),
    ("pages/prompts.py", "Prompts", ":material/edit_note:", "Search for the best prompt on the dev split: the cheapest lever first."),
    ("pages/dataset.py", "Dataset", ":material/dataset:", "Import, validate, clean, split and export JSONL training data."),
    ("pages/train.py", "Train", ":material/model_training:", "Fine-tune locally on the CPU or on an OpenAI-compatible server."),
    ("pages/evaluate.py", "Evaluate", ":material/monitoring:", "Every approach on the same test set: accuracy, cost, latency, verdict."),
]
for col, (path, title, icon, text) in zip(cols, steps):
    with col:
        st.page_link(path, label=title, icon=icon)
        st.caption(text)

st.subheader("The ladder")
st.markdown(
    """
1. **Prompt** first: zero-shot, then a few examples. Cheapest to change, nothing to maintain.
2. **RAG** when the task needs *knowledge* or the data changes often: retrieve similar labelled
   examples or guidelines into the prompt.
3. **Fine-tune** for consistent behaviour: a fixed format or style, a long system prompt you pay
   for on every call, high volume, or a small model that must match a large one — with at least
   ~100 good examples. Never fine-tune to teach facts.
"""
)

ds = shared.current_dataset()
st.subheader(f"Loaded task: {ds.task.name}")
counts = ds.counts()
c1, c2, c3, c4 = st.columns(4)
c1.metric("Labels", len(ds.task.labels))
c2.metric("Train", sum(counts["train"].values()))
c3.metric("Dev", sum(counts["dev"].values()))
c4.metric("Test (frozen)", sum(counts["test"].values()))
st.caption(f"Dataset version `{ds.hash}` — every result in the lab is tied to this hash.")
with st.expander("Labels and their guidelines"):
    for lab in ds.task.labels:
        st.markdown(f"**{lab.name}** — {lab.description or '_no guideline yet_'}")

st.subheader("Current evidence")
ids = verdict.run_ids(ds.hash)
rec = verdict.recommendation(ds, ids, st.session_state.get(verdict.ANSWERS_KEY))
if not ids:
    st.info("No approach has been evaluated on this version yet: the Evaluate page runs them.")
verdict.draw(rec)
if ids and any(r.get("origin") for r in runs.list_runs(shared.store(), ds.hash, "test") if r["id"] in ids):
    st.caption("Pre-computed on the sample task so a first visit shows real evidence; run more on **Evaluate**.")
