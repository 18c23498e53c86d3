"""What the Dataset page shows of a report and what its fixes change, decided in core: duplicates dropped,
personal data found, edited tables, exported files, teachers offered, the charts."""

import json
import math

from core import labelling
from core.data import charts, export, review, versions
from core.data import dataset as datasets
from core.data import report as datareport
from core.data.dataset import Example
from core.data.importer import Row
from core.data.pii import PiiMatch
from core.data.quality import DuplicateGroup, QualityReport


def _report(labels, groups=(), conflicts=(), pii=()):
    rows = [Row(line=i + 2, text=f"text {i}", label=lab, id=f"e{i}") for i, lab in enumerate(labels)]
    quality = QualityReport(duplicates=[DuplicateGroup(g, "exact", 1.0) for g in groups],
                            conflicts=[DuplicateGroup(g, "exact", 1.0) for g in conflicts])
    return datareport.DataReport(name="t", rows=rows, quality=quality, pii=list(pii))


def test_drop_duplicates_keeps_the_first_of_each_group_and_leaves_conflicts_to_the_user():
    rep = _report(["a", "a", "a", "b", "c", "d"], groups=[(0, 1, 2), (3, 4)], conflicts=[(3, 4)])
    assert review.duplicates_to_drop(rep) == ["e1", "e2"]
    rows = review.duplicate_rows(rep)
    assert [r["conflict"] for r in rows] == [False, True]
    assert rows[0]["lines"] == "2, 3, 4" and rows[1]["labels"] == "b, c"


def test_redact_targets_each_example_with_personal_data_once():
    mail = PiiMatch("email", 0, 5, "a@b.c")
    rep = _report(["a", "b", "c"], pii=[(2, mail), (0, mail), (2, PiiMatch("phone", 6, 9, "555"))])
    assert review.pii_example_ids(rep) == ["e0", "e2"]
    assert [r["line"] for r in review.pii_rows(rep)] == [4, 2, 4]
    assert [title for title, _, _ in review.tables(rep)] == ["Personal data"]  # empty tables are not shown


def _examples():
    return [Example("e0", "refund please", "billing", "train"), Example("e1", "cannot log in", None, "train"),
            Example("e2", "parcel late", "shipping", "test")]


def test_only_rows_the_user_changed_become_edits():
    rows = [{"id": "e0", "text": "refund please", "label": "billing", "split": "train"},
            {"id": "e1", "text": "cannot log in", "label": math.nan, "split": "train"},  # NaN: still unlabelled
            {"id": "e2", "text": "parcel very late", "label": "shipping", "split": "test"}]
    assert versions.table_edits(_examples(), rows) == {"e2": ("parcel very late", "shipping")}


def test_a_cleared_label_unlabels_and_a_cleared_text_keeps_the_text():
    rows = [{"id": "e0", "text": "refund please", "label": ""}, {"id": "e1", "text": None, "label": "login"}]
    edits = versions.table_edits(_examples(), rows)
    assert edits == {"e0": ("refund please", None), "e1": ("cannot log in", "login")}
    edited = versions.apply_edits(_examples(), edits)
    assert [(e.id, e.text, e.label) for e in edited] == [
        ("e0", "refund please", None), ("e1", "cannot log in", "login"), ("e2", "parcel late", "shipping")]


def test_every_export_names_its_version_and_dpo_stays_empty_without_pairs():
    ds = datasets.load_sample()
    files = export.downloads(ds)
    assert [d.label.split(" ")[0] for d in files] == ["Train", "Validation", "CSV", "DPO"]
    assert all(ds.hash[:8] in d.file_name for d in files)
    assert files[-1].empty and not files[0].empty
    first = json.loads(files[0].data.decode().splitlines()[0])
    assert first["messages"][0]["role"] == "system"


def test_saving_an_import_keeps_its_preference_pairs(store):
    from core.data import importer

    lines = [json.dumps({"prompt": f"refund for order {i} please", "chosen": "billing", "rejected": "login"}) for i in range(6)]
    lines += [json.dumps({"prompt": f"password reset {i} fails", "chosen": "login", "rejected": "billing"}) for i in range(6)]
    rep = datareport.build(importer.read_bytes("\n".join(lines).encode(), "prefs.jsonl"), embeddings=False)
    saved = versions.save_import(store, rep, "prefs", "prefs.jsonl")
    assert saved.message == f"Saved 12 examples as version {saved.hash[:8]}."
    ds = datasets.load(store, saved.hash)
    assert len(versions.preference_pairs(store, ds, split=None)) == 12
    assert not export.downloads(ds, versions.preference_pairs(store, ds, split=None))[-1].empty


def test_hosted_teachers_are_offered_only_with_an_endpoint():
    assert labelling.teachers() == ["classical:tfidf-lr"]
    assert labelling.teachers(local_tier=True, hosted_models=["gpt-4.1"]) == [
        "classical:tfidf-lr", "local:rag:k=8", "local:few-shot:k=8", "openai:gpt-4.1:few-shot:k=8"]


def test_charts_count_unlabelled_examples_and_grow_with_the_labels():
    spec = charts.class_counts_chart(["a", None, "a"]).to_dict()
    values = next(iter(spec["datasets"].values()))
    assert {v["label"]: v["examples"] for v in values} == {"a": 2, "(unlabelled)": 1}
    few = charts.split_balance_chart(_examples()).to_dict()
    many = charts.split_balance_chart([Example(f"x{i}", "t", f"l{i}", "train") for i in range(10)]).to_dict()
    assert few["height"] == 28 * 3 and many["height"] == 28 * 10
    assert charts.token_length_chart([3, 5, 8], "o200k_base", "gpt-4.1").to_dict()["title"] == "Token length — gpt-4.1"
