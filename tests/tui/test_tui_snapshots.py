"""Snapshots of the main screens on fixture data. After a deliberate change to the look, regenerate
with ``pytest tests/tui/test_tui_snapshots.py --snapshot-update`` and check the SVGs by eye."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from iwp_trainer.tui.app import LIGHT_THEME
from iwp_trainer.tui.screens.ask import AskInput, Exchange
from iwp_trainer.tui.screens.practise import PlayScreen, PractiseScreen, ResultScreen

from tui_helpers import ready, wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _from_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # paths on the Problems screen are shown relative to here


def asking(question: str, light: bool = False):
    async def run_before(pilot) -> None:
        await ready(pilot)
        if light:
            pilot.app.theme = LIGHT_THEME
        pilot.app.screen.query_one(AskInput).value = question
        await pilot.press("enter")
        await wait_for(pilot, lambda: pilot.app.screen.query(Exchange).last().answered is not None)
        await settled(pilot)
    return run_before


async def settled(pilot) -> None:
    """Wait until nothing on screen is still scrolling (new content laid out and in place)."""
    pilot.app.clear_notifications()  # toasts time out, so they would make the picture depend on timing
    for box in pilot.app.screen.query(Input):
        box.cursor_blink = False  # a blinking cursor would make the picture depend on timing
    await pilot.pause(0.4)  # the Ask screen's own follow-up scrolls are due within 0.25 s

    def positions() -> list[tuple[float, float]]:
        return [(w.scroll_y, w.max_scroll_y) for w in pilot.app.screen.query("*") if w.is_scrollable]

    last = None
    while positions() != last:
        last = positions()
        await pilot.pause(0.1)


def test_ask_answer(make_app, snap_compare) -> None:
    assert snap_compare(make_app(), terminal_size=(100, 32), run_before=asking("How long will a sanction run under the trial?"))


def test_ask_no_answer_80x24_light(make_app, snap_compare) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24),
                        run_before=asking("what's the weather in Leeds", light=True))


def test_browse_entry(make_app, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await ready(pilot)
        await pilot.press("f3")
        await pilot.pause()
        pilot.app.screen.show_entry("sanction-duration")
        await wait_for(pilot, lambda: pilot.app.screen.pane.view.key == ("entry", "sanction-duration"))
        await settled(pilot)
    assert snap_compare(make_app(), terminal_size=(100, 32), run_before=run_before)


def test_practise_list(make_app, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await ready(pilot)
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, PractiseScreen))
        await settled(pilot)
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=run_before)


def test_playing_practice_mode(make_app, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await ready(pilot)
        await pilot.press("f4", "enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, PlayScreen))
        await pilot.press("2")
        await settled(pilot)
    assert snap_compare(make_app(), terminal_size=(100, 32), run_before=run_before)


def test_result(make_app, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await ready(pilot)
        await pilot.press("f4", "enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, PlayScreen))
        await pilot.press("1", "2")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ResultScreen))
        await settled(pilot)
    assert snap_compare(make_app(), terminal_size=(100, 32), run_before=run_before)


def test_problems(make_app, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await ready(pilot)
        await pilot.press("f6")
        await settled(pilot)
    assert snap_compare(make_app("broken"), terminal_size=(100, 24), run_before=run_before)


def test_help_80x24(make_app, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await ready(pilot)
        await pilot.press("f1")
        await settled(pilot)
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=run_before)


def test_progress_80x24(make_app, snap_compare, monkeypatch) -> None:
    from datetime import datetime, timezone

    from iwp_trainer.store import ProgressStore
    from iwp_trainer.tui import services

    import time

    monkeypatch.setenv("TZ", "UTC")  # times on screen are local: the same picture in any time zone
    time.tzset()
    fixed = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)  # recorded times appear on screen
    monkeypatch.setattr(services, "open_store",
                        lambda path: (ProgressStore.open(path, clock=lambda: fixed), None))

    async def run_before(pilot) -> None:
        await ready(pilot)
        for keys in (["1", "1"], ["2", "2"]):
            await pilot.press("f4", "enter")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, PlayScreen))
            await pilot.press(*keys)
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, ResultScreen))
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, PractiseScreen))
        await pilot.press("f5")
        await settled(pilot)
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=run_before)
