"""Atomic writes: a failed write leaves the earlier file exactly as it was, and no litter."""

from __future__ import annotations

from pathlib import Path

import pytest

from iwp_trainer.atomic import atomic_writer


def test_replaces_content_in_one_go(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old\n", encoding="utf-8")
    with atomic_writer(target) as handle:
        handle.write("new\n")
        assert target.read_text(encoding="utf-8") == "old\n"  # not visible until the rename
    assert target.read_text(encoding="utf-8") == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_error_mid_write_keeps_old_file_and_removes_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("saved\n", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with atomic_writer(target) as handle:
            handle.write("half")
            raise RuntimeError("disk full")
    assert target.read_text(encoding="utf-8") == "saved\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_missing_folder_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        with atomic_writer(tmp_path / "nope" / "out.txt") as handle:
            handle.write("x")
