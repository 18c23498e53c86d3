"""The Decide page in AppTest: slider → break-even, questionnaire → recommendation, evidence, custom rows."""

import re

import pytest
from streamlit.testing.v1 import AppTest

from core.data import dataset as datasets
from core.data.task import Label, Task

TICKETS = {
    "billing": ["I was charged twice for my order #{i}, please refund one payment",
                "Invoice {i} shows the wrong VAT amount, can you correct it?"],
    "bug": ["The app crashes when I open the camera view (attempt {i})",
            "Error code E{i} appears after the firmware update and the plug stays offline"],
    "account": ["I cannot log in, the verification code {i} never arrives",
                "Please change the email on my account, ticket {i}"],
}


@pytest.fixture
def app(store, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    task = Task(name="Tickets", labels=[Label(name=n, description=f"{n} problems and questions") for n in TICKETS])
    examples = tuple(
        datasets.Example(id=f"{label}-{i}", text=TICKETS[label][i % 2].format(i=i), label=label,
                         split="test" if i % 5 == 0 else "train")
        for label in TICKETS for i in range(30)
    )
    h = datasets.save(store, datasets.Dataset(name="tickets", task=task, examples=examples))
    at = AppTest.from_file("../pages/decide.py", default_timeout=60)
    at.session_state["dataset_hash"] = h
    return at


def _metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def _recommendations(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_moving_the_slider_changes_the_break_even(app):
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    app.text_area(key="system_prompt").input("You sort support tickets. " * 120).run()  # a long (>500 token) prompt
    at_10k = _metric(app, "Break-even")
    assert re.fullmatch(r"[\d,.]+ days", at_10k)
    app.select_slider(key="calls_per_day").set_value(100).run()
    at_100 = _metric(app, "Break-even")
    assert at_100 != at_10k
    assert float(at_100.split()[0].replace(",", "")) > float(at_10k.split()[0].replace(",", ""))
    app.select_slider(key="calls_per_day").set_value(10_000_000).run()
    assert _metric(app, "Prompted baseline / day") != "$0.00"


@pytest.mark.parametrize("widgets, expect", [
    ({}, "Few-shot prompting"),
    ({"q_need": "knowledge"}, "Never fine-tune for facts"),
    ({"q_examples": 20}, "Improve the prompt and collect data"),
    ({"q_format": True}, "Fine-tune (hosted)"),
    ({"q_format": True, "q_pii": True}, "Fine-tune locally"),
    ({"q_format": True, "q_org_open": False}, "Fine-tune locally"),
])
def test_every_questionnaire_path_yields_a_recommendation_with_reasons(app, widgets, expect):
    app.run()
    app.select_slider(key="calls_per_day").set_value(1000).run()
    kinds = {"q_need": app.radio, "q_examples": app.number_input}
    for key, value in widgets.items():
        kinds.get(key, app.checkbox)(key=key).set_value(value)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    text = _recommendations(app)
    assert expect in text
    assert re.search(r"RECOMMENDED|NEXT STEP", text) and re.search(r"^- .+ `[a-z-]+`$", text, re.M)  # a reason and its rule
    assert "digraph" in app.get("graphviz_chart")[0].proto.spec and "penwidth=3" in app.get("graphviz_chart")[0].proto.spec


def test_evidence_mode_fills_from_runs_and_names_them(app, store):
    with store.transaction() as c:
        h = app.session_state["dataset_hash"]
        run_id = c.execute("INSERT INTO runs(dataset_hash, split, approach, config_hash, config_json, backend, model, status)"
                           " VALUES (?, 'test', 'openai:gpt-4o-mini:zero-shot', 'x', '{}', 'openai', 'gpt-4o-mini', 'done')",
                           (h,)).lastrowid
        for i, (gold, label) in enumerate([("bug", "bug"), ("bug", "billing")]):
            c.execute("INSERT INTO predictions(run_id, example_idx, gold, label, latency_ms, input_tokens, output_tokens)"
                      " VALUES (?, ?, ?, ?, 640, 777, 2)", (run_id, i, gold, label))
    app.run()
    app.button(key="use_evidence").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.number_input(key="prompt_tokens").value == 777
    assert app.number_input(key="q_prompted_latency").value == 640
    assert any(f"measured: run #{run_id}" in c.value for c in app.caption)


def test_empty_store_offers_no_evidence_and_still_recommends(app):
    app.run()
    assert not [b for b in app.button if b.key == "use_evidence"]
    assert any("No evaluation runs" in i.value for i in app.info)
    assert "BASELINE" in _recommendations(app)


def _by_label(elements, label):
    return next(e for e in elements if e.label == label)


def test_custom_catalog_row_needs_a_source_then_is_saved_and_priced(app, store):
    app.run()
    _by_label(app.text_input, "Model id").input("llama-3.1-8b-vllm")
    _by_label(app.number_input, "Input $/1M").set_value(0.05)
    _by_label(app.number_input, "Output $/1M").set_value(0.05)
    _by_label(app.button, "Save row").click().run()
    assert any("source" in e.value for e in app.error)  # refused: every row says where its figures come from

    _by_label(app.text_input, "Source").input("our GPU invoice 2026-11")
    _by_label(app.button, "Save row").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert any(o.endswith("· llama-3.1-8b-vllm") for o in app.selectbox(key="decide_model").options)
    app.selectbox(key="decide_model").set_value("llama-3.1-8b-vllm").run()
    prompt_tokens = app.number_input(key="prompt_tokens").value
    assert _metric(app, "Prompted baseline / day") == f"${10_000 * (prompt_tokens * 0.05 + app.number_input(key='output_tokens').value * 0.05) / 1e6:,.2f}"
    from core.catalog import load_catalog
    assert load_catalog(store=store).get("llama-3.1-8b-vllm").origin == "store"
