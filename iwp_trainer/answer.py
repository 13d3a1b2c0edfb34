"""Answering a coach's question from the knowledge base, or saying plainly that it cannot.

A wrong answer about sanctions or reallocation is worse than no answer, so the answerer only
claims an answer when it can trust it. Trust is judged on more than the raw BM25F score:

* coverage: the share of the question's meaningful words (weighted by how telling each word is)
  that the top entry contains. "What's the weather in Leeds" covers nothing; "how much is child
  benefit" covers only "benefit".
* margin: how far the top entry is ahead of the runner-up.
* strength: the top score relative to what the question's words could score at all.

The thresholds were calibrated on ``tests/data/ask_questions.yaml`` (see ``bench/bench_ask.py``).
"""

from __future__ import annotations

import bisect
import heapq
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from iwp_trainer.kb import Entry, KnowledgeBase, load_kb

ProgressFn = Callable[[int, int], None]

# Calibrated on tests/data/ask_questions.yaml: tuned on every other question, checked on the rest
# (`python bench/bench_ask.py --calibrate` repeats it). Confidence is in [0, 1].
ANSWER_THRESHOLD = 0.65
COVERAGE_WEIGHT = 0.9
MARGIN_WEIGHT = 0.1
# The matched words must also be telling: words found in most entries ("work", "time") alone are not.
MIN_MATCHED_IDF = 1.5
# How strongly coverage reorders BM25F hits (0 = plain BM25F order).
COVERAGE_RERANK = 1.0


class AskError(Exception):
    """Ask cannot start (no KB folder, index folder not writable): a message for the user."""


@dataclass(frozen=True)
class Match:
    """One entry offered for a question, with its search score (higher is better)."""

    entry: Entry
    score: float


@dataclass(frozen=True)
class Answer:
    """The outcome of one question: an answer to trust, or the closest topics and why not."""

    question: str
    answered: bool
    matches: list[Match]
    confidence: float
    reason: str
    unknown_words: tuple[str, ...] = ()
    corrections: tuple[tuple[str, str], ...] = ()

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None


@dataclass(frozen=True)
class Features:
    """What confidence is computed from (exposed for calibration and the benchmark).

    ``matched_idf``/``missing_idf``: summed idf of the question's concepts the top entry has / lacks;
    ``coverage`` = matched / (matched + missing); ``margin``: lead over the runner-up, 0..1.
    """

    coverage: float
    margin: float
    concepts: int
    matched: int
    matched_idf: float = 0.0
    missing_idf: float = 0.0


def confidence_of(features: Features) -> float:
    """Combine coverage and margin into a confidence in [0, 1]."""
    if features.concepts == 0:
        return 0.0
    base = COVERAGE_WEIGHT * features.coverage + MARGIN_WEIGHT * features.margin
    if features.matched_idf < MIN_MATCHED_IDF:
        # Only common words matched: however complete, that is not enough to trust.
        base = min(base, ANSWER_THRESHOLD * 0.99 * features.matched_idf / MIN_MATCHED_IDF)
    return max(0.0, min(1.0, base))


def is_answered(features: Features) -> bool:
    """Trust the top entry only with enough confidence and at least one telling word matched."""
    return confidence_of(features) >= ANSWER_THRESHOLD


def rerank(result) -> list:
    """Hits ordered by BM25F score scaled up by how much of the question each one covers.

    Plain BM25F lets one frequent word outweigh several of the question's words; scaling by
    idf-weighted coverage prefers the entry that answers the whole question.
    """
    total = sum(c.idf for c in result.concepts) or 1.0

    def adjusted(hit) -> float:
        covered = sum(result.concepts[i].idf for i in hit.matched)
        return hit.score * (1.0 + COVERAGE_RERANK * covered / total)

    return sorted(((adjusted(h), h) for h in result.hits), key=lambda pair: -pair[0])


_WORD = re.compile(r"\w+", re.UNICODE)


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


