"""``iwp-trainer index [--rebuild]``: build the search index now (it is otherwise built on demand).

Shows a progress bar on stderr and prints how long it took. Without ``--rebuild`` an index that
is already up to date with ``kb/`` is kept.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Callable

EXIT_OK, EXIT_ERROR = 0, 1
BAR_WIDTH = 30


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "index",
        help="build the knowledge-base search index",
        description="Build the search index for the knowledge base (it is rebuilt automatically "
                    "when kb/ changes).",
    )
    parser.add_argument("--rebuild", action="store_true",
                        help="rebuild even when the index is up to date")
    parser.set_defaults(func=run)


def progress_bar(stream: Any) -> tuple[Callable[[int, int], None], Callable[[], bool]]:
    """A ``progress(done, total)`` drawing ``[#####     ] 12/40`` on ``stream``, and a 'was it called'."""
    state = {"called": False}

    def progress(done: int, total: int) -> None:
        state["called"] = True
        filled = BAR_WIDTH if total <= 0 else int(BAR_WIDTH * done / total)
        stream.write(f"\rIndexing [{'#' * filled}{' ' * (BAR_WIDTH - filled)}] {done}/{total}")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return progress, lambda: state["called"]


def run(args: argparse.Namespace) -> int:
    from iwp_trainer.answer import AskError, open_answerer
    from iwp_trainer.diagnostics import print_diagnostics

    progress, built = progress_bar(sys.stderr)
    start = time.perf_counter()
    try:
        answerer = open_answerer(args.kb, args.index, progress=progress, rebuild=args.rebuild)
    except AskError as exc:
        sys.stderr.write(f"iwp-trainer index: error: {exc}\n")
        return EXIT_ERROR
    elapsed = time.perf_counter() - start
    kb = answerer.kb
    answerer.close()
    if kb.diagnostics:
        sys.stderr.write(f"iwp-trainer index: warning: {len(kb.diagnostics)} problem(s) in the knowledge "
                         f"base; entries with errors are not indexed (one whose only problem is a control "
                         f"character is, with a placeholder for it):\n")
        print_diagnostics(kb.diagnostics, sys.stderr)
    verb = "Indexed" if built() else "Index already up to date with"
    sys.stdout.write(f"{verb} {len(kb.entries)} entries in {elapsed:.2f} s ({args.index})\n")
    return EXIT_OK
