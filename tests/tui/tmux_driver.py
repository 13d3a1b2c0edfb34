"""Driving the real `iwp-trainer` in a private tmux server, as a person at a terminal would.

Shared by the start-up test (`test_tui_tmux.py`) and the start-up benchmark (`bench/bench_tui.py`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

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


def wait_for_text(socket: str, text: str, timeout: float = 20.0, poll: float = 0.05) -> str:
    """Poll the pane until ``text`` shows; return the screen. Raises ``TimeoutError`` with the screen."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux(socket, "capture-pane", "-p", "-t", "app").stdout
        if text in screen:
            return screen
        time.sleep(poll)
    raise TimeoutError(f"{text!r} never appeared within {timeout} s; the screen was:\n{screen}")
