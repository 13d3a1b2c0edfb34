"""Figures for the shipped scenarios: load/check time, size, and how often guessing passes.

Run: .venv/bin/python bench/bench_shipped_scenarios.py [--attempts N]

"Guess pass rate" plays N attempts per scenario choosing uniformly at random among the choices
on offer (seeded, so repeatable). A well-written scenario should rarely be passed by guessing;
"critical" is how often a guesser takes a rule-breaking choice.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from iwp_trainer.engine import Playthrough, analyse  # noqa: E402
from iwp_trainer.scenario_loader import load_scenarios  # noqa: E402

SCENARIOS = ROOT / "scenarios"
KB_IDS = {p.stem for p in (ROOT / "kb").glob("*.md")}


def guess(scenario, attempts: int) -> tuple[float, float, float]:
    """Pass rate, critical rate and mean decisions for random guessing."""
    passed = critical = 0
    depths = []
    for seed in range(attempts):
        play = Playthrough(scenario, seed=seed)
        pick = random.Random(seed)
        while not play.finished:
            play.choose(pick.choice(play.choices).id)
        result = play.result()
        passed += result.passed
        critical += result.critical_taken
        depths.append(len(result.decisions))
    return passed / attempts, critical / attempts, statistics.mean(depths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()

    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        loaded = load_scenarios(SCENARIOS, KB_IDS, run_tests=True)
        times.append(time.perf_counter() - start)
    errors = [d for d in loaded.diagnostics if d.severity == "error"]
    print(f"load + validate + run scripted tests, {len(loaded.scenarios)} scenarios: "
          f"median {statistics.median(times) * 1000:.1f} ms over {args.repeats} runs "
          f"({len(errors)} errors)")
    print()
    header = f"{'scenario':30} {'level':11} {'nodes':>5} {'choices':>7} {'endings':>7} " \
             f"{'best':24} {'guess pass':>10} {'critical':>8} {'depth':>5}"
    print(header)
    print("-" * len(header))
    rates = []
    for sid, scenario in sorted(loaded.scenarios.items()):
        best = analyse(scenario).best_achievable()
        choices = sum(len(n.choices) for n in scenario.nodes.values())
        endings = sum(1 for n in scenario.nodes.values() if n.is_ending)
        rate, crit, depth = guess(scenario, args.attempts)
        rates.append(rate)
        best_text = ", ".join(f"{d[:5]} {int(v)}" for d, v in best.items())
        print(f"{sid:30} {scenario.level:11} {len(scenario.nodes):5} {choices:7} {endings:7} "
              f"{best_text:24} {rate:10.1%} {crit:8.1%} {depth:5.1f}")
    print()
    print(f"mean guess pass rate {statistics.mean(rates):.1%}, worst {max(rates):.1%} "
          f"({args.attempts} seeded attempts per scenario)")


if __name__ == "__main__":
    main()
