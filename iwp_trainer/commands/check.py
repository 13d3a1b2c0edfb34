"""``iwp-trainer check [PATHS...] [--json] [--strict]``: validate scenarios and the knowledge base.

With no PATHS it checks the whole scenarios folder and the knowledge base; otherwise the given
scenario files or folders (a knowledge-base entry, the glossary or a KB folder is checked as
knowledge base, never parsed as a scenario). Each problem is one ``file:line:col: error CODE: message`` line on
stderr (or, with ``--json``, one JSON object on stdout). Exit 0 when clean, 1 on errors (and on
warnings with ``--strict``), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iwp_trainer.commands import positive_int
from iwp_trainer.diagnostics import Diagnostic, has_errors, print_diagnostics
from iwp_trainer.gaming import DEFAULT_SEEDS, MAX_PASS_RATE, STRATEGIES, GamingResult, overall, simulate
from iwp_trainer.safe_text import json_safe
from iwp_trainer.scenario import Scenario
from iwp_trainer.scenario_loader import DIMENSIONS_FILE, load_dimensions, load_scenarios, scenario_files

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="validate scenarios and the knowledge base",
        description="Validate scenario files (default: the whole scenarios folder plus the knowledge "
                    "base) and run each scenario's scripted tests.",
    )
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="scenario files or folders, or KB entries/folders "
                             "(default: the scenarios folder and the KB)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--strict", action="store_true", help="fail on warnings too")
    parser.add_argument("--quality", action=argparse.BooleanOptionalAction, default=True,
                        help="run the assessment-quality checks (SC6xx: option lengths, giveaway words, "
                             "single-decision dimensions, endings that ignore mistakes, gaming); on by "
                             "default, --no-quality skips them on a large folder")
    parser.add_argument("--gaming", action="store_true",
                        help="print each naive strategy's pass rate per scenario (implies --quality)")
    parser.add_argument("--seeds", type=positive_int, default=DEFAULT_SEEDS, metavar="N",
                        help=f"plays per strategy and scenario for the gaming simulation (default {DEFAULT_SEEDS})")
    parser.set_defaults(func=run)


def load_kb_for_check(kb_dir: Path) -> tuple[set[str] | None, list[Diagnostic], Any]:
    """KB entry ids (``None`` when there is no KB folder), its diagnostics, and the KB itself."""
    from iwp_trainer.kb import load_kb

    kb = load_kb(kb_dir)
    if not Path(kb_dir).is_dir():
        return None, list(kb.diagnostics), kb
    return set(kb.entries), list(kb.diagnostics), kb


def _kb_folder_of(path: Path, kb_dir: Path) -> Path | None:
    """The knowledge-base folder ``path`` is or belongs to, if it is knowledge base: the KB folder
    itself, a Markdown entry, or the glossary next to entries."""
    from iwp_trainer.kb import GLOSSARY_FILE

    if path.is_dir():  # the KB folder, or one like it: entries and no dimensions.yaml
        looks_like_kb = not (path / DIMENSIONS_FILE).exists() and any(path.glob("*.md"))
        return path if _same(path, kb_dir) or looks_like_kb else None
    if path.suffix.lower() == ".md" or (path.name == GLOSSARY_FILE and (
            _same(path.parent, kb_dir) or any(path.parent.glob("*.md")))):
        return path.parent
    return None


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == Path(b).resolve()
    except OSError:
        return False


def _kb_diagnostics(kb_home: Path, path: Path, kb_dir: Path, kb_diags: list[Diagnostic]) -> list[Diagnostic]:
    """The problems of the KB folder ``kb_home`` (all of them) or of the one file ``path`` in it."""
    if _same(kb_home, kb_dir):
        found = kb_diags
    else:
        from iwp_trainer.kb import load_kb

        found = list(load_kb(kb_home).diagnostics)
    if path.is_dir():
        return list(found)
    return [d for d in found if d.file and _same(Path(d.file), path)]


@dataclass
class CheckOutcome:
    """What one ``check`` run found: files checked, every problem, and the gaming figures."""

    count: int
    diagnostics: list[Diagnostic]
    scenarios: list[Scenario] = field(default_factory=list)
    gaming: list[GamingResult] = field(default_factory=list)


def check_paths(scenarios_dir: Path, kb_dir: Path, paths: list[Path],
                jobs: int | None = None) -> tuple[int, list[Diagnostic]]:
    """Validate; returns (number of scenario files checked, every problem found)."""
    outcome = check(scenarios_dir, kb_dir, paths, jobs)
    return outcome.count, outcome.diagnostics


def check(scenarios_dir: Path, kb_dir: Path, paths: list[Path], jobs: int | None = None,
          quality: bool = False, seeds: int = DEFAULT_SEEDS) -> CheckOutcome:
    """Validate and, with ``quality``, run the assessment-quality checks on every valid scenario.

    Large folders are checked in ``jobs`` processes (default: one per CPU).
    """
    outcome = _validate(scenarios_dir, kb_dir, paths, jobs)
    if quality:
        from iwp_trainer.quality import check_quality

        for scenario in outcome.scenarios:
            result = simulate(scenario, seeds)
            outcome.gaming.append(result)
            outcome.diagnostics.extend(check_quality(scenario, seeds, gaming=result))
    return outcome


def _validate(scenarios_dir: Path, kb_dir: Path, paths: list[Path], jobs: int | None) -> CheckOutcome:
    jobs = jobs or os.cpu_count() or 1
    kb_ids, kb_diags, _kb = load_kb_for_check(kb_dir)
    if not paths:
        result = load_scenarios(scenarios_dir, kb_ids, jobs=jobs)
        count = len(scenario_files(scenarios_dir)) if scenarios_dir.is_dir() else 0
        return CheckOutcome(count, kb_diags + result.diagnostics, list(result.scenarios.values()))
    diags: list[Diagnostic] = []
    scenarios: list[Scenario] = []
    count = 0
    groups: dict[Path, list[Path]] = {}
    for path in paths:
        kb_home = _kb_folder_of(path, kb_dir)
        if kb_home is not None:  # an entry, the glossary or the KB folder: never parse it as a scenario
            diags.extend(_kb_diagnostics(kb_home, path, kb_dir, kb_diags))
        elif path.is_dir():
            result = load_scenarios(path, kb_ids, jobs=jobs)
            count += len(scenario_files(path))
            diags.extend(result.diagnostics)
            scenarios.extend(result.scenarios.values())
        elif path.name == DIMENSIONS_FILE:  # e.g. `check scenarios/*.yaml`
            _dims, more = load_dimensions(path)
            diags.extend(more)
        else:
            # Dimensions come from the file's own folder when it has them, else the scenarios folder.
            home = path.parent if (path.parent / DIMENSIONS_FILE).is_file() else scenarios_dir
            groups.setdefault(home, []).append(path)
    for home, files in groups.items():
        result = load_scenarios(home, kb_ids, files=files, jobs=jobs)
        count += len(files)
        diags.extend(result.diagnostics)
        scenarios.extend(result.scenarios.values())
    return CheckOutcome(count, diags, scenarios)


def gaming_table(results: list[GamingResult], scenarios: list[Scenario], seeds: int) -> str:
    """The ``--gaming`` table: each naive strategy's pass rate per scenario and over them all."""
    from iwp_trainer.quality import decision_points

    names = list(STRATEGIES)
    width = max([len("scenario"), len("all scenarios")] + [len(r.scenario_id) for r in results])
    lines = [f"gaming: pass rate of naive strategies, {seeds} play{'s' if seeds != 1 else ''} each "
             f"(over {MAX_PASS_RATE:.0%} is SC606)",
             "  " + "scenario".ljust(width) + "".join(f"{n:>10}" for n in names)]
    for r in results:
        by = {x.strategy: x for x in r.rates}
        lines.append("  " + r.scenario_id.ljust(width) + "".join(f"{by[n].rate:>10.0%}" for n in names))
    total = overall(results)
    if results:
        lines.append("  " + "all scenarios".ljust(width) + "".join(f"{total[n].rate:>10.0%}" for n in names))
    points = [p for s in scenarios for p in decision_points(s)]
    longest = sum(p.best_is_longest for p in points)
    lines.append(f"best option is the longest at {longest} of {len(points)} decisions")
    return "\n".join(lines) + "\n"


