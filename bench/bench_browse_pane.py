"""How long Browse takes from a highlight in the tree to the entry's pane being on show (issue 9:
the pane is built whole in a worker and swapped in, and the learner's results are no longer read
from the database on every highlight).

In-process (Pilot, no terminal), on the fixture KB plus a normal, a page-long and a 900 KB entry:

* one highlight: the cursor moves onto the entry; "in place" is when the whole pane (title, body,
  citing scenarios) has been swapped in, "idle" when the app has also drawn it and has nothing
  left to do. Median of RUNS.
* held key: ten highlights 30 ms apart (a held arrow key); the time from the last one until the
  pane shows the entry the cursor stopped on, and how many panes were actually built on the way.
* the progress read each highlight used to make (``best_by_scenario``) for a learner with
  ATTEMPTS finished attempts, against the cached read Browse makes now.

Usage: ``.venv/bin/python bench/bench_browse_pane.py [RUNS] [ATTEMPTS]``
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from iwp_trainer.tui import services  # noqa: E402
from iwp_trainer.tui.app import IwpApp  # noqa: E402
from iwp_trainer.tui.screens import browse  # noqa: E402
from iwp_trainer.tui.screens.browse import BrowseScreen  # noqa: E402

PARAGRAPH = ("The claimant should attend fortnightly or bi-monthly interviews with their work coach. " * 5
             + "\n\n")
BODIES = {
    "normal (2 KB)": PARAGRAPH * 4,
    "one page (7.5 KB)": PARAGRAPH * 16,
    "900 KB (paged)": PARAGRAPH * (900_000 // len(PARAGRAPH)),
}
FIXTURES = ROOT / "tests" / "fixtures" / "tui"


def write_kb(folder: Path) -> None:
    shutil.copytree(FIXTURES / "kb", folder)
    for n, body in enumerate(BODIES.values()):
        (folder / f"big-{n}.md").write_text(
            f"---\nid: big-{n}\nquestion: Big entry {n}?\nsource:\n  document: IWP trial FAQ\n"
            f"  section: \"section 9: Long\"\n---\n{body}", encoding="utf-8")


def node_for(screen: BrowseScreen, entry_id: str):
    return next(n for n in browse._walk(screen.query_one("#kb-tree").root) if n.data == ("entry", entry_id))


async def until(pilot, condition, timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise RuntimeError("the pane never showed the entry")
        await asyncio.sleep(0.002)


def shows(screen: BrowseScreen, entry_id: str) -> bool:
    return screen.pane.view.key == ("entry", entry_id) and screen.pane.display


async def run(work: Path, runs: int, attempts: int) -> tuple[dict[str, tuple[float, float]],
                                                             list[tuple[float, int]], tuple[float, float]]:
    app = IwpApp(kb_dir=work / "kb", scenarios_dir=FIXTURES / "scenarios", index_dir=work / "index",
                 db_path=work / "progress.sqlite3", learner="bench")
    single: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in BODIES}
    held: list[tuple[float, int]] = []
    built = [0]

    def count_built(self) -> None:  # a pane mounted (built), whether or not it was then shown
        built[0] += 1

    browse.EntryPane.on_mount = count_built  # type: ignore[attr-defined]
    async with app.run_test(size=(120, 40)) as pilot:
        while app.library_revision == 0:
            await pilot.pause(0.05)
        seed_progress(app.store, attempts)
        await pilot.press("f3")
        while not isinstance(app.screen, BrowseScreen):
            await pilot.pause(0.02)
        await pilot.pause()
        screen = app.screen
        tree = screen.query_one("#kb-tree")
        for _ in range(runs):
            for n, name in enumerate(BODIES):
                tree.move_cursor(node_for(screen, "travel-costs-refund"))
                await until(pilot, lambda: shows(screen, "travel-costs-refund"))
                await pilot.pause(0.2)  # not a quick key: the next highlight renders at once
                started = time.perf_counter()
                tree.move_cursor(node_for(screen, f"big-{n}"))
                await until(pilot, lambda: shows(screen, f"big-{n}"))
                in_place = time.perf_counter() - started
                await pilot.pause()
                await app.animator.wait_until_complete()
                single[name][0].append(in_place)
                single[name][1].append(time.perf_counter() - started)
            # A held arrow key: ten downs 30 ms apart from the first entry of the tree.
            first = next(n for n in browse._walk(tree.root) if n.data and n.data[0] == "entry")
            tree.move_cursor(first)
            await until(pilot, lambda: shows(screen, first.data[1]))
            await pilot.pause(0.2)
            before = built[0]
            for _ in range(10):
                tree.action_cursor_down()
                await asyncio.sleep(0.03)
            last = time.perf_counter()
            await pilot.pause(0)
            target = tree.cursor_node.data
            if target[0] == "entry":
                await until(pilot, lambda: shows(screen, target[1]))
            else:
                await until(pilot, lambda: screen.pane.view.key == target)
            held.append((time.perf_counter() - last, built[0] - before))
        reads = (median_call(lambda: services.best_by_scenario(app.store, "bench")),  # each highlight, before
                 median_call(screen._passed_ids))  # each highlight now: the set read once this visit
    return {name: (statistics.median(a), statistics.median(b)) for name, (a, b) in single.items()}, held, reads


def seed_progress(store, attempts: int) -> None:
    """``attempts`` finished attempts of six decisions each, over 40 scenarios, for "bench"."""
    for n in range(attempts):
        attempt = store.start_attempt("bench", f"s{n % 40}", "S", "0" * 64, "practice", n, {"d": 4})
        for seq in range(6):
            store.record_decision(attempt, seq, f"n{seq}", "c", "Choice", {"d": 1}, True, False, ["e"])
        store.finish_attempt(attempt, n % 3 != 0, "end", {"d": (3, 4)})


def median_call(call, times: int = 5) -> float:
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        spent.append(time.perf_counter() - started)
    return statistics.median(spent)


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    attempts = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_kb(work / "kb")
        single, held, (before, now) = asyncio.run(run(work, runs, attempts))
    print(f"Browse: from a highlight to the entry's pane on show, median of {runs} (milliseconds)")
    for name, (in_place, idle) in single.items():
        print(f"  {name:<20} in place {in_place * 1000:7.1f}   drawn and idle {idle * 1000:7.1f}")
    waits = [w for w, _ in held]
    builds = [b for _, b in held]
    print(f"  held key (10 highlights 30 ms apart): last highlight to its pane "
          f"{statistics.median(waits) * 1000:.1f} ms median (max {max(waits) * 1000:.1f}); "
          f"panes built on the way {statistics.median(builds):g} median (of 10)")
    print(f"Progress read per highlight for a learner with {attempts} finished attempts: "
          f"before {before * 1000:.1f} ms (best_by_scenario each time), now {now * 1e6:.1f} µs (read once per visit)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
