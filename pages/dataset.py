"""Dataset: import, validate, clean, split and export fine-tuning data — every problem with its line number."""

from __future__ import annotations

import hashlib

import altair as alt
import pandas as pd
import streamlit as st

from core.data import report as datareport, export, importer, versions

from core import labelling
from core.evaluation import runs
from core.catalog import load_catalog
from pages import _shared as shared

shared.ensure_app_navigation()

ACCEPT = ["csv", "tsv", "txt", "jsonl", "json", "ndjson", "xlsx", "xlsm"]

st.title("Dataset")
st.markdown(
    "Import a CSV, TSV, Excel or JSONL file, see every problem with its line number, fix it in place, "
    "split, and download OpenAI-ready JSONL. Every fix saves a **new version**; old versions stay in the store."
)
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
semantic = right.toggle(
    "Semantic checks (MiniLM)", value=datareport.local_tier_installed(), key="ds_semantic",
    disabled=not datareport.local_tier_installed(),
    help="Embeds the texts with the local encoder: finds paraphrased duplicates and sharpens the label check. "
         f"Up to {datareport.EMBEDDING_MAX_ROWS:,} rows; needs the local tier.",
)


# --- cached computations (pure: core decides) ---------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=8)
def _import(data: bytes, name: str, text: str | None, label: str | None, split: str | None, ident: str | None):
    return importer.read_bytes(data, name, importer.ColumnMapping(text=text, label=label, split=split, id=ident))


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


def _version_report(h: str):
    return _report(("version", h, model, semantic), lambda progress: datareport.from_dataset(
        shared.load_version(store.path.as_posix(), h), model=model, embeddings=semantic, progress=progress))


def _import_report(imported, key: str, task):
    return _report(("import", key, task.model_dump_json() if task else None, model, semantic),
                   lambda progress: datareport.build(imported, task=task, model=model, embeddings=semantic, progress=progress))


def _save(new, note: str) -> None:
    """Save an edited version, make it current, and tell the user on the next run."""
    saved = versions.save_version(store, ds, new, note, test_runs=runs.test_runs(store, ds.hash))
    shared.select_dataset(saved.hash)
    st.session_state["ds_message"] = (saved.message, saved.test_was_frozen and saved.test_changed > 0)
    st.rerun()


# --- drawing a report ---------------------------------------------------------------------------------


