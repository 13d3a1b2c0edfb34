"""`iwp-trainer serve` in a real browser: Debian's headless Chromium, driven by Selenium, asks the
shipped knowledge base a question and finds the cited answer on the terminal's screen (xterm.js's
own buffer). It also checks that the page and the websocket are refused without the token, and that
a second tab gets its own app. If Chromium cannot be started the test fails, saying why: it never
skips. The screenshot is kept in test-artifacts/ (ignored by git); the path is printed."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest

from browser_driver import (
    ANSWER_TEXT,
    ASK_TEXT,
    QUESTION,
    ROOT,
    SOURCE_TEXT,
    Served,
    http_status,
    open_tab,
    start_browser,
    type_into_terminal,
    wait_for_text,
    websocket_handshake_status,
)

ARTIFACTS = ROOT / "test-artifacts"

TRY_WEBSOCKET_JS = """
const done = arguments[arguments.length - 1];
const socket = new WebSocket(arguments[0]);
socket.onopen = () => { socket.close(); done("open"); };
socket.onerror = () => done("refused");
setTimeout(() => done("no answer"), 10000);
"""
NAVIGATION_STATUS_JS = "return performance.getEntriesByType('navigation')[0].responseStatus;"


@pytest.fixture
def served(tmp_path: Path):
    server = Served(tmp_path, token=secrets.token_urlsafe(16))
    yield server
    server.stop()
    print("--- iwp-trainer serve's standard error ---\n" + server.errors())  # shown on a failure


@pytest.fixture
def browser(tmp_path: Path):
    try:
        driver = start_browser(tmp_path / "chromium-profile")
    except RuntimeError as exc:  # never a skip: the suite needs the browser (system-packages.txt)
        pytest.fail(str(exc))
    yield driver
    driver.quit()


def test_a_coach_asks_in_the_browser_and_finds_the_cited_answer(served: Served, browser, capsys) -> None:
    # Without the token: 403 for the page and for the websocket, from a plain client...
    assert http_status(f"{served.base}/") == 403
    assert websocket_handshake_status(served.base) == 403
    # ...and from the browser itself.
    browser.get(f"{served.base}/")
    assert browser.execute_script(NAVIGATION_STATUS_JS) == 403
    assert "access token" in browser.find_element("tag name", "body").text
    assert served.token not in browser.page_source
    ws_url = f"ws://127.0.0.1:{served.port}/ws?width=80&height=24"
    assert browser.execute_async_script(TRY_WEBSOCKET_JS, ws_url) == "refused"

    # With the token: the app, and the token gone from the address bar.
    started = time.perf_counter()
    browser.get(served.url)
    loaded = time.perf_counter()
    assert browser.execute_script(NAVIGATION_STATUS_JS) == 200
    assert "token=" not in browser.current_url
    wait_for_text(browser, ASK_TEXT, timeout=90)
    ready = time.perf_counter()
    type_into_terminal(browser, QUESTION)
    typed = time.perf_counter()
    # The first reply: the closest question and its source; Enter in the empty box opens its answer
    # (digits are text in Ask; Alt+1 would too, but a browser may keep Alt+digit for itself).
    wait_for_text(browser, f"You: {QUESTION}", "Did you mean", SOURCE_TEXT, timeout=90)
    first = time.perf_counter()
    type_into_terminal(browser, "", enter=True)
    screen = wait_for_text(browser, ANSWER_TEXT, SOURCE_TEXT, timeout=30)
    answered = time.perf_counter()
    assert "Source: IWP trial FAQ, section 5: Conducting Interviews" in screen

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "serve-browser.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000

    # A second tab: its own app process, which has seen no question.
    assert len(served.app_processes()) == 1
    first_tab = browser.current_window_handle
    open_tab(browser)
    browser.get(f"{served.base}/")  # the cookie is enough now
    second = wait_for_text(browser, ASK_TEXT, timeout=90)
    assert QUESTION not in second
    tabs = served.app_processes()
    assert len(tabs) == 2, tabs
    browser.switch_to.window(first_tab)
    wait_for_text(browser, ANSWER_TEXT, timeout=10)  # the first tab's app still has its answer

    with capsys.disabled():
        print(f"\n[serve browser] screenshot: {shot}\n[serve browser] page load {loaded - started:.2f} s, "
              f"to the Ask screen {ready - started:.2f} s, Enter to the first reply {first - typed:.2f} s, "
              f"page load to the first reply {first - started:.2f} s, to the opened answer "
              f"{answered - started:.2f} s (cold index)")
