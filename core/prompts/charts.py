"""The prompt search drawn (altair): dev accuracy against tokens (and dollars) per call, the Pareto front joined.

Built in core (altair, no streamlit) like core.evaluation.charts and core.decision.charts: the
Prompts page draws what these return, from a search's candidate rows (live or as stored).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import altair as alt
import pandas as pd

from core.prompts.results import ROLES, role

ROLE_COLORS = alt.Scale(domain=list(ROLES), range=["#d62728", "#7f7f7f", "#1f77b4", "#9ecae1", "#e0e0e0"])
TABLE_COLUMNS = ["name", "dev_accuracy", "dev_n", "round", "tokens_per_call", "cost_per_1k_usd", "role", "origin",
                 "hash"]


def candidates_frame(rows: Sequence[Mapping], dev_n: int) -> pd.DataFrame:
    """The candidates with their role, the most telling first (scored longest, most accurate, fewest tokens)."""
    df = pd.DataFrame(list(rows))
    if df.empty:
        return df
    df["role"] = df.apply(lambda r: role(r, dev_n), axis=1)
    return df.sort_values(["dev_n", "dev_accuracy", "tokens_per_call"], ascending=[False, False, True])


def _scatter(df: pd.DataFrame, x: str, title: str, front: str) -> alt.LayerChart:
    scored = df.dropna(subset=[x, "dev_accuracy"])
    base = alt.Chart(scored).encode(
        x=alt.X(f"{x}:Q", title=title, scale=alt.Scale(type="log" if x == "tokens_per_call" else "linear")),
        y=alt.Y("dev_accuracy:Q", title="dev accuracy", axis=alt.Axis(format="%")),
    )
    points = base.mark_circle(opacity=0.85).encode(
        color=alt.Color("role:N", scale=ROLE_COLORS, legend=alt.Legend(title=None, orient="bottom")),
        size=alt.Size("dev_n:Q", title="dev examples", scale=alt.Scale(range=[20, 220]), legend=None),
        tooltip=["name", alt.Tooltip("dev_accuracy:Q", format=".1%"), "dev_n", alt.Tooltip(f"{x}:Q", format=",.3f"),
                 "origin", "hash"],
    )
    line = base.transform_filter(alt.datum[front]).mark_line(color="#1f77b4", strokeDash=[4, 3])
    return (line + points).properties(height=320)


def search_chart(df: pd.DataFrame, local: bool) -> alt.LayerChart | alt.HConcatChart:
    """Accuracy vs tokens per call; beside it accuracy vs $ per 1,000 calls unless every candidate ran free."""
    chart = _scatter(df, "tokens_per_call", "tokens per call (log)", "pareto_tokens")
    if local or (df["cost_per_1k_usd"].fillna(0) == 0).all():
        return chart
    return alt.hconcat(chart, _scatter(df, "cost_per_1k_usd", "$ per 1,000 calls", "pareto_cost"))
