"""The search index: built on demand, rebuilt when kb/ changes or the index is damaged, safe when
two processes build at once or a build is killed, and robust to any query text."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from iwp_trainer import search
from iwp_trainer.kb import load_kb

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def kb_dir(tmp_path: Path, fixtures_dir: Path) -> Path:
    """An editable copy of the good fixture KB."""
    target = tmp_path / "kb"
    shutil.copytree(fixtures_dir / "kb" / "good", target)
    return target


def _open(kb_dir: Path, index_dir: Path, **kwargs) -> search.SearchIndex:
    return search.open_index(index_dir, load_kb(kb_dir), kb_dir, **kwargs)


def _top(index: search.SearchIndex, kb_dir: Path, text: str) -> str | None:
    result = index.search(text, load_kb(kb_dir).glossary)
    return result.hits[0].id if result.hits else None


def write_synthetic_kb(target: Path, count: int) -> Path:
    """A KB of ``count`` small entries (enough for progress to be reported mid-build)."""
    target.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (target / f"entry-{i:04d}.md").write_text(
            f"---\nid: entry-{i:04d}\nquestion: Question number {i} about topic{i}?\n"
            f"source: {{document: IWP trial FAQ, section: x}}\n---\nAnswer about topic{i} and travel.\n",
            encoding="utf-8",
        )
    return target


def test_builds_on_first_open_and_finds_entries(kb_dir: Path, tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    index = _open(kb_dir, tmp_path / "index", progress=lambda d, t: calls.append((d, t)))
    assert calls and calls[-1] == (3, 3)
    assert index.doc_count == 3
    assert _top(index, kb_dir, "travel costs refunded") == "travel-costs"
    assert _top(index, kb_dir, "how long is a sanction") == "sanction-length"
    index.close()


def test_reopening_an_up_to_date_index_does_not_rebuild(kb_dir: Path, tmp_path: Path) -> None:
    first = _open(kb_dir, tmp_path / "index")
    calls: list[tuple[int, int]] = []
    second = _open(kb_dir, tmp_path / "index", progress=lambda d, t: calls.append((d, t)))
    assert calls == [] and second.build == first.build
    third = _open(kb_dir, tmp_path / "index", rebuild=True)
    assert third.build != first.build
    for index in (first, second, third):
        index.close()


def test_editing_the_kb_makes_the_index_stale(kb_dir: Path, tmp_path: Path) -> None:
    index = _open(kb_dir, tmp_path / "index")
    assert _top(index, kb_dir, "zebra crossing") is None
    path = kb_dir / "moving-groups.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nA zebra crossing is not a reason.\n", encoding="utf-8")
    fresh = _open(kb_dir, tmp_path / "index")
    assert fresh.build != index.build
    assert _top(fresh, kb_dir, "zebra crossing") == "moving-groups"
    index.close()
    fresh.close()


def test_editing_the_glossary_makes_the_index_stale(kb_dir: Path, tmp_path: Path) -> None:
    before = search.kb_fingerprint(kb_dir)
    with (kb_dir / "glossary.yaml").open("a", encoding="utf-8") as handle:
        handle.write("WSR:\n  meaning: Work Search Review.\n")
    assert search.kb_fingerprint(kb_dir) != before


def _current(index_dir: Path) -> Path:
    return index_dir / (index_dir / search.POINTER).read_text(encoding="utf-8").strip()


@pytest.mark.parametrize("damage", ["garbage", "truncate", "delete-files", "pointer", "meta", "dangling"])
def test_a_damaged_index_is_rebuilt(kb_dir: Path, tmp_path: Path, damage: str) -> None:
    index_dir = tmp_path / "index"
    _open(kb_dir, index_dir).close()
    build = _current(index_dir)
    files = [p for p in build.iterdir() if p.name != search.META]
    if damage == "garbage":
        for path in files:
            path.write_bytes(b"\x00garbage" * 10)
    elif damage == "truncate":
        for path in files:
            path.write_bytes(b"")
    elif damage == "delete-files":
        for path in files:
            path.unlink()
    elif damage == "pointer":
        (index_dir / search.POINTER).write_bytes(b"\xff\xfe not a build name")
    elif damage == "meta":
        (build / search.META).write_text("{not json", encoding="utf-8")
    elif damage == "dangling":
        shutil.rmtree(build)
    calls: list[tuple[int, int]] = []
    index = _open(kb_dir, index_dir, progress=lambda d, t: calls.append((d, t)))
    assert calls, "the damaged index should have been rebuilt"
    assert _top(index, kb_dir, "travel costs refunded") == "travel-costs"
    index.close()


def test_an_unwritable_index_location_is_a_clear_error(kb_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(search.SearchIndexError, match="cannot build the search index"):
        _open(kb_dir, blocker / "index")


BUILD_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from iwp_trainer import search
    from iwp_trainer.kb import load_kb
    kb_dir, index_dir, go = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    kb = load_kb(kb_dir)
    while not go.exists():
        time.sleep(0.005)
    index = search.open_index(index_dir, kb, kb_dir, rebuild=True)
    result = index.search("topic7 travel", kb.glossary)
    print(result.hits[0].id)
    """
)


