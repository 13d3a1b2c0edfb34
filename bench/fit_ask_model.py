"""Fit Ask's ranker and confidence model and write ``iwp_trainer/ask_model.json``.

Two variants are fitted the same way and written side by side: ``hybrid`` (the lexical signals
and the semantic ones, ``ask_model.SEM_*``) and ``lexical`` (the lexical signals alone, with its own
thresholds: what Ask uses when the embedding model cannot load).

* Ranker: logistic regression over each candidate's signals (``ask_model.RANKER_FEATURES``),
  label "this candidate answers the question". Fitted on the ``train`` part of
  ``tests/data/ask_dev.yaml`` plus every entry's own question and aliases.
* Confidence: logistic regression over the best candidate's standing
  (``ask_model.CONFIDENCE_FEATURES``), label "the top candidate is right" (always false for an
  out-of-scope question). Fitted on ``train``.
* Thresholds, chosen on ``dev`` (with ``train``): ``answer`` sits above every wrong or
  out-of-scope question's confidence there; ``suggest`` above 90% of the out-of-scope ones (a
  "did you mean" names an entry but claims nothing, so it may be offered for a few near-domain
  questions); ``topic_floor`` is the ranker probability a candidate needs to be listed after a
  refusal.
* The ``test`` part is never read here.

    .venv/bin/python bench/fit_ask_model.py [--check]   # --check: fit, print, do not write
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from iwp_trainer.answer import definition_term, open_answerer  # noqa: E402
from iwp_trainer.ask_model import (CONFIDENCE_FEATURES, HYBRID_CONFIDENCE_FEATURES,  # noqa: E402
                                   HYBRID_RANKER_FEATURES, RANKER_FEATURES, AskModel, Logistic,
                                   question_kind)
from iwp_trainer.paths import ASK_MODEL_FILE  # noqa: E402

DEV_SET = ROOT / "tests" / "data" / "ask_dev.yaml"
L2 = 1.0
MARGIN = 0.25  # thresholds sit this far (in log-odds) above the highest wrong confidence seen
SUGGEST_OOS = float(next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--suggest-oos=")), 0.03))
# share of out-of-scope questions (train + dev) that may get "did you mean" (0: none)


def fit_logistic(names: tuple[str, ...], rows: list[dict[str, float]], labels: list[int],
                 weights: list[float] | None = None, l2: float = L2) -> Logistic:
    """L2-regularised logistic regression by Newton's method on standardised features."""
    x = np.array([[row[n] for n in names] for row in rows], dtype=float)
    y = np.array(labels, dtype=float)
    w_rows = np.ones(len(rows)) if weights is None else np.array(weights, dtype=float)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    z1 = np.hstack([z, np.ones((len(z), 1))])
    beta = np.zeros(z1.shape[1])
    penalty = np.eye(z1.shape[1]) * l2
    penalty[-1, -1] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(z1 @ beta)))
        grad = z1.T @ (w_rows * (p - y)) + penalty @ beta
        hess = (z1 * (w_rows * p * (1 - p))[:, None]).T @ z1 + penalty
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return Logistic(names, tuple(mean.tolist()), tuple(scale.tolist()), tuple(beta[:-1].tolist()), float(beta[-1]))


# The direction each signal must push confidence, whatever a small sample says: more of the
# question covered can never make an answer less trustworthy, an unknown word never more.
SIGNS = {"p_top": 1, "p_gap": 1, "coverage": 1, "head_prec": 1, "head_cov": 1, "head_miss": -1,
         "unknown_share": -1, "missing_max": -1, "kind_clash": -1, "kind_match": 1, "bm25_rel": 1,
         "tag_cov": 1, "first": 1, "sem_head": 1, "sem_body": 1, "sem_rel": 1, "sem_top": 1,
         "sem_body_top": 1, "sem_lead": 1, "sem_max": 1}


def fit_signed(names: tuple[str, ...], rows, labels, weights=None) -> Logistic:
    """Fit, then drop (weight 0) any signal whose weight has the wrong sign, and refit."""
    active = list(names)
    while True:
        model = fit_logistic(tuple(active), rows, labels, weights)
        wrong = [n for n, w in zip(model.names, model.weights) if SIGNS.get(n, 0) * w < 0]
        if not wrong:
            break
        active.remove(min(wrong, key=lambda n: abs(SIGNS[n]) * -abs(dict(zip(model.names, model.weights))[n])))
    full = dict(zip(model.names, zip(model.mean, model.scale, model.weights)))
    mean, scale, w = zip(*[full.get(n, (0.0, 1.0, 0.0)) for n in names])
    return Logistic(names, tuple(mean), tuple(scale), tuple(w), model.bias)


