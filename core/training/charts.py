"""The Train page's chart (altair, no streamlit): loss curves with the overfitting point marked.

Built in core, as Evaluate's and Decide's charts are, so that any page, memo
or notebook draws the same chart from `jobs.metrics(store, job_id)`.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from core.training.curves import SERIES, loss_rows, overfitting_point

COLORS = ["#4C78A8", "#F58518", "#E45756"]  # train, validation, validation (full)


def loss_chart(points: list[dict[str, float]], height: int = 280) -> alt.LayerChart | alt.Chart | None:
    """Loss per training step, one line per series; a dashed rule where overfitting began. None: no points yet."""
    rows = loss_rows(points)
    if not rows:
        return None
    lines = alt.Chart(pd.DataFrame(rows)).mark_line(point=alt.OverlayMarkDef(size=18)).encode(
        x=alt.X("step:Q", title="training step"),
        y=alt.Y("loss:Q", title="loss", scale=alt.Scale(zero=False)),
        color=alt.Color("series:N", title=None, scale=alt.Scale(domain=list(SERIES.values()), range=COLORS)),
        tooltip=["step", "series", alt.Tooltip("loss:Q", format=".4f")],
    )
    turn = overfitting_point(points)
    if turn is None:
        return lines.properties(height=height)
    mark = pd.DataFrame([{"step": turn.step, "label": f"overfitting from step {turn.step}"}])
    rule = alt.Chart(mark).mark_rule(strokeDash=[4, 4], color=COLORS[2]).encode(x="step:Q")
    text = alt.Chart(mark).mark_text(align="left", dx=4, dy=-110, color=COLORS[2]).encode(x="step:Q", text="label:N")
    return (lines + rule + text).properties(height=height)
