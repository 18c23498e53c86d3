"""The Prompts page: a search against the loopback server shows the table and the chart; promoting sets the baseline."""

import pytest

from core.prompts import store as prompt_store
from core.data.dataset import load_sample
from core.prompts.search import latest
from tests.conftest import open_page
from tests.fake_openai import FakeOpenAI


@pytest.fixture
def server():
    with FakeOpenAI() as s:
        yield s


@pytest.fixture
def page(workspace, server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    return open_page("pages/prompts.py")


def charts(at):
    return at.get("vega_lite_chart")


def test_a_search_shows_table_chart_and_honesty_and_promoting_sets_the_baseline(page, server, store):
    at = page
    at.radio(key="prompts_backend").set_value("openai").run()
    at.radio(key="ps_retriever").set_value("tfidf").run()  # no MiniLM in this test
    at.number_input(key="ps_meta").set_value(0).run()
    at.number_input(key="prompts_calls_openai").set_value(1200).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Candidates" in [m.label for m in at.metric]  # the plan is shown before anything runs
    assert server.count() == 0
    assert not charts(at) and not at.dataframe

    at.button(key="prompts_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    paid = sum(server.billed.values())
    assert 0 < paid <= 1200
    assert charts(at), "no chart"
    table = at.dataframe[0].value
    assert {"dev_accuracy", "tokens_per_call", "cost_per_1k_usd", "role"} <= set(table.columns)
    assert (table["role"] == "chosen").sum() == 1 and (table["role"] == "naive").sum() == 1
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Chosen · test"] != "–" and metrics["Naive · dev"] != "–"
    # Honesty: the page warns exactly when the dev split cannot tell the top two candidates apart.
    honesty = latest(store, load_sample().hash)["result"]["honesty"]
    assert honesty["separable"] is not None and honesty["dev_n"] == len(load_sample().split("dev"))
    warned = any("cannot separate the top two" in w.value for w in at.warning)
    assert warned == (not honesty["separable"]), honesty
    assert len([d for d in at.get("download_button") if d.label != "Download a backup"]) == 2  # the sidebar has one

    ds_hash = load_sample().hash
    chosen = latest(store, ds_hash)["result"]["chosen"]["hash"]
    assert prompt_store.promoted_baseline(store, ds_hash) is None
    at.button(key="prompts_promote").click().run()
    assert not at.exception
    base = prompt_store.promoted_baseline(store, ds_hash)
    assert base is not None and base.hash == chosen and base.version == 1
    assert any(base.spec in s.value for s in at.success)

    # Evaluate offers the promoted prompt among its approaches, and already shows its (and the naive prompt's)
    # test run, measured once by the search.
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert base.spec in at.multiselect[0].options
    assert base.spec in at.multiselect[0].value  # pre-selected: it is the prompted baseline now
    assert any("Prompted baseline" in c.value and base.spec in c.value for c in at.caption)
    compared = next(w for w in at.multiselect if w.label == "Runs to compare")
    assert any(base.spec in opt for opt in compared.options)

    # The result survives a reload, and nothing is paid again.
    server.reset_counters()
    at.switch_page("pages/prompts.py").run()
    assert charts(at) and at.dataframe and server.count() == 0
    assert any("Prompted baseline now: v1" in c.value for c in at.caption)
    # A budget too small for a new search says how much is needed, and the stored result stays on screen.
    at.number_input(key="prompts_calls_openai").set_value(600).run()
    sample = load_sample()
    least = 2 * len(sample.split("test")) + len(sample.split("dev")) + 16
    assert any(f"give at least {least} calls" in e.value for e in at.error)
    assert charts(at) and at.dataframe and at.button(key="prompts_run").disabled
