"""App test helpers: an app on the tiny fixture KB and scenarios, with its own index and database."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Callable

import pytest

from iwp_trainer.tui.app import IwpApp

from tui_helpers import TUI_FIXTURES


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
             scenarios: Path | None = None, browser_tab: bool = False) -> IwpApp:
        base = TUI_FIXTURES if kind == "good" else TUI_FIXTURES / "broken"
        kb_dir = kb or base / "kb"
        index_dir = index_cache / hashlib.sha1(str(kb_dir).encode()).hexdigest()[:12]
        return IwpApp(
            kb_dir=kb_dir,
            scenarios_dir=scenarios or base / "scenarios",
            index_dir=index_dir,
            db_path=tmp_path / "progress.sqlite3",
            learner=learner,
            browser_tab=browser_tab,
        )

    return make


@pytest.fixture
def editable_copy(tmp_path: Path) -> Path:
    """A copy of the broken fixture a test may edit (for reload)."""
    target = tmp_path / "content"
    shutil.copytree(TUI_FIXTURES / "broken", target)
    return target
