"""Hostile content: markup-like text, control sequences and bidi overrides in the KB, a scenario
and the learner's name are shown as written on every screen and in the palette; nothing crashes,
runs an action or reaches the terminal raw."""

from __future__ import annotations

import re
from pathlib import Path

from textual.command import CommandInput, CommandList, CommandPalette
from textual.widgets import DataTable, Input, Tree

from iwp_trainer.tui.dialogs import AttemptScreen, ChoiceScreen, EntryScreen, HelpScreen, LearnerNameScreen
from iwp_trainer.tui.screens.ask import AskInput, AskScreen, Exchange
from iwp_trainer.tui.screens.browse import BrowseScreen
from iwp_trainer.tui.screens.practise import PlayScreen, PractiseScreen, ResultScreen
from iwp_trainer.tui.screens.problems import ProblemsScreen
from iwp_trainer.tui.screens.progress import ProgressScreen

from tui_helpers import ready, wait_for

HOSTILE = Path(__file__).resolve().parent.parent / "fixtures" / "hostile"
LEARNER = "[/]Mx [b]Hostile \x1b]52;c;aGk=\x07"
SHOWN_LEARNER = "[/]Mx [b]Hostile ␛]52;c;aGk=␇"
# Anything a terminal would act on, or a bidi control: none of it may be drawn.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def screen_text(app) -> str:
    """What the terminal would show right now, line by line (the current screen, modals included)."""
    return "\n".join(re.sub(" {3,}", "  ", strip.text).rstrip() for strip in app.screen._compositor.render_strips())


def assert_shown(app, *texts: str) -> str:
    shown = screen_text(app)
    for text in texts:
        assert text in shown, f"{text!r} is not on screen:\n{shown}"
    assert not UNSAFE.search(shown), repr(UNSAFE.search(shown))
    return shown


async def palette_hits(pilot, query: str) -> list[str]:
    await pilot.press("ctrl+p")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, CommandPalette))
    pilot.app.screen.query_one(CommandInput).value = query

    def hits() -> list[str]:
        lists = pilot.app.screen.query(CommandList)
        if not lists:
            return []
        return [str(lists.first().get_option_at_index(i).prompt) for i in range(lists.first().option_count)]

    await wait_for(pilot, lambda: bool(hits()))
    await pilot.pause()
    return hits()