def draw_report(report: datareport.DataReport, key: str) -> None:
    if report.error:
        st.error(report.error, icon=":material/block:")
        return
    q = report.quality
    cols = st.columns(8)
    for col, (name, value) in zip(cols, [
        ("Rows", report.records), ("Usable", len(report.rows)), ("Errors", len(report.errors)),
        ("Warnings", len(report.warnings)), ("PII", len(report.pii)), ("Duplicates", len(q.duplicates)),
        ("Conflicts", len(q.conflicts)), ("Label issues", len(q.label_issues)),
    ]):
        col.metric(name, f"{value:,}")
    st.info("\n".join(f"- {a}" for a in report.advice), icon=":material/lightbulb:")
    rows = report.rows
    if report.findings:
        st.subheader("Findings", anchor=False)
        st.dataframe(pd.DataFrame([{"line": f.line, "severity": f.severity, "code": f.code, "message": f.message}
                                   for f in report.findings]), hide_index=True, width="stretch", key=f"{key}_findings")
    if report.pii:
        st.subheader("Personal data", anchor=False)
        st.dataframe(pd.DataFrame([{"line": rows[i].line, "kind": m.kind, "found": m.text} for i, m in report.pii]),
                     hide_index=True, width="stretch", key=f"{key}_pii")
    if q.duplicates:
        st.subheader("Duplicates and conflicts", anchor=False)
        conflicting = {g.rows for g in q.conflicts}
        st.dataframe(pd.DataFrame([{
            "lines": ", ".join(str(rows[i].line) for i in g.rows), "kind": g.kind, "similarity": g.similarity,
            "labels": ", ".join(sorted({str(rows[i].label) for i in g.rows})), "conflict": g.rows in conflicting,
            "text": rows[g.rows[0]].text[:120]} for g in q.duplicates]), hide_index=True, width="stretch", key=f"{key}_dupes")
    if q.label_issues:
        st.subheader("Likely label errors", anchor=False)
        st.caption("A model trained on the other rows (cross-validated) confidently disagrees. Review, don't blindly accept"
                   + (" — accept them under **Fix** below." if key == "version" else "."))
        if key != "version":
            st.dataframe(pd.DataFrame([{"line": rows[x.row].line, "label": x.given, "suggested": x.suggested,
                                        "confidence": x.confidence, "text": rows[x.row].text[:160]} for x in q.label_issues]),
                         hide_index=True, width="stretch", key=f"{key}_issues")
    for note in report.notes:
        st.caption(note)
    chart_cols = st.columns(2)
    counts = pd.Series([r.label or "(unlabelled)" for r in rows]).value_counts().rename_axis("label").reset_index(name="examples")
    chart_cols[0].altair_chart(
        alt.Chart(counts).mark_bar().encode(y=alt.Y("label:N", sort="-x", title=None), x="examples:Q",
                                            tooltip=["label", "examples"]).properties(title="Examples per class"),
        width="stretch")
    if report.tokens and report.tokens.per_row:
        t = report.tokens
        hist = pd.DataFrame({"tokens": t.per_row})
        chart_cols[1].altair_chart(
            alt.Chart(hist).mark_bar().encode(x=alt.X("tokens:Q", bin=alt.Bin(maxbins=40), title=f"tokens per example ({t.encoding})"),
                                              y=alt.Y("count():Q", title="examples"))
            .properties(title=f"Token length — {t.model}"), width="stretch")
        s = t.summary()
        chart_cols[1].caption(f"total {s['total']:,} · median {s['median']} · p95 {s['p95']} · max {s['max']} · limit {s['limit'] or '—'}")
    if report.training:
        st.subheader("Training cost", anchor=False)
        st.dataframe(pd.DataFrame([{
            "model": m, "epochs": e.epochs, "tokens per epoch": e.tokens_per_epoch, "billed tokens": e.billed_tokens,
            "US$": round(e.cost_usd, 2), "no new jobs from": str(catalog.get(m).no_new_jobs or "—"),
            "retires": str(catalog.get(m).retires or "—"),
        } for m, e in report.training.items()]), hide_index=True, width="stretch", key=f"{key}_cost")
        st.caption(f"{report.training_rows:,} training examples, OpenAI's default epochs (3, adjusted so that "
                   "examples × epochs lands in 100–25,000).")


tab_version, tab_import, tab_teacher = st.tabs(["Current version", "Import", "Teacher labelling"])

# --- the current version ----------------------------------------------------------------------------------

