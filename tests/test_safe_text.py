"""printable() and csv_cell(): text from files and users never reaches a terminal or spreadsheet raw."""

from __future__ import annotations

import csv
import io

import pytest

from iwp_trainer.safe_text import PrintableStream, csv_cell, has_unsafe, json_safe, one_line, printable, unsafe_chars

HOSTILE = [
    "\x1b[2J\x1b[H",  # clear screen, cursor home
    "\x1b]0;owned\x07",  # set the window title
    "\x1b]52;c;ZWNobyBoaQ==\x07",  # OSC 52: write to the clipboard
    "\x9b31m",  # the one-byte C1 CSI
    "\x9d0;t\x9c",  # C1 OSC ... ST
    "a\x00b\x08c\x7f",
    "\u202eevil\u202c",  # right-to-left override
    "\u2066x\u2069\u2067y\u2068",  # isolates
    "line\u2028sep",
    "bad \udcff byte",  # surrogateescape'd byte
]


@pytest.mark.parametrize("text", HOSTILE)
def test_printable_leaves_nothing_a_terminal_would_act_on(text: str) -> None:
    out = printable(text)
    assert not has_unsafe(out)
    assert all(ord(c) >= 0x20 and not 0x7F <= ord(c) <= 0x9F for c in out if c not in "\n\t")
    assert out.encode("utf-8")  # lone surrogates gone: always encodable


def test_escape_sequences_stay_readable_with_a_visible_marker() -> None:
    assert printable("\x1b]52;c;aGk=\x07") == "␛]52;c;aGk=␇"
    assert printable("\x1b[31mred") == "␛[31mred"
    assert printable("x\u202ey") == "x\ufffdy"
    assert printable("\x9b") == "\ufffd"
    assert printable("\x7f") == "␡"


def test_newlines_and_tabs_kept_unless_the_caller_wants_one_line() -> None:
    assert printable("a\nb\tc") == "a\nb\tc"
    assert printable("a\nb\tc", keep="") == "a␊b␉c"
    assert printable("a\r\nb\rc") == "a\nb␍c"  # Windows line endings are newlines; a lone CR is not
    assert printable("a\r\nb", keep="") == "a␍␊b"
    assert one_line("Title\nwith\r\nbreaks\tand\x1b") == "Title with breaks and␛"


def test_ordinary_text_is_unchanged() -> None:
    text = "Can I pay a WSR’s bus fare? [Annex A] — £5 “quotes” é ✓ 日本"
    assert printable(text) is text
    assert not unsafe_chars(text)


def test_unsafe_chars_reports_offsets() -> None:
    assert unsafe_chars("ab\x1bc\u202e") == [(2, "\x1b"), (4, "\u202e")]
    assert unsafe_chars("a\nb") == []
    assert unsafe_chars("a\nb", keep="") == [(1, "\n")]


def test_printable_accepts_none_and_non_text() -> None:
    assert printable(None) == ""
    assert printable(42) == "42"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cell_neutralises_formula_starts(start: str) -> None:
    cell = csv_cell(f"{start}cmd|' /C calc'!A0")
    assert cell.startswith("'")
    assert not has_unsafe(cell)


def test_csv_cell_leaves_plain_text_and_numbers() -> None:
    assert csv_cell("Carer CET") == "Carer CET"
    assert csv_cell("a = b") == "a = b"
    assert csv_cell(-3) == "-3"
    assert csv_cell(0.5) == "0.5"
    assert csv_cell(None) == ""
    assert csv_cell("two\nlines") == "two\nlines"
    assert csv_cell("x\x1b]52;c;x\x07") == "x␛]52;c;x␇"


def test_csv_cell_round_trips_through_the_csv_module() -> None:
    buf = io.StringIO()
    csv.writer(buf).writerow([csv_cell('=HYPERLINK("http://x","y")'), csv_cell("ok")])
    row = next(csv.reader(io.StringIO(buf.getvalue())))
    assert row == ["'=HYPERLINK(\"http://x\",\"y\")", "ok"]


def test_json_safe_escapes_without_changing_the_data() -> None:
    import json

    data = {"t": "a\x1b]52;c;x\x07 \u202eb\x9b \udcff é\n"}
    text = json_safe(json.dumps(data, ensure_ascii=False, indent=2))
    assert not has_unsafe(text)
    assert "é" in text  # ordinary text stays readable
    assert json.loads(text) == data


def test_printable_stream_replaces_what_is_written() -> None:
    buf = io.StringIO()
    stream = PrintableStream(buf)
    assert stream.write("a\x1b[2Jb\n") == 7  # what the caller wrote
    print("c\u202ed", file=stream)
    assert buf.getvalue() == "a␛[2Jb\nc\ufffdd\n"
    assert stream.getvalue() == buf.getvalue()  # everything else is the wrapped stream's
