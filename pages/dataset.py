"""Dataset: the current version's examples, splits and class balance."""

import altair as alt
import pandas as pd
import streamlit as st

from pages import _shared as shared

st.title("Dataset")
ds = shared.current_dataset()
st.caption(f"**{ds.name}** · version `{ds.hash}` · {len(ds.examples)} examples · {len(ds.task.labels)} labels")

df = pd.DataFrame([{"id": e.id, "text": e.text, "label": e.label, "split": e.split} for e in ds.examples])
balance = df.groupby(["label", "split"], dropna=False).size().reset_index(name="examples")
st.altair_chart(
    alt.Chart(balance)
    .mark_bar()
    .encode(
        y=alt.Y("label:N", sort="-x", title=None),
        x=alt.X("examples:Q", title="examples"),
        color=alt.Color("split:N", sort=["train", "dev", "test"]),
        tooltip=["label", "split", "examples"],
    )
    .properties(title="Examples per label and split", height=28 * max(3, df["label"].nunique())),
    use_container_width=True,
)
split = st.segmented_control("Split", ["all", "train", "dev", "test"], default="all")
shown = df if split in (None, "all") else df[df["split"] == split]
st.dataframe(shown, hide_index=True, use_container_width=True)
st.download_button(
    "Download CSV", shown.to_csv(index=False).encode("utf-8"), file_name=f"dataset-{ds.hash}.csv", mime="text/csv"
)