with tab_version:
    if "ds_message" in st.session_state:
        message, frozen = st.session_state.pop("ds_message")
        (st.warning if frozen else st.success)(message, icon=":material/history:")
    df = pd.DataFrame([{"id": e.id, "text": e.text, "label": e.label, "split": e.split} for e in ds.examples])
    balance = df.assign(label=df["label"].fillna("(unlabelled)")).groupby(["label", "split"]).size().reset_index(name="examples")
    st.altair_chart(
        alt.Chart(balance).mark_bar().encode(
            y=alt.Y("label:N", sort="-x", title=None), x=alt.X("examples:Q", title="examples"),
            color=alt.Color("split:N", sort=["train", "dev", "test"]), tooltip=["label", "split", "examples"],
        ).properties(title="Examples per label and split", height=28 * max(3, df["label"].nunique())),
        width="stretch",
    )
    split = st.segmented_control("Split", ["all", "train", "dev", "test"], default="all")
    shown = df if split in (None, "all") else df[df["split"] == split]
    st.dataframe(shown, hide_index=True, width="stretch")

    d1, d2, d3, d4 = st.columns(4)
    d1.download_button("Train JSONL (OpenAI chat)", export.chat_jsonl(ds, "train").encode("utf-8"),
                       file_name=export.file_name(ds, "train", "jsonl"), mime="application/jsonl",
                       help="The labelled train split; the system prompt is rendered from the task.")
    d2.download_button("Validation JSONL (dev)", export.chat_jsonl(ds, "dev").encode("utf-8"),
                       file_name=export.file_name(ds, "dev", "jsonl"), mime="application/jsonl")
    d3.download_button("CSV (all splits)", export.csv_text(ds.examples).encode("utf-8"),
                       file_name=export.file_name(ds, "all", "csv"), mime="text/csv",
                       help="Cells that a spreadsheet would run as formulas get a leading apostrophe.")
    pairs = versions.preference_pairs(store, ds)
    d4.download_button("DPO JSONL (preference pairs)", export.preference_jsonl(ds.task, pairs).encode("utf-8"),
                       file_name=export.file_name(ds, "dpo", "jsonl"), mime="application/jsonl", disabled=not pairs,
                       help="Only when the imported file had preference pairs (chosen / rejected answers).")

    st.divider()
    st.subheader("Report", anchor=False)
    report = _version_report(ds.hash)
    draw_report(report, "version")

    st.subheader("Fix", anchor=False)
    by_row = {i: report.rows[i].id for i in range(len(report.rows))}
    f1, f2 = st.columns(2)
    pii_ids = sorted({by_row[i] for i, _ in report.pii})
    if f1.button(f"Redact personal data in {len(pii_ids)} example(s)", disabled=not pii_ids, icon=":material/visibility_off:",
                 help="Replaces each finding with a typed placeholder such as [EMAIL] or [PHONE], in a new version."):
        _save(ds.with_examples(versions.redact(ds.examples, pii_ids)), f"redacted PII in {len(pii_ids)} examples")
    conflicting = {g.rows for g in report.quality.conflicts}
    extra = [by_row[i] for g in report.quality.duplicates if g.rows not in conflicting for i in g.rows[1:]]
    if f2.button(f"Drop {len(extra)} duplicate(s), keep the first of each group", disabled=not extra, icon=":material/delete_sweep:",
                 help="Groups whose labels disagree are left for you to decide (relabel below)."):
        _save(ds.with_examples(versions.drop(ds.examples, extra)), f"dropped {len(extra)} duplicates")

    if report.quality.label_issues:
        issues = pd.DataFrame([{"accept": False, "id": by_row[x.row], "text": report.rows[x.row].text, "label": x.given,
                                "suggested": x.suggested, "confidence": x.confidence} for x in report.quality.label_issues])
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
        changed = editor[(editor["text"] != df["text"]) | (editor["label"].fillna("") != df["label"].fillna(""))]
        if st.button(f"Save {len(changed)} edit(s) as a new version", disabled=changed.empty):
            new = {r.id: (r.text, r.label if isinstance(r.label, str) and r.label else None) for r in changed.itertuples()}
            from dataclasses import replace

            _save(ds.with_examples([replace(e, text=new[e.id][0], label=new[e.id][1]) if e.id in new else e for e in ds.examples]),
                  f"edited {len(changed)} examples")

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
        mapping = {k: st.session_state.get(f"ds_map_{k}_{digest}") for k in ("text", "label", "split", "id")}
        imported = _import(data, name, **{"ident" if k == "id" else k: (v if v != "—" else None) for k, v in mapping.items()})
        if imported.columns and len(imported.columns) > 1:
            cols = st.columns(4)
            for col, field in zip(cols, ("text", "label", "split", "id")):
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
                         help="Saves the usable rows (errors left out) and makes the version current."):
                new = datareport.to_dataset(imp_report, name=ds_name)
                h = versions.save_version(store, None, new, f"imported {imported.name}").hash
                rejected = datareport.rejected_answers(imp_report, new)
                if rejected:
                    versions.save_preferences(store, h, rejected)
                shared.select_dataset(h)
                st.session_state["ds_message"] = (f"Saved {len(new.examples)} examples as version {h[:8]}.", False)
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
        teachers = ["classical:tfidf-lr"]
        if datareport.local_tier_installed():
            teachers += ["local:rag:k=8", "local:few-shot:k=8"]
        if shared.api_key() or shared.base_url():
            teachers += [f"openai:{m}:few-shot:k=8" for m in openai_models]
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
            table = pd.DataFrame([{"accept": not t.needs_review, "id": t.example_id, "text": t.text, "label": t.label,
                                   "confidence": t.confidence, "review": t.needs_review} for t in results])
            st.caption(f"{int(table['review'].sum())} of {len(table)} need review (confidence < {threshold:.2f} or no valid label).")
            reviewed = st.data_editor(table, hide_index=True, width="stretch", key="ds_review",
                                      disabled=["id", "text", "confidence", "review"],
                                      column_config={"label": st.column_config.SelectboxColumn(options=ds.task.label_names)})
            accepted = reviewed[reviewed["accept"] & reviewed["label"].notna()]
            if st.button(f"Add {len(accepted)} accepted label(s) as a new version", disabled=accepted.empty, type="primary"):
                _save(ds.with_examples(labelling.apply(ds.examples, dict(zip(accepted["id"], accepted["label"])))),
                      f"teacher-labelled {len(accepted)} examples ({teacher})")
