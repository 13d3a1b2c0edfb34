"""Ask's signals and its calibrated confidence: what decides answer, "did you mean …?" or refusal.

Why it is built this way:

* The lexical search (:mod:`iwp_trainer.search`, Whoosh BM25F) finds candidates. A hand-set rule
  ("the top entry must contain most of the question's words") refused the coach's own words and
  trusted the FAQ's, so each candidate is now described by a handful of *signals* and two small
  logistic regressions, fitted on questions written from the sources (``bench/fit_ask_model.py``),
  do the judging:

  - the **ranker** gives each candidate the probability that it is the entry answering the
    question, and candidates are ordered by it;
  - the **confidence** model gives the probability that the top candidate is right *and* that the
    question is in scope at all. Two thresholds, chosen on the development questions, cut it into
    answer / "did you mean …?" / refusal; a third (the topic floor) decides which candidates are
    close enough to list after a refusal.

* The question's **kind** is a signal: "when…" should prefer an entry that says when, "how long…"
  one that says how long. A coach's "when does the sanction happen" is about *When will an
  in-work claimant be sanctioned?*, not *How long will a sanction run?*, although both share the
  same words.
* Coefficients live in ``ask_model.json`` beside this module, a small committed file with the
  split and figures it was fitted on; nothing here is tuned by hand.
* Pure Python: a dot product per candidate, no numpy at run time.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from iwp_trainer.paths import ASK_MODEL_FILE

# --------------------------------------------------------------------------------------------
# Question kinds

# (kind, pattern) in order: the first that matches the start of the question (after fillers) wins.
_KIND_RULES: tuple[tuple[str, str], ...] = (
    ("how_long", r"how long|for how long|how many (?:weeks|months|days|years)|length of|duration"),
    ("how_often", r"how often|how frequently|how regularly"),
    ("how_much", r"how much|how well paid|what(?:'s| is)? the (?:pay|salary|wage)"),
    ("how_many", r"how many|what(?:'s| is)? the number of|number of"),
    ("when", r"when|wen|what time|at what point|how soon|how early|what date|which date|from when"),
    ("who", r"who|whom|which (?:person|team|people)"),
    ("why", r"why|what(?:'s| is)? the (?:reason|point|rationale|purpose)|how come|reason for"),
    ("where", r"where|wheres|link to"),
    ("what_if", r"what if|what happens|what do i do if|what should i do if|if "),
    ("what", r"what|wat|whats|what's|which"),
    ("how", r"how|hw"),
    ("yesno", r"can|could|may|do|does|did|is|are|am|should|will|would|has|have|must|r"),
)
_KIND_RES = tuple((kind, re.compile(rf"(?:{pattern})\b")) for kind, pattern in _KIND_RULES)
_FILLERS = re.compile(r"^(?:(?:so|ok|okay|hi|hey|quick question|question|please|pls|just|and|but|um|"
                      r"sorry|help|q)[\s,:;.!-]+)+")
_CLAUSE = re.compile(r"[,;:?!]|\s-\s|\s(?:but|and|so)\s")
# Kinds that name what the answer is (a time, a length, a person...): a clash is telling.
SPECIFIC_KINDS = frozenset({"how_long", "how_often", "how_much", "how_many", "when", "who", "why", "where"})
KINDS = tuple(kind for kind, _ in _KIND_RULES) + ("other",)


def _kind_at(text: str) -> str | None:
    for kind, pattern in _KIND_RES:
        if pattern.match(text):
            return kind
    return None


def question_kind(text: str) -> str:
    """What sort of answer the question wants: "when", "how_long", "why", "yesno", ... or "other".

    Coaches often describe the situation first ("she only started last week, when do I..."), so
    the first clause that starts like a question decides.
    """
    lowered = " ".join(str(text).lower().replace("’", "'").split())[:300]
    clauses = [c.strip() for c in _CLAUSE.split(lowered) if c.strip()]
    for clause in clauses or [lowered]:
        clause = _FILLERS.sub("", clause)
        kind = _kind_at(clause)
        if kind is not None:
            return kind
    # "training start date?", "sanction length trial?": a kind word anywhere in a short question.
    if len(lowered.split()) <= 6:
        for kind, words in (("when", r"\b(?:date|when)\b"), ("how_long", r"\b(?:length|long)\b"),
                            ("why", r"\b(?:rationale|reason)\b"), ("how_many", r"\bnumber\b")):
            if re.search(words, lowered):
                return kind
    return "other"


# --------------------------------------------------------------------------------------------
# The model file


@dataclass(frozen=True)
class Logistic:
    """A fitted logistic regression over named features (standardised with the stored mean/scale)."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float

    def prob(self, values: dict[str, float]) -> float:
        z = self.bias
        for name, mean, scale, weight in zip(self.names, self.mean, self.scale, self.weights):
            z += weight * (float(values.get(name, 0.0)) - mean) / scale
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        ez = math.exp(z)
        return ez / (1.0 + ez)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "Logistic":
        names = tuple(str(n) for n in data["names"])
        model = cls(names, tuple(float(v) for v in data["mean"]), tuple(float(v) or 1.0 for v in data["scale"]),
                    tuple(float(v) for v in data["weights"]), float(data["bias"]))
        if not (len(model.mean) == len(model.scale) == len(model.weights) == len(names)):
            raise ValueError("feature lists of different lengths")
        return model

    def to_data(self) -> dict[str, Any]:
        return {"names": list(self.names), "mean": [round(v, 6) for v in self.mean],
                "scale": [round(v, 6) for v in self.scale], "weights": [round(v, 6) for v in self.weights],
                "bias": round(self.bias, 6)}


