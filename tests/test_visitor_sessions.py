"""Two concurrent visitor sessions of the public app (AppTest, one server process): each works in its own
scratch workspace; the owner, unlocked, works in the shared one; a visitor over a quota is refused."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
ROWS = "\n".join(f"visitor A secret ticket number {i} about my invoice\tbilling" if i % 2 else
                 f"visitor A secret ticket {i}: the app crashes on login\ttechnical" for i in range(12))


@pytest.fixture(autouse=True)
def scratch_root(workspace, tmp_path, monkeypatch):
    monkeypatch.setenv("FTLAB_SCRATCH_DIR", str(tmp_path / "scratch"))
    return tmp_path / "scratch"


def _session(**quota) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.secrets["public"] = {"enabled": True, "owner_password": "owner-only", **quota}
    return at.run()


def _versions(at: AppTest) -> list[str]:
    return at.sidebar.selectbox(key="dataset_hash").options


def _paste_and_save(at: AppTest) -> AppTest:
    at.switch_page("pages/dataset.py").run()
    at.text_area(key="ds_paste").set_value(ROWS).run()
    next(b for b in at.button if b.label == "Save as a new dataset version").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_visitors_see_only_their_own_work_and_the_owner_the_shared_workspace(scratch_root):
    a, b = _session(), _session()
    shared_versions = _versions(b)
    _paste_and_save(a)
    mine = [o for o in _versions(a) if o not in shared_versions]
    assert len(mine) == 1 and "visitor" not in " ".join(shared_versions)
    assert len(list(scratch_root.glob("visitor-*"))) == 2  # one scratch workspace per session

    b.switch_page("pages/dataset.py").run()
    assert _versions(b) == shared_versions  # B never sees A's upload
    assert not any("visitor A secret" in str(df.value) for df in b.dataframe)

    owner = _session()
    owner.sidebar.text_input(key="owner_password").set_value("owner-only").run()
    assert not owner.exception
    assert not [o for o in _versions(owner) if o in mine]  # the shared workspace never got it
    assert any("you are the owner" in c.value for c in owner.sidebar.caption)
    assert not any("you are the owner" in c.value for c in a.sidebar.caption)
    assert any("Your scratch workspace" in c.value for c in a.sidebar.caption)


def test_a_visitor_over_a_quota_is_refused_with_the_reason_and_nothing_breaks():
    at = _paste_and_save(_session(max_rows_per_dataset=5))
    assert any("Quota" in e.value and "at most 5 rows" in e.value for e in at.error)
    before = _versions(at)
    at.switch_page("pages/evaluate.py").run()  # every other page still works
    assert not at.exception and _versions(at) == before
