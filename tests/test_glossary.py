"""The glossary: terms load, acronyms expand queries both ways, broken files give diagnostics."""

from __future__ import annotations

from pathlib import Path

from iwp_trainer.glossary import Glossary, Term, load_glossary, parse_glossary


def _glossary(fixtures_dir: Path, name: str) -> Glossary:
    return load_glossary(fixtures_dir / "kb" / name / "glossary.yaml")


def test_terms_load_with_meaning_and_aliases(fixtures_dir: Path) -> None:
    glossary = _glossary(fixtures_dir, "good")
    assert glossary.diagnostics == []
    assert set(glossary.terms) == {"FSF", "RAT", "IS", "sanction"}
    assert glossary.terms["FSF"] == Term("FSF", "Flexible Support Fund.", ("Flexible Support Fund",), 1)
    # A plain string value is the meaning.
    assert glossary.terms["sanction"].meaning.startswith("A consequence")


def test_lookup_ignores_case_and_spacing(fixtures_dir: Path) -> None:
    glossary = _glossary(fixtures_dir, "good")
    assert glossary.lookup("fsf").term == "FSF"
    assert glossary.lookup("  flexible   support FUND ").term == "FSF"
    assert glossary.lookup("weather") is None


def test_expand_adds_the_other_spellings(fixtures_dir: Path) -> None:
    glossary = _glossary(fixtures_dir, "good")
    assert "Flexible Support Fund" in glossary.expand("FSF travel")
    assert "FSF" in glossary.expand("can the flexible support fund pay for travel")
    assert glossary.expand("nothing to see") == ""
    # The spelling already in the question is not repeated.
    assert "FSF" not in glossary.expand("fsf travel").split()


def test_common_word_acronyms_only_match_in_capitals(fixtures_dir: Path) -> None:
    glossary = _glossary(fixtures_dir, "good")
    assert [t.term for t in glossary.find("what is IS")] == ["IS"]
    assert glossary.find("what is this") == []


def test_find_matches_whole_words_only(fixtures_dir: Path) -> None:
    glossary = _glossary(fixtures_dir, "good")
    assert glossary.find("sanctions and ratings") == []  # neither "sanction" nor "RAT" as words
    assert [t.term for t in glossary.find("a sanction from the RAT")] == ["sanction", "RAT"]


def test_broken_terms_are_reported_and_the_rest_kept(fixtures_dir: Path) -> None:
    glossary = _glossary(fixtures_dir, "broken")
    assert set(glossary.terms) == {"FSF"}
    assert sorted((d.line, d.code) for d in glossary.diagnostics) == [
        (4, "glossary-type"),
        (5, "glossary-meaning"),
    ]


def test_invalid_yaml_is_one_diagnostic_with_its_line(fixtures_dir: Path) -> None:
    glossary = _glossary(fixtures_dir, "broken_glossary")
    assert glossary.terms == {}
    [diag] = glossary.diagnostics
    assert diag.code == "glossary-yaml" and diag.line == 4
    assert diag.file.endswith("glossary.yaml")


def test_missing_glossary_is_empty_and_silent(tmp_path: Path) -> None:
    glossary = load_glossary(tmp_path / "glossary.yaml")
    assert len(glossary) == 0 and glossary.diagnostics == []


def test_wrong_shapes_never_raise(tmp_path: Path) -> None:
    for text in ["- a\n- b\n", "42\n", "X:\n  meaning: m\n  aliases: oops\n",
                 "X:\n  meaning: m\n  aliases: [ok, 3, '']\n", "? [a]\n: b\n", "''\n"]:
        glossary = parse_glossary(text, tmp_path / "glossary.yaml")
        assert isinstance(glossary, Glossary)
    mixed = parse_glossary("X:\n  meaning: m\n  aliases: [ok, 3]\n", tmp_path / "g.yaml")
    assert [(d.line, d.code) for d in mixed.diagnostics] == [(3, "glossary-type")]
    assert mixed.terms["X"].aliases == ("ok",)


def test_non_utf8_glossary_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "glossary.yaml"
    path.write_bytes(b"FSF: Flexible Support Fund\nCAF: caf\xe9\n")
    glossary = load_glossary(path)
    assert [(d.line, d.code) for d in glossary.diagnostics] == [(2, "glossary-encoding")]


def test_shipped_glossary_expands_acronyms(shipped_kb: Path) -> None:
    glossary = load_glossary(shipped_kb / "glossary.yaml")
    assert glossary.diagnostics == []
    assert "Flexible Support Fund" in glossary.expand("FSF travel")
    assert "Conditionality Earnings Threshold" in glossary.expand("can i lower someone's cet")


def test_control_character_is_reported_on_its_own_line(tmp_path: Path) -> None:
    glossary = parse_glossary("CET: conditionality earnings threshold\nWSR: a\x07b\n", tmp_path / "glossary.yaml")
    (diag,) = glossary.diagnostics
    assert diag.line == 2 and "#x0007" in diag.message and "\n" not in diag.message


def test_oversized_glossary_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "glossary.yaml"
    path.write_text("".join(f"T{i}: term number {i}\n" for i in range(80_000)), encoding="utf-8")
    glossary = load_glossary(path)
    assert len(glossary) == 0
    (diag,) = glossary.diagnostics
    assert (diag.code, diag.line) == ("glossary-too-large", 1) and "1 MB" in diag.message