@dataclass(frozen=True)
class AskModel:
    """The ranker, the confidence model and the thresholds chosen on the development questions."""

    ranker: Logistic
    confidence: Logistic
    answer_at: float  # confidence at or above: answer
    suggest_at: float  # at or above (and below answer_at): "did you mean …?"
    topic_floor: float  # ranker probability a candidate needs to be listed after a refusal
    info: dict[str, Any]

    @property
    def semantic(self) -> bool:
        """Whether this model reads the semantic signals (needs the embedding model loaded)."""
        return any(n.startswith("sem_") for n in self.ranker.names + self.confidence.names)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "AskModel":
        thresholds = data["thresholds"]
        return cls(Logistic.from_data(data["ranker"]), Logistic.from_data(data["confidence"]),
                   float(thresholds["answer"]), float(thresholds["suggest"]), float(thresholds["topic_floor"]),
                   dict(data.get("info", {})))

    def to_data(self) -> dict[str, Any]:
        return {"ranker": self.ranker.to_data(), "confidence": self.confidence.to_data(),
                "thresholds": {"answer": self.answer_at, "suggest": self.suggest_at,
                               "topic_floor": self.topic_floor},
                "info": self.info}


class AskModelError(Exception):
    """The model file is missing or unreadable: Ask falls back to the lexical rule and says so."""


_CACHE: dict[tuple[Path, str], AskModel] = {}
VARIANTS = ("hybrid", "lexical")  # lexical + semantic signals; the lexical half alone (the fallback)


def load_model(path: Path | None = None, variant: str = "hybrid") -> AskModel:
    """One variant of the shipped (or given) model, read once per process. Raises :class:`AskModelError`.

    The file holds both: ``hybrid`` (lexical and semantic signals) and ``lexical`` (fitted on the
    lexical signals alone, with its own thresholds, for when the embedding model cannot load)."""
    path = Path(path or ASK_MODEL_FILE)
    cached = _CACHE.get((path, variant))
    if cached is not None:
        return cached
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        model = AskModel.from_data(data[variant])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AskModelError(f"cannot read the Ask model {path.name} ({variant}): {exc}") from None
    _CACHE[(path, variant)] = model
    return model


# --------------------------------------------------------------------------------------------
# Signals

RANKER_FEATURES = ("bm25_rel", "coverage", "head_cov", "head_prec", "head_miss", "tag_cov",
                   "kind_match", "kind_clash")
CONFIDENCE_FEATURES = ("p_top", "p_gap", "coverage", "head_prec", "head_miss", "unknown_share",
                       "missing_max", "kind_clash")
# The semantic signals (cosine similarities from iwp_trainer.semantic), added for the hybrid model:
# per candidate, its best question/alias similarity, its body's, and how far it is behind the
# most similar entry; for the top candidate, its lead over the next most similar entry and the
# best similarity any entry reaches (low for a question the KB does not cover).
SEM_RANKER_FEATURES = ("sem_head", "sem_body", "sem_rel")
SEM_CONFIDENCE_FEATURES = ("sem_top", "sem_body_top", "sem_lead", "sem_max")
HYBRID_RANKER_FEATURES = RANKER_FEATURES + SEM_RANKER_FEATURES
# The hybrid confidence keeps the lexical signals that still add something once the similarities
# are there (chosen on train + dev separation, bench/fit_ask_model.py; body similarity and the
# alias-fit signals added noise).
HYBRID_CONFIDENCE_FEATURES = ("p_top", "p_gap", "coverage", "unknown_share", "missing_max", "kind_clash",
                              "sem_top", "sem_lead", "sem_max")


