"""Every validator rule: one small broken fixture per rule, asserting the code and the line."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from iwp_trainer.diagnostics import format_diagnostic
from iwp_trainer.engine import Analysis
from iwp_trainer.scenario_loader import load_dimensions, load_scenario_file
from iwp_trainer.validate import CODES

FIX = Path(__file__).parent / "fixtures" / "scenarios"
BROKEN = FIX / "broken"
KB_IDS = {p.stem for p in (FIX / "kb").glob("*.md")}


@pytest.fixture(scope="module")
def dims():
    dimensions, diags = load_dimensions(BROKEN / "dimensions.yaml")
    assert diags == []
    return dimensions


def check(name: str, dims) -> list:
    _scenario, diags = load_scenario_file(BROKEN / f"{name}.yaml", dims, KB_IDS)
    return diags


# (fixture, code, line, severity, words the message or hint must contain)
CASES = [
    ("sc001-syntax", "SC001", 14, "error", "YAML syntax error"),
    ("sc002-duplicate-key", "SC002", 3, "error", "duplicate key `title` (first at line 2)"),
    ("sc002-duplicate-node", "SC002", 20, "error", "duplicate key `done`"),
    ("sc003-anchor", "SC003", 5, "error", "&dims"),
    ("sc004-python-tag", "SC004", 2, "error", "!!python/object/apply"),
    ("sc005-empty", "SC005", 1, "error", "empty"),
    ("sc006-not-mapping", "SC006", 1, "error", "must be a mapping"),
    ("sc008-deep", "SC008", 2, "error", "more than 50 levels"),
    ("sc009-not-utf8", "SC009", 2, "error", "UTF-8"),
    ("sc101-unknown-key", "SC101", 16, "error", "did you mean `feedback`?"),
    ("sc102-missing-to", "SC102", 12, "error", "missing the required key `to`"),
    ("sc103-wrong-type", "SC103", 15, "error", "whole number"),
    ("sc104-yaml-boolean", "SC104", 13, "error", 'boolean false from unquoted `NO`'),
    ("sc105-empty-say", "SC105", 10, "error", "empty"),
    ("sc106-bad-id", "SC106", 12, "error", "`Explain RAT` is not a valid id"),
    ("sc107-id-mismatch", "SC107", 1, "error", "does not match the file name"),
    ("sc108-pass-mark", "SC108", 6, "error", "pass_mark 1.5"),
    ("sc109-control-char", "SC109", 13, "error", "`nodes.opening.choices[1].text` contains U+001B (ESC), U+0007 (BEL)"),
    ("sc201-missing-target", "SC201", 14, "error", "did you mean `done`?"),
    ("sc202-duplicate-choice", "SC202", 17, "error", "duplicate choice id `explain-rat` (first at line 12)"),
    ("sc204-unreachable", "SC204", 20, "warning", "`orphan` cannot be reached"),
    ("sc205-no-choices", "SC205", 20, "error", "`limbo` has no choices"),
    ("sc206-loop-no-exit", "SC206", 23, "error", "no ending can be reached from node `weather`"),
    ("sc207-ending-with-choices", "SC207", 20, "error", "ending but also has `choices`"),
    ("sc208-choices-and-random", "SC208", 17, "error", "both `choices` and `random`"),
    ("sc209-all-hidden", "SC209", 24, "error", "flags (promised)"),
    ("sc210-random-unequal", "SC210", 22, "warning", "different best `reallocation`"),
    ("sc212-critical-best", "SC212", 17, "warning", "critical choice `move-her`"),
    ("sc213-variant-never-set", "SC213", 21, "warning", "flag `explaned` is never set by any choice (did you mean `explained`?)"),
    ("sc213-variant-shadowed", "SC213", 23, "warning", "variant 2 of node `done` can never show: variant 1"),
    ("sc301-unknown-dimension", "SC301", 5, "error", "did you mean `sanctions`?"),
    ("sc302-no-cites", "SC302", 12, "error", "cites no knowledge-base entry"),
    ("sc303-unknown-cite", "SC303", 16, "error", "did you mean `reallocation-not-allowed`?"),
    ("sc304-unscorable-dimension", "SC304", 5, "error", "`sanctions`"),
    ("sc305-flag-never-set", "SC305", 20, "warning", "`asked-worries`"),
    ("sc306-undeclared-dimension", "SC306", 15, "error", "scores `sanctions`"),
    ("sc401-test-fails", "SC401", 21, "error", "expected 3 `reallocation` points but earned 2"),
    ("sc402-test-bad-choice", "SC402", 22, "error", "did you mean `explain-rat`?"),
]


@pytest.mark.parametrize(("name", "code", "line", "severity", "words"), CASES, ids=[c[0] for c in CASES])
def test_each_rule_reports_its_code_and_line(name: str, code: str, line: int, severity: str, words: str,
                                             dims) -> None:
    diags = check(name, dims)
    assert [(d.code, d.line, d.severity) for d in diags][:1] == [(code, line, severity)], diags
    # one mistake, one message: no cascade of follow-on problems
    assert {d.code for d in diags} == {code}
    text = format_diagnostic(diags[0])
    assert text.startswith(f"{BROKEN / name}.yaml:{line}:")
    assert words in text
    assert code in CODES


def test_too_many_flag_combinations_is_an_error_not_a_hang(dims, monkeypatch) -> None:
    # 12 independent flags all checked at the end: 4,096 states, fine by default...
    assert check("sc211-too-many-flags", dims) == []
    # ...but past the limit the validator stops with a clear error instead of grinding on
    monkeypatch.setattr(Analysis, "MAX_STATES", 1_000)
    diags = check("sc211-too-many-flags", dims)
    assert [(d.code, d.line) for d in diags] == [("SC211", 7)]


def test_every_broken_fixture_is_covered() -> None:
    files = {p.stem for p in BROKEN.glob("*.yaml")} - {"dimensions"}
    assert files == {c[0] for c in CASES} | {"sc211-too-many-flags"}


def test_every_code_has_a_test_or_a_dedicated_check() -> None:
    # SC007, SC203 and SC501 are tested in test_scenario_loader.py
    tested = {c[1] for c in CASES} | {"SC007", "SC203", "SC211", "SC501"}
    assert set(CODES) == tested


def test_docs_explain_every_code_and_their_example_is_valid(tmp_path: Path, dims) -> None:
    docs = (Path(__file__).parent.parent / "docs" / "scenario-format.md").read_text(encoding="utf-8")
    for code in CODES:
        assert f"| {code} |" in docs, code
    example = re.findall(r"```yaml\n(.*?)```", docs, re.S)[1]
    path = tmp_path / "control-group-request.yaml"
    path.write_text(example, encoding="utf-8")
    shipped_kb_ids = {p.stem for p in (Path(__file__).parent.parent / "kb").glob("*.md")}
    scenario, diags = load_scenario_file(path, dims, shipped_kb_ids)
    assert diags == [] and scenario is not None


def test_broken_scenarios_are_not_returned_but_test_failures_are(dims) -> None:
    scenario, _ = load_scenario_file(BROKEN / "sc201-missing-target.yaml", dims, KB_IDS)
    assert scenario is None
    scenario, diags = load_scenario_file(BROKEN / "sc401-test-fails.yaml", dims, KB_IDS)
    assert scenario is not None and [d.code for d in diags] == ["SC401"]
    scenario, diags = load_scenario_file(BROKEN / "sc204-unreachable.yaml", dims, KB_IDS)
    assert scenario is not None  # warnings keep the scenario playable


def test_control_characters_are_errors_but_the_scenario_still_loads(dims) -> None:
    """`check` fails on them; the app and commands still offer the scenario, showing placeholders."""
    scenario, diags = load_scenario_file(BROKEN / "sc109-control-char.yaml", dims, KB_IDS)
    assert [d.code for d in diags] == ["SC109"] and diags[0].severity == "error"
    assert scenario is not None
    assert scenario.nodes["opening"].choices[0].text.endswith("\x1b]52;c;aGk=\x07")


def test_control_characters_in_keys_and_many_texts_are_reported_once_each(tmp_path: Path, dims) -> None:
    text = (BROKEN / "sc109-control-char.yaml").read_text(encoding="utf-8")
    text = text.replace('summary: "S"', 'summary: "S"\n"x\\u202e": 1').replace(
        'title: "T"', 'title: "\\u202eT"')
    path = tmp_path / "sc109-control-char.yaml"
    path.write_text(text, encoding="utf-8")
    _scenario, diags = load_scenario_file(path, dims, KB_IDS)
    sc109 = [d for d in diags if d.code == "SC109"]
    assert [(d.line, d.message.split(" contains")[0]) for d in sc109] == [
        (2, "`title`"), (4, "the key `x\u202e`"), (14, "`nodes.opening.choices[1].text`")]


def test_cites_are_not_checked_without_a_kb(dims) -> None:
    _scenario, diags = load_scenario_file(BROKEN / "sc303-unknown-cite.yaml", dims, None)
    assert diags == []


@pytest.mark.parametrize(("line", "read_as"), [
    ('    say: yes', "the boolean true"),
    ('    say: off', "the boolean false"),
    ('    say: 3.10', "the number 3.1"),
    ('    say: 2024-01-31', "the date 2024-01-31"),
])
def test_yaml_11_surprises_say_what_was_read_and_that_quotes_fix_it(tmp_path: Path, dims, line: str,
                                                                    read_as: str) -> None:
    text = (BROKEN.parent / "valid" / "tiny.yaml").read_text(encoding="utf-8")
    text = text.replace('    say: "Can you move me to the control group?"', line)
    path = tmp_path / "tiny.yaml"
    path.write_text(text, encoding="utf-8")
    _scenario, diags = load_scenario_file(path, dims, None)
    assert [d.code for d in diags] == ["SC104"]
    raw = line.split(": ", 1)[1]
    assert read_as in diags[0].message
    assert diags[0].hint == f'put it in quotes: "{raw}"'
    assert diags[0].line == 11


def test_valid_fixtures_are_clean(dims) -> None:
    for path in sorted((FIX / "valid").glob("*.yaml")):
        if path.name == "dimensions.yaml":
            continue
        scenario, diags = load_scenario_file(path, dims, KB_IDS)
        assert diags == [], path
        assert scenario is not None and scenario.id == path.stem


def test_several_problems_in_one_file_are_all_reported(tmp_path: Path, dims) -> None:
    text = (BROKEN.parent / "valid" / "tiny.yaml").read_text(encoding="utf-8")
    text = text.replace("level: experienced", "level: experinced").replace("shuffle: false", "shufle: false")
    path = tmp_path / "tiny.yaml"
    path.write_text(text, encoding="utf-8")
    _scenario, diags = load_scenario_file(path, dims, None)
    found = {(d.code, d.line) for d in diags}
    assert ("SC108", 4) in found and ("SC101", 6) in found
    assert any(d.hint == "did you mean `shuffle`?" for d in diags)
    assert any(d.hint == "did you mean `experienced`?" for d in diags)


# -- never raises -----------------------------------------------------------------------------------

_ODD_VALUES = st.sampled_from([None, 0, -3, 2.5, True, "", "x", "no", "Bad Id", "stays-end", [], {}, [1],
                               {"a": 1}, ["opening"], {"reallocation": "x"}, [{"id": "q"}]])


def _paths(obj: object, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(obj, dict):
        for key, value in obj.items():
            found += _paths(value, prefix + (key,))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            found += _paths(value, prefix + (index,))
    return found


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_mutated_scenarios_give_diagnostics_never_exceptions(tmp_path_factory, dims, data) -> None:
    scenario_data = yaml.safe_load((FIX / "valid" / "group-swap.yaml").read_text(encoding="utf-8"))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(scenario_data)))
        parent = scenario_data
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = copy.deepcopy(data.draw(_ODD_VALUES))  # never share (or nest) one object
    target = tmp_path_factory.mktemp("mutated") / "group-swap.yaml"
    target.write_text(yaml.safe_dump(scenario_data), encoding="utf-8")
    scenario, diags = load_scenario_file(target, dims, KB_IDS)
    assert scenario is not None or any(d.severity == "error" for d in diags)
    for diag in diags:
        assert diag.file == str(target) and diag.line is not None and diag.code in CODES


def test_an_id_mismatch_does_not_hide_an_unknown_target_or_cite(tmp_path: Path, dims) -> None:
    """`check` reports every problem it can in one run: the item-by-item checks run on whatever
    the shape pass could read."""
    text = (BROKEN / "sc107-id-mismatch.yaml").read_text(encoding="utf-8")
    text = text.replace("to: done", "to: dnoe").replace("cites: [reallocation-not-allowed]",
                                                        "cites: [reallocation-not-alowed]")
    text = text.replace('summary: "S"', 'sumary: "S"')
    path = tmp_path / "sc107-id-mismatch.yaml"
    path.write_text(text, encoding="utf-8")
    scenario, diags = load_scenario_file(path, dims, KB_IDS)
    assert scenario is None
    found = {d.code: d for d in diags}
    assert set(found) == {"SC107", "SC101", "SC102", "SC201", "SC303"}
    assert found["SC201"].hint == "did you mean `done`?"
    assert found["SC303"].hint == "did you mean `reallocation-not-allowed`?"


def test_a_broken_node_is_not_also_reported_as_missing(tmp_path: Path, dims) -> None:
    text = (BROKEN / "sc105-empty-say.yaml").read_text(encoding="utf-8")
    text = text.replace('    say: "She stays."', '    say: ""')  # `done` cannot be read either
    text = text.replace("cites: [reallocation-not-allowed]", "cites: [nowhere]")
    path = tmp_path / "sc105-empty-say.yaml"
    path.write_text(text, encoding="utf-8")
    _scenario, diags = load_scenario_file(path, dims, KB_IDS)
    assert sorted(d.code for d in diags) == ["SC105", "SC105"]  # the choice inside `opening` was not read


def test_flags_are_judged_only_when_every_choice_could_be_read(tmp_path: Path, dims) -> None:
    text = (BROKEN / "sc305-flag-never-set.yaml").read_text(encoding="utf-8")
    text = text.replace("        cites: [reallocation-not-allowed]\n",
                        "        cites: [reallocation-not-allowed]\n        set: [asked-worries]\n        colour: red\n", 1)
    path = tmp_path / "sc305-flag-never-set.yaml"
    path.write_text(text, encoding="utf-8")
    _scenario, diags = load_scenario_file(path, dims, KB_IDS)
    assert [d.code for d in diags] == ["SC101"]  # the unreadable choice sets the flag: no false SC305
