"""``paths``: every location, and that odd values in the environment or on the command line never crash."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from iwp_trainer import paths


def test_tilde_of_an_unknown_user_is_kept_as_written(monkeypatch) -> None:
    monkeypatch.setenv(paths.ENV_DB, "~no-such-user-iwp/progress.sqlite3")
    assert paths.default_db_path() == Path("~no-such-user-iwp/progress.sqlite3")
    assert paths.expand(Path("~no-such-user-iwp/x")) == Path("~no-such-user-iwp/x")


def test_tilde_is_expanded_when_there_is_a_home(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert paths.expand(Path("~/x.db")) == tmp_path / "x.db"


def test_unknown_user_in_env_or_option_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    env = {"IWP_TRAINER_DB": "~no-such-user-iwp/p.db", "PATH": "", "HOME": str(tmp_path)}
    for argv in (["report", "learners"], ["--db", "~no-such-user-iwp/p.db", "export", "xapi"]):
        result = subprocess.run([sys.executable, "-m", "iwp_trainer", *argv], capture_output=True, text=True,
                                env=env, cwd=tmp_path)
        assert "Traceback" not in result.stderr, result.stderr
        assert result.returncode == 0 and "no progress database at ~no-such-user-iwp/p.db" in result.stdout + result.stderr
