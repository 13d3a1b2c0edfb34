"""Readable at 80x24 and on large terminals: every screen keeps its essentials on screen after a resize."""

from __future__ import annotations

import pytest
from textual.geometry import Region
from textual.widgets import Footer

from iwp_trainer import settings
from iwp_trainer.tui.app import DARK_THEME, LIGHT_THEME
from iwp_trainer.tui.dialogs import HelpScreen
from iwp_trainer.tui.screens.practise import PlayScreen
from iwp_trainer.tui.widgets import NavBar

from tui_helpers import ready, wait_for

# The widgets each screen cannot do without.
ESSENTIALS = {
    "f2": ["#question", "#conversation"],
    "f3": ["#kb-tree", "#entry-view"],
    "f4": ["#scenario-table", "#scenario-summary"],
    "f5": ["#progress-summary"],
    "f6": ["#problem-summary"],
}


def assert_on_screen(app, selector: str) -> None:
    screen = Region(0, 0, *app.size)
    widget = app.screen.query_one(selector)
    region = widget.region
    assert region.width > 0 and region.height > 0, f"{selector} is not visible"
    assert screen.contains_region(region), f"{selector} at {region} is off a {app.size} screen"


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
async def test_every_screen_fits_after_resizing(make_app, size) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.resize_terminal(*size)
        await pilot.pause()
        for key, selectors in ESSENTIALS.items():
            await pilot.press(key)
            await pilot.pause()
            for selector in [*selectors]:
                assert_on_screen(app, selector)
            nav = app.screen.query_one(NavBar)
            assert nav.region.y == 0 and app.screen.query_one(Footer).region.bottom == size[1]
            # The navigation bar names every screen in full, even at 80 columns.
            line = str(nav.render())
            for name in ("Ask", "Browse", "Practise", "Progress", "Problems"):
                assert name in line
            assert len(line) <= size[0]


async def test_playing_at_80x24_shows_the_conversation_and_every_choice(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("f4")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        await pilot.pause()
        assert_on_screen(app, "#transcript")
        choices = app.screen.query_one("#choices")
        assert_on_screen(app, "#choices")
        assert choices.virtual_size.height <= choices.content_region.height  # no choice hidden below


async def test_help_and_theme_switch(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")  # the question box is empty, so ? means help
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))
        assert app.theme == DARK_THEME
        await pilot.press("ctrl+t")
        assert app.theme == LIGHT_THEME
        assert settings.load_settings()["theme"] == LIGHT_THEME  # remembered for next time
    again = make_app()
    async with again.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        assert again.theme == LIGHT_THEME
        await pilot.press("ctrl+t")
        assert again.theme == DARK_THEME


async def test_nav_bar_names_are_clickable(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        line = str(app.screen.query_one(NavBar).render())
        await pilot.click(NavBar, offset=(line.index("Browse") + 1, 0))
        await wait_for(pilot, lambda: app.current_mode == "browse")
        line = str(app.screen.query_one(NavBar).render())
        await pilot.click(NavBar, offset=(line.index("Problems") + 1, 0))
        await wait_for(pilot, lambda: app.current_mode == "problems")


def test_help_shows_bold_as_bold_never_as_asterisks() -> None:
    from textual.widgets import Static

    from iwp_trainer.tui.dialogs import GLOBAL_HELP, help_widgets
    from iwp_trainer.tui.screens.ask import AskScreen
    from iwp_trainer.tui.screens.browse import BrowseScreen
    from iwp_trainer.tui.screens.practise import PractiseScreen
    from iwp_trainer.tui.screens.problems import ProblemsScreen
    from iwp_trainer.tui.screens.progress import ProgressScreen

    for screen in (AskScreen, BrowseScreen, PractiseScreen, ProgressScreen, ProblemsScreen):
        widgets = help_widgets(screen.HELP + "\n" + GLOBAL_HELP)
        statics = [w for w in widgets if isinstance(w, Static)]
        statics += [c for w in widgets for c in getattr(w, "_pending_children", []) if isinstance(c, Static)]
        assert len(statics) > len(widgets)  # the key rows' cells are checked too
        for static in statics:
            assert "**" not in str(static.render()), screen.__name__
