"""How fast and how good is Ask? Prints figures; asserts nothing.

* Shipped KB: full index rebuild time (goal < 2 s) and cold ``iwp-trainer ask`` (goal < 0.8 s).
* Synthetic KBs of 1k and 10k entries (50k with ``--large``), built by recombining the shipped
  entries' questions, aliases and sentences: index build time, cold ``iwp-trainer ask`` with the
  index already built, and query latency p50/p95 over both question sets (goal: p95 < 50 ms at
  1,000 entries; also shown at 10,000).
* Answer quality, side by side, on the test part of ``tests/data/ask_dev.yaml`` (never used for
  fitting or thresholds), on its dev part, and on the older ``tests/data/ask_questions.yaml``:
  plain BM25 (rank_bm25 over question + aliases + body, always answers its top hit), today's rule
  (``Answerer(model="rule")``), the new matcher on the lexical half only (``model="lexical"``,
  what Ask falls back to without the embedding model) and in full (lexical + MiniLM). For each: top-1, answered-and-right,
  "did you mean" with the right entry, confident-wrong, out-of-scope refused / offered a "did you
  mean" / answered.
* The new confidence's reliability table (predicted vs observed, dev and test) and its
  accuracy/refusal trade-off as the answer threshold moves.
* Latency p50/p95 per question and peak memory (this process, and a cold CLI process).
* ``--calibrate``: re-tunes today's rule on every other question of the old set (how its
  constants were chosen; kept for the baseline).

    .venv/bin/python bench/bench_ask.py [--sizes 1000 10000] [--large] [--calibrate] [--quick]
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
DEV_SET = ROOT / "tests" / "data" / "ask_dev.yaml"


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


def cold_ask(kb_dir: Path, index_dir: Path, question: str, runs: int = 3, lexical: bool = False) -> float:
    """Median wall time of ``iwp-trainer ask`` as a new process (index and entry vectors already
    built); ``lexical``: with the semantic model switched off (IWP_TRAINER_SEMANTIC_MODEL=off)."""
    import os

    cmd = [sys.executable, "-m", "iwp_trainer", "--kb", str(kb_dir), "--index", str(index_dir), "ask", question]
    env = dict(os.environ)
    if lexical:
        env["IWP_TRAINER_SEMANTIC_MODEL"] = "off"
    else:
        env.pop("IWP_TRAINER_SEMANTIC_MODEL", None)
    subprocess.run(cmd, capture_output=True, check=True, env=env)  # warm the OS file cache, build if needed
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, env=env)
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
    start = time.perf_counter()
    semantic = answerer.settle()
    embed_s = time.perf_counter() - start
    latencies = []
    for q in questions:
        start = time.perf_counter()
        answerer.ask(q)
        latencies.append((time.perf_counter() - start) * 1000)
    lexical = open_answerer(kb_dir, index_dir, model="lexical")
    lex_latencies = []
    for q in questions:
        start = time.perf_counter()
        lexical.ask(q)
        lex_latencies.append((time.perf_counter() - start) * 1000)
    lexical.close()
    suggest = []
    for q in questions:
        for cut in range(1, min(len(q), 25), 4):
            start = time.perf_counter()
            answerer.suggest(q[:cut])
            suggest.append((time.perf_counter() - start) * 1000)
    answerer.close()
    cold = cold_ask(kb_dir, index_dir, questions[0])
    cold_lex = cold_ask(kb_dir, index_dir, questions[0], lexical=True)
    print(f"{len(kb.entries):>6} entries: load_kb {load_s:6.2f} s | open+build index {build_s:6.2f} s | "
          f"embed entries (first build, background) {embed_s:6.2f} s{'' if semantic else ' (model NOT loaded)'}\n"
          f"        in full: ask p50 {percentile(latencies, 50):5.1f} ms p95 {percentile(latencies, 95):5.1f} ms | "
          f"cold `iwp-trainer ask` {cold:5.2f} s\n"
          f"        lexical half only: ask p50 {percentile(lex_latencies, 50):5.1f} ms "
          f"p95 {percentile(lex_latencies, 95):5.1f} ms | cold `iwp-trainer ask` {cold_lex:5.2f} s | "
          f"suggest-as-you-type p95 {percentile(suggest, 95):5.1f} ms")


# --------------------------------------------------------------------------------------------
# Quality


class PlainBM25:
    """rank_bm25 over each entry's question + aliases + body; always "answers" with its top hit."""

    def __init__(self) -> None:
        from rank_bm25 import BM25Okapi

        self.entries = list(load_kb(KB_DIR))
        self.bm25 = BM25Okapi([self.tokens(" ".join([e.question, *e.aliases, plain_text(e.body)]))
                               for e in self.entries])

    @staticmethod
    def tokens(text: str) -> list[str]:
        return re.findall(r"\w+", text.lower())

    def ask(self, question: str):
        from iwp_trainer.answer import Answer, Match

        scores = self.bm25.get_scores(self.tokens(question))
        best = max(range(len(self.entries)), key=lambda i: scores[i])
        return Answer(question, True, [Match(self.entries[best], float(scores[best]))], 1.0, "")


