"""The one Recommendation as Home, Evaluate and Decide draw it (widgets only; core.decision.recommendation decides).

The settings live in the session (the Decide page edits them), so every page shows the same
recommendation for the same runs.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.decision import recommendation as recs
from pages import _shared as shared

SETTINGS_KEY = "recommendation_settings"   # the Decide page's economics (core.decision.recommendation.Settings)
ANSWERS_KEY = "recommendation_answers"     # the Decide page's questionnaire (the prior before any run)


def settings() -> recs.Settings:
    """The user's economics settings (Decide page), else the defaults every surface shares."""
    return st.session_state.get(SETTINGS_KEY) or recs.Settings()


def run_ids(dataset_hash: str, split: str = "test") -> list[int]:
    return recs.default_run_ids(shared.store(), dataset_hash, split)


def recommendation(ds, ids: list[int], answers=None) -> recs.Recommendation:
    """The Recommendation for these runs, cached until a run gains predictions or a setting changes."""
    from core.evaluation import runs

    listed = {r["id"]: r for r in runs.list_runs(shared.store(), ds.hash, None)}
    stamp = tuple((i, listed[i]["n_predictions"], listed[i].get("n_errors")) for i in ids if i in listed)
    return _recommend(shared.store().path.as_posix(), ds.hash, stamp, settings(), answers)


@st.cache_data(show_spinner="Comparing approaches and pricing them at your volume …", max_entries=32)
def _recommend(db_path: str, dataset_hash: str, stamp: tuple, s: recs.Settings, answers):
    ds = _dataset(dataset_hash)
    return recs.recommend(shared.store(), ds, _report(db_path, dataset_hash, stamp), s, answers)


def _dataset(dataset_hash: str):
    ds = shared.current_dataset()
    if ds.hash != dataset_hash:  # another dataset was selected meanwhile: load the one asked for
        from core.data import dataset as datasets

        ds = datasets.load(shared.store(), dataset_hash)
    return ds


@st.cache_resource(show_spinner=False, max_entries=8)
def _report(db_path: str, dataset_hash: str, stamp: tuple):
    """The measured part (metrics, significance): it changes only when the runs do, not with Decide's sliders."""
    from core.evaluation import report as reports, runs

    if not stamp:
        return None
    store = shared.store()
    return reports.build(store, [runs.get(store, i) for i, *_ in stamp], _dataset(dataset_hash).task.label_names)


def draw(rec: recs.Recommendation, detail: bool = True, container=None) -> None:
    """The headline, reasons, comparison table, trade-offs, risks and contradicted answers."""
    c = container or st
    if rec.recommended is None:
        c.info(rec.headline, icon=":material/flag:")
        return
    box = c.container(border=True)
    badge = {"high": "green", "medium": "orange", "low": "red"}[rec.confidence]
    box.markdown(f"**Recommendation.** {rec.headline} :{badge}-badge[confidence: {rec.confidence}]")
    for reason in rec.reasons:
        box.markdown(f"- {reason}")
    if rec.comparisons and detail:
        box.dataframe(pd.DataFrame(rec.comparison_rows()), hide_index=True, width="stretch", column_config={
            "approach": st.column_config.TextColumn(help="The approach in words; `spec` re-runs it (Evaluate, CLI)."),
            "accuracy": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
            "p": st.column_config.NumberColumn(format="%.3g", help="McNemar exact test against the most accurate."),
            "p (Holm)": st.column_config.NumberColumn(format="%.3g", help="Holm-corrected over every pair of approaches "
                                                      "(picking the best looks at all): better / worse only below 0.05."),
            "$ / month": st.column_config.NumberColumn(format="$%.2f", help="At your calls/day, caching included."),
            "p50 ms": st.column_config.NumberColumn(format="%.0f"),
        })
        box.caption(f"Every approach against the most accurate one on the same {rec.evidence.get('n', 0)} test examples; "
                    f"equivalent = within ± {rec.settings.margin * 100:g} points with 95 % confidence. Costs at "
                    f"{rec.settings.calls_per_day:,.0f} calls/day, {rec.settings.model} prices, cache hit rate "
                    f"{rec.settings.cache_hit_rate:.0%}" + (", Batch API" if rec.settings.batch else "") + ".")
    for title, items, icon in (("Trade-offs", rec.tradeoffs, ":material/balance:"),
                               ("Risks", rec.risks, ":material/warning:"),
                               ("Your answers vs the measurements", rec.contradictions, ":material/compare_arrows:")):
        if items and detail:
            box.markdown(f"{icon} **{title}**\n" + "\n".join(f"- {x}" for x in items))


def draw_prior(decision, frequent_changes: bool = False) -> None:
    """The questionnaire's outcomes with the rule behind each reason (the prior before any measurement)."""
    if decision is None:
        return
    for r in decision.recommendations:
        box = st.container(border=True)
        box.markdown(f"**{r.title}** · :blue-badge[{r.role.upper()}]")
        for reason, rule in zip(r.reasons, r.rules):
            box.markdown(f"- {reason} `{rule}`")
    for approach, why in decision.not_recommended.items():
        st.markdown(f":material/block: **Not {approach}**: {why}")
    if frequent_changes and any(r.approach.startswith("fine-tune") for r in decision.recommendations):
        st.caption("The data changes often: budget a re-training per change in the costs below.")
