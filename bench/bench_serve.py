"""How quickly a coach in a browser gets an answer from `iwp-trainer serve`, measured in Debian's
headless Chromium (the same flow as tests/test_serve_browser.py), on the shipped kb/.

Figures, each the median of RUNS page loads (a fresh `serve` and browser profile each; the index
cold in the first run of each kind, built beforehand for the warm ones):
- page load (the page's `load` event, Selenium's `get` returning);
- page load to the Ask screen (the app process started, its first screen drawn in xterm.js);
- Enter to the first reply on screen (the closest question with its source);
- page load to the first reply, typing included (the figure issue 10 asks for);
- memory (RSS) of one tab's app process, and of `serve` itself.

Usage: ``.venv/bin/python bench/bench_serve.py [RUNS]`` (needs chromium and chromium-driver).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from browser_driver import (  # noqa: E402  (shared with the browser test)
    ASK_TEXT,
    QUESTION,
    SOURCE_TEXT,
    Served,
    start_browser,
    type_into_terminal,
    wait_for_text,
)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_run(work: Path) -> dict[str, float]:
    served = Served(work, token="bench-token-0123456789")
    try:
        driver = start_browser(work / f"profile-{time.monotonic_ns()}")
        try:
            started = time.perf_counter()
            driver.get(served.url)
            loaded = time.perf_counter()
            wait_for_text(driver, ASK_TEXT, timeout=120, poll=0.01)
            ready = time.perf_counter()
            type_into_terminal(driver, QUESTION)
            typed = time.perf_counter()
            wait_for_text(driver, "Did you mean", SOURCE_TEXT, timeout=120, poll=0.01)
            first = time.perf_counter()
            apps = served.app_processes()
            return {
                "page load": loaded - started,
                "page load to Ask screen": ready - started,
                "Enter to first reply": first - typed,
                "page load to first reply": first - started,
                "tab app RSS MB": rss_mb(apps[0]) if apps else float("nan"),
                "serve RSS MB": rss_mb(served.process.pid),
            }
        finally:
            driver.quit()
    finally:
        served.stop()


def main(argv: list[str]) -> int:
    runs = int(argv[0]) if argv else 3
    with tempfile.TemporaryDirectory(prefix="iwp-bench-serve-") as tmp:
        for kind in ("cold index", "warm index"):
            work = Path(tmp) / kind.replace(" ", "-")
            work.mkdir()
            if kind == "warm index":
                subprocess.run([sys.executable, "-m", "iwp_trainer", "--index", str(work / "index"), "index"],
                               check=True, capture_output=True)
            results = [one_run(work) for _ in range(1 if kind == "cold index" else runs)]
            print(f"{kind} ({len(results)} run{'s' if len(results) > 1 else ''}, median):")
            for key in results[0]:
                value = statistics.median(r[key] for r in results)
                unit = "" if key.endswith("MB") else " s"
                print(f"  {key:28} {value:8.2f}{unit}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
