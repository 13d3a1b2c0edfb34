"""Full-text search over the knowledge base: the only module that touches Whoosh.

Why it is built this way:

* The index is a cache of ``kb/``: it lives in the user cache folder and is rebuilt whenever the
  KB files (or :data:`SCHEMA_VERSION`) change, identified by a content hash.
* Builds never disturb readers: each build goes into its own ``tmp-<pid>-<rand>`` folder, is renamed
  to ``build-...`` when complete, and only then is the ``CURRENT`` pointer file atomically replaced
  (``os.replace``). Two processes building at once both succeed (the last pointer wins, both builds
  are valid); a process killed mid-build leaves the previous index in use. Anything unreadable is
  simply rebuilt.
* Questions are never given to a query parser: text is tokenised with the index's own analyzer and
  the query is assembled from ``Term`` objects, so quotes, AND/OR/NOT, ``*``, ``field:`` or a
  10,000-character paste are just words.
* Each query word becomes a :class:`Concept` (its stem, a spelling correction when the word is not
  in the index vocabulary, glossary expansions) so the answerer can judge how much of the question
  the top entries actually cover, not just how high the raw BM25F score is.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import os
import secrets
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from whoosh import index as whoosh_index
from whoosh.analysis import STOP_WORDS, StemmingAnalyzer
from whoosh.fields import ID, TEXT, Schema
from whoosh.query import Or, Term
from whoosh.scoring import BM25F
from whoosh.support.levenshtein import damerau_levenshtein

from iwp_trainer.atomic import pid_running
from iwp_trainer.files import FileTooLarge, NotRegularFile, read_regular
from iwp_trainer.glossary import GLOSSARY_FILE, Glossary
from iwp_trainer.kb import MAX_ENTRY_BYTES, KnowledgeBase, entry_files, kb_from_data, kb_to_data, plain_text

# Bump whenever the schema, the analyzer or the indexed text changes: old indexes are rebuilt.
SCHEMA_VERSION = 7

POINTER = "CURRENT"
META = "meta.json"
SNAPSHOT = "kb.json"  # the loaded KB the index was built from, for fast cold starts
HEADS = "heads.json"  # index terms of every entry's question and aliases (Ask's exact-words lookup)
MAX_QUERY_CHARS = 2000  # a pasted essay is cut here; the first words carry the question
MAX_CONCEPTS = 40
EXPANSION_WEIGHT = 0.6  # glossary spellings the coach did not type count a little less
CORRECTION_WEIGHT = 0.8
OLD_BUILD_GRACE_SECONDS = 300.0
# Large KBs: below PRUNE_MIN_DOCS entries every document is scored exactly; above, candidates come
# from words in at most SELECTIVE_FRACTION of the entries (see SearchIndex._rank).
PRUNE_MIN_DOCS = 1000
SELECTIVE_FRACTION = 0.05
CANDIDATES = 100

# Words that carry no topic in a coach's question. Whoosh's list plus question words and fillers.
STOPWORDS = frozenset(STOP_WORDS) | frozenset(
    """about after again all also am any been before being both but could did do does doing done
    each else etc ever get gets getting got had has having he her here hers him his how i i'm im
    into its just me might more most much must my no nor now only other our ours out own please
    really same she should so some such than their theirs them then there these they those through
    too under until very was way were what whats what's where which while who whom why would
    let lets know need needs want wants tell thing things someone somebody anyone anything
    there's theres does doesn't dont don't can't cant isn't isnt ok okay hi hello thanks
    up thats wasnt werent arent didnt hasnt havent wont wouldnt shouldnt couldnt youre theyre
    ive id ill someones whos""".split()
)

# Field -> weight. The question and its aliases say what an entry is about; the body only mentions.
FIELD_BOOSTS: dict[str, float] = {
    "question": 3.0,
    "aliases": 4.0,  # aliases are phrased the way coaches ask
    "tags": 2.0,
    "expanded": 1.0,
    "body": 1.0,
}
VOCAB_FIELD = "all"
# Words, keeping dotted forms together ("e.g"); unlike Whoosh's default, "*" is not part of a word.
TOKEN_PATTERN = r"\w+(?:\.\w+)*"

ProgressFn = Callable[[int, int], None]


class SearchIndexError(Exception):
    """The index could not be opened or built (reported to users as a plain message)."""


# Words the Porter stemmer would merge with a different word. "Reasonable steps" is a term of art
# in the trial (what a claimant must take to avoid a sanction); stemmed it becomes "reason", and
# "what's the reason for the trial" would land on the sanctions entries.
UNSTEMMED = frozenset({"reasonable", "reasonably"})


def make_analyzer():
    """Tokenise, lower-case, drop stop words, stem: used for both indexing and questions."""
    return StemmingAnalyzer(expression=TOKEN_PATTERN, stoplist=STOPWORDS, minsize=2, maxsize=40,
                            ignore=UNSTEMMED)


_ANALYZER = make_analyzer()
_ANALYZER_LOCK = threading.Lock()  # analyzer token objects are reused: not thread-safe


def analyse(text: str) -> list[str]:
    """The index terms of ``text`` (stems), in order, with repeats."""
    with _ANALYZER_LOCK:
        return [token.text for token in _ANALYZER(text)]


def analyse_words(text: str) -> list[tuple[str, str]]:
    """(word as typed, lower-cased; its index term) for each meaningful word of ``text``."""
    with _ANALYZER_LOCK:
        surfaces = [token.text for token in _ANALYZER(text, no_morph=True)]
    pairs = []
    for surface in surfaces:
        with _ANALYZER_LOCK:
            stems = [token.text for token in _ANALYZER(surface)]
        if stems:
            pairs.append((surface, stems[0]))
    return pairs


def make_schema() -> Schema:
    analyzer = make_analyzer()
    return Schema(
        id=ID(stored=True, unique=True),
        question=TEXT(analyzer=analyzer, phrase=False),
        aliases=TEXT(analyzer=analyzer, phrase=False),
        tags=TEXT(analyzer=analyzer, phrase=False),
        expanded=TEXT(analyzer=analyzer, phrase=False),
        body=TEXT(analyzer=analyzer, phrase=False),
        # spelling=True keeps the unstemmed words too, for correcting typos as they were typed.
        all=TEXT(analyzer=analyzer, phrase=False, spelling=True),
    )


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Concept:
    """One meaningful word of a question and every index term that counts as finding it.

    ``idf`` measures how telling the word is (rare words matter more); a word found nowhere in the
    KB gets the highest idf, which is what makes "weather in Leeds" a confident refusal.
    """

    word: str
    terms: frozenset[str]
    idf: float
    known: bool
    corrected: str | None = None
    typed: str = ""  # the word as the coach typed it (lower case)
    corrected_word: str | None = None  # the known word it was corrected to, unstemmed


@dataclass(frozen=True)
class Hit:
    """One entry found: its id, BM25F score and which concepts (by index) it contains."""

    id: str
    score: float
    matched: frozenset[int]


@dataclass(frozen=True)
class SearchResult:
    concepts: tuple[Concept, ...]
    hits: tuple[Hit, ...]
    doc_count: int


# --------------------------------------------------------------------------------------------
# Fingerprint and on-disk layout


def kb_fingerprint(kb_dir: Path) -> str:
    """Content hash of the KB files and the schema version: what the index was built from."""
    digest = hashlib.sha256(f"schema={SCHEMA_VERSION}\n".encode())
    files = [str(p) for p in entry_files(kb_dir)]
    glossary = kb_dir / GLOSSARY_FILE
    if glossary.is_file():
        files.append(str(glossary))
    for name in files:
        try:  # never wait on a named pipe or read /dev/zero: the loader reports those files
            data = read_regular(name, MAX_ENTRY_BYTES)
        except FileTooLarge as exc:
            data = f"<too large: {exc.size}>".encode()
        except (OSError, NotRegularFile):
            data = b"<unreadable>"
        digest.update(os.path.basename(name).encode("utf-8", "surrogateescape") + b"\0")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def _current_build(index_dir: Path) -> Path | None:
    try:
        name = (index_dir / POINTER).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not name.startswith("build-") or "/" in name or "\\" in name:
        return None
    return index_dir / name


def _read_meta(build: Path) -> dict | None:
    try:
        meta = json.loads((build / META).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return meta if isinstance(meta, dict) else None


def _collect_garbage(index_dir: Path, keep: Path | None) -> None:
    """Remove abandoned temporary builds (dead builder) and old builds nobody points to.

    Old builds are kept for a grace period: another process may still be reading one.
    """
    now = time.time()
    try:
        children = list(index_dir.iterdir())
    except OSError:
        return
    for child in children:
        try:
            if child.name.startswith("tmp-") and child.is_dir():
                parts = child.name.split("-")
                pid = int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else -1
                stale = now - child.stat().st_mtime > 3600
                if pid != os.getpid() and (not pid_running(pid) or stale):
                    shutil.rmtree(child, ignore_errors=True)
            elif child.name.startswith("build-") and child.is_dir() and child != keep:
                if now - child.stat().st_mtime > OLD_BUILD_GRACE_SECONDS:
                    shutil.rmtree(child, ignore_errors=True)
            elif child.name.startswith(POINTER + ".tmp-"):
                if now - child.stat().st_mtime > 60:
                    child.unlink(missing_ok=True)
        except OSError:
            continue


# --------------------------------------------------------------------------------------------
# Building


def _documents(kb: KnowledgeBase) -> Iterable[dict[str, str]]:
    glossary: Glossary = kb.glossary
    for entry in kb:
        body = plain_text(entry.body)
        aliases = "\n".join(entry.aliases)
        tags = "\n".join(entry.tags)
        expanded = glossary.expand(" ".join((entry.question, aliases, tags, body))) if len(glossary) else ""
        yield {
            "id": entry.id,
            "question": entry.question,
            "aliases": aliases,
            "tags": tags,
            "expanded": expanded,
            "body": body,
            "all": "\n".join((entry.question, aliases, tags, expanded, body)),
        }


def build_index(index_dir: Path, kb: KnowledgeBase, fingerprint: str,
                progress: ProgressFn | None = None) -> Path:
    """Build a complete index for ``kb`` next to the current one and switch to it atomically.

    Returns the new build folder. Safe to run in several processes at once.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    tmp = index_dir / f"tmp-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        total = len(kb)
        ix = whoosh_index.create_in(str(tmp), make_schema())
        writer = ix.writer(limitmb=256)
        try:
            for done, doc in enumerate(_documents(kb), start=1):
                writer.add_document(**doc)
                if progress is not None and (done % 50 == 0 or done == total):
                    progress(done, total)
            writer.commit()
        except BaseException:
            writer.cancel()
            raise
        ix.close()
        # ASCII JSON: a file name that is not UTF-8 (kept by Python as a lone surrogate) round-trips
        # as a \u escape instead of making the write fail.
        (tmp / SNAPSHOT).write_text(json.dumps(kb_to_data(kb)), encoding="ascii")
        heads = {entry.id: [analyse(text) for text in (entry.question, *entry.aliases)] for entry in kb}
        (tmp / HEADS).write_text(json.dumps(heads), encoding="ascii")
        meta = {"schema": SCHEMA_VERSION, "fingerprint": fingerprint, "count": total,
                "built": time.time()}
        (tmp / META).write_text(json.dumps(meta), encoding="utf-8")
        build = index_dir / f"build-{fingerprint[:12]}-{os.getpid()}-{secrets.token_hex(4)}"
        os.rename(tmp, build)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    pointer_tmp = index_dir / f"{POINTER}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    pointer_tmp.write_text(build.name + "\n", encoding="utf-8")
    os.replace(pointer_tmp, index_dir / POINTER)
    if progress is not None and total == 0:
        progress(0, 0)
    _collect_garbage(index_dir, keep=build)
    return build


