"""Ask's goals measured on the held-out test part of ``tests/data/ask_dev.yaml`` (never used for
fitting or thresholds), every entry answering its own words, definitions, and the trainer's alias
loop (a ``report gaps`` row added as an alias answers that question after a reload)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from iwp_trainer.answer import Answerer, open_answerer
from iwp_trainer.reports import gaps_report
from iwp_trainer.store import ProgressStore

ROOT = Path(__file__).resolve().parent.parent
DEV_SET = ROOT / "tests" / "data" / "ask_dev.yaml"


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Answerer:
    answerer = open_answerer(ROOT / "kb", tmp_path_factory.mktemp("index"))
    yield answerer
    answerer.close()


@pytest.fixture(scope="module")
def test_part() -> tuple[list[dict], list[dict]]:
    data = yaml.safe_load(DEV_SET.read_text(encoding="utf-8"))
    return ([i for i in data["answerable"] if i["split"] == "test"],
            [i for i in data["out_of_scope"] if i["split"] == "test"])


def right(answer, item: dict) -> bool:
    """The answer names the unit's entry (or, for a glossary unit, defines its term)."""
    if answer.outcome == "definition":
        return answer.definition.term == item.get("term") or (
            answer.definition.entry is not None and answer.definition.entry.id in item["expect"])
    return bool(answer.matches) and answer.matches[0].entry.id in item["expect"]


def test_the_split_is_published_and_large_enough(test_part) -> None:
    data = yaml.safe_load(DEV_SET.read_text(encoding="utf-8"))
    answerable, oos = data["answerable"], data["out_of_scope"]
    assert len(answerable) >= 300 and len(oos) >= 80
    assert sum(i["near"] for i in oos) >= len(oos) / 2 - 10
    assert {i["split"] for i in answerable + oos} == {"train", "dev", "test"}
    tested, tested_oos = test_part
    assert len(tested) >= 60 and len(tested_oos) >= 20
    # Stratified: every unit with four or more questions has some in the test part.
    units = {i["unit"] for i in answerable if sum(j["unit"] == i["unit"] for j in answerable) >= 4}
    assert units <= {i["unit"] for i in tested}


def test_no_confident_wrong_answer_and_no_out_of_scope_answer_on_the_test_part(shipped, test_part) -> None:
    answerable, oos = test_part
    wrong = [i["q"] for i in answerable if (a := shipped.ask(i["q"])).answered and not right(a, i)]
    assert wrong == []
    answered_oos = [i["q"] for i in oos if shipped.ask(i["q"]).answered]
    assert answered_oos == []


def test_the_goal_figures_on_the_test_part(shipped, test_part) -> None:
    """The goals, measured on the held-out test part (bench/bench_ask.py prints the same figures).

    Met, so asserted as goals: no confident wrong answer (above), every out-of-scope question
    refused (not answered and not offered as "did you mean"). Not met, so asserted at the
    figures reached as regression guards: answered with the right entry (goal 95%, measured
    16.7%), offered as answer or "did you mean" (36.1%), right entry first (80.6%)."""
    assert shipped.semantic_on  # the full matcher: lexical and semantic halves
    answerable, oos = test_part
    answers = [(shipped.ask(i["q"]), i) for i in answerable]
    n = len(answers)
    top1 = sum(right(a, i) for a, i in answers) / n
    answered_right = sum(a.answered and right(a, i) for a, i in answers) / n
    offered = sum(right(a, i) and a.outcome in ("answer", "definition", "suggest") for a, i in answers) / n
    assert top1 >= 0.79
    assert answered_right >= 0.15
    assert offered >= 0.34
    refused_oos = [i["q"] for i in oos if shipped.ask(i["q"]).outcome != "refusal"]
    assert len(refused_oos) == 0


def test_every_entry_answers_its_own_question_and_aliases(shipped) -> None:
    failures = []
    for entry in shipped.kb:
        for text in (entry.question, *entry.aliases):
            answer = shipped.ask(text)
            if answer.outcome != "answer" or answer.matches[0].entry.id != entry.id:
                failures.append((entry.id, text, answer.outcome))
    assert failures == []


@pytest.mark.parametrize("question, term", [("what is CET", "CET"), ("whats an AWC", "AWC"),
                                             ("what does FSF stand for", "FSF"), ("rct stands for?", "RCT"),
                                             ("what is IWP", "IWP")])
def test_definitions_come_from_the_glossary_with_the_related_entry(shipped, question: str, term: str) -> None:
    answer = shipped.ask(question)
    assert answer.outcome == "definition" and answer.answered
    assert answer.definition.term == term
    assert answer.definition.meaning == shipped.kb.glossary.terms[term].meaning
    assert answer.definition.entry is not None and answer.matches[0].entry == answer.definition.entry


def test_a_question_about_a_term_is_not_taken_for_a_definition(shipped) -> None:
    assert shipped.ask("can the FSF refund travel costs").outcome != "definition"
    assert shipped.ask("what is the trial").outcome == "answer"  # "trial" alone is not a glossary term


def test_a_gaps_row_added_as_an_alias_answers_after_a_reload(tmp_path: Path) -> None:
    kb_dir = tmp_path / "kb"
    shutil.copytree(ROOT / "kb", kb_dir)
    index_dir = tmp_path / "index"
    question = "whats this in work trial thing all about then"
    answerer = open_answerer(kb_dir, index_dir)
    first = answerer.ask(question)
    answerer.close()
    assert first.outcome != "answer"
    store = ProgressStore.open(tmp_path / "progress.sqlite3")
    store.record_question("Ann", question, first.answered)
    [row] = gaps_report(store).rows
    store.close()
    # The trainer adds the row's words as an alias of the entry that answers it.
    path = kb_dir / "what-is-the-trial.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("aliases:\n", f"aliases:\n  - {row['question']}\n", 1), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "iwp_trainer", "--kb", str(kb_dir), "--index", str(index_dir),
                           "ask", "--json", question], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    import json

    record = json.loads(proc.stdout)
    assert record["outcome"] == "answer" and record["answered"] is True
    assert record["answers"][0]["id"] == "what-is-the-trial"
