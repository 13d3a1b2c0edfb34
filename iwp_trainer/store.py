"""The learner progress store: attempts, decisions, scores and Ask questions, in one SQLite file
(the default) or, for a district, in a PostgreSQL database (``--db postgresql://user@host/dbname``,
see :mod:`iwp_trainer.store_pg`). One :class:`ProgressStore` and one set of SQL serve both; what the
two databases do differently lives in a small :class:`Backend` each.

Why SQLite and these settings:

* one file that can live in the user data folder or be shared by a team (``--db``);
* WAL mode so readers (reports) never block the coach who is playing, and ``busy_timeout`` so two
  writers wait for each other instead of failing;
* ``synchronous=NORMAL``: in WAL mode every commit survives the app being killed or the terminal
  closed (only a power cut may lose the last commits), at a fraction of the cost of a sync per commit;
* every decision is committed in its own transaction the moment it is made, so a crash loses at
  most the decision being made, and the attempt can be resumed by replaying the recorded choice ids;
  the decision that reaches an ending is committed together with the outcome (one transaction), so
  no attempt can be left at its ending without being finished;
* a file is checked on open (``PRAGMA quick_check``, stopped after a time budget so a very large
  file still opens quickly): a damaged file is refused, and never written to, rather than failing
  at every decision;
* reports and exports open the file read-only, so they work on a shared file nobody may write;
* the schema carries a version (``PRAGMA user_version``) and is upgraded by an ordered list of
  migrations, so an older file is upgraded in place and a file from a newer app is refused.

The store never imports the scenario engine: it records plain values, and reports read back only
what was recorded (a scenario file edited later never changes past results).

Every failure surfaces as :class:`StoreError` with a message fit to show a user; the app then falls
back to :meth:`ProgressStore.in_memory` (this session only) and says that recording is off.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from iwp_trainer import paths
from iwp_trainer.scoring import attempt_score, dimension_fraction

MODES = ("practice", "assessment")
STATUSES = ("in_progress", "passed", "failed", "abandoned")
FINISHED = ("passed", "failed")
DEFAULT_BUSY_TIMEOUT = 5.0  # seconds a writer waits for another before giving up
QUICK_CHECK_BUDGET = 0.25  # seconds the integrity check on open may take; the rest of a huge file is trusted
SAVE_ATTEMPTS = 3  # tries for one save while another program holds the write lock (each waits busy_timeout)
SAVE_PAUSE = 0.5  # seconds between those tries
COPY_BATCH = 500  # attempts (or questions) copied per transaction by copy_from


class StoreError(Exception):
    """A problem with the progress database, worded for the person using the app.

    ``transient`` is true when trying again may work (another program held the write lock)."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class OlderLayoutError(StoreError):
    """A file from an older version of the app, opened read-only: it needs upgrading first."""


# --- domain objects -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DimensionResult:
    """Points earned in one scoring dimension against the best achievable, as recorded."""

    earned: int
    best: int

    @property
    def fraction(self) -> float:
        """Share of the best achieved, on the engine's rule: never below 0; no points to win = full
        marks unless points were lost."""
        return dimension_fraction(self.earned, self.best)


@dataclass(frozen=True)
class DecisionRecord:
    """One choice a coach made, exactly as it was scored at the time."""

    seq: int
    node_id: str
    choice_id: str
    choice_text: str
    points: dict[str, int]
    is_best: bool
    critical: bool
    cites: list[str]
    decided_at: str