# --------------------------------------------------------------------------------------------
# Opening and searching


class SearchIndex:
    """An open, valid index for one KB. Searches are serialised with a lock (thread-safe)."""

    def __init__(self, build: Path, fingerprint: str) -> None:
        self.build = build
        self.fingerprint = fingerprint
        self._ix = whoosh_index.open_dir(str(build))
        self._weighting = BM25F(B=0.75, K1=1.2)
        self._searcher = self._ix.searcher(weighting=self._weighting)
        self._lock = threading.Lock()
        self._doc_count = self._searcher.doc_count()
        self._vocab_cache: dict[str, tuple[int, tuple[str, str] | None]] = {}

    def heads(self) -> dict[str, list[list[str]]] | None:
        """Index terms of each entry's question and aliases, saved at build time (None if missing):
        analysing every alias of a 10,000-entry KB on the first question would cost seconds."""
        try:
            data = json.loads((self.build / HEADS).read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None

    @property
    def doc_count(self) -> int:
        return self._doc_count

    def check(self, expected: int) -> None:
        """Touch every part a query needs, so a damaged index fails now, not mid-question."""
        if self._doc_count != expected:
            raise SearchIndexError(f"index holds {self._doc_count} entries, expected {expected}")
        reader = self._searcher.reader()
        for field in (VOCAB_FIELD, "question"):
            for _ in zip(range(3), reader.lexicon(field)):
                pass
        if expected:
            self._searcher.stored_fields(0)
            self._searcher.search(Term("question", "x"), limit=1)

    def close(self) -> None:
        with self._lock:
            try:
                self._searcher.close()
                self._ix.close()
            except Exception:  # closing a damaged index must not hide the real problem
                pass

    # -- query analysis

    def _df(self, term: str) -> int:
        return self._searcher.doc_frequency(VOCAB_FIELD, term)

    def _idf(self, df: int) -> float:
        n = max(self._doc_count, 1)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def _correct(self, word: str) -> tuple[str, str] | None:
        """The index term of the closest known word to an unknown typed word, or None.

        Typos are made in the word as typed, so it is compared with the unstemmed vocabulary:
        same first letter, one edit (two for words of 8 letters or more), swapped letters
        counting as one edit; ties go to the more common word.
        """
        if len(word) < 4 or not word.isalpha():
            return None
        maxdist = 1 if len(word) < 8 else 2
        reader = self._searcher.reader()
        best: tuple[int, int, str, str] | None = None
        # Levenshtein distance 2 finds swapped letters ("wrok"), which Damerau counts as one edit.
        for candidate in reader.terms_within(VOCAB_FIELD, word, 2, prefix=1):
            if candidate == word:
                continue
            dist = damerau_levenshtein(candidate, word)
            if dist > maxdist:
                continue
            stems = analyse(candidate)
            df = self._df(stems[0]) if stems else 0
            if not df:
                continue
            rank = (dist, -df, stems[0], candidate)
            if best is None or rank < best:
                best = rank
        return (best[2], best[3]) if best else None

    def _lookup(self, word: str, term: str) -> tuple[int, tuple[str, str] | None]:
        """(document frequency of ``term``, (term, word) correcting ``word`` when unknown), cached."""
        cached = self._vocab_cache.get(word)
        if cached is None:
            df = self._df(term)
            correction = None if df else self._correct(word)
            cached = (df, correction if correction and correction[0] != term else None)
            if len(self._vocab_cache) < 50_000:
                self._vocab_cache[word] = cached
        return cached

    def concepts(self, text: str, glossary: Glossary | None = None) -> tuple[list[Concept], dict[str, float]]:
        """The question's concepts and the weighted terms to query for them."""
        text = text[:MAX_QUERY_CHARS]
        words: list[str] = []
        typed: dict[str, str] = {}  # index term -> the word as typed
        for surface, term in analyse_words(text):
            if term in typed:
                continue
            typed[term] = surface
            words.append(term)
            if len(words) >= MAX_CONCEPTS:
                break
        # Glossary: every spelling of a term the coach used counts as that term.
        groups: list[set[str]] = []
        if glossary is not None and len(glossary):
            for found in glossary.find(text):
                stems = set()
                for form in found.forms:
                    stems.update(analyse(form))
                if stems:
                    groups.append(stems)
                    if not stems & set(words):
                        # A term that left no word of its own ("L&D": both letters are too short
                        # to index) becomes a concept of its own, found through its other spellings.
                        key = " ".join(sorted(stems))
                        if key not in typed:
                            typed[key] = found.term
                            words.append(key)
        weights: dict[str, float] = {}
        concepts: list[Concept] = []
        n = max(self._doc_count, 1)
        for word in words:
            if " " in word:  # a glossary-only concept
                terms = set(word.split())
                for term in terms:
                    weights[term] = max(weights.get(term, 0.0), EXPANSION_WEIGHT)
                best_df = max(self._df(t) for t in terms)
                idf = self._idf(min(best_df, n)) if best_df else self._idf(0)
                concepts.append(Concept(word, frozenset(terms), idf, best_df > 0, None, typed[word]))
                continue
            df, correction = self._lookup(typed[word], word)
            terms = {word}
            corrected = corrected_word = None
            if df:
                weights[word] = max(weights.get(word, 0.0), 1.0)
            elif correction:
                corrected, corrected_word = correction
                terms.add(corrected)
                weights[corrected] = max(weights.get(corrected, 0.0), CORRECTION_WEIGHT)
            for group in groups:
                if word in group or (corrected and corrected in group):
                    for extra in group - terms:
                        terms.add(extra)
                        weights[extra] = max(weights.get(extra, 0.0), EXPANSION_WEIGHT)
            best_df = max([df] + [self._df(t) for t in terms if t != word]) if len(terms) > 1 else df
            known = best_df > 0
            idf = self._idf(min(best_df, n)) if known else self._idf(0)
            concepts.append(Concept(word, frozenset(terms), idf, known, corrected, typed[word], corrected_word))
        return concepts, weights

    def search(self, text: str, glossary: Glossary | None = None, limit: int = 10) -> SearchResult:
        """Rank entries for a question. Any text is accepted; never raises on odd input."""
        with self._lock:
            concepts, weights = self.concepts(text, glossary)
            if not weights:
                return SearchResult(tuple(concepts), (), self._doc_count)
            ranked = self._rank(weights, limit)
            contains = self._containing(weights, [docnum for docnum, _ in ranked])
            hits = []
            for docnum, score in ranked:
                have = contains.get(docnum, set())
                matched = frozenset(i for i, c in enumerate(concepts) if c.terms & have)
                hits.append(Hit(self._searcher.stored_fields(docnum)["id"], float(score), matched))
            return SearchResult(tuple(concepts), tuple(hits), self._doc_count)

    def _query(self, terms: Iterable[str], weights: dict[str, float]) -> Or:
        return Or([
            Term(field, term, boost=boost * weights[term])
            for term in terms
            for field, boost in FIELD_BOOSTS.items()
        ])

    def _rank(self, weights: dict[str, float], limit: int) -> list[tuple[int, float]]:
        """The ``limit`` best (docnum, BM25F score) pairs for the weighted terms.

        Small KBs are scored exactly. In large ones a word found in most entries ("claimant",
        "trial") would make Whoosh score nearly every document, so candidates come from the
        selective words only and the common words' scores are then added for those candidates,
        read straight from their postings.
        """
        terms = list(weights)
        n = self._doc_count
        if n < PRUNE_MIN_DOCS:
            selective = terms
        else:
            dfs = {term: self._df(term) for term in terms}
            selective = [t for t in terms if dfs[t] <= SELECTIVE_FRACTION * n] or [min(terms, key=dfs.__getitem__)]
        common = [t for t in terms if t not in selective]
        want = limit if not common else max(limit, CANDIDATES)
        results = self._searcher.search(self._query(selective, weights), limit=want)
        scores = {hit.docnum: float(hit.score) for hit in results}
        if common and scores:
            reader = self._searcher.reader()
            candidates = sorted(scores)
            for term in common:
                for field, boost in FIELD_BOOSTS.items():
                    if not self._searcher.doc_frequency(field, term):
                        continue
                    scorer = self._weighting.scorer(self._searcher, field, term)
                    matcher = reader.postings(field, term, scorer=scorer)
                    for docnum in candidates:
                        if _seek(matcher, docnum):
                            scores[docnum] += matcher.score() * boost * weights[term]
                        elif not matcher.is_active():
                            break
        return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))[:limit]

    def _containing(self, terms: Iterable[str], docnums: list[int]) -> dict[int, set[str]]:
        """Which of ``terms`` each of ``docnums`` contains, read from the postings (top hits only)."""
        found: dict[int, set[str]] = {}
        if not docnums:
            return found
        wanted = sorted(set(docnums))
        reader = self._searcher.reader()
        for term in terms:
            if not self._df(term):
                continue
            matcher = reader.postings(VOCAB_FIELD, term)
            for docnum in wanted:
                if _seek(matcher, docnum):
                    found.setdefault(docnum, set()).add(term)
                elif not matcher.is_active():
                    break
        return found