def dev_set() -> dict:
    return yaml.safe_load(DEV_SET.read_text(encoding="utf-8"))


def labelled(split: str) -> tuple[list[dict], list[str]]:
    """(answerable items with a set of right entries, out-of-scope questions) for a split."""
    if split == "old":
        data = load_questions()
        return ([{"q": i["q"], "expect": [i["expect"]]} for i in data["answerable"]], list(data["out_of_scope"]))
    data = dev_set()
    return ([i for i in data["answerable"] if i["split"] == split],
            [i["q"] for i in data["out_of_scope"] if i["split"] == split])


def is_right(answer, item: dict) -> bool:
    definition = getattr(answer, "definition", None)
    if getattr(answer, "outcome", "") == "definition" and definition is not None:
        return definition.term == item.get("term") or (definition.entry is not None
                                                       and definition.entry.id in item["expect"])
    return bool(answer.matches) and answer.matches[0].entry.id in item["expect"]


def quality(answerer, items: list[dict], oos: list[str]) -> dict[str, float]:
    answers = [answerer.ask(item["q"]) for item in items]
    right = [is_right(a, item) for a, item in zip(answers, items)]
    outcome = [getattr(a, "outcome", "answer" if a.answered else "refusal") for a in answers]
    out = [answerer.ask(q) for q in oos]
    n, m = max(len(items), 1), max(len(oos), 1)
    return {
        "top1": sum(right) / n,
        "answered_right": sum(a.answered and ok for a, ok in zip(answers, right)) / n,
        "suggest_right": sum(o == "suggest" and ok for o, ok in zip(outcome, right)) / n,
        "confident_wrong": sum(a.answered and not ok for a, ok in zip(answers, right)),
        "refused_answerable": sum(o == "refusal" for o in outcome) / n,
        "oos_refused": sum(getattr(a, "outcome", "answer" if a.answered else "refusal") == "refusal"
                           for a in out) / m,
        "oos_suggest": sum(getattr(a, "outcome", "") == "suggest" for a in out),
        "oos_answered": sum(a.answered for a in out),
    }


def side_by_side(shipped, rule, lexical) -> None:
    matchers = [("plain BM25 (rank-bm25)", PlainBM25()), ("today's rule", rule),
                ("new, lexical half only", lexical), ("new, in full (+ MiniLM)", shipped)]
    for split in ("test", "dev", "old"):
        items, oos = labelled(split)
        name = {"test": "TEST part of ask_dev.yaml", "dev": "dev part of ask_dev.yaml",
                "old": "tests/data/ask_questions.yaml"}[split]
        print(f"\n{name}: {len(items)} answerable, {len(oos)} out of scope")
        print(f"  {'matcher':26} {'top-1':>6} {'answered':>9} {'did-you-':>9} {'confident':>10} "
              f"{'refused':>8} | {'out of scope:':>13} {'refused':>8} {'did-you-':>8} {'answered':>8}")
        print(f"  {'':26} {'':>6} {'& right':>9} {'mean ok':>9} {'& wrong':>10} {'(ans.)':>8} | "
              f"{'':>13} {'':>8} {'mean':>8} {'':>8}")
        for label, matcher in matchers:
            q = quality(matcher, items, oos)
            print(f"  {label:26} {q['top1']:6.1%} {q['answered_right']:9.1%} {q['suggest_right']:9.1%} "
                  f"{q['confident_wrong']:10d} {q['refused_answerable']:8.1%} | {'':>13} {q['oos_refused']:8.1%} "
                  f"{q['oos_suggest']:8d} {q['oos_answered']:8d}")


