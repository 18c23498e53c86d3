"""End to end in a real browser: Debian's Chromium, driven by Playwright, against `streamlit run` on 127.0.0.1.

A fresh workspace, no API key: what a first visitor of the public URL sees. Screenshots
of every page land in test-output/browser/ for a person to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "test-output" / "browser"
PAGES = {"": "Fine-Tuning Lab", "decide": "Decide", "prompts": "Prompts", "dataset": "Dataset",
         "train": "Train", "evaluate": "Evaluate"}

pytestmark = pytest.mark.browser
if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
    pytest.skip("Chromium is not installed (make test installs it)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["FTLAB_WORKSPACE"] = str(tmp_path_factory.mktemp("browser") / "workspace")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not start: " + (proc.stdout.read() if proc.stdout else ""))
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:  # a busy machine: a script still running when SIGTERM came
        proc.kill()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            # Background networking off: this machine's closed network would refuse those connections.
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update"],
        )
        yield b
        b.close()


def _open(browser, url: str, path: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page.goto(f"{url}/{path}")
    page.wait_for_selector("h1", timeout=90_000)
    page.wait_for_load_state("networkidle")
    _settle(page)
    return page


def _settle(page, quiet_ms: int = 1500, timeout_s: float = 90) -> None:
    """Wait until Streamlit has finished running the script (no 'running' indicator for a while)."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        page.wait_for_timeout(quiet_ms)
        if page.locator('[data-testid="stStatusWidget"]').count() == 0:
            return


def _exceptions(page) -> list[str]:
    return [e.inner_text() for e in page.locator('[data-testid="stException"]').all()]


def test_deep_link_first_request_runs_through_the_app(server, browser):
    """The very first request of a fresh server is a deep link: it must get the lab's own sidebar."""
    page = _open(browser, server, "decide")
    assert page.locator("h1").first.inner_text().strip() == "Decide"
    sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
    assert "Backends" in sidebar and "Evaluate" in sidebar and "shared" not in sidebar
    page.close()


@pytest.mark.parametrize("path, title", PAGES.items())
def test_every_page_renders(server, browser, path, title):
    page = _open(browser, server, path)
    assert page.locator("h1").first.inner_text().strip() == title
    assert not _exceptions(page)
    page.screenshot(path=str(SHOTS / f"{path or 'home'}.png"), full_page=True)
    page.close()


def test_fresh_workspace_shows_the_preloaded_verdict(server, browser):
    page = _open(browser, server, "evaluate")
    # wait_for: the first visit computes bootstrap intervals, which takes a while on a cold, busy machine
    page.get_by_text(re.compile(r"Recommendation\. Use ")).first.wait_for(timeout=90_000)
    page.get_by_text("pre-computed").first.wait_for(timeout=30_000)
    page.close()


def test_moving_the_call_volume_changes_the_break_even(server, browser):
    page = _open(browser, server, "decide")
    page.locator('[data-testid="stMetric"]').filter(has_text="Break-even").wait_for(timeout=90_000)

    def break_even() -> str:
        metric = page.locator('[data-testid="stMetric"]').filter(has_text="Break-even")
        return metric.locator('[data-testid="stMetricValue"]').inner_text()

    before = break_even()
    assert re.search(r"\d", before) or before == "never"  # filled without any action
    slider = page.get_by_role("slider", name="Calls per day")
    slider.focus()
    for _ in range(6):  # 10,000 → 100 calls/day on the 1-2-5 steps
        slider.press("ArrowLeft")
    assert slider.get_attribute("aria-valuetext") == "100"
    deadline = time.time() + 60  # the rerun redraws the metric when it finishes
    while break_even() == before and time.time() < deadline:
        page.wait_for_timeout(500)
    assert break_even() != before
    page.screenshot(path=str(SHOTS / "decide-100-calls.png"), full_page=True)
    page.close()


def test_decision_memo_downloads(server, browser):
    page = _open(browser, server, "evaluate")
    page.get_by_role("button", name="Export decision memo (HTML)").wait_for(timeout=90_000)
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Export decision memo (HTML)").click()
    path = download.value.path()
    text = Path(path).read_text(encoding="utf-8")
    assert "<h1>Decision memo" in text and text.count("<svg") == 2
    shutil.copy(path, SHOTS / "decision-memo.html")
    page.close()


def test_uploading_a_file_shows_the_validation_report(server, browser, tmp_path):
    bad = tmp_path / "tickets.csv"
    bad.write_text("text,label\nmy parcel is late,order_status\nrefund for the broken bulb,returns_refunds\n"
                   '"unterminated quote,billing_payments\n', encoding="utf-8")
    page = _open(browser, server, "dataset")
    page.get_by_role("tab", name="Import").click()
    # the main area's uploader (the sidebar has one too: restoring a backup)
    page.locator('[data-testid="stMain"] input[type="file"]').first.set_input_files(str(bad))
    page.get_by_role("heading", name="Findings").wait_for(timeout=60_000)
    _settle(page)
    findings = page.locator('[data-testid="stDataFrame"]:visible').first  # the table of findings
    assert findings.is_visible()
    body = page.locator('[data-testid="stMain"]').inner_text()
    assert "too_few_examples" in body or "Fix or drop" in body
    assert not _exceptions(page)
    page.screenshot(path=str(SHOTS / "dataset-upload.png"), full_page=True)
    page.close()
