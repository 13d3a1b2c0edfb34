"""The real entry point in a real terminal: `iwp-trainer` starts under tmux, shows the Ask screen,
answers a question and quits on Ctrl+Q. Skipped when tmux is not installed."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tui_helpers import TUI_FIXTURES

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

ENTRY = Path(sys.executable).with_name("iwp-trainer")


def tmux(socket: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True, timeout=10)


def socket_file(socket: str) -> Path:
    """Where tmux keeps this private server's socket (it is left behind when the server stops)."""
    base = os.environ.get("TMUX_TMPDIR") or "/tmp"
    return Path(base) / f"tmux-{os.getuid()}" / socket


def close(socket: str) -> None:
    """Stop this private tmux server and remove its socket file."""
    tmux(socket, "kill-server")
    socket_file(socket).unlink(missing_ok=True)


def wait_for_text(socket: str, text: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux(socket, "capture-pane", "-p", "-t", "app").stdout
        if text in screen:
            return screen
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared; the screen was:\n{screen}")


@pytest.mark.skipif(not ENTRY.exists(), reason="the iwp-trainer script is not installed in this environment")
def test_app_starts_answers_and_quits_under_tmux(tmp_path: Path) -> None:
    socket = f"iwp-test-{os.getpid()}"
    env = {
        "IWP_TRAINER_INDEX": str(tmp_path / "index"),
        "IWP_TRAINER_DB": str(tmp_path / "progress.sqlite3"),
        "IWP_TRAINER_CONFIG": str(tmp_path / "settings.json"),
        "TERM": "xterm-256color",
    }
    command = " ".join([
        "env", "-u", "COLUMNS", "-u", "LINES", *(f"{k}={shlex.quote(v)}" for k, v in env.items()),
        shlex.quote(str(ENTRY)), "--learner", "tester",
        "--kb", shlex.quote(str(TUI_FIXTURES / "kb")), "--scenarios", shlex.quote(str(TUI_FIXTURES / "scenarios")),
    ])
    started = time.monotonic()
    tmux(socket, "new-session", "-d", "-s", "app", "-x", "100", "-y", "30", command)
    try:
        screen = wait_for_text(socket, "Ask a question about the IWP trial")
        startup = time.monotonic() - started
        assert "Learner: tester" in screen
        tmux(socket, "send-keys", "-t", "app", "-l", "how long does a sanction last")
        tmux(socket, "send-keys", "-t", "app", "Enter")
        screen = wait_for_text(socket, "Source: IWP trial FAQ, section 6: Conditionality and Sanctions")
        assert "How long will a sanction run under the trial?" in screen
        tmux(socket, "send-keys", "-t", "app", "C-q")
        deadline = time.monotonic() + 10
        while tmux(socket, "has-session", "-t", "app").returncode == 0:
            assert time.monotonic() < deadline, "the app did not quit on Ctrl+Q"
            time.sleep(0.05)
        print(f"launch to Ask screen: {startup:.2f} s")
    finally:
        close(socket)
    # The question asked was recorded in the database, which outlives the app.
    from iwp_trainer.store import ProgressStore

    store = ProgressStore.open(tmp_path / "progress.sqlite3")
    try:
        assert [r[0] for r in store.query("SELECT question FROM questions")] == ["how long does a sanction last"]
    finally:
        store.close()
