"""The core must stay usable without the UI: no core module may import Textual."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import iwp_trainer


def core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(iwp_trainer.__path__, prefix="iwp_trainer."):
        if info.name.startswith("iwp_trainer.tui") or info.name == "iwp_trainer.__main__":
            continue
        names.append(info.name)
    return names


def test_core_never_imports_textual() -> None:
    modules = core_modules()
    assert "iwp_trainer.cli" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "assert 'textual' not in sys.modules, sorted(m for m in sys.modules if m.startswith('textual'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_only_search_module_imports_whoosh() -> None:
    """Whoosh sits behind one module so the engine can be swapped."""
    import pathlib

    root = pathlib.Path(iwp_trainer.__file__).parent
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.name != "search.py" and "whoosh" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
