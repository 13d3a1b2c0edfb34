"""Progress: attempts and per-dimension results over time, drawn as bars and sparklines."""

from __future__ import annotations

from textual.widgets import DataTable, Static

from iwp_trainer.scenario_loader import load_scenarios
from iwp_trainer.tui.dialogs import AttemptScreen, EntryScreen
from iwp_trainer.tui.screens.practise import PlayScreen, PractiseScreen, ResultScreen
from iwp_trainer.tui.screens.progress import ProgressScreen
from iwp_trainer.tui.widgets import ScoreBar, TrendLine, trend_text

from tui_helpers import TUI_FIXTURES, ready, wait_for

FARE = load_scenarios(TUI_FIXTURES / "scenarios", None).scenarios["fare"]


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
        assert not app.screen.query(TrendLine)


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
        lines = list(screen.query(TrendLine))
        assert sorted(tuple(t.values) for t in lines) == [(1.0,), (1.0, 0.0), (1.0, 0.0)]
        assert sorted(str(t.render()) for t in lines) == ["█", "█·", "█·"]  # full marks, then none
        # Switching screens and back keeps the figures (they are read from the store).
        await pilot.press("f2", "f5")
        await wait_for(pilot, lambda: isinstance(app.screen, ProgressScreen))
        assert app.screen.query_one("#attempts", DataTable).row_count == 3
        # At 80 columns the whole table fits, so the score is never off the right-hand edge.
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        await pilot.pause()
        table = app.screen.query_one("#attempts", DataTable)
        assert table.virtual_size.width <= table.scrollable_content_region.width
        assert table.get_row_at(0)[4].strip() == "100%"


async def test_enter_reviews_an_attempt_decision_by_decision(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await play(pilot, "fare", ["1", "2"])
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, ProgressScreen))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, AttemptScreen))
        text = "\n".join(str(s.render()) for s in app.screen.query(Static))
        assert "FAIL" in text and "Can I get my bus fare back?" in text
        assert FARE.choice("not-normally").text in text
        assert "✓ best · Discretion +2" in text
        assert FARE.choice("automatic").text in text
        assert "✗ not the best · Sanctions -1" in text
        assert "Policy: How long will a sanction run under the trial?" in text
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, EntryScreen))
        assert [e.id for e in app.screen.entries] == ["travel-costs-refund", "when-sanction-applies",
                                                      "sanction-duration"]


def test_trend_is_on_a_fixed_scale_one_cell_per_attempt() -> None:
    assert trend_text([0.0, 0.1, 0.5, 0.99, 1.0], 10) == "·▁▄██"
    assert trend_text([0.5, 0.5], 10) == "▄▄"  # the same score twice is a flat line at its height
    assert trend_text([0.0, 1.0, 1.0], 2) == "██"  # only the newest attempts that fit


def test_result_bar_colour_follows_the_pass_rule_not_only_full_marks() -> None:
    passing = ScoreBar("Discretion", 3, 4, 0.75, passed=True).render()
    failing = ScoreBar("Discretion", 1, 4, 0.25, passed=False).render()
    assert any("success" in str(span.style) for span in passing.spans)  # 75% passes: not a warning colour
    assert any("error" in str(span.style) for span in failing.spans)


async def test_attempt_times_show_in_local_time(make_app, monkeypatch) -> None:
    import time
    from datetime import datetime, timezone

    from iwp_trainer.store import ProgressStore
    from iwp_trainer.tui import services

    monkeypatch.setenv("TZ", "Asia/Kolkata")  # UTC+05:30 all year: no daylight saving to allow for
    time.tzset()
    fixed = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
    monkeypatch.setattr(services, "open_store", lambda path: (ProgressStore.open(path, clock=lambda: fixed), None))
    try:
        app = make_app()
        async with app.run_test(size=(100, 32)) as pilot:
            await ready(pilot)
            await play(pilot, "fare", ["1", "1"])
            await pilot.press("f5")
            await wait_for(pilot, lambda: isinstance(app.screen, ProgressScreen))
            await pilot.pause()
            table = app.screen.query_one("#attempts", DataTable)
            assert str(table.columns[table.ordered_columns[0].key].label) == "When"
            assert str(table.get_row_at(0)[0]) == "02 Mar 15:00"  # 09:30 UTC
            stored = app.store.query("SELECT ended_at FROM attempts")[0][0]
            assert stored.startswith("2026-03-02T09:30") and stored.endswith("+00:00")  # kept in UTC
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
