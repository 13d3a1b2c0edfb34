"""The one entry point: bare ``iwp-trainer`` opens the app, subcommands run without it.

Each subcommand lives in ``iwp_trainer/commands/<name>.py`` and exposes
``register(subparsers) -> None``; the parser it adds sets ``func=run`` where
``run(args) -> int`` returns the exit code. Commands call the same core functions as the app.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import Sequence

from iwp_trainer import __version__, paths
from iwp_trainer.safe_text import PrintableStream

# Subcommand modules, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "ask",
    "index",
    "check",
    "play",
    "graph",
    "report",
    "export",
    "serve",
    "db",
)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


# Global options that take a value, so the command word can be found without parsing.
_VALUE_OPTIONS = frozenset({"--kb", "--scenarios", "--index", "--db", "--learner"})


def requested_command(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv``, if it is a known one: only its module need be imported,
    which keeps a cold ``iwp-trainer ask`` fast."""
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token in _VALUE_OPTIONS:
            skip = True
        elif not token.startswith("-"):
            return token if token in COMMAND_MODULES else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or with ``only`` just that subcommand (the others are not imported)."""
    parser = argparse.ArgumentParser(
        prog="iwp-trainer",
        description=(
            "Train and support work coaches on the In-Work Progression trial. "
            "With no command, opens the app (Ask, Browse, Practise, Progress)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--kb", type=Path, default=None, metavar="DIR",
                        help="knowledge base folder (default: the shipped kb/, or $IWP_TRAINER_KB)")
    parser.add_argument("--scenarios", type=Path, default=None, metavar="DIR",
                        help="scenarios folder (default: the shipped scenarios/, or $IWP_TRAINER_SCENARIOS)")
    parser.add_argument("--index", type=Path, default=None, metavar="DIR",
                        help="search index folder (default: the user cache, or $IWP_TRAINER_INDEX)")
    parser.add_argument("--db", type=paths.db_location, default=None, metavar="PATH|URL",
                        help="progress database: a file, or postgresql://user@host/dbname for a district's "
                             "shared store (password from ~/.pgpass or PGPASSWORD, never here); "
                             "default: the user data folder, or $IWP_TRAINER_DB")
    parser.add_argument("--learner", default=None, metavar="NAME",
                        help="learner name or staff id to record progress under (app only)")
    # Set by `iwp-trainer serve` on the app each browser tab runs (see IwpApp.browser_tab).
    parser.add_argument("--browser-tab", action="store_true", help=argparse.SUPPRESS)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in (only,) if only else COMMAND_MODULES:
        try:
            module = importlib.import_module(f"iwp_trainer.commands.{name}")
        except ModuleNotFoundError as exc:  # a command not yet built is simply absent
            if exc.name == f"iwp_trainer.commands.{name}":
                continue
            raise
        module.register(subparsers)
    return parser


def resolve_paths(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the global locations with their defaults so commands never guess."""
    args.kb = args.kb or paths.default_kb_dir()
    args.scenarios = args.scenarios or paths.default_scenarios_dir()
    args.index = args.index or paths.default_index_dir()
    args.db = args.db or paths.default_db_path()
    return args


def _fill_closed_streams() -> None:
    """Standard streams any output can go to. A standard stream closed by the caller (``<&-``, ``>&-``, some services) becomes the null
    device: no input, output discarded. Opened in order, so the null device also takes the freed
    descriptor and no file we open later can land on 0, 1 or 2."""
    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, mode, encoding="utf-8"))
    # A terminal that cannot show a character (PYTHONIOENCODING=ascii, a legacy code page) gets
    # a replacement mark, never a UnicodeEncodeError.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and (getattr(stream, "errors", None) or "strict") == "strict":
            try:
                reconfigure(errors="replace")
            except (OSError, ValueError):
                pass


def main(argv: Sequence[str] | None = None) -> int:
    _fill_closed_streams()
    # Text from files and users reaches the terminal only through printable(): an ESC, OSC 52 or bidi
    # override in a KB entry, scenario or learner name shows as a placeholder (stderr keeps \r for
    # progress bars; diagnostics replace it themselves).
    streams = sys.stdout, sys.stderr
    sys.stdout = PrintableStream(sys.stdout)  # type: ignore[assignment]
    sys.stderr = PrintableStream(sys.stderr, keep="\n\t\r")  # type: ignore[assignment]
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = streams


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=requested_command(argv))
    args = resolve_paths(parser.parse_args(argv))
    prog = f"iwp-trainer {args.command}" if args.command else "iwp-trainer"
    try:
        if args.command is None:
            from iwp_trainer.tui.app import run_app

            return run_app(args)
        code = int(args.func(args) or EXIT_OK)
        sys.stdout.flush()  # here, so a full disk is reported, not left to the exit-time flush
        return code
    except KeyboardInterrupt:
        # Ctrl+C: one line, on a line of its own (a progress bar may be mid-line). Whatever was
        # being written is abandoned whole: builds and exports only ever replace finished files.
        try:
            sys.stderr.write("\niwp-trainer: interrupted\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        return 130
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly.
        _discard_output()
        sys.stderr.close()
        return EXIT_OK
    except OSError as exc:
        # Output to a full disk (`> /dev/full`), a lost network share or a closed terminal: one line,
        # and a failure status, never a traceback.
        where = f"cannot write {exc.filename}" if exc.filename else "cannot write the output"
        _discard_output()
        try:
            sys.stderr.write(f"{prog}: error: {where}: {exc.strerror or exc}\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        return EXIT_ERROR


def _discard_output() -> None:
    """After standard output failed: send it to the null device, so the exit-time flush of what is
    still buffered cannot fail (and print a second error) again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


if __name__ == "__main__":
    raise SystemExit(main())