def load_dev() -> dict:
    return yaml.safe_load(DEV_SET.read_text(encoding="utf-8"))


def part(data: dict, split: str) -> tuple[list[dict], list[dict]]:
    return ([i for i in data["answerable"] if i["split"] == split],
            [i for i in data["out_of_scope"] if i["split"] == split])


def candidates(answerer, question: str, mask: str | None = None):
    """(concepts, ranked candidates with signals) as the answerer sees them, before any model."""
    result = answerer._search(question, limit=20)
    saved, answerer.model = answerer.model, None
    try:
        ranked, _ = answerer.signals(result, question_kind(question), question, mask)
    finally:
        answerer.model = saved
    return result, ranked


FOLDS = 5


def _above(p: float) -> float:
    """A threshold MARGIN log-odds above confidence ``p``."""
    p = min(max(p, 1e-6), 1 - 1e-6)
    z = math.log(p / (1 - p)) + MARGIN
    return 1.0 / (1.0 + math.exp(-z))
VERBOSE = "--verbose" in sys.argv


def fit_variant(answerer, data: dict, ranker_features, confidence_features, name: str) -> AskModel:
    """Fit one variant's ranker, confidence and thresholds on the answerer as it is set up."""
    train_q, train_oos = part(data, "train")
    dev_q, dev_oos = part(data, "dev")
    glossary = answerer.kb.glossary
    # -- ranker
    rows, labels, weights = [], [], []
    examples = [(i["q"], set(i["expect"]), 1.0, None) for i in train_q
                if i["expect"] and definition_term(i["q"], glossary) is None]
    for entry in answerer.kb:  # every entry's own words are examples too (weighted down)
        for text in (entry.question, *entry.aliases):
            # Its own words are left out of the similarities: a question is never word for word
            # an alias (that case is answered by the exact-words rule before any model).
            examples.append((text, {entry.id}, 0.5, text))
    for question, expect, weight, mask in examples:
        _, ranked = candidates(answerer, question, mask)
        if not any(hit.id in expect for _, hit, _ in ranked):
            continue  # the right entry is not among the candidates: nothing to learn about order
        for _, hit, sig in ranked:
            rows.append(sig)
            labels.append(int(hit.id in expect))
            weights.append(weight)
    ranker = fit_signed(ranker_features, rows, labels, weights)
    answerer.model = AskModel(ranker, ranker, 1.0, 1.0, 0.0, {})

    def conf_rows(items: list[dict], oos: list[dict]):
        out = []
        for item in items + oos:
            q = item["q"]
            if item in items and definition_term(q, glossary) is not None:
                continue  # answered as a definition, not by the ranker
            result = answerer._search(q, limit=20)
            ranked, conf = answerer.signals(result, question_kind(q), q)
            if not ranked:
                continue
            right = item in items and ranked[0][1].id in set(item["expect"])
            out.append((conf, int(right), item in oos, item))
        return out

    train_rows = conf_rows(train_q, train_oos)
    confidence = fit_signed(confidence_features, [r[0] for r in train_rows], [r[1] for r in train_rows])
    dev_rows = conf_rows(dev_q, dev_oos)
    # Thresholds from confidences the model did not see fitted: train questions are scored by a
    # model fitted on the other folds (by the hash-dealt order), dev questions by the full one.
    scored = []
    for fold in range(FOLDS):
        held = [r for n, r in enumerate(train_rows) if n % FOLDS == fold]
        rest = [r for n, r in enumerate(train_rows) if n % FOLDS != fold]
        partial = fit_signed(confidence_features, [r[0] for r in rest], [r[1] for r in rest])
        scored += [(partial.prob(c), right, oos, item["q"]) for c, right, oos, item in held]
    scored += [(confidence.prob(c), right, oos, item["q"]) for c, right, oos, item in dev_rows]
    if VERBOSE:
        ordered = sorted(scored, key=lambda t: -t[0])
        negatives = [(n, t) for n, t in enumerate(ordered) if not t[1]][:12]
        print(f"[{name}] highest negatives (position among {len(ordered)} by confidence):")
        for n, (p, right, oos, q) in negatives:
            print(f"   #{n:3d} {p:.4f} {'OOS  ' if oos else 'wrong'} {q}")
    scored = [t[:3] for t in scored]
    worst_negative = max((p for p, right, _ in scored if not right), default=0.5)
    answer_at = min(0.995, _above(worst_negative))
    # "Did you mean" names an entry but claims nothing: offered above all but SUGGEST_OOS of the
    # out-of-scope confidences seen (0: above every one).
    oos_conf = sorted(p for p, _, oos in scored if oos)
    cut = oos_conf[min(len(oos_conf) - 1, int(len(oos_conf) * (1 - SUGGEST_OOS)))] if oos_conf else 0.5
    suggest_at = min(answer_at, _above(cut))
    # Topic floor: the ranker probability the right entry reaches for 90% of the dev questions
    # it is a candidate for, so the right entry is usually listed and unrelated ones are not.
    rights = []
    for item in dev_q:
        if definition_term(item["q"], glossary) is not None or not item["expect"]:
            continue
        result = answerer._search(item["q"], limit=20)
        ranked, _ = answerer.signals(result, question_kind(item["q"]), item["q"])
        ps = [p for p, hit, _ in ranked if hit.id in set(item["expect"])]
        if ps:
            rights.append(max(ps))
    rights.sort()
    topic_floor = round(float(rights[len(rights) // 10]) if rights else 0.1, 4)
    model = AskModel(ranker, confidence, round(answer_at, 4), round(suggest_at, 4), topic_floor, {
        "variant": name,
        "fitted_on": "tests/data/ask_dev.yaml train (+ KB questions and aliases for the ranker)",
        "thresholds_from": "tests/data/ask_dev.yaml train (5-fold held-out confidences) + dev",
        "script": "bench/fit_ask_model.py",
    })
    answerer.model = model
    n = len(dev_rows)
    dev_scored = [(model.confidence.prob(c), right, oos) for c, right, oos, _ in dev_rows]
    print(f"[{name}] ranker:", dict(zip(ranker.names, [round(w, 2) for w in ranker.weights])),
          "bias", round(ranker.bias, 2))
    print(f"[{name}] confidence:", dict(zip(confidence.names, [round(w, 2) for w in confidence.weights])),
          "bias", round(confidence.bias, 2))
    print(f"[{name}] thresholds: answer >= {model.answer_at}, did-you-mean >= {model.suggest_at}, "
          f"topic floor {model.topic_floor}")
    print(f"[{name}] on dev ({n} scored): top-1 right {sum(r for _, r, _ in dev_scored)}, "
          f"answered right {sum(p >= answer_at and r for p, r, _ in dev_scored)}, "
          f"did-you-mean right {sum(suggest_at <= p < answer_at and r for p, r, _ in dev_scored)}, "
          f"answered wrong {sum(p >= answer_at and not r for p, r, _ in dev_scored)}, "
          f"out-of-scope above did-you-mean {sum(p >= suggest_at and o for p, _, o in dev_scored)}")
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fit and print, but do not write the model")
    parser.add_argument("--verbose", action="store_true", help="list the highest confidences (train + dev)")
    parser.add_argument("--suggest-oos", type=float, default=0.03,
                        help="share of the out-of-scope questions seen that may get did-you-mean (default 0.03)")
    args = parser.parse_args()
    data = load_dev()
    out = {}
    with tempfile.TemporaryDirectory(prefix="fit-ask-") as tmp:
        answerer = open_answerer(ROOT / "kb", Path(tmp) / "index", model="semantic")
        if not answerer.settle() and answerer.vectors is None:
            raise SystemExit(f"the semantic model did not load: {answerer.notice}")
        answerer.semantic_on = False
        out["lexical"] = fit_variant(answerer, data, RANKER_FEATURES, CONFIDENCE_FEATURES, "lexical").to_data()
        answerer.semantic_on = True
        out["hybrid"] = fit_variant(answerer, data, HYBRID_RANKER_FEATURES, HYBRID_CONFIDENCE_FEATURES,
                                    "hybrid").to_data()
        answerer.close()
    if not args.check:
        ASK_MODEL_FILE.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {ASK_MODEL_FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
