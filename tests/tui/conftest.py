"""App test helpers: an app on the tiny fixture KB and scenarios, with its own index and database."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from pathlib import Path
from typing import Callable

import pytest
from textual.pilot import Pilot

from iwp_trainer.tui.app import IwpApp

TUI_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "tui"


@pytest.fixture
def tui_fixtures() -> Path:
    return TUI_FIXTURES


@pytest.fixture(scope="session")
def index_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Search indexes shared by the app tests, one per KB folder (the index is only a cache)."""
    return tmp_path_factory.mktemp("tui-index")


@pytest.fixture
def make_app(tmp_path: Path, index_cache: Path) -> Callable[..., IwpApp]:
    """Build an app on fixture data; ``kind`` is "good" or "broken", or pass explicit folders.
    Each test gets its own progress database."""

    def make(kind: str = "good", learner: str | None = "test", kb: Path | None = None,
             scenarios: Path | None = None) -> IwpApp:
        base = TUI_FIXTURES if kind == "good" else TUI_FIXTURES / "broken"
        kb_dir = kb or base / "kb"
        index_dir = index_cache / hashlib.sha1(str(kb_dir).encode()).hexdigest()[:12]
        return IwpApp(
            kb_dir=kb_dir,
            scenarios_dir=scenarios or base / "scenarios",
            index_dir=index_dir,
            db_path=tmp_path / "progress.sqlite3",
            learner=learner,
        )

    return make


@pytest.fixture
def editable_copy(tmp_path: Path) -> Path:
    """A copy of the broken fixture a test may edit (for reload)."""
    target = tmp_path / "content"
    shutil.copytree(TUI_FIXTURES / "broken", target)
    return target


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
    if hasattr(store, "questions") and isinstance(store.questions, list):
        return list(store.questions)
    rows = store.query("SELECT l.name, q.question, q.answered, q.helpful FROM questions q "
                       "LEFT JOIN learners l ON l.id = q.learner_id ORDER BY q.id")
    return [(r[0], r[1], bool(r[2]), None if r[3] is None else bool(r[3])) for r in rows]
