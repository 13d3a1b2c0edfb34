"""``iwp-trainer export xapi [--out FILE | --lrs URL]``: recorded attempts as xAPI 1.0.3 statements.

Written as JSON lines to FILE atomically (or to stdout), or sent to a Learning Record Store with
``--lrs URL`` (see ``iwp_trainer.lrs``: Basic auth from the environment or lrs.toml, batches,
retries, and how many statements were new). Statement ids are stable, so a later export or push
to the same LRS adds only what is new. ``--learner``, ``--scenario`` and ``--since DATE`` narrow
the export; with ``--lrs``, ``--since`` alone sends only what was recorded since the last complete
push there. Exit 0 on success, 1 when the database cannot be read, FILE cannot be written or the
LRS refuses or fails, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any, TextIO

from iwp_trainer import lrs, paths
from iwp_trainer.commands.report import add_filter_options, parse_date, report_filter
from iwp_trainer.store import StoreError, open_existing
from iwp_trainer.xapi import (
    DEFAULT_ACTIVITY_BASE,
    DEFAULT_HOME_PAGE,
    StatementBuilder,
    statements,
    to_json_lines,
    write_json_lines_atomic,
)

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
SINCE_LAST = "last"  # --since with no date (or "last"): since the last complete push to the LRS


def _url(value: str) -> str:
    if not value.startswith(("http://", "https://")) or len(value) <= len("https://"):
        raise argparse.ArgumentTypeError(f"{value!r} is not an http(s) URL")
    return value


def _out_file(value: str) -> Path | None:
    """``--out FILE``; ``-`` is standard output, as usual."""
    if not value.strip():
        raise argparse.ArgumentTypeError("give a file name (or - for standard output)")
    return None if value == "-" else Path(value)


def _since(value: str) -> Any:
    """``--since DATE``, or ``--since last`` (what ``--since`` alone means)."""
    return SINCE_LAST if value.strip().lower() == SINCE_LAST else parse_date(value)


def _batch_size(value: str) -> int:
    try:
        size = int(value)
    except ValueError:
        size = 0
    if not 1 <= size <= 10_000:
        raise argparse.ArgumentTypeError(f"{value!r} is not a batch size: give a whole number from 1 to 10000")
    return size


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export recorded attempts (xAPI statements for a Learning Record Store)",
        description="Export recorded attempts as xAPI 1.0.3 statements, one JSON object per line: "
                    "attempted, answered (one per decision), completed and passed/failed.",
    )
    parser.add_argument("format", choices=("xapi",), help="export format")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--out", type=_out_file, default=None, metavar="FILE",
                       help="write to FILE (atomically) instead of stdout (- is stdout)")
    where.add_argument("--lrs", default=None, metavar="URL",
                       help="send the statements to this Learning Record Store's xAPI endpoint, e.g. "
                            f"https://lrs.example.org/xAPI/; user and password from {lrs.ENV_USER} and "
                            f"{lrs.ENV_PASSWORD} or from {paths.default_lrs_config_path()}")
    parser.add_argument("--batch-size", type=_batch_size, default=lrs.DEFAULT_BATCH, metavar="N",
                        help=f"with --lrs, statements per request (default: {lrs.DEFAULT_BATCH})")
    parser.add_argument("--home-page", type=_url, default=DEFAULT_HOME_PAGE, metavar="URL",
                        help="the learner accounts' home page, e.g. your organisation's LMS "
                             f"(default: {DEFAULT_HOME_PAGE})")
    parser.add_argument("--activity-base", type=_url, default=DEFAULT_ACTIVITY_BASE, metavar="IRI",
                        help=f"prefix for activity and extension IRIs (default: {DEFAULT_ACTIVITY_BASE})")
    add_filter_options(parser, since_type=_since, since_const=SINCE_LAST,
                       since_help="only attempts started on or after DATE, YYYY-MM-DD (UTC); with --lrs, "
                                  "--since alone (or --since last) sends only what was recorded since the "
                                  "last complete push to that LRS")
    parser.set_defaults(func=run)


def _error(message: str) -> None:
    print(f"iwp-trainer export: error: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    since_last = args.since == SINCE_LAST
    if since_last and args.lrs is None:
        _error("--since without a date needs --lrs URL (it means: since the last push to that LRS); "
               "to export from a date, give it: --since YYYY-MM-DD")
        return EXIT_USAGE
    f = report_filter(args)
    if since_last:
        f = dataclasses.replace(f, since=None)
    target = None
    if args.lrs is not None:
        try:
            endpoint = lrs.statements_url(args.lrs)
            credentials = lrs.load_credentials(endpoint, paths.default_lrs_config_path())
        except lrs.LRSError as exc:
            _error(str(exc))
            return EXIT_ERROR
        target = (endpoint, credentials)
    if args.out is not None and args.out.is_dir():
        print(f"iwp-trainer export: error: {args.out} is a folder, not a file (give a file name, "
              f"e.g. {args.out / 'statements.jsonl'})", file=sys.stderr)
        return EXIT_ERROR
    try:
        store = open_existing(args.db)
        if store is None:
            what = "sent" if target else "exported"
            print(f"No attempts recorded yet (there is no progress database at {args.db}); nothing {what}.",
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
        print(f"No attempts recorded yet{scope}; nothing {'sent' if target else 'exported'}.", file=sys.stderr)
        return EXIT_OK
    if target is not None:
        db = str(args.db)  # a file by its full path (the same from any folder); a URL as given
        scope = lrs.PushScope(target[0], db if "://" in db else str(Path(db).resolve()), args.activity_base,
                              f.learner, f.scenario)
        return _push(target[0], target[1], scope, attempts, StatementBuilder(args.home_page, args.activity_base),
                     args.batch_size, since_last=since_last, dated=f.since is not None)
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


class ProgressBar:
    """``[#####.....] 120/500 attempts, 1,080 statements sent`` on one line of a terminal's stderr;
    silent when stderr is a file or pipe (a log keeps only the summary)."""

    WIDTH = 30

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live = bool(getattr(stream, "isatty", lambda: False)())
        self.shown = 0  # characters on the line now

    @staticmethod
    def line(done: int, total: int, sent: int, width: int = WIDTH) -> str:
        filled = width * done // total if total else width
        return f"[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} attempts, {sent:,} statements sent"

    def show(self, done: int, total: int, sent: int) -> None:
        if self.live:
            text = self.line(done, total, sent)
            self.stream.write("\r" + text + " " * max(0, self.shown - len(text)))
            self.stream.flush()
            self.shown = max(self.shown, len(text))

    def close(self) -> None:
        """Blank the bar's line (with spaces: stderr shows escape sequences as placeholders)."""
        if self.shown:
            self.stream.write("\r" + " " * self.shown + "\r")
            self.stream.flush()
            self.shown = 0


def _push(endpoint: str, credentials: lrs.Credentials, scope: lrs.PushScope, attempts: list[Any],
          builder: StatementBuilder, batch_size: int, since_last: bool, dated: bool) -> int:
    """Send the attempts' statements (all of them, or with ``since_last`` those recorded since the
    last push), report the counts, and remember a complete push."""
    if endpoint.startswith("http://") and not lrs.is_loopback(endpoint):
        print(f"iwp-trainer export: warning: {endpoint} is plain http: the password and the learners' results "
              "cross the network unencrypted; use the LRS's https address", file=sys.stderr)
    state = lrs.PushState(paths.default_lrs_state_path())
    selection = lrs.Selection(attempts, builder.statements)
    if since_last:
        through = state.through(scope)
        if state.problem:
            print(f"iwp-trainer export: warning: {state.problem}; sending everything", file=sys.stderr)
        elif through is None:
            print(f"No complete push to {endpoint} from this database is recorded; sending everything.",
                  file=sys.stderr)
        else:
            selection = lrs.Selection(attempts, builder.statements, floor=through - lrs.SINCE_MARGIN,
                                      known=state.recent(scope))
    client = lrs.LRSClient(endpoint, credentials)
    bar = ProgressBar(sys.stderr)
    try:
        result = lrs.push(client, selection, batch_size,
                          progress=lambda done: bar.show(selection.attempts_done, len(attempts), done.sent))
    except lrs.LRSError as exc:
        bar.close()
        done: lrs.PushResult | None = getattr(exc, "result", None)
        note = ""
        if done is not None and done.sent:
            note = (f" ({done.sent:,} statements were stored before that, {done.new:,} of them new; "
                    "sending again is safe, the LRS keeps one copy of each)")
        _error(f"{exc}{note}")
        return EXIT_ERROR
    bar.close()
    if not selection.selected:
        print(f"Nothing new to send to {endpoint}: all {selection.seen:,} statements were in an earlier push.")
    else:
        print(f"Sent {result.sent:,} statements to {endpoint} in {result.requests:,} requests "
              f"({result.seconds:.1f} s): {result.new:,} new, {result.already:,} already there"
              + (f", {len(result.conflicts):,} different from the LRS's copy" if result.conflicts else "") + ".")
    if result.conflicts:
        _error(f"the LRS already holds different statements under {len(result.conflicts):,} of these ids "
               f"(the first: {result.conflicts[0]}) and keeps its copies, as xAPI statements cannot change; "
               "was --home-page or --activity-base changed since they were sent?")
        return EXIT_ERROR
    if not dated and selection.newest is not None:
        try:
            state.record(scope, selection.newest, result, selection.recent_ids())
        except OSError as exc:
            print(f"iwp-trainer export: warning: cannot remember this push in {state.path} "
                  f"({exc.strerror or exc}); the next --since sends everything again", file=sys.stderr)
    return EXIT_OK
