"""Kill-and-lock fault run for the progress store: SIGKILLs and a held write lock during play.

Run: .venv/bin/python bench/fault_store.py [--seconds 40] [--writers 3] [--db PATH]

Several writer processes play the shipped scenarios as the app does: the engine picks the
choices, each decision is saved with ``services.save_progress`` (retried while the file is
locked; the decision that reaches an ending carries the outcome in the same transaction), and a
save that still fails leaves the writer at that decision to try again, never past it. A writer
that starts resumes its learner's unfinished attempts first (replaying the recorded choices, and
finishing one left at its ending). Meanwhile the parent SIGKILLs a random writer every so often
(and starts a new one), and another connection holds the write lock for up to several seconds.

Each writer prints a line after every save the store acknowledged. At the end, with the writers
stopped, the database must hold every acknowledged decision (lost = 0), every attempt's decisions
must be numbered 1..n with no gap and replay through the engine, and, after one last resume
pass, no attempt may be left at its ending unfinished (stuck = 0). It prints the counts and exits 1
if any of those fails. Bounded by --seconds.
"""

from __future__ import annotations

import argparse
import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# --- the writer (a child process) ------------------------------------------------------------------


def writer(db: Path, learner: str, seed: int, busy_timeout: float) -> int:
    from iwp_trainer.engine import Playthrough
    from iwp_trainer.kb import load_kb
    from iwp_trainer.scenario_loader import load_scenarios
    from iwp_trainer.store import Outcome, ProgressStore, StoreError
    from iwp_trainer.tui.services import save_progress, scores_dict

    kb = load_kb(ROOT / "kb")
    scenarios = load_scenarios(ROOT / "scenarios", set(kb.entries), run_tests=False).scenarios
    rng = random.Random(seed)
    store = ProgressStore.open(db, busy_timeout=busy_timeout)

    def say(*words: object) -> None:
        sys.stdout.write(" ".join(str(w) for w in words) + "\n")
        sys.stdout.flush()

    def save(attempt_id: int | None, **what: object) -> int:
        """Save until it goes through: a failed save keeps the writer at that decision."""
        while True:
            try:
                return save_progress(store, attempt_id, **what)
            except StoreError:
                say("failed")
                time.sleep(0.05)

    def play_on(scenario, play, attempt_id: int) -> None:
        while not play.finished:
            choice = rng.choice(play.choices)
            seq = len(play.decisions) + 1
            decision = play.choose(choice.id)
            record = {"seq": seq, "node_id": decision.node_id, "choice_id": decision.choice_id,
                      "choice_text": decision.choice_text, "points": decision.points,
                      "is_best": decision.is_best, "critical": decision.critical, "cites": list(decision.cites)}
            if play.finished:
                result = play.result()
                record["outcome"] = Outcome(result.passed, result.ending_node or "", scores_dict(result))
            save(attempt_id, decision=record)
            say("ack", attempt_id, seq, choice.id, "end" if play.finished else "")

    say("ready")
    # Resume what an earlier (killed) writer of this learner left, as the app offers to.
    for attempt in store.unfinished_attempts(learner):
        scenario = scenarios.get(attempt.scenario_id)
        if scenario is None:
            continue
        play = Playthrough(scenario, seed=attempt.seed)
        for choice_id in attempt.choice_ids:
            play.choose(choice_id)
        say("resumed", attempt.id, len(attempt.choice_ids))
        if play.finished:  # at its ending but not finished: finish it
            result = play.result()
            save(attempt.id, finish={"passed": result.passed, "ending_node": result.ending_node,
                                     "scores": scores_dict(result)})
            say("finished", attempt.id)
        else:
            play_on(scenario, play, attempt.id)
    if os.environ.get("FAULT_RESUME_ONLY"):
        return 0
    ids = sorted(scenarios)
    while True:
        scenario = scenarios[rng.choice(ids)]
        play = Playthrough(scenario, seed=rng.randrange(10**6))
        best = {d: s.best for d, s in play.result().scores.items()}
        attempt_id = save(None, start={"learner": learner, "scenario_id": scenario.id,
                                       "scenario_title": scenario.title, "scenario_sha256": scenario.sha256,
                                       "mode": "practice", "seed": play.seed, "best": best})
        say("started", attempt_id)
        play_on(scenario, play, attempt_id)


# --- the parent -----------------------------------------------------------------------------------------


