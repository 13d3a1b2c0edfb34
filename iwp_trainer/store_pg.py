"""The PostgreSQL back end of the progress store, for a district's shared records.

``--db postgresql://user@host/dbname`` (or ``IWP_TRAINER_DB``) opens the same
:class:`~iwp_trainer.store.ProgressStore`, with the same SQL and the same migrations; this module
holds only what PostgreSQL does differently from SQLite:

* ``?`` placeholders become psycopg's ``%s``; rows read by name or position, as ``sqlite3.Row``;
* the learner name's ``COLLATE NOCASE`` is an ICU collation of that name (case-insensitive, so
  "Sam Coach" and "sam coach" are one learner, as in SQLite); ids are identity columns;
* the schema version lives in a one-row table (``iwp_schema_version``), not ``PRAGMA user_version``,
  and concurrent first opens take turns at upgrading through a session advisory lock;
* a write transaction locks the attempt row it changes (``FOR UPDATE``), so two processes recording
  into one attempt take turns, as SQLite's whole-file write lock makes them;
* a connection lost mid-session (a restarted server, a dropped network) is made again and the
  transaction re-run once: every write is written to record itself once however often it is run.
  A server that cannot be reached is one clear, transient :class:`StoreError`.

Passwords: never from ``--db`` or ``IWP_TRAINER_DB`` (``ps`` shows arguments; environments end up in
logs). An address with a password in it is refused, without repeating it; libpq takes the password
from its usual places (``PGPASSWORD``, ``~/.pgpass``, a service file), and no message of ours ever
contains it.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from typing import Any, Sequence
from urllib.parse import quote

import psycopg
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict

from iwp_trainer.store import Backend, StoreError

CONNECT_TIMEOUT = 10  # seconds to wait for the server when the address does not say
VERSION_TABLE = "iwp_schema_version"
MIGRATION_LOCK = 0x1_0A_7_2  # the advisory lock key concurrent upgrades take turns on
NOCASE_COLLATION = ("CREATE COLLATION IF NOT EXISTS nocase "
                    "(provider = icu, locale = 'und-u-ks-level2', deterministic = false)")
PASSWORD_HELP = ("put the password in ~/.pgpass, in PGPASSWORD or in a PostgreSQL service file, "
                 "never in --db or IWP_TRAINER_DB")


def parse_url(url: str) -> tuple[dict[str, str], str]:
    """The connection parameters of a ``postgresql://`` address and the form messages show.

    Refuses an address with a password in it (``user:secret@host`` or ``?password=``), without
    repeating it, and an address libpq cannot read."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error:
        raise StoreError("the database address is not a valid postgresql:// address "
                         "(expected postgresql://user@host/dbname)") from None
    if "password" in params:
        raise StoreError(f"the database address contains a password, which iwp-trainer does not accept "
                         f"(`ps` and logs would show it): remove it from the address and {PASSWORD_HELP}")
    return {k: str(v) for k, v in params.items()}, display(params)


def display(params: dict[str, Any]) -> str:
    """``postgresql://user@host:port/dbname`` (or ``service=NAME``): what messages call the database."""
    if params.get("service") and not params.get("host"):
        return f"postgresql service {params['service']}"
    user = f"{quote(str(params['user']), safe='')}@" if params.get("user") else ""
    host = str(params.get("host") or "")
    port = f":{params['port']}" if params.get("port") else ""
    dbname = quote(str(params.get("dbname") or ""), safe="")
    return f"postgresql://{user}{host}{port}/{dbname}"


def scrub(text: str) -> str:
    """A driver message made safe to show: one line, and any password libpq might know replaced."""
    secret = os.environ.get("PGPASSWORD", "")
    if secret:
        text = text.replace(secret, "***")
    return re.sub(r"\s+", " ", text).strip()


def _reason(exc: BaseException) -> str:
    """The useful part of a connection failure, e.g. ``Connection refused``."""
    text = scrub(str(exc))
    text = re.sub(r"^connection failed: ", "", text)
    text = re.sub(r'^connection to server (at|on) .*? failed: ', "", text)
    text = re.sub(r"^FATAL: +", "", text)
    return text.rstrip(".") or type(exc).__name__


class Row(tuple):
    """A result row read by position or by column name, like ``sqlite3.Row``."""

    _index: dict[str, int]

    def __new__(cls, values: Sequence[Any], index: dict[str, int]) -> "Row":
        row = super().__new__(cls, [float(v) if isinstance(v, Decimal) else v for v in values])
        row._index = index
        return row

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor: Any) -> Any:
    index = {c.name: i for i, c in enumerate(cursor.description or ())}
    return lambda values: Row(values, index)


_PLACEHOLDER = re.compile(r"('(?:[^']|'')*')|(\?)|(%)")


def translate(sql: str, _cache: dict[str, str] = {}) -> str:
    """SQLite-style ``?`` placeholders to psycopg's ``%s`` (a literal ``%`` doubled; quoted text
    left alone)."""
    done = _cache.get(sql)
    if done is None:
        done = _PLACEHOLDER.sub(lambda m: m.group(1) or ("%s" if m.group(2) else "%%"), sql)
        _cache[sql] = done
    return done


