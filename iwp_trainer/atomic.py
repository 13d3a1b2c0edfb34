"""Atomic file writes: readers see the old file or the new one, never half of either.

Settings and exports are written to a temporary file beside the target and renamed into place, so
a crash, a full disk or a closed terminal mid-write loses nothing that was already saved.
"""

from __future__ import annotations

import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, TextIO


def _umask() -> int:
    """The process umask (only readable by setting it), so new files get the usual permissions."""
    current = os.umask(0o022)
    os.umask(current)
    return current


_UMASK = _umask()


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
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp makes owner-only files; keep the old file's permissions, or the usual ones.
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
