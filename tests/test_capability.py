"""Capability regression check: a fine-tune that forgot general skills is caught."""

import json
import subprocess
import sys

import pytest

from core.evaluation import capability
from tests.fake_openai import FakeOpenAI

RIGHT = {"add": "42", "multiply": "72", "compare-decimals": "0.9", "sequence": "32", "week": "7", "capital": "Paris.",
         "water": "H2O", "sun-star": "Yes.", "opposite": "cold", "translate": "Gracias", "reverse": "desserts",
         "lowercase": "hello", "echo": "OK", "colours": "blue, white, red", "json": '{"name": "Ana", "age": 30}',
         "summary": "Weekly meeting moved to Wednesday; the manager travels Monday."}
FORGOT = {"add", "multiply", "json", "echo"}  # what the fine-tune answers with a ticket label instead


def _answers(body):
    probes = {p.prompt: p.id for p in capability.load_suite()}
    pid = probes[body["messages"][-1]["content"]]
    if body["model"].startswith("ft:") and pid in FORGOT:
        return "billing"
    return RIGHT[pid]


def test_bundled_suite_checks_are_sound():
    probes = capability.load_suite()
    assert len(probes) >= 12 and len({p.id for p in probes}) == len(probes)
    for p in probes:
        assert capability.passes(p, RIGHT[p.id]), p.id
        assert not capability.passes(p, "billing"), p.id


@pytest.mark.parametrize("pid, output, ok", [
    ("add", "The answer is 42.", True), ("add", "41 or 42", False), ("sun-star", "No", False),
    ("summary", "The meeting that was on Monday is now on Wednesday because the manager is away travelling.", False),
])
def test_checks(pid, output, ok):
    probe = next(p for p in capability.load_suite() if p.id == pid)
    assert capability.passes(probe, output) is ok


def test_suite_file_errors_name_the_line(tmp_path):
    bad = tmp_path / "suite.jsonl"
    bad.write_text('{"id": "a", "prompt": "x", "check": {"type": "number", "value": 1}}\n{"id": "b"}\n')
    with pytest.raises(ValueError, match="line 2"):
        capability.load_suite(bad)


def test_fine_tune_regression_is_reported(store):
    with FakeOpenAI(general_answer=_answers) as server:
        rep = capability.check("gpt-4o-mini", "ft:gpt-4o-mini:acme::x1", store=store, base_url=server.base_url)
        assert sorted(rep.regressions) == sorted(FORGOT) and rep.improvements == []
        assert rep.base.pass_rate == 1.0 and rep.tuned.pass_rate == pytest.approx(1 - len(FORGOT) / 16)
        assert "lost 4" in rep.sentence and "arithmetic" in rep.sentence
        calls = server.count(status=200)
        capability.check("gpt-4o-mini", "ft:gpt-4o-mini:acme::x1", store=store, base_url=server.base_url)
        assert server.count(status=200) == calls  # a re-check is free


def test_capability_cli(workspace):
    with FakeOpenAI(general_answer=_answers) as server:
        out = subprocess.run([sys.executable, "-m", "core", "capability", "--json", "--base", "gpt-4o-mini",
                              "--tuned", "ft:gpt-4o-mini:acme::x1", "--base-url", server.base_url],
                             capture_output=True, text=True, timeout=120,
                             env={**__import__("os").environ, "OPENAI_API_KEY": "k"})
    data = json.loads(out.stdout)
    assert out.returncode == 0 and sorted(data["regressions"]) == sorted(FORGOT)
