"""The remembered learner name: saved, switched, forgotten, and never fatal when the file is bad."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from iwp_trainer import atomic, settings


def test_no_file_means_no_learner(isolated_user_dirs: Path) -> None:
    assert settings.get_learner() is None
    assert settings.load_settings() == {}


def test_learner_is_remembered_and_switchable(isolated_user_dirs: Path) -> None:
    settings.set_learner("  Sam Coach  ")
    assert settings.get_learner() == "Sam Coach"
    settings.set_learner("WC-10442")
    assert settings.get_learner() == "WC-10442"
    # The default location comes from paths (env override in tests), as JSON.
    stored = json.loads(Path(os.environ["IWP_TRAINER_CONFIG"]).read_text(encoding="utf-8"))
    assert stored == {"learner": "WC-10442"}


def test_other_settings_survive_a_learner_change(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "settings.json"
    settings.save_setting("theme", "textual-light", path)
    settings.set_learner("Priya", path)
    assert settings.load_settings(path) == {"theme": "textual-light", "learner": "Priya"}
    settings.set_learner(None, path)
    assert settings.load_settings(path) == {"theme": "textual-light"}
    settings.set_learner("   ", path)
    assert settings.get_learner(path) is None


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", "", '{"learner": 42}'])
def test_damaged_file_is_not_fatal(tmp_path: Path, content: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(content, encoding="utf-8")
    assert settings.get_learner(path) is None
    settings.set_learner("Jo", path)  # and saving over it repairs it
    assert settings.get_learner(path) == "Jo"


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "settings.json"
    settings.set_learner("Before", path)

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(OSError):
        settings.set_learner("After", path)
    monkeypatch.undo()
    assert settings.get_learner(path) == "Before"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]