async def test_hostile_text_is_shown_as_written_everywhere(make_app) -> None:
    app = make_app(kb=HOSTILE / "kb", scenarios=HOSTILE / "scenarios", learner=LEARNER)
    async with app.run_test(size=(200, 60), notifications=True) as pilot:
        await ready(pilot)
        assert app.answerer is not None, app.answerer_error
        assert "markup-question" in app.library.entries and "hostile" in app.library.scenarios

        # Ask: the question typed, the answer, its citation, the related list and the suggestions.
        assert isinstance(app.screen, AskScreen)
        box = app.screen.query_one(AskInput)
        box.focus()
        box.value = "Can I refund fares [sic] under"
        await wait_for(pilot, lambda: app.screen.query_one("#suggestions").display)
        assert_shown(app, "Can I refund fares [sic] under [Annex A] or [/] [bold]now?")
        box.value = "Can I refund fares [sic] under [Annex A] or [/] [bold]now?"  # answered outright
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.query(Exchange).last().answered is not None)
        await pilot.pause(0.3)
        assert app.screen.query(Exchange).last().answered is True
        assert_shown(app, "You: Can I refund fares [sic] under [Annex A] or [/] [bold]now?",
                     "Source: IWP trial FAQ [link=https://example.invalid]FAQ[/link], section [5]: Conducting [b]Interviews [/]",
                     "Refunds [sic] are covered by [Annex A] of the guidance [/] and [@click=app.quit]not[/]",
                     "Is ␛]0;owned␇ a safe title ␛[31mred␛[0m?",  # the related question
                     SHOWN_LEARNER)
        await pilot.press("alt+1")  # open the related entry: its body holds raw escape sequences
        await pilot.pause(0.3)
        assert_shown(app, "Clear screen ␛[2J␛[H here; title ␛]0;pwned␇; clipboard ␛]52;c;ZWNobyBoaQ==␇;",
                     "bidi \ufffdreversed\ufffd text")

        # A glossary definition, shown as written.
        asked = len(app.screen.query(Exchange))
        box.focus()
        box.value = "what does FSF stand for"
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app.screen.query(Exchange)) > asked
                       and app.screen.query(Exchange).last().answered is not None)
        await pilot.pause(0.3)
        assert_shown(app, "Flexible Support Fund [sic] [/] [@click=app.quit]quit[/] ␛]0;gloss␇")

        # The palette: entries by question and alias (a [link=...] citation once crashed it), scenarios.
        hits = await palette_hits(pilot, "linked citation")
        assert any("Entry: [link=https://example.invalid]a linked citation[/link]" in h for h in hits), hits
        assert any("IWP trial FAQ [link=https://example.invalid]FAQ[/link]" in h for h in hits), hits
        assert_shown(app, "[link=https://example.invalid]a linked citation[/link]")
        await pilot.press("escape")
        hits = await palette_hits(pilot, "refunds sic")
        assert any("Scenario: [/] Refunds [sic] [Annex A] %% flowchart LR ␛]0;t␇" in h for h in hits), hits
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, CommandPalette))

        # Browse: the tree by document and section, the entry, the glossary.
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, BrowseScreen))
        await pilot.pause()
        app.screen.show_entry("markup-question")
        await wait_for(pilot, lambda: app.screen.pane.view.key == ("entry", "markup-question"))
        tree = app.screen.query_one(Tree)
        labels = [line.node.label.plain for line in tree._tree_lines]
        assert "IWP trial FAQ [link=https://example.invalid]FAQ[/link]" in labels
        assert "section [5]: Conducting [b]Interviews [/] (1)" in labels
        assert "Can I refund fares [sic] under [Annex A] or [/] [bold]now?" in labels
        assert_shown(app, "IWP trial FAQ [link=https://example.invalid]FAQ[/link]",
                     "Can I refund fares [sic] under [Annex A] or [/] [bold]now?",
                     "[link=https://example.invalid]this", "Also [bold]bold[/bold] and [$accent]colour[/].",
                     "• [/] Refunds [sic] [Annex A] %% flowchart LR ␛]0;t␇ (new;")
        app.screen.show_entry("control-sequences")
        await wait_for(pilot, lambda: app.screen.pane.view.key == ("entry", "control-sequences"))
        assert_shown(app, "Is ␛]0;owned␇ a safe title ␛[31mred␛[0m?", "section 6: \ufffdisolated\ufffd")
        glossary = next(line.node for line in tree._tree_lines if line.node.data == ("glossary", "Glossary"))
        glossary.expand()
        await pilot.pause()
        term = next(n for n in glossary.children if n.data == ("term", "FSF"))
        tree.move_cursor(term)
        await wait_for(pilot, lambda: app.screen.pane.view.key == ("term", "FSF"))
        assert_shown(app, "Flexible Support Fund [sic] [/] [@click=app.quit]quit[/] ␛]0;gloss␇")

        # Practise: the table, the summary, playing, feedback, the result and the debrief.
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(app.screen, PractiseScreen))
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        assert table.row_count == 1
        assert_shown(app, "[/] Refunds [sic] [Annex A] %% flowchart LR ␛]0;t␇",
                     "[@click=app.quit]Click[/] me, [link=https://example.invalid]a link[/link], [bold]bold \ufffdesrever\ufffd")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        await pilot.pause(0.3)
        assert_shown(app, "[b]Mx[/] Hostile ␛[2J: Can I get [sic] my fare [/] back? [@click=app.quit]x[/] ␛]52;c;aGk=␇",
                     "Explain [Annex A] says not normally [/] [link=x]y[/link]", "=cmd|' /C calc'!A0")
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultScreen))
        await pilot.pause(0.3)
        assert_shown(app, "[/] Refunds [sic] [Annex A] %% flowchart LR ␛]0;t␇",
                     "=cmd|' /C calc'!A0", "+SUM(1,1) [/]", "Done [Annex A] [/]")
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, EntryScreen))
        await pilot.pause(0.3)
        assert_shown(app, "=cmd|' /C calc'!A0 can a claimant ask this?")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, PractiseScreen))

        # Progress: the table and one attempt.
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, ProgressScreen))
        await pilot.pause(0.3)
        assert_shown(app, f"Progress for {SHOWN_LEARNER}", "[/] Refunds [sic] [Annex A] %% flowchart LR ␛]0;t␇")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, AttemptScreen))
        await pilot.pause(0.3)
        assert_shown(app, "[/] Refunds [sic] [Annex A] %% flowchart LR ␛]0;t␇", "=cmd|' /C calc'!A0")
        await pilot.press("escape")

        # Problems and help.
        await pilot.press("f6")
        await wait_for(pilot, lambda: isinstance(app.screen, ProblemsScreen))
        await pilot.pause(0.3)
        assert_shown(app)
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert_shown(app, "Ctrl+R")
        await pilot.press("escape")

        # A hostile name typed for the learner, then the notification that names it.
        app.action_change_learner()
        await wait_for(pilot, lambda: isinstance(app.screen, LearnerNameScreen))
        app.screen.query_one(Input).value = "[/][@click=app.quit]Q\x1b]0;t\x07"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, LearnerNameScreen))
        await wait_for(pilot, lambda: "Progress is now recorded" in screen_text(app))
        assert_shown(app, "Progress is now recorded for [/][@click=app.quit]Q␛]0;t␇.")
        assert app.is_running and app.return_code is None


async def test_resume_dialog_names_a_hostile_title_as_written(make_app) -> None:
    app = make_app(kb=HOSTILE / "kb", scenarios=HOSTILE / "scenarios", learner="t")
    async with app.run_test(size=(200, 50)) as pilot:
        await ready(pilot)
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(app.screen, PractiseScreen))
        await pilot.pause()
        store = app.store
        scenario = app.library.scenarios["hostile"]
        attempt = store.start_attempt("t", scenario.id, scenario.title, scenario.sha256, "practice", 1,
                                      {"discretion": 2})
        store.record_decision(attempt, 1, "opening", "explain", "x", {"discretion": 2}, True, False, [])
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        await pilot.pause()
        assert_shown(app, "attempt at “[/] Refunds", "[sic] [Annex A] %% flowchart LR ␛]0;t␇”")
        assert app.is_running
