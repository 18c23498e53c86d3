"""Prompts: Search instruction wordings, label descriptions and few-shot choices on the dev split, scored for accuracy against cost."""

import streamlit as st

from pages import _shared as shared

st.title("Prompts")
st.markdown("Search instruction wordings, label descriptions and few-shot choices on the dev split, scored for accuracy against cost.")
ds = shared.current_dataset()
st.caption(f"Working on **{ds.name}** · version `{ds.hash}`")
