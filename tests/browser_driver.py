"""Driving `iwp-trainer serve` from Debian's headless Chromium through Selenium, as a coach would.

Shared by the browser test (`test_serve_browser.py`) and its benchmark (`bench/bench_serve.py`).
The browser and its driver are the Debian packages (`chromium`, `chromium-driver`, in
system-packages.txt), named by path, so Selenium Manager never runs and nothing is downloaded.

textual-serve's page keeps its xterm.js ``Terminal`` in a closure. To read the screen, a script
that runs before the page's own (:data:`CAPTURE_TERMINAL`) catches the object as textual.js stores
it (``this.terminal = new Terminal(...)``), and :func:`screen_text` reads its buffer, row by row,
the text xterm.js itself holds for each cell.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ROOT = Path(__file__).resolve().parent.parent

ASK_TEXT = "Ask a question about the IWP trial"
QUESTION = "can I pay someone's bus fare to a WSR?"
# What `iwp-trainer ask` answers to QUESTION with the shipped kb/: its closest entry and its source.
ANSWER_TEXT = "Travel costs will not normally be refunded"
SOURCE_TEXT = "IWP trial FAQ, section 5: Conducting Interviews"

# Runs before textual.js: the first object given a `terminal` property keeps it as its own, and the
# value is kept in window.__iwpTerminals; the trap is then removed.
CAPTURE_TERMINAL = """
(() => {
  window.__iwpTerminals = [];
  Object.defineProperty(Object.prototype, "terminal", {
    configurable: true,
    get() { return undefined; },
    set(value) {
      delete Object.prototype.terminal;
      Object.defineProperty(this, "terminal", {value, writable: true, configurable: true, enumerable: true});
      window.__iwpTerminals.push(value);
    },
  });
})();
"""

SCREEN_JS = """
const t = (window.__iwpTerminals || []).find(x => x && x.buffer && x.buffer.active);
if (!t) { return null; }
const b = t.buffer.active, rows = [];
for (let y = 0; y < t.rows; y++) {
  const line = b.getLine(b.viewportY + y);
  rows.push(line ? line.translateToString(true) : "");
}
return {cols: t.cols, rows: t.rows, text: rows.join("\\n")};
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    """`iwp-trainer serve` on a free loopback port in a subprocess, with a known token."""

    def __init__(self, work: Path, token: str, kb: Path | None = None, timeout: float = 60.0) -> None:
        self.port = free_port()
        self.token = token
        env = {**os.environ, "IWP_TRAINER_SERVE_TOKEN": token}
        argv = [sys.executable, "-m", "iwp_trainer", "--kb", str(kb or ROOT / "kb"),
                "--index", str(work / "index"), "--db", str(work / "progress.sqlite3"),
                "serve", "--port", str(self.port)]
        self.log = (work / "serve.log").open("w+")
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log, text=True, env=env)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = re.search(r"open (http://\S+) in a browser", line)
        if not match:
            self.stop()
            raise RuntimeError(f"iwp-trainer serve did not start: {line!r} {self.errors()}")
        self.url = match.group(1)
        self.base = f"http://127.0.0.1:{self.port}"

    def errors(self) -> str:
        """What serve wrote to stderr so far (kept in ``serve.log``)."""
        if self.log.closed:
            return Path(self.log.name).read_text()
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def app_processes(self) -> list[int]:
        """The app processes serving tabs now: descendants of serve run with ``--browser-tab``."""
        parents: dict[int, int] = {}
        tabs = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                stat = (proc / "stat").read_text()
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            pid = int(proc.name)
            parents[pid] = int(stat.rsplit(")", 1)[1].split()[1])
            if b"--browser-tab" in cmdline:
                tabs.append(pid)

        def descends(pid: int) -> bool:
            for _ in range(10):
                pid = parents.get(pid, 0)
                if pid == self.process.pid:
                    return True
                if pid <= 1:
                    return False
            return False

        return sorted(pid for pid in tabs if descends(pid))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        self.log.close()


def http_status(url: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def websocket_handshake_status(base: str) -> int:
    """The status a websocket handshake to ``/ws`` gets, with no token and no cookie."""
    return http_status(f"{base}/ws?width=80&height=24", headers={
        "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Origin": base})


def start_browser(profile: Path, width: int = 1280, height: int = 900) -> Any:
    """Debian's Chromium, headless, as root, with a fresh profile and no network but loopback.
    Raises RuntimeError saying why when it cannot be started."""
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    for binary, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(binary, os.X_OK):
            raise RuntimeError(f"{binary} is missing: install the Debian package {package} "
                               "(make test does, through scripts/system-deps.sh)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                 f"--window-size={width},{height}",
                 # Nothing but this machine: any other name fails to resolve.
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"):
        options.add_argument(flag)
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(profile.parent / "chromedriver.log"))
    try:
        driver = webdriver.Chrome(service=service, options=options)
    except WebDriverException as exc:
        raise RuntimeError(f"Chromium could not be started: {exc.msg or exc}") from exc
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CAPTURE_TERMINAL})
    return driver


def open_tab(driver: Any) -> str:
    """A new tab, switched to, with the terminal capture in place (it is set per tab); its handle."""
    driver.switch_to.new_window("tab")
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CAPTURE_TERMINAL})
    return driver.current_window_handle


def screen_text(driver: Any) -> str:
    """The terminal's rows as text ("" until the terminal exists)."""
    screen = driver.execute_script(SCREEN_JS)
    return screen["text"] if screen else ""


def wait_for_text(driver: Any, *texts: str, timeout: float = 60.0, poll: float = 0.02) -> str:
    """Wait until every one of ``texts`` is on the terminal's screen; the screen then. Raises
    AssertionError with the last screen on a time-out."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = screen_text(driver)
        flat = _unwrapped(screen)
        if all(_squash(text) in flat for text in texts):
            return screen
        time.sleep(poll)
    raise AssertionError(f"not on screen after {timeout:.0f} s: {texts!r}\n--- screen ---\n{screen}")


def _squash(text: str) -> str:
    return " ".join(text.split())


def _unwrapped(screen: str) -> str:
    """The screen as one line of words, with panel borders dropped, so text wrapped across rows is
    still found."""
    words = []
    for row in screen.splitlines():
        words.append(row.strip(" │┃▌▐║|▏▕"))
    return _squash(" ".join(words))


def type_into_terminal(driver: Any, text: str, enter: bool = True) -> None:
    """Type as a person would: key events into xterm.js's focused text area."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    # Focus xterm.js's input without a click (a click would reach the app as a mouse click).
    driver.execute_script("document.querySelector('.xterm-helper-textarea').focus()")
    actions = ActionChains(driver)
    actions.send_keys(text)
    if enter:
        actions.send_keys(Keys.ENTER)
    actions.perform()
