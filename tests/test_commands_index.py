"""``iwp-trainer index [--rebuild]``: builds with a progress bar and reports the time taken."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from iwp_trainer.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_index_builds_then_is_up_to_date_then_rebuilds(capsys, fixtures_dir: Path, tmp_path: Path) -> None:
    kb = str(fixtures_dir / "kb" / "good")
    index = str(tmp_path / "index")
    code, out, err = _run(capsys, "--kb", kb, "--index", index, "index")
    assert code == 0
    assert re.fullmatch(r"Indexed 3 entries in \d+\.\d\d s \(.*\)\n", out)
    assert "Indexing [" in err and "3/3" in err
    code, out, err = _run(capsys, "--kb", kb, "--index", index, "index")
    assert code == 0 and out.startswith("Index already up to date with 3 entries") and err == ""
    code, out, err = _run(capsys, "--kb", kb, "--index", index, "index", "--rebuild")
    assert code == 0 and out.startswith("Indexed 3 entries") and "3/3" in err


def test_index_reports_kb_problems_but_indexes_the_rest(capsys, fixtures_dir: Path, tmp_path: Path) -> None:
    broken = fixtures_dir / "kb" / "broken"
    code, out, err = _run(capsys, "--kb", str(broken), "--index", str(tmp_path / "i"), "index")
    assert code == 0 and out.startswith("Indexed 4 entries")
    assert f"{broken / 'missing-id.md'}:2: error kb-missing-field" in err


def test_index_errors_are_plain_messages(capsys, tmp_path: Path, fixtures_dir: Path) -> None:
    code, out, err = _run(capsys, "--kb", str(tmp_path / "nope"), "index")
    assert code == 1 and out == "" and "knowledge base folder not found" in err
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    code, _, err = _run(capsys, "--kb", str(fixtures_dir / "kb" / "good"), "--index", str(blocker / "i"), "index")
    assert code == 1 and "cannot build the search index" in err and "Traceback" not in err
