"""Practise: the scenario list, playing to the end in both modes, recording, resuming."""

from __future__ import annotations

from textual.widgets import DataTable, Markdown, OptionList, Static

from iwp_trainer.scenario_loader import load_scenarios
from iwp_trainer.tui import services
from iwp_trainer.tui.dialogs import ChoiceScreen, EntryScreen
from iwp_trainer.tui.screens.practise import PlayScreen, PractiseScreen, ResultScreen
from iwp_trainer.tui.widgets import ScoreBar

from tui_helpers import TUI_FIXTURES, ready, wait_for

SCENARIOS = load_scenarios(TUI_FIXTURES / "scenarios", None).scenarios
FARE = SCENARIOS["fare"]


def shown(screen) -> str:
    parts = [str(w.render()) for w in screen.query(Static)]
    parts += [w.source for w in screen.query(Markdown)]
    return "\n".join(parts)


async def open_practise(pilot, scenario_id: str) -> PractiseScreen:
    await pilot.press("f4")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, PractiseScreen))
    screen = pilot.app.screen
    screen.select_scenario(scenario_id)
    await pilot.pause()
    assert screen.selected_id() == scenario_id
    return screen


async def test_list_shows_title_level_dimensions_and_best(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        screen = await open_practise(pilot, "fare")
        table = screen.query_one(DataTable)
        assert table.row_count == len(SCENARIOS)
        row = [str(cell) for cell in table.get_row("fare")]  # cells are Text: shown as written, never markup
        assert row[0].strip() == FARE.title and row[1] == FARE.level
        assert row[2] == "Discretion, Sanctions"
        assert row[3] == "not tried"
        await pilot.press("end")  # Home and End go to the last and first scenario, not across columns
        assert table.cursor_row == table.row_count - 1
        await pilot.press("home")
        assert table.cursor_row == 0


async def test_practice_mode_feedback_cited_answer_and_pass(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await open_practise(pilot, "fare")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        play = app.screen
        assert FARE.nodes["opening"].say in shown(play)
        assert play.query_one("#choices", OptionList).option_count == 2
        await pilot.press("1")
        await pilot.pause()
        text = shown(play)
        assert "✓ Best choice" in text
        assert FARE.choice("not-normally").feedback in text
        assert "Aisha: " + FARE.nodes["missed"].say in text  # who says each line is shown
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, EntryScreen))
        assert app.screen.entries[0].id == "travel-costs-refund"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("down", "up", "enter")  # arrows work too
        await wait_for(pilot, lambda: isinstance(app.screen, ResultScreen))
        result = app.screen
        assert result.result.passed
        assert "PASS" in shown(result)
        bars = list(result.query(ScoreBar))
        assert [b.label for b in bars] == ["Discretion", "Sanctions"]
        assert all(b.fraction == 1.0 for b in bars)
        attempts = services.attempts(app.store, "test")
        assert len(attempts) == 1 and attempts[0].passed and attempts[0].mode == "practice"
        assert attempts[0].choice_ids == ("not-normally", "agreed-steps")


def footer_keys(app) -> list[str]:
    """The descriptions of the bindings the footer shows on the current screen."""
    return [b.description for _, b, enabled, _ in app.active_bindings.values() if b.show and enabled]


async def test_assessment_mode_gives_no_feedback_until_the_end(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await open_practise(pilot, "fare")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        play = app.screen
        assert "Policy" not in footer_keys(app)  # nothing to look up until the end
        await pilot.press("2")  # the worse choice
        await pilot.pause()
        assert not play.query(".feedback")
        await pilot.press("c")
        await pilot.pause()
        assert app.screen is play  # no policy answer mid-assessment
        assert FARE.choice("refund-anyway").feedback not in shown(play)
        await pilot.press("1")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultScreen))
        result = app.screen
        assert not result.result.passed
        text = shown(result)
        assert "FAIL" in text
        assert FARE.choice("refund-anyway").feedback in text  # the debrief explains it now
        # ...and teaches: why the best was better, and the source sentence with its citation
        assert FARE.choice("not-normally").feedback in text
        assert "Why it is better" in text
        assert "Travel costs will not normally be refunded." in text
        assert "IWP trial FAQ, section 5: Conducting Interviews" in text
        assert services.attempts(app.store, "test")[0].mode == "assessment"


async def test_critical_choice_fails_and_retry_starts_again(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await open_practise(pilot, "swap")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultScreen))
        assert app.screen.result.critical_taken
        assert "critical mistake" in shown(app.screen)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        assert app.screen.scenario.id == "swap" and not app.screen.play.decisions