def _seek(matcher, target: int) -> bool:
    """Move a postings matcher forward to ``target``; True when that document has the term.

    Whoosh's own ``skip_to`` steps through a block one posting at a time; for the block-based
    postings of the default codec this jumps whole blocks, then bisects inside the block.
    """
    if not matcher.is_active():
        return False
    if not (hasattr(matcher, "_skip_to_block") and hasattr(matcher, "_blocklength")):
        if matcher.id() < target:
            matcher.skip_to(target)
        return matcher.is_active() and matcher.id() == target
    if matcher.id() >= target:
        return matcher.id() == target
    if target > matcher.block_max_id():
        matcher._skip_to_block(lambda: target > matcher.block_max_id())
        if not matcher.is_active():
            return False
    matcher.id()  # loads the block's ids
    position = bisect.bisect_left(matcher._ids, target, matcher._i, matcher._blocklength)
    if position >= matcher._blocklength:  # cannot happen while target <= block_max_id
        matcher.skip_to(target)
        return matcher.is_active() and matcher.id() == target
    matcher._i = position
    return matcher._ids[position] == target


def load_snapshot(index_dir: Path, fingerprint: str) -> KnowledgeBase | None:
    """The KB saved with the current index, if that index was built from exactly these files.

    Parsing thousands of Markdown files costs seconds; reading this snapshot costs milliseconds.
    Anything missing, stale or unreadable gives None (the caller then loads ``kb/`` itself).
    """
    build = _current_build(Path(index_dir))
    if build is None:
        return None
    meta = _read_meta(build)
    if not meta or meta.get("schema") != SCHEMA_VERSION or meta.get("fingerprint") != fingerprint:
        return None
    try:
        data = json.loads((build / SNAPSHOT).read_text(encoding="utf-8"))
        kb = kb_from_data(data)
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None
    return kb if len(kb) == meta.get("count") else None


