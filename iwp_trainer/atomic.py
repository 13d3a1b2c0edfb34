"""Atomic file writes: readers see the old file or the new one, never half of either.

Settings and exports are written to a temporary file beside the target and renamed into place, so
a crash, a full disk or a closed terminal mid-write loses nothing that was already saved.

A process killed mid-write cannot remove its temporary file. So the file is named for what it is
(``statements.jsonl.unfinished-iwp-trainer-write.<pid>.<random>.tmp``, not hidden), and the next
write of the same target removes any left by a process that is no longer running (or older than a
day, when the process cannot be checked), and those of older versions (hidden ``.NAME.XXXX.tmp``).
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, TextIO

TEMP_MARK = ".unfinished-iwp-trainer-write."  # between the target's name and "<pid>.<random>.tmp"
STALE_AFTER = 24 * 3600.0  # seconds after which a temporary file is stale whatever its process


def _umask() -> int:
    """The process umask (only readable by setting it), so new files get the usual permissions."""
    current = os.umask(0o022)
    os.umask(current)
    return current


_UMASK = _umask()


def temp_name(target: Path) -> str:
    """The temporary file's name: what it belongs to, that it is unfinished, and whose it is."""
    return f"{target.name}{TEMP_MARK}{os.getpid()}.{secrets.token_hex(4)}.tmp"


def pid_running(pid: int) -> bool:
    """Whether process ``pid`` still exists (so what it left unfinished is not yet stale)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process (EPERM): it exists
        return True
    return True


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Remove the temporary files killed writes of ``target`` left beside it; returns them.

    Ours name their process, so only those whose process has gone (or that are over a day old: on
    a shared folder the process may be on another machine) are removed, never a write in progress;
    hidden ones from older versions, ``.NAME.XXXXXXXX.tmp``, once they are over a day old too."""
    folder, name = target.parent, target.name
    ours = re.compile(re.escape(name + TEMP_MARK) + r"(\d+)\.[0-9a-f]+\.tmp")
    legacy = re.compile(r"\." + re.escape(name) + r"\.[A-Za-z0-9_]{8}\.tmp")
    removed: list[Path] = []
    try:
        children = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for child in children:
        match = ours.fullmatch(child.name)
        if match is None and not legacy.fullmatch(child.name):
            continue
        try:
            info = child.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode):
                continue
            old = now - info.st_mtime > STALE_AFTER
            if old or (match is not None and not pid_running(int(match.group(1)))):
                os.unlink(child.path)
                removed.append(Path(child.path))
        except OSError:  # gone already, or not ours to remove
            continue
    return removed


@contextmanager
def atomic_writer(path: Path | str) -> Iterator[TextIO]:
    """Yield a text handle; on a clean exit its content replaces ``path`` in one rename.

    On any error the temporary file is removed and ``path`` is untouched. Raises ``OSError`` when
    the folder does not exist or is not writable.
    """
    target = Path(path)
    try:
        mode = os.stat(target).st_mode  # follows links
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        # A device or pipe (/dev/null, /dev/stdout, a named pipe): write to it. Renaming over it
        # would replace the device node itself (as root, even /dev/null).
        with open(target, "w", encoding="utf-8", newline="\n") as handle:
            yield handle
        return
    target = Path(os.path.realpath(target))  # a symlink keeps pointing at the file we rewrite
    remove_stale_temporaries(target)
    tmp = str(target.parent / temp_name(target))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        # Made owner-only; keep the old file's permissions, or the usual ones.
        os.chmod(fd, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_UMASK)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
