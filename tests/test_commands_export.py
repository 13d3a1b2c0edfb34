"""``iwp-trainer export``: odd ``--out`` values (the statements themselves are tested in test_xapi.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iwp_trainer.cli import main
from iwp_trainer.store import ProgressStore


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "p.sqlite3"
    s = ProgressStore.open(path)
    a = s.start_attempt("Ann", "s1", "Scenario one", "f" * 64, "practice", 1, {"discretion": 2})
    s.record_decision(a, 1, "start", "good", "Good answer", {"discretion": 2}, True, False, [])
    s.finish_attempt(a, True, "end", {"discretion": (2, 2)})
    s.close()
    return path


def test_empty_out_is_a_usage_error(db: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--db", str(db), "export", "xapi", "--out", ""])
    assert info.value.code == 2
    assert "--out: give a file name" in capsys.readouterr().err


def test_out_dash_means_stdout(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["--db", str(db), "export", "xapi", "--out", "-"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and all(json.loads(line)["actor"] for line in lines)
    assert not (tmp_path / "-").exists()


def test_out_onto_a_folder_is_an_error_and_the_folder_is_untouched(db: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "keep.txt").write_text("kept")
    assert main(["--db", str(db), "export", "xapi", "--out", str(folder)]) == 1
    err = capsys.readouterr().err
    assert f"{folder} is a folder" in err and "Traceback" not in err
    assert [p.name for p in folder.iterdir()] == ["keep.txt"]