@dataclass(frozen=True)
class Profile:
    """An entry as the signals see it: the kinds its questions ask, and their index terms."""

    kinds: frozenset[str]
    main_kind: str
    heads: tuple[frozenset[str], ...]  # index terms of the question, then of each alias
    tags: frozenset[str]


def profile(entry: Any, analyse) -> Profile:
    texts = [entry.question, *entry.aliases]
    kinds = [question_kind(t) for t in texts]
    heads = tuple(frozenset(analyse(t)) for t in texts)
    tags = frozenset(analyse(" ".join(entry.tags)))
    return Profile(frozenset(kinds), kinds[0] if kinds else "other", heads, tags)


def _share(concepts, covered: Iterable[int]) -> float:
    total = sum(c.idf for c in concepts)
    return sum(concepts[i].idf for i in covered) / total if total > 0 else 0.0


def candidate_signals(concepts, hit, top_score: float, prof: Profile, kind: str, first: bool,
                      idf=None) -> dict[str, float]:
    """The ranker's features for one candidate entry.

    ``head_cov``/``head_prec``: for the entry's question or alias that fits best, the share of the
    question it covers and the share of *its* telling words the question has (idf-weighted when
    ``idf`` maps a term to its idf): "how long does the trial run" covers all of "How long will
    a sanction run under the trial?" except "sanction", and that missing word is what matters.
    """
    weight = idf or (lambda term: 1.0)
    coverage = _share(concepts, hit.matched)
    head_cov = head_prec = 0.0
    head_miss = 1.0
    for head in prof.heads:
        if not head:
            continue
        found = [i for i, c in enumerate(concepts) if c.terms & head]
        cov = _share(concepts, found)
        used = set().union(*(concepts[i].terms for i in found)) if found else set()
        head_total = sum(weight(t) for t in head)
        prec = sum(weight(t) for t in head & used) / head_total if head_total > 0 else 0.0
        if (cov + prec, cov) > (head_cov + head_prec, head_cov):
            head_cov, head_prec = cov, prec
            top_idf = max((weight(t) for t in head), default=0.0)
            head_miss = max((weight(t) for t in head - used), default=0.0) / top_idf if top_idf > 0 else 0.0
    tag_cov = _share(concepts, [i for i, c in enumerate(concepts) if c.terms & prof.tags])
    specific = kind in SPECIFIC_KINDS
    return {
        "bm25_rel": hit.score / top_score if top_score > 0 else 0.0,
        "bm25_log": math.log1p(max(hit.score, 0.0)),
        "coverage": coverage,
        "head_cov": head_cov,
        "head_prec": head_prec,
        "tag_cov": tag_cov,
        "head_miss": head_miss,
        "kind_match": float(kind in prof.kinds and kind != "other"),
        "kind_clash": float(specific and kind not in prof.kinds
                            and (prof.main_kind in SPECIFIC_KINDS or prof.main_kind == "yesno")),
        "first": float(first),
    }


def confidence_signals(concepts, ranked: list[tuple[float, dict[str, float]]], matched: Iterable[int],
                       max_idf: float, sem: dict[str, float] | None = None) -> dict[str, float]:
    """The confidence model's features: how the best candidate stands, and what it leaves out.

    ``matched``: the concepts the best candidate contains; ``max_idf``: the idf of a word found
    nowhere (so ``missing_max`` is 1 when a word of the question is unknown to the whole KB).
    """
    p_top, top = ranked[0]
    have = set(matched)
    missing = [c.idf for i, c in enumerate(concepts) if i not in have]
    p_next = ranked[1][0] if len(ranked) > 1 else 0.0
    total = sum(c.idf for c in concepts) or 1.0
    unknown = sum(c.idf for c in concepts if not c.known) / total
    return {
        "p_top": p_top,
        "p_gap": p_top - p_next,
        "coverage": top["coverage"],
        "head_cov": top["head_cov"],
        "head_prec": top["head_prec"],
        "head_miss": top["head_miss"],
        "unknown_share": unknown,
        "missing_max": max(missing, default=0.0) / max_idf if max_idf > 0 else 0.0,
        "kind_match": top["kind_match"],
        "kind_clash": top["kind_clash"],
        "few_words": 1.0 / max(len(concepts), 1),
        **(sem or {}),
    }
