"""The decision memo carries the current runs' numbers, the charts, and a link from every number to its run."""

import re

import pytest

from core.data import dataset as datasets
from core.decision import memo
from core.evaluation import metrics, preload, runs
from core.backends import approach_from_spec
from tests.conftest import open_page


@pytest.fixture
def evaluated(store):
    preload.ensure_preloaded(store)
    sample = datasets.load_sample()
    fresh = runs.execute(store, sample, approach_from_spec("classical:tfidf-lr:C=0.1"), "test")  # a run made now
    ids = [r["id"] for r in runs.list_runs(store, sample.hash, "test")]
    return store, sample, ids, fresh


def test_memo_has_the_current_numbers_charts_and_links(evaluated):
    store, sample, ids, fresh = evaluated
    m = memo.build(store, sample, ids)
    for run_id in ids:
        acc = metrics.compute(runs.predictions(store, run_id), sample.task.label_names).accuracy
        # each accuracy appears as a link to its run, and the run is described in the appendix
        assert f"[{acc:.1%}](#run-{run_id})" in m.markdown
        assert f'<a href="#run-{run_id}">{acc:.1%}</a>' in m.html
        assert f'<a id="run-{run_id}"></a>' in m.html
    assert "classical:tfidf-lr:C=0.1" in m.markdown and fresh.origin == ""
    assert m.html.count("<svg") == 2 and m.markdown.count("data:image/svg+xml;base64,") == 2
    for section in ("The question", "Evidence", "Break-even of fine-tuning", "Risks", "Decision"):
        assert f"## {section}" in m.markdown and f"<h2>{section}</h2>" in m.html
    assert "retires on 2027-01-14" in m.markdown  # the lifecycle risk of the default model
    assert m.filename_stem.startswith(f"decision-memo-{sample.hash[:8]}")


def test_memo_html_is_self_contained(evaluated):
    store, sample, ids, _ = evaluated
    html = memo.build(store, sample, ids).html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # no external fetches: it opens offline


def test_memo_needs_runs(store):
    with pytest.raises(ValueError, match="at least one"):
        memo.build(store, datasets.load_sample(), [])


@pytest.mark.parametrize("page", ["pages/evaluate.py", "pages/decide.py"])
def test_pages_offer_the_memo_on_a_fresh_workspace(page, workspace, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    at = open_page(page, timeout=120)
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Export decision memo (HTML)" in labels and "Export decision memo (Markdown)" in labels
