"""Problems: a broken KB or scenario never stops the app; each problem is listed as file:line and
Ctrl+R re-reads the files after a trainer fixes them."""

from __future__ import annotations

from textual.widgets import DataTable, OptionList

from iwp_trainer.diagnostics import format_diagnostic
from iwp_trainer.tui import services
from iwp_trainer.tui.screens.ask import AskScreen
from iwp_trainer.tui.screens.practise import PractiseScreen
from iwp_trainer.tui.screens.problems import ProblemsScreen, shown_path
from iwp_trainer.tui.widgets import NavBar

from tui_helpers import TUI_FIXTURES, ready, wait_for

BROKEN = TUI_FIXTURES / "broken"


def problem_lines(screen: ProblemsScreen) -> list[str]:
    options = screen.query_one("#problem-list", OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_app_starts_with_the_valid_content_and_counts_problems(make_app) -> None:
    expected = services.load_library(BROKEN / "kb", BROKEN / "scenarios").diagnostics
    assert len(expected) == 2
    app = make_app("broken")
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        assert isinstance(app.screen, AskScreen)
        nav = app.screen.query_one(NavBar)
        assert nav.problems == 2
        assert "Problems (2)" in str(nav.render())
        assert list(app.library.entries) == ["reallocation-not-allowed"]
        assert any("2 problems" in n.message and "F6" in n.message for n in app._notifications)
        assert any("1 entry and 1 scenario loaded" in n.message for n in app._notifications)  # what did load
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(app.screen, PractiseScreen))
        assert [str(k.value) for k in app.screen.query_one(DataTable).rows] == ["swap"]


async def test_problems_are_listed_as_file_line_message(make_app) -> None:
    app = make_app("broken")
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await pilot.press("f6")
        await wait_for(pilot, lambda: isinstance(app.screen, ProblemsScreen))
        lines = problem_lines(app.screen)
        wanted = sorted(app.library.diagnostics, key=lambda d: (d.file, d.line or 0))
        assert [line[2:] for line in lines] == [format_diagnostic(shown_path(d)) for d in wanted]
        assert any("broken-entry.md:4: error" in line for line in lines)
        assert any("broken.yaml:15:13: error SC201" in line for line in lines)
        assert all(line[:2] in ("✗ ", "! ") for line in lines)  # severity in a symbol, not only colour


async def test_reload_rereads_files_after_a_fix(make_app, editable_copy) -> None:
    app = make_app(kb=editable_copy / "kb", scenarios=editable_copy / "scenarios")
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await pilot.press("f6")
        await wait_for(pilot, lambda: isinstance(app.screen, ProblemsScreen))
        assert len(problem_lines(app.screen)) == 2
        (editable_copy / "kb" / "broken-entry.md").unlink()
        broken = editable_copy / "scenarios" / "broken.yaml"
        fixed = broken.read_text(encoding="utf-8").replace("to: nowhere", "to: done")
        broken.write_text(fixed + '  done:\n    say: "Done."\n    ending: "Done"\n', encoding="utf-8")
        revision = app.library_revision
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.library_revision > revision)
        await pilot.pause()
        assert app.library.diagnostics == []
        assert problem_lines(app.screen) == []
        assert app.screen.query_one(NavBar).problems == 0
        assert sorted(app.library.scenarios) == ["broken", "swap"]
