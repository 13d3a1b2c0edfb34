"""The answerer: trusted answers, plain refusals, suggestions, any text accepted, thread safety,
and answer quality over the coaches' question set."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iwp_trainer.answer import Answer, Answerer, AskError, Match, open_answerer

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "tests" / "data" / "ask_questions.yaml"


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Answerer:
    answerer = open_answerer(ROOT / "kb", tmp_path_factory.mktemp("index"))
    yield answerer
    answerer.close()


@pytest.fixture
def good(fixtures_dir: Path, tmp_path: Path) -> Answerer:
    answerer = open_answerer(fixtures_dir / "kb" / "good", tmp_path / "index")
    yield answerer
    answerer.close()


def test_a_clear_question_is_answered_with_its_entry(good: Answerer) -> None:
    answer = good.ask("can I move a claimant from the trial group to the control group?")
    assert isinstance(answer, Answer) and answer.outcome in ("answer", "suggest")
    assert answer.answered == (answer.outcome == "answer")
    assert isinstance(answer.matches[0], Match)
    assert answer.matches[0].entry.id == "moving-groups"
    assert 0.0 < answer.confidence <= 1.0 and answer.reason
    scores = [m.score for m in answer.matches]
    assert scores == sorted(scores, reverse=True)


def test_top_limits_the_matches(good: Answerer) -> None:
    assert len(good.ask("trial claimant sanction travel", top=1).matches) == 1
    assert len(good.ask("trial claimant sanction travel", top=3).matches) <= 3


@pytest.mark.parametrize("question", ["what's the weather in Leeds", "how much is child benefit for two children",
                                      "is it going to snow in Leeds"])
def test_out_of_scope_questions_are_refused_with_a_reason(shipped: Answerer, question: str) -> None:
    answer = shipped.ask(question)
    assert not answer.answered and answer.outcome == "refusal"
    assert answer.reason
    assert answer.confidence < shipped.model.suggest_at


def test_a_refusal_lists_only_topics_above_the_floor(shipped: Answerer) -> None:
    answer = shipped.ask("how much is child benefit for two children")
    assert answer.outcome == "refusal"
    assert all(m.score >= shipped.model.topic_floor for m in answer.matches)
    assert "does not cover" in answer.reason
    assert shipped.ask("what's the weather in Leeds").matches == []  # nothing close: none listed


def test_typos_and_acronyms_are_understood(shipped: Answerer) -> None:
    assert shipped.ask("randum alocation").matches[0].entry.id == "reallocation-not-allowed"
    assert shipped.ask("sanctons").matches[0].entry.id.startswith(("sanction", "when-sanction", "why-sanction"))
    fsf = shipped.ask("FSF travel")
    assert fsf.outcome in ("answer", "suggest") and fsf.matches[0].entry.id == "travel-costs-refund"
    assert ("randum", "random") in shipped.ask("randum alocation").corrections


def test_corrections_and_unknown_words_are_reported_as_typed(good: Answerer) -> None:
    answer = good.ask("can trial claimants get ther travle costs refundd in Leeds")
    assert answer.matches[0].entry.id == "travel-costs"
    assert set(answer.corrections) == {("travle", "travel"), ("refundd", "refund")}
    assert "leeds" in answer.unknown_words


def test_empty_and_wordless_questions_are_not_answered(good: Answerer) -> None:
    for text in ["", "   ", "?!", "🙂"]:
        answer = good.ask(text)
        assert not answer.answered and answer.matches == [] and answer.reason


@pytest.mark.parametrize(
    "text",
    ['"', "AND OR NOT", "question:travel", "*", "(travel", "travel~", "\x00\x1f\x7f", "🙂 travel 🙂",
     "x" * 10_000, "travel " * 2000, "\n", "\u202etravel", "a:b:c:d", "NOT", "'"],
)
def test_odd_text_never_breaks_ask(good: Answerer, text: str) -> None:
    assert isinstance(good.ask(text), Answer)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300) | st.lists(
    st.sampled_from(["AND", "OR", "NOT", '"', "*", "field:", "(", ")", "[", "]", "~2", "^", "travel",
                     "sanction", "FSF", "🙂", "\x00", "\n", " ", "question:", "{", "}", "\\"]),
    max_size=30).map("".join))
def test_any_string_gives_an_answer(good: Answerer, text: str) -> None:
    answer = good.ask(text)
    assert isinstance(answer, Answer)
    assert answer.question == text
    assert 0.0 <= answer.confidence <= 1.0
    assert len(answer.matches) <= 3
    assert not answer.answered or answer.matches


def test_suggest_completes_questions_and_aliases(good: Answerer) -> None:
    assert [e.id for e in good.suggest("can I mo")] == ["moving-groups"]
    assert [e.id for e in good.suggest("bus fa")] == ["travel-costs"]  # an alias
    assert [e.id for e in good.suggest("mo ca")] == ["moving-groups"]  # any order, shortened words
    assert good.suggest("") == [] and good.suggest("zzzz") == [] and good.suggest("can zzz") == []
    assert len(good.suggest("c", limit=1)) == 1
    # Questions come before alias-only matches; the same entry is offered once.
    hits = good.suggest("sanction")
    assert [e.id for e in hits] == ["sanction-length"]


def test_suggest_is_fast_enough_to_run_on_each_keystroke(shipped: Answerer) -> None:
    results = [shipped.suggest(prefix) for prefix in ["w", "wh", "wha", "what", "what is", "what is the"]]
    assert all(len(r) <= 8 for r in results)
    assert results[-1], "common openings should complete to something"


def test_concurrent_asks_give_the_same_answers(shipped: Answerer) -> None:
    questions = ["FSF travel", "randum alocation", "how long does a sanction last", "weather in Leeds",
                 "work coach pay", "domestic violence exclusion"] * 8
    expected = [(a.answered, [m.entry.id for m in a.matches]) for a in map(shipped.ask, questions)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = [(a.answered, [m.entry.id for m in a.matches]) for a in pool.map(shipped.ask, questions)]
    assert got == expected


def test_broken_entries_do_not_stop_answers(fixtures_dir: Path, tmp_path: Path) -> None:
    answerer = open_answerer(fixtures_dir / "kb" / "broken", tmp_path / "index")
    assert answerer.kb.diagnostics
    assert answerer.ask("travel costs refunded").matches[0].entry.id == "travel-costs"
    answerer.close()


def test_missing_kb_folder_is_an_ask_error(tmp_path: Path) -> None:
    with pytest.raises(AskError, match="not found"):
        open_answerer(tmp_path / "nope", tmp_path / "index")


def test_progress_is_reported_while_building(fixtures_dir: Path, tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    open_answerer(fixtures_dir / "kb" / "good", tmp_path / "index", progress=lambda d, t: calls.append((d, t))).close()
    assert calls[-1] == (3, 3)
    calls.clear()
    open_answerer(fixtures_dir / "kb" / "good", tmp_path / "index", rebuild=True,
                  progress=lambda d, t: calls.append((d, t))).close()
    assert calls[-1] == (3, 3)


def test_an_index_damaged_mid_session_is_rebuilt(fixtures_dir: Path, tmp_path: Path) -> None:
    kb_dir = tmp_path / "kb"
    shutil.copytree(fixtures_dir / "kb" / "good", kb_dir)
    answerer = open_answerer(kb_dir, tmp_path / "index")

    class Broken:
        def search(self, *args, **kwargs):
            raise OSError("segment file vanished")

        def close(self) -> None:
            pass

    answerer.index = Broken()
    answer = answerer.ask("travel costs refunded")
    assert answer.matches[0].entry.id == "travel-costs"
    answerer.close()


@pytest.fixture(scope="module")
def question_set() -> dict:
    if not QUESTIONS.exists():
        pytest.skip(f"{QUESTIONS.relative_to(ROOT)} is not written yet (the KB content task adds it)")
    return yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))


def test_answer_quality_on_the_question_set(shipped: Answerer, question_set: dict) -> None:
    answerable = question_set["answerable"]
    answers = [shipped.ask(item["q"]) for item in answerable]
    top1 = [bool(a.matches) and a.matches[0].entry.id == item["expect"] for a, item in zip(answers, answerable)]
    misses = [item["q"] for ok, item in zip(top1, answerable) if not ok]
    assert sum(top1) / len(answerable) >= 0.90, misses
    # Refusing everything would pass the refusal test below: the right entry must be offered (as the
    # answer or as "did you mean") for most answerable questions, and never a wrong one answered.
    # Measured 79% (bench/bench_ask.py): "did you mean" is offered only above all but 3% of the
    # out-of-scope confidences seen in fitting, so fewer right entries are offered than before.
    offered = [a.outcome in ("answer", "suggest") and ok for a, ok in zip(answers, top1)]
    assert sum(offered) / len(answerable) >= 0.75
    wrong = [item["q"] for a, ok, item in zip(answers, top1, answerable) if a.answered and not ok]
    assert wrong == []


def test_out_of_scope_refusals_on_the_question_set(shipped: Answerer, question_set: dict) -> None:
    out_of_scope = question_set["out_of_scope"]
    answered = [q for q in out_of_scope if shipped.ask(q).answered]
    assert answered == []


def test_a_fresh_index_brings_its_kb_so_files_are_not_parsed_again(
    fixtures_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import iwp_trainer.answer as answer_module

    kb_dir = tmp_path / "kb"
    shutil.copytree(fixtures_dir / "kb" / "good", kb_dir)
    first = open_answerer(kb_dir, tmp_path / "index")
    first.close()

    def no_parsing(path: Path):
        raise AssertionError("load_kb should not run while the index is fresh")

    monkeypatch.setattr(answer_module, "load_kb", no_parsing)
    second = open_answerer(kb_dir, tmp_path / "index")
    assert second.kb.entries == first.kb.entries
    assert second.ask("travel costs refunded").matches[0].entry.id == "travel-costs"
    second.close()
    # After an edit the snapshot is stale: the files must be parsed again.
    path = kb_dir / "travel-costs.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nEdited.\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="should not run"):
        open_answerer(kb_dir, tmp_path / "index")


def test_a_damaged_snapshot_falls_back_to_the_files(fixtures_dir: Path, tmp_path: Path) -> None:
    from iwp_trainer import search

    open_answerer(fixtures_dir / "kb" / "good", tmp_path / "index").close()
    build = tmp_path / "index" / (tmp_path / "index" / search.POINTER).read_text().strip()
    (build / search.SNAPSHOT).write_text('{"entries": [{"id": 1}]}', encoding="utf-8")
    answerer = open_answerer(fixtures_dir / "kb" / "good", tmp_path / "index")
    assert sorted(answerer.kb.entries) == ["moving-groups", "sanction-length", "travel-costs"]
    answerer.close()


def test_refusal_names_the_unmatched_words_in_quotes(shipped_kb, tmp_path) -> None:
    from iwp_trainer.answer import open_answerer

    answerer = open_answerer(shipped_kb, tmp_path / "idx")
    answer = answerer.ask("wat are the circs for DV")
    assert not answer.answered
    assert "\u201cwat\u201d or \u201ccircs\u201d" in answer.reason


def test_an_unreadable_model_falls_back_to_the_rule_and_says_so(fixtures_dir: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from iwp_trainer import ask_model

    broken = tmp_path / "ask_model.json"
    broken.write_text("{not json", encoding="utf-8")
    monkeypatch.setattr(ask_model, "ASK_MODEL_FILE", broken)
    answerer = open_answerer(fixtures_dir / "kb" / "good", tmp_path / "index")
    assert answerer.model is None and "ask_model.json" in answerer.notice and "simpler" in answerer.notice
    answer = answerer.ask("can I move a claimant from the trial group to the control group?")
    assert answer.matches[0].entry.id == "moving-groups" and answer.outcome in ("answer", "refusal")
    answerer.close()


def test_unrelated_entries_are_not_listed_as_close(shipped: Answerer) -> None:
    answer = shipped.ask("do we pay bus fares if they come in every week")
    assert answer.matches[0].entry.id == "travel-costs-refund"
    assert "work-coach-pay" not in [m.entry.id for m in answer.matches]  # shares only "pay"
    assert all(m.score >= shipped.model.topic_floor for m in answer.matches[1:])