async def test_review_and_next_from_the_result(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await open_practise(pilot, "fare")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        await pilot.press("1", "2")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultScreen))
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, EntryScreen))
        ids = [e.id for e in app.screen.entries]
        assert ids == ["travel-costs-refund", "when-sanction-applies", "sanction-duration"]
        await pilot.press("escape", "n")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        assert app.screen.scenario.id == "swap"


async def test_leaving_keeps_the_attempt_to_resume(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await open_practise(pilot, "fare")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        await pilot.press("1", "escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        await pilot.click("#keep")
        await wait_for(pilot, lambda: isinstance(app.screen, PractiseScreen))
        unfinished = services.unfinished(app.store, "test")
        assert [a.choice_ids for a in unfinished] == [("not-normally",)]
        assert str(app.screen.query_one(DataTable).get_row("fare")[0]).startswith("↻ ")
        assert app.screen.query_one(DataTable).get_row("fare")[3] == "unfinished"  # not "not tried"
        assert "unfinished attempt" in str(app.screen.query_one("#scenario-summary").render())
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        await pilot.click("#resume")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        play = app.screen
        assert [d.choice_id for d in play.play.decisions] == ["not-normally"]
        assert play.play.node.id == "missed"
        await pilot.press("1")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultScreen))
        assert services.unfinished(app.store, "test") == []
        assert [a.status for a in services.attempts(app.store, "test")] == ["finished"]