class _Suggester:
    """Prefix completion over entry questions and aliases, for search-as-you-type.

    Every word typed must start a word of the question or alias (earlier words may be shortened
    too). Texts are numbered in display order (questions first, then shorter first), postings are
    sorted lists, and candidates are generated lazily from the most selective word: a keystroke
    costs a few bisects and stops as soon as ``limit`` entries are found.
    """

    def __init__(self, kb: KnowledgeBase) -> None:
        texts = [(kind, len(text), text, entry)
                 for entry in kb
                 for kind, text in [(0, entry.question)] + [(1, alias) for alias in entry.aliases]]
        texts.sort(key=lambda t: (t[0], t[1], t[2], t[3].id))
        self.entries: list[Entry] = [t[3] for t in texts]
        self.words: list[tuple[str, ...]] = []
        postings: dict[str, list[int]] = {}
        for index, (_, _, text, _) in enumerate(texts):
            words = tuple(sorted(set(_words(text))))
            self.words.append(words)
            for word in words:
                postings.setdefault(word, []).append(index)  # ascending: display order
        self.vocab = sorted(postings)
        self.postings = postings

    def _prefixed(self, prefix: str) -> list[str]:
        start = bisect.bisect_left(self.vocab, prefix)
        end = bisect.bisect_left(self.vocab, prefix + "\U0010ffff", start)
        return self.vocab[start:end]

    def _has(self, index: int, prefix: str) -> bool:
        return any(word.startswith(prefix) for word in self.words[index])

    def suggest(self, text: str, limit: int) -> list[Entry]:
        typed = list(dict.fromkeys(_words(text[:500])))
        if not typed or limit <= 0:
            return []
        matches = {prefix: self._prefixed(prefix) for prefix in typed}
        if not all(matches.values()):
            return []
        # Drive from the word with the fewest postings; check the others text by text.
        driver = min(typed, key=lambda p: sum(len(self.postings[w]) for w in matches[p]))
        others = [p for p in typed if p != driver]
        out: list[Entry] = []
        seen: set[str] = set()
        last = -1
        for index in heapq.merge(*(self.postings[w] for w in matches[driver])):
            if index == last:
                continue
            last = index
            entry = self.entries[index]
            if entry.id in seen or not all(self._has(index, p) for p in others):
                continue
            seen.add(entry.id)
            out.append(entry)
            if len(out) >= limit:
                break
        return out


