"""How fast is ``iwp-trainer check``? Generates 1,000 scenarios of 50 nodes each (loops, flags,
random nodes and scripted tests included) into a temporary folder, then times checking them
in-process and through the CLI. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_check.py [--scenarios 1000] [--nodes 50]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from iwp_trainer.scenario_loader import load_scenarios, parse_yaml  # noqa: E402

KB_IDS = ["reallocation-not-allowed", "sanction-duration", "cet-reduction-caring"]
DIMS = ["discretion", "sanctions", "reallocation"]


def scenario_yaml(index: int, n_nodes: int, rng: random.Random) -> str:
    """One valid scenario: a chain of question nodes with side loops, a flag, a random node."""
    sid = f"bench-{index:04d}"
    inner = n_nodes - 3  # plus a random node and two endings
    lines = [
        f"id: {sid}",
        f'title: "Benchmark scenario {index}"',
        '"summary": "Generated for timing."',
        "level: new",
        f"dimensions: [{', '.join(DIMS)}]",
        "pass_mark: 0.7",
        "start: q0",
        "nodes:",
    ]
    best_path: list[str] = []
    for i in range(inner):
        nxt = f"q{i + 1}" if i + 1 < inner else "coin"
        dim = DIMS[i % len(DIMS)]
        lines += [
            f"  q{i}:",
            "    speaker: claimant",
            f'    say: "Question {i}: what happens next with my claim?"',
            "    choices:",
            f"      - id: good-{i}",
            f'        text: "The right answer to question {i}."',
            f"        to: {nxt}",
            f"        scores: {{{dim}: 2}}",
            f'        feedback: "Right for question {i}."',
            f"        cites: [{rng.choice(KB_IDS)}]",
            f"      - id: poor-{i}",
            f'        text: "A weaker answer to question {i}."',
            f"        to: {nxt}",
            f"        scores: {{{dim}: -1}}",
            f'        feedback: "Not quite, question {i}."',
            f"        cites: [{rng.choice(KB_IDS)}]",
        ]
        if i % 5 == 1:  # a loop back to the previous question, which needs a flag
            lines += [
                f"      - id: back-{i}",
                f'        text: "Go back to question {i - 1}."',
                f"        to: q{i - 1}",
                f"        set: [went-back-{i}]",
                f"      - id: sorry-{i}",
                f'        text: "Apologise for going back at question {i}."',
                f"        to: {nxt}",
                f"        requires: [went-back-{i}]",
            ]
        best_path.append(f"good-{i}")
    lines += [
        "  coin:",
        '    say: "Your line manager may drop in."',
        "    random:",
        "      - to: end-a",
        "        weight: 2",
        "      - to: end-b",
        "  end-a:",
        '    say: "The conversation ends."',
        '    ending: "Ends"',
        "  end-b:",
        '    say: "The conversation ends, observed."',
        '    ending: "Ends, observed"',
        "tests:",
        "  - name: best path",
        f"    choose: [{', '.join(best_path)}]",
        "    expect: {passed: true}",
        "  - name: poor start",
        f"    choose: [poor-0, {', '.join(best_path[1:])}]",
        "    expect: {passed: true}",
    ]
    return "\n".join(lines).replace('"summary"', "summary") + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=50)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "scenarios"
        folder.mkdir()
        kb = Path(tmp) / "kb"
        kb.mkdir()
        for entry in KB_IDS:
            (kb / f"{entry}.md").write_text(
                f"---\nid: {entry}\nquestion: Q?\nsource:\n  document: IWP trial FAQ\n"
                f'  section: "section 5: Conducting Interviews"\n---\nBody.\n', encoding="utf-8")
        (folder / "dimensions.yaml").write_bytes((ROOT / "scenarios" / "dimensions.yaml").read_bytes())
        started = time.perf_counter()
        total_bytes = 0
        for i in range(args.scenarios):
            text = scenario_yaml(i, args.nodes, rng)
            total_bytes += len(text)
            (folder / f"bench-{i:04d}.yaml").write_text(text, encoding="utf-8")
        generated = time.perf_counter() - started
        print(f"generated {args.scenarios} scenarios x {args.nodes} nodes "
              f"({total_bytes / 1e6:.1f} MB) in {generated:.2f} s")

        print(f"(load average before timing: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; "
              "CPU seconds are steadier than wall seconds on a busy machine)")
        started = time.perf_counter()
        cpu = time.process_time()
        result = load_scenarios(folder, set(KB_IDS))
        in_process = time.perf_counter() - started
        cpu = time.process_time() - cpu
        errors = [d for d in result.diagnostics if d.severity == "error"]
        print(f"in-process, one process: load + validate + scripted tests: {in_process:.2f} s wall, "
              f"{cpu:.2f} s CPU ({cpu / args.scenarios * 1000:.2f} ms CPU per scenario), "
              f"{len(result.scenarios)} valid, {len(errors)} errors")
        if errors:
            print("first error:", errors[0])
        del result  # timings below start from a small heap, as a fresh `check` does

        cpu = time.process_time()
        load_scenarios(folder, set(KB_IDS), run_tests=False)
        print(f"in-process, one process, without scripted tests: {time.process_time() - cpu:.2f} s CPU")

        gc.disable()  # as load_scenarios does while loading
        cpu = time.process_time()
        for path in sorted(folder.glob("bench-*.yaml")):
            parse_yaml(path.read_text(encoding="utf-8"), path)
        print(f"  of which YAML parsing with positions: {time.process_time() - cpu:.2f} s CPU")
        gc.enable()

        jobs = os.cpu_count() or 1
        started = time.perf_counter()
        load_scenarios(folder, set(KB_IDS), jobs=jobs)
        parallel = time.perf_counter() - started
        print(f"in-process, {jobs} processes (as `check` runs): {parallel:.2f} s")

        cmd = [sys.executable, "-m", "iwp_trainer", "--kb", str(kb), "--scenarios", str(folder), "check",
               "--strict", "--no-quality"]  # the SC6xx checks play every path: seconds per looped 50-node file
        runs = []
        for _ in range(2):
            started = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            runs.append(time.perf_counter() - started)
        print(f"CLI `iwp-trainer check --strict --no-quality`: {min(runs):.2f} s (best of {len(runs)}: "
              f"{', '.join(f'{r:.2f}' for r in runs)}), exit {proc.returncode}: {proc.stdout.strip()}")

        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "iwp_trainer", "--help"], capture_output=True)
        print(f"(CLI start-up alone: {time.perf_counter() - started:.2f} s)")


if __name__ == "__main__":
    main()
