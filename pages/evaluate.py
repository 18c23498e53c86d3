"""Evaluate: Run every approach on the same frozen test split and compare accuracy, cost, latency and significance."""

import streamlit as st

from pages import _shared as shared

st.title("Evaluate")
st.markdown("Run every approach on the same frozen test split and compare accuracy, cost, latency and significance.")
ds = shared.current_dataset()
st.caption(f"Working on **{ds.name}** · version `{ds.hash}`")
