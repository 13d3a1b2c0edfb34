"""WCAG AA contrast: every piece of text the app draws, in both themes, reaches 4.5:1 against the
background it is drawn on. The colours are read from the rendered screens (theme variables and
app.tcss as Textual resolved them), not from a list kept by hand."""

from __future__ import annotations

import io
from typing import Awaitable, Callable

import pytest
from rich.cells import cell_len
from rich.console import Console
from textual.geometry import Region
from textual.screen import ModalScreen
from textual.command import CommandPalette
from textual.widgets import Input

from iwp_trainer.tui.app import DARK_THEME, LIGHT_THEME
from iwp_trainer.tui.dialogs import HelpScreen, LearnerNameScreen
from iwp_trainer.tui.screens.ask import AskInput, Exchange
from iwp_trainer.tui.screens.practise import PlayScreen, PractiseScreen, ResultScreen

from tui_helpers import ready, wait_for

AA = 4.5


def luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = rgb
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_formula_matches_wcag_examples() -> None:
    assert contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast((118, 118, 118), (255, 255, 255)) == pytest.approx(4.54, abs=0.01)  # the classic #767676


def is_text(char: str) -> bool:
    """Letters, digits and punctuation; not spaces, borders, bars or block graphics (U+2500-U+259F,
    U+2800-U+28FF), which draw lines and shapes rather than words."""
    code = ord(char)
    return not char.isspace() and not (0x2500 <= code <= 0x259F or 0x2800 <= code <= 0x28FF)


def active_region(app) -> Region:
    """Where the user's attention is: the whole screen, or a dialog's box (what a modal dims behind
    itself is inactive, and WCAG does not ask for contrast there)."""
    screen = app.screen
    if isinstance(screen, ModalScreen) or isinstance(screen, CommandPalette):
        boxes = screen.query(".dialog") or screen.query("#--container")
        if boxes:
            return boxes.first().region
    return Region(0, 0, *app.size)


def low_contrast(app) -> list[tuple[float, str, tuple[int, int, int], tuple[int, int, int]]]:
    """Every run of text on screen under 4.5:1: (ratio, text, foreground, background)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    region = active_region(app)
    found = []
    x = y = 0
    for segment in console._record_buffer:
        start, x = x, x + cell_len(segment.text)
        if segment.text == "\n":
            x, y = 0, y + 1
            continue
        if not region.contains(start, y):
            continue
        text = "".join(c for c in segment.text if is_text(c))
        if not text or segment.style is None:
            continue
        style = segment.style
        fg = style.color.get_truecolor() if style.color else None
        bg = style.bgcolor.get_truecolor() if style.bgcolor else None
        assert fg is not None and bg is not None, f"text drawn in the terminal's own colours: {segment.text!r}"
        if style.reverse:
            fg, bg = bg, fg
        ratio = contrast(tuple(fg), tuple(bg))
        if ratio < AA:
            found.append((round(ratio, 2), segment.text.strip(), tuple(fg), tuple(bg)))
    return found


async def settle(pilot) -> None:
    pilot.app.clear_notifications()
    for box in pilot.app.screen.query(Input):
        box.cursor_blink = False
    await pilot.pause(0.3)


async def ask_and_suggest(pilot) -> None:
    pilot.app.screen.query_one(AskInput).focus()
    pilot.app.screen.query_one(AskInput).value = "how long does a sanction last"
    await pilot.press("enter")
    await wait_for(pilot, lambda: pilot.app.screen.query(Exchange).last().answered is not None)
    pilot.app.screen.query_one(AskInput).value = "what's the weather in Leeds"
    await pilot.press("enter")
    await wait_for(pilot, lambda: pilot.app.screen.query(Exchange).last().answered is not None)
    await pilot.press(*"can i ref")  # the suggested completion and the suggestion list
    await pilot.pause(0.5)


async def browse(pilot) -> None:
    await pilot.press("f3")
    await pilot.pause()
    pilot.app.screen.show_entry("sanction-duration")
    await wait_for(pilot, lambda: pilot.app.screen.pane.view.key == ("entry", "sanction-duration"))


async def playing(pilot) -> None:
    await pilot.press("f4", "enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, PlayScreen))
    await pilot.press("2")


async def result(pilot) -> None:
    await playing(pilot)
    await pilot.press("1")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ResultScreen))


async def progress(pilot) -> None:
    await result(pilot)
    await pilot.press("escape")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, PractiseScreen))
    await pilot.press("f5")


async def help_screen(pilot) -> None:
    await pilot.press("f1")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))


async def learner_dialog(pilot) -> None:
    pilot.app.action_change_learner()
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, LearnerNameScreen))


async def palette(pilot) -> None:
    await pilot.press("ctrl+p")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, CommandPalette))
    await pilot.pause(0.4)


async def practise_list(pilot) -> None:
    await pilot.press("f4")


async def problems(pilot) -> None:
    await pilot.press("f6")


SCENES: dict[str, tuple[str, Callable[..., Awaitable[None]]]] = {
    "ask": ("good", ask_and_suggest),
    "browse": ("good", browse),
    "practise": ("good", practise_list),
    "playing": ("good", playing),
    "result": ("good", result),
    "progress": ("good", progress),
    "problems": ("broken", problems),
    "help": ("good", help_screen),
    "learner": ("good", learner_dialog),
    "palette": ("good", palette),
}


@pytest.mark.parametrize("theme", [DARK_THEME, LIGHT_THEME])
@pytest.mark.parametrize("scene", list(SCENES))
async def test_all_text_reaches_wcag_aa(make_app, theme: str, scene: str) -> None:
    kind, drive = SCENES[scene]
    app = make_app(kind)
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        app.theme = theme
        await drive(pilot)
        await settle(pilot)
        failures = sorted(set(low_contrast(app)))
        assert not failures, "\n".join(f"{r}:1 {fg} on {bg}: {t[:60]!r}" for r, t, fg, bg in failures)


async def test_empty_question_box_placeholder_reaches_wcag_aa(make_app) -> None:
    for theme in (DARK_THEME, LIGHT_THEME):
        app = make_app()
        async with app.run_test(size=(100, 32)) as pilot:
            await ready(pilot)
            app.theme = theme
            await settle(pilot)
            failures = low_contrast(app)
            assert not failures, f"{theme}: {failures}"
