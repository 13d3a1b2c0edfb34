"""Huge entries are shown a page at a time, so Browse (and Ask, and the cited-answer dialog) stay
responsive: a 900 KB entry or a 160 KB single line used to freeze the app for about 10 s."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from textual.widgets import Tree

from iwp_trainer.tui.pages import PAGE_CHARS, PagedMarkdown, split_pages
from iwp_trainer.tui.screens.browse import BrowseScreen

from tui_helpers import TUI_FIXTURES, ready, wait_for

PARAGRAPH = ("The claimant should attend fortnightly or bi-monthly interviews with their work coach. " * 5
             + "\n\n")


def test_split_pages_cuts_at_paragraphs_lines_or_spaces_and_loses_nothing() -> None:
    big = PARAGRAPH * (900_000 // len(PARAGRAPH))
    pages = split_pages(big)
    assert "".join(pages) == big
    assert all(len(p) <= PAGE_CHARS for p in pages) and len(pages) > 100
    assert all(p.endswith("\n\n") for p in pages[:-1])  # whole paragraphs
    line = "word " * 32_000  # 160 KB on one line
    pages = split_pages(line)
    assert "".join(pages) == line and all(p.endswith(" ") for p in pages[:-1])
    solid = "x" * 160_000
    assert "".join(split_pages(solid)) == solid and max(map(len, split_pages(solid))) == PAGE_CHARS
    assert split_pages("short") == ["short"]


def _entry(path: Path, entry_id: str, question: str, body: str) -> None:
    path.write_text(f"---\nid: {entry_id}\nquestion: {question}\nsource:\n  document: IWP trial FAQ\n"
                    f"  section: \"section 9: Long\"\n---\n{body}", encoding="utf-8")


@pytest.fixture
def big_kb(tmp_path: Path) -> Path:
    kb = tmp_path / "kb"
    shutil.copytree(TUI_FIXTURES / "kb", kb)
    _entry(kb / "huge.md", "huge", "A huge entry?", PARAGRAPH * (900_000 // len(PARAGRAPH)) + "THE END.\n")
    _entry(kb / "one-line.md", "one-line", "One very long line?", "word " * 32_000 + "LAST\n")
    return kb


@pytest.mark.parametrize(("entry_id", "last_words"), [("huge", "THE END."), ("one-line", "LAST")])
async def test_browse_shows_a_huge_entry_a_page_at_a_time_and_keeps_handling_keys(
        make_app, big_kb: Path, entry_id: str, last_words: str) -> None:
    app = make_app(kb=big_kb)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, BrowseScreen))
        await pilot.pause()
        screen = app.screen
        screen.show_entry(entry_id)
        tree = screen.query_one(Tree)
        await wait_for(pilot, lambda: tree.cursor_node is not None and tree.cursor_node.data == ("entry", entry_id))
        await wait_for(pilot, lambda: screen.current is not None and screen.current.id == entry_id)
        body = screen.query_one("#entry-body", PagedMarkdown)
        # Only one page is laid out, however long the entry is.
        assert body.paged and body.page == 0
        assert len(body.markdown_widget().source) <= PAGE_CHARS
        assert "Page 1 of" in str(body.query_one(".page-note").render())
        # A key pressed straight after is handled: the tree moves on to the next entry.
        await pilot.press("down")
        await wait_for(pilot, lambda: tree.cursor_node.data != ("entry", entry_id))
        await pilot.press("up")
        await wait_for(pilot, lambda: screen.current is not None and screen.current.id == entry_id)
        body = screen.query_one("#entry-body", PagedMarkdown)  # the entry's pane, built afresh
        # ] and [ turn the pages; the last page ends the entry.
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: body.page == 1)
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: body.page == 0)
        while body.turn(1):
            pass
        assert last_words in body.markdown_widget().source
        assert "".join(body.pages).startswith(body.pages[0])
        assert app.is_running


async def test_a_short_entry_has_no_pages_and_no_page_keys(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, BrowseScreen))
        app.screen.show_entry("travel-costs-refund")
        await wait_for(pilot, lambda: app.screen.current is not None)
        body = app.screen.query_one("#entry-body", PagedMarkdown)
        assert not body.paged and not body.query_one(".page-note").display
        assert app.screen.check_action("page", (1,)) is False
