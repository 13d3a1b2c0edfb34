"""Reading trainers' files safely: only regular files, never more than a limit, never waiting.

A path given to ``check`` or ``play``, or a name in ``kb/`` or ``scenarios/``, may be anything:
``/dev/zero`` (endless), a named pipe (a read waits for ever for a writer), a link that points to
itself. Each of those is refused with one clear sentence, and a folder listing keeps every other
file when one name in it is bad.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class FileTooLarge(Exception):
    """The file is bigger than the caller's limit; ``size`` is how big it is (bytes)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"{size:,} bytes")
        self.size = size


class NotRegularFile(Exception):
    """The path is a device, a named pipe, a socket or a folder: never read as a file."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"it is {kind}, not a regular file")
        self.kind = kind


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def not_regular_reason(path: Path) -> str | None:
    """Why ``path`` cannot be read as a file (``None`` when it is a regular file or missing)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        return exc.strerror or str(exc)
    return None if stat.S_ISREG(mode) else f"it is {kind_of(mode)}, not a regular file"


def read_regular(path: Path | str, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes.

    Raises :class:`NotRegularFile` (opened without blocking, so a named pipe never hangs),
    :class:`FileTooLarge` (checked on the open file and again while reading, so a file that grows,
    or lies about its size, is never read past the limit) or ``OSError`` (missing, unreadable,
    a link loop).
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(kind_of(info.st_mode))
        if info.st_size > limit:
            raise FileTooLarge(info.st_size)
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise FileTooLarge(max(total, info.st_size))
        return b"".join(chunks)
    finally:
        os.close(fd)


def listed_files(folder: Path | str, suffix: str) -> list[str]:
    """The names in ``folder`` ending in ``suffix`` (not hidden, not folders), sorted.

    A name whose file cannot be looked at (a link loop, a link to nothing) or that is not a
    regular file is kept, so that reading it reports that one path; the rest always load. Raises
    ``OSError`` when the folder itself cannot be listed."""
    names = []
    with os.scandir(folder) as scan:
        for entry in scan:
            if not entry.name.endswith(suffix) or entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():
                    continue
            except OSError:  # ELOOP: the reader says so, with the file's name
                pass
            names.append(entry.name)
    return sorted(names)
