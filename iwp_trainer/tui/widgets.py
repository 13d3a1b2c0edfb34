"""Small reusable widgets: the navigation bar and drawn score bars.

They only display what they are given; screens feed them data from the core modules.
"""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import DataTable, Static, Tree
from textual.widgets.tree import TreeNode

from iwp_trainer.safe_text import one_line
from iwp_trainer.tui.safe import literal

# (mode, key, label) in the order the navigation bar shows them.
NAV_ITEMS: tuple[tuple[str, str, str], ...] = (
    ("ask", "F2", "Ask"),
    ("browse", "F3", "Browse"),
    ("practise", "F4", "Practise"),
    ("progress", "F5", "Progress"),
    ("problems", "F6", "Problems"),
)


class NavBar(Static):
    """The top line: every screen with its key, the current one marked, the problem count."""

    DEFAULT_CSS = """
    NavBar {
        dock: top;
        height: 1;
        width: 1fr;
        background: $panel;
        color: $text;
    }
    """

    current: reactive[str] = reactive("ask")
    problems: reactive[int] = reactive(0)
    learner: reactive[str] = reactive("")
    status: reactive[str] = reactive("")

    def render(self) -> Content:
        width = self.size.width or 80
        parts: list[Content] = []
        for mode, key, label in NAV_ITEMS:
            text = label
            if mode == "problems" and self.problems:
                text = f"{label} ({self.problems})"
            if mode == self.current:
                # Marked by shape as well as colour: brackets and bold, not only a highlight
                # (the brackets take the place of the padding spaces, so the bar keeps its width).
                piece = Content.from_markup(
                    f"[@click=app.go('{mode}')]\\[[reverse bold]{key} {text}[/]][/]"
                )
            else:
                style = "bold $text-error" if mode == "problems" and self.problems else ""
                piece = Content.from_markup(
                    f"[@click=app.go('{mode}')] [dim]{key}[/] [{style}]{text}[/] [/]"
                    if style
                    else f"[@click=app.go('{mode}')] [dim]{key}[/] {text} [/]"
                )
            parts.append(piece)
        tabs = Content("│").join(parts)
        title = Content.styled(" IWP trainer ", "bold")
        if tabs.cell_length + title.cell_length + 24 <= width:  # room for the title and a learner
            tabs = title + Content("│") + tabs
        right = Content("")
        if self.learner:
            learner = one_line(self.learner)
            room = width - tabs.cell_length - 2
            for text in (f"Learner: {learner}", learner):
                if len(text) <= room:
                    break
            else:
                text = learner[: max(0, room - 1)] + "…" if room > 4 else ""
            if text:
                right = Content.assemble(" ", literal(text, "dim"), " ")
        if self.status:
            candidate = Content.assemble(" ", literal(self.status, "dim", single_line=True), " ")
            if tabs.cell_length + right.cell_length + candidate.cell_length <= width:
                right = candidate + right
        gap = max(0, width - tabs.cell_length - right.cell_length)
        return tabs + Content(" " * gap) + right


def bar_text(fraction: float, width: int = 20) -> str:
    """A bar drawn with block characters, so it reads the same in any theme or in print."""
    fraction = min(1.0, max(0.0, fraction))
    eighths = round(fraction * width * 8)
    full, rest = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[rest] if rest else ""
    return ("█" * full + partial).ljust(width, "·")


class ScoreBar(Static):
    """One dimension's score: name, drawn bar, points and percentage in words and numbers."""

    DEFAULT_CSS = """
    ScoreBar {
        height: 1;
        width: 1fr;
    }
    """

    def __init__(self, label: str, earned: float, best: float, fraction: float,
                 *, label_width: int = 16, points: bool = True, passed: bool | None = None,
                 id: str | None = None) -> None:
        self.points = points
        self.passed = passed  # when known, the colour follows the pass rule (the words say it too)
        self.label = label
        self.earned = earned
        self.best = best
        self.fraction = fraction
        self.label_width = label_width
        super().__init__(id=id)

    def render(self) -> Content:
        bar_width = max(8, min(40, (self.size.width or 60) - self.label_width - 16))
        pct = round(self.fraction * 100)
        if self.passed is not None:
            style = "$text-success" if self.passed else "$text-error"
        else:
            style = "$text-success" if self.fraction >= 0.999 else ("$text-warning" if self.fraction > 0 else "$text-error")
        return Content.assemble(
            (one_line(self.label)[: self.label_width].ljust(self.label_width), "bold"),
            " ",
            (bar_text(self.fraction, bar_width), style),
            f" {_num(self.earned)}/{_num(self.best)} {pct:>3}%" if self.points else f" {pct:>3}%",
        )


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


TREND_BARS = "▁▂▃▄▅▆▇█"


def trend_text(values: list[float], width: int) -> str:
    """One cell per attempt, oldest to newest, on a fixed 0-100% scale (unlike a sparkline scaled to
    its own range, a flat line here really means "the same score"). Nothing scored is shown as ·."""
    cells = []
    for value in values[-width:] if width > 0 else []:
        value = min(1.0, max(0.0, value))
        cells.append("·" if value <= 0 else TREND_BARS[min(len(TREND_BARS) - 1, int(value * len(TREND_BARS) - 1e-9))])
    return "".join(cells)


class TrendLine(Static):
    """A dimension's scores over time, drawn with block characters (see :func:`trend_text`)."""

    DEFAULT_CSS = """
    TrendLine {
        height: 1;
        width: 1fr;
    }
    """

    def __init__(self, values: list[float], *, classes: str | None = None) -> None:
        self.values = list(values)
        super().__init__(classes=classes)

    def render(self) -> Content:
        return Content.styled(trend_text(self.values, self.size.width or 20), "$text-accent")


class EllipsisTree(Tree[Any]):
    """A tree whose long labels end in "…" where the pane cuts them, so a cut-off question is seen
    to be cut off (the whole question shows beside the tree when it is highlighted)."""

    def render_label(self, node: TreeNode[Any], base_style: Style, style: Style) -> Text:
        text = super().render_label(node, base_style, style)
        room = self.scrollable_content_region.width
        if room <= 0:
            return text
        depth = 0
        parent = node.parent
        while parent is not None and parent is not self.root:
            depth += 1
            parent = parent.parent
        room -= depth * self.guide_depth  # the guides drawn to the left of the label
        if room > 4 and text.cell_len > room:
            text.truncate(room, overflow="ellipsis")
        return text


class RowTable(DataTable[Any]):
    """A table chosen by row: Home and End go to the first and last row (a plain DataTable's End
    goes to the last column, which looks like nothing happened)."""

    BINDINGS = [
        Binding("home", "scroll_top", "First", show=False),
        Binding("end", "scroll_bottom", "Last", show=False),
    ]
