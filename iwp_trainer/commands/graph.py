"""``iwp-trainer graph SCENARIO [--format mermaid|dot]``: draw a scenario's branching."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from iwp_trainer.commands.play import resolve_scenario
from iwp_trainer.diagnostics import print_diagnostics
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
    from iwp_trainer.kb import load_kb

    kb = load_kb(Path(args.kb))
    scenario, diags, problem = resolve_scenario(args.scenario, Path(args.scenarios), kb)
    if scenario is None:
        print_diagnostics([d for d in diags if d.severity == "error"], sys.stderr)
        print(f"iwp-trainer graph: error: {problem}", file=sys.stderr)
        return EXIT_ERROR
    sys.stdout.write(render(scenario, args.format))
    return EXIT_OK
