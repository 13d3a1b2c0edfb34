"""How quickly the app is usable, measured in a real terminal (tmux) on the shipped kb/ and scenarios/.

Figures, each the median of several runs (a fresh index folder and database per cold run):
- launch to the Ask screen, cold (the index is built in the background) and warm (index on disk);
- Enter to the first answer on screen (warm), and the time until the index is ready when cold;
- F-key to the screen on view, first visit (the screen is built) and later visits;
- in-process (Pilot, no terminal, includes Pilot's own waits): screen switches and a scenario played.

Usage: ``.venv/bin/python bench/bench_tui.py [RUNS]`` (needs tmux; prints what it skips).
"""

from __future__ import annotations

import asyncio
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "tui"))
from tmux_driver import ENTRY, close, tmux, wait_for_text  # noqa: E402  (shared with the tmux test)
ASK_TEXT = "Ask a question about the IWP trial"
QUESTION = "how long does a sanction last"
ANSWER_TEXT = "Source: IWP trial FAQ, section 6: Conditionality and Sanctions"


def wait_for(socket: str, text: str, timeout: float = 30.0) -> float:
    """The moment ``text`` appeared on screen (perf_counter seconds)."""
    wait_for_text(socket, text, timeout, poll=0.01)
    return time.perf_counter()


def one_run(work: Path, warm: bool) -> tuple[float, float]:
    """(launch to Ask screen, Enter to answer) in seconds."""
    socket = f"iwp-bench-{time.monotonic_ns()}"
    index = work / "index"
    if not warm:
        shutil.rmtree(index, ignore_errors=True)
    env = (f"env -u COLUMNS -u LINES IWP_TRAINER_INDEX={shlex.quote(str(index))} "
           f"IWP_TRAINER_DB={shlex.quote(str(work / 'progress.sqlite3'))} "
           f"IWP_TRAINER_CONFIG={shlex.quote(str(work / 'settings.json'))}")
    command = f"{env} {shlex.quote(str(ENTRY))} --learner bench"
    started = time.perf_counter()
    tmux(socket, "new-session", "-d", "-s", "app", "-x", "100", "-y", "30", command)
    try:
        shown = wait_for(socket, ASK_TEXT) - started
        tmux(socket, "send-keys", "-t", "app", "-l", QUESTION)
        time.sleep(0.2)
        entered = time.perf_counter()
        tmux(socket, "send-keys", "-t", "app", "Enter")
        answered = wait_for(socket, ANSWER_TEXT) - entered
        tmux(socket, "send-keys", "-t", "app", "C-q")
        time.sleep(0.3)
    finally:
        close(socket)
    return shown, answered


SCREEN_MARKS = {"F3": "▼ IWP trial FAQ", "F4": "Your best", "F5": "Progress for", "F6": "roblems", "F2": ASK_TEXT}


def switch_times(work: Path, rounds: int = 3) -> tuple[list[float], list[float]]:
    """Seconds from an F-key to the screen's text in the pane: first visits, then later visits."""
    socket = f"iwp-bench-{time.monotonic_ns()}"
    env = (f"env -u COLUMNS -u LINES IWP_TRAINER_INDEX={shlex.quote(str(work / 'index'))} "
           f"IWP_TRAINER_DB={shlex.quote(str(work / 'progress.sqlite3'))} "
           f"IWP_TRAINER_CONFIG={shlex.quote(str(work / 'settings.json'))}")
    tmux(socket, "new-session", "-d", "-s", "app", "-x", "100", "-y", "30",
         f"{env} {shlex.quote(str(ENTRY))} --learner bench")
    first: list[float] = []
    later: list[float] = []
    try:
        wait_for(socket, ASK_TEXT)
        time.sleep(1.0)  # let the index open
        for n in range(rounds):
            for key, text in SCREEN_MARKS.items():
                start = time.perf_counter()
                tmux(socket, "send-keys", "-t", "app", key)
                (first if n == 0 and key != "F2" else later).append(wait_for(socket, text) - start)
    finally:
        close(socket)
    return first, later


async def in_process() -> tuple[float, float]:
    """(mean F-key screen switch, one scenario played start to result) in seconds, via Pilot."""
    from iwp_trainer.tui.app import IwpApp
    from iwp_trainer.tui.screens.practise import PlayScreen, ResultScreen

    with tempfile.TemporaryDirectory() as tmp:
        app = IwpApp(kb_dir=ROOT / "kb", scenarios_dir=ROOT / "scenarios", index_dir=Path(tmp) / "index",
                     db_path=Path(tmp) / "db.sqlite3", learner="bench")
        async with app.run_test(size=(120, 40)) as pilot:
            while app.answerer is None:
                await pilot.pause(0.05)
            keys = ["f3", "f4", "f5", "f6", "f2"] * 4
            start = time.perf_counter()
            for key in keys:
                await pilot.press(key)
                await pilot.pause()
            switch = (time.perf_counter() - start) / len(keys)
            await pilot.press("f4")
            await pilot.pause()
            start = time.perf_counter()
            await pilot.press("enter")
            while not isinstance(app.screen, PlayScreen):
                await pilot.pause(0.01)
            while not isinstance(app.screen, ResultScreen):
                await pilot.press("1")
                await pilot.pause()
            played = time.perf_counter() - start
    return switch, played


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    if shutil.which("tmux") is None or not ENTRY.exists():
        print("tmux or the iwp-trainer script is missing: terminal figures skipped")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            cold = [one_run(work, warm=False) for _ in range(runs)]
            warm = [one_run(work, warm=True) for _ in range(runs)]
            first, later = switch_times(work)
        med = statistics.median
        print(f"runs: {runs} each, 100x30 tmux, shipped kb/ and scenarios/")
        print(f"launch to Ask screen, cold index:  median {med(s for s, _ in cold) * 1000:6.0f} ms  "
              f"(max {max(s for s, _ in cold) * 1000:.0f} ms)")
        print(f"launch to Ask screen, warm index:  median {med(s for s, _ in warm) * 1000:6.0f} ms  "
              f"(max {max(s for s, _ in warm) * 1000:.0f} ms)")
        print(f"Enter to answer on screen, warm:   median {med(a for _, a in warm) * 1000:6.0f} ms  "
              f"(includes tmux polling, 10 ms)")
        print(f"Enter to answer on screen, cold:   median {med(a for _, a in cold) * 1000:6.0f} ms  "
              f"(question typed right after the screen shows; waits for the index)")
        print(f"F-key to screen shown, first visit: median {med(first) * 1000:6.0f} ms  (max {max(first) * 1000:.0f} ms)")
        print(f"F-key to screen shown, later:       median {med(later) * 1000:6.0f} ms  (max {max(later) * 1000:.0f} ms)")
    switch, played = asyncio.run(in_process())
    print(f"in-process screen switch (Pilot):  mean {switch * 1000:6.0f} ms")
    print(f"in-process scenario played (1s):   {played * 1000:6.0f} ms start to result")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
