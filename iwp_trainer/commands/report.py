"""``iwp-trainer report learners|scenarios|gaps``: trainers' reports from the progress database.

Aligned text tables by default, ``--csv`` or ``--json`` for other tools. ``--learner``,
``--scenario`` and ``--since YYYY-MM-DD`` narrow the report. Exit 0 on success (an empty database
gives a friendly message, not an empty table), 1 when the database cannot be read, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from iwp_trainer.reports import REPORTS, ReportFilter, build_report, render_csv, render_json, render_text
from iwp_trainer.store import StoreError, open_existing

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2

# One line on each report, for `report` with no argument and for --help.
REPORT_HELP = {
    "learners": "per learner: attempts, passes, average share of the best score per dimension, last activity",
    "scenarios": "per scenario: attempts, pass rate, average per dimension, the decisions most often got wrong",
    "gaps": "Ask questions with no confident answer or marked not helpful, most frequent first",
}


def which_reports() -> str:
    """The reports there are, one line on each."""
    width = max(len(name) for name in REPORTS)
    lines = ["which report? One of:"]
    lines += [f"  {name.ljust(width)}  {REPORT_HELP.get(name, '')}".rstrip() for name in REPORTS]
    lines.append("for example: iwp-trainer report gaps --since 2026-01-01")
    return "\n".join(lines)


def parse_date(value: str) -> datetime:
    """``YYYY-MM-DD`` as the start of that day in UTC (an argparse type: bad input exits 2)."""
    try:
        day = datetime.strptime(value.strip(), "%Y-%m-%d")
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid date {value!r}: use YYYY-MM-DD, e.g. 2026-03-31") from None
    return day.replace(tzinfo=timezone.utc)


def add_filter_options(parser: argparse.ArgumentParser, since_help: str | None = None,
                       since_type: Any = parse_date, since_const: Any = None) -> None:
    """The filters shared by ``report`` and ``export`` (whose ``--since`` may also stand alone)."""
    parser.add_argument("--learner", dest="filter_learner", default=None, metavar="NAME",
                        help="only this learner (name or staff id, any case)")
    parser.add_argument("--scenario", dest="filter_scenario", default=None, metavar="ID",
                        help="only this scenario id")
    extra = {} if since_const is None else {"nargs": "?", "const": since_const}
    parser.add_argument("--since", type=since_type, default=None, metavar="DATE", **extra,
                        help=since_help or "only attempts started (questions asked) on or after DATE, "
                                           "YYYY-MM-DD (UTC)")


def report_filter(args: argparse.Namespace) -> ReportFilter:
    # A global `--learner NAME` before the command narrows the report too.
    learner = getattr(args, "filter_learner", None) or getattr(args, "learner", None)
    return ReportFilter(learner=learner, scenario=getattr(args, "filter_scenario", None),
                        since=getattr(args, "since", None))


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="trainers' reports: learners, scenarios, knowledge-base gaps",
        description="Report on recorded progress. learners: attempts, passes, average share of the best "
                    "score per dimension and last activity per learner. scenarios: attempts, pass rate, "
                    "average per dimension and the decisions most often got wrong per scenario. gaps: "
                    "Ask questions with no confident answer or marked not helpful, most frequent first. "
                    "With --csv, the scenarios report's second table (decisions most often got wrong) "
                    "follows the first after one blank line.",
    )
    parser.add_argument("report", nargs="?", choices=REPORTS, default=None,
                        help="; ".join(f"{name}: {text}" for name, text in REPORT_HELP.items()))
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--csv", action="store_true", help="CSV instead of a table")
    output.add_argument("--json", action="store_true", help="JSON instead of a table")
    add_filter_options(parser)
    parser.set_defaults(func=run)


def _citations(kb_dir: Path | None) -> dict[str, str]:
    """KB entry id -> "IWP trial FAQ, section N: Title", to show beside the ids decisions cited."""
    if kb_dir is None:
        return {}
    try:
        from iwp_trainer.kb import load_kb

        return {entry_id: entry.citation for entry_id, entry in load_kb(Path(kb_dir)).entries.items()}
    except Exception:  # the report still works, with bare entry ids
        return {}


def run(args: argparse.Namespace) -> int:
    if args.report is None:
        print(which_reports(), file=sys.stderr)
        return EXIT_USAGE
    f = report_filter(args)
    if args.report == "gaps" and f.scenario:
        print("iwp-trainer report: error: --scenario does not apply to the gaps report", file=sys.stderr)
        return EXIT_USAGE
    try:
        store = open_existing(args.db)
        if store is None:
            report = None
        else:
            try:
                citations = _citations(getattr(args, "kb", None)) if args.report == "scenarios" else None
                report = build_report(args.report, store, f, citations)
            finally:
                store.close()
    except StoreError as exc:
        print(f"iwp-trainer report: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if report is None:
        message = ("No questions recorded yet" if args.report == "gaps" else "No attempts recorded yet") + \
            f" (there is no progress database at {args.db})."
        if args.json or args.csv:
            print(message, file=sys.stderr)
            if args.json:
                sys.stdout.write('{"report": "%s", "rows": []}\n' % args.report)
        else:
            print(message)
        return EXIT_OK
    if args.json:
        sys.stdout.write(render_json(report))
    elif args.csv:
        sys.stdout.write(render_csv(report))
    else:
        sys.stdout.write(render_text(report))
    if report.empty and (args.json or args.csv):
        print(report.empty_message, file=sys.stderr)
    return EXIT_OK
