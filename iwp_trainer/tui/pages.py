"""Long answers shown a page at a time, so a huge entry never freezes the app.

Textual lays out a Markdown widget in the event loop: a 900 KB entry took about 20 s to lay out and
draw, a 160 KB single line about 7 s, and no key was handled meanwhile. Policy answers are a page or
two, so an entry longer than :data:`PAGE_CHARS` is split into pages (at blank lines, else line ends,
else spaces) and only the current page is rendered; ``[`` and ``]`` turn the pages.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Markdown, Static

from iwp_trainer.safe_text import printable

PAGE_CHARS = 8_000  # a few screens of text; lays out in well under a second


def split_pages(text: str, limit: int = PAGE_CHARS) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut at the last blank line, else line end,
    else space before the limit (a piece with none of them is cut at the limit)."""
    if len(text) <= limit:
        return [text]
    pages: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        for mark in ("\n\n", "\n", " "):
            cut = window.rfind(mark)
            if cut > limit // 4:  # not so early that pages become tiny
                cut += len(mark)
                break
        else:
            cut = limit
        pages.append(rest[:cut])
        rest = rest[cut:]
    if rest:
        pages.append(rest)
    return pages


class PagedMarkdown(Vertical):
    """A Markdown body that renders one page of a long text at a time, with a note saying where it is."""

    DEFAULT_CSS = """
    PagedMarkdown { height: auto; }
    PagedMarkdown > .page-note { height: auto; color: $text-muted; }
    """

    def __init__(self, markdown: str = "", *, keys: str = "] next page, [ previous page.",
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.keys = keys  # how to turn the pages where this widget is shown
        self.pages = split_pages(printable(markdown or ""))
        self.page = 0

    def compose(self) -> ComposeResult:
        yield Markdown(self.pages[0], classes="page-body")
        note = Static(self._note(), classes="page-note")
        note.display = self.paged
        yield note

    @property
    def paged(self) -> bool:
        return len(self.pages) > 1

    @property
    def source(self) -> str:
        """The Markdown of the page on show."""
        return self.pages[self.page]

    def update(self, markdown: str) -> None:
        """Show ``markdown`` (control characters made visible) from its first page."""
        self.pages = split_pages(printable(markdown or ""))
        self.page = 0
        self._show()

    def turn(self, delta: int) -> bool:
        """Go ``delta`` pages on; False when there is no such page."""
        target = self.page + delta
        if not 0 <= target < len(self.pages):
            return False
        self.page = target
        self._show()
        return True

    def _show(self) -> None:
        if not self.is_mounted:
            return
        self.query_one(".page-body", Markdown).update(self.pages[self.page])
        note = self.query_one(".page-note", Static)
        note.display = self.paged
        note.update(self._note())
        self.screen.refresh_bindings()  # page keys are shown only while there are pages

    def _note(self) -> Content:
        if not self.paged:
            return Content("")
        return Content(f"Page {self.page + 1} of {len(self.pages)} of a long entry: {self.keys}")

    def markdown_widget(self) -> Any:
        return self.query_one(".page-body", Markdown)
