"""Modal dialogs: the learner's name (asked at the first scenario), help, a choice of buttons, one KB entry."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Button, Input, Static

from iwp_trainer.tui.pages import PagedMarkdown
from iwp_trainer.tui.safe import literal

GLOBAL_HELP = """\
### Everywhere
| key | does |
| --- | --- |
| F2 … F6 | Ask, Browse, Practise, Progress, Problems |
| Ctrl+P | find any entry, scenario or screen by name; "Change learner" records under another name |
| Ctrl+R | re-read kb/ and scenarios/ after editing them |
| Ctrl+T | switch between the light and dark theme |
| F1 or ? | this help |
| Tab / Shift+Tab | move between parts of the screen |
| Ctrl+Q | quit (everything recorded so far is kept) |
"""


def help_widgets(text: str) -> list[Widget]:
    """The help's small Markdown subset (### headings, **bold**, | key | does | tables) as compact
    widgets: paragraphs, then one row per key with the description wrapping beside its key."""
    widgets: list[Widget] = []
    paragraph: list[str] = []

    def inline(text: str) -> Content:
        parts = text.split("**")
        return Content.assemble(*[(p, "bold" if n % 2 else "") for n, p in enumerate(parts)])

    def flush() -> None:
        if paragraph:
            widgets.append(Static(inline(" ".join(paragraph)), classes="help-paragraph"))
            paragraph.clear()

    for line in text.splitlines():
        if line.startswith("### "):
            flush()
            widgets.append(Static(Content.styled(line[4:], "bold underline"), classes="help-heading"))
        elif line.startswith("|"):
            flush()
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            if cells[0] == "key" or set(cells[0]) <= {"-"}:
                continue
            widgets.append(Horizontal(Static(Content.styled(cells[0], "bold"), classes="help-key"),
                                      Static(inline(cells[1]), classes="help-does"), classes="help-row"))
        elif line.strip():
            paragraph.append(line.strip())
        else:
            flush()
    flush()
    return widgets


class LearnerNameScreen(ModalScreen[str | None]):
    """The name or staff id progress is recorded under.

    Asked when a scenario is first started (Ask needs no name), pre-filled with the login name;
    and from the palette's "Change learner". Dismisses with the name, with ``""`` for "practise as
    guest" (first time only), or with ``None`` when Esc keeps things as they were.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: str = "", suggested: str = "") -> None:
        super().__init__()
        self.current = current
        self.suggested = suggested

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            if self.current:
                yield Static(Content.styled("Change learner", "bold"), classes="dialog-title")
                yield Static(Content.assemble("Progress is recorded for ", literal(self.current, "bold", single_line=True),
                                              ". Type another name or staff id to record under it from now on."),
                             id="learner-prompt")
            else:
                yield Static(Content.styled("Who is practising?", "bold"), classes="dialog-title")
                yield Static("Your results are recorded under a name or staff id, so you and your trainer "
                             "can follow your progress. Is this name right?", id="learner-prompt")
            yield Input(value=self.current or self.suggested, placeholder="Name or staff id", id="learner-name")
            yield Static("", id="learner-error", classes="error-text")
            with Horizontal(classes="buttons"):
                if self.current:
                    yield Button("Change", variant="primary", id="ok")
                    yield Button("Cancel", id="cancel")
                else:
                    yield Button("Continue", variant="primary", id="ok")
                    yield Button("Practise as guest", id="guest")
            yield Static(self._keys(), id="learner-keys", classes="dim")

    def _keys(self) -> Content:
        if self.current:
            return literal(f"Esc keeps {self.current}.", single_line=True)
        return Content("As guest, results are recorded under \"guest\" and you are not asked again. "
                       "Esc goes back without starting. Change it at any time: Ctrl+P, Change learner.")

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def submit(self) -> None:
        name = self.query_one("#learner-name", Input).value.strip()
        if not name:
            self.query_one("#learner-error", Static).update(literal(
                f"Please type a name or staff id (Esc keeps {self.current})." if self.current else
                "Please type a name or staff id, or choose Practise as guest.", single_line=True))
            return
        self.dismiss(name)

    @on(Button.Pressed, "#guest")
    def as_guest(self) -> None:
        self.dismiss("")

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    """Keys for the screen underneath, then the keys that work everywhere."""

    BINDINGS = [Binding("escape,q,f1,question_mark", "close", "Close help")]

    def __init__(self, under: Screen[Any]) -> None:
        super().__init__()
        self.screen_help = getattr(under, "HELP", "") or ""

    def compose(self) -> ComposeResult:
        with Vertical(id="help", classes="dialog wide"):
            yield Static(Content.styled("Help", "bold"), classes="dialog-title")
            with VerticalScroll(id="help-text"):
                yield from help_widgets(self.screen_help + "\n" + GLOBAL_HELP)
            yield Static("Esc closes this help.", classes="dim")

    def action_close(self) -> None:
        self.dismiss(None)