class PostgresBackend(Backend):
    """One connection to a PostgreSQL database, in autocommit mode with explicit transactions."""

    kind = "postgresql"
    integer = "BIGINT"
    id_column = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    lock_row = " FOR UPDATE"
    driver_errors = (psycopg.Error,)

    def __init__(self, params: dict[str, str], location: str, read_only: bool, busy_timeout: float) -> None:
        self.params = params
        self.location = location
        self.read_only = read_only
        self.busy_timeout = busy_timeout
        self.conn: psycopg.Connection[Any] = self._new_connection()

    def _new_connection(self) -> psycopg.Connection[Any]:
        params = {"connect_timeout": str(CONNECT_TIMEOUT), "application_name": "iwp-trainer", **self.params}
        try:
            conn = psycopg.connect(**params, autocommit=True, row_factory=_row_factory)  # type: ignore[arg-type]
        except psycopg.Error as exc:
            raise self._connect_error(exc) from None
        try:
            conn.execute(f"SET lock_timeout = {int(self.busy_timeout * 1000)}")
            if self.read_only:  # a report can never change the database, even by mistake
                conn.execute("SET default_transaction_read_only = on")
        except psycopg.Error as exc:
            conn.close()
            raise StoreError(f"progress database {self.location}: {scrub(str(exc))}") from None
        return conn

    def _connect_error(self, exc: BaseException) -> StoreError:
        text = str(exc)
        where = self.location
        if "password authentication failed" in text:
            return StoreError(f"the PostgreSQL server refused the password for {where}: check it ({PASSWORD_HELP})")
        if "no password supplied" in text:
            return StoreError(f"the PostgreSQL server at {where} asks for a password: {PASSWORD_HELP}")
        match = re.search(r'database "([^"]*)" does not exist', text)
        if match:
            return StoreError(f"there is no database {match.group(1)} on the server of {where}: ask whoever runs "
                              "it to create one (iwp-trainer then sets up its own tables in it)")
        match = re.search(r'role "([^"]*)" does not exist', text)
        if match:
            return StoreError(f"the PostgreSQL server of {where} has no user {match.group(1)}")
        return StoreError(f"cannot reach the progress database server {where}: {_reason(exc)}", transient=True)

    # -- statements and transactions --

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(translate(sql), tuple(params) or None)  # type: ignore[arg-type]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        rows = [tuple(r) for r in rows]
        if rows:
            with self.conn.cursor() as cursor:
                cursor.executemany(translate(sql), rows)  # type: ignore[arg-type]

    def begin(self) -> None:
        self.conn.execute("BEGIN")

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        if not self.conn.closed and self.conn.info.transaction_status != pq.TransactionStatus.IDLE:
            self.conn.execute("ROLLBACK")

    def lost(self, exc: BaseException) -> bool:
        return bool(self.conn.closed or self.conn.broken) or isinstance(exc, psycopg.OperationalError) and \
            getattr(exc, "sqlstate", None) in (None, "57P01", "57P02", "57P03")

    def reconnect(self) -> bool:
        try:
            self.conn.close()
        except psycopg.Error:
            pass
        try:
            self.conn = self._new_connection()
        except StoreError:
            return False
        return True

    def close(self) -> None:
        try:
            self.conn.close()
        except psycopg.Error:
            pass

    def error(self, exc: BaseException) -> StoreError:
        where = self.location
        state = getattr(exc, "sqlstate", None)
        if self.conn.closed or self.conn.broken or (isinstance(exc, psycopg.OperationalError) and state is None):
            return StoreError(f"lost the connection to the progress database server {where} ({_reason(exc)}); "
                              "what was being saved was not: try again", transient=True)
        if state in ("40001", "40P01"):
            return StoreError(f"the progress database {where} was busy with another coach's save; try again",
                              transient=True)
        if state == "55P03":
            return StoreError(f"the progress database {where} is locked by another program "
                              f"(waited {self.busy_timeout:g} s); try again when it has finished", transient=True)
        if state == "25006":
            return StoreError(f"the progress database {where} was opened read-only")
        if state == "42501":
            return StoreError(f"the database user may not change the progress database {where} "
                              f"({scrub(str(exc))}); ask whoever runs the server to grant it")
        return StoreError(f"progress database {where}: {scrub(str(exc))}")

    # -- schema bookkeeping --

    def schema_version(self) -> int:
        if self.execute("SELECT to_regclass(?)", (VERSION_TABLE,)).fetchone()[0] is None:
            return 0
        row = self.execute(f"SELECT MAX(version) FROM {VERSION_TABLE}").fetchone()
        return int(row[0] or 0)

    def set_schema_version(self, version: int) -> None:
        self.execute(f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version INTEGER NOT NULL)")
        self.execute(f"DELETE FROM {VERSION_TABLE}")
        self.execute(f"INSERT INTO {VERSION_TABLE} (version) VALUES (?)", (int(version),))

    def table_names(self) -> set[str]:
        return {r[0] for r in self.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}

    def foreign_table_guard(self) -> set[str]:
        return {VERSION_TABLE}

    def not_ours(self) -> StoreError:
        return StoreError(f"the database {self.location} already holds other tables and is not an iwp-trainer "
                          "progress database; give iwp-trainer a database (or schema) of its own")

    def lock_for_migration(self) -> None:
        # A session lock taken outside the transaction: a transaction begun after another process's
        # upgrade committed sees its tables (one that waited inside could keep a stale catalog view).
        self.execute("SELECT pg_advisory_lock(?)", (MIGRATION_LOCK,))

    def unlock_after_migration(self) -> None:
        if not (self.conn.closed or self.conn.broken):
            self.execute("SELECT pg_advisory_unlock(?)", (MIGRATION_LOCK,))

    def before_migrations(self) -> None:
        self.execute(NOCASE_COLLATION)


def connect(url: str, *, read_only: bool, busy_timeout: float) -> PostgresBackend:
    """A back end connected to the database at ``url``, or a :class:`StoreError` saying why not."""
    params, location = parse_url(url)
    return PostgresBackend(params, location, read_only, busy_timeout)
