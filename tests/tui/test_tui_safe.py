"""literal(): file and user text is shown as written, never parsed as markup."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static

from iwp_trainer.tui.safe import literal, notify

MARKUP = ["[/]", "[sic]", "[Annex A]", "[@click=app.quit]click[/]", "[link=x]l[/link]", "[bold]b", "[$x]", "\\[", "$var"]


@pytest.mark.parametrize("text", MARKUP)
def test_literal_is_never_parsed(text: str) -> None:
    assert literal(text).plain == text
    assert literal(text, "bold").plain == text
    assert not literal(text).spans or all(not getattr(s.style, "meta", None) for s in literal(text).spans)


def test_literal_replaces_control_characters_and_can_be_one_line() -> None:
    assert literal("a\x1b]52;c;x\x07\nb").plain == "a␛]52;c;x␇\nb"
    assert literal("a\nb", single_line=True).plain == "a b"


async def test_a_static_with_literal_markup_does_not_crash_or_lose_text() -> None:
    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield Static(literal(" ".join(MARKUP)), id="s")

    app = One()
    async with app.run_test(size=(120, 5)) as pilot:
        await pilot.pause()
        assert app.is_running
        assert app.query_one("#s", Static).render().plain.strip() == " ".join(MARKUP)  # type: ignore[union-attr]


async def test_notify_shows_markup_and_controls_literally() -> None:
    app = App[None]()
    async with app.run_test(size=(120, 10)) as pilot:
        notify(app, "[/] [@click=app.quit]x \x1b]0;t\x07", title="[b]T\nx")
        await pilot.pause()
        assert app.is_running
        (note,) = list(app._notifications)
        assert note.message == "[/] [@click=app.quit]x ␛]0;t␇"
        assert note.markup is False
        assert note.title == "[b]T x"
