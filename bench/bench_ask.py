"""How fast and how good is Ask? Prints figures; asserts nothing.

* Shipped KB: full index rebuild time (goal < 2 s) and cold ``iwp-trainer ask`` (goal < 0.5 s).
* Synthetic KBs of 1k and 10k entries (50k with ``--large``), built by recombining the shipped
  entries' questions, aliases and sentences: index build time, cold ``iwp-trainer ask`` with the
  index already built, and query latency p50/p95 over the coaches' question set (goal at 10k:
  p95 < 50 ms).
* Answer quality on ``tests/data/ask_questions.yaml``: top-1 accuracy of the answerer against a
  plain BM25 baseline (rank_bm25 over question + aliases + body), and the refusal rate.
* ``--calibrate``: re-tunes the confidence settings of ``iwp_trainer/answer.py`` on every other
  question and reports them on the held-out half (how the shipped constants were chosen).

    .venv/bin/python bench/bench_ask.py [--sizes 1000 10000] [--large] [--calibrate]
"""

from __future__ import annotations

import argparse
import itertools
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from iwp_trainer import answer as answer_mod  # noqa: E402
from iwp_trainer.answer import open_answerer  # noqa: E402
from iwp_trainer.kb import load_kb, plain_text  # noqa: E402

KB_DIR = ROOT / "kb"
QUESTIONS = ROOT / "tests" / "data" / "ask_questions.yaml"


def load_questions() -> dict:
    return yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


# --------------------------------------------------------------------------------------------
# Synthetic KBs


def synthetic_kb(target: Path, size: int, seed: int = 7) -> Path:
    """``size`` entries recombined from the shipped ones, plus the shipped glossary and entries.

    The shipped entries are included unchanged so quality can still be read off; the rest mix
    their sentences so the vocabulary and lengths are realistic.
    """
    rng = random.Random(seed)
    kb = load_kb(KB_DIR)
    entries = list(kb)
    sentences = [s.strip() for e in entries for s in re.split(r"(?<=[.!?])\s+", plain_text(e.body)) if len(s) > 20]
    aliases = [a for e in entries for a in e.aliases]
    tags = sorted({t for e in entries for t in e.tags})
    target.mkdir(parents=True, exist_ok=True)
    (target / "glossary.yaml").write_bytes((KB_DIR / "glossary.yaml").read_bytes())
    for entry in entries:
        (target / entry.path.name).write_bytes(entry.path.read_bytes())
    for i in range(max(0, size - len(entries))):
        base = rng.choice(entries)
        words = base.question.rstrip("?").split()
        rng.shuffle(words)
        question = " ".join(words[: max(4, len(words) - 2)]) + f" ({rng.choice(tags)} case {i})?"
        body = "\n\n".join(rng.sample(sentences, k=min(len(sentences), rng.randint(2, 6))))
        front = {
            "id": f"syn-{i:05d}",
            "question": question,
            "aliases": rng.sample(aliases, k=2),
            "tags": rng.sample(tags, k=3),
            "source": {"document": base.source_document, "section": base.source_section},
        }
        (target / f"syn-{i:05d}.md").write_text(
            "---\n" + yaml.safe_dump(front, sort_keys=False) + "---\n" + body + "\n", encoding="utf-8"
        )
    return target


def cold_ask(kb_dir: Path, index_dir: Path, question: str, runs: int = 3) -> float:
    """Median wall time of ``iwp-trainer ask`` as a new process (index already built)."""
    cmd = [sys.executable, "-m", "iwp_trainer", "--kb", str(kb_dir), "--index", str(index_dir), "ask", question]
    subprocess.run(cmd, capture_output=True, check=True)  # warm the OS file cache, build if needed
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr.decode())
    return statistics.median(times)


def bench_size(size: int, questions: list[str], workdir: Path) -> None:
    kb_dir = synthetic_kb(workdir / f"kb-{size}", size)
    index_dir = workdir / f"index-{size}"
    start = time.perf_counter()
    kb = load_kb(kb_dir)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    answerer = open_answerer(kb_dir, index_dir, rebuild=True)
    build_s = time.perf_counter() - start
    latencies = []
    for q in questions:
        start = time.perf_counter()
        answerer.ask(q)
        latencies.append((time.perf_counter() - start) * 1000)
    suggest = []
    for q in questions:
        for cut in range(1, min(len(q), 25), 4):
            start = time.perf_counter()
            answerer.suggest(q[:cut])
            suggest.append((time.perf_counter() - start) * 1000)
    answerer.close()
    cold = cold_ask(kb_dir, index_dir, questions[0])
    print(f"{len(kb.entries):>6} entries: load_kb {load_s:6.2f} s | open+build index {build_s:6.2f} s | "
          f"ask p50 {percentile(latencies, 50):5.1f} ms p95 {percentile(latencies, 95):5.1f} ms | "
          f"suggest p95 {percentile(suggest, 95):5.1f} ms | cold `iwp-trainer ask` {cold:5.2f} s")


# --------------------------------------------------------------------------------------------
# Quality


