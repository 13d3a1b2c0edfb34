"""The app's adapter over the core: loading never raises, progress reads back the same from the
real store and from the in-memory one used when recording is off."""

from __future__ import annotations

from pathlib import Path

import pytest

from iwp_trainer.engine import play_path
from iwp_trainer.store import ProgressStore
from iwp_trainer.tui import services

from tui_helpers import TUI_FIXTURES


def test_library_keeps_valid_content_and_lists_problems() -> None:
    lib = services.load_library(TUI_FIXTURES / "broken" / "kb", TUI_FIXTURES / "broken" / "scenarios")
    assert list(lib.entries) == ["reallocation-not-allowed"]
    assert list(lib.scenarios) == ["swap"]
    assert sorted(Path(d.file).name for d in lib.diagnostics) == ["broken-entry.md", "broken.yaml"]
    assert all(d.line for d in lib.diagnostics)


def test_cited_by_maps_entries_to_the_scenarios_citing_them() -> None:
    lib = services.load_library(TUI_FIXTURES / "kb", TUI_FIXTURES / "scenarios")
    assert [s.id for s in lib.cited_by["reallocation-not-allowed"]] == ["swap"]
    assert [s.id for s in lib.cited_by["when-sanction-applies"]] == ["fare"]
    assert "work-coach-pay" not in lib.cited_by


def test_a_loader_that_crashes_becomes_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    import iwp_trainer.kb

    def explode(kb_dir: Path) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(iwp_trainer.kb, "load_kb", explode)
    lib = services.load_library(TUI_FIXTURES / "kb", TUI_FIXTURES / "scenarios")
    assert lib.entries == {}
    [problem] = [d for d in lib.diagnostics if d.code == "kb-unreadable"]
    assert "disk on fire" in problem.message and problem.file == str(TUI_FIXTURES / "kb")
    assert list(lib.scenarios) == ["fare", "swap"]  # scenarios still load (their cites now unknown)


def test_missing_folders_are_problems_not_crashes(tmp_path: Path) -> None:
    lib = services.load_library(tmp_path / "no-kb", tmp_path / "no-scenarios")
    assert lib.entries == {} and lib.scenarios == {}
    assert lib.diagnostics


@pytest.fixture(params=["database", "session"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "session":
        yield ProgressStore.in_memory()
        return
    store, notice = services.open_store(tmp_path / "progress.sqlite3")
    assert notice is None and store.persistent
    yield store
    store.close()


def test_progress_reads_back_the_same_from_either_store(store) -> None:
    scenario = services.load_library(TUI_FIXTURES / "kb", TUI_FIXTURES / "scenarios").scenarios["fare"]
    for path in (["not-normally", "automatic"], ["not-normally", "agreed-steps"]):
        result = play_path(scenario, path)
        attempt = store.start_attempt("sam", scenario.id, scenario.title, scenario.sha256, "practice", 7,
                                      {d: s.best for d, s in result.scores.items()})
        for seq, d in enumerate(result.decisions, 1):
            store.record_decision(attempt, seq, d.node_id, d.choice_id, d.choice_text, d.points, d.is_best,
                                  d.critical, list(d.cites))
        store.finish_attempt(attempt, result.passed, result.ending_node, services.scores_dict(result))
    open_one = store.start_attempt("sam", "swap", "Swap", "", "assessment", 3, {"reallocation": 2})
    store.record_decision(open_one, 1, "opening", "explain-rat", "Explain", {"reallocation": 2}, True, False, [])
    views = services.attempts(store, "sam")
    assert [(v.status, v.passed) for v in views] == [("finished", False), ("finished", True), ("in_progress", None)]
    assert views[1].scores == {"discretion": 1.0, "sanctions": 1.0}
    assert views[0].scores["sanctions"] == 0.0
    best = services.best_by_scenario(store, "sam")
    assert list(best) == ["fare"] and best["fare"].passed
    [waiting] = services.unfinished(store, "sam")
    assert waiting.choice_ids == ("explain-rat",) and waiting.seed == 3 and waiting.mode == "assessment"
    assert services.attempts(store, "someone-else") == []


def test_the_app_and_the_store_agree_on_the_best_attempt(store) -> None:
    """One rule for Practise, Browse and the reports: a pass beats a fail, then the higher score,
    then the more recent (two equal passes: the later one)."""
    scenario = services.load_library(TUI_FIXTURES / "kb", TUI_FIXTURES / "scenarios").scenarios["fare"]
    ids = []
    for path in (["not-normally", "agreed-steps"], ["not-normally", "automatic"], ["not-normally", "agreed-steps"]):
        result = play_path(scenario, path)
        attempt = store.start_attempt("sam", scenario.id, scenario.title, scenario.sha256, "practice", 7,
                                      {d: s.best for d, s in result.scores.items()})
        for seq, d in enumerate(result.decisions, 1):
            store.record_decision(attempt, seq, d.node_id, d.choice_id, d.choice_text, d.points, d.is_best,
                                  d.critical, list(d.cites))
        store.finish_attempt(attempt, result.passed, result.ending_node, services.scores_dict(result))
        ids.append(attempt)
    app_best = services.best_by_scenario(store, "sam")
    assert app_best["fare"].passed and app_best["fare"].id == store.best_results("sam")["fare"].id == ids[2]


def test_unusable_database_falls_back_to_this_session(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder.sqlite3"
    folder.mkdir()
    store, notice = services.open_store(folder)
    assert store.persistent is False
    assert notice and notice.startswith("Recording is off")


def test_glossary_terms_are_sorted_pairs() -> None:
    lib = services.load_library(TUI_FIXTURES / "kb", TUI_FIXTURES / "scenarios")
    terms = services.glossary_terms(lib.glossary)
    assert [t for t, _m in terms] == ["FSF", "RAT", "WSR"]
    assert all(meaning for _t, meaning in terms)


def test_acronyms_written_as_such_are_spelled_out_in_order() -> None:
    lib = services.load_library(TUI_FIXTURES / "kb", TUI_FIXTURES / "scenarios")
    text = "Refunds from the FSF at a WSR; the Flexible Support Fund again; fsf in lower case."
    assert services.acronyms(text, lib.glossary) == [("FSF", "Flexible Support Fund"), ("WSR", "Work Search Review")]
    assert services.acronyms("No acronyms, only the Random Allocation Tool.", lib.glossary) == []


def test_save_progress_starts_records_and_finishes_in_order() -> None:
    from iwp_trainer.store import Outcome, StoreError

    store = ProgressStore.in_memory()
    start = {"learner": "sam", "scenario_id": "swap", "scenario_title": "Swap", "scenario_sha256": "",
             "mode": "practice", "seed": 3, "best": {"reallocation": 2}}
    decision = {"seq": 1, "node_id": "n1", "choice_id": "keep", "choice_text": "Keep", "points": {"reallocation": 2},
                "is_best": True, "critical": False, "cites": [],
                "outcome": Outcome(True, "end", {"reallocation": (2, 2)})}
    attempt_id = services.save_progress(store, None, start=start, decision=decision)
    assert services.save_progress(store, attempt_id, decision=decision) == attempt_id  # a retry is harmless
    [attempt] = services.attempts(store, "sam")
    assert attempt.status == "finished" and attempt.passed and attempt.choice_ids == ("keep",)
    with pytest.raises(StoreError):
        services.save_progress(store, None, decision=decision)  # nothing to record it against


def test_a_store_error_is_notified_as_text_not_markup() -> None:
    """A failing store's message may quote a path like `/shared/[team]/progress.sqlite3`."""
    from types import SimpleNamespace

    from iwp_trainer.tui.screens.practise import abandon_in_worker

    class Broken:
        def abandon_attempt(self, attempt_id: int) -> None:
            raise OSError("cannot open /shared/[/]team/progress.sqlite3 \x1b]0;t\x07")

    assert services.abandon(Broken(), [1]) == [
        "Could not record progress (abandon_attempt): cannot open /shared/[/]team/progress.sqlite3 \x1b]0;t\x07"]
    seen: list[tuple[str, dict]] = []
    left: list[bool] = []
    app = SimpleNamespace(store=Broken(), notify=lambda message, **kw: seen.append((message, kw)),
                          call_from_thread=lambda call, *args: call(*args), run_worker=lambda run, **kw: run())
    abandon_in_worker(SimpleNamespace(app=app), [1], then=lambda: left.append(True))
    (message, kwargs), = seen
    assert message == "Could not record progress (abandon_attempt): cannot open /shared/[/]team/progress.sqlite3 ␛]0;t␇"
    assert kwargs["markup"] is False
    assert left == [True]  # the attempt only stays unfinished: the screen still goes on
