"""Figures for the progress store: recording, reports and the xAPI export on a large team database.

Run: .venv/bin/python bench/bench_store.py [--learners 100] [--attempts 200] [--decisions 6] [--db PATH]

Records LEARNERS x ATTEMPTS attempts through the public API exactly as the app does (one
transaction per decision), spread over 180 days and 13 scenarios, with Ask questions; then times
opening the file (which runs the integrity check), the whole-file ``PRAGMA quick_check``, the
calls the app makes for one learner, each report (unfiltered and filtered,
built and rendered) and the xAPI export to a file. Timings are the median of several runs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from iwp_trainer.reports import ReportFilter, build_report, render_csv, render_json, render_text  # noqa: E402
from iwp_trainer.store import ProgressStore  # noqa: E402
from iwp_trainer.xapi import statements, to_json_lines, write_json_lines_atomic  # noqa: E402

SCENARIOS = ["angry-mandatory", "carer-cet", "change-jobcentre-no-move", "change-of-address",
             "control-group-request", "domestic-violence", "first-in-work-conversation",
             "household-above-cet", "self-employed", "shadowing-new-colleague", "steps-not-taken",
             "travel-costs", "wsr-thin-evidence"]
DIMENSIONS = ["discretion", "sanctions", "reallocation"]
QUESTIONS = [f"question number {n} about the trial" for n in range(150)]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 8, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


def median_time(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def record(db: Path, learners: int, attempts: int, decisions: int) -> tuple[float, int]:
    clock = Clock()
    store = ProgressStore.open(db, clock=clock)
    rng = random.Random(2026)
    commits = 0
    per_learner_step = timedelta(days=180) / attempts
    start = time.perf_counter()
    for n in range(attempts):
        for learner in range(learners):
            clock.now = datetime(2026, 1, 5, 8, tzinfo=timezone.utc) + per_learner_step * n + \
                timedelta(minutes=learner)
            scenario = SCENARIOS[rng.randrange(len(SCENARIOS))]
            dims = DIMENSIONS[: 1 + rng.randrange(3)]
            best = {d: 2 * decisions for d in dims}
            attempt = store.start_attempt(f"WC-{10000 + learner}", scenario, scenario.replace("-", " ").title(),
                                          "ab" * 32, "practice" if rng.random() < 0.7 else "assessment",
                                          rng.randrange(10**6), best)
            commits += 1
            earned = dict.fromkeys(dims, 0)
            critical = False
            for seq in range(1, decisions + 1):
                clock.now += timedelta(seconds=20 + rng.randrange(60))
                pick = rng.randrange(4)
                is_best, crit = pick == 0, pick == 3 and rng.random() < 0.2
                points = {d: (2 if is_best else rng.choice((0, 1, -1))) for d in dims}
                for d, p in points.items():
                    earned[d] += p
                critical |= crit
                store.record_decision(attempt, seq, f"node-{seq}", f"choice-{seq}-{pick}",
                                      f"Choice {pick} at step {seq} of {scenario}", points, is_best, crit,
                                      [f"{scenario}-entry"] if not is_best else [])
                commits += 1
            outcome = rng.random()
            if outcome < 0.05:
                store.abandon_attempt(attempt)
            elif outcome < 0.97:
                passed = not critical and all(earned[d] >= 0.8 * best[d] for d in dims)
                store.finish_attempt(attempt, passed, "end", {d: (earned[d], best[d]) for d in dims})
            commits += 1
            if rng.random() < 0.1:
                store.record_question(f"WC-{10000 + learner}", rng.choice(QUESTIONS).upper() if rng.random() < 0.5
                                      else rng.choice(QUESTIONS), answered=rng.random() < 0.6,
                                      helpful=None)
                commits += 1
    elapsed = time.perf_counter() - start
    store.close()
    return elapsed, commits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=100)
    parser.add_argument("--attempts", type=int, default=200, help="attempts per learner")
    parser.add_argument("--decisions", type=int, default=6, help="decisions per attempt")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per figure (median shown)")
    parser.add_argument("--db", type=Path, default=None, help="database file (default: a temporary one)")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    db = args.db or Path(tmp.name) / "bench.sqlite3"
    if db.exists():
        print(f"{db} exists: pass a new path", file=sys.stderr)
        return 2
    total = args.learners * args.attempts
    print(f"Recording {args.learners} learners x {args.attempts} attempts x {args.decisions} decisions "
          f"({total:,} attempts) through the public API...")
    elapsed, commits = record(db, args.learners, args.attempts, args.decisions)
    size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))
    print(f"  recorded in {elapsed:.1f} s: {commits:,} transactions, {elapsed / commits * 1e6:.0f} us each; "
          f"file {size / 1e6:.1f} MB")

    runs = args.runs
    t, _ = median_time(lambda: ProgressStore.open(db).close(), runs)
    print(f"\nopen (up to date, with its check)       {t * 1000:8.1f} ms")
    import sqlite3

    from iwp_trainer import store as store_module

    def full_check() -> str:
        conn = sqlite3.connect(db)
        try:
            return conn.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            conn.close()

    t, verdict = median_time(full_check, runs)
    print(f"PRAGMA quick_check, whole file          {t * 1000:8.1f} ms   ({verdict}; {size / 1e6 / t:,.0f} MB/s; "
          f"on open it stops after {store_module.QUICK_CHECK_BUDGET:g} s, about "
          f"{store_module.QUICK_CHECK_BUDGET * size / t / 1e6:,.0f} MB checked)")
    store = ProgressStore.open(db)
    learner = f"WC-{10000 + args.learners // 2}"
    rows: list[tuple[str, float, str]] = []
    t, got = median_time(lambda: store.attempts(learner=learner), runs)
    rows.append(("attempts(learner)  [progress screen]", t, f"{len(got)} attempts"))
    t, got = median_time(lambda: store.unfinished_attempts(learner), runs)
    rows.append(("unfinished_attempts(learner)", t, f"{len(got)} attempts"))
    t, got = median_time(lambda: store.best_results(learner), runs)
    rows.append(("best_results(learner)", t, f"{len(got)} scenarios"))
    for label, seconds, note in rows:
        print(f"{label:38} {seconds * 1000:8.1f} ms   ({note})")

    print(f"\n{'report':38} {'build':>8}    {'text':>7}  {'csv':>7}  {'json':>7}   rows")
    filters = [("", ReportFilter()), ("--learner", ReportFilter(learner=learner)),
               ("--scenario", ReportFilter(scenario="travel-costs")),
               ("--since (last 30 days)", ReportFilter(since=datetime(2026, 6, 4)))]
    for name in ("learners", "scenarios", "gaps"):
        for label, f in filters:
            if name == "gaps" and f.scenario:
                continue
            t, report = median_time(lambda: build_report(name, store, f), runs)
            text, _ = median_time(lambda: render_text(report), runs)
            as_csv, _ = median_time(lambda: render_csv(report), runs)
            as_json, _ = median_time(lambda: render_json(report), runs)
            print(f"{(name + ' ' + label):38} {t * 1000:6.1f} ms  {text * 1000:5.1f} ms {as_csv * 1000:5.1f} ms "
                  f"{as_json * 1000:5.1f} ms   {len(report.rows)}")

    import contextlib
    import io

    from iwp_trainer.cli import main as cli_main

    print()
    for argv in (["report", "learners"], ["report", "scenarios"], ["report", "gaps"],
                 ["report", "scenarios", "--json"]):
        def run_cli() -> None:
            with contextlib.redirect_stdout(io.StringIO()):
                assert cli_main(["--db", str(db), *argv]) == 0
        t, _ = median_time(run_cli, runs)
        print(f"{'iwp-trainer ' + ' '.join(argv):38} {t * 1000:6.1f} ms   (in process: open, build, render)")

    out = Path(tmp.name) / "export.jsonl"  # never beside a --db the user chose
    load_start = time.perf_counter()
    attempts = store.attempts()
    load = time.perf_counter() - load_start
    write_start = time.perf_counter()
    count = write_json_lines_atomic(out, to_json_lines(statements(attempts)))
    write = time.perf_counter() - write_start
    print(f"\nxAPI export: {count:,} statements for {len(attempts):,} attempts, {out.stat().st_size / 1e6:.0f} MB")
    print(f"  load attempts {load:.2f} s + build and write {write:.2f} s = {load + write:.2f} s "
          f"({count / (load + write):,.0f} statements/s)")
    store.close()
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
