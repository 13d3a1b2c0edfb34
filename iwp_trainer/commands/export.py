"""``iwp-trainer export xapi [--out FILE]``: recorded attempts as xAPI 1.0.3 statements (JSON lines).

Written to FILE atomically (or to stdout). Statement ids are stable, so importing a later export
into the same LRS adds only what is new. ``--learner``, ``--scenario`` and ``--since`` narrow the
export. Exit 0 on success, 1 when the database cannot be read or FILE cannot be written, 2 on bad
usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from iwp_trainer.commands.report import add_filter_options, report_filter
from iwp_trainer.store import StoreError, open_existing
from iwp_trainer.xapi import (
    DEFAULT_ACTIVITY_BASE,
    DEFAULT_HOME_PAGE,
    statements,
    to_json_lines,
    write_json_lines_atomic,
)

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def _url(value: str) -> str:
    if not value.startswith(("http://", "https://")) or len(value) <= len("https://"):
        raise argparse.ArgumentTypeError(f"{value!r} is not an http(s) URL")
    return value


def _out_file(value: str) -> Path | None:
    """``--out FILE``; ``-`` is standard output, as usual."""
    if not value.strip():
        raise argparse.ArgumentTypeError("give a file name (or - for standard output)")
    return None if value == "-" else Path(value)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export recorded attempts (xAPI statements for a Learning Record Store)",
        description="Export recorded attempts as xAPI 1.0.3 statements, one JSON object per line: "
                    "attempted, answered (one per decision), completed and passed/failed.",
    )
    parser.add_argument("format", choices=("xapi",), help="export format")
    parser.add_argument("--out", type=_out_file, default=None, metavar="FILE",
                        help="write to FILE (atomically) instead of stdout (- is stdout)")
    parser.add_argument("--home-page", type=_url, default=DEFAULT_HOME_PAGE, metavar="URL",
                        help="the learner accounts' home page, e.g. your organisation's LMS "
                             f"(default: {DEFAULT_HOME_PAGE})")
    parser.add_argument("--activity-base", type=_url, default=DEFAULT_ACTIVITY_BASE, metavar="IRI",
                        help=f"prefix for activity and extension IRIs (default: {DEFAULT_ACTIVITY_BASE})")
    add_filter_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    f = report_filter(args)
    if args.out is not None and args.out.is_dir():
        print(f"iwp-trainer export: error: {args.out} is a folder, not a file (give a file name, "
              f"e.g. {args.out / 'statements.jsonl'})", file=sys.stderr)
        return EXIT_ERROR
    try:
        store = open_existing(Path(args.db))
        if store is None:
            print(f"No attempts recorded yet (there is no progress database at {args.db}); nothing exported.",
                  file=sys.stderr)
            return EXIT_OK
        try:
            attempts = store.attempts(learner=f.learner, scenario_id=f.scenario, since=f.since)
        finally:
            store.close()
    except StoreError as exc:
        print(f"iwp-trainer export: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if not attempts:
        scope = f" ({f.describe()})" if f.describe() else ""
        print(f"No attempts recorded yet{scope}; nothing exported.", file=sys.stderr)
        return EXIT_OK
    lines = to_json_lines(statements(attempts, args.home_page, args.activity_base))
    if args.out is None:
        for line in lines:
            sys.stdout.write(line)
        return EXIT_OK
    try:
        count = write_json_lines_atomic(args.out, lines)
    except OSError as exc:
        print(f"iwp-trainer export: error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    print(f"Wrote {count} xAPI statements for {len(attempts)} attempts to {args.out}.", file=sys.stderr)
    return EXIT_OK
