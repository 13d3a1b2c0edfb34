"""The command palette (Ctrl+P): the app's own commands first, Textual's built-ins in the app's words."""

from __future__ import annotations

from textual.command import CommandInput, CommandList, CommandPalette

from iwp_trainer.tui.dialogs import HelpScreen

from tui_helpers import ready, wait_for


def palette_lines(app) -> list[str]:
    hits = app.screen.query(CommandList)
    if not hits:
        return []
    listing = hits.first()
    return [str(listing.get_option_at_index(i).prompt).split("\n")[0] for i in range(listing.option_count)]


async def test_palette_lists_the_apps_commands_first_and_no_textual_jargon(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await wait_for(pilot, lambda: len(palette_lines(app)) >= 8)
        await pilot.pause(0.4)  # every provider has answered
        lines = palette_lines(app)
        assert lines[:6] == ["Go to Ask", "Go to Browse", "Go to Practise", "Go to Progress", "Go to Problems",
                             "Change learner"]
        assert lines[-3:] == ["Help: keys for this screen", "Theme: choose colours", "Quit"]
        shown = "\n".join(str(app.screen.query_one(CommandList).get_option_at_index(i).prompt)
                          for i in range(len(lines)))
        for jargon in ("Quit the application as soon as possible", "Maximize", "Screenshot", "Keys"):
            assert jargon not in shown


async def test_palette_help_command_opens_the_keys_of_the_screen(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        app.screen.query_one(CommandInput).value = "keys"
        await wait_for(pilot, lambda: palette_lines(app)[:1] == ["Help: keys for this screen"])
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
