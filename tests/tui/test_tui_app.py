"""The app as a whole: straight to Ask at first start, the learner's name asked at the first scenario and remembered; indexing in the background;
nothing recorded is lost when quitting mid-scenario."""

from __future__ import annotations

import threading
from pathlib import Path

from textual.widgets import DataTable, Input, Label, ProgressBar, Static

from iwp_trainer import settings
from iwp_trainer.tui import services
from iwp_trainer.tui.dialogs import ChoiceScreen, LearnerNameScreen
from iwp_trainer.tui.screens.ask import AskInput, AskScreen, Exchange
from iwp_trainer.tui.screens.practise import PlayScreen, PractiseScreen
from iwp_trainer.tui.widgets import NavBar

from tui_helpers import ready, recorded_questions, wait_for


async def test_first_start_opens_on_ask_with_no_dialog_and_answers(make_app) -> None:
    assert settings.get_learner() is None  # isolated settings file (tests/conftest.py)
    app = make_app(learner=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        assert isinstance(app.screen, AskScreen) and isinstance(app.focused, AskInput)
        assert not any(isinstance(s, LearnerNameScreen) for s in app.screen_stack)
        await pilot.press(*"How long will a sanction run under the trial?", "enter")
        await wait_for(pilot, lambda: app.screen.query(Exchange) and app.screen.query(Exchange).last().answered)
        assert isinstance(app.screen, AskScreen)
        assert recorded_questions(app)[-1][:2] == ("guest", "How long will a sanction run under the trial?")
    assert settings.get_learner() is None  # nothing was asked, so nothing is remembered


async def start_first_scenario(pilot) -> None:
    await pilot.press("f4")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, PractiseScreen))
    await pilot.press("enter")


async def test_name_is_asked_at_the_first_scenario_prefilled_with_the_login_name(make_app, monkeypatch) -> None:
    monkeypatch.setenv("LOGNAME", "sjones")
    app = make_app(learner=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await start_first_scenario(pilot)
        await wait_for(pilot, lambda: isinstance(app.screen, LearnerNameScreen))
        box = app.screen.query_one("#learner-name", Input)
        assert box.value == "sjones"
        box.value = ""
        await pilot.press("enter")  # an empty name is refused with a reason
        assert "Please type a name" in str(app.screen.query_one("#learner-error", Static).render())
        await pilot.press(*"Sam Jones", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        assert app.learner == "Sam Jones"
        assert "Sam Jones" in str(app.screen.query_one(NavBar).render())  # shortened to fit 80 columns
    assert settings.get_learner() == "Sam Jones"
    again = make_app(learner=None)
    async with again.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        assert again.learner == "Sam Jones"
        await start_first_scenario(pilot)
        await wait_for(pilot, lambda: isinstance(again.screen, PlayScreen))  # not asked again


async def test_esc_in_the_name_dialog_starts_nothing(make_app) -> None:
    app = make_app(learner=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await start_first_scenario(pilot)
        await wait_for(pilot, lambda: isinstance(app.screen, LearnerNameScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, PractiseScreen))
        assert app.learner == "" and settings.get_learner() is None


async def test_guest_is_not_asked_again_and_finds_its_unfinished_attempt(make_app) -> None:
    app = make_app(learner=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await start_first_scenario(pilot)
        await wait_for(pilot, lambda: isinstance(app.screen, LearnerNameScreen))
        await pilot.click("#guest")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        await pilot.press("1")  # one decision, then leave it for later
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        await pilot.click("#keep")
        await wait_for(pilot, lambda: isinstance(app.screen, PractiseScreen))
    assert settings.get_learner() == "guest"
    again = make_app(learner=None)
    async with again.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(again.screen, PractiseScreen))
        await pilot.pause()
        table = again.screen.query_one("#scenario-table", DataTable)
        assert "unfinished" in [str(c) for c in table.get_row("fare")]
        again.screen.select_scenario("fare")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(again.screen, ChoiceScreen))  # resume, with no name dialog
        assert "unfinished" in str(again.screen.query_one(".dialog-message", Static).render())


async def test_a_guest_attempt_shows_before_any_name_is_chosen(make_app) -> None:
    app = make_app(learner=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        scenario = app.library.scenarios["fare"]
        attempt = app.store.start_attempt("guest", "fare", scenario.title, scenario.sha256, "practice", 1, {})
        app.store.record_decision(attempt, 1, "opening", "not-normally", "text", {"discretion": 2}, True, False, [])
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(app.screen, PractiseScreen))
        await pilot.pause()
        table = app.screen.query_one("#scenario-table", DataTable)
        assert "unfinished" in [str(c) for c in table.get_row("fare")]


async def test_learner_can_be_changed_from_the_palette(make_app) -> None:
    app = make_app(learner="first")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        app.action_change_learner()
        await wait_for(pilot, lambda: isinstance(app.screen, LearnerNameScreen))
        name = app.screen.query_one(Input)
        assert name.value == "first"
        name.value = "second"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, AskScreen))
        assert app.learner == "second"


