"""Altair charts of an EvaluationReport: what the Evaluate page draws and the decision memo embeds."""

from __future__ import annotations

import altair as alt
import pandas as pd

from core.evaluation.metrics import INVALID
from core.palette import altair_scale
from core.evaluation.report import EvaluationReport


def _standings_frame(rep: EvaluationReport) -> pd.DataFrame:
    rows = []
    for s in rep.verdict.standings:
        m = rep.metrics[s.spec]
        rows.append({"approach": s.spec, "accuracy": s.accuracy, "ci_low": s.accuracy_ci95[0],
                     "ci_high": s.accuracy_ci95[1], "macro_f1": s.macro_f1, "cost_per_1k_usd": s.cost_per_1k_usd,
                     "latency_p50_ms": m.latency_p50_ms, "latency_p95_ms": m.latency_p95_ms})
    return pd.DataFrame(rows)


def accuracy_chart(rep: EvaluationReport) -> alt.Chart:
    """Accuracy per approach with its bootstrap 95 % CI."""
    df = _standings_frame(rep)
    scale = altair_scale(df["approach"])
    base = alt.Chart(df).encode(y=alt.Y("approach:N", sort=list(df["approach"]), title=None))
    bars = base.mark_bar().encode(
        x=alt.X("accuracy:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"), title="Accuracy (95 % CI)"),
        color=alt.Color("approach:N", scale=scale, legend=None),
        tooltip=[alt.Tooltip("approach:N"), alt.Tooltip("accuracy:Q", format=".1%"),
                 alt.Tooltip("ci_low:Q", format=".1%", title="CI low"),
                 alt.Tooltip("ci_high:Q", format=".1%", title="CI high")],
    )
    ci = base.mark_rule(strokeWidth=2, color="#888888").encode(x="ci_low:Q", x2="ci_high:Q")  # mid-grey: visible on light and dark themes
    return (bars + ci).properties(height=max(120, 40 * len(df)))


def cost_chart(rep: EvaluationReport) -> alt.Chart:
    """Accuracy against $ per 1,000 calls: up and to the left is better. Unknown prices are left out."""
    df = _standings_frame(rep).dropna(subset=["cost_per_1k_usd"])
    scale = altair_scale(_standings_frame(rep)["approach"])
    base = alt.Chart(df).encode(
        x=alt.X("cost_per_1k_usd:Q", title="$ per 1,000 calls (symlog)", scale=alt.Scale(type="symlog", constant=0.01)),
        y=alt.Y("accuracy:Q", axis=alt.Axis(format="%"), scale=alt.Scale(zero=False), title="Accuracy"),
    )
    points = base.mark_circle(size=160).encode(
        color=alt.Color("approach:N", scale=scale, legend=alt.Legend(orient="bottom", columns=2, title=None)),
        tooltip=["approach:N", alt.Tooltip("accuracy:Q", format=".1%"),
                 alt.Tooltip("cost_per_1k_usd:Q", format="$.4f", title="$ / 1k calls")],
    )
    ci = base.mark_rule().encode(y="ci_low:Q", y2="ci_high:Q", color=alt.Color("approach:N", scale=scale, legend=None))
    return (ci + points).properties(height=320)


def latency_chart(rep: EvaluationReport) -> alt.Chart:
    df = _standings_frame(rep).dropna(subset=["latency_p50_ms"])
    long = df.melt(id_vars=["approach"], value_vars=["latency_p50_ms", "latency_p95_ms"], var_name="percentile",
                   value_name="ms")
    long["percentile"] = long["percentile"].map({"latency_p50_ms": "p50", "latency_p95_ms": "p95"})
    scale = altair_scale(_standings_frame(rep)["approach"])
    return alt.Chart(long).mark_bar().encode(
        y=alt.Y("approach:N", title=None), yOffset="percentile:N",
        x=alt.X("ms:Q", title="Latency per call (ms)"),
        color=alt.Color("approach:N", scale=scale, legend=None),
        opacity=alt.Opacity("percentile:N", scale=alt.Scale(domain=["p50", "p95"], range=[1.0, 0.45]),
                            legend=alt.Legend(title=None, orient="bottom")),
        tooltip=["approach:N", "percentile:N", alt.Tooltip("ms:Q", format=".1f")],
    ).properties(height=max(120, 50 * len(df)))


def per_class_chart(rep: EvaluationReport) -> alt.Chart:
    rows = [{"approach": name, **pc} for name, m in rep.metrics.items() for pc in m.per_class]
    df = pd.DataFrame(rows)
    return alt.Chart(df).mark_bar().encode(
        y=alt.Y("label:N", title=None), yOffset="approach:N",
        x=alt.X("f1:Q", scale=alt.Scale(domain=[0, 1]), title="F1 per class"),
        color=alt.Color("approach:N", scale=altair_scale(rep.metrics), legend=alt.Legend(orient="bottom", title=None)),
        tooltip=["approach:N", "label:N", alt.Tooltip("precision:Q", format=".2f"),
                 alt.Tooltip("recall:Q", format=".2f"), alt.Tooltip("f1:Q", format=".2f"), "support:Q"],
    ).properties(height=max(200, 18 * len(df)))


def confusion_chart(rep: EvaluationReport, name: str) -> alt.Chart:
    m = rep.metrics[name]
    cols = m.labels + [INVALID]
    df = pd.DataFrame([{"gold": g, "predicted": p, "count": m.confusion[i][j]}
                       for i, g in enumerate(m.labels) for j, p in enumerate(cols)])
    base = alt.Chart(df).encode(x=alt.X("predicted:N", sort=cols, title="Predicted"),
                                y=alt.Y("gold:N", sort=m.labels, title="Gold"))
    heat = base.mark_rect().encode(color=alt.Color("count:Q", scale=alt.Scale(scheme="blues"), legend=None),
                                   tooltip=["gold:N", "predicted:N", "count:Q"])
    text = base.mark_text(fontSize=11).encode(
        text=alt.condition(alt.datum.count > 0, "count:Q", alt.value("")),
        color=alt.condition(alt.datum.count > max(1, df["count"].max() / 2), alt.value("white"), alt.value("black")))
    return (heat + text).properties(title=name, height=max(200, 28 * len(m.labels)))