def gaming_json(results: list[GamingResult], scenarios: list[Scenario], seeds: int) -> dict[str, Any]:
    from iwp_trainer.quality import decision_points

    def rates(items: Any) -> dict[str, Any]:
        return {r.strategy: {"passes": r.passes, "plays": r.plays, "rate": round(r.rate, 4)} for r in items}

    points = [p for s in scenarios for p in decision_points(s)]
    return {"seeds": seeds, "max_pass_rate": MAX_PASS_RATE,
            "scenarios": {r.scenario_id: rates(r.rates) for r in results},
            "overall": rates(overall(results).values()),
            "decisions": len(points), "best_is_longest": sum(p.best_is_longest for p in points)}


def kb_entries_checked(kb_dir: Path, paths: list[Path]) -> int:
    """How many knowledge-base entry files the check covered: the whole KB with no PATHS, else the
    entries and KB folders named (for the summary line, which used to count scenarios only)."""
    from iwp_trainer.kb import entry_files

    if not paths:
        return len(entry_files(kb_dir))
    total = 0
    for path in paths:
        home = _kb_folder_of(path, kb_dir)
        if home is None:
            continue
        total += len(entry_files(path)) if path.is_dir() else int(path.suffix.lower() == ".md")
    return total


def run(args: argparse.Namespace) -> int:
    missing = [p for p in args.paths if not p.exists()]
    if missing:
        for path in missing:
            print(f"iwp-trainer check: error: no such file or folder: {path}", file=sys.stderr)
        return EXIT_USAGE
    quality = args.quality or args.gaming
    outcome = check(Path(args.scenarios), Path(args.kb), list(args.paths), quality=quality, seeds=args.seeds)
    count, diags = outcome.count, outcome.diagnostics
    entries = kb_entries_checked(Path(args.kb), list(args.paths))
    errors = sum(1 for d in diags if d.severity == "error")
    warnings = len(diags) - errors
    failed = has_errors(diags, strict=args.strict)
    if args.json:
        ordered = sorted(diags, key=lambda d: (d.file, d.line or 0, d.col or 0, d.code))
        payload = {"ok": not failed, "files": count, "kb_entries": entries, "errors": errors, "warnings": warnings,
                   "diagnostics": [d.to_dict() for d in ordered]}
        if args.gaming:
            payload["gaming"] = gaming_json(outcome.gaming, outcome.scenarios, args.seeds)
        print(json_safe(json.dumps(payload, ensure_ascii=False, indent=2)))
    else:
        print_diagnostics(diags, sys.stderr)
        if args.gaming:
            sys.stdout.write(gaming_table(outcome.gaming, outcome.scenarios, args.seeds))
        checked = [f"{count} scenario file{'s' if count != 1 else ''}"] if count or not entries else []
        if entries:
            checked.append(f"{entries} knowledge-base entr{'ies' if entries != 1 else 'y'}")
        print(f"checked {' and '.join(checked)}: "
              f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}")
    return EXIT_ERROR if failed else EXIT_OK
