"""Every page renders offline, without an API key, on a fresh workspace."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["pages/home.py", "pages/decide.py", "pages/prompts.py", "pages/dataset.py", "pages/train.py", "pages/evaluate.py"]


@pytest.fixture
def app(workspace, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)


@pytest.mark.parametrize("page", PAGES)
def test_page_renders(app, page):
    app.run()
    if page != "pages/home.py":
        app.switch_page(page).run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.title, f"{page} has no title"


def test_home_shows_sample_task_and_backend_status(app):
    app.run()
    assert "Fine-Tuning Lab" in app.title[0].value
    assert any("Support ticket" in s.value for s in app.subheader)
    sidebar_text = " ".join(el.value for kind in ("success", "info") for el in app.sidebar.get(kind))
    assert "local models ready" in sidebar_text
    assert "OpenAI-compatible endpoint: not configured" in sidebar_text
    labels = {m.label: m.value for m in app.metric}
    assert int(labels["Labels"]) >= 6
    assert int(labels["Test (frozen)"]) >= 80


def test_dataset_preview_filters_split(app):
    app.run()
    app.switch_page("pages/dataset.py").run()
    assert not app.exception
    total = len(app.dataframe[0].value)
    app.get("button_group")[0].set_value("test").run()
    assert 0 < len(app.dataframe[0].value) < total


LADDER = {"Gemma 3 270M · zero-shot prompt", "Gemma 3 270M · few-shot prompt, 8 examples",
          "Gemma 3 270M · RAG, 8 retrieved examples"}


def _approach_words(at) -> set[str]:
    return {str(v) for d in at.dataframe if "approach" in d.value.columns for v in d.value["approach"]}


def test_a_first_visit_shows_the_whole_ladder_in_words_on_home_and_evaluate(app):
    """The shipped evidence: one small LLM at every rung (prompt, examples, RAG, LoRA fine-tune) beside the
    classifiers, named in words, on Home and on Evaluate — before the visitor runs anything."""
    app.run()
    for page in ("pages/home.py", "pages/evaluate.py"):
        if page != "pages/home.py":
            app.switch_page(page).run()
        assert not app.exception, [e.value for e in app.exception]
        words = _approach_words(app)
        assert LADDER <= words, (page, words)
        assert any(w.startswith("Gemma 3 270M · LoRA fine-tuned") for w in words), (page, words)
        assert {"TF-IDF + logistic regression", "MiniLM embeddings · label-description similarity"} <= words
        assert any(w.startswith("SetFit (MiniLM) fine-tuned") for w in words), (page, words)
