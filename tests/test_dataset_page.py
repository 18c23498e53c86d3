"""The Dataset page, driven like a user: upload a file and read the report; redact PII into a new version."""

import json
import re

import pytest

from core.data import report as datareport
from core.data import dataset as datasets
from core.store import Store
from tests.conftest import open_page


@pytest.fixture
def app(workspace, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    # ds_semantic off: keep torch out of this test; the semantic path has its own tests
    return open_page("pages/dataset.py", session_state={"ds_semantic": False})


def current_hash(at):
    caption = next(c.value for c in at.caption if "· version `" in c.value)
    return re.search(r"version `([0-9a-f]{16})`", caption).group(1)


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def test_upload_shows_the_report_with_line_numbers(app):
    lines = [json.dumps({"messages": [{"role": "user", "content": f"where is parcel {i}"},
                                      {"role": "assistant", "content": ["shipping", "billing"][i % 2]}]}) for i in range(14)]
    lines[4] = lines[4][:30]                                    # truncated
    lines[8] = json.dumps({"messages": [{"role": "user", "content": "mail me: ann@example.com"}]})  # no answer
    lines.append(json.dumps({"messages": [{"role": "user", "content": "card 4111 1111 1111 1111 charged twice"},
                                          {"role": "assistant", "content": "billing"}]}))
    app.file_uploader(key="ds_upload").set_value(("tickets.jsonl", ("\n".join(lines) + "\n").encode(), "application/jsonl"))
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    # the import's tables come after the current version's (tab order): take the last of each kind
    findings = [df.value for df in app.dataframe if list(df.value.columns) == ["line", "severity", "code", "message"]][-1]
    errors = findings[findings["severity"] == "error"]
    assert {(int(r.line), r.code) for r in errors.itertuples()} == {(5, "invalid_json"), (9, "no_assistant")}
    pii = [df.value for df in app.dataframe if list(df.value.columns) == ["line", "kind", "found"]][-1]
    assert list(zip(pii["line"], pii["kind"])) == [(15, "CARD")]
    assert "Save as a new dataset version" in [b.label for b in app.button]


def test_unreadable_upload_is_an_error_message_not_an_exception(app):
    app.file_uploader(key="ds_upload").set_value(("blob.csv", b"\x00\x01binary" * 40, "text/csv"))
    app.run()
    assert not app.exception
    assert any("binary" in e.value for e in app.error)


def test_redaction_makes_a_new_version_without_pii(app, workspace):
    before = metric(app, "PII")
    assert int(before) > 0  # the sample tickets carry emails, phones, cards and IBANs
    old_hash = current_hash(app)
    button = next(b for b in app.button if b.label.startswith("Redact personal data"))
    button.click().run()
    assert not app.exception, [e.value for e in app.exception]
    new_hash = current_hash(app)
    assert new_hash != old_hash
    assert metric(app, "PII") == "0"
    store = Store(workspace / "lab.sqlite3")
    rescanned = datareport.from_dataset(datasets.load(store, new_hash), embeddings=False)
    assert rescanned.pii == []
    assert datasets.load(store, old_hash).hash == old_hash  # the previous version stays
    # The sample's test split was used by the pre-loaded evaluation runs, so it is frozen: the page says
    # that the redaction (which touches PII tickets in the test split) is a new, not comparable version.
    assert any("is frozen" in w.value and new_hash[:8] in w.value for w in app.warning)


def test_the_report_draws_before_any_semantic_check(workspace, monkeypatch):
    """A first visit draws the report without MiniLM (torch takes seconds to load); the toggle adds it on request."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    at = open_page("pages/dataset.py")
    assert at.toggle(key="ds_semantic").value is False
    assert at.subheader and any(s.value == "Report" for s in at.subheader)
    assert [key[-1] for key in at.session_state["ds_reports"]] == [False]  # (…, semantic): no embeddings computed
