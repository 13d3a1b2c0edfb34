"""Ask: the cited answer, the honest refusal, related entries, history and "didn't help"."""

from __future__ import annotations

import pytest

from textual.widgets import OptionList, Static

from iwp_trainer.kb import load_kb
from iwp_trainer.tui.screens.ask import AskInput, AskScreen, Exchange

from tui_helpers import TUI_FIXTURES, ready, recorded_questions, wait_for

KB = load_kb(TUI_FIXTURES / "kb")


def text_of(widget) -> str:
    """Everything a widget shows, as plain text (Markdown blocks included)."""
    parts = []
    for node in [widget, *widget.query("*")]:
        if isinstance(node, Static):
            parts.append(str(node.render()))
        source = getattr(node, "source", None)
        if isinstance(source, str):
            parts.append(source)
    return "\n".join(parts)


async def ask(pilot, question: str) -> Exchange:
    await pilot.click("#question")
    pilot.app.screen.query_one(AskInput).value = question
    await pilot.press("enter")
    await wait_for(pilot, lambda: pilot.app.screen.query(Exchange) and pilot.app.screen.query(Exchange).last().answered is not None)
    return pilot.app.screen.query(Exchange).last()


async def test_question_box_has_focus_at_start(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        assert isinstance(app.screen, AskScreen)
        assert isinstance(app.focused, AskInput)


async def test_answer_shows_entry_with_citation_and_records_question(make_app) -> None:
    entry = KB.entries["reallocation-not-allowed"]
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        exchange = await ask(pilot, "can I move a claimant between the trial and control groups")
        shown = text_of(exchange)
        assert exchange.answered is True
        assert entry.question in shown
        assert f"Source: {entry.citation}" in shown
        assert "Random Allocation Tool" in shown  # the body itself, rendered as Markdown
        assert recorded_questions(app)[-1][:3] == ("test", "can I move a claimant between the trial and control groups",
                                                   True)


@pytest.mark.parametrize("key", ["enter", "alt+1"])
async def test_did_you_mean_opens_with_enter_or_alt_1(make_app, key: str) -> None:
    entry = KB.entries["reallocation-not-allowed"]
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        exchange = await ask(pilot, "can a claimant change group")
        shown = text_of(exchange)
        assert exchange.answered is False and exchange.suggested.id == entry.id
        assert f"Did you mean: {entry.question}" in shown and "Enter or Alt+1" in shown
        assert recorded_questions(app)[-1][2] is False
        await pilot.press(key)
        await pilot.pause()
        opened = app.screen.query(Exchange).last()
        assert opened is not exchange and opened.opened and opened.answered is True
        assert "Random Allocation Tool" in text_of(opened)


async def test_digits_are_always_text_and_alt_digits_open_numbered_questions(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        box = app.screen.query_one(AskInput)
        await pilot.press(*"16 hours")
        assert box.value == "16 hours"  # no answer on screen yet: digits start the question
        box.value = ""
        await ask(pilot, "How long will a sanction run under the trial?")
        exchange = app.screen.query(Exchange).last()
        assert box.value == "" and "Alt+1-9" in box.placeholder and exchange.related
        # Right after an answer listing numbered questions, a question may start with a digit.
        await pilot.press(*"16 hours a week")
        assert box.value == "16 hours a week" and app.screen.query(Exchange).last() is exchange
        box.value = ""
        await pilot.press("alt+2")  # Alt+2 opens the second related question, and types nothing
        await pilot.pause()
        assert app.screen.query(Exchange).last().opened and box.value == ""
        await pilot.press(*"x1")
        assert box.value == "x1"
        await pilot.press("alt+1")  # from a box with text too
        await pilot.pause()
        assert box.value == "x1" and app.screen.query(Exchange).last().opened
        # The footer says which keys open them.
        footer_keys = [b.key_display for b in app.screen._bindings.key_to_bindings.get("alt+1", [])]
        assert "Alt+1-9" in footer_keys


async def test_a_definition_is_marked_and_links_its_entry(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        exchange = await ask(pilot, "what does FSF stand for")
        shown = text_of(exchange)
        assert exchange.answered is True
        assert "FSF (definition from the glossary)" in shown and "Flexible Support Fund" in shown
        assert exchange.related and exchange.related[0].id == "travel-costs-refund"


async def test_out_of_scope_question_is_refused_with_advice(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        exchange = await ask(pilot, "what's the weather like in Leeds tomorrow")
        shown = text_of(exchange)
        assert exchange.answered is False
        assert "can't answer that with confidence" in shown
        assert "line manager" in shown and "district support" in shown
        assert recorded_questions(app)[-1][2] is False


async def test_related_entry_opens_with_number_key(make_app) -> None:
    entry = KB.entries["sanction-duration"]
    related = KB.related(entry)[0]
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        exchange = await ask(pilot, "How long will a sanction run under the trial?")
        assert exchange.related[0].id == related.id
        await pilot.press("alt+1")  # Alt+1 opens related question 1
        await pilot.pause()
        opened = app.screen.query(Exchange).last()
        assert opened is not exchange and opened.opened
        shown = text_of(opened)
        assert related.question in shown
        assert f"Source: {related.citation}" in shown
        assert app.screen.query_one(AskInput).value == ""


async def test_conversation_keeps_earlier_answers_and_up_recalls_questions(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await ask(pilot, "How long will a sanction run under the trial?")
        await ask(pilot, "can trial claimants get bus fares refunded")
        assert len(app.screen.query(Exchange)) == 2
        box = app.screen.query_one(AskInput)
        await pilot.press("up")
        assert box.value == "can trial claimants get bus fares refunded"
        await pilot.press("up")
        assert box.value == "How long will a sanction run under the trial?"
        await pilot.press("down")
        assert box.value == "can trial claimants get bus fares refunded"
        await pilot.press("down")
        assert box.value == ""


async def test_didnt_help_is_recorded(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        exchange = await ask(pilot, "How long will a sanction run under the trial?")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert exchange.helpful is False
        assert "Marked as not helpful" in text_of(exchange)
        assert recorded_questions(app)[-1] == ("test", "How long will a sanction run under the trial?", True, False)


async def test_didnt_help_after_a_suggestion_marks_that_entry_for_the_typed_words(make_app) -> None:
    entry = KB.entries["travel-costs-refund"]
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await pilot.press(*"can i refund")
        options = app.screen.query_one("#suggestions", OptionList)
        await wait_for(pilot, lambda: options.display and options.option_count > 0)
        await pilot.press("down")
        options.highlighted = next(i for i in range(options.option_count)
                                   if options.get_option_at_index(i).id == entry.id)
        await pilot.press("enter")
        await pilot.pause()
        opened = app.screen.query(Exchange).last()
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert opened.helpful is False
        shown = text_of(opened)
        assert f"Marked “{entry.question}” as not helpful for “can i refund”" in shown
        assert recorded_questions(app)[-1] == ("test", "can i refund", True, False)
        # A related entry opened from it still counts against the same typed words.
        if opened.related:
            await pilot.press("alt+1")
            await pilot.pause()
            await pilot.press("ctrl+n")
            await pilot.pause()
            assert recorded_questions(app)[-1] == ("test", "can i refund", True, False)
            assert app.screen.query(Exchange).last().helpful is False


async def test_suggestions_while_typing_open_an_entry(make_app) -> None:
    entry = KB.entries["travel-costs-refund"]
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await pilot.press(*"can i refund")
        options = app.screen.query_one("#suggestions", OptionList)
        await wait_for(pilot, lambda: options.display and options.option_count > 0)
        assert entry.id in [options.get_option_at_index(i).id for i in range(options.option_count)]
        await pilot.press("down")
        assert app.focused is options
        index = next(i for i in range(options.option_count) if options.get_option_at_index(i).id == entry.id)
        options.highlighted = index
        await pilot.press("enter")
        await pilot.pause()
        opened = app.screen.query(Exchange).last()
        assert entry.question in text_of(opened)
        assert isinstance(app.focused, AskInput)


async def test_without_the_semantic_model_the_app_says_so_once_and_still_answers(
        make_app, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("IWP_TRAINER_SEMANTIC_MODEL", str(tmp_path / "gone.onnx"))
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        exchange = await ask(pilot, "How long will a sanction run under the trial?")
        assert exchange.answered is True
        await ask(pilot, "can a claimant change group")
        await pilot.pause(0.3)
        notes = [n.message for n in app._notifications if "matching words only" in n.message]
        assert len(notes) == 1 and "semantic model is not available" in notes[0]
