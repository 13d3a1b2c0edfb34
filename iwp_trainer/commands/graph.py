"""``iwp-trainer graph SCENARIO [--format mermaid|dot]``: draw a scenario's branching."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from iwp_trainer.commands.play import open_scenario
from iwp_trainer.graph import FORMATS, render

EXIT_OK, EXIT_ERROR = 0, 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "graph",
        help="draw a scenario as a Mermaid or Graphviz graph",
        description="Print a scenario's nodes, choices (with scores), endings and random branches "
                    "as a Mermaid flowchart or a Graphviz digraph. Critical choices are marked.",
    )
    parser.add_argument("scenario", metavar="SCENARIO", help="scenario id or scenario file")
    parser.add_argument("--format", choices=FORMATS, default="mermaid", help="output format (default mermaid)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    scenario, _ = open_scenario(args, "graph")
    if scenario is None:
        return EXIT_ERROR
    sys.stdout.write(render(scenario, args.format))
    return EXIT_OK