def bm25_baseline_top1(data: dict) -> float:
    from rank_bm25 import BM25Okapi

    kb = load_kb(KB_DIR)
    entries = list(kb)
    tokenize = lambda text: re.findall(r"\w+", text.lower())  # noqa: E731
    corpus = [tokenize(" ".join([e.question, *e.aliases, plain_text(e.body)])) for e in entries]
    bm25 = BM25Okapi(corpus)
    hits = 0
    for item in data["answerable"]:
        scores = bm25.get_scores(tokenize(item["q"]))
        best = max(range(len(entries)), key=lambda i: scores[i])
        hits += entries[best].id == item["expect"]
    return hits / len(data["answerable"])


def quality(answerer, data: dict) -> dict[str, float]:
    answerable, out = data["answerable"], data["out_of_scope"]
    answers = [answerer.ask(item["q"]) for item in answerable]
    top1 = [bool(a.matches) and a.matches[0].entry.id == item["expect"] for a, item in zip(answers, answerable)]
    return {
        "top1": sum(top1) / len(answerable),
        "answered_right": sum(a.answered and ok for a, ok in zip(answers, top1)) / len(answerable),
        "answered_wrong": sum(a.answered and not ok for a, ok in zip(answers, top1)) / len(answerable),
        "refused": sum(not answerer.ask(q).answered for q in out) / len(out),
    }


def calibrate(answerer, data: dict) -> None:
    """Grid-search the confidence settings on even-numbered questions; report on the odd ones."""
    def split(items: list, half: int) -> list:
        return items[half::2]

    def score(half: int) -> dict[str, float]:
        return quality(answerer, {"answerable": split(data["answerable"], half),
                                  "out_of_scope": split(data["out_of_scope"], half)})

    saved = (answer_mod.COVERAGE_WEIGHT, answer_mod.MARGIN_WEIGHT, answer_mod.ANSWER_THRESHOLD,
             answer_mod.MIN_MATCHED_IDF)
    results = []
    for cw, threshold, min_idf in itertools.product([0.7, 0.8, 0.9, 1.0], [0.5, 0.55, 0.6, 0.65, 0.7],
                                                    [0.0, 1.0, 1.5, 2.0]):
        answer_mod.COVERAGE_WEIGHT, answer_mod.MARGIN_WEIGHT = cw, 1 - cw
        answer_mod.ANSWER_THRESHOLD, answer_mod.MIN_MATCHED_IDF = threshold, min_idf
        tune = score(0)
        # Wrong answers cost twice what a refusal costs; refusing out-of-scope must stay >= 90%.
        objective = tune["answered_right"] - 2 * tune["answered_wrong"] + tune["refused"]
        if tune["refused"] >= 0.9:
            results.append((objective, cw, threshold, min_idf, tune))
    results.sort(key=lambda r: -r[0])
    print("calibration (tuned on even questions, checked on odd ones):")
    for objective, cw, threshold, min_idf, tune in results[:5]:
        answer_mod.COVERAGE_WEIGHT, answer_mod.MARGIN_WEIGHT = cw, 1 - cw
        answer_mod.ANSWER_THRESHOLD, answer_mod.MIN_MATCHED_IDF = threshold, min_idf
        held = score(1)
        print(f"  coverage weight {cw:.1f} threshold {threshold:.2f} min idf {min_idf:.1f}: "
              f"tune right {tune['answered_right']:.0%} wrong {tune['answered_wrong']:.0%} "
              f"refused {tune['refused']:.0%} | held-out right {held['answered_right']:.0%} "
              f"wrong {held['answered_wrong']:.0%} refused {held['refused']:.0%}")
    (answer_mod.COVERAGE_WEIGHT, answer_mod.MARGIN_WEIGHT, answer_mod.ANSWER_THRESHOLD,
     answer_mod.MIN_MATCHED_IDF) = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--large", action="store_true", help="also run 50,000 entries (slow)")
    parser.add_argument("--calibrate", action="store_true", help="re-tune the confidence settings")
    args = parser.parse_args()
    data = load_questions()
    questions = [item["q"] for item in data["answerable"]] + list(data["out_of_scope"])

    with tempfile.TemporaryDirectory(prefix="bench-ask-") as tmp:
        workdir = Path(tmp)
        index_dir = workdir / "index-shipped"
        open_answerer(KB_DIR, index_dir).close()
        times = []
        for _ in range(3):
            start = time.perf_counter()
            open_answerer(KB_DIR, index_dir, rebuild=True).close()
            times.append(time.perf_counter() - start)
        shipped = open_answerer(KB_DIR, index_dir)
        print(f"shipped KB ({len(shipped.kb.entries)} entries): rebuild {statistics.median(times):.2f} s "
              f"(goal < 2 s) | cold `iwp-trainer ask` {cold_ask(KB_DIR, index_dir, questions[0]):.2f} s "
              f"(goal < 0.5 s)")
        q = quality(shipped, data)
        print(f"quality on {len(data['answerable'])} answerable + {len(data['out_of_scope'])} out-of-scope "
              f"questions: top-1 {q['top1']:.1%} (plain BM25 baseline {bm25_baseline_top1(data):.1%}) | "
              f"answered and right {q['answered_right']:.1%}, answered but wrong {q['answered_wrong']:.1%} | "
              f"out-of-scope refused {q['refused']:.1%}")
        if args.calibrate:
            calibrate(shipped, data)
        shipped.close()
        sizes = list(args.sizes) + ([50000] if args.large and 50000 not in args.sizes else [])
        for size in sizes:
            bench_size(size, questions, workdir)


if __name__ == "__main__":
    main()