@dataclass
class Attempt:
    """One go at a scenario: what was played (file hash, mode, seed), when, how it ended."""

    id: int
    learner: str
    scenario_id: str
    scenario_title: str
    scenario_sha256: str
    mode: str
    seed: int
    started_at: str
    ended_at: str | None
    status: str
    scores: dict[str, DimensionResult] = field(default_factory=dict)
    decisions: list[DecisionRecord] = field(default_factory=list)
    ending_node: str | None = None
    uuid: str = ""  # the attempt's stable identity, the same in every database it is copied to

    @property
    def passed(self) -> bool | None:
        """True/False once finished, ``None`` while in progress or when abandoned."""
        return {"passed": True, "failed": False}.get(self.status)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def finished_at(self) -> str | None:
        return self.ended_at

    @property
    def choice_ids(self) -> list[str]:
        """The recorded choices in order: replay them through the engine to resume."""
        return [d.choice_id for d in self.decisions]

    @property
    def score(self) -> float:
        """The attempt's one overall score, by the engine's rule (:func:`~iwp_trainer.scoring.attempt_score`)."""
        return attempt_score(s.fraction for s in self.scores.values())


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended, recorded with its last decision: pass or fail, the ending node and the
    score per dimension as ``dimension -> (earned, best)`` (or mappings/objects with those fields)."""

    passed: bool
    ending_node: str
    scores: Mapping[str, Any]


# --- helpers ----------------------------------------------------------------------------------------


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with milliseconds: fixed width, so text order is time order in SQL."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def normalise_question(text: str) -> str:
    """Case and spacing folded, so the same question typed twice counts once in the gaps report."""
    return re.sub(r"\s+", " ", text).strip().casefold()


def _clean_name(name: str) -> str:
    cleaned = re.sub(r"\s+", " ", str(name or "")).strip()
    if not cleaned:
        raise StoreError("a learner name or staff id is needed to record progress")
    return cleaned


def _scores_from(scores: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """Accept ``(earned, best)`` pairs, ``{"earned", "best"}`` mappings or objects with those fields."""
    out: dict[str, tuple[int, int]] = {}
    for dim, value in scores.items():
        if isinstance(value, Mapping):
            earned, best = value["earned"], value["best"]
        elif isinstance(value, Sequence) and not isinstance(value, str):
            earned, best = value[0], value[1]
        else:
            earned, best = getattr(value, "earned"), getattr(value, "best")
        out[str(dim)] = (int(earned), int(best))
    return out


# --- schema -----------------------------------------------------------------------------------------
#
# Each migration gets the open back end (``db``) inside the upgrade transaction: ``db.execute`` and
# ``db.executemany`` take ``?`` placeholders on either back end, and ``db.integer`` / ``db.id_column``
# name the few types the two spell differently (SQLite's INTEGER is 64-bit and INTEGER PRIMARY KEY
# numbers itself; PostgreSQL needs BIGINT and an identity column). Everything else is the same SQL.


def _migration_1(db: "Backend") -> None:
    """Learners, attempts with their per-dimension scores and decisions, Ask questions."""
    big, key = db.integer, db.id_column
    db.script(
        f"""
        CREATE TABLE learners (
            id         {key},
            name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
            created_at TEXT NOT NULL
        );
        CREATE TABLE attempts (
            id              {key},
            learner_id      {big} NOT NULL REFERENCES learners(id),
            scenario_id     TEXT NOT NULL,
            scenario_title  TEXT NOT NULL,
            scenario_sha256 TEXT NOT NULL,
            mode            TEXT NOT NULL CHECK (mode IN ('practice', 'assessment')),
            seed            {big} NOT NULL,
            started_at      TEXT NOT NULL,
            ended_at        TEXT,
            status          TEXT NOT NULL DEFAULT 'in_progress'
                            CHECK (status IN ('in_progress', 'passed', 'failed', 'abandoned')),
            ending_node     TEXT
        );
        CREATE TABLE attempt_scores (
            attempt_id {big} NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
            dimension  TEXT NOT NULL,
            earned     INTEGER,
            best       INTEGER NOT NULL,
            PRIMARY KEY (attempt_id, dimension)
        );
        CREATE TABLE decisions (
            attempt_id  {big} NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
            seq         INTEGER NOT NULL,
            node_id     TEXT NOT NULL,
            choice_id   TEXT NOT NULL,
            choice_text TEXT NOT NULL,
            points      TEXT NOT NULL,
            is_best     INTEGER NOT NULL,
            critical    INTEGER NOT NULL,
            cites       TEXT NOT NULL,
            decided_at  TEXT NOT NULL,
            PRIMARY KEY (attempt_id, seq)
        );
        CREATE TABLE questions (
            id         {key},
            learner_id {big} REFERENCES learners(id),
            question   TEXT NOT NULL,
            answered   INTEGER NOT NULL,
            helpful    INTEGER,
            asked_at   TEXT NOT NULL
        );
        """
    )


def _migration_2(db: "Backend") -> None:
    """Reports: normalised question text for the gaps report, and indexes for the aggregations."""
    db.execute("ALTER TABLE questions ADD COLUMN normalised TEXT NOT NULL DEFAULT ''")
    rows = db.execute("SELECT id, question FROM questions").fetchall()
    db.executemany("UPDATE questions SET normalised = ? WHERE id = ?",
                   [(normalise_question(q), i) for i, q in rows])
    db.script(
        """
        CREATE INDEX attempts_by_learner ON attempts (learner_id, status, started_at);
        CREATE INDEX attempts_by_scenario ON attempts (scenario_id, status, started_at);
        CREATE INDEX attempts_by_start ON attempts (started_at);
        CREATE INDEX decisions_not_best ON decisions (is_best, attempt_id);
        CREATE INDEX questions_by_text ON questions (normalised);
        """
    )


UUID_NAMESPACE = uuid.UUID("6f1d2c3e-7a4b-5c6d-8e9f-0a1b2c3d4e5f")  # iwp-trainer's, for backfilled ids


def _migration_3(db: "Backend") -> None:
    """A stable identity (``uuid``) for every attempt and question, the same wherever the row is
    copied: ``db copy`` uses it to skip what a district store already holds. Existing rows get a
    name-based uuid from what they recorded, so upgrading two copies of a file gives the same ids."""
    db.execute("ALTER TABLE attempts ADD COLUMN uuid TEXT")
    db.execute("ALTER TABLE questions ADD COLUMN uuid TEXT")
    attempts = db.execute("SELECT a.id, l.name, a.scenario_id, a.started_at, a.seed FROM attempts a "
                          "JOIN learners l ON l.id = a.learner_id").fetchall()
    db.executemany("UPDATE attempts SET uuid = ? WHERE id = ?",
                   [(str(uuid.uuid5(UUID_NAMESPACE, "attempt|" + "|".join(map(str, (n, s, t, seed, i))))), i)
                    for i, n, s, t, seed in attempts])
    questions = db.execute("SELECT q.id, l.name, q.question, q.asked_at FROM questions q "
                           "LEFT JOIN learners l ON l.id = q.learner_id").fetchall()
    db.executemany("UPDATE questions SET uuid = ? WHERE id = ?",
                   [(str(uuid.uuid5(UUID_NAMESPACE, "question|" + "|".join(map(str, (n, q, t, i))))), i)
                    for i, n, q, t in questions])
    db.script(
        """
        CREATE UNIQUE INDEX attempts_by_uuid ON attempts (uuid);
        CREATE UNIQUE INDEX questions_by_uuid ON questions (uuid);
        """
    )


# The ordered migrations: index i upgrades a database from version i to version i + 1. Never edit a
# released entry; append a new one.
MIGRATIONS: list[Callable[["Backend"], None]] = [_migration_1, _migration_2, _migration_3]
SCHEMA_VERSION = len(MIGRATIONS)
OUR_TABLES = {"learners", "attempts", "attempt_scores", "decisions", "questions"}


# --- back ends ----------------------------------------------------------------------------------------


def is_server_url(location: object) -> bool:
    """True for a PostgreSQL address (``postgresql://...``) rather than a file path."""
    return isinstance(location, str) and location.strip().lower().startswith(("postgresql://", "postgres://"))


class Backend:
    """What differs between SQLite and PostgreSQL, behind one small interface; all the store's SQL
    is written once, with ``?`` placeholders, in :class:`ProgressStore` and the reports.

    A back end owns one connection. The store serialises its use with a lock."""

    kind = "?"
    integer = "INTEGER"
    id_column = "INTEGER PRIMARY KEY"
    lock_row = ""  # appended to a SELECT that reads a row it is about to change, in a write transaction
    location = ""  # what messages call the database (a path, or a server address without secrets)
    persistent = True

    # -- connection and transactions --
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        raise NotImplementedError

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def script(self, sql: str) -> None:
        """Several statements inside the caller's transaction (``executescript`` would commit it)."""
        for statement in sql.split(";"):
            if statement.strip():
                self.execute(statement)

    def begin(self) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        raise NotImplementedError

    def reconnect(self) -> bool:
        """After :meth:`lost` said the connection is gone: a new one (True), or False when that
        cannot be done here (SQLite never needs it)."""
        return False

    def close(self) -> None:
        raise NotImplementedError

    # -- errors --
    driver_errors: tuple[type[BaseException], ...] = ()

    def error(self, exc: BaseException) -> StoreError:
        """The :class:`StoreError`, worded for a user, for a driver error."""
        raise NotImplementedError

    def lost(self, exc: BaseException) -> bool:
        """Whether the error means the connection itself was lost (the server restarted, a network drop)."""
        return False

    # -- schema bookkeeping --
    def schema_version(self) -> int:
        raise NotImplementedError

    def set_schema_version(self, version: int) -> None:
        raise NotImplementedError

    def table_names(self) -> set[str]:
        raise NotImplementedError

    def lock_for_migration(self) -> None:
        """Make concurrent first opens take turns at upgrading (called before the upgrade's
        transaction begins, so that transaction sees what an earlier upgrade committed; SQLite's
        ``BEGIN IMMEDIATE`` is lock enough)."""

    def unlock_after_migration(self) -> None:
        """Let the next process upgrade (or find it done)."""

    def before_migrations(self) -> None:
        """What the database needs before the first migration (PostgreSQL: the NOCASE collation)."""

    def check_integrity(self) -> None:
        """Refuse a damaged database before anything is written to it."""

    def prepare(self, read_only: bool, busy_timeout: float) -> None:
        """Per-connection settings, before the version check."""

    def finish_prepare(self, read_only: bool) -> None:
        """Per-connection settings once the layout is known to be ours (SQLite: WAL mode)."""

    def not_ours(self) -> StoreError:
        raise NotImplementedError

    def foreign_table_guard(self) -> set[str]:
        """Table names that do not count as someone else's (the version table on PostgreSQL)."""
        return set()


class SQLiteBackend(Backend):
    """One SQLite file: WAL mode, ``busy_timeout``, ``BEGIN IMMEDIATE`` write transactions, the
    version in ``PRAGMA user_version`` and a time-boxed ``quick_check`` on open."""

    kind = "sqlite"
    driver_errors = (sqlite3.Error,)

    def __init__(self, conn: sqlite3.Connection, path: Path, busy_timeout: float, persistent: bool = True) -> None:
        self.conn = conn
        self.path = path
        self.location = str(path)
        self.busy_timeout = busy_timeout
        self.persistent = persistent
        conn.row_factory = sqlite3.Row

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")  # the write lock at once, so busy_timeout applies

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def close(self) -> None:
        try:
            self.conn.close()
        except sqlite3.Error:
            pass

    def error(self, exc: BaseException) -> StoreError:
        return StoreError(_describe(exc, self.path, self.busy_timeout), transient=_is_locked(exc))

    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def set_schema_version(self, version: int) -> None:
        self.conn.execute(f"PRAGMA user_version = {int(version)}")

    def table_names(self) -> set[str]:
        return {r[0] for r in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}

    def not_ours(self) -> StoreError:
        return StoreError(f"{self.path} is an SQLite database but not an iwp-trainer progress database; "
                          "use another --db")

    def prepare(self, read_only: bool, busy_timeout: float) -> None:
        self.conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        self.conn.execute("PRAGMA foreign_keys = ON")
        if self.persistent:
            self.check_integrity()

    def finish_prepare(self, read_only: bool) -> None:
        if read_only:
            return
        mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if self.persistent and str(mode).lower() != "wal":
            raise StoreError(f"the progress database {self.path} could not be switched to WAL mode ({mode})")
        self.conn.execute("PRAGMA synchronous = NORMAL")

    def check_integrity(self) -> None:
        """Refuse a damaged file before anything is written to it (``PRAGMA quick_check``).

        The check reads the whole file (``bench/bench_store.py`` times it), so it stops after
        ``QUICK_CHECK_BUDGET`` seconds: a very large file is trusted beyond that point rather than
        delaying every start."""
        conn = self.conn
        deadline = time.monotonic() + QUICK_CHECK_BUDGET
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
        try:
            rows = conn.execute("PRAGMA quick_check(5)").fetchall()
        except sqlite3.OperationalError as exc:
            if "interrupt" in str(exc).lower():
                return  # out of time: the part checked was sound
            raise
        finally:
            conn.set_progress_handler(None, 0)
        problems = [line for r in rows for line in str(r[0]).splitlines()
                    if line.strip() and line.lower() != "ok" and not line.startswith("***")]
        if problems:
            raise StoreError(
                f"{self.path} is not a readable progress database (it is damaged: {problems[0]}) and is left "
                "untouched; move it aside and a new one will be started, or restore a copy")


def _is_locked(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _describe(exc: BaseException, path: Path, busy_timeout: float) -> str:
    """A user-facing sentence for an SQLite failure."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return (f"the progress database {path} is locked by another program "
                f"(waited {busy_timeout:g} s); try again when it has finished")
    if "readonly" in text or "read-only" in text or "read only" in text:
        return f"the progress database {path} is read-only, so progress cannot be recorded"
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return (f"{path} is not a readable progress database (it may be damaged); "
                "move it aside and a new one will be started")
    if "unable to open" in text or "cannot open" in text:
        return f"cannot open the progress database {path} (check the folder exists and is writable)"
    if "disk" in text and ("full" in text or "i/o" in text):
        return f"cannot write the progress database {path}: {exc}"
    return f"progress database {path}: {exc}"


# --- the store ----------------------------------------------------------------------------------------


class ProgressStore:
    """Records and reads back learners' progress. Safe to share between threads and processes.

    The same class, and the same SQL, serves a SQLite file and a PostgreSQL database: what differs
    lives in its :class:`Backend`."""

    persistent = True

    def __init__(self, backend: Backend, busy_timeout: float, read_only: bool,
                 clock: Callable[[], datetime]) -> None:
        self._db = backend
        self.busy_timeout = busy_timeout
        self.read_only = read_only
        self.clock = clock
        self._lock = threading.RLock()
        # Goes up with every write this process commits, so a screen can keep what it read (Browse's
        # best results) until progress changes instead of asking the database again.
        self.revision = 0

    @property
    def path(self) -> Path | None:
        """The SQLite file (``None`` for a server database)."""
        return getattr(self._db, "path", None)

    @property
    def location(self) -> str:
        """What messages call this database: its path, or its server address (never a password)."""
        return self._db.location

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._db.kind

    @property
    def _conn(self) -> Any:
        return self._db.conn

    # -- opening --------------------------------------------------------------------------------

    @classmethod
    def open(cls, location: Path | str, *, read_only: bool = False, busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
             clock: Callable[[], datetime] | None = None) -> "ProgressStore":
        """Open (creating and upgrading as needed) the database at ``location``: a file path, or a
        ``postgresql://user@host/dbname`` address (see :mod:`iwp_trainer.store_pg`).

        ``read_only`` opens an existing, up-to-date database for reports without ever writing to it.
        Raises :class:`StoreError` when the database is damaged, locked for longer than ``busy_timeout``
        seconds, read-only (unless ``read_only``), from a newer version of the app, or not ours.
        """
        if is_server_url(location):
            from iwp_trainer import store_pg

            backend = store_pg.connect(str(location).strip(), read_only=read_only, busy_timeout=busy_timeout)
            return cls._prepared(backend, busy_timeout, read_only, clock)
        path = paths.expand(Path(location))
        if path.is_dir():
            raise StoreError(f"the progress database {path} is a folder, not a file")
        if path.exists() and not path.is_file():  # /dev/null, a named pipe: SQLite would hang or litter
            raise StoreError(f"the progress database {path} is not a regular file; give a file with --db")
        if read_only:
            if not path.exists():
                raise StoreError(f"there is no progress database at {path}")
        else:
            if path.exists() and not os.access(path, os.W_OK):
                raise StoreError(f"the progress database {path} is read-only, so progress cannot be recorded")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder for the progress database {path}: "
                                 f"{exc.strerror or exc}") from None
        deadline = time.monotonic() + busy_timeout
        while True:
            try:
                return cls._connect(path, read_only, busy_timeout, clock, immutable=False)
            except StoreError as exc:
                if exc.transient and time.monotonic() < deadline:
                    # Several processes opening a new file at once: switching it to WAL can report
                    # "locked" at once, without waiting. Try again while a lock may be waited for.
                    time.sleep(0.05)
                    continue
                # A shared file in a folder we may not write: SQLite cannot make the files a reader
                # of a WAL database needs. With no write-ahead log beside it, nobody is writing it,
                # and the file itself is complete: read it as it is.
                wal = path.with_name(path.name + "-wal")
                if not read_only or exc.transient or wal.exists() or os.access(path.parent, os.W_OK):
                    raise
                return cls._connect(path, read_only, busy_timeout, clock, immutable=True)

    @classmethod
    def _connect(cls, path: Path, read_only: bool, busy_timeout: float,
                 clock: Callable[[], datetime] | None, immutable: bool) -> "ProgressStore":
        try:
            if read_only:
                uri = f"{path.resolve().as_uri()}?mode=ro" + ("&immutable=1" if immutable else "")
                conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout, isolation_level=None,
                                       check_same_thread=False)
            else:
                conn = sqlite3.connect(str(path), timeout=busy_timeout, isolation_level=None,
                                       check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(_describe(exc, path, busy_timeout), transient=_is_locked(exc)) from None
        return cls._prepared(SQLiteBackend(conn, path, busy_timeout), busy_timeout, read_only, clock)

    @classmethod
    def _prepared(cls, backend: Backend, busy_timeout: float, read_only: bool,
                  clock: Callable[[], datetime] | None) -> "ProgressStore":
        store = cls(backend, busy_timeout, read_only, clock or utc_now)
        store.persistent = backend.persistent
        try:
            store._prepare()
        except StoreError:
            backend.close()
            raise
        except backend.driver_errors as exc:
            error = backend.error(exc)  # worded while the connection's state can still be read
            backend.close()
            raise error from None
        return store

    @classmethod
    def in_memory(cls, clock: Callable[[], datetime] | None = None) -> "ProgressStore":
        """A private store that lives only as long as this process. When the database cannot be
        used, the app keeps this session's results here, with the very same code, and says that
        recording is off."""
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        backend = SQLiteBackend(conn, Path(":memory:"), DEFAULT_BUSY_TIMEOUT, persistent=False)
        return cls._prepared(backend, DEFAULT_BUSY_TIMEOUT, False, clock)

    def _prepare(self) -> None:
        db = self._db
        db.prepare(self.read_only, self.busy_timeout)
        version = self._check_version()
        if self.read_only:
            if version < SCHEMA_VERSION:
                raise OlderLayoutError(f"the progress database {self.location} uses an older layout and is "
                                       "read-only here; open it once with write access to upgrade it")
            db.finish_prepare(True)
            return
        db.finish_prepare(False)
        if version < SCHEMA_VERSION:
            self._migrate()

    def _check_version(self) -> int:
        version = self._db.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the progress database {self.location} was written by a newer version of iwp-trainer "
                f"(schema {version}; this version understands up to {SCHEMA_VERSION}); update iwp-trainer "
                "or use another --db")
        if version == 0:
            tables = self._db.table_names() - self._db.foreign_table_guard()
            if tables and not tables <= OUR_TABLES:
                raise self._db.not_ours()
        return version

    def _migrate(self) -> None:
        """Bring the database up to date in one transaction; another process may be doing the same."""
        db = self._db
        db.lock_for_migration()
        try:
            db.begin()
            try:
                version = self._check_version()  # re-read under the write lock
                if version == 0:
                    db.before_migrations()
                for number in range(version, SCHEMA_VERSION):
                    MIGRATIONS[number](db)
                db.set_schema_version(SCHEMA_VERSION)
                db.commit()
            except BaseException:
                db.rollback()
                raise
        finally:
            db.unlock_after_migration()

    @property
    def schema_version(self) -> int:
        with self._lock:
            return self._db.schema_version()

    # -- plumbing ---------------------------------------------------------------------------------

    def _write(self, work: Callable[[bool], Any]) -> Any:
        """Run ``work`` in one write transaction and return what it returns.

        ``work(retried)`` is called again, once, on a new connection when the first was lost (a
        restarted server, a dropped network): every write below is written so that running it twice
        records it once (``retried`` lets it recognise its own earlier commit), so trying again is
        always safe. A connection that cannot be made again is a transient :class:`StoreError`."""
        if self.read_only:
            raise StoreError(f"the progress database {self.location} was opened read-only")
        db = self._db
        with self._lock:
            for retried in (False, True):
                try:
                    db.begin()
                    try:
                        result = work(retried)
                        db.commit()
                        self.revision += 1
                        return result
                    except BaseException:
                        try:
                            db.rollback()
                        except db.driver_errors:
                            pass  # the connection is gone: nothing was committed to roll back
                        raise
                except db.driver_errors as exc:
                    if not retried and db.lost(exc) and db.reconnect():
                        continue
                    raise db.error(exc) from None
        return None  # pragma: no cover

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[Any]:
        """Run a read-only query (reports use this for their SQL aggregation). Rows read by column
        name or position, on either back end. A lost connection is made again and the query re-run."""
        db = self._db
        with self._lock:
            for retried in (False, True):
                try:
                    return db.execute(sql, params).fetchall()
                except db.driver_errors as exc:
                    if not retried and db.lost(exc) and db.reconnect():
                        continue
                    raise db.error(exc) from None
        return []  # pragma: no cover

    def _now(self) -> str:
        return iso(self.clock())

    def _learner_id(self, name: str, now: str) -> int:
        db = self._db
        row = db.execute("SELECT id FROM learners WHERE name = ?", (name,)).fetchone()
        if row is not None:
            return int(row[0])
        # Two coaches with a new name at once, on a server: the second insert waits for the first
        # and does nothing, and the name is then read back.
        row = db.execute("INSERT INTO learners (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING "
                         "RETURNING id", (name, now)).fetchone()
        if row is None:
            row = db.execute("SELECT id FROM learners WHERE name = ?", (name,)).fetchone()
        return int(row[0])

    def _attempt_status(self, attempt_id: int) -> str:
        """The attempt's status, its row locked until the transaction ends (on a server, so two
        processes recording into one attempt take turns; SQLite's write transaction already does)."""
        row = self._db.execute(f"SELECT status FROM attempts WHERE id = ?{self._db.lock_row}",
                               (int(attempt_id),)).fetchone()
        if row is None:
            raise StoreError(f"there is no attempt {attempt_id} in the progress database")
        return str(row[0])

    # -- writing ----------------------------------------------------------------------------------

    def learner(self, name: str) -> int:
        """The id of the learner with this name or staff id (case-insensitive), created if new."""
        cleaned = _clean_name(name)
        return self._write(lambda retried: self._learner_id(cleaned, self._now()))

    def start_attempt(self, learner: str, scenario_id: str, scenario_title: str, scenario_sha256: str,
                      mode: str, seed: int, best: dict[str, int], *, attempt_uuid: str | None = None) -> int:
        """Record the start of an attempt (and the best achievable per dimension); returns its id.
        ``attempt_uuid`` is its stable identity (a new one by default)."""
        if mode not in MODES:
            raise StoreError(f"unknown mode {mode!r} (expected one of: {', '.join(MODES)})")
        cleaned = _clean_name(learner)
        now = self._now()
        identity = attempt_uuid or str(uuid.uuid4())

        def work(retried: bool) -> int:
            db = self._db
            if retried:  # the first try may have committed before the connection went
                row = db.execute("SELECT id FROM attempts WHERE uuid = ?", (identity,)).fetchone()
                if row is not None:
                    return int(row[0])
            learner_id = self._learner_id(cleaned, now)
            attempt_id = int(db.execute(
                "INSERT INTO attempts (learner_id, scenario_id, scenario_title, scenario_sha256, mode, seed,"
                " started_at, uuid) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (learner_id, scenario_id, scenario_title, scenario_sha256, mode, int(seed), now,
                 identity)).fetchone()[0])
            db.executemany(
                "INSERT INTO attempt_scores (attempt_id, dimension, earned, best) VALUES (?, ?, NULL, ?)",
                [(attempt_id, str(d), int(b)) for d, b in best.items()])
            return attempt_id

        return self._write(work)

    def record_decision(self, attempt_id: int, seq: int, node_id: str, choice_id: str, choice_text: str,
                        points: dict[str, int], is_best: bool, critical: bool, cites: list[str],
                        outcome: Outcome | None = None) -> None:
        """Commit one decision now, in its own transaction, so a crash cannot lose it.

        ``outcome`` is given with the decision that reaches an ending: the decision and the finish
        are then one transaction, so an attempt is never left at its ending unfinished. Saving the
        same decision again (a retry after an unclear failure) is harmless."""
        decided_at = self._now()

        def work(retried: bool) -> None:
            db = self._db
            status = self._attempt_status(attempt_id)
            row = db.execute("SELECT choice_id FROM decisions WHERE attempt_id = ? AND seq = ?",
                             (int(attempt_id), int(seq))).fetchone()
            if row is not None:
                if row[0] != choice_id:
                    raise StoreError(f"decision {seq} of attempt {attempt_id} is already recorded")
                if outcome is None or status != "in_progress":
                    return  # already saved, with its outcome if it had one
            elif status != "in_progress":
                raise StoreError(f"attempt {attempt_id} is already {status.replace('_', ' ')}")
            else:
                db.execute(
                    "INSERT INTO decisions (attempt_id, seq, node_id, choice_id, choice_text, points, is_best,"
                    " critical, cites, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (int(attempt_id), int(seq), node_id, choice_id, choice_text,
                     json.dumps({str(k): int(v) for k, v in points.items()}, sort_keys=True),
                     int(bool(is_best)), int(bool(critical)), json.dumps([str(c) for c in cites]),
                     decided_at))
            if outcome is not None:
                self._finish(attempt_id, outcome.passed, outcome.ending_node, outcome.scores)

        self._write(work)

    def finish_attempt(self, attempt_id: int, passed: bool, ending_node: str,
                       scores: Mapping[str, Any]) -> None:
        """Record the outcome and the score per dimension as ``dimension -> (earned, best)``.
        The app records the outcome with the last decision (``record_decision(outcome=...)``);
        this finishes an attempt whose ending was reached but not recorded (an older file)."""
        wanted = "passed" if passed else "failed"

        def work(retried: bool) -> None:
            status = self._attempt_status(attempt_id)
            if status != "in_progress":
                if retried and status == wanted:
                    return  # the first try committed before the connection went
                raise StoreError(f"attempt {attempt_id} is already {status.replace('_', ' ')}")
            self._finish(attempt_id, passed, ending_node, scores)

        self._write(work)

    def _finish(self, attempt_id: int, passed: bool, ending_node: str, scores: Mapping[str, Any]) -> None:
        pairs = _scores_from(scores)
        db = self._db
        db.execute("UPDATE attempts SET status = ?, ended_at = ?, ending_node = ? WHERE id = ?",
                   ("passed" if passed else "failed", self._now(), ending_node, int(attempt_id)))
        db.executemany(
            "INSERT INTO attempt_scores (attempt_id, dimension, earned, best) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (attempt_id, dimension) DO UPDATE SET earned = excluded.earned, best = excluded.best",
            [(int(attempt_id), d, e, b) for d, (e, b) in pairs.items()])

    def abandon_attempt(self, attempt_id: int) -> None:
        """Give up an unfinished attempt (its decisions stay recorded). Finished ones are left alone."""
        def work(retried: bool) -> None:
            self._attempt_status(attempt_id)
            self._db.execute("UPDATE attempts SET status = 'abandoned', ended_at = ? "
                             "WHERE id = ? AND status = 'in_progress'", (self._now(), int(attempt_id)))

        self._write(work)

    def record_question(self, learner: str | None, question: str, answered: bool,
                        helpful: bool | None = None, *, question_uuid: str | None = None) -> None:
        """Note an Ask question: whether it got a confident answer, and the coach's verdict if given."""
        text = str(question or "").strip()
        if not text:
            return
        now = self._now()
        name = _clean_name(learner) if learner and learner.strip() else None
        identity = question_uuid or str(uuid.uuid4())

        def work(retried: bool) -> None:
            db = self._db
            if retried and db.execute("SELECT 1 FROM questions WHERE uuid = ?", (identity,)).fetchone():
                return
            learner_id = self._learner_id(name, now) if name else None
            db.execute(
                "INSERT INTO questions (learner_id, question, normalised, answered, helpful, asked_at, uuid)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (learner_id, text, normalise_question(text), int(bool(answered)),
                 None if helpful is None else int(bool(helpful)), now, identity))

        self._write(work)

    # -- reading ----------------------------------------------------------------------------------

    def attempts(self, learner: str | None = None, scenario_id: str | None = None,
                 since: datetime | None = None, status: Sequence[str] | None = None) -> list[Attempt]:
        """Attempts (oldest first) with their decisions and scores, optionally filtered."""
        where, params = [], []
        if learner is not None:
            where.append("l.name = ?")
            params.append(_clean_name(learner))
        if scenario_id is not None:
            where.append("a.scenario_id = ?")
            params.append(scenario_id)
        if since is not None:
            where.append("a.started_at >= ?")
            params.append(iso(since))
        if status:
            where.append(f"a.status IN ({', '.join('?' * len(status))})")
            params.extend(status)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        base = f"SELECT a.id FROM attempts a JOIN learners l ON l.id = a.learner_id {clause}"
        rows = self.query(
            "SELECT a.*, l.name AS learner FROM attempts a JOIN learners l ON l.id = a.learner_id "
            f"{clause} ORDER BY a.started_at, a.id", params)
        if not rows:
            return []
        scores: dict[int, dict[str, tuple[int | None, int]]] = {}
        for r in self.query(f"SELECT attempt_id, dimension, earned, best FROM attempt_scores "
                            f"WHERE attempt_id IN ({base}) ORDER BY attempt_id, dimension", params):
            scores.setdefault(r["attempt_id"], {})[r["dimension"]] = (r["earned"], r["best"])
        decisions: dict[int, list[DecisionRecord]] = {}
        for r in self.query(f"SELECT * FROM decisions WHERE attempt_id IN ({base}) ORDER BY attempt_id, seq",
                            params):
            decisions.setdefault(r["attempt_id"], []).append(DecisionRecord(
                seq=r["seq"], node_id=r["node_id"], choice_id=r["choice_id"], choice_text=r["choice_text"],
                points=json.loads(r["points"]), is_best=bool(r["is_best"]), critical=bool(r["critical"]),
                cites=json.loads(r["cites"]), decided_at=r["decided_at"]))
        result = []
        for r in rows:
            made = decisions.get(r["id"], [])
            dims: dict[str, DimensionResult] = {}
            for dim, (earned, best) in scores.get(r["id"], {}).items():
                if earned is None:  # not finished: the points so far
                    earned = sum(d.points.get(dim, 0) for d in made)
                dims[dim] = DimensionResult(int(earned), int(best))
            result.append(Attempt(
                id=r["id"], learner=r["learner"], scenario_id=r["scenario_id"], scenario_title=r["scenario_title"],
                scenario_sha256=r["scenario_sha256"], mode=r["mode"], seed=r["seed"], started_at=r["started_at"],
                ended_at=r["ended_at"], status=r["status"], scores=dims, decisions=made,
                ending_node=r["ending_node"], uuid=r["uuid"] or ""))
        return result

    def unfinished_attempts(self, learner: str) -> list[Attempt]:
        """Attempts still in progress (oldest first), to offer resume or abandon."""
        return self.attempts(learner=learner, status=("in_progress",))

    def best_results(self, learner: str) -> dict[str, Attempt]:
        """Each scenario's best finished attempt: a pass beats a fail, then the higher score (by the
        engine's rule, :attr:`Attempt.score`), then the more recent. The one rule for every screen
        and report (the app's ``services.best_by_scenario`` reads it from here)."""
        best: dict[str, Attempt] = {}
        for attempt in self.attempts(learner=learner, status=FINISHED):
            current = best.get(attempt.scenario_id)
            if current is None or (attempt.status == "passed", attempt.score) >= \
                    (current.status == "passed", current.score):
                best[attempt.scenario_id] = attempt
        return best

    def learners(self) -> list[str]:
        """Every learner name, alphabetically."""
        return [r[0] for r in self.query("SELECT name FROM learners ORDER BY name COLLATE NOCASE")]

    # -- copying between stores ---------------------------------------------------------------

    def copy_from(self, source: "ProgressStore", batch: int = COPY_BATCH) -> "CopyCounts":
        """Add to this store everything recorded in ``source`` that it does not hold yet: learners,
        attempts with their scores and decisions, Ask questions (``iwp-trainer db copy``).

        Attempts and questions are matched by their stable ``uuid``, so copying again adds nothing
        twice; an attempt unfinished here but since continued or finished in ``source`` gets the
        decisions it lacks and its outcome. Each batch is one transaction: an interrupted copy keeps
        what it committed and the next run carries on."""
        new = updated = present = q_new = q_present = 0
        for name, created in [(r["name"], r["created_at"]) for r in source.query(
                "SELECT name, created_at FROM learners ORDER BY id")]:
            self._write(lambda retried, n=name, c=created: self._learner_id(n, c))
        last = 0
        while True:
            rows = source.query(
                "SELECT a.id, a.uuid, l.name AS learner, l.created_at AS learner_created, a.scenario_id,"
                " a.scenario_title, a.scenario_sha256, a.mode, a.seed, a.started_at, a.ended_at, a.status,"
                " a.ending_node FROM attempts a JOIN learners l ON l.id = a.learner_id"
                " WHERE a.id > ? ORDER BY a.id LIMIT ?", (last, batch))
            if not rows:
                break
            last = rows[-1]["id"]
            ids = [r["id"] for r in rows]
            marks = ", ".join("?" * len(ids))
            scores: dict[int, list[Any]] = {}
            for r in source.query(f"SELECT attempt_id, dimension, earned, best FROM attempt_scores "
                                  f"WHERE attempt_id IN ({marks})", ids):
                scores.setdefault(r["attempt_id"], []).append((r["dimension"], r["earned"], r["best"]))
            decisions: dict[int, list[Any]] = {}
            for r in source.query(f"SELECT attempt_id, seq, node_id, choice_id, choice_text, points, is_best,"
                                  f" critical, cites, decided_at FROM decisions WHERE attempt_id IN ({marks})"
                                  " ORDER BY attempt_id, seq", ids):
                decisions.setdefault(r["attempt_id"], []).append(tuple(r)[1:])

            def work(retried: bool, rows: list[Any] = rows) -> tuple[int, int, int]:
                db = self._db
                uuids = [r["uuid"] for r in rows]
                held = {r[0]: (r[1], r[2]) for r in db.execute(
                    f"SELECT uuid, id, status FROM attempts WHERE uuid IN ({', '.join('?' * len(uuids))})",
                    uuids).fetchall()}
                added = changed = 0
                learner_ids: dict[str, int] = {}
                for r in rows:
                    if r["uuid"] in held:
                        attempt_id, status = held[r["uuid"]]
                        if status != "in_progress":
                            continue  # finished or abandoned here: nothing more can be added
                        have = db.execute("SELECT COUNT(*) FROM decisions WHERE attempt_id = ?",
                                          (attempt_id,)).fetchone()[0]
                        if r["status"] == "in_progress" and len(decisions.get(r["id"], [])) <= have:
                            continue  # nothing new in the source either
                        changed += 1
                    else:
                        if r["learner"] not in learner_ids:
                            learner_ids[r["learner"]] = self._learner_id(r["learner"], r["learner_created"])
                        attempt_id = int(db.execute(
                            "INSERT INTO attempts (learner_id, scenario_id, scenario_title, scenario_sha256, mode,"
                            " seed, started_at, ended_at, status, ending_node, uuid)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                            (learner_ids[r["learner"]], r["scenario_id"], r["scenario_title"], r["scenario_sha256"],
                             r["mode"], r["seed"], r["started_at"], r["ended_at"], r["status"], r["ending_node"],
                             r["uuid"])).fetchone()[0])
                        added += 1
                    if r["uuid"] in held:  # an unfinished attempt here: its outcome and decisions since
                        db.execute("UPDATE attempts SET status = ?, ended_at = ?, ending_node = ? WHERE id = ?",
                                   (r["status"], r["ended_at"], r["ending_node"], attempt_id))
                    db.executemany(
                        "INSERT INTO attempt_scores (attempt_id, dimension, earned, best) VALUES (?, ?, ?, ?)"
                        " ON CONFLICT (attempt_id, dimension) DO UPDATE SET earned = excluded.earned,"
                        " best = excluded.best", [(attempt_id, *s) for s in scores.get(r["id"], [])])
                    db.executemany(
                        "INSERT INTO decisions (attempt_id, seq, node_id, choice_id, choice_text, points, is_best,"
                        " critical, cites, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                        " ON CONFLICT (attempt_id, seq) DO NOTHING",
                        [(attempt_id, *d) for d in decisions.get(r["id"], [])])
                return added, changed, len(rows) - added

            added, changed, there = self._write(work)
            new, updated, present = new + added, updated + changed, present + there
        last = 0
        while True:
            rows = source.query(
                "SELECT q.id, q.uuid, l.name AS learner, l.created_at AS learner_created, q.question,"
                " q.normalised, q.answered, q.helpful, q.asked_at FROM questions q"
                " LEFT JOIN learners l ON l.id = q.learner_id WHERE q.id > ? ORDER BY q.id LIMIT ?", (last, batch))
            if not rows:
                break
            last = rows[-1]["id"]

            def work_questions(retried: bool, rows: list[Any] = rows) -> int:
                db = self._db
                uuids = [r["uuid"] for r in rows]
                held = {r[0] for r in db.execute(
                    f"SELECT uuid FROM questions WHERE uuid IN ({', '.join('?' * len(uuids))})", uuids).fetchall()}
                fresh = [r for r in rows if r["uuid"] not in held]
                learner_ids = {name: self._learner_id(name, created) for name, created in
                               {(r["learner"], r["learner_created"]) for r in fresh if r["learner"]}}
                db.executemany(
                    "INSERT INTO questions (learner_id, question, normalised, answered, helpful, asked_at, uuid)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(learner_ids.get(r["learner"]), r["question"], r["normalised"], r["answered"], r["helpful"],
                      r["asked_at"], r["uuid"]) for r in fresh])
                return len(fresh)

            added = self._write(work_questions)
            q_new, q_present = q_new + added, q_present + len(rows) - added
        return CopyCounts(source.location, self.location, new, updated, present, q_new, q_present)

    def close(self) -> None:
        with self._lock:
            self._db.close()