def _try_open(index_dir: Path, fingerprint: str, expected: int) -> SearchIndex | None:
    build = _current_build(index_dir)
    if build is None or not build.is_dir():
        return None
    meta = _read_meta(build)
    if not meta or meta.get("schema") != SCHEMA_VERSION or meta.get("fingerprint") != fingerprint:
        return None
    try:
        opened = SearchIndex(build, fingerprint)
    except Exception:  # any damage inside Whoosh's files: rebuild
        return None
    try:
        opened.check(expected)
    except Exception:
        opened.close()
        return None
    return opened


def open_index(index_dir: Path, kb: KnowledgeBase, kb_dir: Path, progress: ProgressFn | None = None,
               rebuild: bool = False, fingerprint: str | None = None) -> SearchIndex:
    """Open the index for ``kb``, building it first when missing, stale, damaged or asked to.

    ``fingerprint`` may be passed when the caller already hashed ``kb_dir``.
    Raises :class:`SearchIndexError` only when the index folder cannot be written at all.
    """
    index_dir = Path(index_dir)
    if index_dir.exists() and not index_dir.is_dir():
        raise SearchIndexError(f"the search index location {index_dir} is a file, not a folder "
                               "(pass --index DIR or set IWP_TRAINER_INDEX to a folder)")
    fingerprint = fingerprint or kb_fingerprint(Path(kb_dir))
    if not rebuild:
        opened = _try_open(index_dir, fingerprint, len(kb))
        if opened is not None:
            return opened
    last_error: Exception | None = None
    for _ in range(2):
        try:
            build = build_index(index_dir, kb, fingerprint, progress)
            opened = SearchIndex(build, fingerprint)
            opened.check(len(kb))
            return opened
        except OSError as exc:
            last_error = exc
            if exc.errno in (13, 30):  # permission denied, read-only file system: retrying won't help
                break
        except Exception as exc:  # a build racing with a cleaner, or a disk hiccup: try once more
            last_error = exc
    detail = getattr(last_error, "strerror", None) or str(last_error)
    raise SearchIndexError(f"cannot build the search index in {index_dir}: {detail}")
