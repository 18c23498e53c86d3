"""The Decide page's section 4: the model catalog as a table, and the editor of custom rows (widgets only).

Which fields a custom row has, and how a typed row is cleaned, is core/catalog.py's: `CUSTOM_NUMBERS`,
`custom_row`, `save_row`, `delete_row`.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from core import catalog as cat
from core.store import Store


def draw(store: Store, catalog: cat.Catalog, today: dt.date) -> None:
    ids = catalog.ids()
    st.header("4 · Model catalog")
    st.caption("Prices in US$ per 1M tokens. Bundled rows come from `data/catalog.toml` (never edited); your rows are kept in "
               "the workspace store, or write a `catalog.toml` in the workspace folder with the same layout.")
    cat_df = pd.DataFrame([m.to_row() | {"origin": m.origin} for m in catalog])
    st.dataframe(cat_df[cat.TABLE_COLUMNS], hide_index=True)
    st.download_button("Download catalog (CSV)", cat_df.to_csv(index=False), file_name="model-catalog.csv", mime="text/csv", key="dl_catalog")

    with st.expander("Add or edit a custom row (self-hosted or another provider's model, a negotiated price)"):
        template = st.selectbox("Start from", ["(empty)"] + ids, key="row_template")
        base = catalog.get(template).to_row() if template != "(empty)" else {}
        with st.form("custom_row"):
            f1, f2, f3 = st.columns(3)
            row = {
                "id": f1.text_input("Model id", value=base.get("id", ""), help="As the API names it; a bundled id is overridden."),
                "provider": f2.text_input("Provider", value=base.get("provider", "self-hosted")),
                "encoding": f3.selectbox("Tokenizer", ["o200k_base", "cl100k_base"],
                                         index=1 if base.get("encoding") == "cl100k_base" else 0),
            }
            p = st.columns(4) + st.columns(4)  # two rows of four: seven numbers and a checkbox
            for col, (name, label) in zip(p, cat.CUSTOM_NUMBERS):
                row[name] = col.number_input(label, min_value=0.0, value=float(base.get(name) or 0.0), step=0.01, format="%.4f")
            row["fine_tunable"] = p[7].checkbox("Fine-tunable", value=bool(base.get("fine_tunable", False)))
            d = st.columns(4)
            retires = d[0].date_input("Retires", value=dt.date.fromisoformat(base["retires"]) if base.get("retires") else None)
            no_new = d[1].date_input("No new jobs from", value=dt.date.fromisoformat(base["no_new_jobs"]) if base.get("no_new_jobs") else None)
            row["retires"], row["no_new_jobs"] = retires, no_new
            row["checked"] = d[2].date_input("Figures checked on", value=today)
            row["source"] = d[3].text_input("Source", value="", placeholder="URL or 'our invoice 2026-11'",
                                            help="Where the figures come from — required.")
            if st.form_submit_button("Save row", type="primary"):
                try:
                    saved = cat.save_row(store, cat.custom_row(row))
                except (cat.CatalogError, KeyError) as exc:
                    st.error(str(exc))
                else:
                    st.success(f"Saved {saved.id}: it is used on every page from now on.")
                    st.rerun()
        custom = [m.id for m in catalog if m.origin == "store"]
        if custom:
            gone = st.selectbox("Custom row to delete", custom, key="row_delete")
            if st.button("Delete custom row", key="row_delete_btn"):
                cat.delete_row(store, gone)
                st.rerun()
