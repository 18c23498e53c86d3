"""Home, Evaluate, Decide and the memo show the same recommendation for the same runs (issue 14)."""

import pytest

from tests.conftest import open_page


def _headline(at) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("**Recommendation.** ")]


@pytest.fixture
def home(workspace, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return open_page("pages/home.py")


def test_every_page_and_the_memo_show_one_recommendation(home, workspace):
    from core.data import dataset as datasets
    from core.decision import memo
    from core.decision import recommendation as recs
    from core.store import open_store

    at = home
    shown = {"home": _headline(at)}
    for page in ("pages/evaluate.py", "pages/decide.py"):
        at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        shown[page] = _headline(at)
    assert all(len(v) == 1 for v in shown.values()), shown
    assert len({v[0] for v in shown.values()}) == 1, shown  # word for word, with its confidence
    headline = shown["home"][0]
    assert headline.startswith("**Recommendation.** Use ")

    store = open_store(workspace)
    sample = datasets.load_sample()
    ids = recs.default_run_ids(store, sample.hash)
    rec = recs.for_runs(store, sample, ids)
    assert f"**Recommendation.** {rec.headline}" in headline
    m = memo.build(store, sample, ids)
    assert f"**{rec.headline}**" in m.markdown and "p (Holm)" in m.markdown
    table = [line for line in m.markdown.splitlines() if line.startswith("| [")]
    assert len(table) == len(rec.comparisons)
    for line, c in zip(table, rec.comparisons):  # the comparison table, in the recommendation's order
        assert c.approach in line and f"| {c.outcome}" in line

    # Settings changed on Decide travel with the session: Home then shows Decide's recommendation again.
    at.select_slider(key="calls_per_day").set_value(100).run()
    on_decide = _headline(at)
    at.switch_page("pages/home.py").run()
    assert _headline(at) == on_decide and "a month at your volume" in on_decide[0]
