"""Thin pages (DESIGN.md, "The house"): every file in pages/ stays short (private names: test_architecture)."""

from pathlib import Path

import pytest

PAGES = sorted((Path(__file__).resolve().parent.parent / "pages").glob("*.py"))
MAX_LINES = 250


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_a_page_is_at_most_250_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES, \
        f"{path.name}: move logic to core (small pure functions with tests), keep widgets and layout here"
