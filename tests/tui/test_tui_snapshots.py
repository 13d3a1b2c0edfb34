"""Snapshots of the main screens on fixture data. After a deliberate change to the look, regenerate
with ``pytest tests/tui/test_tui_snapshots.py --snapshot-update`` and check the SVGs by eye."""

from __future__ import annotations

from pathlib import Path

import pytest

from iwp_trainer.tui.app import LIGHT_THEME
from iwp_trainer.tui.screens.ask import AskInput, Exchange
from iwp_trainer.tui.screens.practise import PlayScreen, PractiseScreen, ResultScreen

from conftest import ready, wait_for

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
    """Wait until the conversation has stopped scrolling (the new answer is laid out and in place)."""
    conversation = pilot.app.screen.query_one("#conversation")
    await pilot.pause(0.4)  # the screen's own follow-up scrolls are due within 0.25 s
    last = None
    while (conversation.scroll_y, conversation.max_scroll_y) != last:
        last = (conversation.scroll_y, conversation.max_scroll_y)
        await pilot.pause(0.1)


def test_ask_answer(make_app, snap_compare) -> None:
    assert snap_compare(make_app(), terminal_size=(100, 32), run_before=asking("how long does a sanction last"))


def test_ask_no_answer_80x24_light(make_app, snap_compare) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24),
                        run_before=asking("what's the weather in Leeds", light=True))


def test_browse_entry(make_app, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await ready(pilot)
        await pilot.press("f3")
        await pilot.pause()
        pilot.app.screen.show_entry("sanction-duration")
        await pilot.pause(0.2)
    assert snap_compare(make_app(), terminal_size=(100, 32), run_before=run_before)


def test_practise_list(make_app, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await ready(pilot)
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, PractiseScreen))
        await pilot.pause()
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=run_before)


def test_playing_practice_mode(make_app, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await ready(pilot)
        await pilot.press("f4", "enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, PlayScreen))
        await pilot.press("2")
        await pilot.pause(0.2)
    assert snap_compare(make_app(), terminal_size=(100, 32), run_before=run_before)


def test_result(make_app, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await ready(pilot)
        await pilot.press("f4", "enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, PlayScreen))
        await pilot.press("1", "2")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ResultScreen))
        await pilot.pause(0.2)
    assert snap_compare(make_app(), terminal_size=(100, 32), run_before=run_before)


def test_problems(make_app, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await ready(pilot)
        await pilot.press("f6")
        await pilot.pause(0.2)
    assert snap_compare(make_app("broken"), terminal_size=(100, 24), run_before=run_before)
