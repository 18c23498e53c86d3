"""Public mode: a visitor without the owner's password reaches no hosted endpoint, whatever they click.

The owner's endpoint is a loopback OpenAI-compatible server with a key configured;
the visitor opens every page and presses every button it offers. The server must
count zero requests.
"""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["pages/home.py", "pages/decide.py", "pages/prompts.py", "pages/dataset.py", "pages/train.py", "pages/evaluate.py"]
# Buttons that would start minutes of local CPU work; spending money is what this test is about.
SLOW_LOCAL = ("Optimize", "Start search", "Launch", "Train")


@pytest.fixture
def owner_server(workspace, monkeypatch):
    with FakeOpenAI() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-owner-key")
        yield server


def _visitor() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.secrets["public"] = {"enabled": True, "owner_password": "owner-only"}
    return at


def test_visitor_clicks_through_every_page_without_reaching_the_owner_endpoint(owner_server):
    at = _visitor().run()
    assert any("Public demo" in i.value for i in at.info)
    assert any("not configured" in i.value for i in at.sidebar.get("info"))
    pressed = []
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        for i in range(len(at.button)):
            if i >= len(at.button):
                break
            button = at.button[i]
            if button.disabled or any(word in button.label for word in SLOW_LOCAL):
                continue
            button.click().run()
            pressed.append(f"{page}: {button.label}")
            assert not at.exception, (page, button.label, [e.value for e in at.exception])
    assert pressed, "the visitor pressed no button at all"
    assert owner_server.count() == 0, f"{owner_server.count()} hosted requests while a visitor clicked {pressed}"


def test_owner_password_unlocks_the_endpoint(owner_server):
    at = _visitor().run()
    at.sidebar.text_input(key="owner_password").set_value("wrong").run()
    assert any("Wrong password" in e.value for e in at.sidebar.get("error"))
    at.sidebar.text_input(key="owner_password").set_value("owner-only").run()
    assert any(owner_server.base_url in s.value for s in at.sidebar.get("success"))
