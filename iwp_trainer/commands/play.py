"""``iwp-trainer play SCENARIO --choose ID,ID,... [--seed N] [--json]``: play a scripted path.

SCENARIO is a scenario id (looked up in the scenarios folder) or the path of a scenario file. The
path is played without shuffling and the debrief printed: each decision, the best choice there,
the points, the feedback and the policy it cites.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from iwp_trainer.diagnostics import Diagnostic, print_diagnostics
from iwp_trainer.engine import Playthrough, Result, debrief
from iwp_trainer.files import not_regular_reason
from iwp_trainer.safe_text import json_safe, one_line
from iwp_trainer.scenario import Scenario
from iwp_trainer.scenario_loader import DIMENSIONS_FILE, load_scenarios, scenario_files

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "play",
        help="play a scripted path through a scenario and print the debrief",
        description="Play a scenario along the given choices (no shuffling) and print the debrief.",
    )
    parser.add_argument("scenario", metavar="SCENARIO", help="scenario id or scenario file")
    parser.add_argument("--choose", default="", metavar="ID,ID,...",
                        help="choice ids to take, in order, separated by commas")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="seed for random branches (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def open_scenario(args: argparse.Namespace, command: str) -> tuple[Scenario | None, Any]:
    """Load the KB and the scenario ``args.scenario`` names, as ``play`` and ``graph`` both need.
    When it cannot be had, its errors and one ``iwp-trainer COMMAND: error:`` line go to stderr and
    the scenario is ``None``."""
    from iwp_trainer.kb import load_kb

    kb = load_kb(Path(args.kb))
    scenario, diags, problem = resolve_scenario(args.scenario, Path(args.scenarios), kb)
    if scenario is None:
        print_diagnostics([d for d in diags if d.severity == "error"], sys.stderr)
        print(f"iwp-trainer {command}: error: {problem}", file=sys.stderr)
    return scenario, kb


def resolve_scenario(ref: str, scenarios_dir: Path, kb: Any) -> tuple[Scenario | None, list[Diagnostic], str | None]:
    """Find a scenario by id or file path: (scenario, its problems, a message when not found)."""
    kb_ids = set(kb.entries) if kb is not None and getattr(kb, "entries", None) else None
    candidate = Path(ref)
    if candidate.is_dir():
        return None, [], f"{ref} is a folder; give a scenario id or one scenario .yaml file"
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file() or "/" in ref:
        if not candidate.is_file():
            reason = not_regular_reason(candidate)
            if reason is not None:  # a named pipe or a device: never opened, so never a hang
                return None, [], f"cannot read {ref}: {reason}; give a scenario id or one scenario .yaml file"
            return None, [], f"no such scenario file: {ref}"
        if candidate.name == DIMENSIONS_FILE:
            return None, [], f"{ref} holds the scoring dimensions, not a scenario; give a scenario id or file"
        home = candidate.parent if (candidate.parent / DIMENSIONS_FILE).is_file() else scenarios_dir
        result = load_scenarios(home, kb_ids, run_tests=False, files=[candidate])
    else:
        path = scenarios_dir / f"{ref}.yaml"
        if not scenarios_dir.is_dir():
            return None, [], (f"scenarios folder not found: {scenarios_dir} "
                              "(pass --scenarios DIR or set IWP_TRAINER_SCENARIOS)")
        reason = None if path.is_file() else not_regular_reason(path)
        if reason is not None:
            return None, [], f"cannot read {path}: {reason}"
        if not path.is_file():
            known = [p.stem for p in scenario_files(scenarios_dir)] if scenarios_dir.is_dir() else []
            return None, [], f"unknown scenario `{ref}` in {scenarios_dir}{_known_hint(ref, known)}"
        result = load_scenarios(scenarios_dir, kb_ids, run_tests=False, files=[path])
    scenario = next(iter(result.scenarios.values()), None)
    if scenario is None:
        return None, result.diagnostics, f"scenario `{ref}` has errors; fix them first (iwp-trainer check)"
    return scenario, result.diagnostics, None


def _known_hint(ref: str, known: list[str]) -> str:
    """The closest scenario id, or (with none close) every valid id, so the user can pick one."""
    close = difflib.get_close_matches(ref, known, n=1)
    if close:
        return f"; did you mean `{close[0]}`?"
    if not known:
        return "; the folder has no scenarios"
    return "; the scenarios are: " + ", ".join(sorted(known))


def _wrap(text: str, indent: str, hang: str = "") -> str:
    return textwrap.fill(" ".join(text.split()), width=96, initial_indent=indent,
                         subsequent_indent=indent + hang)


def _points(points: dict[str, int]) -> str:
    shown = [f"{dim} {value:+d}" for dim, value in points.items() if value]
    return ", ".join(shown) or "no points"


def format_debrief(scenario: Scenario, play: Playthrough, result: Result, kb: Any) -> str:
    """The readable debrief printed by ``play``."""
    out = [f"{one_line(scenario.title)} ({scenario.id}), seed {play.seed}", ""]
    out.append("Transcript")
    for speaker, text in play.transcript:
        out.append(_wrap(f"{speaker}: {text}", "  ", "  "))
    out += ["", "Debrief"]
    for number, item in enumerate(debrief(result, kb), start=1):
        marks = []
        if item.is_best:
            marks.append("best choice")
        if item.critical:
            marks.append("CRITICAL")
        out.append(f"{number}. At `{item.node_id}` you chose `{item.choice_id}`"
                   + (f" ({', '.join(marks)})" if marks else ""))
        if item.prompt:
            out.append(_wrap(f"({item.prompt})", "     "))
        out.append(_wrap(item.chosen_text, "     "))
        out.append(f"   Points: {_points(item.points)}")
        out.append(_wrap(f"Why: {item.why}", "   ", "  "))
        if not item.is_best and item.best_texts:
            out.append(f"   Best here: `{'`, `'.join(item.best_choice_ids)}`")
            for i, text in enumerate(item.best_texts):
                out.append(_wrap(text, "     "))
                points = item.best_points[i] if i < len(item.best_points) else {}
                reason = item.best_feedback[i] if i < len(item.best_feedback) else ""
                reason = reason or "it scores nothing itself, but leads to the most points still available."
                out.append(_wrap(f"Why it is better ({_points(points)}): {reason}", "   ", "  "))
        for cite in item.sources:
            if cite.found:
                out.append(f"   Source: {cite.title} ({cite.citation})")
                for paragraph in cite.text.split("\n"):
                    if paragraph.strip():
                        out.append(_wrap(paragraph, "     | "))
            else:
                out.append(f"   Source: `{cite.id}` (not in the knowledge base)")
    out.append("")
    if result.finished:
        out.append(f"Ending: {result.ending_title} ({result.ending_node})")
        if result.ending_text:
            out.append(_wrap(result.ending_text, "  ", "  "))
    else:
        offered = ", ".join(c.id for c in play.choices)
        out.append(f"Not finished: the path stops at `{play.node.id}` (choices there: {offered})")
    for dim, score in result.scores.items():
        out.append(f"  {dim}: {score.earned}/{score.best} ({score.fraction:.0%})")
    out.append(f"Score: {round(result.score * 100)}% (the weakest dimension's share of the best"
               + (f": {result.weakest})" if result.weakest else ")"))
    verdict = "PASSED" if result.passed else "NOT PASSED"
    why = " (a critical choice was taken)" if result.critical_taken else ""
    out.append(f"Result: {verdict}{why}, pass mark {scenario.pass_mark:.0%} of the best in each dimension")
    return "\n".join(out) + "\n"


def debrief_json(scenario: Scenario, play: Playthrough, result: Result, kb: Any) -> dict[str, Any]:
    """The stable JSON object printed by ``play --json``."""
    return {
        "scenario": scenario.id,
        "title": scenario.title,
        "seed": play.seed,
        "path": [d.choice_id for d in result.decisions],
        "result": result.to_dict(),
        "debrief": [item.to_dict() for item in debrief(result, kb)],
        "transcript": [{"speaker": s, "text": t} for s, t in play.transcript],
        "available": [c.id for c in play.choices] if not play.finished else [],
    }


def run(args: argparse.Namespace) -> int:
    scenario, kb = open_scenario(args, "play")
    if scenario is None:
        return EXIT_ERROR
    choose = [c.strip() for c in args.choose.split(",") if c.strip()]
    play = Playthrough(scenario, seed=args.seed, shuffle=False)
    for step, choice_id in enumerate(choose, start=1):
        if play.finished:
            print(f"iwp-trainer play: error: the scenario ended at `{play.node.id}` before step {step} "
                  f"(`{choice_id}`)", file=sys.stderr)
            return EXIT_ERROR
        try:
            play.choose(choice_id)
        except ValueError as exc:
            print(f"iwp-trainer play: error: step {step}: {exc}", file=sys.stderr)
            return EXIT_ERROR
    result = play.result()
    if args.json:
        print(json_safe(json.dumps(debrief_json(scenario, play, result, kb), ensure_ascii=False, indent=2)))
    else:
        sys.stdout.write(format_debrief(scenario, play, result, kb))
    return EXIT_OK
