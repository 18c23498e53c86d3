"""Fine-Tuning Lab — entrypoint: navigation and sidebar only. Pages draw; core decides."""

import streamlit as st

from pages import _shared as shared

st.set_page_config(page_title="Fine-Tuning Lab", page_icon=":material/science:", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/decide.py", title="Decide", icon=":material/explore:"),
    st.Page("pages/prompts.py", title="Prompts", icon=":material/edit_note:"),
    st.Page("pages/dataset.py", title="Dataset", icon=":material/dataset:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/evaluate.py", title="Evaluate", icon=":material/monitoring:"),
]

page = st.navigation(PAGES)
shared.sidebar()
page.run()
