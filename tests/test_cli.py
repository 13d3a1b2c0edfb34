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


def test_only_the_requested_command_is_imported() -> None:
    """A cold `iwp-trainer ask` must not pay for the scenario, store and report modules."""
    code = (
        "import sys\n"
        "from iwp_trainer import cli\n"
        "assert cli.requested_command(['--kb', 'play', 'ask', 'x']) == 'ask'\n"
        "cli.build_parser(only='ask').parse_args(['ask', 'x'])\n"
        "heavy = [m for m in ('iwp_trainer.scenario_loader', 'iwp_trainer.store', 'iwp_trainer.reports') if m in sys.modules]\n"
        "assert heavy == [], heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_global_option_values_are_not_taken_for_commands() -> None:
    from iwp_trainer.cli import requested_command

    assert requested_command(["--db", "check", "report", "gaps"]) == "report"
    assert requested_command(["--help"]) is None
    assert requested_command(["nonsense"]) is None


def _closed(redirect: str, tmp_path, shipped_kb, *args: str) -> subprocess.CompletedProcess[str]:
    """Run with a standard stream closed (``<&-`` or ``>&-``), as a cron job or a service may."""
    argv = " ".join(f"'{a}'" for a in ("--kb", str(shipped_kb), "--index", str(tmp_path / "idx"), *args))
    return subprocess.run(["sh", "-c", f"exec '{sys.executable}' -m iwp_trainer {argv} {redirect}"],
                          capture_output=True, text=True)


def test_closed_stdin_is_no_input_not_a_traceback(tmp_path, shipped_kb) -> None:
    result = _closed("<&-", tmp_path, shipped_kb, "ask", "--json")
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0 and result.stdout == ""


def test_closed_stdout_is_not_a_traceback(tmp_path, shipped_kb) -> None:
    result = _closed(">&-", tmp_path, shipped_kb, "ask", "bus fare")
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0


def test_a_terminal_that_cannot_show_unicode_gets_replacements_not_a_traceback(shipped_scenarios, shipped_kb) -> None:
    """e.g. PYTHONIOENCODING=ascii or a legacy code page: the "…" in a graph label used to crash."""
    import os

    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    result = subprocess.run([sys.executable, "-m", "iwp_trainer", "--kb", str(shipped_kb), "--scenarios",
                             str(shipped_scenarios), "graph", "travel-costs"], capture_output=True, text=True,
                            env=env, encoding="ascii", errors="strict")
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0 and "flowchart TD" in result.stdout


def test_value_options_known_to_the_peek_match_the_parser() -> None:
    """`requested_command` skips the values of global options; it must know every one of them."""
    from iwp_trainer import cli

    parser = cli.build_parser(only="ask")
    takes_value = {
        option
        for action in parser._actions
        if action.nargs != 0 and action.option_strings and action.dest not in ("help", "version")
        for option in action.option_strings
    }
    assert takes_value == cli._VALUE_OPTIONS
