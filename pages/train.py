"""Train: Launch and watch fine-tuning jobs: SetFit or LoRA on this machine, or any OpenAI-compatible fine-tuning API."""

import streamlit as st

from pages import _shared as shared

st.title("Train")
st.markdown("Launch and watch fine-tuning jobs: SetFit or LoRA on this machine, or any OpenAI-compatible fine-tuning API.")
ds = shared.current_dataset()
st.caption(f"Working on **{ds.name}** · version `{ds.hash}`")
