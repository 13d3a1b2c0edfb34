"""Reports: the SQL aggregation agrees with the recorded attempts, filters narrow it, formats render it."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iwp_trainer.reports import (
    ReportFilter,
    build_report,
    gaps_report,
    learners_report,
    render_csv,
    render_json,
    render_text,
    scenarios_report,
)
from iwp_trainer.store import ProgressStore, normalise_question

START = datetime(2026, 4, 1, 9, 0, tzinfo=timezone.utc)
SHA = "0" * 64


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(location: Path | str, clock: Clock):
    """A new store on each back end: every report test makes the same assertions on SQLite and
    on PostgreSQL (the SQL runs in the database)."""
    s = ProgressStore.open(location, clock=clock)
    yield s
    s.close()


def attempt(s: ProgressStore, clock: Clock, learner: str, scenario: str, decisions: list[tuple[str, str, bool, list[str]]],
            outcome: str, scores: dict[str, tuple[int, int]], title: str | None = None) -> int:
    """Record one attempt: decisions are (choice id, text, is_best, cites); outcome passed/failed/abandoned/open."""
    best = {d: b for d, (_, b) in scores.items()}
    attempt_id = s.start_attempt(learner, scenario, title or scenario.title(), SHA, "practice", 1, best)
    for seq, (choice, text, is_best, cites) in enumerate(decisions, 1):
        clock.advance(minutes=1)
        s.record_decision(attempt_id, seq, f"n{seq}", choice, text, {}, is_best, not is_best and "critical" in text,
                          cites)
    clock.advance(minutes=1)
    if outcome in ("passed", "failed"):
        s.finish_attempt(attempt_id, outcome == "passed", "end", scores)
    elif outcome == "abandoned":
        s.abandon_attempt(attempt_id)
    return attempt_id


@pytest.fixture
def recorded(store: ProgressStore, clock: Clock) -> ProgressStore:
    """Ann: a pass and a critical fail at s1, an open attempt at s2; Bob (a day later): a pass at s2,
    an abandoned s1; questions with repeats in different case and spacing."""
    good = ("good", "Explain the trial", True, [])
    moved = ("move", "I will move you to the control group (critical)", False, ["reallocation-not-allowed"])
    vague = ("vague", "Tell them nothing", False, [])
    attempt(store, clock, "Ann", "s1", [good, vague], "passed", {"discretion": (4, 4), "sanctions": (1, 2)})
    attempt(store, clock, "Ann", "s1", [moved, vague], "failed", {"discretion": (-2, 4), "sanctions": (2, 2)})
    attempt(store, clock, "Ann", "s2", [good], "open", {"discretion": (0, 4)})
    clock.advance(days=1)
    attempt(store, clock, "Bob", "s2", [good, moved], "passed", {"discretion": (3, 4)}, title="Second, renamed")
    attempt(store, clock, "Bob", "s1", [moved], "abandoned", {"discretion": (0, 4)})
    store.record_question("Ann", "What is the CET?", answered=False)
    store.record_question("Bob", "  what is  the cet? ", answered=False)
    store.record_question("Bob", "Travel costs", answered=True)
    store.record_question("Bob", "Travel costs", answered=True, helpful=False)
    store.record_question("Ann", "Pay rates", answered=True)  # answered and fine: not a gap
    clock.advance(days=1)
    store.record_question(None, "Random allocation tool", answered=False)
    return store


def by(rows: list[dict], key: str) -> dict:
    return {r[key]: r for r in rows}


def test_learners_report(recorded: ProgressStore) -> None:
    report = learners_report(recorded)
    rows = by(report.rows, "learner")
    assert list(rows) == ["Ann", "Bob"]
    assert report.dimensions == ["discretion", "sanctions"]
    ann, bob = rows["Ann"], rows["Bob"]
    assert (ann["attempts"], ann["passed"], ann["unfinished"]) == (2, 1, 1)
    assert ann["discretion"] == pytest.approx((1.0 + 0.0) / 2)  # -2/4 counts as 0, like the engine
    assert ann["sanctions"] == pytest.approx((0.5 + 1.0) / 2)
    assert (bob["attempts"], bob["passed"], bob["unfinished"], bob["pass_rate"]) == (1, 1, 1, 1.0)
    assert bob["discretion"] == pytest.approx(0.75) and bob["sanctions"] is None
    # Last activity: Ann's latest is a decision in her open attempt; Bob's is his abandoned attempt.
    ann_open = recorded.unfinished_attempts("Ann")[0]
    assert ann["last_activity"] == ann_open.decisions[-1].decided_at
    assert bob["last_activity"] == recorded.attempts(learner="Bob")[-1].ended_at


def test_scenarios_report_and_most_often_wrong(recorded: ProgressStore) -> None:
    report = scenarios_report(recorded, citations={"reallocation-not-allowed": "IWP trial FAQ, section 5: Conducting Interviews"})
    rows = by(report.rows, "scenario")
    s1, s2 = rows["s1"], rows["s2"]
    assert (s1["attempts"], s1["passed"], s1["pass_rate"], s1["unfinished"]) == (2, 1, 0.5, 1)
    assert s1["discretion"] == pytest.approx(0.5) and s1["sanctions"] == pytest.approx(0.75)
    assert (s2["attempts"], s2["passed"], s2["unfinished"]) == (1, 1, 1)
    assert s2["title"] == "Second, renamed"  # the latest title recorded, not read from any file
    wrong = s1["most_often_wrong"]
    # "move" was picked twice at s1 (Ann's fail, Bob's abandoned attempt), "vague" twice: ties go to critical.
    assert [(w["choice_id"], w["times"], w["critical"]) for w in wrong] == [("move", 2, 2), ("vague", 2, 0)]
    assert wrong[0]["choice_text"] == "I will move you to the control group (critical)"
    assert wrong[0]["cites"] == ["reallocation-not-allowed"]
    assert wrong[0]["policy"] == "reallocation-not-allowed (IWP trial FAQ, section 5: Conducting Interviews)"
    assert [w["choice_id"] for w in s2["most_often_wrong"]] == ["move"]
    assert all(not w["choice_id"] == "good" for r in report.rows for w in r["most_often_wrong"])
    assert report.tables[1].rows == wrong + s2["most_often_wrong"]


def test_only_the_top_wrong_decisions_are_listed(store: ProgressStore, clock: Clock) -> None:
    for n in range(5):
        choices = [(f"w{k}", f"Wrong {k}", False, []) for k in range(n + 1)]
        attempt(store, clock, "Ann", "s1", choices, "failed", {"d": (0, 1)})
    wrong = scenarios_report(store, top=3).rows[0]["most_often_wrong"]
    assert [(w["choice_id"], w["times"]) for w in wrong] == [("w0", 5), ("w1", 4), ("w2", 3)]


def test_an_attempt_opened_with_no_decision_is_not_unfinished(recorded: ProgressStore, clock: Clock) -> None:
    """Next, then Esc straight away: nothing was attempted, so no report counts it as unfinished."""
    before_learners = by(learners_report(recorded).rows, "learner")
    before_scenarios = by(scenarios_report(recorded).rows, "scenario")
    attempt(recorded, clock, "Ann", "s1", [], "open", {"discretion": (0, 4)})
    attempt(recorded, clock, "Ann", "s2", [], "abandoned", {"discretion": (0, 4)})
    attempt(recorded, clock, "Dee", "s3", [], "abandoned", {"discretion": (0, 4)})
    learners = by(learners_report(recorded).rows, "learner")
    scenarios = by(scenarios_report(recorded).rows, "scenario")
    assert learners["Ann"]["unfinished"] == before_learners["Ann"]["unfinished"] == 1
    assert learners["Ann"]["last_activity"] == before_learners["Ann"]["last_activity"]
    assert {k: v["unfinished"] for k, v in scenarios.items()} == \
        {k: v["unfinished"] for k, v in before_scenarios.items()}
    assert "Dee" not in learners and "s3" not in scenarios  # nothing done: nothing to report


def test_gaps_report_groups_case_and_spacing_most_frequent_first(recorded: ProgressStore) -> None:
    report = gaps_report(recorded)
    assert [r["question"] for r in report.rows] == ["what is the cet?", "Random allocation tool", "Travel costs"]
    cet, tool, travel = report.rows
    assert (cet["unanswered"], cet["not_helpful"], cet["asked"], cet["learners"]) == (2, 0, 2, 2)
    assert (travel["unanswered"], travel["not_helpful"], travel["asked"]) == (0, 1, 1)
    assert (tool["unanswered"], tool["learners"]) == (1, 0)
    assert all(normalise_question(r["question"]) != "pay rates" for r in report.rows)


def test_filters_narrow_every_report(recorded: ProgressStore) -> None:
    ann = ReportFilter(learner="ann")
    assert [r["learner"] for r in learners_report(recorded, ann).rows] == ["Ann"]
    assert by(scenarios_report(recorded, ann).rows, "scenario")["s2"]["attempts"] == 0  # only her open one
    only_s2 = ReportFilter(scenario="s2")
    rows = by(learners_report(recorded, only_s2).rows, "learner")
    assert (rows["Ann"]["attempts"], rows["Ann"]["unfinished"], rows["Bob"]["attempts"]) == (0, 1, 1)
    assert [r["scenario"] for r in scenarios_report(recorded, only_s2).rows] == ["s2"]
    day_two = ReportFilter(since=datetime(2026, 4, 2))
    assert [r["learner"] for r in learners_report(recorded, day_two).rows] == ["Bob"]
    assert [r["question"] for r in gaps_report(recorded, ReportFilter(since=datetime(2026, 4, 3))).rows] == \
        ["Random allocation tool"]
    # Bob: one gap each; the tie goes to the most recently asked.
    assert [r["question"] for r in gaps_report(recorded, ReportFilter(learner="Bob")).rows] == \
        ["Travel costs", "what is the cet?"]
    nobody = learners_report(recorded, ReportFilter(learner="Nobody"))
    assert nobody.empty and "No attempts match (learner Nobody)" in render_text(nobody)


def test_empty_database_says_so_instead_of_an_empty_table(store: ProgressStore) -> None:
    for name in ("learners", "scenarios"):
        report = build_report(name, store)
        assert report.empty and render_text(report) == "No attempts recorded yet.\n"
    assert render_text(gaps_report(store)).startswith("No unanswered or unhelpful questions recorded yet")
    with pytest.raises(ValueError):
        build_report("everything", store)


def test_text_table_is_aligned(recorded: ProgressStore) -> None:
    import re

    lines = render_text(learners_report(recorded)).splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("Learner "))
    rule, rows = lines[header + 1], lines[header + 2: header + 4]
    segments = [m.span() for m in re.finditer(r"-+", rule)]
    assert len(segments) == 9  # learner, attempts, passed, pass rate, score, 2 dimensions, unfinished, last activity
    for line in rows:
        assert line[0] != " "  # names start at the left edge
        for start, end in segments[1:-1]:  # numbers end exactly where their column ends
            assert line[end - 1] != " " and (end == len(line) or line[end] == " ")
        assert line[segments[-1][0]].isdigit()  # the time starts where its column starts
    ann, bob = (line.split() for line in rows)
    assert ann[:4] == ["Ann", "2", "1", "50%"] and ann[5:7] == ["50%", "75%"]
    assert bob[:4] == ["Bob", "1", "1", "100%"] and bob[5:7] == ["75%", "-"]  # no sanctions scores: a dash
    assert bob[4] == "75%"  # Bob's one attempt scored only discretion: his score is that share


def test_long_texts_are_shortened_only_in_the_text_table(store: ProgressStore, clock: Clock) -> None:
    long_text = "I will tell you everything about the trial " * 4
    attempt(store, clock, "Ann", "s1", [("long", long_text, False, [])], "failed", {"d": (0, 1)})
    report = scenarios_report(store)
    assert long_text not in render_text(report) and "…" in render_text(report)
    assert long_text in render_csv(report) and long_text in json.loads(render_json(report))["rows"][0][
        "most_often_wrong"][0]["choice_text"]


def test_csv_and_json_carry_the_same_figures(recorded: ProgressStore) -> None:
    report = learners_report(recorded)
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert [r["learner"] for r in rows] == ["Ann", "Bob"]
    assert float(rows[0]["sanctions"]) == pytest.approx(report.rows[0]["sanctions"])
    assert rows[1]["sanctions"] == ""  # no data, not zero
    data = json.loads(render_json(report))
    assert data["report"] == "learners" and data["dimensions"] == ["discretion", "sanctions"]
    assert data["rows"][0]["discretion"] == pytest.approx(0.5) and data["rows"][1]["sanctions"] is None
    scenarios = render_csv(scenarios_report(recorded))
    main, wrong = scenarios.split("\n\n")
    assert main.splitlines()[0].startswith("scenario,title,attempts,passed,pass_rate")
    assert [r["choice_id"] for r in csv.DictReader(io.StringIO(wrong))] == ["move", "vague", "move"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["Ann", "Bob", "Cy"]), st.sampled_from(["s1", "s2"]),
                          st.sampled_from(["passed", "failed", "abandoned", "open"]),
                          st.integers(-3, 5), st.integers(0, 5), st.lists(st.booleans(), max_size=3)),
                max_size=12))
def test_sql_aggregation_matches_the_recorded_attempts(location: Path | str, plays: list) -> None:
    clock = Clock()
    s = ProgressStore.open(location, clock=clock)

    def empty(retried: bool) -> None:
        for table in ("decisions", "attempt_scores", "attempts", "questions", "learners"):
            s._db.execute(f"DELETE FROM {table}")

    s._write(empty)  # one database per back end for all examples: each starts empty
    try:
        for learner, scenario, outcome, earned, best, bests in plays:
            decisions = [(f"c{i}{b}", f"text {i} {b}", b, []) for i, b in enumerate(bests)]
            attempt(s, clock, learner, scenario, decisions, outcome, {"d": (earned, best)})
        report = learners_report(s)
        attempts = [a for a in s.attempts() if a.finished or a.decisions]  # opened and left: not counted
        for row in report.rows:
            mine = [a for a in attempts if a.learner == row["learner"]]
            finished = [a for a in mine if a.finished]
            assert row["attempts"] == len(finished)
            assert row["passed"] == sum(a.status == "passed" for a in mine)
            assert row["unfinished"] == len(mine) - len(finished)
            if finished:
                assert row["d"] == pytest.approx(sum(a.scores["d"].fraction for a in finished) / len(finished))
                assert row["score"] == pytest.approx(sum(a.score for a in finished) / len(finished))
        assert {r["learner"] for r in report.rows} == {a.learner for a in attempts}
        for row in scenarios_report(s, top=100).rows:
            wrong: dict[str, int] = {}
            for a in attempts:
                if a.scenario_id == row["scenario"]:
                    for d in a.decisions:
                        if not d.is_best:
                            wrong[d.choice_id] = wrong.get(d.choice_id, 0) + 1
            assert {w["choice_id"]: w["times"] for w in row["most_often_wrong"]} == wrong
    finally:
        s.close()


def test_text_cells_are_one_line_without_control_characters(store: ProgressStore, clock: Clock) -> None:
    attempt(store, clock, "Ann\nBob \x1b]0;t\x07", "s1", [("c", "Explain\r\nit", True, [])], "passed", {"d": (2, 2)},
            title="Two\nlines")
    text = render_text(learners_report(store)) + render_text(scenarios_report(store))
    assert "Ann Bob ␛]0;t␇" in text and "Two lines" in text
    assert "\x1b" not in text


def test_csv_cells_that_a_spreadsheet_would_run_start_with_a_quote(store: ProgressStore, clock: Clock) -> None:
    attempt(store, clock, "=1+1", "s1", [("c", "@SUM(A1)", False, [])], "failed", {"d": (-1, 2)},
            title="-2+3")
    store.record_question("+learner", "=cmd|' /C calc'!A0", answered=False)
    cells = []
    for report in (learners_report(store), scenarios_report(store), gaps_report(store)):
        cells += [cell for row in csv.reader(io.StringIO(render_csv(report))) for cell in row]
    assert {"'=1+1", "'-2+3", "'@SUM(A1)", "'=cmd|' /C calc'!A0"} <= set(cells), cells
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    row = next(csv.DictReader(io.StringIO(render_csv(learners_report(store)))))
    assert row["attempts"] == "1"
