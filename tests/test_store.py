"""The progress store: what it records, resuming, migrations, and every way the file can be bad."""

from __future__ import annotations

import inspect
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from iwp_trainer import store as store_module
from iwp_trainer.store import (
    SCHEMA_VERSION,
    Attempt,
    DimensionResult,
    ProgressStore,
    StoreError,
    normalise_question,
    open_store,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "store"
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


class Clock:
    """A settable clock, so tests control the recorded times."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "progress.sqlite3"


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 5, 4, 9, 30, tzinfo=timezone.utc))


@pytest.fixture
def store(location: Path | str, clock: Clock):
    """A new store on each back end (SQLite file, PostgreSQL database): the tests that take it
    make the same assertions on both."""
    s = ProgressStore.open(location, clock=clock)
    yield s
    s.close()


def on_sqlite(location: Path | str) -> bool:
    return not store_module.is_server_url(location)


def raw(location: Path | str) -> store_module.Backend:
    """A bare back end on ``location`` (no version check, no migration), to build old layouts."""
    if on_sqlite(location):
        Path(location).parent.mkdir(parents=True, exist_ok=True)
        return store_module.SQLiteBackend(sqlite3.connect(location, isolation_level=None), Path(location), 5.0)
    from iwp_trainer import store_pg

    return store_pg.connect(str(location), read_only=False, busy_timeout=5.0)


def play(s: ProgressStore, learner: str, scenario: str, choices: list[tuple[str, int, bool]],
         passed: bool | None = True, best: int = 4, clock: Clock | None = None) -> int:
    """Record an attempt: each choice is (choice id, points for discretion, is_best)."""
    attempt = s.start_attempt(learner, scenario, scenario.title(), SHA, "practice", 11, {"discretion": best})
    for seq, (choice, points, is_best) in enumerate(choices, 1):
        if clock:
            clock.advance(seconds=30)
        s.record_decision(attempt, seq, f"node{seq}", choice, f"Text of {choice}", {"discretion": points},
                          is_best, False, [f"cite-{choice}"])
    if passed is not None:
        if clock:
            clock.advance(seconds=10)
        earned = sum(p for _, p, _ in choices)
        s.finish_attempt(attempt, passed, "end", {"discretion": (earned, best)})
    return attempt


# --- what is recorded ---------------------------------------------------------------------------


def test_attempt_round_trip_keeps_every_field(store: ProgressStore, clock: Clock) -> None:
    attempt_id = store.start_attempt("Sam Coach", "travel-costs", "Travel costs", SHA, "assessment", 1234,
                                     {"discretion": 4, "sanctions": 2})
    clock.advance(seconds=45)
    store.record_decision(attempt_id, 1, "start", "refund", "I can refund your bus fare.",
                          {"discretion": -1, "sanctions": 0}, False, True, ["travel-costs", "fsf"])
    clock.advance(seconds=30)
    store.record_decision(attempt_id, 2, "next", "fsf", "The Flexible Support Fund can be considered.",
                          {"discretion": 2}, True, False, [])
    clock.advance(minutes=2)
    store.finish_attempt(attempt_id, False, "ending-refund", {"discretion": (1, 4), "sanctions": (0, 2)})

    [attempt] = store.attempts()
    assert isinstance(attempt, Attempt)
    assert (attempt.id, attempt.learner, attempt.scenario_id, attempt.scenario_title) == \
        (attempt_id, "Sam Coach", "travel-costs", "Travel costs")
    assert (attempt.scenario_sha256, attempt.mode, attempt.seed) == (SHA, "assessment", 1234)
    assert attempt.started_at == "2026-05-04T09:30:00.000+00:00"
    assert attempt.ended_at == "2026-05-04T09:33:15.000+00:00"
    assert datetime.fromisoformat(attempt.ended_at).tzinfo == timezone.utc
    assert attempt.status == "failed" and attempt.passed is False and attempt.ending_node == "ending-refund"
    assert attempt.scores == {"discretion": DimensionResult(1, 4), "sanctions": DimensionResult(0, 2)}
    first, second = attempt.decisions
    assert (first.seq, first.node_id, first.choice_id, first.choice_text) == \
        (1, "start", "refund", "I can refund your bus fare.")
    assert first.points == {"discretion": -1, "sanctions": 0}
    assert (first.is_best, first.critical, first.cites) == (False, True, ["travel-costs", "fsf"])
    assert (second.is_best, second.critical, second.cites) == (True, False, [])
    assert first.decided_at == "2026-05-04T09:30:45.000+00:00"
    assert attempt.choice_ids == ["refund", "fsf"]


def test_finish_accepts_pairs_mappings_and_score_objects(store: ProgressStore) -> None:
    @dataclass
    class EngineScore:
        earned: int
        best: int
        fraction: float

    for scores in ({"d": (3, 4)}, {"d": {"earned": 3, "best": 4, "fraction": 0.75}}, {"d": EngineScore(3, 4, 0.75)}):
        attempt = store.start_attempt("Ann", "s", "S", SHA, "practice", 0, {"d": 4})
        store.finish_attempt(attempt, True, "end", scores)
        assert store.attempts()[-1].scores == {"d": DimensionResult(3, 4)}


def test_fraction_follows_the_engine_rule() -> None:
    assert DimensionResult(3, 4).fraction == 0.75
    assert DimensionResult(-2, 4).fraction == 0.0
    assert DimensionResult(0, 0).fraction == 1.0
    assert DimensionResult(-1, 0).fraction == 0.0


def test_learners_are_found_by_name_or_staff_id_ignoring_case(store: ProgressStore) -> None:
    first = store.learner("Sam Coach")
    assert store.learner("sam  coach ") == first
    assert store.learner("WC-10442") != first
    play(store, "SAM COACH", "s1", [("a", 1, True)])
    assert [a.learner for a in store.attempts(learner="sam coach")] == ["Sam Coach"]
    assert store.learners() == ["Sam Coach", "WC-10442"]
    with pytest.raises(StoreError, match="learner name"):
        store.learner("   ")


def test_bad_mode_is_refused(store: ProgressStore) -> None:
    with pytest.raises(StoreError, match="mode"):
        store.start_attempt("Ann", "s", "S", SHA, "exam", 0, {})


def test_unfinished_attempts_can_be_resumed_or_abandoned(store: ProgressStore) -> None:
    done = play(store, "Ann", "s1", [("a", 2, True)])
    waiting = play(store, "Ann", "s2", [("x", 1, True), ("y", 0, False)], passed=None)
    play(store, "Bob", "s2", [("x", 1, True)], passed=None)

    [unfinished] = store.unfinished_attempts("Ann")
    assert unfinished.id == waiting and unfinished.status == "in_progress" and unfinished.passed is None
    assert unfinished.choice_ids == ["x", "y"]  # what the app replays through the engine
    assert unfinished.scores == {"discretion": DimensionResult(1, 4)}  # points so far
    # Resuming carries on recording where it stopped.
    store.record_decision(waiting, 3, "node3", "z", "Text of z", {"discretion": 3}, True, False, [])
    store.finish_attempt(waiting, True, "end", {"discretion": (4, 4)})
    assert store.unfinished_attempts("Ann") == []

    other = play(store, "Ann", "s3", [("q", 0, False)], passed=None)
    store.abandon_attempt(other)
    abandoned = store.attempts(scenario_id="s3")[0]
    assert abandoned.status == "abandoned" and abandoned.ended_at is not None
    assert abandoned.choice_ids == ["q"]  # decisions stay recorded
    store.abandon_attempt(done)  # a finished attempt is left as it was
    assert store.attempts(scenario_id="s1")[0].status == "passed"


def test_no_decision_after_the_end_and_no_duplicates(store: ProgressStore) -> None:
    attempt = play(store, "Ann", "s1", [("a", 2, True)], passed=None)
    with pytest.raises(StoreError, match="already recorded"):
        store.record_decision(attempt, 1, "n", "b", "B", {}, True, False, [])
    store.finish_attempt(attempt, True, "end", {"discretion": (2, 4)})
    with pytest.raises(StoreError, match="already passed"):
        store.record_decision(attempt, 2, "n", "b", "B", {}, True, False, [])
    with pytest.raises(StoreError, match="already passed"):
        store.finish_attempt(attempt, False, "end", {})
    with pytest.raises(StoreError, match="no attempt 999"):
        store.abandon_attempt(999)
    assert store.attempts()[0].choice_ids == ["a"]


def test_attempts_filter_by_learner_scenario_and_date(store: ProgressStore, clock: Clock) -> None:
    play(store, "Ann", "s1", [("a", 1, True)])
    clock.advance(days=3)
    play(store, "Ann", "s2", [("a", 1, True)])
    play(store, "Bob", "s1", [("a", 1, True)])
    assert len(store.attempts()) == 3
    assert [a.scenario_id for a in store.attempts(learner="ann")] == ["s1", "s2"]
    assert [a.learner for a in store.attempts(scenario_id="s1")] == ["Ann", "Bob"]
    since = datetime(2026, 5, 6)  # naive dates are UTC
    assert [(a.learner, a.scenario_id) for a in store.attempts(since=since)] == [("Ann", "s2"), ("Bob", "s1")]
    assert store.attempts(learner="Bob", scenario_id="s2") == []
    assert store.attempts(learner="nobody") == []


def test_best_results_prefer_a_pass_then_the_higher_score(store: ProgressStore) -> None:
    play(store, "Ann", "s1", [("a", 4, True)], passed=False)  # full marks but failed (critical)
    passed_low = play(store, "Ann", "s1", [("a", 2, True)], passed=True)
    play(store, "Ann", "s1", [("a", 1, True)], passed=True)
    play(store, "Ann", "s2", [("a", 1, True)], passed=False)
    play(store, "Ann", "s3", [("a", 1, True)], passed=None)  # unfinished: not a result
    best = store.best_results("Ann")
    assert set(best) == {"s1", "s2"}
    assert best["s1"].id == passed_low
    assert best["s2"].status == "failed"


def test_revision_goes_up_with_each_committed_write_and_not_with_reads(store: ProgressStore) -> None:
    before = store.revision
    attempt = store.start_attempt("Ann", "s1", "S1", SHA, "practice", 1, {"discretion": 4})
    assert store.revision == before + 1
    store.best_results("Ann")
    store.attempts(learner="Ann")
    assert store.revision == before + 1  # reading changes nothing
    store.finish_attempt(attempt, True, "end", {"discretion": (4, 4)})
    assert store.revision == before + 2
    with pytest.raises(StoreError):
        store.finish_attempt(attempt, True, "end", {})  # refused: nothing was written
    assert store.revision == before + 2


def test_questions_are_recorded_with_normalised_text(store: ProgressStore) -> None:
    store.record_question("Ann", "  What IS the\tCET? ", answered=False)
    store.record_question(None, "Travel costs", answered=True, helpful=False)
    store.record_question("Ann", "   ", answered=False)  # nothing asked, nothing recorded
    rows = store.query("SELECT q.question, q.normalised, q.answered, q.helpful, l.name FROM questions q "
                       "LEFT JOIN learners l ON l.id = q.learner_id ORDER BY q.id")
    assert [tuple(r) for r in rows] == [("What IS the\tCET?", "what is the cet?", 0, None, "Ann"),
                                        ("Travel costs", "travel costs", 1, 0, None)]
    assert normalise_question("A  b\nC ") == "a b c"


def test_one_store_can_be_shared_by_threads(store: ProgressStore) -> None:
    def work(n: int) -> None:
        for i in range(10):
            play(store, f"T{n}", f"s{i}", [("a", 1, True), ("b", 1, True)])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.attempts()) == 40
    assert all(len(a.decisions) == 2 and a.status == "passed" for a in store.attempts())


# --- the file itself -----------------------------------------------------------------------------


def test_new_server_database_has_current_schema_and_enforces_keys(pg_url: str) -> None:
    store = ProgressStore.open(pg_url)
    assert store.backend == "postgresql" and store.schema_version == SCHEMA_VERSION
    with pytest.raises(StoreError, match="foreign key"):  # foreign keys are enforced
        store._write(lambda retried: store._db.execute(
            "INSERT INTO decisions VALUES (77, 1, 'n', 'c', 't', '{}', 1, 0, '[]', 'now')"))
    store.close()
    reopened = ProgressStore.open(pg_url)  # opening again changes nothing
    assert reopened.schema_version == SCHEMA_VERSION
    assert reopened._db.table_names() == store_module.OUR_TABLES | {"iwp_schema_version"}
    reopened.close()


def test_new_file_has_current_schema_wal_and_safety_pragmas(db: Path) -> None:
    store = ProgressStore.open(db)
    assert store.backend == "sqlite"
    assert store.schema_version == SCHEMA_VERSION == len(store_module.MIGRATIONS)
    assert store.query("PRAGMA journal_mode")[0][0] == "wal"
    assert store.query("PRAGMA foreign_keys")[0][0] == 1
    assert store.query("PRAGMA busy_timeout")[0][0] == int(store_module.DEFAULT_BUSY_TIMEOUT * 1000)
    with pytest.raises(sqlite3.IntegrityError):  # foreign keys are enforced
        store._conn.execute("INSERT INTO decisions VALUES (77, 1, 'n', 'c', 't', '{}', 1, 0, '[]', 'now')")
    store.close()
    reopened = ProgressStore.open(db)  # opening again changes nothing
    assert reopened.schema_version == SCHEMA_VERSION
    reopened.close()


def test_older_file_is_upgraded_keeping_its_data(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(db)
    conn.executescript((FIXTURES / "progress_v1.sql").read_text(encoding="utf-8"))
    conn.close()

    s = ProgressStore.open(db)
    assert s.schema_version == SCHEMA_VERSION
    failed, waiting = s.attempts(learner="dana coach")
    assert failed.status == "failed" and failed.scores["reallocation"] == DimensionResult(-2, 4)
    assert failed.decisions[0].critical and failed.decisions[0].cites == ["reallocation-not-allowed"]
    assert [a.id for a in s.unfinished_attempts("Dana Coach")] == [waiting.id]
    assert waiting.scores == {"discretion": DimensionResult(1, 3)}
    # Version 2 folded the old questions' case and spacing, and added the report indexes.
    assert {r[0] for r in s.query("SELECT normalised FROM questions")} == {"what is the cet?"}
    indexes = {r[0] for r in s.query("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"attempts_by_learner", "attempts_by_scenario", "questions_by_text"} <= indexes
    # And it keeps recording.
    s.record_decision(waiting.id, 2, "next", "c", "C", {"discretion": 2}, True, False, [])
    assert s.attempts(scenario_id="travel-costs")[0].choice_ids == ["explain-fsf", "c"]
    s.close()


def test_migrations_apply_one_step_at_a_time(location: Path | str) -> None:
    db = raw(location)
    db.before_migrations()
    store_module.MIGRATIONS[0](db)
    db.set_schema_version(1)
    db.execute("INSERT INTO learners (name, created_at) VALUES ('Ann', '2026-01-01T00:00:00.000+00:00')")
    db.execute("INSERT INTO attempts (learner_id, scenario_id, scenario_title, scenario_sha256, mode, seed,"
               " started_at) VALUES (1, 's1', 'S1', 'x', 'practice', 4, '2026-01-01T00:00:00.000+00:00')")
    db.execute("INSERT INTO questions (learner_id, question, answered, asked_at)"
               " VALUES (1, ' What  IS it? ', 0, '2026-01-01T00:00:00.000+00:00')")
    db.close()
    s = ProgressStore.open(location)
    assert s.schema_version == SCHEMA_VERSION
    assert [tuple(r) for r in s.query("SELECT normalised FROM questions")] == [("what is it?",)]  # version 2
    [attempt] = s.attempts()  # version 3: a stable identity, the same for the same recorded attempt
    assert attempt.uuid == str(uuid.uuid5(store_module.UUID_NAMESPACE, "attempt|Ann|s1|2026-01-01T00:00:00.000+00:00|4|1"))
    s.record_question("Ann", "next", answered=True)
    assert len({r[0] for r in s.query("SELECT uuid FROM questions")}) == 2
    s.close()


def test_newer_schema_is_refused_clearly(location: Path | str) -> None:
    ProgressStore.open(location).close()
    db = raw(location)
    db.set_schema_version(SCHEMA_VERSION + 5)
    db.close()
    with pytest.raises(StoreError, match="newer version of iwp-trainer") as info:
        ProgressStore.open(location)
    assert str(location) in str(info.value)


@pytest.mark.parametrize("content", [b"this is not a database at all, just text" * 100, b"SQLite format 3\x00" + b"\xff" * 4000])
def test_corrupt_file_is_refused_clearly(tmp_path: Path, content: bytes) -> None:
    db = tmp_path / "bad.sqlite3"
    db.write_bytes(content)
    with pytest.raises(StoreError, match="not a readable progress database") as info:
        ProgressStore.open(db)
    assert str(db) in str(info.value)


def test_damaged_pages_give_a_store_error_not_a_crash(tmp_path: Path) -> None:
    db = tmp_path / "damaged.sqlite3"
    s = ProgressStore.open(db)
    for i in range(200):
        play(s, f"L{i % 7}", f"s{i % 5}", [("a", 1, True), ("b", 0, False)])
    s._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    s.close()
    data = bytearray(db.read_bytes())
    page = 4096
    for offset in range(2 * page, len(data), page):  # trash every page after the schema page
        data[offset:offset + 200] = b"\x07" * 200
    db.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="not a readable progress database"):
        s = ProgressStore.open(db)
        s.attempts()


def test_someone_elses_database_is_left_alone(pg_url: str) -> None:
    db = raw(pg_url)
    db.execute("CREATE TABLE invoices (id INTEGER)")
    db.close()
    with pytest.raises(StoreError, match="not an iwp-trainer progress database"):
        ProgressStore.open(pg_url)
    db = raw(pg_url)
    assert db.table_names() == {"invoices"}
    db.close()


def test_someone_elses_sqlite_file_is_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "other.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not an iwp-trainer progress database"):
        ProgressStore.open(db)
    conn = sqlite3.connect(db)
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["invoices"]
    conn.close()


def test_read_only_file_is_refused_for_recording(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ProgressStore.open(db).close()
    db.chmod(0o444)
    if os.access(db, os.W_OK):  # running as root: permissions are not enforced, so say it is read-only
        real_access = os.access
        monkeypatch.setattr(store_module.os, "access",
                            lambda p, mode: False if Path(p) == db and mode == os.W_OK else real_access(p, mode))
    try:
        with pytest.raises(StoreError, match="read-only") as info:
            ProgressStore.open(db)
        assert str(db) in str(info.value)
    finally:
        db.chmod(0o644)


def test_read_only_server_database_refuses_writes(pg_url: str, clock: Clock) -> None:
    s = ProgressStore.open(pg_url, clock=clock)
    play(s, "Ann", "s1", [("a", 2, True)])
    s.close()
    ro = ProgressStore.open(pg_url, read_only=True)
    assert [a.learner for a in ro.attempts()] == ["Ann"]
    with pytest.raises(StoreError, match="read-only"):
        ro.start_attempt("Ann", "s1", "S", SHA, "practice", 0, {})
    with pytest.raises(StoreError, match="read-only"):  # even bypassing the guard, the server refuses
        ro.read_only = False
        ro.record_question("Ann", "anything", answered=False)
    ro.close()
    assert store_module.open_existing(pg_url).attempts()[0].learner == "Ann"


def test_read_only_open_reads_and_never_writes(db: Path, clock: Clock) -> None:
    s = ProgressStore.open(db, clock=clock)
    play(s, "Ann", "s1", [("a", 2, True)])
    s.close()
    before = db.read_bytes()
    ro = ProgressStore.open(db, read_only=True)
    assert [a.learner for a in ro.attempts()] == ["Ann"]
    with pytest.raises(StoreError, match="read-only"):
        ro.start_attempt("Ann", "s1", "S", SHA, "practice", 0, {})
    with pytest.raises(StoreError, match="read-only"):  # even bypassing the guard, SQLite refuses
        ro.read_only = False
        ro.record_question("Ann", "anything", answered=False)
    ro.close()
    assert db.read_bytes() == before
    with pytest.raises(StoreError, match="no progress database"):
        ProgressStore.open(db.with_name("missing.sqlite3"), read_only=True)


def test_locked_too_long_gives_a_store_error(db: Path) -> None:
    s = ProgressStore.open(db, busy_timeout=0.2)
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match="locked by another program"):
            s.start_attempt("Ann", "s1", "S", SHA, "practice", 0, {})
        assert time.monotonic() - started >= 0.15  # it waited before giving up
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    s.start_attempt("Ann", "s1", "S", SHA, "practice", 0, {})  # and works once the lock is gone
    s.close()


def test_locked_during_upgrade_gives_a_store_error(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.executescript((FIXTURES / "progress_v1.sql").read_text(encoding="utf-8"))
    conn.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked"):
            ProgressStore.open(db, busy_timeout=0.2)
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def test_folder_that_cannot_be_created_gives_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="cannot create the folder"):
        ProgressStore.open(tmp_path / "file" / "progress.sqlite3")
    with pytest.raises(StoreError, match="is a folder"):
        ProgressStore.open(tmp_path)


# --- several processes ---------------------------------------------------------------------------


def writer(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(FIXTURES / "writer.py"), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_killed_process_keeps_its_decisions_and_the_attempt_resumable(location: Path | str) -> None:
    proc = writer(str(location), "Kim", "0", "6", "--die-after", "3")
    try:
        line = proc.stdout.readline()
        assert line.startswith("ready"), proc.stderr.read()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    s = ProgressStore.open(location)
    [attempt] = s.unfinished_attempts("Kim")
    assert attempt.id == int(line.split()[1])
    assert attempt.choice_ids == ["c1", "c2", "c3"]
    assert attempt.scores == {"discretion": DimensionResult(6, 12)}
    s.record_decision(attempt.id, 4, "n4", "c4", "Choice 4", {"discretion": 2}, True, False, [])
    s.abandon_attempt(attempt.id)
    assert s.attempts(learner="Kim")[0].status == "abandoned"
    s.close()


def test_concurrent_writers_lose_nothing(location: Path | str) -> None:
    ProgressStore.open(location).close()
    procs = [writer(str(location), f"W{n}", "15", "4") for n in range(3)]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    s = ProgressStore.open(location)
    attempts = s.attempts()
    assert len(attempts) == 45
    for n in range(3):
        mine = s.attempts(learner=f"W{n}")
        assert len(mine) == 15
        assert all(a.status == "passed" and a.choice_ids == ["c1", "c2", "c3", "c4"] for a in mine)
    assert s.query("SELECT COUNT(*) FROM questions")[0][0] == 3 * 15 * 4
    s.close()


def test_concurrent_first_open_migrates_once(location: Path | str) -> None:
    procs = [writer(str(location), f"W{n}", "2", "2") for n in range(4)]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    s = ProgressStore.open(location)
    assert s.schema_version == SCHEMA_VERSION and len(s.attempts()) == 8
    s.close()


# --- when recording is off -----------------------------------------------------------------------


def test_in_memory_store_records_this_session_only() -> None:
    mem = ProgressStore.in_memory()
    attempt = mem.start_attempt("Ann", "s", "S", SHA, "practice", 0, {"d": 1})
    mem.record_decision(attempt, 1, "n", "c", "C", {"d": 1}, True, False, [])
    mem.finish_attempt(attempt, True, "end", {"d": (1, 1)})
    mem.record_question("Ann", "q", False)
    [recorded] = mem.attempts(learner="Ann")
    assert recorded.status == "passed" and [d.choice_id for d in recorded.decisions] == ["c"]
    assert mem.persistent is False and ProgressStore.persistent is True
    assert ProgressStore.in_memory().attempts() == []  # each one is private
    mem.close()


def test_open_store_falls_back_to_memory_and_says_why(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite3"
    bad.write_text("garbage" * 1000)
    s, notice = open_store(bad)
    assert s.persistent is False
    assert notice is not None and notice.startswith("Recording is off") and str(bad) in notice
    assert bad.read_text() == "garbage" * 1000  # the unusable file is left exactly as it was
    good, notice = open_store(tmp_path / "good.sqlite3")
    assert isinstance(good, ProgressStore) and good.persistent and notice is None
    good.close()


# --- the app's glue: engine results in, resume by replaying ---------------------------------------


def test_store_never_imports_the_engine() -> None:
    source = Path(store_module.__file__).read_text(encoding="utf-8")
    assert "engine" not in "".join(line for line in source.splitlines() if line.startswith(("import", "from")))


def test_engine_results_recorded_as_the_app_does_and_resumed_by_replay(shipped_scenarios: Path,
                                                                       shipped_kb: Path, location: Path | str) -> None:
    from iwp_trainer.engine import Playthrough
    from iwp_trainer.scenario_loader import load_scenarios

    scenarios = load_scenarios(shipped_scenarios, {p.stem for p in shipped_kb.glob("*.md")}, run_tests=False)
    scenario = scenarios.scenarios["control-group-request"]
    s = ProgressStore.open(location)

    def record(play: Playthrough, attempt_id: int, choice_id: str) -> None:
        seq = len(play.decisions) + 1
        d = play.choose(choice_id)
        s.record_decision(attempt_id, seq, d.node_id, d.choice_id, d.choice_text, d.points, d.is_best, d.critical,
                          list(d.cites))

    play = Playthrough(scenario, seed=99)
    best = {dim: sc.best for dim, sc in play.result().scores.items()}
    attempt_id = s.start_attempt("Ann", scenario.id, scenario.title, scenario.sha256, "practice", 99, best)
    record(play, attempt_id, play.best_choices()[0].id)  # ...and then the terminal is closed
    s.close()

    s = ProgressStore.open(location)
    [waiting] = s.unfinished_attempts("Ann")
    resumed = Playthrough(scenario, seed=waiting.seed)
    for choice_id in waiting.choice_ids:
        resumed.choose(choice_id)
    assert resumed.transcript == play.transcript  # replaying puts the coach back where they were
    while not resumed.finished:
        record(resumed, waiting.id, resumed.best_choices()[0].id)
    result = resumed.result()
    s.finish_attempt(waiting.id, result.passed, result.ending_node,
                     {dim: {"earned": sc.earned, "best": sc.best, "fraction": sc.fraction}
                      for dim, sc in result.scores.items()})
    [done] = s.attempts(learner="Ann")
    assert done.status == ("passed" if result.passed else "failed") and result.passed
    assert done.scenario_sha256 == scenario.sha256 and len(done.scenario_sha256) == 64
    assert {dim: r.fraction for dim, r in done.scores.items()} == \
        {dim: sc.fraction for dim, sc in result.scores.items()}
    assert [d.choice_id for d in result.decisions] == done.choice_ids
    s.close()


@pytest.mark.parametrize("read_only", [False, True])
def test_a_device_or_pipe_is_refused_and_left_alone(tmp_path: Path, read_only: bool) -> None:
    """`--db /dev/null` left a /dev/null-journal behind and said 'disk I/O error'. Tested on a named
    pipe, never on the real /dev/null."""
    fifo = tmp_path / "progress.sqlite3"
    os.mkfifo(fifo)
    with pytest.raises(StoreError, match="is not a regular file"):
        ProgressStore.open(fifo, read_only=read_only)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["progress.sqlite3"]


# --- no attempt lost or stuck (issue 13) ----------------------------------------------------------


def test_the_last_decision_and_the_finish_are_one_transaction(store: ProgressStore) -> None:
    """A kill between the last decision and the finish used to leave an attempt at its ending that
    was never finished. Now they commit together, or not at all."""
    attempt = store.start_attempt("Ann", "s1", "S", SHA, "practice", 0, {"discretion": 4})
    store.record_decision(attempt, 1, "n1", "a", "A", {"discretion": 2}, True, False, [])
    bad = store_module.Outcome(True, "end", {"discretion": object()})  # fails inside the transaction
    with pytest.raises(AttributeError):
        store.record_decision(attempt, 2, "n2", "b", "B", {"discretion": 2}, True, False, [], outcome=bad)
    [still] = store.unfinished_attempts("Ann")
    assert still.choice_ids == ["a"]  # the decision was rolled back with the failed finish
    store.record_decision(attempt, 2, "n2", "b", "B", {"discretion": 2}, True, False, [],
                          outcome=store_module.Outcome(True, "end", {"discretion": (4, 4)}))
    [done] = store.attempts(learner="Ann")
    assert (done.status, done.ending_node, done.choice_ids) == ("passed", "end", ["a", "b"])
    assert done.scores == {"discretion": DimensionResult(4, 4)}


def test_saving_the_same_decision_again_is_harmless(store: ProgressStore) -> None:
    """A retry after an unclear failure must not fail on the decision that did get saved."""
    attempt = store.start_attempt("Ann", "s1", "S", SHA, "practice", 0, {"discretion": 4})
    store.record_decision(attempt, 1, "n1", "a", "A", {"discretion": 2}, True, False, [])
    store.record_decision(attempt, 1, "n1", "a", "A", {"discretion": 2}, True, False, [])
    with pytest.raises(StoreError, match="already recorded"):  # a different choice at the same step
        store.record_decision(attempt, 1, "n1", "x", "X", {"discretion": 0}, False, False, [])
    outcome = store_module.Outcome(False, "end", {"discretion": (2, 4)})
    store.record_decision(attempt, 1, "n1", "a", "A", {"discretion": 2}, True, False, [], outcome=outcome)
    store.record_decision(attempt, 1, "n1", "a", "A", {"discretion": 2}, True, False, [], outcome=outcome)
    [done] = store.attempts(learner="Ann")
    assert done.status == "failed" and done.choice_ids == ["a"]


def test_retrying_waits_out_a_held_write_lock(db: Path) -> None:
    s = ProgressStore.open(db, busy_timeout=0.1)
    blocker = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.35, lambda: blocker.execute("ROLLBACK"))
    release.start()
    try:
        attempt = store_module.retrying(
            lambda: s.start_attempt("Ann", "s1", "S", SHA, "practice", 0, {}), attempts=10, pause=0.05)
    finally:
        release.join()
        blocker.close()
    assert [a.id for a in s.attempts()] == [attempt]
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    pauses: list[float] = []
    try:
        with pytest.raises(StoreError, match="locked by another program") as info:
            store_module.retrying(lambda: s.start_attempt("Ann", "s1", "S", SHA, "practice", 0, {}),
                                  attempts=3, pause=0.01, sleep=pauses.append)
        assert info.value.transient and pauses == [0.01, 0.01]
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    s.read_only = True  # not transient: raised at once, no waiting
    pauses.clear()
    with pytest.raises(StoreError, match="read-only"):
        store_module.retrying(lambda: s.start_attempt("Ann", "s1", "S", SHA, "practice", 0, {}), sleep=pauses.append)
    assert pauses == []
    s.close()


def _damage_one_page(db: Path) -> None:
    """Overwrite the start of one leaf page of the decisions table: the file still opens, reads its
    schema and version and takes writes elsewhere, as the probe's partly damaged file did."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = DELETE")  # everything into the main file
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    page = conn.execute("SELECT pageno FROM dbstat WHERE name = 'decisions' AND pagetype = 'leaf' "
                        "ORDER BY pageno LIMIT 1 OFFSET 2").fetchone()[0]
    conn.close()
    data = bytearray(db.read_bytes())
    data[(page - 1) * page_size:(page - 1) * page_size + 100] = b"\x07" * 100
    db.write_bytes(bytes(data))


def test_a_partly_damaged_file_is_refused_and_never_written(db: Path) -> None:
    s = ProgressStore.open(db)
    for n in range(150):
        play(s, f"L{n % 7}", "s1", [("a", 1, True), ("b", 2, False)], passed=True)
    s.close()
    _damage_one_page(db)
    before = db.read_bytes()
    with pytest.raises(StoreError, match="damaged") as info:
        ProgressStore.open(db)
    assert str(db) in str(info.value)
    fallback, notice = open_store(db)
    assert not fallback.persistent
    assert notice.startswith("Recording is off:") and "damaged" in notice
    assert "for this session only" in notice
    fallback.close()
    with pytest.raises(StoreError, match="damaged"):  # reports say so too
        store_module.open_existing(db)
    assert db.read_bytes() == before
    assert sorted(p.name for p in db.parent.iterdir()) == [db.name]  # no journal or WAL left beside it


def test_the_integrity_check_is_cut_short_on_a_huge_file(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On open the check may take QUICK_CHECK_BUDGET seconds at most; with no time left it trusts the file."""
    s = ProgressStore.open(db)
    for n in range(150):
        play(s, "Ann", "s1", [("a", 1, True)])
    s.close()
    _damage_one_page(db)
    monkeypatch.setattr(store_module, "QUICK_CHECK_BUDGET", 0.0)
    ro = ProgressStore.open(db, read_only=True)  # unchecked, so opened
    ro.close()


def test_reports_open_read_only_and_leave_the_file_as_it_is(db: Path) -> None:
    s = ProgressStore.open(db)
    play(s, "Ann", "s1", [("a", 2, True)])
    s.close()
    assert os.access(db, os.W_OK)
    before = db.read_bytes()
    ro = store_module.open_existing(db)
    assert ro is not None and ro.read_only  # writable, but a report has nothing to write
    assert [a.learner for a in ro.attempts()] == ["Ann"]
    ro.close()
    assert db.read_bytes() == before


def test_reports_upgrade_an_older_file_they_may_write(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.executescript((FIXTURES / "progress_v1.sql").read_text(encoding="utf-8"))
    conn.close()
    ro = store_module.open_existing(db)
    assert ro.read_only and ro.schema_version == SCHEMA_VERSION
    ro.close()


def _without_root_overrides() -> None:
    """In the child, before exec: drop the capabilities that let root ignore file permissions
    (the tests may run as root, for whom a read-only file is not read-only)."""
    import ctypes

    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        libc.prctl(24, capability, 0, 0, 0)  # PR_CAPBSET_DROP


def test_report_and_export_work_on_a_read_only_shared_database() -> None:
    """A team file on a share: the file and its folder are read-only for this coach. The report used
    to say "…is read-only, so progress cannot be recorded" and give nothing."""
    import shutil
    import tempfile

    shared = Path(tempfile.mkdtemp(prefix="iwp-shared-"))  # not under pytest's owner-only tmp folder
    try:
        db = shared / "team.sqlite3"
        s = ProgressStore.open(db)
        play(s, "Ann", "s1", [("a", 2, True)])
        s.close()
        db.chmod(0o444)
        shared.chmod(0o555)
        env = {**os.environ, "IWP_TRAINER_CONFIG": str(shared / "settings.json")}
        for argv, shows in ((["report", "learners"], "Ann"), (["report", "scenarios", "--csv"], "s1,S1,1,1"),
                            (["export", "xapi"], '"name":"Ann"')):
            result = subprocess.run([sys.executable, "-m", "iwp_trainer", "--db", str(db), *argv],
                                    capture_output=True, text=True, env=env, cwd=shared,
                                    preexec_fn=_without_root_overrides)
            assert result.returncode == 0, result.stderr
            assert shows in result.stdout and "read-only" not in result.stderr
        assert sorted(p.name for p in shared.iterdir()) == ["team.sqlite3"]
    finally:
        shared.chmod(0o755)
        shutil.rmtree(shared)


def test_open_tries_again_when_the_file_reports_locked_at_once(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Processes opening a new file together: switching it to WAL sometimes said "locked" at once,
    without waiting (the concurrent first-open test failed about 1 run in 50)."""
    real = ProgressStore._connect.__func__
    calls = []

    def flaky(cls, *args, **kwargs):
        calls.append(1)
        if len(calls) < 3:
            raise StoreError("the progress database is locked by another program", transient=True)
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(ProgressStore, "_connect", classmethod(flaky))
    ProgressStore.open(db, busy_timeout=2).close()
    assert len(calls) == 3
    calls.clear()
    with pytest.raises(StoreError, match="locked"):  # but never for longer than a lock may be waited
        ProgressStore.open(db, busy_timeout=0)
