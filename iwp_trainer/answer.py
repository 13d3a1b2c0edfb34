"""Answering a coach's question from the knowledge base, or saying plainly that it cannot.

A wrong answer about sanctions or reallocation is worse than no answer, so there are three
outcomes (:data:`OUTCOMES`):

* **answer**: the calibrated confidence (:mod:`iwp_trainer.ask_model`) is high enough to trust
  the top entry;
* **"did you mean …?"** (``suggest``): likely but not certain; the top entry's question is offered
  and opens with one key, the other candidates stay listed;
* **refusal**: only the candidates above a relevance floor are listed (possibly none), with the
  line manager / district support route.

A question that only asks what a glossary term means ("whats an AWC", "what does FSF stand for")
is a **definition**, answered from the glossary and linked to the KB entry about the term.

The old hand-set rule (coverage and margin against fixed thresholds) is kept as
``Answerer(..., model="rule")``: it is the baseline ``bench/bench_ask.py`` compares against, and
what Ask falls back to when the model file cannot be read.
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

OUTCOMES = ("answer", "definition", "suggest", "refusal")
CANDIDATES = 10  # how many of the lexical hits the ranker re-orders

# Today's rule, kept as the baseline: calibrated on tests/data/ask_questions.yaml (tuned on every
# other question, checked on the rest). Confidence is in [0, 1].
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
class Definition:
    """A glossary term the question asked about, and the KB entry where the sources discuss it."""

    term: str
    meaning: str
    entry: Entry | None = None


@dataclass(frozen=True)
class Answer:
    """The outcome of one question: an answer to trust, a "did you mean", or the closest topics.

    ``answered`` is true only for a trusted answer (or a definition); ``outcome`` is one of
    :data:`OUTCOMES`; for ``suggest`` the first match is the entry offered.
    """

    question: str
    answered: bool
    matches: list[Match]
    confidence: float
    reason: str
    unknown_words: tuple[str, ...] = ()
    corrections: tuple[tuple[str, str], ...] = ()
    outcome: str = ""
    definition: Definition | None = None
    kind: str = "other"

    def __post_init__(self) -> None:
        if not self.outcome:
            object.__setattr__(self, "outcome", "answer" if self.answered else "refusal")

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None

    @property
    def suggestion(self) -> Entry | None:
        """The entry a "did you mean …?" offers (None for the other outcomes)."""
        return self.matches[0].entry if self.outcome == "suggest" and self.matches else None


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


_DEFINE_PATTERNS = tuple(re.compile(p) for p in (
    r"^(?:what|wat|wot)\s*(?:'s|s|is|are|r)?\s+(?:an?\s+|the\s+)?(?P<x>.+?)$",
    r"^(?:what|wat)\s+(?:does|do|dose)\s+(?:an?\s+|the\s+)?(?P<x>.+?)\s+(?:stand\s+for|mean|means|"
    r"short\s+for|abbreviate|refer\s+to)$",
    r"^(?:what|wat)(?:'s|s|\s+is)\s+(?:an?\s+|the\s+)?(?P<x>.+?)\s+(?:short\s+for|stand\s+for|mean)$",
    r"^(?:define|definition\s+of|meaning\s+of|explain)\s+(?:an?\s+|the\s+)?(?P<x>.+?)$",
    r"^(?P<x>.+?)\s+(?:stands?\s+for(?:\s+what)?|meaning|means?(?:\s+what)?(?:\s+again)?|definition|"
    r"full\s+name|short\s+for|=)$",
    r"^(?P<x>[^\s]+)$",
))
_DEFINE_FILLERS = re.compile(r"\b(?:actually|exactly|again|even|please|pls|then|basically|an|a|the)\b")


def definition_term(question: str, glossary) -> object | None:
    """The glossary term a question only asks the meaning of ("whats an AWC"), else None."""
    if glossary is None or not len(glossary):
        return None
    text = " ".join(str(question).replace("’", "'").split()).strip(" ?!.")
    if not text or len(text) > 80:
        return None
    lowered = text.lower()
    if len(lowered) != len(text):  # a few characters change length when lower-cased
        text = lowered
    for pattern in _DEFINE_PATTERNS:
        match = pattern.match(lowered)
        if not match:
            continue
        start, end = match.span("x")
        candidate = text[start:end].strip(" ?!.'\"")
        for form in (candidate, " ".join(_DEFINE_FILLERS.sub(" ", candidate).split())):
            if form:
                term = glossary.lookup(form)
                if term is not None and not _case_mismatch(term, form):
                    return term
    return None


def _case_mismatch(term, typed: str) -> bool:
    """"is" is not "IS" (Income Support): an acronym that is also a common word must be typed as one."""
    from iwp_trainer.glossary import _case_sensitive

    return any(_case_sensitive(form) and form.lower() == typed.lower() and form != typed for form in term.forms)


def _plain(text: str) -> str:
    return " ".join(_words(text))


SEM_CANDIDATES = 5  # entries the semantic half adds as candidates when the lexical half missed them


class SemanticHalf:
    """The embedding model and the KB's entry vectors, loaded in a background thread.

    Started before the KB and the index are opened (the model needs neither), so its second of
    loading overlaps theirs; :meth:`attach` hands it the KB and the index build folder for the
    entry vectors (cached there). :meth:`wait` blocks until it is ready or has failed; ``error``
    then says why, for the user.
    """

    def __init__(self, progress: ProgressFn | None = None) -> None:
        self.embedder = None
        self.vectors = None
        self.error = ""
        self._progress = progress
        self._attached = threading.Event()
        self._done = threading.Event()
        self._kb = None
        self._build: Path | None = None
        self._others: list[Path] = []
        self._stop = threading.Event()
        # Not a daemon: onnxruntime aborts the process if the interpreter exits under a session
        # being built. Closing (or exiting) stops it between batches instead.
        self._thread = threading.Thread(target=self._run, name="ask-semantic", daemon=False)
        self._thread.start()

    def attach(self, kb: KnowledgeBase, build: Path | None, others: list[Path] | None = None) -> None:
        self._kb, self._build, self._others = kb, build, list(others or [])
        self._attached.set()

    def cancel(self, why: str = "not needed") -> None:
        """Stop waiting for a KB (the index could not be opened)."""
        if not self._attached.is_set():
            self.error = why
            self._attached.set()

    def close(self) -> None:
        """Stop (between batches) and wait for the thread: nothing may run on after the answerer."""
        self._stop.set()
        self.cancel("closed")
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        from iwp_trainer.semantic import SemanticUnavailable, entry_vectors, load_embedder

        try:
            embedder = load_embedder()
            self._attached.wait()
            if self._kb is None or self._stop.is_set():
                return
            self.vectors = entry_vectors(self._kb, self._build, embedder, self._progress, self._others,
                                         stop=self._stop.is_set)
            self.embedder = embedder
        except SemanticUnavailable as exc:
            self.error = str(exc)
        except Exception as exc:  # never let the second signal stop Ask
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        """True when the model and the vectors are ready (waiting up to ``timeout`` seconds)."""
        self._done.wait(timeout)
        return self._done.is_set() and self.vectors is not None and self.embedder is not None


class Answerer:
    """Answers questions against one KB and its index. Safe to call from a worker thread.

    ``model``: ``None`` for the shipped calibrated model, ``"rule"`` for today's hand-set rule (the
    baseline), or an :class:`~iwp_trainer.ask_model.AskModel`. When the model file cannot be read,
    Ask uses the rule and :attr:`notice` says so (once, for the caller to show).
    """

    def __init__(self, kb: KnowledgeBase, index, kb_dir: Path | None = None,
                 index_dir: Path | None = None, model=None, semantic: SemanticHalf | None = None) -> None:
        from iwp_trainer.ask_model import AskModelError, load_model

        self.kb = kb
        self.index = index
        self._kb_dir = kb_dir
        self._index_dir = index_dir
        self._lock = threading.Lock()
        self._settle_lock = threading.Lock()
        self._suggester: _Suggester | None = None
        self._profiles: dict[str, object] = {}
        self._term_entries: dict[str, Entry | None] = {}
        self._heads: dict | None = None
        self._exact: dict | None = None
        self.notice = ""
        self._semantic = semantic
        self._settled = semantic is None
        self._auto = model is None
        self.embedder = None
        self.vectors = None
        self._entry_pos: dict[str, int] = {}
        self.semantic_on = False  # whether questions are matched on meaning too (see settle)
        self._model = None
        if model == "rule":
            self._model = None
        elif model in (None, "lexical"):
            try:
                self._model = load_model(variant="lexical")
            except AskModelError as exc:
                self._model = None
                self.notice = f"{exc}; Ask is using its simpler word-matching rule."
        else:
            self._model = model

    @property
    def model(self):
        """The model in use (None: today's rule). Settles the semantic half first (see :meth:`settle`)."""
        if not self._settled:
            self.settle()
        return self._model

    @model.setter
    def model(self, value) -> None:
        self._model = value

    def settle(self, timeout: float | None = None) -> bool:
        """Wait for the semantic half (loading in the background) and choose the model accordingly.

        With the embedding model loaded, the shipped hybrid model is used; without it (not
        installed, a file that is not the pinned one, onnxruntime missing), the lexical model,
        and :attr:`notice` says so once. Returns whether the semantic half is in use.
        """
        if self._settled:
            return self.semantic_on
        half = self._semantic
        if half is not None and not half.wait(timeout) and not half._done.is_set():
            return False  # still loading (only with a timeout)
        with self._settle_lock:
            if self._settled:
                return self.semantic_on
            from iwp_trainer.ask_model import AskModelError, load_model

            if half is not None and half.vectors is not None and half.embedder is not None:
                self.embedder, self.vectors = half.embedder, half.vectors
                self._entry_pos = {entry_id: n for n, entry_id in enumerate(half.vectors.ids)}
                if self._auto:
                    try:
                        self._model = load_model(variant="hybrid")
                        self.semantic_on = True
                    except AskModelError as exc:
                        self.notice = self.notice or f"{exc}; Ask is matching words only."
                else:
                    self.semantic_on = bool(getattr(self._model, "semantic", False))
            elif half is not None and half.error and self._auto:
                self.notice = self.notice or (f"The semantic model is not available ({half.error}); "
                                              "Ask is matching words only.")
            self._settled = True
        return self.semantic_on

    # -- questions

    def features(self, result) -> tuple[list[tuple[float, object]], Features]:
        """Reranked hits (only entries this KB has) and the rule's confidence features of the top one."""
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

    def _term_idf(self, term: str) -> float:
        index = self.index
        if not hasattr(index, "_idf"):
            return 1.0
        return index._idf(index._df(term))

    def _profile(self, entry: Entry):
        from iwp_trainer.ask_model import profile
        from iwp_trainer.search import analyse

        prof = self._profiles.get(entry.id)
        if prof is None:
            prof = profile(entry, analyse)
            if len(self._profiles) < 100_000:
                self._profiles[entry.id] = prof
        return prof

    def _similarities(self, text: str, mask_text: str | None = None):
        """(best question/alias cosine, body cosine) of every entry to ``text`` (numpy arrays in
        the order of ``self.vectors.ids``), or None when the semantic half is not in use."""
        if not self.semantic_on or self.vectors is None or self.embedder is None or not text.strip():
            return None
        qvec = self.embedder.encode([text[:2000]])[0]
        return self.vectors.scores(qvec, mask_text)

    def signals(self, result, kind: str, text: str = "", mask_text: str | None = None,
                ) -> tuple[list[tuple[float, object, dict[str, float]]], dict[str, float]]:
        """Candidates ordered by the ranker, each (probability, hit, signals), and the confidence signals.

        With the semantic half in use (``text`` given), the entries closest in meaning join the
        candidates, and every candidate gets its similarity signals. ``mask_text``: for fitting
        on an entry's own alias, leave that alias out of the similarities.
        Exposed for fitting (``bench/fit_ask_model.py``) and the benchmark.
        """
        from iwp_trainer.ask_model import candidate_signals, confidence_signals

        model = self.model
        hits = [hit for _, hit in rerank(result) if hit.id in self.kb.entries][:CANDIDATES]
        if not result.concepts:
            return [], {}
        hits += self._whole_heads(result, {h.id for h in hits}, min((h.score for h in hits), default=0.0))
        sims = self._similarities(text, mask_text)
        if sims is not None:
            hits += self._close_in_meaning(result, sims, {h.id for h in hits})
        if not hits:
            return [], {}
        top_score = max(h.score for h in hits)
        idf = self._term_idf
        best_head = float(sims[0].max()) if sims is not None and len(sims[0]) else 0.0
        scored = []
        for n, hit in enumerate(hits):
            sig = candidate_signals(result.concepts, hit, top_score, self._profile(self.kb.entries[hit.id]),
                                    kind, n == 0, idf)
            if sims is not None:
                pos = self._entry_pos.get(hit.id)
                head = float(sims[0][pos]) if pos is not None else 0.0
                sig["sem_head"] = head
                sig["sem_body"] = float(sims[1][pos]) if pos is not None else 0.0
                sig["sem_rel"] = head - best_head
            scored.append((model.ranker.prob(sig) if model is not None else 0.0, n, hit, sig))
        scored.sort(key=lambda t: (-t[0], t[1]))
        ranked = [(p, hit, sig) for p, _, hit, sig in scored]
        max_idf = self.index._idf(0) if hasattr(self.index, "_idf") else 0.0
        sem = None
        if sims is not None:
            top = ranked[0][2]
            pos = self._entry_pos.get(ranked[0][1].id)
            others = sims[0].copy()
            if pos is not None:
                others[pos] = -1.0
            sem = {"sem_top": top["sem_head"], "sem_body_top": top["sem_body"],
                   "sem_lead": top["sem_head"] - (float(others.max()) if len(others) else 0.0),
                   "sem_max": best_head}
        conf = confidence_signals(result.concepts, [(p, sig) for p, _, sig in ranked], ranked[0][1].matched,
                                  max_idf, sem)
        return ranked, conf

    def _close_in_meaning(self, result, sims, seen: set[str]) -> list:
        """The entries most similar in meaning that the lexical half did not find, as candidates:
        what they have of the question's words is read from their questions, aliases and tags."""
        import numpy as np

        from iwp_trainer.search import Hit

        ids = self.vectors.ids
        order = np.argsort(-np.maximum(sims[0], sims[1]))
        extra = []
        for pos in order[: SEM_CANDIDATES + len(seen)]:
            entry_id = ids[int(pos)]
            if entry_id in seen or entry_id not in self.kb.entries:
                continue
            prof = self._profile(self.kb.entries[entry_id])
            terms = prof.tags.union(*prof.heads)
            matched = frozenset(i for i, c in enumerate(result.concepts) if c.terms & terms)
            extra.append(Hit(entry_id, 0.0, matched))
            if len(extra) >= SEM_CANDIDATES:
                break
        return extra

    def _all_heads(self) -> dict[str, list[frozenset[str]]]:
        """Index terms of every entry's question and aliases: saved with the index, else analysed."""
        saved = self.index.heads() if hasattr(self.index, "heads") else None
        out: dict[str, list[frozenset[str]]] = {}
        for entry in self.kb:
            lists = saved.get(entry.id) if saved else None
            if not isinstance(lists, list) or len(lists) != 1 + len(entry.aliases):
                out[entry.id] = list(self._profile(entry).heads)
            else:
                out[entry.id] = [frozenset(terms) for terms in lists]
        return out

    def _own_words(self, result, text: str = "") -> str | None:
        """The one entry whose question or an alias has exactly the question's words (as index
        terms, so case, punctuation, stop words and word endings do not matter), else None.

        This is what makes a trainer's alias work: add the coach's words as an alias, and those
        words answer with that entry.
        """
        if self._exact is None:
            with self._lock:
                if self._exact is None:
                    exact: dict = {}
                    all_heads = self._all_heads()
                    for entry in self.kb:
                        for words, head in zip((entry.question, *entry.aliases), all_heads.get(entry.id, ())):
                            if head:
                                exact.setdefault(head, set()).add(entry.id)
                                exact.setdefault(_plain(words), set()).add(entry.id)
                    self._exact = exact
        owners = self._exact.get(_plain(text), set())
        if len(owners) == 1:  # word for word (two entries may share the same index terms)
            return next(iter(owners))
        typed = frozenset(c.word for c in result.concepts if " " not in c.word)
        owners = self._exact.get(typed, set())
        if len(owners) != 1 and any(c.corrected for c in result.concepts):
            owners = self._exact.get(frozenset(c.corrected or c.word for c in result.concepts
                                               if " " not in c.word), set())
        return next(iter(owners)) if len(owners) == 1 else None

    def _whole_heads(self, result, seen: set[str], floor: float) -> list:
        """Entries one of whose questions or aliases the question contains in full ("What is the
        trial?" asks all of *What is the trial?*), added as candidates even when BM25F ranked
        them low: a word found in every entry ("trial") ranks short entries first."""
        from iwp_trainer.search import Hit

        if self._heads is None:
            with self._lock:
                if self._heads is None:
                    heads: dict[str, list[tuple[frozenset[str], str]]] = {}
                    for entry_id, entry_heads in self._all_heads().items():
                        for head in entry_heads:
                            if head:
                                heads.setdefault(min(head), []).append((head, entry_id))
                    self._heads = heads
        terms: set[str] = set()
        for concept in result.concepts:
            terms |= concept.terms
        extra = []
        for term in terms:
            for head, entry_id in self._heads.get(term, ()):
                if entry_id not in seen and head <= terms:
                    seen.add(entry_id)
                    matched = frozenset(i for i, c in enumerate(result.concepts) if c.terms & head)
                    extra.append(Hit(entry_id, floor, matched))
        return extra

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
        from iwp_trainer.ask_model import question_kind

        top = max(1, int(top))
        text = question if isinstance(question, str) else str(question)
        if not text.strip():
            return Answer(text, False, [], 0.0, "Type a question to search the knowledge base.")
        if self.model is not None:
            term = definition_term(text, self.kb.glossary)
            if term is not None:
                return self._define(text, term, top)
        try:
            result = self._search(text, limit=max(top, 20))
        except Exception as exc:  # never let a question crash the app
            return Answer(text, False, [], 0.0, f"The search index is unavailable ({type(exc).__name__}).")
        unknown = tuple(c.typed or c.word for c in result.concepts if not c.known)
        corrections = tuple((c.typed or c.word, c.corrected_word or c.corrected)
                            for c in result.concepts if c.corrected)
        if not result.concepts:
            return Answer(text, False, [], 0.0,
                          "The question has no words to search for; try describing the situation.")
        if self.model is None:
            return self._ask_rule(text, result, top, unknown, corrections)
        kind = question_kind(text)
        ranked, conf = self.signals(result, kind, text)
        if not ranked:
            return Answer(text, False, [], 0.0, "Nothing in the knowledge base matches these words.",
                          unknown, corrections, kind=kind)
        model = self.model
        confidence = model.confidence.prob(conf)
        outcome = ("answer" if confidence >= model.answer_at
                   else "suggest" if confidence >= model.suggest_at else "refusal")
        own = self._own_words(result, text)
        if own is not None:
            # The question says exactly what one entry's question or alias says: that entry, for sure.
            ranked = sorted(ranked, key=lambda r: r[1].id != own)
            if ranked[0][1].id != own:
                from iwp_trainer.search import Hit

                ranked.insert(0, (1.0, Hit(own, 0.0, frozenset(range(len(result.concepts)))), {}))
            matches = [Match(self.kb.entries[hit.id], round(p, 4)) for p, hit, _ in ranked[:top]]
            return Answer(text, True, matches, 1.0, "The question asks what this entry's question (or one of "
                          "its aliases) asks.", unknown, corrections, outcome="answer", kind=kind)
        # Only close topics are listed: after a refusal, none below the floor; after an answer or a
        # "did you mean", the others below the floor are dropped too ("How much are work coaches
        # paid?" is not close to a bus-fare question because both say "pay").
        ranked = [r for n, r in enumerate(ranked) if r[0] >= model.topic_floor or (n == 0 and outcome != "refusal")]
        matches = [Match(self.kb.entries[hit.id], round(p, 4)) for p, hit, _ in ranked[:top]]
        missing = [c.typed or c.word for i, c in enumerate(result.concepts)
                   if not ranked or i not in ranked[0][1].matched]
        quoted = [f"“{word}”" for word in missing[:5]]
        shown = " or ".join(quoted) if len(quoted) < 3 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
        if outcome == "answer":
            reason = f"The top entry answers this question with {confidence:.0%} confidence."
        elif outcome == "suggest":
            reason = ("This looks like the closest question in the knowledge base, but it may not be what "
                      "you asked" + (f": it does not mention {shown}." if shown else "."))
        else:
            reason = "The knowledge base does not cover this question."
            if shown and matches:
                reason += f" The closest entries do not mention {shown}."
            elif not matches:
                reason += " No entry is close to it."
        return Answer(text, outcome == "answer", matches, round(confidence, 4), reason, unknown, corrections,
                      outcome=outcome, kind=kind)

    def _ask_rule(self, text: str, result, top: int, unknown, corrections) -> Answer:
        """Today's hand-set rule (the baseline): coverage and margin against fixed thresholds."""
        ranked, features = self.features(result)
        matches = [Match(self.kb.entries[h.id], round(score, 4)) for score, h in ranked[:top]]
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

    def term_entry(self, term) -> Entry | None:
        """The KB entry where the sources say something about a glossary term, or None.

        Found by asking the term's own meaning (which says what the sources say about it) and
        keeping the ranker's best entry only when it is above the relevance floor.
        """
        if term.term in self._term_entries:
            return self._term_entries[term.term]
        found: Entry | None = None
        if self.model is not None:
            from iwp_trainer.ask_model import question_kind

            try:
                result = self._search(f"{term.term} {term.meaning}", limit=20)
                ranked, _ = self.signals(result, question_kind(term.meaning), f"{term.term}: {term.meaning}")
            except Exception:
                ranked = []
            if ranked and ranked[0][0] >= self.model.topic_floor:
                found = self.kb.entries[ranked[0][1].id]
        self._term_entries[term.term] = found
        return found

    def _define(self, text: str, term, top: int) -> Answer:
        entry = self.term_entry(term)
        matches = [Match(entry, 1.0)] if entry is not None else []
        reason = f"{term.term} is a term in the glossary."
        return Answer(text, True, matches[:top], 1.0, reason, outcome="definition",
                      definition=Definition(term.term, term.meaning, entry), kind="what")

    # -- search as you type

    def suggest(self, text: str, limit: int = 8) -> list[Entry]:
        """Entries whose question or an alias completes what has been typed so far."""
        if self._suggester is None:
            with self._lock:
                if self._suggester is None:
                    self._suggester = _Suggester(self.kb)
        return self._suggester.suggest(text if isinstance(text, str) else str(text), limit)

    def close(self) -> None:
        if self._semantic is not None:
            self._semantic.close()
        self.index.close()


def open_answerer(kb_dir: Path, index_dir: Path, progress: ProgressFn | None = None,
                  rebuild: bool = False, model=None, semantic: bool | None = None) -> Answerer:
    """Load the KB and open its index (building it if needed). Raises :class:`AskError`.

    ``semantic``: None (the default) loads the embedding model in the background unless
    ``IWP_TRAINER_SEMANTIC_MODEL=off``, or when a given model needs it; False never loads it.
    ``progress`` also hears about embedding the entries (done, total) on a first build.
    """
    from iwp_trainer.paths import semantic_disabled
    from iwp_trainer.search import SearchIndexError, kb_fingerprint, load_snapshot, open_index

    kb_dir = Path(kb_dir)
    if not kb_dir.is_dir():
        raise AskError(f"knowledge base folder not found: {kb_dir} (pass --kb DIR or set IWP_TRAINER_KB)")
    wants = model is None or model == "semantic" or bool(getattr(model, "semantic", False))
    if model == "semantic":  # the shipped hybrid model, or nothing (for fitting: model set later)
        model = None
    half = None
    if wants and semantic is not False and not semantic_disabled() and model != "rule":
        half = SemanticHalf(progress)
    try:
        fingerprint = kb_fingerprint(kb_dir)
        # An index built from exactly these files carries the parsed KB: no need to parse it again.
        kb = None if rebuild else load_snapshot(Path(index_dir), fingerprint)
        if kb is None:
            kb = load_kb(kb_dir)
        index = open_index(Path(index_dir), kb, kb_dir, progress=progress, rebuild=rebuild,
                           fingerprint=fingerprint)
    except BaseException as exc:
        if half is not None:  # nothing to embed: let its thread end
            half.cancel()
        if isinstance(exc, SearchIndexError):
            raise AskError(str(exc)) from None
        raise
    if half is not None:
        build = getattr(index, "build", None)
        others = sorted(Path(index_dir).glob("build-*/vectors-*.npz"), key=_mtime, reverse=True)[:3]
        half.attach(kb, build, [p for p in others if build is None or p.parent != build])
    return Answerer(kb, index, kb_dir, Path(index_dir), model=model, semantic=half)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
