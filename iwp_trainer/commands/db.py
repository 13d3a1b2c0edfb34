"""``iwp-trainer db migrate`` and ``iwp-trainer db copy --from SQLITE --to POSTGRES``.

``migrate`` brings the ``--db`` database (a file or a ``postgresql://`` address) to this version's
schema, as the app would on first use, and says what it did: a district's administrator runs it
once after an upgrade rather than leaving it to the first coach.

``copy`` moves a laptop's history into the district store (or any store into any other). Attempts
and questions carry a stable identity, so running it again copies nothing twice; an attempt that
was unfinished when first copied and finished on the laptop since is brought up to date. Exit 0 on
success, 1 when a database cannot be used, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from iwp_trainer import paths
from iwp_trainer.store import SCHEMA_VERSION, OlderLayoutError, ProgressStore, StoreError, is_server_url, open_existing

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "db",
        help="set up or upgrade the progress database; copy a laptop's history into a district store",
        description="Manage the progress database: `db migrate` upgrades the --db database to this "
                    "version's schema; `db copy --from FILE --to postgresql://...` copies recorded "
                    "attempts and questions, skipping what is already there.",
    )
    actions = parser.add_subparsers(dest="db_action", metavar="ACTION")
    migrate = actions.add_parser("migrate", help="create or upgrade the --db database's tables",
                                 description="Create or upgrade the tables of the --db database "
                                             "(or $IWP_TRAINER_DB).")
    migrate.set_defaults(func=run_migrate)
    copy = actions.add_parser("copy", help="copy recorded progress from one database into another",
                              description="Copy every recorded attempt (with its decisions and scores) and "
                                          "Ask question from one progress database into another. Run it "
                                          "again and nothing is copied twice.")
    copy.add_argument("--from", dest="source", type=paths.db_location, required=True, metavar="PATH|URL",
                      help="the database to copy from (e.g. a coach's progress.sqlite3)")
    copy.add_argument("--to", dest="target", type=paths.db_location, required=True, metavar="PATH|URL",
                      help="the database to copy into (e.g. postgresql://user@host/dbname)")
    copy.set_defaults(func=run_copy)
    parser.set_defaults(func=lambda args: _which(parser))


def _which(parser: argparse.ArgumentParser) -> int:
    print("iwp-trainer db: say what to do: `db migrate` or `db copy --from PATH --to URL`", file=sys.stderr)
    return EXIT_USAGE


def run_migrate(args: argparse.Namespace) -> int:
    location = args.db
    try:
        if not is_server_url(location) and not Path(location).exists():
            ProgressStore.open(location).close()
            print(f"Created the progress database {location} (schema version {SCHEMA_VERSION}).")
            return EXIT_OK
        try:
            store = ProgressStore.open(location, read_only=True)
            print(f"The progress database {store.location} is up to date (schema version {store.schema_version}).")
            store.close()
            return EXIT_OK
        except OlderLayoutError:
            pass
        store = ProgressStore.open(location)
        print(f"Upgraded the progress database {store.location} to schema version {store.schema_version}.")
        store.close()
    except StoreError as exc:
        print(f"iwp-trainer db migrate: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def run_copy(args: argparse.Namespace) -> int:
    if str(args.source) == str(args.target):
        print("iwp-trainer db copy: error: --from and --to are the same database", file=sys.stderr)
        return EXIT_USAGE
    try:
        source = open_existing(args.source)
        if source is None:
            print(f"iwp-trainer db copy: error: there is no progress database at {args.source}", file=sys.stderr)
            return EXIT_ERROR
        try:
            target = ProgressStore.open(args.target)
            try:
                counts = target.copy_from(source)
            finally:
                target.close()
        finally:
            source.close()
    except StoreError as exc:
        print(f"iwp-trainer db copy: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(f"Copied {_plural(counts.attempts_new, 'attempt')} and {_plural(counts.questions_new, 'question')} "
          f"from {counts.source} to {counts.target}.")
    print(f"Already there: {_plural(counts.attempts_present, 'attempt')} "
          f"({counts.attempts_updated:,} brought up to date) and {_plural(counts.questions_present, 'question')}.")
    return EXIT_OK
