"""Checks over the shipped knowledge base, glossary and Ask question set.

These read the files directly with PyYAML (not through `iwp_trainer.kb`) so the content can be
checked on its own: scenarios and the answerer cite these ids, and coaches rely on the facts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
KB_DIR = ROOT / "kb"
QUESTIONS = ROOT / "tests" / "data" / "ask_questions.yaml"

DOCUMENTS = {"IWP trial FAQ", "OBR Welfare trends report, January 2018"}

REQUIRED_IDS = {
    "IWP trial FAQ": {
        "section 1: Background": [
            "why-in-work-trials", "what-is-the-trial", "trial-aims", "uc-performance-measures",
            "withheld-sections",
        ],
        "section 5: Conducting Interviews": [
            "when-to-engage", "first-compliance-check", "iwp-interview-difference",
            "key-messages-mandatory", "key-messages-conversations", "discretion-overview",
            "domestic-violence-exclusion", "cet-reduction-caring", "household-earnings-above-cet",
            "reallocation-not-allowed", "work-search-review-purpose", "wsr-evidence",
            "travel-costs-refund", "change-of-address-outside-area", "change-jobcentre-request",
        ],
        "section 6: Conditionality and Sanctions": [
            "why-sanction-in-work", "when-sanction-applies", "sanction-duration",
        ],
        "section 7: Training and Support": ["coach-training", "support-after-go-live"],
    },
    "OBR Welfare trends report, January 2018": {
        "the work coach role": [
            "work-coach-activities", "work-coach-responsibilities", "work-coach-numbers",
            "work-coach-pay", "work-coach-apprenticeship", "self-employed-claimants",
        ],
    },
}
ALL_REQUIRED = [i for sections in REQUIRED_IDS.values() for ids in sections.values() for i in ids]

GLOSSARY_ACRONYMS = [
    "CET", "AWC", "WSI", "WSR", "FSF", "IWP", "UC", "JSA", "ESA", "IS", "L&D", "RCT", "DV", "RAT",
]
GLOSSARY_TERMS = ["Claimant Commitment", "trial group", "control group", "sanction", "conditionality"]

FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n(.*)\Z", re.DOTALL)


def _read_entry(path: Path) -> tuple[dict[str, Any], str]:
    match = FRONT_MATTER.match(path.read_text(encoding="utf-8"))
    assert match, f"{path.name}: no YAML front matter between --- lines"
    meta = yaml.safe_load(match.group(1))
    assert isinstance(meta, dict), f"{path.name}: front matter is not a mapping"
    return meta, match.group(2)


ENTRY_FILES = sorted(KB_DIR.glob("*.md"))
ENTRIES = {path.stem: _read_entry(path) for path in ENTRY_FILES}


def _normalise(text: str) -> str:
    """Lower case, punctuation dropped, whitespace collapsed: how a copy would still match."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _flat(text: str) -> str:
    """Body text with Markdown emphasis and line breaks removed, for fact checks."""
    return " ".join(text.replace("*", "").split())