class Answerer:
    """Answers questions against one KB and its index. Safe to call from a worker thread."""

    def __init__(self, kb: KnowledgeBase, index, kb_dir: Path | None = None,
                 index_dir: Path | None = None) -> None:
        self.kb = kb
        self.index = index
        self._kb_dir = kb_dir
        self._index_dir = index_dir
        self._lock = threading.Lock()
        self._suggester: _Suggester | None = None

    # -- questions

    def features(self, result) -> tuple[list[tuple[float, object]], Features]:
        """Reranked hits (only entries this KB has) and the confidence features of the top one."""
        ranked = [(score, hit) for score, hit in rerank(result) if hit.id in self.kb.entries]
        concepts = result.concepts
        if not concepts or not ranked:
            return ranked, Features(0.0, 0.0, len(concepts), 0, 0.0, sum(c.idf for c in concepts))
        top_score, top = ranked[0]
        matched_idf = sum(concepts[i].idf for i in top.matched)
        missing_idf = sum(c.idf for i, c in enumerate(concepts) if i not in top.matched)
        total = matched_idf + missing_idf
        coverage = matched_idf / total if total > 0 else 0.0
        runner_up = ranked[1][0] if len(ranked) > 1 else 0.0
        margin = (top_score - runner_up) / top_score if top_score > 0 else 0.0
        return ranked, Features(coverage, max(0.0, margin), len(concepts), len(top.matched),
                                matched_idf, missing_idf)

    def _search(self, question: str, limit: int):
        from iwp_trainer.search import SearchIndexError, open_index

        try:
            return self.index.search(question, self.kb.glossary, limit=limit)
        except Exception:
            # A damaged index found mid-session: rebuild it once, then carry on.
            if self._kb_dir is None or self._index_dir is None:
                raise
            with self._lock:
                try:
                    self.index.close()
                    self.index = open_index(self._index_dir, self.kb, self._kb_dir, rebuild=True)
                except SearchIndexError:
                    raise
            return self.index.search(question, self.kb.glossary, limit=limit)

    def ask(self, question: str, top: int = 3) -> Answer:
        """Answer ``question`` (any text at all) with up to ``top`` matches, best first."""
        top = max(1, int(top))
        text = question if isinstance(question, str) else str(question)
        if not text.strip():
            return Answer(text, False, [], 0.0, "Type a question to search the knowledge base.")
        try:
            result = self._search(text, limit=max(top, 20))
        except Exception as exc:  # never let a question crash the app
            return Answer(text, False, [], 0.0, f"The search index is unavailable ({type(exc).__name__}).")
        ranked, features = self.features(result)
        matches = [Match(self.kb.entries[h.id], round(score, 4)) for score, h in ranked[:top]]
        unknown = tuple(c.typed or c.word for c in result.concepts if not c.known)
        corrections = tuple((c.typed or c.word, c.corrected_word or c.corrected)
                            for c in result.concepts if c.corrected)
        if not result.concepts:
            return Answer(text, False, [], 0.0,
                          "The question has no words to search for; try describing the situation.")
        if not ranked:
            return Answer(text, False, [], 0.0, "Nothing in the knowledge base matches these words.",
                          unknown, corrections)
        confidence = confidence_of(features)
        answered = is_answered(features)
        missing = [result.concepts[i].typed or result.concepts[i].word for i in range(len(result.concepts))
                   if i not in ranked[0][1].matched]
        if answered:
            reason = (f"The top entry covers {features.matched} of the {features.concepts} key words "
                      f"of the question.")
        elif features.coverage < ANSWER_THRESHOLD or features.matched_idf < MIN_MATCHED_IDF:
            quoted = [f"“{word}”" for word in missing[:5]]
            shown = " or ".join(quoted) if len(quoted) < 3 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
            reason = (f"The knowledge base does not cover this question well: the closest entries "
                      f"do not mention {shown}." if shown
                      else "The knowledge base does not cover this question well.")
        else:
            reason = "Several entries match about equally well; check the closest topics."
        return Answer(text, answered, matches, round(confidence, 4), reason, unknown, corrections)

    # -- search as you type

    def suggest(self, text: str, limit: int = 8) -> list[Entry]:
        """Entries whose question or an alias completes what has been typed so far."""
        if self._suggester is None:
            with self._lock:
                if self._suggester is None:
                    self._suggester = _Suggester(self.kb)
        return self._suggester.suggest(text if isinstance(text, str) else str(text), limit)

    def close(self) -> None:
        self.index.close()


def open_answerer(kb_dir: Path, index_dir: Path, progress: ProgressFn | None = None,
                  rebuild: bool = False) -> Answerer:
    """Load the KB and open its index (building it if needed). Raises :class:`AskError`."""
    from iwp_trainer.search import SearchIndexError, kb_fingerprint, load_snapshot, open_index

    kb_dir = Path(kb_dir)
    if not kb_dir.is_dir():
        raise AskError(f"knowledge base folder not found: {kb_dir} (pass --kb DIR or set IWP_TRAINER_KB)")
    fingerprint = kb_fingerprint(kb_dir)
    # An index built from exactly these files carries the parsed KB: no need to parse it again.
    kb = None if rebuild else load_snapshot(Path(index_dir), fingerprint)
    if kb is None:
        kb = load_kb(kb_dir)
    try:
        index = open_index(Path(index_dir), kb, kb_dir, progress=progress, rebuild=rebuild,
                           fingerprint=fingerprint)
    except SearchIndexError as exc:
        raise AskError(str(exc)) from None
    return Answerer(kb, index, kb_dir, Path(index_dir))
