"""Small per-user settings: the remembered learner name (and the app theme), as one JSON file.

The learner name is remembered so a coach is not asked again each time the app opens, and can be
switched at any time. The file is written atomically (a temporary file in the same folder, then
``os.replace``) so a crash mid-write never leaves a half-written, unreadable settings file. A missing
or damaged file is never fatal: the app just asks for the name again.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

from iwp_trainer import paths
from iwp_trainer.atomic import atomic_writer

LEARNER_KEY = "learner"
GUEST = "guest"


def _path(path: Path | None) -> Path:
    return Path(path) if path is not None else paths.default_config_path()


def load_settings(path: Path | None = None) -> dict[str, Any]:
    """Every saved setting; an empty dict when the file is missing, unreadable or not a JSON object."""
    try:
        data = json.loads(_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so readers see either the old or the new file, never a mix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(path) as handle:
        handle.write(text)


def save_setting(key: str, value: Any, path: Path | None = None) -> None:
    """Set one setting, keeping the others. ``None`` removes it. Raises ``OSError`` if unwritable."""
    data = load_settings(path)
    if value is None:
        data.pop(key, None)
    else:
        data[key] = value
    write_atomic(_path(path), json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n")


def get_learner(path: Path | None = None) -> str | None:
    """The remembered learner name or staff id, or ``None`` if none is saved."""
    value = load_settings(path).get(LEARNER_KEY)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def set_learner(name: str | None, path: Path | None = None) -> None:
    """Remember (or, with ``None`` or a blank name, forget) the learner name."""
    cleaned = name.strip() if isinstance(name, str) else None
    save_setting(LEARNER_KEY, cleaned or None, path)


def login_name() -> str:
    """The operating system's name for the person logged in, offered as the learner name; ``""``
    when there is none to be had (no login name in the environment or the password database)."""
    try:
        return getpass.getuser().strip()
    except Exception:  # getpass raises OSError (3.13) or KeyError (pwd) when nobody is known
        return ""
