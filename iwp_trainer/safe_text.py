"""Text from files and users, made safe to show on a terminal or to open in a spreadsheet.

Anything a trainer writes (KB entries, scenarios) or a coach types (a learner name, a question) is
data. Before it reaches a terminal it goes through :func:`printable`, so an escape sequence cannot
retitle the window, write to the clipboard (OSC 52) or garble the screen, and a bidi override cannot
make text read differently from what it is. Before it reaches a CSV file it goes through
:func:`csv_cell`, so a spreadsheet never runs it as a formula.

The replacements are visible, one character each, so a trainer can see that something was there:

- C0 control characters (U+0000-U+001F) become their Unicode "control picture": ESC is ``␛``
  (U+241B), BEL ``␇``, CR ``␍``, a newline ``␊`` where one is not wanted; DEL is ``␡``. An escape
  sequence such as ``ESC ] 52 ; c ; …`` therefore shows as ``␛]52;c;…``: harmless, and readable.
- C1 control characters (U+0080-U+009F, including the one-byte CSI U+009B), bidi embeddings,
  overrides and isolates (U+202A-U+202E, U+2066-U+2069), the direction marks U+200E, U+200F and
  U+061C, the line and paragraph separators U+2028 and U+2029, and lone surrogates (undecodable
  bytes) become ``�`` (U+FFFD).

Newlines and tabs are kept by default (``keep="\\n\\t"``; a Windows ``\\r\\n`` counts as a newline); a caller that needs one line passes
``keep=""`` or ``keep="\\t"``. This module never imports Textual: the app's ``tui/safe.py`` builds on it.
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"

# Bidi controls that reorder text (embeddings, overrides, isolates) and the invisible direction marks.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
LINE_SEPARATORS = "\u2028\u2029"

_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f" + BIDI_CONTROLS + LINE_SEPARATORS + "\ud800-\udfff]"
)

# The first characters OWASP lists as starting a formula in Excel, LibreOffice or Google Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _picture(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ … ␟, e.g. ␛ for ESC
    if code == 0x7F:
        return "\u2421"  # ␡
    return REPLACEMENT


def has_unsafe(text: str, keep: str = "\n\t") -> bool:
    """Whether :func:`printable` would change ``text`` (used by the validator to report it)."""
    return any(char not in keep for char in _UNSAFE.findall(text))


def unsafe_chars(text: str, keep: str = "\n\t") -> list[tuple[int, str]]:
    """Each character :func:`printable` would replace, with its offset: ``[(offset, char), ...]``."""
    return [(m.start(), m.group()) for m in _UNSAFE.finditer(text) if m.group() not in keep]


def describe(char: str) -> str:
    """``U+001B (ESC)``-style name of an unsafe character, for messages."""
    names = {0x1B: "ESC", 0x07: "BEL", 0x08: "BS", 0x0D: "CR", 0x00: "NUL", 0x7F: "DEL", 0x9B: "CSI",
             0x9D: "OSC", 0x202E: "RIGHT-TO-LEFT OVERRIDE", 0x202D: "LEFT-TO-RIGHT OVERRIDE",
             0x2066: "LEFT-TO-RIGHT ISOLATE", 0x2067: "RIGHT-TO-LEFT ISOLATE", 0x2068: "FIRST STRONG ISOLATE",
             0x2069: "POP DIRECTIONAL ISOLATE", 0x202A: "LEFT-TO-RIGHT EMBEDDING",
             0x202B: "RIGHT-TO-LEFT EMBEDDING", 0x202C: "POP DIRECTIONAL FORMATTING",
             0x2028: "LINE SEPARATOR", 0x2029: "PARAGRAPH SEPARATOR", 0x0A: "LF", 0x09: "TAB"}
    code = ord(char)
    name = names.get(code)
    if name is None and 0xD800 <= code <= 0xDFFF:
        name = "undecodable byte"
    return f"U+{code:04X}" + (f" ({name})" if name else "")


def control_names(text: str) -> str:
    """The unsafe characters in ``text``, each named once, for ``check``'s messages."""
    return ", ".join(dict.fromkeys(describe(char) for _offset, char in unsafe_chars(text)))


# What ``check`` says about control characters, for KB entries and scenarios alike.
CONTROL_HINT = "delete it: pasted text often brings such characters in; until then it is shown as a placeholder"
MAX_CONTROL_REPORTS = 10  # per file: enough to find them, without burying other problems


def printable(text: Any, keep: str = "\n\t") -> str:
    """``text`` with every terminal control character, bidi control and undecodable byte replaced by
    a visible placeholder (see the module docstring); the characters in ``keep`` pass unchanged."""
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    if not _UNSAFE.search(text):  # the common case: nothing to do, no copy
        return text
    if "\n" in keep and "\r\n" in text:
        text = text.replace("\r\n", "\n")  # a file saved with Windows line endings
    return _UNSAFE.sub(lambda m: m.group() if m.group() in keep else _picture(m.group()), text)


def json_safe(text: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) with every character
    :func:`printable` would replace written as a ``\\uXXXX`` escape instead: the same data when
    parsed, nothing raw on a terminal. Outside strings JSON text is ASCII, so this is always valid."""
    if not _UNSAFE.search(text):
        return text
    return _UNSAFE.sub(lambda m: m.group() if m.group() in "\n\t" else f"\\u{ord(m.group()):04x}", text)


class PrintableStream:
    """A text stream that passes everything written through :func:`printable` (keeping ``keep``):
    the CLI wraps stdout and stderr in one, so no command can send a control sequence to a terminal."""

    def __init__(self, stream: Any, keep: str = "\n\t") -> None:
        self.stream = stream
        self.keep = keep

    def write(self, text: str) -> int:
        self.stream.write(printable(text, self.keep))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def one_line(text: Any) -> str:
    """:func:`printable` for a place that holds one line (a table cell, a title, a comment): line
    breaks (``\\r\\n``, ``\\n``, ``\\r``) become a space, everything else unsafe a placeholder."""
    text = printable(text, keep="\n\r\t")
    return re.sub(r"\r\n|[\r\n]", " ", text).replace("\t", " ")


def csv_cell(value: Any) -> str:
    """A value safe to write to a CSV cell that a spreadsheet will open.

    Numbers are returned unchanged (a negative number is not a formula). Text that starts with
    ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``, as OWASP's "CSV
    Injection" guidance describes, so Excel, LibreOffice and Google Sheets show it as text instead of
    running it; then :func:`printable` replaces control characters (newlines and tabs inside the cell
    are kept; the csv module quotes them).
    """
    if value is None:
        return ""
    if isinstance(value, (bool, int, float)):
        return str(value)
    text = value if isinstance(value, str) else str(value)
    if text.startswith(FORMULA_STARTS):
        text = "'" + text
    return printable(text, keep="\n\t")
