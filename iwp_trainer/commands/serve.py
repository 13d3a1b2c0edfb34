"""``iwp-trainer serve [--host 127.0.0.1] [--port 8000]``: the app in a browser, through textual-serve.

Each browser tab gets its own app process (textual-serve starts one per websocket), run with the
same ``--kb``, ``--scenarios``, ``--index`` and ``--db`` as serve, and as a browser tab: it asks its
coach's name instead of using the one remembered on the server. Every request needs the access
token printed in the start-up URL (or set in ``$IWP_TRAINER_SERVE_TOKEN``); ``--no-token`` is only
allowed on a loopback address. See docs/serve.md for a reverse proxy with single sign-on.
Exit 0 when stopped with Ctrl+C, 1 when the address cannot be listened on, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from typing import Any
from urllib.parse import urlsplit

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number (1 to 65535)")
    return port


def _host(value: str) -> str:
    value = value.strip()
    if not value or any(ch.isspace() or ch in "/?#@" for ch in value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a host name or address")
    return value.strip("[]")


def _public_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"{value!r} is not an http(s) address such as https://trainer.example.org/iwp")
    return value.rstrip("/")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve the app to web browsers (one app and one learner per browser tab)",
        description="Serve the app to web browsers with textual-serve. Each tab runs its own app "
                    "and asks its own learner name. Every request needs the access token printed "
                    "in the start-up address; set $IWP_TRAINER_SERVE_TOKEN to choose it.",
    )
    parser.add_argument("--host", type=_host, default=DEFAULT_HOST, metavar="ADDRESS",
                        help=f"address to listen on (default: {DEFAULT_HOST}, this machine only)")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, metavar="N",
                        help=f"port to listen on (default: {DEFAULT_PORT})")
    parser.add_argument("--public-url", type=_public_url, default=None, metavar="URL",
                        help="the address browsers use, when a reverse proxy is in front "
                             "(default: the address each browser asked for)")
    parser.add_argument("--no-token", action="store_true",
                        help="no access token (only on a loopback address, e.g. behind a proxy "
                             "that does the sign-on on this machine)")
    parser.set_defaults(func=run)


def app_command(args: argparse.Namespace) -> str:
    """The shell command textual-serve runs for each tab: this app, on serve's own locations."""
    argv = [sys.executable, "-m", "iwp_trainer",
            f"--kb={args.kb}", f"--scenarios={args.scenarios}", f"--index={args.index}",
            f"--db={args.db}", "--browser-tab"]
    return shlex.join(argv)


def run(args: argparse.Namespace) -> int:
    from iwp_trainer import web

    if args.learner:
        print("iwp-trainer serve: error: --learner does not apply: each browser tab asks for its "
              "own learner name", file=sys.stderr)
        return EXIT_USAGE
    if args.no_token:
        if not web.is_loopback(args.host):
            print(f"iwp-trainer serve: error: refusing to serve on {args.host} without an access "
                  "token: anyone who can reach this machine could use the app and record under "
                  "any name. Leave out --no-token (a token is made and printed), or listen on "
                  "127.0.0.1 behind a proxy that signs people in (see docs/serve.md).",
                  file=sys.stderr)
            return EXIT_USAGE
        token = None
    else:
        token = web.token_from_environment(dict(os.environ)) or web.new_token()
    # Each tab's app inherits serve's environment: it has no use for the token.
    os.environ.pop(web.ENV_TOKEN, None)

    def announce(line: str) -> None:
        print(line, flush=True)

    server = web.TrainerServer(app_command(args), host=args.host, port=args.port,
                               access=web.Access(token), public_url=args.public_url,
                               announce=announce)
    try:
        server.serve()
    except OSError as exc:
        print(f"iwp-trainer serve: error: cannot listen on {args.host} port {args.port}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK
