"""xAPI export: every statement checked against the xAPI 1.0.3 statement rules, stable ids, the CLI."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iwp_trainer.cli import main
from iwp_trainer.store import ProgressStore
from iwp_trainer.xapi import StatementBuilder, iso_duration, statements

SHA = "1" * 64
ADL = "http://adlnet.gov/expapi/verbs/"
DURATION = re.compile(r"^P(?:\d+Y)?(?:\d+M)?(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?$")
IRI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$")


def statement_problems(s: dict[str, Any]) -> list[str]:
    """The xAPI 1.0.3 statement rules this export must meet (written from the spec, not the code)."""
    problems = []
    for key in ("actor", "verb", "object"):
        if key not in s:
            problems.append(f"missing {key}")
    try:
        uuid.UUID(s["id"])
    except (KeyError, ValueError, TypeError):
        problems.append("id is not a UUID")
    actor = s.get("actor", {})
    account = actor.get("account", {})
    if actor.get("objectType", "Agent") != "Agent" or not account.get("name") or \
            not str(account.get("homePage", "")).startswith(("http://", "https://")):
        problems.append("actor must be an Agent with an account (homePage URL, name)")
    verb = s.get("verb", {})
    if not IRI.match(str(verb.get("id", ""))):
        problems.append("verb id is not an IRI")
    obj = s.get("object", {})
    if obj.get("objectType", "Activity") != "Activity" or not IRI.match(str(obj.get("id", ""))):
        problems.append("object must be an Activity with an IRI id")
    try:
        stamp = datetime.fromisoformat(s["timestamp"].replace("Z", "+00:00"))
        if stamp.tzinfo is None:
            problems.append("timestamp has no time zone")
    except (KeyError, ValueError, AttributeError):
        problems.append("timestamp is not ISO 8601")
    result = s.get("result", {})
    score = result.get("score")
    if score is not None:
        if "scaled" in score and not -1 <= score["scaled"] <= 1:
            problems.append("score.scaled out of [-1, 1]")
        if "min" in score and "max" in score and not score["min"] < score["max"]:
            problems.append("score.max must be greater than score.min")
        if "raw" in score and "min" in score and score["raw"] < score["min"]:
            problems.append("score.raw < score.min")
        if "raw" in score and "max" in score and score["raw"] > score["max"]:
            problems.append("score.raw > score.max")
    if "duration" in result and not DURATION.match(result["duration"]):
        problems.append("duration is not ISO 8601")
    if "success" in result and not isinstance(result["success"], bool):
        problems.append("success is not a boolean")
    for where in (result.get("extensions", {}), s.get("context", {}).get("extensions", {})):
        problems += [f"extension key {k} is not an IRI" for k in where if not IRI.match(k)]
    context = s.get("context", {})
    if "registration" in context:
        try:
            uuid.UUID(context["registration"])
        except ValueError:
            problems.append("registration is not a UUID")
    for parent in context.get("contextActivities", {}).get("parent", []):
        if not IRI.match(parent.get("id", "")):
            problems.append("parent activity id is not an IRI")
    return problems


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 7, 1, 10, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=37.25)
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Ann passes s1 and fails s2 (a critical, negative-scoring choice); Bob abandons s1; Cy is mid-way."""
    path = tmp_path / "p.sqlite3"
    s = ProgressStore.open(path, clock=Clock())
    a = s.start_attempt("Ann", "s1", "Scenario one", SHA, "practice", 5, {"discretion": 4, "sanctions": 2})
    s.record_decision(a, 1, "start", "good", "Good answer", {"discretion": 4}, True, False, ["entry-a"])
    s.record_decision(a, 2, "next", "ok", "Fair answer", {"sanctions": 1}, False, False, [])
    s.finish_attempt(a, True, "end-good", {"discretion": (4, 4), "sanctions": (1, 2)})
    b = s.start_attempt("Ann", "s2", "Scenario two", SHA, "assessment", 6, {"reallocation": 2})
    s.record_decision(b, 1, "start", "move", "Move them", {"reallocation": -3}, False, True, ["reallocation-not-allowed"])
    s.finish_attempt(b, False, "end-moved", {"reallocation": (-3, 2)})
    c = s.start_attempt("Bob", "s1", "Scenario one", SHA, "practice", 7, {"discretion": 4})
    s.record_decision(c, 1, "start", "good", "Good answer", {"discretion": 4}, True, False, [])
    s.abandon_attempt(c)
    d = s.start_attempt("Cy", "s1", "Scenario one", SHA, "practice", 8, {"discretion": 4})
    s.record_decision(d, 1, "start", "good", "Good answer", {"discretion": 4}, True, False, [])
    s.close()
    return path


def export(db: Path, *extra: str) -> list[dict[str, Any]]:
    out = db.parent / "out.jsonl"
    assert main(["--db", str(db), "export", "xapi", "--out", str(out), *extra]) == 0
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def test_every_statement_meets_the_rules(db: Path) -> None:
    stmts = export(db)
    assert stmts
    for s in stmts:
        assert statement_problems(s) == [], s
        assert s["version"] == "1.0.3"
        assert s["verb"]["id"].startswith(ADL)
    ids = [s["id"] for s in stmts]
    assert len(ids) == len(set(ids))


def test_verbs_per_attempt_follow_what_happened(db: Path) -> None:
    stmts = export(db)
    by_reg: dict[str, list[dict]] = {}
    for s in stmts:
        by_reg.setdefault(s["context"]["registration"], []).append(s)
    assert len(by_reg) == 4  # one registration per attempt
    shapes = sorted((group[0]["actor"]["account"]["name"], group[0]["object"]["id"].rsplit("/", 1)[1],
                     tuple(s["verb"]["id"][len(ADL):] for s in group)) for group in by_reg.values())
    assert shapes == [
        ("Ann", "s1", ("attempted", "answered", "answered", "completed", "passed")),
        ("Ann", "s2", ("attempted", "answered", "completed", "failed")),
        ("Bob", "s1", ("attempted", "answered")),  # abandoned: never completed
        ("Cy", "s1", ("attempted", "answered")),  # still in progress
    ]


def test_answered_statements_carry_the_choice(db: Path) -> None:
    answered = [s for s in export(db, "--learner", "Ann") if s["verb"]["id"] == ADL + "answered"]
    first, second, moved = answered
    assert first["result"]["response"] == "good" and first["result"]["success"] is True
    assert second["result"]["response"] == "ok" and second["result"]["success"] is False
    assert moved["result"]["response"] == "move" and moved["result"]["score"]["raw"] == -3
    ext = {k.rsplit("/", 1)[1]: v for k, v in moved["result"]["extensions"].items()}
    assert ext["critical"] is True and ext["cites"] == ["reallocation-not-allowed"] and ext["choice-text"] == "Move them"
    parent = first["context"]["contextActivities"]["parent"][0]["id"]
    attempted = next(s for s in export(db, "--learner", "Ann") if s["verb"]["id"] == ADL + "attempted")
    assert parent == attempted["object"]["id"] and parent.endswith("/scenarios/s1")


def test_passed_and_failed_carry_score_duration_and_dimensions(db: Path) -> None:
    stmts = export(db)
    passed = next(s for s in stmts if s["verb"]["id"] == ADL + "passed")
    failed = next(s for s in stmts if s["verb"]["id"] == ADL + "failed")
    # The one score (the engine's rule, as the app shows it): the weakest dimension, sanctions 1/2.
    assert passed["result"]["score"] == {"scaled": 0.5, "raw": 50, "min": 0, "max": 100}
    assert passed["result"]["success"] is True and passed["result"]["completion"] is True
    # Ann's first attempt: start, two decisions, finish, each 37.25 s apart on the test clock.
    assert passed["result"]["duration"] == "PT1M51.75S"
    dims = next(v for k, v in passed["result"]["extensions"].items() if k.endswith("/dimension-scores"))
    assert dims == {"discretion": {"earned": 4, "best": 4, "fraction": 1.0},
                    "sanctions": {"earned": 1, "best": 2, "fraction": 0.5}}
    # Lost points count as 0%, within [min, max]; the exact points are in the extension.
    assert failed["result"]["score"] == {"scaled": 0.0, "raw": 0, "min": 0, "max": 100}
    assert failed["result"]["success"] is False
    dims = next(v for k, v in failed["result"]["extensions"].items() if k.endswith("/dimension-scores"))
    assert dims["reallocation"]["earned"] == -3


def test_an_attempt_with_nothing_to_earn_has_no_score(tmp_path: Path) -> None:
    """xAPI requires score.max > score.min: with no positive best (every choice scored 0, or only
    losses possible) there is no meaningful score, so it is left out and success still says how it went."""
    path = tmp_path / "p.sqlite3"
    s = ProgressStore.open(path, clock=Clock())
    for best, earned, passed in (({"discretion": 0}, {"discretion": (0, 0)}, True),
                                 ({"sanctions": 0, "reallocation": -2}, {"sanctions": (-1, 0), "reallocation": (-2, -2)},
                                  False)):
        a = s.start_attempt("Ann", "s0", "Nothing to win", SHA, "practice", 5, best)
        s.record_decision(a, 1, "start", "only", "The only answer", {}, True, False, [])
        s.finish_attempt(a, passed, "end", earned)
    s.close()
    stmts = export(path)
    ends = [x for x in stmts if x["verb"]["id"] in (ADL + "passed", ADL + "failed")]
    assert [x["result"]["success"] for x in ends] == [True, False]
    for statement in stmts:
        assert statement_problems(statement) == [], statement
    assert all("score" not in x["result"] for x in ends)
    assert all(any(k.endswith("/dimension-scores") for k in x["result"]["extensions"]) for x in ends)


def test_ids_are_stable_across_exports(db: Path, tmp_path: Path) -> None:
    first = export(db)
    second = export(db)
    assert [s["id"] for s in first] == [s["id"] for s in second]
    assert first == second
    # Finishing Cy's attempt later adds statements but keeps the earlier ones' ids.
    s = ProgressStore.open(db)
    cy = s.unfinished_attempts("Cy")[0]
    s.finish_attempt(cy.id, True, "end", {"discretion": (4, 4)})
    s.close()
    third = export(db)
    assert {x["id"] for x in first} < {x["id"] for x in third}
    assert len(third) == len(first) + 2
    # A different organisation's IRIs give different ids (no clashes in a shared LRS).
    other = export(db, "--activity-base", "https://lms.example.org/iwp")
    assert not {x["id"] for x in other} & {x["id"] for x in third}


def test_iso_durations() -> None:
    assert iso_duration(0) == "PT0S"
    assert iso_duration(450.5) == "PT7M30.5S"
    assert iso_duration(3723) == "PT1H2M3S"
    assert iso_duration(0.004) == "PT0S"
    assert all(DURATION.match(iso_duration(x)) for x in (0, 1.01, 59.999, 3600, 86_400 * 3))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.dictionaries(st.sampled_from(["a", "b", "c"]), st.tuples(st.integers(-10, 10),
                                                                                     st.integers(-2, 10)), max_size=3),
                          st.sampled_from(["passed", "failed", "abandoned", "open"]),
                          st.lists(st.tuples(st.integers(-5, 5), st.booleans(), st.booleans()), max_size=4)),
                min_size=1, max_size=5),
       st.text(min_size=1, max_size=20).filter(str.strip))
def test_any_recorded_attempts_export_valid_statements(tmp_path_factory: pytest.TempPathFactory,
                                                       plays: list, learner: str) -> None:
    s = ProgressStore.open(tmp_path_factory.mktemp("x") / "p.sqlite3")
    try:
        for scores, outcome, decisions in plays:
            a = s.start_attempt(learner, "scn", "Scenario", SHA, "practice", 0, {d: b for d, (_, b) in scores.items()})
            for seq, (points, best, critical) in enumerate(decisions, 1):
                s.record_decision(a, seq, f"n{seq}", f"c{seq}", "text", {"a": points}, best, critical, [])
            if outcome in ("passed", "failed"):
                s.finish_attempt(a, outcome == "passed", "end", scores)
            elif outcome == "abandoned":
                s.abandon_attempt(a)
        out = list(statements(s.attempts()))
        assert all(statement_problems(x) == [] for x in out)
        assert len({x["id"] for x in out}) == len(out)
        assert len({x["context"]["registration"] for x in out}) == len(plays)
    finally:
        s.close()


def test_builder_ids_are_uuid5() -> None:
    from iwp_trainer.store import Attempt

    attempt = Attempt(1, "Ann", "s1", "S", SHA, "practice", 0, "2026-07-01T10:00:00.000+00:00", None, "in_progress")
    builder = StatementBuilder()
    assert uuid.UUID(builder.statement_id(attempt, "answered", 3)).version == 5
    assert builder.statement_id(attempt, "answered", 3) != builder.statement_id(attempt, "answered", 4)
    assert uuid.UUID(builder.registration(attempt)).version == 5


# --- the export command ------------------------------------------------------------------------


def test_export_to_stdout_and_filters(db: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["--db", str(db), "export", "xapi", "--scenario", "s2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(x)["verb"]["id"][len(ADL):] for x in lines] == ["attempted", "answered", "completed", "failed"]
    assert main(["--db", str(db), "export", "xapi", "--since", "2030-01-01"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "No attempts recorded yet (since 2030-01-01)" in captured.err


def test_export_writes_atomically_and_reports_failure(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "lrs.jsonl"
    out.write_text("previous export\n")
    assert main(["--db", str(db), "export", "xapi", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    count = len(out.read_text().splitlines())
    assert f"Wrote {count} xAPI statements for 4 attempts" in err
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp files left
    missing = tmp_path / "no-such-folder" / "lrs.jsonl"
    assert main(["--db", str(db), "export", "xapi", "--out", str(missing)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("iwp-trainer export: error: cannot write") and "Traceback" not in err


def test_export_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["--db", str(tmp_path / "none.sqlite3"), "export", "xapi"]) == 0
    assert "No attempts recorded yet" in capsys.readouterr().err
    assert not (tmp_path / "none.sqlite3").exists()
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"\x00garbage" * 300)
    assert main(["--db", str(bad), "export", "xapi"]) == 1
    assert "not a readable progress database" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["--db", str(bad), "export", "xapi", "--home-page", "intranet"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["--db", str(bad), "export", "csv"])
    assert info.value.code == 2
