"""Decide: Answer a short questionnaire about your task and see which approach to try, then drag the call volume to see when fine-tuning pays for itself."""

import streamlit as st

from pages import _shared as shared

st.title("Decide")
st.markdown("Answer a short questionnaire about your task and see which approach to try, then drag the call volume to see when fine-tuning pays for itself.")
ds = shared.current_dataset()
st.caption(f"Working on **{ds.name}** · version `{ds.hash}`")
