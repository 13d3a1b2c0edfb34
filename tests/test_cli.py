"""The entry point itself: help, version, and that `python -m iwp_trainer` works."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

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


# --- text from files and users never reaches the terminal raw ------------------------------------

HOSTILE = Path(__file__).parent / "fixtures" / "hostile"
# What a terminal would act on (C0 but newline and tab, DEL, C1) and bidi controls.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def hostile_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iwp_trainer", "--kb", str(HOSTILE / "kb"), "--scenarios",
                           str(HOSTILE / "scenarios"), "--index", str(tmp_path / "idx"),
                           "--db", str(tmp_path / "db.sqlite3"), *args],
                          capture_output=True, text=True, encoding="utf-8", errors="surrogateescape")


def assert_no_raw_control(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        found = RAW_CONTROL.search(text)
        assert found is None, f"{name} has {found.group()!r}: {text!r}"


def test_ask_prints_control_sequences_as_placeholders(tmp_path: Path) -> None:
    result = hostile_run(tmp_path, "ask", "is the title safe")
    assert_no_raw_control(result)
    assert result.returncode == 0
    assert "Is ␛]0;owned␇ a safe title ␛[31mred␛[0m?" in result.stdout
    assert "clipboard ␛]52;c;ZWNobyBoaQ==␇" in result.stdout
    assert "Source: IWP trial FAQ ␛]52;c;aGk=␇, section 6: \ufffdisolated\ufffd" in result.stdout


def test_ask_json_keeps_the_data_but_escapes_it(tmp_path: Path) -> None:
    result = hostile_run(tmp_path, "ask", "--json", "is the title safe")
    assert_no_raw_control(result)
    record = json.loads(result.stdout)
    assert record["answers"][0]["title"] == "Is \x1b]0;owned\x07 a safe title \x1b[31mred\x1b[0m?"


def test_play_and_its_json_print_no_control_sequences(tmp_path: Path) -> None:
    result = hostile_run(tmp_path, "play", "hostile", "--choose", "explain")
    assert_no_raw_control(result)
    assert result.returncode == 0
    assert result.stdout.splitlines()[0] == "[/] Refunds [sic] [Annex A] %% flowchart LR ␛]0;t␇ (hostile), seed 0"
    assert "Right [sic]: [@click=app.quit]quit[/] \ufffdevil\ufffd" in result.stdout  # the feedback
    result = hostile_run(tmp_path, "play", "hostile", "--choose", "explain", "--json")
    assert_no_raw_control(result)
    assert json.loads(result.stdout)["title"] == "[/] Refunds [sic] [Annex A]\n%% flowchart LR \x1b]0;t\x07"


def test_graph_prints_no_control_sequences(tmp_path: Path) -> None:
    for fmt in ("mermaid", "dot"):
        result = hostile_run(tmp_path, "graph", "hostile", "--format", fmt)
        assert_no_raw_control(result)
        assert result.returncode == 0 and "␛[2J" in result.stdout


def test_check_reports_control_characters_with_file_and_line(tmp_path: Path) -> None:
    result = hostile_run(tmp_path, "check")
    assert_no_raw_control(result)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    kb = str(HOSTILE / "kb" / "control-sequences.md")
    scenario = str(HOSTILE / "scenarios" / "hostile.yaml")
    assert any(line.startswith(f"{kb}:3: error kb-control-char: `question` contains U+001B (ESC)") for line in lines)
    assert any(line.startswith(f"{kb}:12:14: error kb-control-char: the answer text") for line in lines)
    assert any(line.startswith(f"{kb}:5: error kb-control-char: item 1 of `aliases` contains U+202E") for line in lines)
    assert any(line.startswith(f"{scenario}:3:8: error SC109: `title` contains U+001B (ESC)") for line in lines)
    assert any(line.startswith(f"{scenario}:22:19: error SC109: `nodes.opening.choices[1].feedback` contains U+202E")
               for line in lines)
    result = hostile_run(tmp_path, "check", "--json")
    assert_no_raw_control(result)
    codes = {d["code"] for d in json.loads(result.stdout)["diagnostics"]}
    assert {"kb-control-char", "SC109"} <= codes


def test_a_file_name_with_an_escape_is_printed_safely(tmp_path: Path) -> None:
    bad = tmp_path / "bad\x1b]0;t\x07.yaml"
    bad.write_text("id: [unclosed\n", encoding="utf-8")
    result = hostile_run(tmp_path, "check", str(bad))
    assert_no_raw_control(result)
    assert "bad␛]0;t␇.yaml:2:1: error SC001" in result.stderr


def _hostile_db(tmp_path: Path) -> None:
    from iwp_trainer.store import ProgressStore

    store = ProgressStore.open(tmp_path / "db.sqlite3")
    attempt = store.start_attempt("=HYPERLINK(\"http://x\",\"y\") \x1b]52;c;aGk=\x07", "hostile",
                                  "+SUM(1,1)\n\u202eesrever", "f" * 64, "practice", 1, {"discretion": 2})
    store.record_decision(attempt, 1, "opening", "formula", "@SUM(A1) \x1b[2J", {"discretion": -1}, False, False,
                          ["formula-injection"])
    store.finish_attempt(attempt, False, "end", {"discretion": (-1, 2)})
    store.record_question("-2+3 \x1b]0;t\x07", "=cmd|' /C calc'!A0", answered=False)
    store.close()


def test_report_text_and_json_print_no_control_sequences(tmp_path: Path) -> None:
    _hostile_db(tmp_path)
    for report in ("learners", "scenarios", "gaps"):
        for fmt in ((), ("--json",)):
            result = hostile_run(tmp_path, "report", report, *fmt)
            assert_no_raw_control(result)
            assert result.returncode == 0, result.stderr
    text = hostile_run(tmp_path, "report", "learners").stdout
    assert '=HYPERLINK("http://x","y") ␛]52;c;aGk=␇' in text
    rows = json.loads(hostile_run(tmp_path, "report", "learners", "--json").stdout)["rows"]
    assert rows[0]["learner"] == '=HYPERLINK("http://x","y") \x1b]52;c;aGk=\x07'


def test_report_csv_neutralises_formulas_and_control_characters(tmp_path: Path) -> None:
    _hostile_db(tmp_path)
    cells: list[str] = []
    for report in ("learners", "scenarios", "gaps"):
        result = hostile_run(tmp_path, "report", report, "--csv")
        assert_no_raw_control(result)
        assert result.returncode == 0, result.stderr
        cells += [cell for row in csv.reader(io.StringIO(result.stdout)) for cell in row]
    assert cells, "no CSV written"
    for cell in cells:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert "'=HYPERLINK(\"http://x\",\"y\") ␛]52;c;aGk=␇" in cells  # learner
    assert "'+SUM(1,1)\n\ufffdesrever" in cells  # scenario title
    assert "'@SUM(A1) ␛[2J" in cells  # choice text
    assert "'=cmd|' /C calc'!A0" in cells  # gap question
