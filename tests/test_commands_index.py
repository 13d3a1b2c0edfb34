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


def test_ctrl_c_mid_build_is_quiet_and_keeps_the_old_index(tmp_path: Path, fixtures_dir: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    kb = tmp_path / "kb"
    kb.mkdir()
    for i in range(1500):
        (kb / f"e{i:04}.md").write_text(
            f"---\nid: e{i:04}\nquestion: Question {i} about travel costs?\nsource: {{document: IWP trial FAQ, "
            f"section: s}}\n---\n" + " ".join(f"word{i * 7 + j}" for j in range(60)) + "\n", encoding="utf-8")
    index = tmp_path / "index"
    assert main(["--kb", str(kb), "--index", str(index), "index"]) == 0
    before = (index / "CURRENT").read_text()
    (kb / "e0000.md").write_text((kb / "e0000.md").read_text() + "changed\n", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "iwp_trainer", "--kb", str(kb), "--index", str(index), "index"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.stderr.read(1) not in (b"\r", b""):
        pass  # wait for the first progress update: the build has begun
    os.kill(proc.pid, signal.SIGINT)
    _out, raw_err = proc.communicate(timeout=60)
    err = raw_err.decode()
    assert proc.returncode == 130
    assert "Traceback" not in err
    assert err.endswith("\niwp-trainer: interrupted\n")
    assert (index / "CURRENT").read_text() == before
    assert not [p.name for p in index.iterdir() if p.name.startswith("tmp-")]
