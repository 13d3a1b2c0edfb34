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


def test_a_symlink_is_followed_not_replaced(tmp_path: Path) -> None:
    """`--out latest.jsonl` where latest.jsonl links to the real file keeps the link."""
    real = tmp_path / "exports" / "2026.jsonl"
    real.parent.mkdir()
    real.write_text("old\n", encoding="utf-8")
    link = tmp_path / "latest.jsonl"
    link.symlink_to(real)
    with atomic_writer(link) as handle:
        handle.write("new\n")
    assert link.is_symlink() and real.read_text(encoding="utf-8") == "new\n"
    assert sorted(p.name for p in real.parent.iterdir()) == ["2026.jsonl"]


def test_a_pipe_or_device_is_written_to_never_replaced(tmp_path: Path) -> None:
    """`--out /dev/null` (or a named pipe) must stay what it is: as root, the rename would replace
    the device node itself. Tested on a named pipe, never on the real /dev/null."""
    import os
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text(encoding="utf-8")), daemon=True)
    reader.start()
    try:
        with atomic_writer(fifo) as handle:
            handle.write("through the pipe\n")
    finally:
        if reader.is_alive():  # unblock the reader if the writer never opened the pipe
            with open(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK), "w"):
                pass
    reader.join(5)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert received == ["through the pipe\n"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_new_files_get_usual_permissions_and_old_ones_keep_theirs(tmp_path: Path) -> None:
    import os
    import stat

    fresh = tmp_path / "export.jsonl"
    with atomic_writer(fresh) as handle:
        handle.write("{}\n")
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask  # not mkstemp's owner-only 0600

    shared = tmp_path / "shared.json"
    shared.write_text("{}", encoding="utf-8")
    shared.chmod(0o640)
    with atomic_writer(shared) as handle:
        handle.write("{ }")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o640


def test_a_killed_write_leaves_a_named_file_that_the_next_write_removes(tmp_path: Path) -> None:
    """20 killed exports left 13 hidden `.NAME.XXXX.tmp` files (1.8 GB). A killed write's file now
    says what it is, and the next write of the same file clears it away."""
    import os
    import signal
    import subprocess
    import sys
    import time

    target = tmp_path / "statements.jsonl"
    target.write_text("old export\n", encoding="utf-8")
    code = ("import sys, time\nfrom iwp_trainer.atomic import atomic_writer\n"
            "with atomic_writer(sys.argv[1]) as h:\n    h.write('x' * 100000); h.flush()\n"
            "    print('writing', flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    [left] = [p for p in tmp_path.iterdir() if p != target]
    assert not left.name.startswith(".")  # a person can see it ...
    assert left.name.startswith("statements.jsonl.unfinished-iwp-trainer-write.")  # ... and tell what it is
    assert left.name.endswith(".tmp")
    legacy = tmp_path / ".statements.jsonl.ab12_x9z.tmp"  # what older versions left, a day ago
    legacy.write_text("half")
    os.utime(legacy, (time.time() - 2 * 86400,) * 2)
    mine = tmp_path / f"statements.jsonl.unfinished-iwp-trainer-write.{os.getpid()}.0123abcd.tmp"
    mine.write_text("a write still going on")  # a live process's: left alone
    other = tmp_path / f"other.jsonl.unfinished-iwp-trainer-write.{proc.pid}.0123abcd.tmp"
    other.write_text("another file's")  # belongs to another target: not this write's business
    with atomic_writer(target) as handle:
        handle.write("new export\n")
    assert target.read_text(encoding="utf-8") == "new export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, mine.name, other.name])
