"""Progress: the learner's attempts and per-dimension results over time, drawn."""

from __future__ import annotations

from datetime import datetime, timezone

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import DataTable, Static

from iwp_trainer.tui import services
from iwp_trainer.tui.dialogs import AttemptScreen
from iwp_trainer.safe_text import one_line
from iwp_trainer.tui.safe import literal, literal_text
from iwp_trainer.tui.screens.base import IwpScreen
from iwp_trainer.tui.widgets import RowTable, ScoreBar, TrendLine, bar_text


class ProgressScreen(IwpScreen):
    MODE = "progress"
    AUTO_FOCUS = "#attempts"
    BINDINGS = [Binding("enter", "review", "Review attempt"), Binding("u", "refresh", "Refresh")]
    HELP = """\
### Progress
Your finished attempts, newest first (in local time), and how each scoring dimension has gone over time: the line
shows every attempt's score in that dimension, oldest to newest, and the bar your latest.
Unfinished attempts can be resumed from Practise.

| key | does |
| --- | --- |
| ↑ ↓ | choose an attempt |
| Enter | review it: every decision, how it scored, the policy it cited |
| u | update the view |
"""

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="progress"):
            yield Static("", id="progress-summary")
            yield Vertical(id="dimension-charts")
            yield Static(Content.styled("Attempts (newest first; Enter reviews one)", "bold"),
                         classes="section-title", id="attempts-title")
            table: DataTable[str] = RowTable(id="attempts", cursor_type="row", zebra_stripes=True)
            yield table


    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.refresh_data()

    def action_refresh(self) -> None:
        self.refresh_data()

    def learner_changed(self) -> None:
        self.refresh_data()

    @on(DataTable.RowSelected, "#attempts")
    def row_selected(self) -> None:
        self.action_review()

    def action_review(self) -> None:
        table = self.query_one("#attempts", DataTable)
        if not table.row_count:
            self.notify("No finished attempts to review yet.", severity="warning")
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        attempt = self._attempts.get(str(key))
        if attempt is not None:
            self.app.push_screen(AttemptScreen(attempt, self.iwp.library))

    def refresh_data(self) -> None:
        learner = self.iwp.learner or "guest"
        all_attempts = services.attempts(self.iwp.store, learner)
        finished = [a for a in all_attempts if a.status == "finished" and a.passed is not None]
        open_count = sum(1 for a in all_attempts if a.status == "in_progress")
        passed = sum(1 for a in finished if a.passed)
        where = "" if getattr(self.iwp.store, "persistent", True) else " (this session only: recording is off)"
        summary = self.query_one("#progress-summary", Static)
        if not finished:
            summary.update(Content.assemble(literal(f"Progress for {learner}{where}", "bold", single_line=True), "\n",
                                            "No finished attempts yet. Practise a scenario (F4) and your results "
                                            "will show here."
                                            + (f" {open_count} unfinished." if open_count else "")))
        else:
            summary.update(Content.assemble(
                literal(f"Progress for {learner}{where}", "bold", single_line=True), "\n",
                f"{len(finished)} finished attempt{'s' if len(finished) != 1 else ''}: {passed} passed, "
                f"{len(finished) - passed} failed" + (f"; {open_count} unfinished" if open_count else "") + "."))
        self._draw_charts(finished)
        table = self.query_one("#attempts", DataTable)
        row = table.cursor_row
        table.display = bool(finished)
        self.query_one("#attempts-title").display = bool(finished)
        self._attempts = {str(a.id): a for a in finished}
        # Everything fits the width, so the score is never hidden off the right-hand edge: on a narrow
        # terminal the score is a number without its bar, and long titles end in "…".
        width = self.size.width or 100
        self._drawn_width = width
        narrow = width < 100
        rows = []
        for attempt in reversed(finished):
            pct = f"{round(attempt.score * 100):>3}%"
            rows.append((_when(attempt.finished_at or attempt.started_at), one_line(attempt.scenario_title), attempt.mode,
                         "PASS" if attempt.passed else "FAIL",
                         pct if narrow else f"{bar_text(attempt.score, 8)} {pct}", str(attempt.id)))
        labels = ("When", "Scenario", "Mode", "Result", "Score")
        widths = [max([len(label)] + [len(r[n]) for r in rows]) for n, label in enumerate(labels)]
        room = width - 2 - 2 - 2 * len(labels) - (sum(widths) - widths[1])  # padding, scrollbar, cells
        widths[1] = max(16, min(widths[1], room))
        table.clear(columns=True)  # sized afresh each time: columns only ever grow otherwise
        for label, key, column_width in zip(labels, ("when", "scenario", "mode", "result", "score"), widths):
            table.add_column(label, key=key, width=column_width)
        for when, title, mode, result, score, key in rows:
            if len(title) > widths[1]:
                title = title[: widths[1] - 1].rstrip() + "…"
            table.add_row(when, literal_text(title), literal_text(mode), result, score, key=key)
        if row and table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))

    def on_resize(self) -> None:
        if self.is_mounted and self.size.width != getattr(self, "_drawn_width", self.size.width):
            self.refresh_data()

    def _draw_charts(self, finished: list[services.AttemptView]) -> None:
        charts = self.query_one("#dimension-charts", Vertical)
        charts.remove_children()
        series: dict[str, list[float]] = {}
        for attempt in finished:
            for dim, fraction in attempt.scores.items():
                series.setdefault(dim, []).append(fraction)
        if not series:
            return
        lib = self.iwp.library
        widgets = [Static(Content.styled("By dimension: latest, then each attempt oldest to newest (█ full, · none)", "bold"),
                          classes="section-title")]
        for dim in sorted(series, key=lambda d: lib.dimension_name(d).casefold()):
            values = series[dim]
            latest = values[-1]
            row = Horizontal(classes="dimension-row")
            widgets.append(row)
            row.compose_add_child(ScoreBar(lib.dimension_name(dim), round(latest * 100), 100, latest, points=False))
            row.compose_add_child(TrendLine(values, classes="dimension-spark"))
            tries = f"{len(values)} {'try' if len(values) == 1 else 'tries'}"
            row.compose_add_child(Static(literal(f"{tries}, best {round(max(values) * 100)}%"),
                                         classes="dimension-note"))
        charts.mount_all(widgets)


def _when(stamp: str) -> str:
    """``2026-11-23T08:13:05.123+00:00`` as ``23 Nov 08:13`` in the computer's local time (the store
    and every export keep UTC; a coach reads the clock on the wall)."""
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp[:16].replace("T", " ")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # recorded as UTC
    return moment.astimezone().strftime("%d %b %H:%M")
