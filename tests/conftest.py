"""Shared fixtures. Every test runs with its own index, database and settings locations, so the
suite never reads or writes a real user's cache or progress."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    base = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("IWP_TRAINER_INDEX", str(base / "index"))
    monkeypatch.setenv("IWP_TRAINER_DB", str(base / "progress.sqlite3"))
    monkeypatch.setenv("IWP_TRAINER_CONFIG", str(base / "settings.json"))
    monkeypatch.setenv("IWP_TRAINER_LRS_CONFIG", str(base / "lrs.toml"))
    monkeypatch.setenv("IWP_TRAINER_LRS_STATE", str(base / "lrs-pushes.json"))
    monkeypatch.delenv("IWP_TRAINER_LRS_USER", raising=False)
    monkeypatch.delenv("IWP_TRAINER_LRS_PASSWORD", raising=False)
    monkeypatch.delenv("IWP_TRAINER_KB", raising=False)
    monkeypatch.delenv("IWP_TRAINER_SCENARIOS", raising=False)
    return base


@pytest.fixture
def shipped_kb() -> Path:
    return ROOT / "kb"


@pytest.fixture
def shipped_scenarios() -> Path:
    return ROOT / "scenarios"


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
