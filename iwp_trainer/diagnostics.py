"""Problems found in trainers' files, as data, printed in one place.

Loaders never raise on bad content: they return ``Diagnostic`` values and carry on with what is
valid. The CLI prints them with :func:`format_diagnostic`; the app lists them on its Problems screen.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Literal, TextIO

from iwp_trainer.safe_text import json_safe, one_line

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem: where it is, a stable code, and what to do about it."""

    file: str
    line: int | None
    col: int | None
    severity: Severity
    code: str
    message: str
    hint: str | None = None

    @classmethod
    def error(
        cls,
        code: str,
        message: str,
        file: str | Path = "",
        line: int | None = None,
        col: int | None = None,
        hint: str | None = None,
    ) -> "Diagnostic":
        return cls(str(file), line, col, "error", code, message, hint)

    @classmethod
    def warning(
        cls,
        code: str,
        message: str,
        file: str | Path = "",
        line: int | None = None,
        col: int | None = None,
        hint: str | None = None,
    ) -> "Diagnostic":
        return cls(str(file), line, col, "warning", code, message, hint)

    @property
    def location(self) -> str:
        """``file:line:col`` with whatever parts are known."""
        parts = [self.file or "<input>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def format_diagnostic(diag: Diagnostic) -> str:
    """``file:line:col: error CODE: message (hint)``: the one way problems are printed, always on
    one line and with control characters (from a file name or a quoted value) made visible."""
    text = f"{diag.location}: {diag.severity} {diag.code}: {diag.message}"
    if diag.hint:
        text += f" ({diag.hint})"
    return one_line(text)


def print_diagnostics(diags: Iterable[Diagnostic], stream: TextIO, as_json: bool = False) -> None:
    """Print problems sorted by file and line, as text lines or as one JSON object per line."""
    for diag in sorted(diags, key=lambda d: (d.file, d.line or 0, d.col or 0, d.code)):
        if as_json:
            stream.write(json_safe(json.dumps(diag.to_dict(), ensure_ascii=False)) + "\n")
        else:
            stream.write(format_diagnostic(diag) + "\n")


def has_errors(diags: Iterable[Diagnostic], strict: bool = False) -> bool:
    """True when any problem is an error (or, with ``strict``, any problem at all)."""
    return any(strict or d.severity == "error" for d in diags)
