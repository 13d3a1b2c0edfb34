"""The entry point itself: help, version, and that `python -m iwp_trainer` works."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


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


def _recorded_db(tmp_path) -> str:
    from iwp_trainer.store import ProgressStore

    db = tmp_path / "progress.sqlite3"
    store = ProgressStore.open(db)
    attempt = store.start_attempt("Ann", "s1", "Scenario", "0" * 64, "practice", 1, {"d": 2})
    store.record_decision(attempt, 1, "n1", "c1", "Choice", {"d": 2}, True, False, [])
    store.finish_attempt(attempt, True, "end", {"d": (2, 2)})
    store.close()
    return str(db)


@pytest.mark.parametrize("args", [["ask", "can I refund a bus fare"], ["ask", "--json", "bus fare"],
                                  ["report", "learners"], ["report", "scenarios", "--csv"], ["export", "xapi"]])
def test_output_to_a_full_disk_is_one_message_and_a_failure(tmp_path, shipped_kb, args) -> None:
    """`> /dev/full` gave an OSError traceback (only broken pipes were handled)."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    argv = ["--kb", str(shipped_kb), "--index", str(tmp_path / "idx"), "--db", _recorded_db(tmp_path), *args]
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "iwp_trainer", *argv], stdout=full, stderr=subprocess.PIPE,
                                text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == \
        [f"iwp-trainer {args[0]}: error: cannot write the output: No space left on device"]


def test_a_crash_in_the_app_exits_with_a_failure_status(tmp_path, shipped_kb) -> None:
    """The app used to exit 0 after a crash, so a script or service could not tell."""
    code = ("import sys\nfrom iwp_trainer.tui import app\n"
            "def crash(self):\n    raise RuntimeError('a bug in the app')\n"
            "app.IwpApp.on_mount = crash\n"
            "from iwp_trainer.cli import main\nraise SystemExit(main(sys.argv[1:]))\n")
    result = subprocess.run([sys.executable, "-c", code, "--kb", str(shipped_kb), "--index", str(tmp_path / "idx"),
                             "--db", str(tmp_path / "p.sqlite3"), "--learner", "x"],
                            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert "a bug in the app" in result.stderr
    assert result.returncode == 1
