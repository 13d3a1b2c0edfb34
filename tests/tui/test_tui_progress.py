"""Progress: attempts and per-dimension results over time, drawn as bars and sparklines."""

from __future__ import annotations

from textual.widgets import DataTable, Sparkline, Static

from iwp_trainer.tui.screens.practise import PlayScreen, PractiseScreen, ResultScreen
from iwp_trainer.tui.screens.progress import ProgressScreen
from iwp_trainer.tui.widgets import ScoreBar

from conftest import ready, wait_for


async def play(pilot, scenario_id: str, keys: list[str]) -> None:
    app = pilot.app
    await pilot.press("f4")
    await wait_for(pilot, lambda: isinstance(app.screen, PractiseScreen))
    app.screen.select_scenario(scenario_id)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
    await pilot.press(*keys)
    await wait_for(pilot, lambda: isinstance(app.screen, ResultScreen))
    await pilot.press("escape")
    await wait_for(pilot, lambda: isinstance(app.screen, PractiseScreen))


async def test_empty_progress_says_what_to_do(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, ProgressScreen))
        assert "No finished attempts yet" in str(app.screen.query_one("#progress-summary", Static).render())
        assert not app.screen.query(Sparkline)


async def test_attempts_and_dimensions_are_drawn(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await play(pilot, "fare", ["1", "1"])   # pass: full marks
        await play(pilot, "fare", ["2", "2"])   # fail
        await play(pilot, "swap", ["1"])        # pass
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, ProgressScreen))
        await pilot.pause()
        screen = app.screen
        summary = str(screen.query_one("#progress-summary", Static).render())
        assert "3 finished attempts: 2 passed, 1 failed" in summary
        table = screen.query_one("#attempts", DataTable)
        assert table.row_count == 3
        results = [table.get_row_at(i)[3] for i in range(3)]
        assert results == ["PASS", "FAIL", "PASS"]  # newest first
        bars = {bar.label: bar for bar in screen.query(ScoreBar)}
        assert set(bars) == {"Discretion", "Sanctions", "Reallocation"}
        assert bars["Discretion"].fraction == 0.0   # latest fare attempt lost its discretion points
        assert bars["Reallocation"].fraction == 1.0
        lines = {tuple(s.data) for s in screen.query(Sparkline)}
        assert (100.0, 0.0) in lines  # discretion and sanctions: full marks, then none
        # Switching screens and back keeps the figures (they are read from the store).
        await pilot.press("f2", "f5")
        await wait_for(pilot, lambda: isinstance(app.screen, ProgressScreen))
        assert app.screen.query_one("#attempts", DataTable).row_count == 3
