"""Helpers shared by the app tests (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Callable

from textual.pilot import Pilot

from iwp_trainer.tui.app import IwpApp

TUI_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "tui"


async def wait_for(pilot: Pilot, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until ``condition`` holds (workers finish, screens settle)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.02)
    await pilot.pause()


async def ready(pilot: Pilot) -> None:
    """Wait until the library is loaded and the search index is open."""
    app = pilot.app
    await wait_for(pilot, lambda: app.library_revision > 0 and (app.answerer is not None or app.answerer_error is not None))


def recorded_questions(app: IwpApp) -> list[tuple[str, str, bool, bool | None]]:
    """(learner, question, answered, helpful) for every question the app recorded, oldest first."""
    store = app.store
    rows = store.query("SELECT l.name, q.question, q.answered, q.helpful FROM questions q "
                       "LEFT JOIN learners l ON l.id = q.learner_id ORDER BY q.id")
    return [(r[0], r[1], bool(r[2]), None if r[3] is None else bool(r[3])) for r in rows]

