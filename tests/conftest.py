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


# --- PostgreSQL: one throwaway server for the whole run, a new database per test -------------------

import itertools  # noqa: E402
import os  # noqa: E402

_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def pg_cluster():
    """A real PostgreSQL server (Debian's package) in a temporary folder, on a free port, stopped at
    the end. If it cannot be started, every test that needs it FAILS with the reason: a missing
    server must never pass for a green run."""
    from pg_cluster import ClusterError, start_cluster

    try:
        cluster = start_cluster()
    except ClusterError as exc:
        pytest.fail(f"PostgreSQL tests need a server and it could not be started: {exc}", pytrace=False)
    yield cluster
    cluster.destroy()


@pytest.fixture
def pg_url(pg_cluster, monkeypatch: pytest.MonkeyPatch) -> str:
    """The address of a new, empty database on the test server (no password: trust on loopback)."""
    for name in ("PGPASSWORD", "PGSERVICE", "PGSERVICEFILE", "PGPASSFILE", "PGUSER", "PGHOST", "PGDATABASE"):
        monkeypatch.delenv(name, raising=False)
    return pg_cluster.create_database(f"t{os.getpid()}_{next(_database_numbers)}")


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """A progress database location on each back end: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "data" / "progress.sqlite3"
    return request.getfixturevalue("pg_url")
