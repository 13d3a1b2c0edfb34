"""How long Browse takes to show a huge entry, and how long the app was busy before it could handle
the next key (issue 13, item 17: a 900 KB entry or a 160 KB single line used to freeze it ~10 s).

In-process (Pilot, no terminal): each figure is the time from asking Browse to show the entry until
the app has drawn it and is idle again, median of RUNS. For comparison, the same bodies rendered
whole in one Markdown widget, as Browse did before entries were paged.

Usage: ``.venv/bin/python bench/bench_big_entry.py [RUNS]``
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from iwp_trainer.tui.app import IwpApp  # noqa: E402
from iwp_trainer.tui.screens.browse import BrowseScreen  # noqa: E402

PARAGRAPH = ("The claimant should attend fortnightly or bi-monthly interviews with their work coach. " * 5
             + "\n\n")
BODIES = {
    "normal (2 KB)": PARAGRAPH * 4,
    "900 KB entry": PARAGRAPH * (900_000 // len(PARAGRAPH)),
    "160 KB single line": "word " * 32_000,
}


def write_kb(folder: Path) -> None:
    shutil.copytree(ROOT / "tests" / "fixtures" / "tui" / "kb", folder)
    for n, body in enumerate(BODIES.values()):
        (folder / f"big-{n}.md").write_text(
            f"---\nid: big-{n}\nquestion: Big entry {n}?\nsource:\n  document: IWP trial FAQ\n"
            f"  section: \"section 9: Long\"\n---\n{body}", encoding="utf-8")


async def browse_times(work: Path, runs: int) -> dict[str, float]:
    app = IwpApp(kb_dir=work / "kb", scenarios_dir=ROOT / "tests" / "fixtures" / "tui" / "scenarios",
                 index_dir=work / "index", db_path=work / "progress.sqlite3", learner="bench")
    out: dict[str, list[float]] = {name: [] for name in BODIES}
    async with app.run_test(size=(120, 40)) as pilot:
        while app.library_revision == 0:
            await pilot.pause(0.05)
        await pilot.press("f3")
        while not isinstance(app.screen, BrowseScreen):
            await pilot.pause(0.02)
        await pilot.pause()
        for _ in range(runs):
            for n, name in enumerate(BODIES):
                app.screen.show_entry("travel-costs-refund")
                await pilot.pause()
                started = time.perf_counter()
                app.screen.show_entry(f"big-{n}")
                await pilot.pause()
                await app.animator.wait_until_complete()
                await pilot.pause()
                out[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in out.items()}


class Whole(App[None]):
    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown("", id="body")


async def whole_times(runs: int) -> dict[str, float]:
    out: dict[str, list[float]] = {name: [] for name in BODIES}
    for _ in range(runs):
        for name, body in BODIES.items():
            app = Whole()
            async with app.run_test(size=(120, 40)) as pilot:
                started = time.perf_counter()
                await app.query_one(Markdown).update(body)
                await pilot.pause()
                out[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in out.items()}


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_kb(work / "kb")
        paged = asyncio.run(browse_times(work, runs))
    whole = asyncio.run(whole_times(1))
    print(f"Browse: time to show an entry and be idle again, median of {runs} (seconds)")
    for name in BODIES:
        print(f"  {name:<20} paged (now) {paged[name]:6.2f}   whole Markdown (before) {whole[name]:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
