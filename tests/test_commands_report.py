"""``iwp-trainer report``: through the real entry point, every report, format, filter and failure."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from iwp_trainer import store as store_module
from iwp_trainer.cli import main
from iwp_trainer.store import SCHEMA_VERSION, ProgressStore

SHA = "f" * 64


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Two learners on two days: Ann passes s1 on day one, Bob fails s2 (a critical move) on day two."""
    path = tmp_path / "team.sqlite3"
    moments = iter(datetime(2026, 6, 1, 9, tzinfo=timezone.utc) + timedelta(minutes=m) for m in range(0, 10_000, 5))
    day_two = iter(datetime(2026, 6, 2, 9, tzinfo=timezone.utc) + timedelta(minutes=m) for m in range(0, 10_000, 5))
    clock = {"source": moments}
    s = ProgressStore.open(path, clock=lambda: next(clock["source"]))
    a = s.start_attempt("Ann", "s1", "Scenario one", SHA, "practice", 1, {"discretion": 2})
    s.record_decision(a, 1, "n1", "good", "Explain the trial", {"discretion": 2}, True, False, [])
    s.finish_attempt(a, True, "end", {"discretion": (2, 2)})
    s.record_question("Ann", "What is the CET?", answered=False)
    clock["source"] = day_two
    b = s.start_attempt("Bob", "s2", "Scenario two", SHA, "assessment", 2, {"reallocation": 2})
    s.record_decision(b, 1, "n1", "move", "Move them to the control group", {"reallocation": -2}, False, True,
                      ["reallocation-not-allowed"])
    s.finish_attempt(b, False, "end", {"reallocation": (-2, 2)})
    s.record_question("Bob", "what is the  cet?", answered=False)
    s.close()
    return path


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_report_with_no_argument_lists_the_reports_one_line_each(db: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, err = run(capsys, "--db", str(db), "report")
    assert code == 2 and out == ""
    assert "the following arguments are required" not in err
    lines = err.splitlines()
    for name in ("learners", "scenarios", "gaps"):
        line = next(ln for ln in lines if ln.strip().startswith(name + " "))
        assert len(line.split()) > 3  # a line saying what the report shows


def test_learners_table(db: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, err = run(capsys, "--db", str(db), "report", "learners")
    assert code == 0 and err == ""
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith(("Ann ", "Bob "))}
    assert rows["Ann"][1:4] == ["1", "1", "100%"]
    assert rows["Bob"][1:4] == ["1", "0", "0%"]


def test_scenarios_report_names_the_wrong_choice_and_its_policy(db: Path, capsys: pytest.CaptureFixture,
                                                                shipped_kb: Path) -> None:
    code, out, _ = run(capsys, "--db", str(db), "--kb", str(shipped_kb), "report", "scenarios")
    assert code == 0
    assert "Decisions most often got wrong" in out
    wrong = next(line for line in out.splitlines() if "Move them to the control group" in line)
    assert wrong.split()[0] == "s2" and "reallocation-not-allowed" in wrong
    # The cited entry's source, as the knowledge base states it.
    from iwp_trainer.kb import load_kb

    entry = load_kb(shipped_kb).entries["reallocation-not-allowed"]
    assert entry.citation.startswith("IWP trial FAQ, section") and entry.citation in wrong


def test_gaps_report_folds_case_and_spacing(db: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(capsys, "--db", str(db), "report", "gaps", "--json")
    data = json.loads(out)
    assert code == 0 and len(data["rows"]) == 1
    assert data["rows"][0]["question"] == "what is the cet?" and data["rows"][0]["unanswered"] == 2


def test_csv_and_json(db: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(capsys, "--db", str(db), "report", "learners", "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [r["learner"] for r in rows] == ["Ann", "Bob"]
    assert rows[0]["discretion"] == "1.0000" and rows[1]["reallocation"] == "0.0000"
    code, out, _ = run(capsys, "--db", str(db), "report", "scenarios", "--json")
    data = json.loads(out)
    assert [r["scenario"] for r in data["rows"]] == ["s1", "s2"]
    assert data["rows"][1]["most_often_wrong"][0]["choice_id"] == "move"
    with pytest.raises(SystemExit) as exit_info:
        main(["--db", str(db), "report", "learners", "--csv", "--json"])
    assert exit_info.value.code == 2


def test_filters(db: Path, capsys: pytest.CaptureFixture) -> None:
    def learners(*extra: str) -> list[str]:
        code, out, _ = run(capsys, "--db", str(db), "report", "learners", "--json", *extra)
        assert code == 0
        return [r["learner"] for r in json.loads(out)["rows"]]

    assert learners() == ["Ann", "Bob"]
    assert learners("--learner", "bob") == ["Bob"]
    assert learners("--scenario", "s1") == ["Ann"]
    assert learners("--since", "2026-06-02") == ["Bob"]
    assert learners("--since", "2026-06-03") == []
    code, out, _ = run(capsys, "--db", str(db), "--learner", "Ann", "report", "learners", "--json")
    assert [r["learner"] for r in json.loads(out)["rows"]] == ["Ann"]  # the global option filters too
    code, out, _ = run(capsys, "--db", str(db), "report", "gaps", "--since", "2026-06-02")
    assert "what is the cet?" in out and " 1 " in out


@pytest.mark.parametrize("date", ["2026-13-01", "01/06/2026", "yesterday", "2026-6-1x"])
def test_bad_date_is_a_usage_error(db: Path, capsys: pytest.CaptureFixture, date: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--db", str(db), "report", "learners", "--since", date])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "YYYY-MM-DD" in err and date in err and "Traceback" not in err


def test_scenario_filter_does_not_apply_to_gaps(db: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, err = run(capsys, "--db", str(db), "report", "gaps", "--scenario", "s1")
    assert code == 2 and "--scenario does not apply" in err and out == ""


def test_no_database_yet_is_friendly_and_creates_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    db = tmp_path / "none.sqlite3"
    code, out, err = run(capsys, "--db", str(db), "report", "learners")
    assert code == 0 and out.startswith("No attempts recorded yet") and err == ""
    assert not db.exists()
    code, out, err = run(capsys, "--db", str(db), "report", "gaps", "--json")
    assert code == 0 and json.loads(out)["rows"] == [] and "No questions recorded yet" in err


def test_empty_database_is_friendly(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    db = tmp_path / "empty.sqlite3"
    ProgressStore.open(db).close()
    for name in ("learners", "scenarios"):
        code, out, _ = run(capsys, "--db", str(db), "report", name)
        assert code == 0 and out == "No attempts recorded yet.\n"
    code, out, err = run(capsys, "--db", str(db), "report", "learners", "--csv")
    assert out.startswith("learner,attempts") and len(out.splitlines()) == 1
    assert "No attempts recorded yet" in err


def test_the_database_from_env_is_used(db: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IWP_TRAINER_DB", str(db))
    code, out, _ = run(capsys, "report", "learners", "--json")
    assert [r["learner"] for r in json.loads(out)["rows"]] == ["Ann", "Bob"]


def test_read_only_team_file_can_still_be_reported(db: Path, capsys: pytest.CaptureFixture,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    real_access = os.access
    monkeypatch.setattr(store_module.os, "access",
                        lambda p, mode: False if Path(p) == db and mode == os.W_OK else real_access(p, mode))
    before = db.read_bytes()
    code, out, _ = run(capsys, "--db", str(db), "report", "learners", "--json")
    assert code == 0 and len(json.loads(out)["rows"]) == 2
    assert db.read_bytes() == before


def cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "iwp_trainer", *argv], capture_output=True, text=True, timeout=60)


def test_corrupt_database_exits_1_with_a_clear_message(tmp_path: Path) -> None:
    db = tmp_path / "broken.sqlite3"
    db.write_bytes(b"not sqlite" * 500)
    result = cli("--db", str(db), "report", "learners")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("iwp-trainer report: error: ") and str(db) in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_newer_database_exits_1_with_a_clear_message(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    result = cli("--db", str(db), "report", "scenarios")
    assert result.returncode == 1 and "newer version of iwp-trainer" in result.stderr
    assert "Traceback" not in result.stderr