class ChoiceScreen(ModalScreen[str]):
    """A question with a few answers as buttons; dismisses with the chosen button's id."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, message: str, options: list[tuple[str, str]], cancel: str = "cancel") -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.options = options
        self.cancel_id = cancel

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Content.styled(self.title_text, "bold"), classes="dialog-title")
            yield Static(literal(self.message), classes="dialog-message")
            with Horizontal(classes="buttons"):
                for n, (option_id, label) in enumerate(self.options):
                    yield Button(label, id=option_id, variant="primary" if n == 0 else "default")

    def on_mount(self) -> None:
        self.query(Button).first().focus()

    @on(Button.Pressed)
    def chosen(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or self.cancel_id)

    def action_cancel(self) -> None:
        self.dismiss(self.cancel_id)

    def key_left(self) -> None:
        self.focus_previous(Button)

    def key_right(self) -> None:
        self.focus_next(Button)


class EntryScreen(ModalScreen[None]):
    """One KB entry over the current screen: the cited policy answer, one key away."""

    BINDINGS = [
        Binding("escape,q", "close", "Close"),
        Binding("left,p", "step(-1)", "Previous"),
        Binding("right,n", "step(1)", "Next"),
        Binding("right_square_bracket", "page(1)", "Next page", key_display="]"),
        Binding("left_square_bracket", "page(-1)", "Previous page", key_display="["),
    ]

    def __init__(self, entries: list[Any], start: int = 0, heading: str = "Policy answer") -> None:
        super().__init__()
        self.entries = entries
        self.index = start
        self.heading = heading

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="entry-dialog"):
            yield Static("", classes="dialog-title", id="entry-heading")
            with VerticalScroll(id="entry-scroll"):
                yield Static("", id="entry-title", classes="answer-title")
                yield Static("", id="entry-citation", classes="citation")
                yield PagedMarkdown("", id="entry-body")
            keys = "Esc closes · ← → other cited answers" if len(self.entries) > 1 else "Esc closes"
            yield Static(keys, classes="dim")

    def on_mount(self) -> None:
        self.show()

    def show(self) -> None:
        entry = self.entries[self.index]
        count = f" ({self.index + 1} of {len(self.entries)})" if len(self.entries) > 1 else ""
        self.query_one("#entry-heading", Static).update(Content.styled(self.heading + count, "bold"))
        self.query_one("#entry-title", Static).update(literal(entry.title, "bold"))
        self.query_one("#entry-body", PagedMarkdown).update(entry.body)
        self.query_one("#entry-citation", Static).update(Content.assemble(("Source: ", "bold"), literal(entry.citation)))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "page":
            return self.query_one("#entry-body", PagedMarkdown).paged
        return True

    def action_page(self, delta: int) -> None:
        if self.query_one("#entry-body", PagedMarkdown).turn(delta):
            self.query_one("#entry-scroll", VerticalScroll).scroll_home(animate=False)

    def action_step(self, delta: int) -> None:
        if len(self.entries) > 1:
            self.index = (self.index + delta) % len(self.entries)
            self.show()

    def action_close(self) -> None:
        self.dismiss(None)


class AttemptScreen(ModalScreen[None]):
    """A finished attempt, decision by decision, as recorded: what was chosen and how it scored."""

    BINDINGS = [Binding("escape,q", "close", "Close"), Binding("v", "review", "Cited policy")]

    def __init__(self, attempt: Any, library: Any) -> None:
        super().__init__()
        self.attempt = attempt
        self.library = library

    def compose(self) -> ComposeResult:
        attempt = self.attempt
        verdict = "PASS" if attempt.passed else "FAIL"
        with Vertical(classes="dialog wide", id="attempt-dialog"):
            yield Static(Content.assemble((f" {verdict} ", "bold reverse"), "  ",
                                          literal(attempt.scenario_title, "bold", single_line=True),
                                          literal(f"  ·  {attempt.mode}", single_line=True)), classes="dialog-title")
            with VerticalScroll(id="attempt-scroll"):
                scores = ", ".join(f"{self.library.dimension_name(d)} {round(f * 100)}%"
                                   for d, f in attempt.scores.items())
                yield Static(Content.assemble(("Scores: ", "bold"), literal(scores or "none recorded")))
                for n, decision in enumerate(attempt.decisions, 1):
                    mark = "✗✗ critical" if decision.critical else ("✓ best" if decision.is_best else "✗ not the best")
                    points = ", ".join(f"{self.library.dimension_name(d)} {p:+d}" for d, p in decision.points.items() if p)
                    lines = [literal(decision.choice_text),
                             literal(mark + (f" · {points}" if points else ""), "italic")]
                    for entry_id in decision.cites:
                        entry = self.library.entry(entry_id)
                        if entry is not None:
                            lines.append(literal(f"Policy: {entry.title} ({entry.citation})"))
                    yield Horizontal(Static(Content.styled(f"{n}.", "bold"), classes="attempt-number"),
                                     Static(Content("\n").join(lines), classes="attempt-text"),
                                     classes="attempt-decision")
            yield Static("Esc closes · v reads the cited policy answers", classes="dim")

    def action_review(self) -> None:
        seen: list[str] = []
        for decision in self.attempt.decisions:
            seen += [c for c in decision.cites if c not in seen]
        entries = [e for e in (self.library.entry(i) for i in seen) if e is not None]
        if entries:
            self.app.push_screen(EntryScreen(entries, heading="Cited policy answers"))
        else:
            self.notify("No policy answers were cited in this attempt.", severity="warning")

    def action_close(self) -> None:
        self.dismiss(None)
