"""``export xapi --lrs`` against a real Ralph LRS on 127.0.0.1 (started as the tests start it).

Prints, for a generated database: the first push (all new), the same push again (all already
there), and a ``--since`` push after a few more attempts: statements sent, new, already there,
requests and seconds; then a read-back count through Ralph's GET API (no duplicates).

Usage: ``.venv/bin/python bench/bench_lrs.py [--attempts N] [--decisions N]`` (default 300 x 6).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from iwp_trainer.cli import main as cli  # noqa: E402
from iwp_trainer.store import ProgressStore  # noqa: E402
from ralph_lrs import PASSWORD, USER, start_ralph  # noqa: E402

SUMMARY = re.compile(r"Sent ([\d,]+) statements .* in ([\d,]+) requests \(([\d.]+) s\): ([\d,]+) new, "
                     r"([\d,]+) already there")


def fill(path: Path, start: datetime, attempts: int, decisions: int, offset: int = 0) -> None:
    clock_now = [start]

    def clock() -> datetime:
        clock_now[0] += timedelta(seconds=1)
        return clock_now[0]

    store = ProgressStore.open(path, clock=clock)
    try:
        for n in range(offset, offset + attempts):
            attempt = store.start_attempt(f"coach-{n % 50:02d}", f"s{n % 12}", f"Scenario {n % 12}", "a" * 64,
                                          "assessment", n, {"discretion": 2 * decisions})
            for seq in range(1, decisions + 1):
                store.record_decision(attempt, seq, f"n{seq}", f"c{seq % 3}", f"Choice {seq}",
                                      {"discretion": 2 if seq % 3 else 0}, bool(seq % 3), False, ["faq-1"])
            store.finish_attempt(attempt, n % 4 != 0, "end", {"discretion": (decisions, 2 * decisions)})
    finally:
        store.close()


def push(db: Path, url: str, *extra: str) -> tuple[str, float]:
    out = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = cli(["--db", str(db), "export", "xapi", "--lrs", url, *extra])
    wall = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"push failed with exit {code}: {out.getvalue()}")
    return out.getvalue().strip(), wall


def report(label: str, line: str, wall: float) -> None:
    match = SUMMARY.search(line)
    if not match:
        print(f"{label:<28} {line} (wall {wall:.2f} s)")
        return
    sent, requests, _, new, already = match.groups()
    print(f"{label:<28} sent {sent:>6}  new {new:>6}  already there {already:>6}  requests {requests:>4}  "
          f"wall {wall:6.2f} s")


def run(attempts: int, decisions: int) -> None:
    with tempfile.TemporaryDirectory(prefix="iwp-bench-lrs-") as tmp:
        folder = Path(tmp)
        os.environ.update({"IWP_TRAINER_LRS_USER": USER, "IWP_TRAINER_LRS_PASSWORD": PASSWORD,
                           "IWP_TRAINER_LRS_STATE": str(folder / "lrs-pushes.json"),
                           "IWP_TRAINER_LRS_CONFIG": str(folder / "lrs.toml")})
        db = folder / "p.sqlite3"
        start = datetime.now(timezone.utc) - timedelta(days=2)
        fill(db, start, attempts, decisions)
        runner = start_ralph(folder / "ralph")
        ralph = next(runner)
        try:
            print(f"Ralph 5.1.0 (fs back end) on 127.0.0.1 ready in {ralph.started_in:.1f} s; "
                  f"{attempts} attempts x {decisions} decisions")
            report("first push", *push(db, ralph.url))
            report("same push again", *push(db, ralph.url))
            report("--since, nothing new", *push(db, ralph.url, "--since"))
            fill(db, start + timedelta(days=1), 10, decisions, offset=attempts)
            report("--since, 10 attempts later", *push(db, ralph.url, "--since"))
            held = ralph.statements(limit="500")
            ids = {s["id"] for s in held}
            print(f"{'read back (GET, paged)':<28} {len(held)} statements, {len(ids)} distinct ids")
        finally:
            with contextlib.suppress(StopIteration):
                next(runner)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=300)
    parser.add_argument("--decisions", type=int, default=6)
    args = parser.parse_args()
    run(args.attempts, args.decisions)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
