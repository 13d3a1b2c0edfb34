"""The PostgreSQL back end: addresses and passwords, a lost server, many writers at once, and
``db migrate`` / ``db copy``, against a real throwaway server (the ``pg_cluster`` fixture).

The store's behaviour itself (what is recorded, resumed, refused) is tested on both back ends by
tests/test_store.py and tests/test_reports.py; these are the things only a server has."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from iwp_trainer import store as store_module
from iwp_trainer.cli import main
from iwp_trainer.reports import build_report, render_json
from iwp_trainer.store import SCHEMA_VERSION, ProgressStore, StoreError, open_store

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "store"
SHA = "e" * 64
SECRET = "hunter2-Correct-Horse"


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def play(s: ProgressStore, learner: str, scenario: str, n: int, finish: bool = True) -> int:
    attempt = s.start_attempt(learner, scenario, scenario.title(), SHA, "practice", 3, {"discretion": n})
    for seq in range(1, n + 1):
        s.record_decision(attempt, seq, f"n{seq}", f"c{seq}", f"Choice {seq}", {"discretion": 1}, seq % 2 == 0,
                          False, [f"kb-{seq}"])
    if finish:
        s.finish_attempt(attempt, True, "end", {"discretion": (n, n)})
    return attempt


# --- addresses and passwords ------------------------------------------------------------------------


@pytest.fixture
def pw_role(pg_cluster, pg_url: str) -> str:
    """A role that must give a password (scram on 127.0.0.1: see pg_cluster.py's pg_hba.conf)."""
    pg_cluster.psql(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pw_coach') THEN "
                    f"CREATE ROLE pw_coach LOGIN PASSWORD '{SECRET}'; END IF; END $$")
    dbname = pg_url.rsplit("/", 1)[1]
    pg_cluster.psql(f'GRANT ALL ON DATABASE "{dbname}" TO pw_coach')
    pg_cluster.psql("GRANT ALL ON SCHEMA public TO pw_coach", dbname=dbname)
    return f"postgresql://pw_coach@127.0.0.1:{pg_cluster.port}/{dbname}"


@pytest.mark.parametrize("form", ["postgresql://iwp:{secret}@127.0.0.1:{port}/x",
                                  "postgresql://iwp@127.0.0.1:{port}/x?password={secret}"])
def test_a_password_in_the_address_is_refused_and_never_repeated(pg_cluster, form: str,
                                                                 capsys: pytest.CaptureFixture) -> None:
    url = form.format(secret=SECRET, port=pg_cluster.port)
    with pytest.raises(StoreError, match="contains a password") as info:
        ProgressStore.open(url)
    assert SECRET not in str(info.value) and "~/.pgpass" in str(info.value)
    store, notice = open_store(url)  # the app: recording is off, and the notice does not show it either
    assert not store.persistent and SECRET not in notice and notice.startswith("Recording is off")
    for argv in (["report", "learners"], ["db", "migrate"], ["export", "xapi"]):
        code, out, err = run(capsys, "--db", url, *argv)
        assert code == 1 and SECRET not in out + err and "contains a password" in err


def test_the_password_comes_from_pgpassword_or_pgpass(pw_role: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", SECRET)
    s = ProgressStore.open(pw_role)
    play(s, "Ann", "s1", 2)
    s.close()
    monkeypatch.delenv("PGPASSWORD")
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:*:*:pw_coach:{SECRET}\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    s = ProgressStore.open(pw_role, read_only=True)
    assert [a.learner for a in s.attempts()] == ["Ann"]
    s.close()


def test_a_wrong_or_missing_password_or_bad_host_is_one_message_without_the_password(
        pw_role: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("PGPASSFILE", "/nonexistent/pgpass")
    with pytest.raises(StoreError, match="asks for a password") as info:
        ProgressStore.open(pw_role)
    assert "~/.pgpass" in str(info.value)
    wrong = "Wrong-Battery-Staple-77"
    monkeypatch.setenv("PGPASSWORD", wrong)
    with pytest.raises(StoreError, match="refused the password") as info:
        ProgressStore.open(pw_role)
    assert wrong not in str(info.value) and SECRET not in str(info.value)
    code, out, err = run(capsys, "--db", pw_role, "report", "learners")
    assert code == 1 and "refused the password" in err and wrong not in out + err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    bad_host = pw_role.replace(pw_role.split("@")[1].split("/")[0], "127.0.0.1:1")
    with pytest.raises(StoreError, match="cannot reach the progress database server") as info:
        ProgressStore.open(bad_host)
    assert info.value.transient and wrong not in str(info.value)
    missing = pw_role.rsplit("/", 1)[0] + "/no_such_db"
    monkeypatch.setenv("PGPASSWORD", SECRET)
    with pytest.raises(StoreError, match="there is no database no_such_db"):
        ProgressStore.open(missing)


def test_the_app_records_to_a_server_named_in_iwp_trainer_db(pg_url: str, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture) -> None:
    from iwp_trainer import paths

    monkeypatch.setenv("IWP_TRAINER_DB", pg_url)
    assert paths.default_db_path() == pg_url  # kept as an address (a Path would fold its //)
    s, notice = open_store(paths.default_db_path())
    assert notice is None and s.persistent and s.backend == "postgresql"
    play(s, "Ann", "s1", 3)
    s.close()
    code, out, err = run(capsys, "report", "learners", "--csv")
    assert code == 0, err
    assert out.splitlines()[1].startswith("Ann,1,1,")


# --- a server that goes away -----------------------------------------------------------------------


def test_server_killed_mid_attempt_then_restarted(pg_cluster, pg_url: str) -> None:
    """``pg_ctl stop -m immediate`` while a coach is half-way through: the next save is one clear,
    transient message (the app's retry loop and its `r` key act on it), nothing saved is lost, and
    once the server is back the same store carries on without being reopened."""
    s = ProgressStore.open(pg_url)
    attempt = s.start_attempt("Kim", "s1", "S1", SHA, "practice", 5, {"discretion": 4})
    s.record_decision(attempt, 1, "n1", "c1", "Choice 1", {"discretion": 1}, True, False, [])
    s.record_decision(attempt, 2, "n2", "c2", "Choice 2", {"discretion": 1}, True, False, [])
    pg_cluster.stop("immediate")
    try:
        pauses: list[float] = []
        with pytest.raises(StoreError) as info:
            store_module.retrying(lambda: s.record_decision(attempt, 3, "n3", "c3", "Choice 3", {"discretion": 1},
                                                            True, False, []), sleep=pauses.append)
        message = str(info.value)
        assert info.value.transient and len(pauses) == store_module.SAVE_ATTEMPTS - 1
        assert "progress database server" in message and "\n" not in message
        assert "Traceback" not in message
        fallback, notice = open_store(pg_url)  # a coach starting the app now: recording is off
        assert not fallback.persistent and notice.startswith("Recording is off: cannot reach")
    finally:
        pg_cluster.start()
    # The same store: its dead connection is replaced inside the next save, which just works.
    s.record_decision(attempt, 3, "n3", "c3", "Choice 3", {"discretion": 1}, True, False, [])
    s.record_decision(attempt, 4, "n4", "c4", "Choice 4", {"discretion": 1}, True, False, [],
                      outcome=store_module.Outcome(True, "end", {"discretion": (4, 4)}))
    s.close()
    again = ProgressStore.open(pg_url)
    [done] = again.attempts(learner="Kim")
    assert done.status == "passed" and done.choice_ids == ["c1", "c2", "c3", "c4"]
    again.close()


def test_a_restart_between_saves_is_retried_without_a_word(pg_cluster, pg_url: str) -> None:
    s = ProgressStore.open(pg_url)
    attempt = s.start_attempt("Lee", "s1", "S1", SHA, "practice", 5, {"discretion": 2})
    pg_cluster.stop("immediate")
    pg_cluster.start()
    s.record_decision(attempt, 1, "n1", "c1", "Choice 1", {"discretion": 1}, True, False, [])  # no error
    s.record_question("Lee", "after the restart", answered=True)
    pg_cluster.stop("fast")
    pg_cluster.start()
    assert [a.choice_ids for a in s.attempts(learner="Lee")] == [["c1"]]  # reads reconnect too
    assert s.query("SELECT COUNT(*) FROM questions")[0][0] == 1  # recorded once
    s.close()


# --- many coaches at once --------------------------------------------------------------------------


def test_twenty_concurrent_writer_processes_lose_nothing(pg_url: str) -> None:
    """The district load: 20 processes recording at once (each its own coach), 6 decisions an attempt."""
    ProgressStore.open(pg_url).close()
    procs = [subprocess.Popen([sys.executable, str(FIXTURES / "writer.py"), pg_url, f"W{n:02d}", "4", "6"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(20)]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    s = ProgressStore.open(pg_url)
    attempts = s.attempts()
    assert len(attempts) == 20 * 4
    assert all(a.status == "passed" and a.choice_ids == [f"c{i}" for i in range(1, 7)] for a in attempts)
    assert [tuple(r) for r in s.query("SELECT COUNT(*), COUNT(DISTINCT learner_id) FROM questions")] == \
        [(20 * 4 * 6, 20)]
    assert s.query("SELECT COUNT(*) FROM decisions")[0][0] == 20 * 4 * 6
    assert len(s.learners()) == 20
    s.close()


def test_concurrent_coaches_new_to_the_server_become_one_learner_each(pg_url: str) -> None:
    """Same new name from several processes at once: one learner, never a duplicate-key failure."""
    ProgressStore.open(pg_url).close()
    procs = [subprocess.Popen([sys.executable, str(FIXTURES / "writer.py"), pg_url, "Same Name" if n % 2 else
                               "same name", "2", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in range(6)]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    s = ProgressStore.open(pg_url)
    assert len(s.learners()) == 1 and len(s.attempts(learner="SAME NAME")) == 12
    s.close()


# --- db migrate and db copy --------------------------------------------------------------------------


def laptop(path: Path) -> Path:
    """A coach's SQLite file: two finished attempts, one unfinished, questions, a learner with none."""
    moments = iter(datetime(2026, 3, 2, 9, tzinfo=timezone.utc) + timedelta(seconds=7 * n) for n in range(10_000))
    s = ProgressStore.open(path, clock=lambda: next(moments))
    play(s, "Ann Coach", "s1", 3)
    play(s, "Ann Coach", "s2", 2)
    play(s, "Bob", "s1", 2, finish=False)
    s.record_question("Ann Coach", "What is the CET?", answered=False)
    s.record_question(None, "travel costs", answered=True, helpful=False)
    s.learner("Cy")
    s.close()
    return path


def _snapshot(location: Path | str) -> list[tuple]:
    s = ProgressStore.open(location, read_only=True)
    try:
        return [(a.uuid, a.learner, a.scenario_id, a.mode, a.seed, a.started_at, a.ended_at, a.status,
                 a.ending_node, a.scores, a.decisions) for a in s.attempts()]
    finally:
        s.close()


def test_db_copy_moves_a_laptop_and_twice_copies_nothing_twice(pg_url: str, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture) -> None:
    source = laptop(tmp_path / "laptop.sqlite3")
    code, out, err = run(capsys, "db", "copy", "--from", str(source), "--to", pg_url)
    assert code == 0, err
    assert "Copied 3 attempts and 2 questions" in out and "Already there: 0 attempts" in out
    assert _snapshot(pg_url) == _snapshot(source)  # every field, every decision, the same stable ids
    code, out, err = run(capsys, "db", "copy", "--from", str(source), "--to", pg_url)
    assert code == 0 and "Copied 0 attempts and 0 questions" in out
    assert "Already there: 3 attempts (0 brought up to date) and 2 questions" in out
    assert _snapshot(pg_url) == _snapshot(source)
    target = ProgressStore.open(pg_url, read_only=True)
    laptop_store = ProgressStore.open(source, read_only=True)
    assert target.learners() == laptop_store.learners() == ["Ann Coach", "Bob", "Cy"]
    for name in ("learners", "scenarios", "gaps"):  # the reports agree, computed by each database
        assert render_json(build_report(name, target)) == render_json(build_report(name, laptop_store))
    target.close()
    laptop_store.close()


def test_db_copy_brings_an_attempt_finished_since_up_to_date(pg_url: str, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture) -> None:
    source = laptop(tmp_path / "laptop.sqlite3")
    assert run(capsys, "db", "copy", "--from", str(source), "--to", pg_url)[0] == 0
    s = ProgressStore.open(source)
    [waiting] = s.unfinished_attempts("Bob")
    s.record_decision(waiting.id, 3, "n3", "c3", "Choice 3", {"discretion": 0}, True, False, [],
                      outcome=store_module.Outcome(False, "end", {"discretion": (2, 2)}))
    s.close()
    code, out, err = run(capsys, "db", "copy", "--from", str(source), "--to", pg_url)
    assert code == 0 and "Copied 0 attempts" in out and "(1 brought up to date)" in out
    assert _snapshot(pg_url) == _snapshot(source)


def test_db_copy_refuses_the_same_database_and_a_missing_source(pg_url: str, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    code, out, err = run(capsys, "db", "copy", "--from", pg_url, "--to", pg_url)
    assert code == 2 and "the same database" in err
    code, out, err = run(capsys, "db", "copy", "--from", str(tmp_path / "none.sqlite3"), "--to", pg_url)
    assert code == 1 and "no progress database" in err


def test_db_migrate_creates_and_upgrades_on_either_back_end(pg_url: str, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    code, out, err = run(capsys, "--db", pg_url, "db", "migrate")
    assert code == 0 and f"to schema version {SCHEMA_VERSION}" in out, err
    code, out, err = run(capsys, "--db", pg_url, "db", "migrate")
    assert code == 0 and "is up to date" in out
    import sqlite3

    old = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(old)
    conn.executescript((FIXTURES / "progress_v1.sql").read_text(encoding="utf-8"))
    conn.close()
    code, out, err = run(capsys, "--db", str(old), "db", "migrate")
    assert code == 0 and f"Upgraded the progress database {old} to schema version {SCHEMA_VERSION}" in out
    code, out, err = run(capsys, "--db", str(tmp_path / "new.sqlite3"), "db", "migrate")
    assert code == 0 and "Created" in out
    code, out, err = run(capsys, "--db", pg_url, "db")
    assert code == 2 and "db migrate" in err
    json.dumps(out)
