"""Assessment-quality checks (SC6xx): each flaw, made in an otherwise clean scenario, is reported
with its code and line; the clean scenario has none; the docs list every code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from iwp_trainer.quality import CODES, absolute_words, check_quality, decision_points
from iwp_trainer.scenario_loader import load_dimensions, load_scenario_file

FIX = Path(__file__).parent / "fixtures" / "scenarios"
QUALITY = FIX / "quality"
CLEAN = (QUALITY / "clean.yaml").read_text(encoding="utf-8")


def load(tmp_path: Path, text: str = CLEAN, allow: tuple[str, ...] = ()):
    dims, _ = load_dimensions(QUALITY / "dimensions.yaml")
    path = tmp_path / "clean.yaml"
    path.write_text(text, encoding="utf-8")
    scenario, diags = load_scenario_file(path, dims, None)
    assert scenario is not None and [d for d in diags if d.code not in allow] == [], diags
    return scenario


def line_of(text: str, needle: str) -> int:
    """The line ``needle`` first appears on (so the tests do not hard-code line numbers)."""
    return text[: text.index(needle)].count("\n") + 1


def mutate(old: str, new: str) -> str:
    assert old in CLEAN, old
    return CLEAN.replace(old, new)


def codes(diags) -> list[tuple[str, int | None]]:
    return sorted({(d.code, d.line) for d in diags})


def test_the_clean_fixture_has_no_quality_warning(tmp_path: Path) -> None:
    scenario = load(tmp_path)
    assert check_quality(scenario) == []
    assert len(decision_points(scenario)) == 3


def test_sc601_and_sc606_when_the_best_option_is_always_the_longest(tmp_path: Path) -> None:
    text = CLEAN
    for best in ("sets groups; you can't change it.", "the group itself stays as it is.",
                 "and nobody here can change that."):
        text = text.replace(best, best[:-1] + ", and say it kindly, calmly and clearly to her.")
    diags = check_quality(load(tmp_path, text))
    found = {d.code: d for d in diags}
    assert found["SC601"].line == line_of(text, "id: clean") and "at 3 of 3 decisions" in found["SC601"].message
    assert "always choosing the longest option passes 20 of 20 plays (100%" in found["SC606"].message
    assert {d.code for d in diags} <= {"SC601", "SC602", "SC606"}


def test_sc602_when_option_lengths_differ_by_more_than_twice(tmp_path: Path) -> None:
    text = mutate("Move her to the control group because her working week is so long.", "Move her.")
    diags = check_quality(load(tmp_path, text))
    assert codes(diags) == [("SC602", line_of(text, "  opening:"))]
    assert "from 9 to 73 characters" in diags[0].message


@pytest.mark.parametrize("word", ["never", "always", "definitely", "full stop"])
def test_sc603_absolute_words_only_in_a_wrong_option(tmp_path: Path, word: str) -> None:
    text = mutate("so she could ask about it again then.", f"so she could ask again then, {word}.")
    diags = check_quality(load(tmp_path, text))
    assert codes(diags) == [("SC603", line_of(text, "- id: maybe-later"))]
    assert f'says "{word}"' in diags[0].message


def test_sc603_not_when_the_best_option_uses_an_absolute_word_too(tmp_path: Path) -> None:
    text = mutate("so she could ask about it again then.", "so she could always ask again then.")
    text = text.replace("and nobody here can change that.", "and nobody here can ever change that, always.")
    assert "SC603" not in {d.code for d in check_quality(load(tmp_path, text))}


def test_absolute_words_are_whole_words() -> None:
    assert absolute_words("Never mind; full  stop.") == ["never", "full stop"]
    assert absolute_words("whenever she can, alwaysness") == []


def test_sc604_a_dimension_scored_at_one_decision(tmp_path: Path) -> None:
    text = mutate("dimensions: [reallocation]", "dimensions: [reallocation, sanctions]")
    text = text.replace("""        to: done-end
        scores: {reallocation: 2}""", """        to: done-end
        scores: {reallocation: 2, sanctions: 1}""")
    diags = check_quality(load(tmp_path, text))
    assert codes(diags) == [("SC604", line_of(text, "  again:"))]
    assert "`sanctions` is scored at one decision only (`again`)" in diags[0].message


def test_sc605_a_success_ending_that_ignores_a_mistake(tmp_path: Path) -> None:
    start = CLEAN.index("    variants:")
    end = CLEAN.index("    ending: \"Stays in the trial\"")
    text = CLEAN[:start] + CLEAN[end:]
    diags = check_quality(load(tmp_path, text))
    assert codes(diags) == [("SC605", line_of(text, f"- id: {c}")) for c in ("ask-manager", "maybe-later",
                                                                          "leave-it-open")]
    first = min(diags, key=lambda d: d.line)
    assert "negatively scored choice `ask-manager`" in first.message and "`done-end`" in first.message
    assert "when: [asked-manager]" in first.hint


def test_sc605_a_critical_choice_leading_on_to_the_success_ending(tmp_path: Path) -> None:
    text = mutate("""        to: moved-end
        critical: true""", """        to: shifts
        critical: true""")
    diags = check_quality(load(tmp_path, text, allow=("SC204",)))  # moved-end is now unreachable
    assert ("SC605", line_of(text, "- id: move-her")) in codes(diags)
    assert any("critical choice `move-her`" in d.message for d in diags)


def test_sc606_first_shown_wins_when_choices_are_not_shuffled(tmp_path: Path) -> None:
    text = mutate("pass_mark: 0.7", "pass_mark: 0.7\nshuffle: false")
    diags = check_quality(load(tmp_path, text))
    assert codes(diags) == [("SC606", line_of(text, "id: clean"))]
    assert "first option shown passes 20 of 20" in diags[0].message


def test_docs_list_every_quality_code() -> None:
    docs = (Path(__file__).parent.parent / "docs" / "scenario-format.md").read_text(encoding="utf-8")
    for code in CODES:
        assert re.search(rf"\| {code} \| warning \|", docs), code
