"""The set-up installs exactly what requirements.lock names: a fresh machine gets the versions the
suite was run on, and a dependency added to pyproject.toml without the lock fails here."""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked() -> dict[str, str]:
    """Package -> pinned version, for the lines whose markers hold on this Python."""
    pins: dict[str, str] = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if not line or line[0] in " #\t-":
            continue
        spec, _, marker = line.rstrip(" \\").partition(";")
        if marker.strip() and not Marker(marker.strip()).evaluate():
            continue
        name, _, version = spec.strip().partition("==")
        pins[_canon(name)] = version
    return pins


def test_every_lock_line_is_pinned_and_hashed() -> None:
    text = LOCK.read_text(encoding="utf-8")
    blocks = re.split(r"\n(?=[a-z0-9])", text.split("\n", 2)[2])
    assert len(blocks) > 10
    for block in blocks:
        if block.startswith("#"):
            continue
        assert "==" in block.splitlines()[0], block
        assert "--hash=sha256:" in block, f"no hash for {block.splitlines()[0]}"


def test_pyproject_dependencies_are_all_locked() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    pins = _locked()
    for spec in wanted:
        req = Requirement(spec)
        assert _canon(req.name) in pins, f"{req.name} is in pyproject.toml but not in the lock: run make lock"
        assert req.specifier.contains(pins[_canon(req.name)]), \
            f"lock pins {req.name}=={pins[_canon(req.name)]}, outside {req.specifier}: run make lock"


def test_the_environment_holds_the_locked_versions() -> None:
    if sys.prefix == sys.base_prefix:  # pragma: no cover - only when run outside make's .venv
        return
    pins = _locked()
    installed = {_canon(d.metadata["Name"]): d.version for d in metadata.distributions()}
    for name, version in pins.items():
        assert installed.get(name) == version, f"{name}: lock says {version}, installed {installed.get(name)}"
    extra = set(installed) - set(pins) - {"pip", "iwp-trainer"}
    assert not extra, f"installed but not locked: {sorted(extra)}"