def test_two_processes_building_at_once_both_succeed(tmp_path: Path) -> None:
    kb_dir = write_synthetic_kb(tmp_path / "kb", 200)
    index_dir = tmp_path / "index"
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", BUILD_SCRIPT, str(kb_dir), str(index_dir), str(go)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]
    go.touch()
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
        assert out.strip() == "entry-0007"
    calls: list[tuple[int, int]] = []
    index = search.open_index(index_dir, load_kb(kb_dir), kb_dir, progress=lambda d, t: calls.append((d, t)))
    assert calls == [], "the index left behind should be valid and current"
    assert index.doc_count == 200
    index.close()
    assert not [p for p in index_dir.iterdir() if p.name.startswith("tmp-")]


KILL_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from iwp_trainer import search
    from iwp_trainer.kb import load_kb
    kb_dir, index_dir = Path(sys.argv[1]), Path(sys.argv[2])
    kb = load_kb(kb_dir)
    def die(done, total):
        if done < total:
            os._exit(9)  # killed mid-build: no cleanup, no commit
    search.build_index(index_dir, kb, "another-fingerprint", progress=die)
    """
)


def test_a_build_killed_midway_leaves_the_old_index_usable(tmp_path: Path) -> None:
    kb_dir = write_synthetic_kb(tmp_path / "kb", 120)
    index_dir = tmp_path / "index"
    old = search.open_index(index_dir, load_kb(kb_dir), kb_dir)
    old_build = old.build
    old.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(kb_dir), str(index_dir)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 9, proc.stderr
    assert [p for p in index_dir.iterdir() if p.name.startswith("tmp-")], "the killed build left its temp folder"
    calls: list[tuple[int, int]] = []
    index = search.open_index(index_dir, load_kb(kb_dir), kb_dir, progress=lambda d, t: calls.append((d, t)))
    assert calls == [] and index.build == old_build
    assert index.search("topic42", None).hits[0].id == "entry-0042"
    index.close()
    # The next build clears the dead builder's leftovers.
    search.open_index(index_dir, load_kb(kb_dir), kb_dir, rebuild=True).close()
    assert not [p for p in index_dir.iterdir() if p.name.startswith("tmp-")]


def test_glossary_expansion_finds_the_spelled_out_term(kb_dir: Path, tmp_path: Path) -> None:
    index = _open(kb_dir, tmp_path / "index")
    # The entry says "Flexible Support Fund" and never "FSF".
    assert "FSF" not in (kb_dir / "travel-costs.md").read_text(encoding="utf-8")
    assert _top(index, kb_dir, "FSF") == "travel-costs"
    index.close()


def test_unknown_words_are_corrected_known_words_are_not(kb_dir: Path, tmp_path: Path) -> None:
    index = _open(kb_dir, tmp_path / "index")
    glossary = load_kb(kb_dir).glossary
    result = index.search("travle refundd", glossary)
    assert {c.word: c.corrected for c in result.concepts} == {"travl": "travel", "refundd": "refund"}
    assert result.hits[0].id == "travel-costs"
    known = index.search("travel", glossary)
    assert [c.corrected for c in known.concepts] == [None]
    unknown = index.search("weather", glossary)
    assert unknown.concepts[0].known is False and unknown.hits == ()
    index.close()


@pytest.mark.parametrize(
    "text",
    ['"unclosed quote', "travel AND NOT sanction OR", "body:travel", "(((", "trav*", "travel~2",
     "\x00\x07\x1b[31m", "🙂🙂", "", "   ", "x" * 10_000, "word " * 3000, "[to] {a} ^2 \\ /"],
)
def test_any_text_is_a_valid_query(kb_dir: Path, tmp_path: Path, text: str) -> None:
    index = _open(kb_dir, tmp_path / "index")
    result = index.search(text, load_kb(kb_dir).glossary)
    assert isinstance(result, search.SearchResult)
    assert len(result.concepts) <= search.MAX_CONCEPTS + len(load_kb(kb_dir).glossary)
    index.close()


def test_operator_words_are_plain_words(kb_dir: Path, tmp_path: Path) -> None:
    index = _open(kb_dir, tmp_path / "index")
    # "body:" must not restrict the field: the word "sanction" is only in the other entry's question.
    assert _top(index, kb_dir, "body:sanction") == "sanction-length"
    index.close()


def test_large_kb_shortcut_scores_candidates_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above PRUNE_MIN_DOCS, candidates come from selective words and common words are added from
    their postings: the candidates' scores must equal the exact BM25F scores."""
    kb_dir = write_synthetic_kb(tmp_path / "kb", 150)
    index = search.open_index(tmp_path / "index", load_kb(kb_dir), kb_dir)
    queries = ["topic42 travel answer", "question about topic7", "topic99 topic100 travel"]
    monkeypatch.setattr(search, "PRUNE_MIN_DOCS", 10**9)
    exact = {q: index.search(q, None, limit=5).hits for q in queries}
    monkeypatch.setattr(search, "PRUNE_MIN_DOCS", 0)
    for q in queries:
        pruned = index.search(q, None, limit=5).hits
        assert pruned[0].id == exact[q][0].id
        exact_scores = {h.id: h.score for h in exact[q]}
        for hit in pruned:
            if hit.id in exact_scores:
                assert hit.score == pytest.approx(exact_scores[hit.id], rel=1e-6)
        assert [h.matched for h in pruned[:1]] == [h.matched for h in exact[q][:1]]
    index.close()


def test_index_location_that_is_a_file_is_named_as_such(tmp_path: Path, kb_dir: Path) -> None:
    taken = tmp_path / "index"
    taken.write_text("someone's notes\n")
    with pytest.raises(search.SearchIndexError) as info:
        _open(kb_dir, taken)
    assert f"the search index location {taken} is a file, not a folder" in str(info.value)
    assert taken.read_text() == "someone's notes\n"


def test_a_file_name_that_is_not_utf8_does_not_break_the_index(tmp_path: Path, kb_dir: Path) -> None:
    """One oddly named file (bytes from another system's encoding) must not stop every `ask`."""
    bad = os.fsdecode(b"caf\xe9-notes.md")  # Latin-1 name: undecodable, kept as a surrogate
    (kb_dir / bad).write_text("---\nid: [\n---\nbody\n", encoding="utf-8")
    kb = load_kb(kb_dir)
    assert any(d.code == "kb-yaml" for d in kb.diagnostics)
    index = _open(kb_dir, tmp_path / "index")
    try:
        assert index.doc_count == len(kb)
    finally:
        index.close()
    assert search.load_snapshot(tmp_path / "index", search.kb_fingerprint(kb_dir)) is not None
