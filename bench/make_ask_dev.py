"""Turn the question writer's file into ``tests/data/ask_dev.yaml``: labels mapped to KB entries, split.

The questions were written from the source documents (``/work/shared/seeds``) by someone who had
not seen ``kb/``; each is labelled with a source *unit* (a FAQ question, an OBR fact, a glossary
acronym). :data:`UNITS` below is the only judgement added here: which KB entries (and glossary
term) answer each unit. Where the KB splits one FAQ answer into several entries, any of them is
the right entry for that unit's questions.

The split is fixed and published: within each unit (and for out-of-scope questions within near /
far), questions are ordered by the sha256 of their text and dealt out train, train, dev, test.
``train`` fits the model, ``dev`` chooses its thresholds, ``test`` is only ever reported.

    .venv/bin/python bench/make_ask_dev.py [RAW.yaml]   # default tests/data/ask_dev_raw.yaml
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "ask_dev.yaml"
DEAL = ("train", "train", "dev", "test")

# unit -> (KB entries that answer it, glossary term it asks about or None)
UNITS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "u01": (("why-in-work-trials",), None),
    "u02": (("what-is-the-trial",), None),
    "u03": (("trial-aims",), None),
    "u04": (("uc-performance-measures",), None),
    "u05": (("withheld-sections",), None),
    "u06": (("when-to-engage", "first-compliance-check"), None),
    "u07": (("iwp-interview-difference",), None),
    "u08": (("key-messages-mandatory",), None),
    "u09": (("key-messages-conversations",), None),
    "u10": (("discretion-overview", "cet-reduction-caring", "reallocation-not-allowed",
             "domestic-violence-exclusion", "household-earnings-above-cet"), None),
    "u11": (("work-search-review-purpose", "wsr-evidence"), None),
    "u12": (("travel-costs-refund", "attendance-frequency"), None),
    "u13": (("change-jobcentre-request", "change-of-address-outside-area"), None),
    "u14": (("why-sanction-in-work", "when-sanction-applies"), None),
    "u15": (("sanction-duration",), None),
    "u16": (("coach-training",), None),
    "u17": (("support-after-go-live",), None),
    # The OBR box's provenance is told at the top of each OBR entry; the activities entry tells it
    # most fully (candidate information pack, in- and out-of-work cases).
    "u18": (("work-coach-activities", "work-coach-responsibilities"), None),
    "u19": (("work-coach-numbers",), None),
    "u20": (("work-coach-activities",), None),
    "u21": (("work-coach-activities",), None),
    "u22": (("work-coach-activities",), None),
    "u23": (("work-coach-responsibilities",), None),
    "u24": (("work-coach-apprenticeship",), None),
    "u25": (("work-coach-pay",), None),
    "u26": (("self-employed-claimants",), None),
    # Glossary units: the definition is the answer; an entry that explains the term in context is
    # also right.
    "u27": ((), "UC"),
    "u28": (("what-is-the-trial",), "IWP"),
    "u29": (("household-earnings-above-cet", "cet-reduction-caring"), "CET"),
    "u30": (("first-compliance-check",), "AWC"),
    "u31": (("travel-costs-refund",), "WSI"),
    "u32": (("work-search-review-purpose", "wsr-evidence"), "WSR"),
    "u33": (("travel-costs-refund",), "FSF"),
    "u34": (("work-coach-activities",), "JSA"),
    "u35": (("work-coach-activities",), "ESA"),
    "u36": (("work-coach-activities",), "IS"),
    "u37": (("coach-training",), "L&D"),
    "u38": (("what-is-the-trial",), "RCT"),
}


def _order(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).lower().encode("utf-8")).hexdigest()


def deal(items: list[dict], key) -> None:
    """Give each item a split, stratified by ``key`` and ordered by the hash of its question."""
    groups: dict[str, list[dict]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    for group in groups.values():
        for n, item in enumerate(sorted(group, key=lambda i: _order(i["q"]))):
            item["split"] = DEAL[n % len(DEAL)]


def main(raw_path: str) -> None:
    raw = yaml.safe_load(Path(raw_path).read_text(encoding="utf-8"))
    answerable = []
    for item in raw["answerable"]:
        entries, term = UNITS[item["unit"]]
        row = {"q": item["q"], "unit": item["unit"], "expect": list(entries)}
        if term:
            row["term"] = term
        row["style"] = item.get("style", "")
        answerable.append(row)
    out_of_scope = [{"q": item["q"], "near": bool(item.get("near"))} for item in raw["out_of_scope"]]
    deal(answerable, lambda i: i["unit"])
    deal(out_of_scope, lambda i: "near" if i["near"] else "far")
    units = {u["id"]: u["text"] for u in raw["units"]}
    header = (
        "# Ask's development set: questions written from the source documents by a writer who had not\n"
        "# seen kb/, labelled by source unit; bench/make_ask_dev.py maps units to KB entries and deals\n"
        "# the fixed split (train fits, dev chooses thresholds, test is only reported). Do not edit by\n"
        "# hand: regenerate with the script.\n"
    )
    data = {"units": {k: {"text": units.get(k, ""), "expect": list(v[0]), "term": v[1]} for k, v in UNITS.items()},
            "answerable": answerable, "out_of_scope": out_of_scope}
    OUT.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=200), encoding="utf-8")
    counts = {s: sum(i["split"] == s for i in answerable) for s in ("train", "dev", "test")}
    oos = {s: sum(i["split"] == s for i in out_of_scope) for s in ("train", "dev", "test")}
    print(f"wrote {OUT.relative_to(ROOT)}: answerable {counts}, out of scope {oos}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "tests" / "data" / "ask_dev_raw.yaml"))
