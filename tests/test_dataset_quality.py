"""PII, duplicates, label issues, leakage, export, versions and teacher labelling on real data and a real store."""

import csv
import io
import json
import random
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from core.data import dataset as datasets
from core.data import report as datareport, export, pii, quality, versions
from core import labelling, tokens
from core.evaluation import runs
from core.data.dataset import Example

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("text, kind, found", [
    ("write to jane.doe+x@example.co.uk today", "EMAIL", "jane.doe+x@example.co.uk"),
    ("call +1 415 555 0134 after six", "PHONE", "+1 415 555 0134"),
    ("UK line 020 7946 0958 please", "PHONE", "020 7946 0958"),
    ("paid with 4111 1111 1111 1111 yesterday", "CARD", "4111 1111 1111 1111"),
    ("IBAN DE89 3704 0044 0532 0130 00 ASAP", "IBAN", "DE89 3704 0044 0532 0130 00"),
    ("my SSN is 123-45-6789", "SSN", "123-45-6789"),
    ("blocked from 192.168.10.1 again", "IP", "192.168.10.1"),
    ("deliver to 221B Baker Street, London", "ADDRESS", "221B Baker Street"),
    ("Lieferung an Hauptstraße 5, Berlin", "ADDRESS", "Hauptstraße 5"),
])
def test_pii_kinds(text, kind, found):
    matches = pii.scan(text)
    assert [(m.kind, m.text) for m in matches] == [(kind, found)]
    redacted = pii.redact(text)
    assert f"[{kind}]" in redacted and found not in redacted and pii.scan(redacted) == []


@pytest.mark.parametrize("text", [
    "order 4111111111111112 arrived",      # fails Luhn
    "IBAN DE89 3704 0044 0532 0130 01",     # fails mod-97
    "ticket #1234567 from 2024-05-03",      # an id and a date, not a phone
    "I can't log in since Tuesday",
])
def test_pii_no_false_alarm(text):
    assert pii.scan(text) == []


def test_near_duplicates_conflicts_and_leakage():
    texts = ["I was charged twice for my subscription", "i was charged TWICE for my subscription!!",
             "I was charged twice for my subscription this month", "The password reset link does not work",
             "My parcel never arrived at the door", "Completely different question about the hub"]
    labels = ["billing", "billing", "refund", "login", "shipping", "other"]
    splits = ["train", "test", "dev", "train", "test", "train"]
    report = quality.check(texts, labels, splits)
    assert [(g.rows, g.kind) for g in report.duplicates] == [((0, 1, 2), "near")]
    assert report.conflicts == report.duplicates  # billing vs refund
    assert report.leakage == [(1, 0)]


def test_label_issues_find_flipped_labels():
    rng = random.Random(0)
    vocab = {"billing": "charge invoice card refund payment", "login": "password login account locked code",
             "shipping": "parcel courier delivery tracking arrived"}
    texts, labels = [], []
    for i in range(150):
        lab = list(vocab)[i % 3]
        texts.append(" ".join(rng.sample(vocab[lab].split(), 3)) + f" please help {i}")
        labels.append(lab)
    flipped = [5, 40, 77, 121]
    for i in flipped:
        labels[i] = "login" if labels[i] != "login" else "billing"
    shingles = quality.shingle_matrix([quality.normalise(t) for t in texts])
    issues, note = quality.find_label_issues(labels, quality.tfidf_features(shingles))
    assert note is None
    found = {x.row for x in issues}
    assert set(flipped) <= found and len(found) <= len(flipped) + 3
    assert all(x.suggested != x.given and 0 < x.confidence <= 1 for x in issues)


def test_chat_token_counts_equal_the_tokens_module():
    task = datasets.load_sample().task
    convs = [export.chat_messages(task, t, lab) for t, lab in [("hello there", "other"), ("parcel late", "order_status")]]
    convs.append([{"role": "user", "content": "hi", "name": "sam"}, {"role": "assistant", "content": "other"}])
    model = datareport.DEFAULT_MODEL
    assert datareport.chat_token_counts(convs, model) == [tokens.count_chat_tokens(c, model) for c in convs]


def test_export_chat_jsonl_csv_and_file_name():
    sample = datasets.load_sample()
    ds = sample.with_examples(list(sample.examples[:3]) + [Example("x1", "=HYPERLINK(\"http://evil\")", "other", "train"),
                                                          Example("x2", "unlabelled", None, "train")])
    lines = export.chat_jsonl(ds, split="train").splitlines()
    train = [e for e in ds.split("train") if e.label]
    assert len(lines) == len(train)
    first = json.loads(lines[0])["messages"]
    assert first[0] == {"role": "system", "content": ds.task.system_prompt()}
    assert first[1]["content"] == train[0].text and first[2] == {"role": "assistant", "content": train[0].label}
    rows = list(csv.DictReader(io.StringIO(export.csv_text(ds.examples))))
    assert rows[3]["text"].startswith("'=HYPERLINK")
    assert export.neutralise("+1 415") == "'+1 415" and export.neutralise("plain") == "plain"
    assert ds.hash in export.file_name(ds, "train", "jsonl") and export.file_name(ds, "train", "jsonl").endswith("-train.jsonl")