async def test_abandoning_an_attempt(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await open_practise(pilot, "fare")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        await pilot.press("1", "escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        await pilot.click("#abandon")
        await wait_for(pilot, lambda: isinstance(app.screen, PractiseScreen))
        assert services.unfinished(app.store, "test") == []
        assert [a.status for a in services.attempts(app.store, "test")] == ["abandoned"]


async def test_an_attempt_with_no_decisions_is_not_offered_for_resuming(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        scenario = SCENARIOS["fare"]
        app.store.start_attempt("test", scenario.id, scenario.title, scenario.sha256, "practice", 1, {})
        await open_practise(pilot, "fare")
        assert str(app.screen.query_one(DataTable).get_row("fare")[0]).startswith("  ")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        await wait_for(pilot, lambda: [a.status for a in services.attempts(app.store, "test")]
                       == ["abandoned", "in_progress"])  # abandoned in a worker, like saves


async def test_resuming_after_the_scenario_file_changed_says_so(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        attempt = app.store.start_attempt("test", "fare", FARE.title, "an-older-version", "practice", 1, {})
        app.store.record_decision(attempt, 1, "opening", "not-normally", "text", {"discretion": 2}, True, False, [])
        await open_practise(pilot, "fare")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        assert "has changed since" in app.screen.message
        await pilot.click("#resume")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        assert app.screen.play.node.id == "missed"  # the recorded choice still exists, so it replays


async def test_an_attempt_that_no_longer_replays_starts_afresh(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        attempt = app.store.start_attempt("test", "fare", FARE.title, "old", "practice", 1, {})
        app.store.record_decision(attempt, 1, "opening", "a-choice-since-removed", "text", {}, False, False, [])
        await open_practise(pilot, "fare")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        await pilot.click("#resume")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        assert app.screen.play.node.id == "opening" and not app.screen.play.decisions
        assert any("Could not resume" in n.message for n in app._notifications)
        await wait_for(pilot, lambda: [a.status for a in services.attempts(app.store, "test")]
                       == ["abandoned", "in_progress"])


async def test_an_ending_shows_the_variant_that_fits_the_path(make_app) -> None:
    plain = FARE.nodes["clear-end"].say
    variant = FARE.nodes["clear-end"].variants[0].say
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await open_practise(pilot, "fare")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        await pilot.press("2", "1")  # the refund sets `refunded`, then the right answer on sanctions
        await wait_for(pilot, lambda: isinstance(app.screen, ResultScreen))
        text = shown(app.screen)
        assert variant in text and plain not in text
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        await pilot.press("1", "1")  # no refund: the plain ending
        await wait_for(pilot, lambda: isinstance(app.screen, ResultScreen))
        text = shown(app.screen)
        assert plain in text and variant not in text


# --- saving: no decision lost or stuck (issue 13) ----------------------------------------------------


def recorded_decisions(app) -> list[tuple[int, str]]:
    """(seq, choice id) of every decision in the database, read afresh (not through the app)."""
    import sqlite3

    conn = sqlite3.connect(app.db_path)
    try:
        return [tuple(r) for r in conn.execute("SELECT seq, choice_id FROM decisions ORDER BY attempt_id, seq")]
    finally:
        conn.close()


def hold_write_lock(app):
    """Another program writing the database: holds its write lock until released."""
    import sqlite3

    blocker = sqlite3.connect(app.db_path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    return blocker


async def test_a_decision_that_cannot_be_saved_stops_the_attempt_with_a_retry_key(make_app) -> None:
    """While another program held the write lock the app froze, said "could not record" and played
    on; the next decision was saved as number 3 after 1 and the attempt could not be resumed. Now
    the wait is in a worker, the attempt stays at the unsaved decision, and r retries it."""
    import time

    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await open_practise(pilot, "fare")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        play = app.screen
        await wait_for(pilot, lambda: play.attempt_id is not None and not play.saving)
        app.store.busy_timeout = 0.2
        app.store.query("PRAGMA busy_timeout = 200")
        blocker = hold_write_lock(app)
        try:
            started = time.monotonic()
            await pilot.press("1")
            assert time.monotonic() - started < 0.5  # the screen never froze for the wait
            assert play.saving and "Saving" in str(play.query_one("#save-status").render())
            await pilot.press("2")  # waits for the save: dropped when it fails
            await wait_for(pilot, lambda: not play.saving)
            assert "Retry save" in footer_keys(app)
            status = str(play.query_one("#save-status").render())
            assert "not saved" in status and "locked by another program" in status and "r to try again" in status
            assert play.play.decisions == [] and play.play.node.id == "opening"  # not past the unsaved choice
            assert "✓ Best choice" not in shown(play) and recorded_decisions(app) == []
            await pilot.press("r")  # still locked: it says so again and stays put
            await wait_for(pilot, lambda: not play.saving)
            assert play.save_error and play.play.node.id == "opening"
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        await pilot.press("r")
        await wait_for(pilot, lambda: not play.saving and "✓ Best choice" in shown(play))
        assert play.save_error is None and "Retry save" not in footer_keys(app)
        assert not play.query_one("#save-status").display
        assert recorded_decisions(app) == [(1, "not-normally")]
        await pilot.press("1")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultScreen))
        assert recorded_decisions(app) == [(1, "not-normally"), (2, "agreed-steps")]
        [attempt] = services.attempts(app.store, "test")
        assert attempt.status == "finished" and attempt.passed


async def test_abandoning_waits_out_a_locked_database_without_freezing_the_screen(make_app) -> None:
    """Abandon ran on the main thread: while another program held the write lock the app froze for
    the whole busy timeout. Now it waits in a worker (keys still handled) and then leaves."""
    import time

    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await open_practise(pilot, "fare")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        play = app.screen
        await wait_for(pilot, lambda: play.attempt_id is not None and not play.saving)
        await pilot.press("1")
        await wait_for(pilot, lambda: not play.saving and play.play.decisions)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        app.store.busy_timeout = 1.0
        app.store.query("PRAGMA busy_timeout = 1000")
        blocker = hold_write_lock(app)
        try:
            started = time.monotonic()
            await pilot.click("#abandon")
            assert time.monotonic() - started < 0.6  # not frozen for the lock's second
            await wait_for(pilot, lambda: app.screen is play)
            assert "Abandoning" in str(play.query_one("#save-status").render())
            assert [a.status for a in services.attempts(app.store, "test")] == ["in_progress"]
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        await wait_for(pilot, lambda: isinstance(app.screen, PractiseScreen), timeout=15)
        assert [a.status for a in services.attempts(app.store, "test")] == ["abandoned"]
        assert not app._notifications or not any("Could not" in n.message for n in app._notifications)


async def test_a_save_waits_out_another_process_holding_the_lock(make_app) -> None:
    """A lock held for a moment by another process: the save is retried and goes through, no error."""
    import subprocess
    import sys

    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await open_practise(pilot, "fare")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        play = app.screen
        await wait_for(pilot, lambda: play.attempt_id is not None and not play.saving)
        app.store.busy_timeout = 0.3
        app.store.query("PRAGMA busy_timeout = 300")
        holder = subprocess.Popen(
            [sys.executable, "-c", "import sqlite3, sys, time\nc = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
             "c.execute('BEGIN IMMEDIATE')\nprint('locked', flush=True)\ntime.sleep(0.7)\n", str(app.db_path)],
            stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "locked"
            await pilot.press("1")
            await wait_for(pilot, lambda: not play.saving, timeout=15)
        finally:
            holder.wait(timeout=15)
        assert play.save_error is None and "✓ Best choice" in shown(play)
        assert recorded_decisions(app) == [(1, "not-normally")]


async def test_resuming_an_attempt_left_at_its_ending_finishes_it(make_app) -> None:
    """The old two-commit state: the last decision recorded, the finish not (killed in between). Such
    an attempt resumed to an empty choice box for ever; now resuming finishes it and shows the result."""
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        attempt = app.store.start_attempt("test", "fare", FARE.title, FARE.sha256, "practice", 1,
                                          {"discretion": 2, "sanctions": 2})
        app.store.record_decision(attempt, 1, "opening", "not-normally", "text", {"discretion": 2}, True, False, [])
        app.store.record_decision(attempt, 2, "missed", "agreed-steps", "text", {"sanctions": 2}, True, False, [])
        await open_practise(pilot, "fare")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        await pilot.click("#resume")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultScreen))
        assert app.screen.result.passed and "PASS" in shown(app.screen)
        assert services.unfinished(app.store, "test") == []
        [done] = services.attempts(app.store, "test")
        assert done.status == "finished" and done.passed and done.choice_ids == ("not-normally", "agreed-steps")


async def test_scenarios_dropped_by_a_kb_typo_are_counted(make_app, tmp_path) -> None:
    import shutil

    content = tmp_path / "content"
    shutil.copytree(TUI_FIXTURES, content, ignore=shutil.ignore_patterns("broken"))
    entry = content / "kb" / "travel-costs-refund.md"
    entry.write_text(entry.read_text(encoding="utf-8").replace("source:", "sourc:"), encoding="utf-8")
    (content / "scenarios" / "fare-two.yaml").write_text(
        (content / "scenarios" / "fare.yaml").read_text(encoding="utf-8").replace("id: fare", "id: fare-two"),
        encoding="utf-8")
    app = make_app(kb=content / "kb", scenarios=content / "scenarios")
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(app.screen, PractiseScreen))
        banner = str(app.screen.query_one("#not-loaded", Static).render())
        assert banner == ("⚠ 2 scenarios not loaded: see Problems (F6). All of them cite knowledge-base "
                          "entries that did not load.")
        assert "fare" not in app.library.scenarios and "swap" in app.library.scenarios
        typo = [d for d in app.library.diagnostics if d.code == "kb-missing-field"]
        assert typo and typo[0].hint == "did you mean `source`? it is written `sourc:`"


async def test_no_banner_when_every_scenario_loaded(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(app.screen, PractiseScreen))
        assert app.screen.query_one("#not-loaded", Static).display is False


async def test_a_broken_scenario_file_is_counted_on_practise(make_app) -> None:
    app = make_app("broken")
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(app.screen, PractiseScreen))
        banner = app.screen.query_one("#not-loaded", Static)
        assert banner.display and str(banner.render()) == "⚠ 1 scenario not loaded: see Problems (F6)."


async def test_resuming_rebuilds_the_transcript_and_feedback(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        await open_practise(pilot, "fare")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        await pilot.press("2")  # not the best: feedback names the best choice
        await pilot.pause()
        first = [str(w.render()) for w in app.screen.query("#transcript > Static")]
        first_cites = app.screen.last_cites
        assert any("Not the best choice" in line for line in first)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        await pilot.click("#keep")
        await wait_for(pilot, lambda: isinstance(app.screen, PractiseScreen))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        await pilot.click("#resume")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        await pilot.pause()
        again = [str(w.render()) for w in app.screen.query("#transcript > Static")]
        assert again == first  # the same lines and the same feedback, in the same order
        assert app.screen.last_cites == first_cites  # c still opens the cited policy answer


async def test_cursor_stays_on_the_scenario_just_played(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        screen = await open_practise(pilot, "swap")
        assert screen.query_one(DataTable).cursor_row == 1  # not the first row
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        await pilot.press("escape")  # nothing decided: straight back to the list
        await wait_for(pilot, lambda: isinstance(app.screen, PractiseScreen))
        await pilot.pause()
        assert app.screen.selected_id() == "swap"
        # After a result and "n" (next scenario), Esc comes back to the one played last.
        app.screen.select_scenario("fare")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        await pilot.press("1", "1")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen) and app.screen.scenario.id == "swap")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, PractiseScreen))
        await pilot.pause()
        assert app.screen.selected_id() == "swap"
