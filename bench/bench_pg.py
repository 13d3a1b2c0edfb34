"""District-scale figures for the PostgreSQL progress store, against SQLite on the same data.

Run: .venv/bin/python bench/bench_pg.py [--learners 500] [--attempts 200] [--decisions 6]
                                        [--writers 20] [--writer-attempts 25] [--url postgresql://...]

1. Builds a SQLite file of LEARNERS x ATTEMPTS attempts of DECISIONS decisions (with scores and Ask
   questions), written in bulk (recording speed is step 3's business).
2. Copies it into PostgreSQL with ``ProgressStore.copy_from`` (what ``iwp-trainer db copy`` runs),
   timed, then copies again (nothing new: the idempotent re-run).
3. Times every report (median of several runs) on PostgreSQL and on SQLite, same data, same SQL.
4. WRITERS processes record at once through the public API, exactly as the app does (one
   transaction per decision, the last with its outcome), each WRITER-ATTEMPTS attempts, into the
   district-sized database; prints decisions/s and the rows lost (expected minus found: must be 0).

Without ``--url`` a throwaway cluster is started (Debian's PostgreSQL, tests/pg_cluster.py).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from iwp_trainer.reports import ReportFilter, build_report  # noqa: E402
from iwp_trainer.store import Outcome, ProgressStore, iso  # noqa: E402

SCENARIOS = [f"scenario-{n:02d}" for n in range(13)]
DIMENSIONS = ["discretion", "sanctions", "reallocation"]


def _close(a: object, b: object) -> bool:
    """Equal, floats to 1e-9 (the two databases add up a mean's terms in different orders)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    return a == b


def _same_rows(a: list[dict], b: list[dict]) -> bool:
    return _close(a, b)


def median_time(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def build_sqlite(path: Path, learners: int, attempts: int, decisions: int) -> int:
    """The district's history in one SQLite file, in bulk. Returns the number of decisions."""
    ProgressStore.open(path).close()  # the real schema, migrations and all
    rng = random.Random(2026)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    start = datetime(2026, 1, 5, 8, tzinfo=timezone.utc)
    conn.executemany("INSERT INTO learners (id, name, created_at) VALUES (?, ?, ?)",
                     [(n + 1, f"Coach {n:04d}", iso(start)) for n in range(learners)])
    attempt_id = 0
    rows_a, rows_s, rows_d, rows_q = [], [], [], []
    for learner in range(1, learners + 1):
        for k in range(attempts):
            attempt_id += 1
            moment = start + timedelta(minutes=rng.randrange(180 * 24 * 60))
            passed = rng.random() < 0.6
            status = "passed" if passed else ("failed" if rng.random() < 0.8 else "in_progress")
            scenario = rng.choice(SCENARIOS)
            rows_a.append((attempt_id, learner, scenario, scenario.title(), "ab" * 32, "practice", k, iso(moment),
                           None if status == "in_progress" else iso(moment + timedelta(minutes=9)), status,
                           None if status == "in_progress" else "end", str(uuid.UUID(int=rng.getrandbits(128)))))
            for dim in DIMENSIONS:
                rows_s.append((attempt_id, dim, None if status == "in_progress" else rng.randrange(-2, 7), 6))
            for seq in range(1, decisions + 1):
                best = rng.random() < 0.7
                choice = f"c{rng.randrange(4)}"
                rows_d.append((attempt_id, seq, f"n{seq}", choice, f"Choice {choice} at step {seq}",
                               json.dumps({rng.choice(DIMENSIONS): rng.randrange(-1, 3)}), int(best),
                               int(not best and rng.random() < 0.1), json.dumps([f"kb-{seq}"]),
                               iso(moment + timedelta(seconds=60 * seq))))
            if k % 10 == 0:
                q = f"question number {rng.randrange(150)} about the trial"
                rows_q.append((learner, q, q, int(rng.random() < 0.7), None, iso(moment),
                               str(uuid.UUID(int=rng.getrandbits(128)))))
    conn.executemany("INSERT INTO attempts (id, learner_id, scenario_id, scenario_title, scenario_sha256, mode, seed,"
                     " started_at, ended_at, status, ending_node, uuid) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows_a)
    conn.executemany("INSERT INTO attempt_scores VALUES (?, ?, ?, ?)", rows_s)
    conn.executemany("INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows_d)
    conn.executemany("INSERT INTO questions (learner_id, question, normalised, answered, helpful, asked_at, uuid)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?)", rows_q)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return len(rows_d)


def writer(url: str, name: str, attempts: int, decisions: int, start_at: float) -> None:
    """One coach's process: record ATTEMPTS attempts as the app does; print what was acknowledged."""
    store = ProgressStore.open(url, busy_timeout=30)
    while time.time() < start_at:
        time.sleep(0.005)
    acked = 0
    for k in range(attempts):
        attempt = store.start_attempt(name, SCENARIOS[k % len(SCENARIOS)], "Load", "cd" * 32, "practice", k,
                                      {d: decisions for d in DIMENSIONS})
        for seq in range(1, decisions + 1):
            outcome = Outcome(True, "end", {d: (decisions, decisions) for d in DIMENSIONS}) if seq == decisions else None
            store.record_decision(attempt, seq, f"n{seq}", f"c{seq}", f"Choice {seq}", {"discretion": 1}, True,
                                  False, [], outcome=outcome)
            acked += 1
    store.close()
    print(json.dumps({"acked": acked, "done": time.time()}), flush=True)


def concurrent_writers(location: str, writers: int, attempts: int, decisions: int) -> tuple[float, int, int]:
    """(decisions per second, decisions expected, rows lost)."""
    probe = ProgressStore.open(location)
    before = probe.query("SELECT COUNT(*) FROM decisions")[0][0]
    probe.close()
    start_at = time.time() + 3.0 + 0.15 * writers  # every process imported and connected first
    procs = [subprocess.Popen([sys.executable, __file__, "--writer", str(location), f"Load writer {n:02d}",
                               str(attempts), str(decisions), repr(start_at)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(writers)]
    acked, last = 0, start_at
    for proc in procs:
        out, err = proc.communicate(timeout=1800)
        if proc.returncode != 0:
            raise SystemExit(f"a writer failed: {err.strip().splitlines()[-1:]}")
        report = json.loads(out.strip().splitlines()[-1])
        acked += report["acked"]
        last = max(last, report["done"])
    probe = ProgressStore.open(location)
    found = probe.query("SELECT COUNT(*) FROM decisions")[0][0] - before
    finished = probe.query("SELECT COUNT(*) FROM attempts WHERE scenario_title = 'Load' AND status = 'passed'")[0][0]
    probe.close()
    expected = writers * attempts * decisions
    lost = (expected - found) + (writers * attempts - finished) + (expected - acked)
    return acked / (last - start_at), expected, lost


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--writer":
        url, name, attempts, decisions, start_at = sys.argv[2:7]
        writer(url, name, int(attempts), int(decisions), float(start_at))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=500)
    parser.add_argument("--attempts", type=int, default=200)
    parser.add_argument("--decisions", type=int, default=6)
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--writer-attempts", type=int, default=25)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--url", default=None, help="an empty PostgreSQL database (default: a throwaway cluster)")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="iwp-bench-pg-")
    cluster = None
    if args.url is None:
        from pg_cluster import start_cluster

        cluster = start_cluster()
        url = cluster.create_database("district")
        print(f"PostgreSQL: throwaway cluster, {cluster.bindir.parent.name}, port {cluster.port} (fsync off)")
    else:
        url = args.url
    try:
        lite = Path(tmp.name) / "district.sqlite3"
        t = time.perf_counter()
        n_decisions = build_sqlite(lite, args.learners, args.attempts, args.decisions)
        n_attempts = args.learners * args.attempts
        print(f"data: {args.learners} learners x {args.attempts} attempts x {args.decisions} decisions = "
              f"{n_attempts:,} attempts, {n_decisions:,} decisions ({time.perf_counter() - t:.1f} s to build the SQLite file)")
        source = ProgressStore.open(lite, read_only=True)
        target = ProgressStore.open(url)
        t = time.perf_counter()
        counts = target.copy_from(source)
        took = time.perf_counter() - t
        print(f"db copy SQLite -> PostgreSQL: {counts.attempts_new:,} attempts in {took:.1f} s "
              f"({counts.attempts_new / took:,.0f} attempts/s, {n_decisions / took:,.0f} decisions/s)")
        t = time.perf_counter()
        again = target.copy_from(source)
        print(f"db copy again: {again.attempts_new} new, {again.attempts_present:,} already there "
              f"({time.perf_counter() - t:.1f} s)")
        target._write(lambda retried: target._db.execute("ANALYZE"))  # as autovacuum would, soon after a bulk load
        print()
        print(f"{'report (median of %d)' % args.runs:<38} {'SQLite':>9} {'PostgreSQL':>11}")
        some = source.query("SELECT name FROM learners ORDER BY id LIMIT 1")[0][0]
        cases = [("learners", ReportFilter()), ("scenarios", ReportFilter()), ("gaps", ReportFilter()),
                 ("learners --learner", ReportFilter(learner=some)),
                 ("scenarios --scenario", ReportFilter(scenario=SCENARIOS[3])),
                 ("learners --since (last 30 days)", ReportFilter(since=datetime(2026, 6, 3, tzinfo=timezone.utc)))]
        for label, f in cases:
            name = label.split()[0]
            a = median_time(lambda: build_report(name, source, f), args.runs)
            b = median_time(lambda: build_report(name, target, f), args.runs)
            same = _same_rows(build_report(name, source, f).rows, build_report(name, target, f).rows)
            print(f"{label:<38} {a * 1000:>7.0f} ms {b * 1000:>8.0f} ms{'' if same else '  ROWS DIFFER'}")
        a = median_time(lambda: source.attempts(learner=some), args.runs)
        b = median_time(lambda: target.attempts(learner=some), args.runs)
        label = "one learner's attempts (Progress)"
        print(f"{label:<38} {a * 1000:>7.0f} ms {b * 1000:>8.0f} ms")
        source.close()
        target.close()
        print()
        rate, expected, lost = concurrent_writers(url, args.writers, args.writer_attempts, args.decisions)
        print(f"{args.writers} concurrent writer processes on PostgreSQL ({args.writer_attempts} attempts x "
              f"{args.decisions} decisions each, one transaction per decision): {rate:,.0f} decisions/s, "
              f"{expected:,} decisions, rows lost: {lost}")
        rate_l, expected_l, lost_l = concurrent_writers(str(lite), args.writers, args.writer_attempts, args.decisions)
        print(f"the same on the SQLite file (one writer at a time, WAL): {rate_l:,.0f} decisions/s, "
              f"rows lost: {lost_l}")
        return 1 if lost or lost_l else 0
    finally:
        if cluster is not None:
            cluster.destroy()
        tmp.cleanup()


if __name__ == "__main__":
    raise SystemExit(main())
