"""``iwp-trainer check`` and ``play`` on paths that are not files, and Ctrl+C during a parallel check."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iwp_trainer", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_check_refuses_a_device_without_reading_it() -> None:
    """`check /dev/zero` read 7 GB in 6 s before anyone stopped it."""
    result = cli("check", "/dev/zero", timeout=30)
    assert result.returncode == 1
    assert "/dev/zero: error SC009: cannot read the file: it is a character device, not a regular file" \
        in result.stderr
    assert "Traceback" not in result.stderr


def test_check_and_play_refuse_a_named_pipe_at_once(tmp_path: Path) -> None:
    """`check FIFO` waited for ever for a writer; `play FIFO` said "no such scenario file"."""
    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)
    result = cli("check", str(fifo), timeout=30)
    assert result.returncode == 1
    assert f"{fifo}: error SC009: cannot read the file: it is a named pipe (FIFO), not a regular file" in result.stderr
    result = cli("play", str(fifo), timeout=30)
    assert result.returncode == 1
    assert f"iwp-trainer play: error: cannot read {fifo}: it is a named pipe (FIFO), not a regular file" \
        in result.stderr
    assert "no such scenario file" not in result.stderr


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc to see the workers")
def test_ctrl_c_during_a_parallel_check_is_one_line_and_status_130(tmp_path: Path) -> None:
    """Ctrl+C reaches the whole process group; a worker used to print its own KeyboardInterrupt
    traceback. Several tries, as the terminal would send it at any moment."""
    folder = tmp_path / "many"
    folder.mkdir()
    shutil.copy(ROOT / "scenarios" / "dimensions.yaml", folder)
    source = (ROOT / "scenarios" / "travel-costs.yaml").read_text(encoding="utf-8")
    # Enough work (about 6 s on an idle 2-core machine) that the check is still running when the
    # last, latest Ctrl+C arrives, however fast the machine.
    for n in range(3000):
        (folder / f"copy-{n:04d}.yaml").write_text(source.replace("id: travel-costs", f"id: copy-{n:04d}", 1),
                                                   encoding="utf-8")
    for delay in (0.0, 0.3, 0.8):
        proc = subprocess.Popen([sys.executable, "-m", "iwp_trainer", "check", str(folder)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
        while len(_children(proc.pid)) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)  # until the workers are running
        if proc.poll() is not None:
            pytest.skip("this machine has a single CPU: check runs in one process")
        time.sleep(delay)
        assert proc.poll() is None, "the check finished before Ctrl+C: give it more files"
        os.killpg(proc.pid, signal.SIGINT)  # as the terminal does: the whole group
        stopped = time.monotonic()
        out, err = proc.communicate(timeout=30)
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
        assert proc.returncode == 130 and err.strip() == "iwp-trainer: interrupted", err
        assert time.monotonic() - stopped < 10  # stopped, not left to finish the work
