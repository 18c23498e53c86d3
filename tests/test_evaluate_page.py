"""The Evaluate page: run approaches with a progress bar, then metrics, significance, errors, downloads, verdict."""

import pytest

from tests.conftest import open_page
from tests.fake_openai import FakeOpenAI


@pytest.fixture
def page(workspace, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return open_page("pages/evaluate.py")


def _alerts(at) -> list[str]:
    return [str(el.value) for kind in ("success", "info", "warning", "error") for el in at.get(kind)]


def _recommendation(at) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("**Recommendation.** Use ")]


def test_fresh_workspace_shows_the_preloaded_verdict(page):
    """A first visit shows real evidence at once: the shipped local runs, with where they came from."""
    assert _recommendation(page)
    assert set(page.dataframe[0].value["spec"]) >= {"classical:tfidf-lr", "local:zero-shot"}
    assert "TF-IDF + logistic regression" in set(page.dataframe[0].value["approach"])  # in words
    assert any("python -m core preload --regenerate" in c.value for c in page.caption)


def test_classical_and_prompted_model_side_by_side(page):
    with FakeOpenAI(noise=0.1) as server:
        page.session_state["openai_base_url"] = server.base_url
        page.run()
        page.multiselect[0].set_value(["classical:tfidf-lr"])
        page.text_input[0].set_value("fake-model")
        page.multiselect[1].set_value(["zero-shot", "few-shot (4 exemplars)"])
        page.button[0].click().run()
        assert not page.exception, [e.value for e in page.exception]
        assert server.count(status=200) > 0
    assert _recommendation(page)
    table = next(d.value for d in page.dataframe if "macro-F1" in d.value.columns)
    # Next to the pre-computed local runs of the sample task.
    assert set(table["spec"]) >= {"classical:tfidf-lr", "openai:fake-model:zero-shot", "openai:fake-model:few-shot:k=4"}
    assert "fake-model · few-shot prompt, 4 examples" in set(table["approach"])  # named in words
    assert table["accuracy"].between(0, 1).all() and (table["n"] > 50).all()
    # Significance tab: the explanation a manager reads.
    assert any("Holm-corrected p" in a and "test examples" in a or "undecided" in a for a in _alerts(page))
    # Downloads: the per-example CSV and the metrics JSON.
    labels = [b.proto.label for b in page.get("download_button")]
    assert any("CSV" in label for label in labels) and any("JSON" in label for label in labels)


def test_a_bad_spec_is_a_clear_error(page):
    page.multiselect[0].set_value([])
    page.text_area[0].set_value("local:telepathy")
    page.button[0].click().run()
    assert any("Bad approach spec" in a and "telepathy" in a for a in _alerts(page))


def test_charts_are_valid_vega_lite(store):
    """Every chart of the page builds a schema-valid spec, with one fixed colour per approach."""
    from core.evaluation import report, runs
    from core.backends import approach_from_spec
    from core.palette import colors_for
    from core.evaluation import charts
    from tests.eval_data import make_dataset

    ds = make_dataset(8, 10)
    run_list = [runs.execute(store, ds, approach_from_spec(s)) for s in ("classical:tfidf-lr", "classical:tfidf-lr:C=0.1")]
    rep = report.build(store, run_list, ds.task.label_names)
    for chart in (charts.accuracy_chart(rep), charts.cost_chart(rep), charts.latency_chart(rep),
                  charts.per_class_chart(rep), charts.confusion_chart(rep, "classical:tfidf-lr")):
        chart.to_dict()  # validates against the Vega-Lite schema
    cmap = colors_for(rep.metrics)
    assert len(set(cmap.values())) == 2 and cmap == colors_for(list(rep.metrics))