class Writer:
    def __init__(self, db: Path, learner: str, seed: int, busy_timeout: float) -> None:
        self.learner = learner
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--child", str(db), learner, str(seed), str(busy_timeout)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.buffer = b""
        self.ready = False


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        db, learner, seed, busy = sys.argv[2:6]
        return writer(Path(db), learner, int(seed), float(busy))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0, help="how long to run (default 40)")
    parser.add_argument("--writers", type=int, default=3, help="writer processes at a time (default 3)")
    parser.add_argument("--kill-every", type=float, default=0.4, help="mean seconds between SIGKILLs")
    parser.add_argument("--lock-every", type=float, default=6.0, help="mean seconds between held locks")
    parser.add_argument("--lock-max", type=float, default=7.0, help="longest hold of the write lock (s)")
    parser.add_argument("--busy-timeout", type=float, default=1.0, help="writers' busy_timeout (s)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--db", type=Path, default=None, help="database file (default: a temporary one)")
    args = parser.parse_args()

    from iwp_trainer.engine import Playthrough
    from iwp_trainer.kb import load_kb
    from iwp_trainer.scenario_loader import load_scenarios
    from iwp_trainer.store import ProgressStore

    tmp = tempfile.TemporaryDirectory()
    db = args.db or Path(tmp.name) / "fault.sqlite3"
    ProgressStore.open(db).close()
    rng = random.Random(args.seed)
    acked: dict[tuple[int, int], str] = {}
    counts = {"kills": 0, "writers started": 0, "lock holds": 0, "lock seconds": 0.0, "saves failed": 0,
              "resumed": 0, "finished on resume": 0, "attempts started": 0}
    stop = threading.Event()

    def locker() -> None:
        conn = sqlite3.connect(db, isolation_level=None, timeout=30)
        while not stop.wait(rng.expovariate(1 / args.lock_every)):
            hold = rng.uniform(0.5, args.lock_max)
            conn.execute("BEGIN IMMEDIATE")
            counts["lock holds"] += 1
            stop.wait(hold)
            conn.execute("ROLLBACK")
            counts["lock seconds"] += hold
        conn.close()

    def read(w: Writer, final: bool = False) -> None:
        while True:
            ready, _, _ = select.select([w.proc.stdout], [], [], 0)
            if not ready and not final:
                return
            chunk = os.read(w.proc.stdout.fileno(), 65536)
            if not chunk:
                return
            w.buffer += chunk
            *lines, w.buffer = w.buffer.split(b"\n")
            for line in lines:
                words = line.decode().split()
                if words[0] == "ack":
                    acked[(int(words[1]), int(words[2]))] = words[3]
                elif words[0] == "failed":
                    counts["saves failed"] += 1
                elif words[0] == "resumed":
                    counts["resumed"] += 1
                elif words[0] == "finished":
                    counts["finished on resume"] += 1
                elif words[0] == "started":
                    counts["attempts started"] += 1
                elif words[0] == "ready":
                    w.ready = True

    def spawn(n: int) -> Writer:
        counts["writers started"] += 1
        return Writer(db, f"W{n}", rng.randrange(10**9), args.busy_timeout)

    print(f"Fault run: {args.writers} writers for {args.seconds:g} s, a SIGKILL every ~{args.kill_every:g} s, "
          f"the write lock held for up to {args.lock_max:g} s every ~{args.lock_every:g} s ...")
    writers = [spawn(n) for n in range(args.writers)]
    lock_thread = threading.Thread(target=locker, daemon=True)
    lock_thread.start()
    end = time.monotonic() + args.seconds
    next_kill = time.monotonic() + rng.expovariate(1 / args.kill_every)
    while time.monotonic() < end:
        for w in writers:
            read(w)
        playing = [n for n, w in enumerate(writers) if w.ready]  # kill during play, not while loading
        if time.monotonic() >= next_kill and playing:
            n = rng.choice(playing)
            victim = writers[n]
            if victim.proc.poll() is None:
                victim.proc.send_signal(signal.SIGKILL)
                counts["kills"] += 1
            victim.proc.wait()
            read(victim, final=True)
            writers[n] = spawn(n)
            next_kill = time.monotonic() + rng.expovariate(1 / args.kill_every)
        time.sleep(0.01)
    stop.set()
    lock_thread.join()
    for w in writers:
        w.proc.send_signal(signal.SIGKILL)
        counts["kills"] += 1
        w.proc.wait()
        read(w, final=True)

    # Every acknowledged decision is there; decisions are numbered 1..n; every path replays.
    conn = sqlite3.connect(db)
    present = {(a, s): c for a, s, c in conn.execute("SELECT attempt_id, seq, choice_id FROM decisions")}
    lost = [key for key, choice in acked.items() if present.get(key) != choice]
    conn.close()
    kb = load_kb(ROOT / "kb")
    scenarios = load_scenarios(ROOT / "scenarios", set(kb.entries), run_tests=False).scenarios
    store = ProgressStore.open(db)
    gaps = unplayable = 0
    for attempt in store.attempts():
        if [d.seq for d in attempt.decisions] != list(range(1, len(attempt.decisions) + 1)):
            gaps += 1
        try:
            play = Playthrough(scenarios[attempt.scenario_id], seed=attempt.seed)
            for choice_id in attempt.choice_ids:
                play.choose(choice_id)
        except (KeyError, ValueError):
            unplayable += 1
    store.close()
    # One last resume pass per learner (as the app would when the coach comes back), then no attempt
    # may be left at its ending unfinished.
    env = {**os.environ, "FAULT_RESUME_ONLY": "1"}
    for n in range(args.writers):
        subprocess.run([sys.executable, __file__, "--child", str(db), f"W{n}", "0", "5"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    store = ProgressStore.open(db)
    stuck = 0
    for attempt in store.attempts(status=("in_progress",)):
        play = Playthrough(scenarios[attempt.scenario_id], seed=attempt.seed)
        for choice_id in attempt.choice_ids:
            play.choose(choice_id)
        stuck += play.finished
    all_attempts = store.attempts()
    store.close()
    finished = sum(a.finished for a in all_attempts)

    print(f"  kills                      {counts['kills']}")
    print(f"  writers started            {counts['writers started']}")
    print(f"  write lock held            {counts['lock holds']} times, {counts['lock seconds']:.1f} s in all")
    print(f"  saves failed after retries {counts['saves failed']} (each stayed at its decision and tried again)")
    print(f"  attempts                   {len(all_attempts)} ({finished} finished; {counts['resumed']} resumed "
          f"after a kill, {counts['finished on resume']} of them finished on resume)")
    print(f"  decisions acknowledged     {len(acked)}")
    print(f"  decisions in the database  {len(present)}")
    print(f"  lost                       {len(lost)}")
    print(f"  numbering gaps             {gaps}")
    print(f"  paths that do not replay   {unplayable}")
    print(f"  stuck at an ending         {stuck}")
    tmp.cleanup()
    return 1 if lost or gaps or unplayable or stuck else 0


if __name__ == "__main__":
    raise SystemExit(main())
