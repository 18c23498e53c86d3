"""The break-even charts (altair): cumulative cost, cost per 1,000 calls, break-even vs call volume.

Built in core (altair, no streamlit) so that the Decide page and the decision
memo draw the same charts from the same numbers.
"""

from __future__ import annotations

import datetime as dt
import functools

import altair as alt
import pandas as pd

from core.economics import CostComparison
from core.palette import SHADES

# The same family colours as every other chart (core.palette): prompting blue, RAG green, fine-tuning orange.
COLORS = {"prompt": SHADES["prompting"][0], "fine-tuned": SHADES["fine-tuned"][0], "rag": SHADES["rag"][0],
          "local": SHADES["other"][0]}


def _validated_when_drawn(build):
    """Altair validates a chart against the Vega-Lite schema when it is built and again when it is drawn or
    exported (st.altair_chart, the memo's to_json): the second is enough, and skipping the first takes a third
    off every Decide slider rerun."""
    @functools.wraps(build)
    def wrapper(*args, **kwargs):
        with alt.utils.schemapi.debug_mode(False):
            return build(*args, **kwargs)
    return wrapper


def _color(names: list[str]) -> alt.Scale:
    return alt.Scale(domain=names, range=[COLORS.get(n, "#7c3aed") for n in names])


@_validated_when_drawn
def cumulative_chart(series: list[dict], comparison: CostComparison, start: dt.date, model_label: str) -> alt.LayerChart:
    """Cumulative US$ per approach over time, the break-even day marked, the base model's retirement as a rule."""
    df = pd.DataFrame(series)
    df["date"] = pd.to_datetime(df["date"])
    names = list(dict.fromkeys(df["approach"]))
    lines = alt.Chart(df).mark_line(interpolate="step-after").encode(
        x=alt.X("date:T", title=None),
        y=alt.Y("cumulative_usd:Q", title="Cumulative cost (US$)"),
        color=alt.Color("approach:N", scale=_color(names), legend=alt.Legend(title=None, orient="top")),
        tooltip=[alt.Tooltip("date:T"), "approach:N", alt.Tooltip("cumulative_usd:Q", format="$,.2f", title="cumulative")],
    )
    layers = [lines]
    last = df["date"].max()
    if comparison.break_even_days is not None:
        be_date = pd.Timestamp(start) + pd.Timedelta(days=comparison.break_even_days)
        if be_date <= last:
            be_cost = comparison.training_cost + comparison.finetuned_cost_per_day * comparison.break_even_days
            point = pd.DataFrame([{"date": be_date, "usd": be_cost, "text": f"break-even: day {comparison.break_even_days:,.1f}"}])
            base = alt.Chart(point).encode(x="date:T", y="usd:Q")
            layers += [base.mark_point(size=120, filled=True, color="#dc2626"),
                       base.mark_text(align="left", dx=8, dy=-8, color="#dc2626", fontWeight="bold").encode(text="text:N")]
    if comparison.retires:
        retires = pd.Timestamp(comparison.retires)
        if retires <= last:
            rule = pd.DataFrame([{"date": retires, "text": f"{model_label} retires {comparison.retires}"}])
            base = alt.Chart(rule).encode(x="date:T")
            layers += [base.mark_rule(color="#dc2626", strokeDash=[6, 4], size=2),
                       base.mark_text(align="left", dx=6, y=12, color="#dc2626").encode(text="text:N")]
    if comparison.finetune_path_ends and pd.Timestamp(comparison.finetune_path_ends) <= last:
        end = pd.DataFrame([{"date": pd.Timestamp(comparison.finetune_path_ends),
                             "text": "fine-tune path ends here: no fine-tunable successor"}])
        layers.append(alt.Chart(end).mark_text(align="left", dx=6, y=30, color=COLORS["fine-tuned"], fontWeight="bold")
                      .encode(x="date:T", text="text:N"))
    return alt.layer(*layers).properties(height=340)


@_validated_when_drawn
def cost_per_1k_chart(rows: list[dict]) -> alt.Chart:
    df = pd.DataFrame(rows)
    names = list(df["approach"])
    bars = alt.Chart(df).mark_bar().encode(
        x=alt.X("usd_per_1k_calls:Q", title="US$ per 1,000 calls"),
        y=alt.Y("approach:N", title=None, sort=names),
        color=alt.Color("approach:N", scale=_color(names), legend=None),
        tooltip=["approach:N", alt.Tooltip("usd_per_1k_calls:Q", format="$,.4f", title="per 1k calls")],
    )
    labels = bars.mark_text(align="left", dx=4).encode(text=alt.Text("usd_per_1k_calls:Q", format="$,.4f"))
    return (bars + labels).properties(height=40 * len(df) + 20)


@_validated_when_drawn
def sensitivity_chart(curve: list[dict], calls_per_day: float, days_to_retirement: int | None) -> alt.LayerChart:
    """Break-even days against calls per day, both on log axes; the current volume and retirement as rules."""
    # Below ~15 minutes a break-even is "at once"; plotting it down to 1e-5 days only squashes the readable part.
    df = pd.DataFrame([r for r in curve if r["break_even_days"] is not None and r["break_even_days"] >= 0.01])
    layers = []
    if not df.empty:
        layers.append(alt.Chart(df).mark_line(point=True, color=COLORS["fine-tuned"]).encode(
            x=alt.X("calls_per_day:Q", scale=alt.Scale(type="log"), title="Calls per day (log)"),
            y=alt.Y("break_even_days:Q", scale=alt.Scale(type="log"), title="Break-even (days, log)"),
            tooltip=[alt.Tooltip("calls_per_day:Q", format=",.0f"), alt.Tooltip("break_even_days:Q", format=",.1f")],
        ))
    layers.append(alt.Chart(pd.DataFrame([{"calls_per_day": calls_per_day}])).mark_rule(color="#111827", strokeDash=[2, 2])
                  .encode(x=alt.X("calls_per_day:Q", scale=alt.Scale(type="log"))))
    if days_to_retirement is not None and days_to_retirement > 0:
        layers.append(alt.Chart(pd.DataFrame([{"days": days_to_retirement, "text": "base model retires"}]))
                      .mark_rule(color="#dc2626", strokeDash=[6, 4]).encode(y=alt.Y("days:Q", scale=alt.Scale(type="log"))))
    return alt.layer(*layers).properties(height=300)
