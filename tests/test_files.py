"""Reading trainers' files: only regular files, within a limit, without ever waiting."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from iwp_trainer.files import FileTooLarge, NotRegularFile, listed_files, not_regular_reason, read_regular


def test_a_regular_file_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_bytes(b"x" * 100)
    assert read_regular(path, 100) == b"x" * 100
    with pytest.raises(FileTooLarge) as info:
        read_regular(path, 99)
    assert info.value.size == 100
    assert not_regular_reason(path) is None and not_regular_reason(tmp_path / "missing") is None


def test_a_pipe_a_device_or_a_folder_is_refused_without_reading(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)  # no writer: a plain open() would wait for ever
    with pytest.raises(NotRegularFile, match="named pipe"):
        read_regular(fifo, 10)
    assert "named pipe" in not_regular_reason(fifo)
    if os.path.exists("/dev/zero"):
        with pytest.raises(NotRegularFile, match="character device"):
            read_regular("/dev/zero", 10)
    with pytest.raises(NotRegularFile, match="folder"):
        read_regular(tmp_path, 10)


def test_listing_keeps_bad_names_for_the_reader_to_report(tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text("x")
    (tmp_path / ".hidden.md").write_text("x")
    (tmp_path / "folder.md").mkdir()
    (tmp_path / "other.txt").write_text("x")
    (tmp_path / "loop.md").symlink_to(tmp_path / "loop.md")
    assert listed_files(tmp_path, ".md") == ["good.md", "loop.md"]
    with pytest.raises(OSError):
        read_regular(tmp_path / "loop.md", 10)
