"""The KB loader: valid entries load, every broken entry is reported at its file:line and the
rest of the knowledge base still loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from iwp_trainer.diagnostics import Diagnostic, format_diagnostic
from iwp_trainer.kb import Entry, load_kb, plain_text, split_front_matter


@pytest.fixture
def good_kb(fixtures_dir: Path) -> Path:
    return fixtures_dir / "kb" / "good"


@pytest.fixture
def broken_kb(fixtures_dir: Path, tmp_path: Path) -> Path:
    """A copy of the broken KB with every file equally old, so which duplicate counts as the newer
    copy does not depend on when the checkout wrote each file."""
    import os
    import shutil

    copy = tmp_path / "broken"
    shutil.copytree(fixtures_dir / "kb" / "broken", copy)
    for path in copy.iterdir():
        os.utime(path, (1_700_000_000, 1_700_000_000))
    return copy


def _by_file(diags: list[Diagnostic]) -> dict[str, list[Diagnostic]]:
    out: dict[str, list[Diagnostic]] = {}
    for diag in diags:
        out.setdefault(Path(diag.file).name, []).append(diag)
    return out


def test_good_kb_loads_every_field(good_kb: Path) -> None:
    kb = load_kb(good_kb)
    assert kb.diagnostics == []
    assert sorted(kb.entries) == ["moving-groups", "sanction-length", "travel-costs"]
    entry = kb.entries["travel-costs"]
    assert isinstance(entry, Entry)
    assert entry.question == "Can trial claimants get their travel costs refunded?"
    assert entry.title == entry.question
    assert entry.aliases == ("bus fare refund for appointments",)
    assert entry.tags == ("travel", "expenses")
    assert entry.citation == "IWP trial FAQ, section 5: Conducting Interviews"
    assert entry.related == ("sanction-length",)
    assert entry.path == good_kb / "travel-costs.md"
    assert entry.line == 2  # the line of `id:`
    assert entry.body.startswith("Travel costs will not normally be refunded.")
    assert "---" not in entry.body and "id:" not in entry.body
    assert [e.id for e in kb.related(kb.entries["sanction-length"])] == ["travel-costs", "moving-groups"]


def test_plain_body_drops_markdown_markup(good_kb: Path) -> None:
    kb = load_kb(good_kb)
    text = kb.entries["travel-costs"].plain_body
    assert "Flexible Support Fund" in text and "**" not in text
    listed = kb.entries["moving-groups"].plain_body
    assert "*Random" not in listed and "Random Allocation Tool" in listed
    assert "- Work coaches have no discretion to reallocate." in listed


def test_glossary_is_loaded_with_the_kb(good_kb: Path) -> None:
    kb = load_kb(good_kb)
    assert kb.glossary.lookup("fsf") is not None
    assert kb.glossary.lookup("Flexible Support Fund").term == "FSF"


@pytest.mark.parametrize(
    ("file", "line", "code"),
    [
        ("bad-yaml.md", 5, "kb-yaml"),
        ("missing-id.md", 2, "kb-missing-field"),
        ("missing-question.md", 2, "kb-missing-field"),
        ("zz-duplicate.md", 3, "kb-duplicate-id"),
        ("unknown-related.md", 9, "kb-unknown-related"),
        ("wrong-types.md", 4, "kb-type"),
        ("wrong-types.md", 7, "kb-type"),
        ("no-front-matter.md", 1, "kb-front-matter"),
        ("unclosed.md", 1, "kb-front-matter"),
        ("question-list.md", 3, "kb-type"),
        ("question-list.md", 6, "kb-type"),
    ],
)
def test_each_broken_entry_is_reported_at_its_line(broken_kb: Path, file: str, line: int, code: str) -> None:
    diags = _by_file(load_kb(broken_kb).diagnostics)
    assert (line, code) in [(d.line, d.code) for d in diags.get(file, [])], diags.get(file)
    assert all(d.severity == "error" for d in diags[file])


def test_broken_entries_do_not_stop_the_others(broken_kb: Path) -> None:
    kb = load_kb(broken_kb)
    # The three good entries, plus the one whose only fault is a dangling related id.
    assert sorted(kb.entries) == ["moving-groups", "sanction-length", "travel-costs", "unknown-related"]
    assert kb.entries["unknown-related"].related == ("travel-costs",)
    # The duplicate keeps the first file's entry.
    assert kb.entries["travel-costs"].path.name == "travel-costs.md"


def test_duplicate_id_blames_the_newer_copy_and_names_both_files(broken_kb: Path) -> None:
    import os

    original = broken_kb / "travel-costs.md"
    copy = broken_kb / "a-new-copy.md"  # sorts first, but is the newer file
    copy.write_text(original.read_text(encoding="utf-8"), encoding="utf-8")
    os.utime(copy, (1_800_000_000, 1_800_000_000))
    kb = load_kb(broken_kb)
    assert kb.entries["travel-costs"].path == original  # the original stays in use
    blamed = [d for d in kb.diagnostics if d.code == "kb-duplicate-id" and Path(d.file) == copy]
    assert len(blamed) == 1 and blamed[0].line == kb.entries["travel-costs"].line
    message = blamed[0].message
    assert "travel-costs.md:2" in message and f"a-new-copy.md:{blamed[0].line}" in message and "newer" in message
    assert not [d for d in kb.diagnostics if d.code == "kb-duplicate-id" and Path(d.file) == original]


def test_title_is_the_short_name_in_lists(tmp_path: Path) -> None:
    kb_dir = tmp_path / "kb"
    kb_dir.mkdir()
    long_q = "What are the key messages I should give a claimant who has just been told they are in the trial?"
    (kb_dir / "a.md").write_text(
        f"---\nid: a\nquestion: {long_q}\ntitle: Key messages for a new trial claimant\n"
        "source: {document: IWP trial FAQ, section: s}\n---\nBody\n", encoding="utf-8")
    (kb_dir / "b.md").write_text(
        "---\nid: b\nquestion: Short?\ntitle: A title longer than the question\n"
        "source: {document: IWP trial FAQ, section: s}\n---\nBody\n", encoding="utf-8")
    (kb_dir / "c.md").write_text(
        f"---\nid: c\nquestion: {long_q}\ntitle: {'x' * 61}\n"
        "source: {document: IWP trial FAQ, section: s}\n---\nBody\n", encoding="utf-8")
    (kb_dir / "d.md").write_text(
        "---\nid: d\nquestion: Plain?\ntitle: [not, text]\n"
        "source: {document: IWP trial FAQ, section: s}\n---\nBody\n", encoding="utf-8")
    kb = load_kb(kb_dir)
    a = kb.entries["a"]
    assert a.label == "Key messages for a new trial claimant" and a.title == long_q  # answers keep the question
    assert kb.entries["b"].label == "A title longer than the question"
    codes = {(Path(d.file).name, d.line, d.code) for d in kb.diagnostics}
    assert ("b.md", 4, "kb-title-not-shorter") in codes
    assert ("c.md", 4, "kb-long-title") in codes
    assert ("d.md", 4, "kb-type") in codes and "d" not in kb.entries
    assert not [d for d in kb.diagnostics if Path(d.file).name == "a.md"]
    from iwp_trainer.kb import kb_from_data, kb_to_data

    assert kb_from_data(kb_to_data(kb)).entries["a"].label == a.label  # kept in the index's snapshot


def test_messages_name_the_problem(broken_kb: Path) -> None:
    diags = _by_file(load_kb(broken_kb).diagnostics)
    assert "`id`" in diags["missing-id.md"][0].message
    assert "`question`" in diags["missing-question.md"][0].message
    assert "travel-costs.md:2" in diags["zz-duplicate.md"][0].message
    assert "no-such-entry" in diags["unknown-related.md"][0].message
    assert "started on line 4" in diags["bad-yaml.md"][0].message
    text = format_diagnostic(diags["bad-yaml.md"][0])
    assert text.startswith(f"{broken_kb / 'bad-yaml.md'}:5: error kb-yaml:")


def test_missing_folder_is_one_error_not_a_crash(tmp_path: Path) -> None:
    kb = load_kb(tmp_path / "nope")
    assert kb.entries == {}
    assert [d.code for d in kb.diagnostics] == ["kb-missing"]


def test_non_utf8_entry_is_reported_with_its_line(tmp_path: Path, good_kb: Path) -> None:
    for path in good_kb.glob("*.md"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "latin.md").write_bytes(b"---\nid: latin\nquestion: caf\xe9?\n---\nBody\n")
    kb = load_kb(tmp_path)
    assert len(kb.entries) == 3
    [diag] = kb.diagnostics
    assert (Path(diag.file).name, diag.line, diag.code) == ("latin.md", 3, "kb-encoding")


def test_windows_line_endings_and_bom_load(tmp_path: Path) -> None:
    text = ("\ufeff---\r\nid: crlf\r\nquestion: Does CRLF work?\r\nsource:\r\n  document: IWP trial FAQ\r\n"
            "  section: x\r\n---\r\nYes it does.\r\n")
    (tmp_path / "crlf.md").write_bytes(text.encode("utf-8"))
    kb = load_kb(tmp_path)
    assert kb.diagnostics == []
    assert kb.entries["crlf"].body.strip() == "Yes it does."


def test_unknown_keys_and_empty_body_are_warnings(tmp_path: Path) -> None:
    (tmp_path / "odd.md").write_text(
        "---\nid: odd\nquestion: Odd?\nsource: {document: IWP trial FAQ, section: x}\nauthor: me\n---\n",
        encoding="utf-8",
    )
    kb = load_kb(tmp_path)
    assert "odd" in kb.entries
    assert sorted((d.code, d.severity, d.line) for d in kb.diagnostics) == [
        ("kb-empty-body", "warning", 2),
        ("kb-unknown-key", "warning", 5),
    ]


def test_a_misspelt_key_gets_a_did_you_mean_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "typo.md").write_text(
        "---\nid: typo\nquestion: Typo?\nsourc: {document: IWP trial FAQ, section: x}\nrelatd: []\n---\nYes.\n",
        encoding="utf-8",
    )
    kb = load_kb(tmp_path)
    assert "typo" not in kb.entries
    found = {d.code: d for d in kb.diagnostics}
    missing = found["kb-missing-field"]
    assert missing.line == 4 and missing.hint == "did you mean `source`? it is written `sourc:`"
    hints = sorted(d.hint for d in kb.diagnostics if d.code == "kb-unknown-key")
    assert hints == ["did you mean `related`?", "did you mean `source`?"]


def test_split_front_matter_gives_file_lines() -> None:
    split = split_front_matter("---\nid: a\nquestion: b\n---\nfirst\nsecond\n")
    assert split == ("id: a\nquestion: b", 2, "first\nsecond\n", 5)
    assert split_front_matter("no front matter\n---\n") is None


def test_plain_text_keeps_words_and_drops_markup() -> None:
    text = plain_text("# Title\n\nSome **bold** and [a link](http://x) and `code`.\n\n1. one\n2. two\n")
    assert "Title" in text and "Some bold and a link and code." in text
    assert "http://x" not in text and "1. one" in text


def test_shipped_kb_loads_cleanly(shipped_kb: Path) -> None:
    kb = load_kb(shipped_kb)
    assert kb.diagnostics == []
    assert len(kb.entries) >= 30
    for entry in kb:
        assert entry.citation.startswith(entry.source_document)
        assert entry.path.read_text(encoding="utf-8").splitlines()[entry.line - 1].startswith("id:")


def test_snapshot_round_trip_keeps_everything(broken_kb: Path) -> None:
    import json

    from iwp_trainer.kb import kb_from_data, kb_to_data

    kb = load_kb(broken_kb)
    copy = kb_from_data(json.loads(json.dumps(kb_to_data(kb))))
    assert copy.entries == kb.entries
    assert copy.diagnostics == kb.diagnostics
    assert copy.glossary.terms == kb.glossary.terms
    assert copy.glossary.diagnostics == kb.glossary.diagnostics


def test_control_character_in_front_matter_is_reported_on_its_line(tmp_path: Path) -> None:
    (tmp_path / "bell.md").write_text(
        "---\nid: bell\nquestion: Q?\nsource: {document: IWP trial FAQ, section: s\x07}\n---\nBody\n", encoding="utf-8")
    kb = load_kb(tmp_path)
    (diag,) = kb.diagnostics
    assert (diag.code, diag.line) == ("kb-yaml", 4) and "#x0007" in diag.message and "\n" not in diag.message


def test_oversized_entry_is_refused_without_reading_it(tmp_path: Path) -> None:
    """A 40 MB paste used to hang `ask` for minutes while it was indexed; over 1 MB is refused."""
    (tmp_path / "ok.md").write_text(
        "---\nid: ok\nquestion: Q?\nsource: {document: IWP trial FAQ, section: s}\n---\nBody\n", encoding="utf-8")
    with (tmp_path / "huge.md").open("w", encoding="utf-8") as handle:
        handle.write("---\nid: huge\nquestion: Q?\nsource: {document: IWP trial FAQ, section: s}\n---\n")
        handle.write("word " * 220_000)
    kb = load_kb(tmp_path)
    assert list(kb.entries) == ["ok"]
    (diag,) = kb.diagnostics
    assert (diag.code, diag.line) == ("kb-too-large", 1) and "1 MB" in diag.message and diag.hint


def _bad_names(folder: Path, suffix: str) -> dict[str, str]:
    """Add the names that once emptied the whole folder: a symlink loop, a link to nothing and a
    named pipe. Returns name -> the words its problem must use."""
    import os

    (folder / f"loop-a{suffix}").symlink_to(folder / f"loop-b{suffix}")
    (folder / f"loop-b{suffix}").symlink_to(folder / f"loop-a{suffix}")
    (folder / f"gone{suffix}").symlink_to(folder / f"nowhere{suffix}")
    os.mkfifo(folder / f"pipe{suffix}")
    return {f"loop-a{suffix}": "symbolic links", f"loop-b{suffix}": "symbolic links",
            f"gone{suffix}": "No such file", f"pipe{suffix}": "named pipe"}


def test_a_symlink_loop_or_a_pipe_is_one_problem_not_an_empty_kb(tmp_path: Path, good_kb: Path) -> None:
    """One symlink loop in kb/ made the whole listing fail: 0 entries, no error, and `ask` said
    "no valid entries". Each bad name is now one problem with its file, and the rest load."""
    import shutil

    kb_dir = tmp_path / "kb"
    shutil.copytree(good_kb, kb_dir)
    bad = _bad_names(kb_dir, ".md")
    kb = load_kb(kb_dir)
    assert set(kb.entries) == set(load_kb(good_kb).entries)
    problems = _by_file(kb.diagnostics)
    assert set(problems) == set(bad)
    for name, words in bad.items():
        [diag] = problems[name]
        assert diag.severity == "error" and diag.code == "kb-unreadable" and words in diag.message


def test_control_characters_are_reported_at_their_line_and_the_entry_still_loads(tmp_path: Path) -> None:
    (tmp_path / "ctl.md").write_text(
        '---\nid: ctl\nquestion: "Title \\e]0;owned\\a?"\naliases: ["fine", "bidi \\u202eevil"]\n'
        'source: {document: IWP trial FAQ, section: "s \\x9b1m"}\n---\nFirst line.\nSecond \x1b[2J line.\r\n'
        'Tabs\tand\r\nWindows line endings are fine.\r\n',
        encoding="utf-8", newline="")
    kb = load_kb(tmp_path)
    found = [(d.line, d.col, d.severity, d.code) for d in kb.diagnostics]
    assert found == [(3, None, "error", "kb-control-char"), (4, None, "error", "kb-control-char"),
                     (5, None, "error", "kb-control-char"), (8, 8, "error", "kb-control-char")]
    messages = [d.message for d in kb.diagnostics]
    assert messages[0] == "`question` contains U+001B (ESC), U+0007 (BEL): a terminal control character or bidi control"
    assert messages[1].startswith("item 2 of `aliases` contains U+202E (RIGHT-TO-LEFT OVERRIDE)")
    assert messages[2].startswith("`source.section` contains U+009B (CSI)")
    assert "ctl" in kb.entries  # shown with placeholders until it is fixed, not hidden
    assert format_diagnostic(kb.diagnostics[0]).isprintable()


def test_a_file_full_of_control_characters_is_reported_briefly(tmp_path: Path) -> None:
    body = "".join(f"line {n} \x1b[2J\n" for n in range(50))
    (tmp_path / "many.md").write_text(
        f"---\nid: many\nquestion: Many?\nsource: {{document: IWP trial FAQ, section: x}}\n---\n{body}",
        encoding="utf-8")
    diags = load_kb(tmp_path).diagnostics
    assert len(diags) == 11 and diags[-1].message == "40 more lines with control characters after this"
