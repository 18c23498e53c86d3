"""The Dataset page's charts (altair, no streamlit): class balance, balance per split, token lengths.

Built in core, as Evaluate's and Decide's charts are, so any page or report
draws the same charts from the same data.
"""

from __future__ import annotations

from typing import Iterable

import altair as alt
import pandas as pd

from core.data.dataset import Example

UNLABELLED = "(unlabelled)"
SPLITS = ["train", "dev", "test"]


def class_counts_chart(labels: Iterable[str | None]) -> alt.Chart:
    """Examples per class, most frequent first; unlabelled examples as a class of their own."""
    counts = (pd.Series([label or UNLABELLED for label in labels], dtype=object).value_counts()
              .rename_axis("label").reset_index(name="examples"))
    return alt.Chart(counts).mark_bar().encode(
        y=alt.Y("label:N", sort="-x", title=None), x="examples:Q", tooltip=["label", "examples"],
    ).properties(title="Examples per class")


def split_balance_chart(examples: Iterable[Example]) -> alt.Chart:
    """Examples per label, stacked by split; one bar per label, tall enough to read every label."""
    df = pd.DataFrame([{"label": e.label or UNLABELLED, "split": e.split} for e in examples], columns=["label", "split"])
    balance = df.groupby(["label", "split"]).size().reset_index(name="examples")
    return alt.Chart(balance).mark_bar().encode(
        y=alt.Y("label:N", sort="-x", title=None), x=alt.X("examples:Q", title="examples"),
        color=alt.Color("split:N", sort=SPLITS), tooltip=["label", "split", "examples"],
    ).properties(title="Examples per label and split", height=28 * max(3, balance["label"].nunique()))


def token_length_chart(per_row: list[int], encoding: str, model: str) -> alt.Chart:
    """Histogram of tokens per example, counted with the model's tokenizer."""
    return alt.Chart(pd.DataFrame({"tokens": per_row})).mark_bar().encode(
        x=alt.X("tokens:Q", bin=alt.Bin(maxbins=40), title=f"tokens per example ({encoding})"),
        y=alt.Y("count():Q", title="examples"),
    ).properties(title=f"Token length — {model}")
