"""The entry point itself: help, version, and that `python -m iwp_trainer` works."""

from __future__ import annotations

import subprocess
import sys


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iwp_trainer", *args], capture_output=True, text=True)


def test_help_lists_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "usage: iwp-trainer" in result.stdout


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("iwp-trainer ")


def test_unknown_command_is_usage_error() -> None:
    result = run("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
    assert "Traceback" not in result.stderr
