"""Loading YAML with positions, safely, and loading whole folders without ever raising."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iwp_trainer.scenario_loader import (
    MAX_BYTES,
    PARALLEL_MIN_FILES,
    load_scenario_file,
    load_scenarios,
    parse_yaml,
)

FIX = Path(__file__).parent / "fixtures" / "scenarios"
VALID = FIX / "valid"
KB_IDS = {p.stem for p in (FIX / "kb").glob("*.md")}


def test_positions_of_keys_and_values() -> None:
    text = "id: x\nnodes:\n  opening:\n    say: \"hi\"\n    choices:\n      - id: a\n        to: b\n"
    doc, diags = parse_yaml(text, "f.yaml")
    assert diags == [] and doc is not None
    assert doc.data["nodes"]["opening"]["choices"][0]["to"] == "b"
    path = ("nodes", "opening", "choices", 0, "to")
    assert (doc.key_pos(path).line, doc.key_pos(path).col) == (7, 9)
    assert (doc.pos(path).line, doc.pos(path).col) == (7, 13)
    assert doc.pos(("nodes", "opening", "choices", 0)).line == 6
    assert doc.key_pos(("nodes", "opening")).line == 3


def test_keys_stay_text_and_values_follow_yaml_rules() -> None:
    doc, _ = parse_yaml("no: yes\nn: 3\nq: 'yes'\n", "f.yaml")
    assert doc is not None
    assert doc.data == {"no": True, "n": 3, "q": "yes"}
    assert doc.plain[("no",)] == "yes"  # unquoted text read as a boolean is remembered
    assert ("q",) not in doc.plain


def test_duplicate_keys_are_refused_not_silently_overwritten() -> None:
    doc, diags = parse_yaml("a: 1\nb:\n  c: 1\n  c: 2\n", "f.yaml")
    assert doc is None
    assert [(d.code, d.line, d.col) for d in diags] == [("SC002", 4, 3)]
    assert "first at line 3" in diags[0].message


def test_aliases_and_merge_keys_are_refused() -> None:
    _doc, diags = parse_yaml("a: &x {b: 1}\nc: *x\n", "f.yaml")
    assert [d.code for d in diags] == ["SC003"]
    assert diags[0].line == 1
    _doc, diags = parse_yaml("a: [1]\nc: *x\n", "f.yaml")
    assert [(d.code, d.line, d.col) for d in diags] == [("SC003", 2, 4)]


def test_unsafe_and_unknown_tags_are_refused() -> None:
    for text in ("a: !!python/name:os.system ''\n", "a: !custom x\n", "a: !!set {b: null}\n",
                 "a: !!binary aGk=\n"):
        doc, diags = parse_yaml(text, "f.yaml")
        assert doc is None
        assert [d.code for d in diags] == ["SC004"], text


def test_more_than_one_document_is_refused() -> None:
    _doc, diags = parse_yaml("a: 1\n---\nb: 2\n", "f.yaml")
    assert [(d.code, d.line) for d in diags] == [("SC006", 2)]


def test_huge_files_fail_fast(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("# " + "x" * MAX_BYTES + "\n", encoding="utf-8")
    scenario, diags = load_scenario_file(path, {}, None)
    assert scenario is None
    assert [d.code for d in diags] == ["SC007"]
    assert "1 MB" in diags[0].message


def test_deep_nesting_fails_fast_without_recursion_errors() -> None:
    _doc, diags = parse_yaml("a: " + "[" * 5000 + "]" * 5000 + "\n", "f.yaml")
    assert [d.code for d in diags] == ["SC008"]
    doc, diags = parse_yaml("a: " + "[" * 49 + "]" * 49 + "\n", "f.yaml")
    assert diags == [] and doc is not None


def test_missing_file_is_a_diagnostic(tmp_path: Path) -> None:
    scenario, diags = load_scenario_file(tmp_path / "nope.yaml", {}, None)
    assert scenario is None and [d.code for d in diags] == ["SC009"]


def test_scenario_keeps_path_and_sha256_of_the_bytes() -> None:
    result = load_scenarios(VALID, KB_IDS)
    scenario = result.scenarios["tiny"]
    assert scenario.path == VALID / "tiny.yaml"
    assert scenario.sha256 == hashlib.sha256((VALID / "tiny.yaml").read_bytes()).hexdigest()
    assert set(result.dimensions) == {"discretion", "sanctions", "reallocation"}
    assert result.dimensions["sanctions"].name == "Sanctions"


def test_valid_scenarios_survive_broken_neighbours(tmp_path: Path) -> None:
    for name in ("dimensions.yaml", "tiny.yaml", "group-swap.yaml"):
        shutil.copy(VALID / name, tmp_path / name)
    shutil.copy(FIX / "broken" / "sc201-missing-target.yaml", tmp_path)
    (tmp_path / "garbage.yaml").write_bytes(b"\x00\xff{{{")
    result = load_scenarios(tmp_path, KB_IDS)
    assert set(result.scenarios) == {"tiny", "group-swap"}
    assert {Path(d.file).name for d in result.diagnostics} == {"sc201-missing-target.yaml", "garbage.yaml"}


def test_duplicate_scenario_ids_across_files(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    shutil.copy(VALID / "tiny.yaml", other / "tiny.yaml")
    result = load_scenarios(VALID, KB_IDS, files=[VALID / "tiny.yaml", other / "tiny.yaml"])
    assert list(result.scenarios) == ["tiny"]
    (diag,) = result.diagnostics
    assert (diag.code, diag.file, diag.line) == ("SC203", str(other / "tiny.yaml"), 1)
    assert str(VALID / "tiny.yaml") in diag.message


def test_missing_dimensions_file(tmp_path: Path) -> None:
    shutil.copy(VALID / "tiny.yaml", tmp_path)
    result = load_scenarios(tmp_path, KB_IDS)
    assert "SC501" in [d.code for d in result.diagnostics]
    # the problem is reported once; the scenario still loads and can be played
    assert list(result.scenarios) == ["tiny"]


def test_broken_dimensions_file(tmp_path: Path) -> None:
    (tmp_path / "dimensions.yaml").write_text("sanctions:\n  name: Sanctions\n  descripton: x\n")
    result = load_scenarios(tmp_path, KB_IDS)
    assert [(d.code, d.line) for d in result.diagnostics] == [("SC101", 3), ("SC102", 1)]


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!#'\"\n |>%@`,?~0123456789 \t")), max_size=120))
def test_parsing_never_raises(text: str) -> None:
    doc, diags = parse_yaml(text, "f.yaml")
    assert doc is not None or diags


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=200))
def test_loading_arbitrary_bytes_never_raises(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("bytes") / "x.yaml"
    path.write_bytes(data)
    scenario, diags = load_scenario_file(path, {}, None)
    assert scenario is None and diags


def test_parallel_loading_matches_serial(tmp_path: Path) -> None:
    shutil.copy(VALID / "dimensions.yaml", tmp_path)
    tiny = (VALID / "tiny.yaml").read_text(encoding="utf-8")
    for i in range(PARALLEL_MIN_FILES):
        text = tiny.replace("id: tiny", f"id: tiny-{i}")
        if i % 9 == 0:
            text = text.replace("to: stays-end", "to: stays-ned", 1)  # some broken ones too
        (tmp_path / f"tiny-{i}.yaml").write_text(text, encoding="utf-8")
    serial = load_scenarios(tmp_path, KB_IDS)
    parallel = load_scenarios(tmp_path, KB_IDS, jobs=2)
    assert list(parallel.scenarios) == list(serial.scenarios)
    assert len(serial.scenarios) == PARALLEL_MIN_FILES - len(range(0, PARALLEL_MIN_FILES, 9))
    assert parallel.diagnostics == serial.diagnostics
    assert parallel.scenarios["tiny-1"] == serial.scenarios["tiny-1"]


@pytest.mark.parametrize(("text", "line", "hint_words"), [
    ("id: x\n\tsay: y\n", 2, "spaces, never tabs"),
    ("id: x\nsay: I'm here: now\n", 2, 'must be in quotes'),
    ('id: x\nsay: "She said "no""\n', 2, "use '...' instead"),
    ('id: x\nsay: "unclosed\n', 3, "not closed"),
])
def test_syntax_errors_say_how_to_fix_common_mistakes(text: str, line: int, hint_words: str) -> None:
    doc, diags = parse_yaml(text, "f.yaml")
    assert doc is None
    (diag,) = diags
    assert (diag.code, diag.line) == ("SC001", line)
    assert diag.hint and hint_words in diag.hint


def test_control_character_names_its_line_and_column_in_one_line() -> None:
    doc, diags = parse_yaml("id: x\ntitle: y\nsay: a\x00b\n", "f.yaml")
    assert doc is None
    (diag,) = diags
    assert (diag.code, diag.line, diag.col) == ("SC001", 3, 7)
    assert "\n" not in diag.message and "<unicode string>" not in diag.message
    assert "#x0000" in diag.message


@pytest.mark.parametrize("content", ["", "# only a comment\n", "---\n"])
def test_empty_dimensions_file_says_what_a_dimensions_file_holds(tmp_path: Path, content: str) -> None:
    (tmp_path / "dimensions.yaml").write_text(content)
    result = load_scenarios(tmp_path, KB_IDS)
    (diag,) = result.diagnostics
    assert diag.code == "SC005" and diag.hint
    assert "scenario file" not in diag.hint and "name:" in diag.hint


def test_dimensions_folder_is_named_as_a_folder(tmp_path: Path) -> None:
    (tmp_path / "dimensions.yaml").mkdir()
    (diag,) = load_scenarios(tmp_path, KB_IDS).diagnostics
    assert diag.code == "SC501" and "is a folder, not a file" in diag.message


def test_parallel_workers_leave_ctrl_c_to_the_main_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl+C reaches every process of the group: a worker that took it printed its own
    KeyboardInterrupt traceback. Workers now ignore it, and the main process stops them."""
    import signal

    from iwp_trainer import scenario_loader
    from iwp_trainer.diagnostics import Diagnostic

    def probe(path, dimensions, ids, run_tests=True):  # runs in the (forked) worker
        return None, [Diagnostic.error("probe", str(signal.getsignal(signal.SIGINT)), str(path))]

    monkeypatch.setattr(scenario_loader, "load_scenario_file", probe)
    paths = [tmp_path / f"s{n}.yaml" for n in range(PARALLEL_MIN_FILES)]
    results = scenario_loader._load_all(paths, {}, None, False, jobs=2)
    assert {d.message for _scenario, diags in results for d in diags} == {str(signal.SIG_IGN)}
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the main process still hears it


def test_a_symlink_loop_or_a_pipe_in_the_folder_is_reported_and_the_rest_load(tmp_path: Path) -> None:
    """A looped link or a named pipe among the scenarios was skipped without a word (or, read,
    would hang). Each is now one SC009 problem naming its file; every other scenario loads."""
    import os

    folder = tmp_path / "scenarios"
    shutil.copytree(VALID, folder)
    expected = set(load_scenarios(VALID, KB_IDS).scenarios)
    (folder / "loop-a.yaml").symlink_to(folder / "loop-b.yaml")
    (folder / "loop-b.yaml").symlink_to(folder / "loop-a.yaml")
    os.mkfifo(folder / "pipe.yaml")
    result = load_scenarios(folder, KB_IDS)
    assert set(result.scenarios) == expected
    bad = {Path(d.file).name: d for d in result.diagnostics if d.code == "SC009"}
    assert set(bad) == {"loop-a.yaml", "loop-b.yaml", "pipe.yaml"}
    assert "symbolic links" in bad["loop-a.yaml"].message and "named pipe" in bad["pipe.yaml"].message