def reliability(shipped, label: str = "in full") -> None:
    """Predicted confidence against how often the top entry was right, and the threshold trade-off."""
    from iwp_trainer.answer import definition_term

    model = shipped.model
    print(f"\n== the new matcher, {label}: thresholds answer >= {model.answer_at}, "
          f"did you mean >= {model.suggest_at}")
    for split in ("dev", "test"):
        items, oos = labelled(split)
        points = []
        for item in items:
            if definition_term(item["q"], shipped.kb.glossary) is not None:
                continue  # definitions are not scored by the model
            a = shipped.ask(item["q"])
            points.append((a.confidence, is_right(a, item), False))
        for q in oos:
            a = shipped.ask(q)
            points.append((a.confidence, False, True))
        print(f"\nreliability on {split} ({len(points)} questions scored by the model; out of scope count as wrong):")
        print(f"  {'confidence':>12} {'questions':>10} {'mean predicted':>15} {'observed right':>15}")
        edges = [0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99, 1.0001]
        for lo, hi in zip(edges, edges[1:]):
            inside = [(p, ok) for p, ok, _ in points if lo <= p < hi]
            if inside:
                print(f"  {lo:5.2f}-{min(hi, 1.0):4.2f}  {len(inside):10d} {statistics.mean(p for p, _ in inside):15.2f} "
                      f"{sum(ok for _, ok in inside) / len(inside):15.2f}")
        print(f"  trade-off on {split} as the answer threshold moves (shipped: {model.answer_at}):")
        print(f"  {'threshold':>10} {'answered & right':>17} {'answered & wrong':>17} {'out of scope answered':>22}")
        n_items = sum(1 for _, _, o in points if not o) or 1
        for t in sorted({0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, model.suggest_at, model.answer_at}):
            ar = sum(p >= t and ok for p, ok, o in points if not o) / n_items
            aw = sum(p >= t and not ok for p, ok, o in points if not o)
            ao = sum(p >= t for p, _, o in points if o)
            print(f"  {t:10.3f} {ar:17.1%} {aw:17d} {ao:22d}")


def calibrate(answerer, data: dict) -> None:
    """Grid-search the confidence settings on even-numbered questions; report on the odd ones."""
    def split(items: list, half: int) -> list:
        return items[half::2]

    def score(half: int) -> dict[str, float]:
        items = [{"q": i["q"], "expect": [i["expect"]]} for i in split(data["answerable"], half)]
        q = quality(answerer, items, split(data["out_of_scope"], half))
        return {"answered_right": q["answered_right"], "answered_wrong": q["confident_wrong"] / max(len(items), 1),
                "refused": q["oos_refused"]}

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
    parser.add_argument("--calibrate", action="store_true", help="re-tune today's rule (the baseline)")
    args = parser.parse_args()
    data = load_questions()
    dev = dev_set()
    questions = ([item["q"] for item in data["answerable"]] + list(data["out_of_scope"])
                 + [i["q"] for i in dev["answerable"] + dev["out_of_scope"]])

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
        start = time.perf_counter()
        if not shipped.settle():
            print(f"WARNING: the semantic model did not load ({shipped.notice}); 'in full' = lexical half")
        settle_s = time.perf_counter() - start
        print(f"shipped KB ({len(shipped.kb.entries)} entries): rebuild {statistics.median(times):.2f} s "
              f"(goal < 2 s) | model + entry vectors ready {settle_s:.2f} s after the index "
              f"| cold `iwp-trainer ask`: in full {cold_ask(KB_DIR, index_dir, questions[0]):.2f} s, "
              f"lexical half only {cold_ask(KB_DIR, index_dir, questions[0], lexical=True):.2f} s (goal < 0.8 s)")
        rule = open_answerer(KB_DIR, index_dir, model="rule")
        lexical = open_answerer(KB_DIR, index_dir, model="lexical")
        side_by_side(shipped, rule, lexical)
        reliability(shipped, "in full")
        reliability(lexical, "lexical half only")
        for label, matcher in (("in full", shipped), ("lexical half only", lexical)):
            latencies = []
            for q in questions:
                start = time.perf_counter()
                matcher.ask(q)
                latencies.append((time.perf_counter() - start) * 1000)
            print(f"\nshipped KB, {label}: ask p50 {percentile(latencies, 50):.1f} ms "
                  f"p95 {percentile(latencies, 95):.1f} ms over {len(questions)} questions")
        lexical.close()
        if args.calibrate:
            calibrate(rule, data)
        shipped.close()
        rule.close()
        sizes = list(args.sizes) + ([50000] if args.large and 50000 not in args.sizes else [])
        for size in sizes:
            bench_size(size, questions, workdir)
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak memory: this process {own:.0f} MB; largest cold `iwp-trainer ask` process {child:.0f} MB")


if __name__ == "__main__":
    main()