def test_edits_make_versions_and_frozen_test_says_so(store):
    ds = datasets.load_sample()
    h0 = datasets.save(store, ds)
    test_ex = ds.split("test")[0]
    store.execute("INSERT INTO runs(dataset_hash, split, approach, config_hash, config_json, backend) "
                  "VALUES (?, 'test', 'classical:tfidf-lr', 'c', '{}', 'classical')", (h0,))
    # a train-only edit: a new version, nothing to warn about
    train_ex = ds.split("train")[0]
    used = runs.test_runs(store, h0)
    assert used == 1
    saved = versions.save_version(store, ds, ds.with_examples(versions.relabel(ds.examples, {train_ex.id: "other"})), "relabel",
                                  test_runs=used)
    assert saved.hash != h0 and saved.test_changed == 0 and "frozen" not in saved.message
    # an edit touching a used test example: still a new version, and it says so
    edited = ds.with_examples(versions.drop(ds.examples, [test_ex.id]))
    saved = versions.save_version(store, ds, edited, "drop duplicate", test_runs=used)
    assert saved.test_changed == 1 and saved.test_was_frozen and "frozen" in saved.message
    assert {v["hash"] for v in datasets.list_versions(store)} >= {h0, saved.hash}
    assert datasets.load(store, h0) == ds  # the old version is untouched
    # re-splitting keeps a used test split as it is
    redone = versions.resplit(ds, frozen=True, seed=99)
    assert [e.id for e in redone if e.split == "test"] == [e.id for e in ds.split("test")]
    assert [e.id for e in redone] == [e.id for e in ds.examples]


def test_redaction_version_has_no_pii_left(store):
    base = datasets.load_sample()
    leaky = base.with_examples([replace(e, text=e.text + " Reach me at sam@example.com or +44 20 7946 0958.") if i < 5 else e
                                for i, e in enumerate(base.examples)])
    own = len(datareport.from_dataset(base, embeddings=False).pii)  # the sample's tickets carry some PII themselves
    before = datareport.from_dataset(leaky, embeddings=False)
    assert len(before.pii) == own + 10
    redacted = leaky.with_examples(versions.redact(leaky.examples))
    saved = versions.save_version(store, leaky, redacted, "redact PII", test_runs=0)
    after = datareport.from_dataset(datasets.load(store, saved.hash), embeddings=False)
    assert after.pii == [] and "[EMAIL]" in after.rows[0].text and "[PHONE]" in after.rows[0].text


def test_preference_pairs_survive_import_and_edits(store, tmp_path):
    from core.data import importer

    lines = [json.dumps({"prompt": f"refund for order {i} please", "chosen": "billing", "rejected": "login"}) for i in range(6)]
    lines += [json.dumps({"prompt": f"password reset {i} fails", "chosen": "login", "rejected": "billing"}) for i in range(6)]
    report = datareport.build(importer.read_bytes("\n".join(lines).encode(), "prefs.jsonl"), embeddings=False)
    ds = datareport.to_dataset(report)
    h = datasets.save(store, ds)
    versions.save_preferences(store, h, datareport.rejected_answers(report, ds))
    edited = ds.with_examples(versions.drop(ds.examples, [ds.examples[0].id]))
    saved = versions.save_version(store, ds, edited, "drop one", test_runs=0)
    pairs = versions.preference_pairs(store, datasets.load(store, saved.hash), split=None)
    assert len(pairs) == 11
    out = [json.loads(x) for x in export.preference_jsonl(ds.task, pairs).splitlines()]
    assert out[0]["preferred_output"][0]["content"] != out[0]["non_preferred_output"][0]["content"]
    assert out[0]["input"]["messages"][0]["role"] == "system"


def test_teacher_labelling_queues_low_confidence_rows():
    sample = datasets.load_sample()
    hidden = {e.id: e.label for e in sample.split("dev")}
    ds = sample.with_examples([replace(e, label=None, split="train") if e.split == "dev" else e for e in sample.examples])
    results = labelling.teach(ds, "classical:tfidf-lr", threshold=0.5)
    assert {t.example_id for t in results} == set(hidden)
    sure = labelling.confident(results)
    assert sure and len(sure) < len(results)  # some accepted, some queued for review
    accuracy_sure = sum(hidden[k] == v for k, v in sure.items()) / len(sure)
    queued = [t for t in results if t.needs_review]
    accuracy_queued = sum(hidden[t.example_id] == t.label for t in queued) / len(queued)
    assert accuracy_sure > accuracy_queued  # confidence means something
    merged = labelling.apply(ds.examples, sure)
    assert sum(e.label is None for e in merged) == len(queued)


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "core", "validate", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_validate_cli_contract_and_exit_codes(tmp_path):
    clean = tmp_path / "clean.csv"
    rows = ["text,category"] + [f"ticket {i} about the {['parcel', 'invoice', 'password'][i % 3]} number {i * 7}," +
                                ["shipping", "billing", "login"][i % 3] for i in range(30)]
    clean.write_text("\n".join(rows) + "\n", encoding="utf-8")
    proc = _cli(str(clean), "--json", "--embeddings", "off", "--text-column", "text", "--label-column", "category")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert list(data) == ["rows", "valid_rows", "errors", "warnings", "pii", "duplicates", "conflicts",
                          "label_issues", "tokens", "training_cost_usd"]
    assert data["rows"] == data["valid_rows"] == 30 and data["errors"] == []
    assert data["tokens"]["total"] > 0 and data["training_cost_usd"]["gpt-4o-mini-2024-07-18"] > 0

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n{"messages": [\n', encoding="utf-8")
    proc = _cli(str(bad), "--json", "--embeddings", "off")
    assert proc.returncode == 1
    errors = json.loads(proc.stdout)["errors"]
    assert {(e["line"], e["code"]) for e in errors} >= {(1, "no_assistant"), (2, "invalid_json")}

    binary = tmp_path / "blob.jsonl"
    binary.write_bytes(b"\x00\xff" * 100)
    proc = _cli(str(binary), "--json")
    assert proc.returncode == 2 and "binary" in json.loads(proc.stdout)["error"]
    assert proc.stderr.count("\n") == 1