@dataclass(frozen=True)
class CopyCounts:
    """What :meth:`ProgressStore.copy_from` did: new rows, rows already there, attempts brought up to date."""

    source: str
    target: str
    attempts_new: int
    attempts_updated: int
    attempts_present: int
    questions_new: int
    questions_present: int


def open_store(location: Path | str) -> tuple[ProgressStore, str | None]:
    """The store to use and, when recording is off, the sentence that says why: a database that
    cannot be used (a damaged file, a server that cannot be reached) gives an in-memory store, so
    practice still works for this session."""
    try:
        return ProgressStore.open(location), None
    except StoreError as exc:
        return ProgressStore.in_memory(), f"Recording is off: {exc}. Results are kept for this session only."


def open_existing(location: Path | str) -> ProgressStore | None:
    """Open a database for reports and exports: ``None`` when there is none yet (never create one
    just to report on it). Always read-only, so a shared file nobody may write still reports, and a
    report never changes the file; only a database with an older layout that we may write is opened
    for writing, once, to upgrade it."""
    if is_server_url(location):
        try:
            return ProgressStore.open(location, read_only=True)
        except OlderLayoutError:
            pass  # upgraded below; a user who may not change the tables gets the server's refusal
        ProgressStore.open(location).close()
        return ProgressStore.open(location, read_only=True)
    path = paths.expand(Path(location))
    if not path.exists():
        return None
    try:
        return ProgressStore.open(path, read_only=True)
    except OlderLayoutError:
        if not os.access(path, os.W_OK):
            raise
    ProgressStore.open(path).close()  # upgrade in place, as the app would
    return ProgressStore.open(path, read_only=True)


def retrying(call: Callable[[], Any], attempts: int = SAVE_ATTEMPTS, pause: float = SAVE_PAUSE,
             sleep: Callable[[float], None] = time.sleep) -> Any:
    """Run a store write, trying again while another program holds the write lock.

    Each try already waits ``busy_timeout`` for the lock; after ``attempts`` tries the last
    :class:`StoreError` is raised, so the caller can stop and offer a retry. Other errors (a
    read-only or damaged file) are raised at once: waiting would not help."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except StoreError as exc:
            if not exc.transient or attempt == attempts:
                raise
            sleep(pause)
    return None  # pragma: no cover - attempts < 1
