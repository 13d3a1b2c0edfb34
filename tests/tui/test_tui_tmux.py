"""The real entry point in a real terminal: `iwp-trainer` starts under tmux, shows the Ask screen,
answers a question and quits on Ctrl+Q. Skipped when tmux is not installed."""

from __future__ import annotations

import os
import shlex
import shutil
import time
from pathlib import Path

import pytest

from tmux_driver import ENTRY, close, tmux, wait_for_text
from tui_helpers import TUI_FIXTURES

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

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


@pytest.mark.skipif(not ENTRY.exists(), reason="the iwp-trainer script is not installed in this environment")
def test_first_start_as_a_new_user_goes_straight_to_ask(tmp_path: Path) -> None:
    """No settings, no --learner: the app opens on Ask and answers, with no dialog in between."""
    socket = f"iwp-test-new-{os.getpid()}"
    env = {
        "IWP_TRAINER_INDEX": str(tmp_path / "index"),
        "IWP_TRAINER_DB": str(tmp_path / "progress.sqlite3"),
        "IWP_TRAINER_CONFIG": str(tmp_path / "settings.json"),
        "TERM": "xterm-256color",
    }
    command = " ".join([
        "env", "-u", "COLUMNS", "-u", "LINES", *(f"{k}={shlex.quote(v)}" for k, v in env.items()),
        shlex.quote(str(ENTRY)),
        "--kb", shlex.quote(str(TUI_FIXTURES / "kb")), "--scenarios", shlex.quote(str(TUI_FIXTURES / "scenarios")),
    ])
    tmux(socket, "new-session", "-d", "-s", "app", "-x", "80", "-y", "24", command)
    try:
        screen = wait_for_text(socket, "Ask a question about the IWP trial")
        assert "Who is practising?" not in screen and "Welcome" not in screen
        tmux(socket, "send-keys", "-t", "app", "-l", "how long does a sanction last")
        tmux(socket, "send-keys", "-t", "app", "Enter")
        screen = wait_for_text(socket, "Source: IWP trial FAQ, section 6")
        assert "Who is practising?" not in screen
        tmux(socket, "send-keys", "-t", "app", "C-q")
        deadline = time.monotonic() + 10
        while tmux(socket, "has-session", "-t", "app").returncode == 0:
            assert time.monotonic() < deadline, "the app did not quit on Ctrl+Q"
            time.sleep(0.05)
    finally:
        close(socket)
    assert not (tmp_path / "settings.json").exists() or "learner" not in (tmp_path / "settings.json").read_text()
