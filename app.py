"""Fine-Tuning Lab — entrypoint: navigation and sidebar only. Pages draw; core decides."""

import streamlit as st

from pages import _shared as shared

st.set_page_config(page_title="Fine-Tuning Lab", page_icon="🧪", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/decide.py", title="Decide", icon="🧭"),
    st.Page("pages/prompts.py", title="Prompts", icon="✍️"),
    st.Page("pages/dataset.py", title="Dataset", icon="🗂️"),
    st.Page("pages/train.py", title="Train", icon="🏋️"),
    st.Page("pages/evaluate.py", title="Evaluate", icon="📊"),
]

page = st.navigation(PAGES)
shared.sidebar()
page.run()