async def test_change_learner_says_esc_keeps_the_current_learner_and_it_does(make_app) -> None:
    app = make_app(learner="first")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        app.action_change_learner()
        await wait_for(pilot, lambda: isinstance(app.screen, LearnerNameScreen))
        words = " ".join(str(w.render()) for w in app.screen.query(Static))
        assert "Esc keeps first" in words and "guest" not in words
        app.screen.query_one(Input).value = ""
        await pilot.press("enter")
        assert "Esc keeps first" in str(app.screen.query_one("#learner-error", Static).render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, AskScreen))
        assert app.learner == "first"


async def test_question_asked_while_indexing_is_answered_when_ready(make_app, monkeypatch) -> None:
    gate = threading.Event()
    real_open = services.open_answerer

    def slow_open(kb_dir: Path, index_dir: Path, progress=None):
        if progress is not None:
            progress(1, 5)
        gate.wait(10)
        return real_open(kb_dir, index_dir, progress=progress)

    monkeypatch.setattr(services, "open_answerer", slow_open)
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: app.index_progress == (1, 5))
        screen = app.screen
        status = screen.query_one("#index-status")
        assert status.display
        assert "1 of 5" in str(screen.query_one("#index-label", Label).render())
        assert screen.query_one(ProgressBar).progress == 1
        screen.query_one(AskInput).value = "How long will a sanction run under the trial?"
        await pilot.press("enter")
        await pilot.pause()
        exchange = screen.query(Exchange).last()
        assert exchange.answered is None  # waiting, not refused
        gate.set()
        await wait_for(pilot, lambda: exchange.answered is not None)
        assert exchange.answered is True
        assert not status.display


async def test_quitting_mid_scenario_keeps_every_decision(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(app.screen, PractiseScreen))
        app.screen.select_scenario("fare")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        await pilot.press("1")
        await pilot.pause()
        await pilot.press("ctrl+q")
    store, notice = services.open_store(app.db_path)
    assert notice is None
    try:
        [attempt] = services.unfinished(store, "test")
        assert attempt.choice_ids == ("not-normally",)
    finally:
        store.close()


async def test_an_unusable_database_still_opens_the_app_and_says_so(make_app, tmp_path) -> None:
    app = make_app()
    app.db_path = tmp_path / "folder.sqlite3"
    app.db_path.mkdir()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        assert app.store.persistent is False
        assert any("Recording is off" in n.message for n in app._notifications)


async def test_a_missing_kb_folder_leaves_one_problem_and_practise_working(make_app, tmp_path) -> None:
    app = make_app(kb=tmp_path / "no-such-kb")
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        assert app.answerer is None and "no-such-kb" in app.answerer_error
        label = str(app.screen.query_one("#index-label", Label).render())
        assert label.startswith("Ask is unavailable") and "Problems (F6)" in label
        assert len(app.library.diagnostics) == 1  # the folder, not every scenario's citations
        assert sorted(app.library.scenarios) == ["fare", "swap"]
        app.screen.query_one(AskInput).value = "how long does a sanction last"
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.query(Exchange).last().answered is None
        assert "Search is unavailable" in str(app.screen.query(Exchange).last().query_one(".error").render())


async def test_learner_prompt_wraps_instead_of_being_cut_off(make_app) -> None:
    app = make_app(learner=None)
    async with app.run_test(size=(100, 24)) as pilot:
        await ready(pilot)
        await start_first_scenario(pilot)
        await wait_for(pilot, lambda: isinstance(app.screen, LearnerNameScreen))
        await pilot.pause()
        prompt = app.screen.query_one("#learner-prompt", Static)
        assert prompt.size.height >= 2  # the whole question, "Is this name right?" included


async def test_a_browser_tab_asks_its_own_learner_and_keeps_nothing_in_the_servers_settings(make_app, monkeypatch) -> None:
    """`iwp-trainer serve` runs one app per tab as the server's account: the remembered name, theme
    and login name are that account's, so a tab neither uses nor changes them."""
    monkeypatch.setenv("LOGNAME", "server-account")
    settings.set_learner("Sam Jones")
    settings.save_setting("theme", "iwp-light")
    before = settings.load_settings()
    app = make_app(learner=None, browser_tab=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        assert app.learner == ""
        assert app.theme != "iwp-light"
        await start_first_scenario(pilot)
        await wait_for(pilot, lambda: isinstance(app.screen, LearnerNameScreen))
        assert app.screen.query_one("#learner-name", Input).value == ""  # not the server's login name
        await pilot.press(*"Ann Lee", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        assert app.learner == "Ann Lee"
        await pilot.press("ctrl+t")
    assert settings.load_settings() == before