@pytest.fixture(scope="module")
def glossary() -> dict[str, Any]:
    data = yaml.safe_load((KB_DIR / "glossary.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def questions() -> dict[str, Any]:
    data = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_every_required_id_exists_with_the_right_source() -> None:
    for document, sections in REQUIRED_IDS.items():
        for section, ids in sections.items():
            for entry_id in ids:
                assert entry_id in ENTRIES, f"missing kb/{entry_id}.md"
                source = ENTRIES[entry_id][0]["source"]
                assert source == {"document": document, "section": section}, entry_id


@pytest.mark.parametrize("path", ENTRY_FILES, ids=lambda p: p.stem)
def test_entry_front_matter_is_complete(path: Path) -> None:
    meta, body = _read_entry(path)
    assert meta["id"] == path.stem
    assert isinstance(meta["question"], str) and meta["question"].strip().endswith("?")
    aliases = meta["aliases"]
    assert isinstance(aliases, list) and 3 <= len(aliases) <= 8
    assert all(isinstance(a, str) and a.strip() for a in aliases)
    assert isinstance(meta["tags"], list) and meta["tags"]
    assert meta["source"]["document"] in DOCUMENTS
    assert isinstance(meta["source"]["section"], str) and meta["source"]["section"]
    assert isinstance(meta["related"], list)
    assert len(body.split()) >= 10, "answer body is too short to be an answer"


def test_ids_are_unique_and_match_file_stems() -> None:
    ids = [meta["id"] for meta, _ in ENTRIES.values()]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(ENTRIES)


def test_related_ids_exist_and_are_not_self_references() -> None:
    for entry_id, (meta, _) in ENTRIES.items():
        for related in meta["related"]:
            assert related in ENTRIES, f"{entry_id}: related id {related!r} has no entry"
            assert related != entry_id


def test_aliases_are_distinct_across_entries() -> None:
    """An alias shared by two entries would make the answerer's choice arbitrary."""
    seen: dict[str, str] = {}
    for entry_id, (meta, _) in ENTRIES.items():
        for text in [meta["question"], *meta["aliases"]]:
            key = _normalise(text)
            assert key not in seen or seen[key] == entry_id, f"{text!r} in {entry_id} and {seen.get(key)}"
            seen[key] = entry_id


def test_glossary_has_every_acronym_and_term(glossary: dict[str, Any]) -> None:
    for term in GLOSSARY_ACRONYMS + GLOSSARY_TERMS:
        assert term in glossary, f"glossary is missing {term}"


def test_glossary_entries_have_meaning_and_aliases(glossary: dict[str, Any]) -> None:
    for term, value in glossary.items():
        assert isinstance(value["meaning"], str) and value["meaning"].strip(), term
        assert isinstance(value["aliases"], list), term
        assert all(isinstance(a, str) and a for a in value["aliases"]), term


def test_glossary_expands_the_acronyms_from_the_sources(glossary: dict[str, Any]) -> None:
    """The expansions from the seeds README, spelt out so query expansion can use them."""
    expansions = {
        "CET": "Conditionality Earnings Threshold", "AWC": "Assistant Work Coach",
        "WSI": "Work Search Interview", "WSR": "Work Search Review", "FSF": "Flexible Support Fund",
        "IWP": "In-Work Progression", "UC": "Universal Credit", "JSA": "Jobseeker's Allowance",
        "ESA": "Employment and Support Allowance", "IS": "Income Support",
        "L&D": "Learning and Development", "RAT": "Random Allocation Tool",
        "DV": "domestic violence",
    }
    for acronym, full in expansions.items():
        assert full in glossary[acronym]["aliases"], acronym


def test_question_set_size_and_coverage(questions: dict[str, Any]) -> None:
    answerable = questions["answerable"]
    assert len(answerable) >= 80
    assert len(questions["out_of_scope"]) >= 25
    counts: dict[str, int] = {}
    for item in answerable:
        counts[item["expect"]] = counts.get(item["expect"], 0) + 1
    for entry_id in ENTRIES:
        assert counts.get(entry_id, 0) >= 2, f"{entry_id} has fewer than 2 test questions"


def test_question_set_expected_ids_exist(questions: dict[str, Any]) -> None:
    for item in questions["answerable"]:
        assert item["expect"] in ENTRIES, f"{item['q']!r} expects unknown id {item['expect']!r}"


def test_questions_do_not_copy_canonical_questions_or_aliases(questions: dict[str, Any]) -> None:
    """Copies would test string matching, not whether the answerer understands coaches."""
    phrasings = {
        _normalise(text)
        for meta, _ in ENTRIES.values()
        for text in [meta["question"], *meta["aliases"]]
    }
    texts = [item["q"] for item in questions["answerable"]] + list(questions["out_of_scope"])
    for text in texts:
        assert _normalise(text) not in phrasings, f"{text!r} copies an entry's question or alias"
    assert len({_normalise(t) for t in texts}) == len(texts), "duplicate questions in the set"


# Fact checks: the figures and names coaches act on.

def test_first_compliance_check_says_eight_weeks() -> None:
    body = _flat(ENTRIES["first-compliance-check"][1])
    assert "8 weeks" in body
    assert "Assistant Work Coach" in body


def test_work_coach_pay_gives_the_advertised_range() -> None:
    body = _flat(ENTRIES["work-coach-pay"][1])
    assert "£24,000" in body and "£26,000" in body


def test_work_coach_numbers_says_13000() -> None:
    assert "13,000" in _flat(ENTRIES["work-coach-numbers"][1])


def test_reallocation_names_the_random_allocation_tool() -> None:
    body = _flat(ENTRIES["reallocation-not-allowed"][1])
    assert "Random Allocation Tool" in body
    assert "do not have discretion to reallocate" in body


def test_travel_costs_entry_keeps_the_conditions() -> None:
    body = _flat(ENTRIES["travel-costs-refund"][1])
    assert "not normally be refunded" in body
    assert "fortnightly or bi-monthly" in body
    assert "Flexible Support Fund" in body


def test_sanction_duration_invents_no_length() -> None:
    """The FAQ gives no trial-specific duration; the entry must not state one."""
    body = _flat(ENTRIES["sanction-duration"][1])
    assert "normal Universal Credit sanctions process" in body
    assert not re.search(r"\d", body), "sanction-duration states a number the FAQ does not give"


def test_withheld_sections_cites_foi_and_published_source() -> None:
    body = _flat(ENTRIES["withheld-sections"][1])
    assert "section 22" in body and "section 21" in body
    assert "www.gov.uk/uc-at-work-spring-2015.pdf" in body


def test_change_jobcentre_request_keeps_claimant_in_trial() -> None:
    body = _flat(ENTRIES["change-jobcentre-request"][1])
    assert "own merits" in body
    assert "primarily to avoid participation" in body
    assert "continues to be included in the trial" in body


def test_coach_training_starts_in_early_april() -> None:
    assert "early April" in _flat(ENTRIES["coach-training"][1])


# The release's own shape and the sources' force (issue 12: "The KB's own wording").

WITHHELD_CLAIM = re.compile(r"sections? 2 to 4[^.]{0,60}(section 22|withheld|removed)"
                            r"|part of section 6[^.]{0,40}(withheld|section 22|removed)", re.IGNORECASE)


def _all_kb_text(glossary: dict[str, Any]) -> dict[str, str]:
    texts = {entry_id: _flat(body) for entry_id, (_meta, body) in ENTRIES.items()}
    texts.update({f"glossary:{term}": value["meaning"] for term, value in glossary.items()})
    return texts


def test_no_entry_says_numbered_sections_were_removed_under_section_22(glossary: dict[str, Any]) -> None:
    """The single removal notice numbers no sections, and the section 6 gap has no stated reason."""
    bad = [key for key, text in _all_kb_text(glossary).items() if WITHHELD_CLAIM.search(text)]
    assert not bad, f"entries attribute removed sections to section 22: {bad}"


def test_withheld_sections_describes_the_release_as_it_is() -> None:
    body = _flat(ENTRIES["withheld-sections"][1])
    assert "one removal notice" in body and "after section 1" in body
    assert "does not say which sections were removed" in body
    assert "sections 2 to 4 are simply absent" in body
    assert "no reason" in body and "section 6" in body


def test_performance_measures_stop_where_the_release_stops() -> None:
    assert "released FAQ says nothing more" in _flat(ENTRIES["uc-performance-measures"][1])


def test_future_tense_is_kept_where_the_faq_uses_it() -> None:
    assert "will start in early April" in _flat(ENTRIES["coach-training"][1])
    interview = _flat(ENTRIES["iwp-interview-difference"][1])
    assert "you will be having" in interview and "will be about" in interview
    for entry_id in ("first-compliance-check", "when-to-engage"):
        assert "will not begin until" in _flat(ENTRIES[entry_id][1]), entry_id


@pytest.mark.parametrize("entry_id", ["attendance-frequency", "travel-costs-refund"])
def test_bi_monthly_is_flagged_as_ambiguous(entry_id: str) -> None:
    body = _flat(ENTRIES[entry_id][1])
    assert "twice a month or every two months" in body
    assert "line manager or district support" in body


def test_household_earnings_entry_says_what_the_faq_leaves_out() -> None:
    body = _flat(ENTRIES["household-earnings-above-cet"][1])
    assert "eligibility rule" in body
    assert "neither when it applies" in body and "nor who applies it" in body


def test_obr_box_framing_sentence_is_in_the_kb() -> None:
    body = _flat(ENTRIES["work-coach-activities"][1])
    assert "Chapter 3" in body
    assert "setting conditions and applying sanctions to encourage claimants to seek and progress in work" in body


@pytest.mark.parametrize("term", ["CET", "WSI", "JSA", "ESA", "IS", "RAT", "DV", "trial group",
                                  "sanction", "conditionality"])
def test_glossary_marks_what_the_sources_never_spell_out(glossary: dict[str, Any], term: str) -> None:
    """Expansions and definitions the two documents do not give are labelled, not cited to the FAQ."""
    assert "standard DWP usage" in glossary[term]["meaning"] or "standard research usage" in glossary[term]["meaning"]
