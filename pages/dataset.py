"""Dataset: import, validate, clean, split and export fine-tuning data — every problem with its line number."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from core import labelling
from core.data import charts, export, importer, review, versions
from core.data import report as datareport
from core.evaluation import runs
from core.catalog import load_catalog
from pages import _shared as shared

shared.ensure_app_navigation()

ACCEPT = ["csv", "tsv", "txt", "jsonl", "json", "ndjson", "xlsx", "xlsm"]
MAPPED = ("text", "label", "split", "id")  # the columns a user may map

st.title("Dataset")
st.markdown("Import a CSV, TSV, Excel or JSONL file, see every problem with its line number, fix it in place, split, "
            "and download OpenAI-ready JSONL. Every fix saves a **new version**; old versions stay in the store.")
store = shared.store()
ds = shared.current_dataset()
st.caption(f"**{ds.name}** · version `{ds.hash}` · {len(ds.examples)} examples · {len(ds.task.labels)} labels")

catalog = load_catalog(store=store)
openai_models = [m.id for m in catalog if m.provider == "openai"]
left, right = st.columns([2, 1])
model = left.selectbox(
    "Model for token counts and the per-example limit", openai_models,
    index=openai_models.index(datareport.DEFAULT_MODEL) if datareport.DEFAULT_MODEL in openai_models else 0,
    key="ds_model", help="Exact tiktoken counts with this model's tokenizer; examples over its fine-tuning limit are errors.",
)
semantic = right.toggle(  # off at first: the report draws at once, MiniLM (torch, ~5 s to load) only when asked
    "Add semantic checks (MiniLM)", value=False, key="ds_semantic", disabled=not datareport.local_tier_installed(),
    help="Embeds the texts with the local encoder (~400 texts/s here): finds paraphrased duplicates and sharpens the "
         f"label check. Up to {datareport.EMBEDDING_MAX_ROWS:,} rows; needs the local tier.",
)
@st.cache_data(show_spinner=False, max_entries=8)
def _import(data: bytes, name: str, mapping: importer.ColumnMapping):
    return importer.read_bytes(data, name, mapping)


def _report(key: tuple, compute):
    """A report per (data, mapping, task, model, semantic), kept in the session: reruns are instant, and the
    first computation can drive a progress bar (st.cache_data cannot replay progress updates)."""
    cache = st.session_state.setdefault("ds_reports", {})
    if key not in cache:
        bar = st.progress(0.0, text="checking…")
        try:
            cache[key] = compute(lambda f, msg: bar.progress(min(f, 1.0), text=msg))
        finally:
            bar.empty()
        while len(cache) > 6:
            cache.pop(next(iter(cache)))
    return cache[key]


def _import_report(imported, key: str, task):
    return _report(("import", key, task.model_dump_json() if task else None, model, semantic),
                   lambda progress: datareport.build(imported, task=task, model=model, embeddings=semantic, progress=progress))


def _save(new, note: str) -> None:
    """Save an edited version, make it current, and tell the user on the next run."""
    saved = versions.save_version(store, ds, new, note, test_runs=runs.test_runs(store, ds.hash))
    shared.select_dataset(saved.hash)
    st.session_state["ds_message"] = (saved.message, saved.test_was_frozen and saved.test_changed > 0)
    st.rerun()



def draw_report(report: datareport.DataReport, key: str) -> None:
    if report.error:
        st.error(report.error, icon=":material/block:")
        return
    for col, (name, value) in zip(st.columns(8), review.summary(report)):
        col.metric(name, f"{value:,}")
    st.info("\n".join(f"- {a}" for a in report.advice), icon=":material/lightbulb:")
    for title, name, rows in review.tables(report):
        st.subheader(title, anchor=False)
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key=f"{key}_{name}")
    if report.quality.label_issues:
        st.subheader("Likely label errors", anchor=False)
        st.caption("A model trained on the other rows (cross-validated) confidently disagrees. Review, don't blindly accept"
                   + (" — accept them under **Fix** below." if key == "version" else "."))
        if key != "version":
            st.dataframe(pd.DataFrame(review.label_issue_rows(report)).drop(columns="id"), hide_index=True,
                         width="stretch", key=f"{key}_issues")
    for note in report.notes:
        st.caption(note)
    chart_cols = st.columns(2)
    chart_cols[0].altair_chart(charts.class_counts_chart(r.label for r in report.rows), width="stretch")
    if report.tokens and report.tokens.per_row:
        t = report.tokens
        chart_cols[1].altair_chart(charts.token_length_chart(t.per_row, t.encoding, t.model), width="stretch")
        s = t.summary()
        chart_cols[1].caption(f"total {s['total']:,} · median {s['median']} · p95 {s['p95']} · max {s['max']} · limit {s['limit'] or '—'}")
    if report.training:
        st.subheader("Training cost", anchor=False)
        st.dataframe(pd.DataFrame(review.training_cost_rows(report, catalog)), hide_index=True, width="stretch",
                     key=f"{key}_cost")
        st.caption(f"{report.training_rows:,} training examples, OpenAI's default epochs (3, adjusted so that "
                   "examples × epochs lands in 100–25,000).")


tab_version, tab_import, tab_teacher = st.tabs(["Current version", "Import", "Teacher labelling"])

# --- the current version ----------------------------------------------------------------------------------

with tab_version:
    if "ds_message" in st.session_state:
        message, frozen = st.session_state.pop("ds_message")
        (st.warning if frozen else st.success)(message, icon=":material/history:")
    df = pd.DataFrame([{"id": e.id, "text": e.text, "label": e.label, "split": e.split} for e in ds.examples])
    st.altair_chart(charts.split_balance_chart(ds.examples), width="stretch")
    split = st.segmented_control("Split", ["all", "train", "dev", "test"], default="all")
    shown = df if split in (None, "all") else df[df["split"] == split]
    st.dataframe(shown, hide_index=True, width="stretch")

    for col, d in zip(st.columns(4), export.downloads(ds, versions.preference_pairs(store, ds))):
        col.download_button(d.label, d.data, file_name=d.file_name, mime=d.mime, disabled=d.empty, help=d.help)

    st.divider()
    st.subheader("Report", anchor=False)
    report = _report(("version", ds.hash, model, semantic), lambda progress: datareport.from_dataset(
        ds, model=model, embeddings=semantic, progress=progress))
    draw_report(report, "version")

    st.subheader("Fix", anchor=False)
    f1, f2 = st.columns(2)
    pii_ids = review.pii_example_ids(report)
    if f1.button(f"Redact personal data in {len(pii_ids)} example(s)", disabled=not pii_ids, icon=":material/visibility_off:",
                 help="Replaces each finding with a typed placeholder such as [EMAIL] or [PHONE], in a new version."):
        _save(ds.with_examples(versions.redact(ds.examples, pii_ids)), f"redacted PII in {len(pii_ids)} examples")
    extra = review.duplicates_to_drop(report)
    if f2.button(f"Drop {len(extra)} duplicate(s), keep the first of each group", disabled=not extra, icon=":material/delete_sweep:",
                 help="Groups whose labels disagree are left for you to decide (relabel below)."):
        _save(ds.with_examples(versions.drop(ds.examples, extra)), f"dropped {len(extra)} duplicates")

    if report.quality.label_issues:
        issues = pd.DataFrame(review.relabel_rows(report))
        edited = st.data_editor(issues, hide_index=True, width="stretch", key="ds_issues",
                                disabled=["id", "text", "label", "confidence"],
                                column_config={"suggested": st.column_config.SelectboxColumn(options=ds.task.label_names)})
        chosen = edited[edited["accept"]]
        if st.button(f"Relabel {len(chosen)} accepted example(s)", disabled=chosen.empty, icon=":material/done_all:"):
            _save(ds.with_examples(versions.relabel(ds.examples, dict(zip(chosen["id"], chosen["suggested"])))),
                  f"relabelled {len(chosen)} examples")

    with st.expander("Edit texts and labels", icon=":material/edit:"):
        editor = st.data_editor(df, hide_index=True, width="stretch", key="ds_editor", disabled=["id", "split"],
                                column_config={"label": st.column_config.SelectboxColumn(options=ds.task.label_names)})
        edits = versions.table_edits(ds.examples, editor.to_dict("records"))
        if st.button(f"Save {len(edits)} edit(s) as a new version", disabled=not edits):
            _save(ds.with_examples(versions.apply_edits(ds.examples, edits)), f"edited {len(edits)} examples")

    with st.expander("Split", icon=":material/call_split:"):
        frozen_runs = runs.test_runs(store, ds.hash)
        if frozen_runs:
            st.info(f"The test split was used by {frozen_runs} evaluation run(s): it is frozen. Re-splitting only "
                    "re-draws train and dev.", icon=":material/lock:")
        s1, s2, s3 = st.columns(3)
        seed = s1.number_input("Seed", value=7, step=1)
        dev_share = s2.slider("Dev share", 0.05, 0.4, 0.15, 0.05)
        test_share = s3.slider("Test share", 0.1, 0.5, 0.25, 0.05, disabled=bool(frozen_runs))
        if st.button("Re-split (stratified by label)", icon=":material/shuffle:"):
            _save(ds.with_examples(versions.resplit(ds, bool(frozen_runs), seed=int(seed), dev=dev_share, test=test_share)),
                  f"re-split with seed {int(seed)}")

# --- import ------------------------------------------------------------------------------------------------

with tab_import:
    upload = st.file_uploader("Upload a file", type=ACCEPT, key="ds_upload", max_upload_size=shared.max_upload_mb(),
                              help="CSV/TSV (delimiter and encoding sniffed), Excel, JSONL: OpenAI chat format, "
                                   "{text, label} rows, or preference pairs for DPO.")
    pasted = st.text_area("…or paste rows", key="ds_paste", height=100,
                          placeholder="text<TAB>label per line, CSV with a header, JSONL, or one text per line")
    data, name = (upload.getvalue(), upload.name) if upload is not None else (pasted.encode("utf-8"), "pasted.txt") if pasted.strip() else (None, None)
    if data is not None:
        digest = hashlib.sha256(data).hexdigest()[:16]
        picked = {k: st.session_state.get(f"ds_map_{k}_{digest}") for k in MAPPED}  # "—": no such column
        imported = _import(data, name, importer.ColumnMapping(**{k: v for k, v in picked.items() if v != "—"}))
        if imported.columns and len(imported.columns) > 1:
            for col, field in zip(st.columns(4), MAPPED):
                options = ["—"] + imported.columns
                current = getattr(imported.mapping, field)
                col.selectbox(f"{field.capitalize()} column", options, index=options.index(current) if current in options else 0,
                              key=f"ds_map_{field}_{digest}")
        use_task = st.radio("Label set", ["from the file", f"the current task ({ds.task.name})"], horizontal=True,
                            key="ds_labelset", help="Against the current task, answers outside its labels are errors.")
        imp_report = _import_report(imported, f"{digest}:{imported.mapping}", ds.task if use_task.startswith("the current") else None)
        if not imported.error:
            st.caption(f"Read **{imported.name}** as {imported.format} ({imported.encoding}); "
                       f"mapping: text = `{imported.mapping.text}`, label = `{imported.mapping.label}`")
        draw_report(imp_report, "import")
        if not imp_report.error:
            ds_name = st.text_input("Name of the new dataset", value=imported.name, key="ds_name")
            if st.button("Save as a new dataset version", type="primary", icon=":material/save:",
                         disabled=imp_report.task is None or not imp_report.rows,
                         help="Saves the usable rows (errors left out) and makes the version current.") \
                    and not shared.refused(shared.dataset_quota(len(data), len(imp_report.rows))):  # public visitor quotas
                saved = versions.save_import(store, imp_report, ds_name, imported.name)
                shared.select_dataset(saved.hash)
                st.session_state["ds_message"] = (saved.message, False)
                st.rerun()

# --- teacher labelling --------------------------------------------------------------------------------------

with tab_teacher:
    unlabelled = [e for e in ds.examples if e.label is None]
    if not unlabelled:
        st.info("Every example of this version has a label. Import a file with unlabelled rows to use a teacher.",
                icon=":material/school:")
    else:
        st.markdown(f"**{len(unlabelled)}** unlabelled example(s). A teacher labels them; unsure answers wait here "
                    "for your review before they join the training data.")
        teachers = labelling.teachers(datareport.local_tier_installed(),
                                      openai_models if shared.api_key() or shared.base_url() else ())
        t1, t2 = st.columns([2, 1])
        teacher = t1.selectbox("Teacher", teachers, key="ds_teacher", help="Any approach; a large hosted model is the classic teacher.")
        threshold = t2.slider("Review below confidence", 0.0, 1.0, labelling.DEFAULT_THRESHOLD, 0.05, key="ds_threshold")
        if st.button(f"Label {len(unlabelled)} example(s)", icon=":material/school:"):
            bar = st.progress(0.0, text="labelling…")
            try:
                st.session_state["ds_teacher_results"] = (ds.hash, labelling.teach(
                    ds, teacher, threshold=threshold, progress=lambda d, n: bar.progress(d / max(n, 1), text=f"{d}/{n}"),
                    store=store, api_key=shared.api_key(), base_url=shared.base_url()))
            except Exception as exc:  # a refused key, an unreachable server: say so, keep the page alive
                st.error(f"Teacher labelling failed: {exc}", icon=":material/error:")
            bar.empty()
        h, results = st.session_state.get("ds_teacher_results", (None, []))
        if h == ds.hash and results:
            table = pd.DataFrame(labelling.review_rows(results))
            st.caption(f"{int(table['review'].sum())} of {len(table)} need review (confidence < {threshold:.2f} or no valid label).")
            reviewed = st.data_editor(table, hide_index=True, width="stretch", key="ds_review",
                                      disabled=["id", "text", "confidence", "review"],
                                      column_config={"label": st.column_config.SelectboxColumn(options=ds.task.label_names)})
            accepted = reviewed[reviewed["accept"] & reviewed["label"].notna()]
            if st.button(f"Add {len(accepted)} accepted label(s) as a new version", disabled=accepted.empty, type="primary"):
                _save(ds.with_examples(labelling.apply(ds.examples, dict(zip(accepted["id"], accepted["label"])))),
                      f"teacher-labelled {len(accepted)} examples ({teacher})")
