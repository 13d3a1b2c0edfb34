"""Practise: choose a scenario, play it, see the result and the debrief.

The engine decides what is on offer, what scores and whether the attempt passed; the store records
each decision as it is made, so quitting at any moment loses nothing. This module only shows them.
"""

from __future__ import annotations

import random
from typing import Any, Callable

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import DataTable, Markdown, OptionList, Static
from textual.widgets.option_list import Option

from iwp_trainer.engine import Playthrough, debrief
from iwp_trainer.safe_text import one_line, printable
from iwp_trainer.store import Outcome
from iwp_trainer.tui import services
from iwp_trainer.tui.dialogs import ChoiceScreen, EntryScreen
from iwp_trainer.tui.messages import ShowScenario
from iwp_trainer.tui.pages import PAGE_CHARS, split_pages
from iwp_trainer.tui.safe import literal, literal_text, markdown_literal, notify
from iwp_trainer.tui.screens.base import IwpScreen
from iwp_trainer.tui.widgets import RowTable, ScoreBar

PRACTICE = "practice"
ASSESSMENT = "assessment"


def result_words(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def _numbered(n: int, text: str) -> Table:
    """A choice with its number in a column of its own, so wrapped lines stay clear of it."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=2, justify="right")
    grid.add_column(ratio=1)
    grid.add_row(Text(f"{n}.", style="bold"), literal_text(text, single_line=False))
    return grid


def _md(text: str) -> str:
    """Scenario text as literal Markdown on one line: every Markdown punctuation mark escaped, so a
    `*` or `#` in a file is shown, never turned into formatting; control characters made visible."""
    return markdown_literal(text)


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(1, width - 1)].rstrip() + "…"


def abandon_in_worker(node: Any, attempt_ids: list[Any], then: Callable[[], None] | None = None) -> None:
    """Abandon attempts in a thread, like saves (another program's write lock is waited out there,
    not on the screen), then run ``then`` on the main thread. A failure is told to the user and
    ``then`` still runs: the attempt only stays unfinished. The worker is the app's, so leaving the
    screen does not cancel it."""
    app = node.app
    if not attempt_ids:
        if then is not None:
            then()
        return

    def done(errors: list[str]) -> None:
        for error in errors:  # the store's words name a file: shown as written, never markup
            notify(app, error, severity="error", timeout=8)
        if then is not None:
            then()

    def run() -> None:
        errors = services.abandon(app.store, list(attempt_ids))
        app.call_from_thread(done, errors)

    app.run_worker(run, thread=True, group="abandon", name="abandon attempts")


class PractiseScreen(IwpScreen):
    """The scenario list: title, level, dimensions and the learner's best result."""

    MODE = "practise"
    AUTO_FOCUS = "#scenario-table"
    BINDINGS = [
        Binding("enter,p", "play('practice')", "Practice"),
        Binding("a", "play('assessment')", "Assessment"),
    ]
    HELP = """\
### Practise
Role-play a conversation with a claimant. Pick a scenario with ↑ ↓, then:

| key | does |
| --- | --- |
| Enter or p | play in **practice** mode: feedback after every decision, with the cited policy answer one key away |
| a | play in **assessment** mode: no feedback until the end |

While playing: **1**-**9** or ↑ ↓ + Enter choose; **c** shows the cited policy answer (practice mode);
**Esc** leaves (keep the attempt to resume later, or abandon it); if a choice could not be saved,
**r** tries again. At the end: **r** retry, **v** review
the cited policy answers, **n** next scenario, **Esc** back to the list.
"""

    def __init__(self) -> None:
        super().__init__()
        self._pending_select: str | None = None

    def compose_body(self) -> ComposeResult:
        with Vertical(id="practise"):
            yield Static("", id="not-loaded")
            table: DataTable[Any] = RowTable(id="scenario-table", cursor_type="row", zebra_stripes=True)
            yield table
            yield Static("", id="scenario-summary")

    def on_resize(self) -> None:
        self.fill_table()

    def on_screen_resume(self) -> None:
        played, self.iwp.last_played = self.iwp.last_played, None
        if played:  # back from playing: the cursor stays on the scenario just played
            self._pending_select = played
        super().on_screen_resume()
        self.fill_table()  # results may have changed while playing

    def refresh_data(self) -> None:
        self.fill_table()

    def learner_changed(self) -> None:
        self.fill_table()

    def fill_table(self) -> None:
        lib = self.iwp.library
        note = lib.not_loaded_note()
        banner = self.query_one("#not-loaded", Static)
        banner.update(Content.styled(f"⚠ {note}", "bold") if note else "")
        banner.display = bool(note)
        table = self.query_one("#scenario-table", DataTable)
        keep = self.selected_id()
        table.clear(columns=True)
        best = services.best_by_scenario(self.iwp.store, self.iwp.learner or "guest")
        unfinished = {a.scenario_id for a in services.unfinished(self.iwp.store, self.iwp.learner or "guest")
                      if a.choice_ids}
        rows = []
        for scenario in sorted(lib.scenarios.values(), key=lambda s: (s.level != "new", s.title.casefold())):
            dims = ", ".join(lib.dimension_name(d) for d in scenario.dimensions)
            result = best.get(scenario.id)
            if result is None:
                cell = "unfinished" if scenario.id in unfinished else "not tried"
            else:
                cell = f"{result_words(result.passed)} {round(result.score * 100)}%"
            rows.append((scenario, dims, cell))
        # Fit the widest columns to the terminal: titles give way first, with an ellipsis.
        level_w = max([5] + [len(s.level) for s, _d, _c in rows])
        dims_w = max([10] + [len(d) for _s, d, _c in rows])
        best_w = max([9] + [len(c) for _s, _d, c in rows])
        room = (self.size.width or 100) - 2 - 8 - level_w - best_w  # cell padding and scrollbar
        title_w = max(16, min(max([8] + [len(s.title) + 2 for s, _d, _c in rows]), room - min(dims_w, 12)))
        dims_w = max(10, min(dims_w, room - title_w))
        table.add_column("Scenario", key="title", width=title_w)
        table.add_column("Level", key="level", width=level_w)
        table.add_column("Scores", key="dimensions", width=dims_w)
        table.add_column("Your best", key="best", width=best_w)
        for scenario, dims, cell in rows:
            mark = "↻ " if scenario.id in unfinished else "  "
            table.add_row(literal_text(mark + _fit(one_line(scenario.title), title_w - 2)), literal_text(scenario.level),
                          literal_text(_fit(dims, dims_w)), cell, key=scenario.id)
        target = self._pending_select or keep
        self._pending_select = None
        if target and target in lib.scenarios:
            table.move_cursor(row=table.get_row_index(target))
        self.show_summary()

    def selected_id(self) -> str | None:
        table = self.query_one("#scenario-table", DataTable)
        if not table.row_count:
            return None
        try:
            return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        except Exception:
            return None

    @on(ShowScenario)
    def show_scenario_message(self, message: ShowScenario) -> None:
        self.select_scenario(message.scenario_id, play=message.play)

    def select_scenario(self, scenario_id: str, play: bool = False) -> None:
        if self._seen_revision != self.iwp.library_revision:  # not drawn yet: apply once it is
            self._pending_select = scenario_id
            if play:
                self.call_after_refresh(self.select_scenario, scenario_id, True)
            return
        table = self.query_one("#scenario-table", DataTable)
        if scenario_id in self.iwp.library.scenarios:
            table.move_cursor(row=table.get_row_index(scenario_id))
            if play:
                self.call_after_refresh(self.action_play, PRACTICE)

    @on(DataTable.RowHighlighted, "#scenario-table")
    def show_summary(self) -> None:
        summary = self.query_one("#scenario-summary", Static)
        sid = self.selected_id()
        scenario = self.iwp.library.scenarios.get(sid or "")
        if scenario is None:
            summary.update("No scenarios could be loaded. See Problems (F6)." if not self.iwp.library.scenarios else "")
            return
        dims = ", ".join(self.iwp.library.dimension_name(d) for d in scenario.dimensions)
        waiting = [a for a in services.unfinished(self.iwp.store, self.iwp.learner or "guest")
                   if a.scenario_id == scenario.id and a.choice_ids]
        note = ("\n↻ You have an unfinished attempt: Enter offers to resume it." if waiting else "")
        summary.update(Content.assemble(literal(scenario.title, "bold", single_line=True), "\n",
                                        literal(scenario.summary), "\n",
                                        (printable(f"Scores {dims}. Pass mark {round(scenario.pass_mark * 100)}% in each, "
                                         "with no critical mistake."), "dim"), (note, "bold")))

    @on(DataTable.RowSelected, "#scenario-table")
    def row_selected(self) -> None:
        self.action_play(PRACTICE)

    def action_play(self, mode: str) -> None:
        scenario = self.iwp.library.scenarios.get(self.selected_id() or "")
        if scenario is None:
            return
        # Until a name is chosen, what was recorded as guest shows (and resumes) as guest's.
        learner = self.iwp.learner or "guest"
        waiting, empty = [], []
        for attempt in services.unfinished(self.iwp.store, learner):
            if attempt.scenario_id != scenario.id:
                continue
            if attempt.choice_ids:
                waiting.append(attempt)
            else:  # opened but nothing decided (e.g. quit straight away): nothing worth resuming
                empty.append(attempt.id)
        abandon_in_worker(self, empty)

        def start() -> None:  # a new attempt: the learner's name is asked the first time
            self.iwp.with_learner(lambda: self.app.push_screen(PlayScreen(scenario, mode)))

        if not waiting:
            start()
            return
        attempt = waiting[-1]

        def decided(answer: str | None) -> None:
            if answer == "resume":
                self.app.push_screen(PlayScreen(scenario, attempt.mode, resume=attempt))
            elif answer == "restart":
                abandon_in_worker(self, [old.id for old in waiting], then=start)

        self.app.push_screen(
            ChoiceScreen(
                "Unfinished attempt",
                f"You have an unfinished {attempt.mode} attempt at “{one_line(scenario.title)}” "
                f"({len(attempt.choice_ids)} decision{'s' if len(attempt.choice_ids) != 1 else ''} made)."
                + (" The scenario file has changed since: resuming replays your choices on the new version."
                   if attempt.scenario_sha256 and attempt.scenario_sha256 != scenario.sha256 else ""),
                [("resume", "Resume"), ("restart", "Abandon it, start again"), ("cancel", "Cancel")],
            ),
            decided,
        )


class PlayScreen(IwpScreen):
    """Playing one scenario: the conversation so far and the choices on offer."""

    MODE = "practise"
    AUTO_FOCUS = "#choices"
    BINDINGS = [
        Binding("1", "pick(1)", "Choose", key_display="1-9"),
        *[Binding(str(n), f"pick({n})", show=False) for n in range(2, 10)],
        Binding("c", "cited", "Policy"),
        Binding("r", "retry_save", "Retry save"),  # only offered after a save failed
        Binding("escape", "leave", "Leave"),
    ]
    HELP = PractiseScreen.HELP

    def __init__(self, scenario: Any, mode: str, resume: Any = None, seed: int | None = None) -> None:
        super().__init__()
        self.scenario = scenario
        self.mode = mode
        self.seed = resume.seed if resume is not None else (seed if seed is not None else random.randrange(1_000_000))
        self.play = Playthrough(scenario, seed=self.seed)
        self.attempt_id: Any = None
        self.resume = resume
        self.shown = 0
        self.last_cites: list[str] = []
        self.resume_error: str | None = None
        # Saving happens in a thread worker: while it runs nothing else is chosen; when it fails the
        # attempt stays at that decision (``unsaved`` is the choice to retry) with ``save_error`` shown.
        self.saving = False
        self.save_error: str | None = None
        self.unsaved: str | None = None
        self._waiting: list[Any] = []  # keys pressed while saving, run in order once it is done
        # Transcript index of each coach line -> its decision, so a resumed attempt shows the
        # feedback it showed the first time, after the same lines.
        self._decided_at: dict[int, Any] = {}
        if resume is not None:
            self.attempt_id = resume.id
            try:
                for choice_id in resume.choice_ids:
                    at = len(self.play.transcript)
                    self._decided_at[at] = self.play.choose(choice_id)
            except ValueError as exc:  # the scenario changed since: start afresh, say why
                self.resume_error = str(exc)
                self.play = Playthrough(scenario, seed=self.seed)
                self.attempt_id = None
                self._decided_at = {}
            if self.play.decisions:
                self.last_cites = list(self.play.decisions[-1].cites)

    def compose_body(self) -> ComposeResult:
        with Vertical(id="play"):
            yield Static(self._heading(), id="play-heading")
            yield VerticalScroll(id="transcript")
            yield Static("", id="save-status")
            yield OptionList(id="choices")

    def _heading(self) -> Content:
        mode = "Practice mode: feedback after each decision" if self.mode == PRACTICE else \
            "Assessment mode: feedback at the end"
        return Content.assemble(literal(self.scenario.title, "bold", single_line=True), "  ·  ", (mode, "italic"))

    def on_mount(self) -> None:
        super().on_mount()
        if self.resume_error:
            notify(self, f"Could not resume: {self.resume_error}. Starting again.", severity="warning")
            abandon_in_worker(self, [self.resume.id])
        self.iwp.last_played = self.scenario.id  # the Practise list comes back to it
        self._render_history()
        self._show_choices()
        if self.attempt_id is None:
            self._save()  # record the start (in the worker: a locked file must not freeze the screen)
        elif self.play.finished:
            # Resumed at its ending: an older version recorded the last decision and the finish in
            # two commits, and a kill between them left the attempt here. Finish it now.
            result = self.play.result()
            self._save(finish={"passed": result.passed, "ending_node": result.ending_node,
                               "scores": services.scores_dict(result)})
        elif self.resume is not None:
            self.notify(f"Resumed after {len(self.play.decisions)} decisions.", title="Resumed")

    # --- drawing -------------------------------------------------------------------------------

    def _line(self, speaker: str, text: str) -> Static:
        coach = speaker == self.scenario.speaker_name("coach")
        label = f"{speaker} (you)" if coach and speaker.lower() != "you" else speaker
        return Static(Content.assemble(literal(f"{label}: ", "bold", single_line=True), literal(text)),
                      classes="line coach" if coach else "line other")

    def _render_history(self) -> None:
        """Everything so far, with each decision's feedback (practice mode) where it first showed."""
        transcript = self.query_one("#transcript", VerticalScroll)
        for index in range(self.shown, len(self.play.transcript)):
            speaker, text = self.play.transcript[index]
            transcript.mount(self._line(speaker, text))
            decision = self._decided_at.get(index)
            if decision is not None and self.mode == PRACTICE:
                transcript.mount(self._feedback(decision))
        self.shown = len(self.play.transcript)

    def _render_lines(self, upto: int) -> None:
        transcript = self.query_one("#transcript", VerticalScroll)
        for speaker, text in self.play.transcript[self.shown:upto]:
            transcript.mount(self._line(speaker, text))
        self.shown = upto

    def _show_choices(self) -> None:
        options = self.query_one("#choices", OptionList)
        options.clear_options()
        options.add_options([Option(_numbered(n, c.text), id=c.id) for n, c in enumerate(self.play.choices, 1)])
        if self.play.choices:
            options.highlighted = 0
        options.border_title = "What do you say? (1-9, or ↑ ↓ and Enter)"
        self.call_after_refresh(self.query_one("#transcript", VerticalScroll).scroll_end, animate=False)

    def _feedback(self, decision: Any) -> Static:
        lines: list[Content] = []
        if decision.critical:
            lines.append(Content.styled("✗✗ Critical mistake", "bold"))
        elif decision.is_best:
            lines.append(Content.styled("✓ Best choice", "bold"))
        else:
            lines.append(Content.styled("✗ Not the best choice", "bold"))
            for text in decision.best_choice_texts:
                lines.append(Content.assemble(("Best: ", "bold"), literal(text)))
        if decision.feedback:
            lines.append(literal(decision.feedback))
        points = ", ".join(f"{self.iwp.library.dimension_name(d)} {p:+d}" for d, p in decision.points.items() if p)
        if points:
            lines.append(literal(f"Points: {points}", "italic"))
        if decision.cites:
            lines.append(Content.styled("Press c to read the cited policy answer.", "italic"))
        kind = "critical" if decision.critical else ("best" if decision.is_best else "notbest")
        return Static(Content("\n").join(lines), classes=f"feedback {kind}")

    # --- choosing ------------------------------------------------------------------------------

    @on(OptionList.OptionSelected, "#choices")
    def option_selected(self, event: OptionList.OptionSelected) -> None:
        if self._later(lambda: self.choose(event.option.id or "")):
            return
        self.choose(event.option.id or "")

    def action_pick(self, n: int) -> None:
        if self._later(lambda: self.action_pick(n)):
            return
        if 1 <= n <= len(self.play.choices):
            self.choose(self.play.choices[n - 1].id)

    def _later(self, step: Any) -> bool:
        """While a save runs, keys wait their turn (in order, as typed) and run once it is done; a
        failed save drops them, so nothing is chosen past a decision that was not recorded."""
        if self.saving:
            self._waiting.append(step)
        return self.saving

    def choose(self, choice_id: str) -> None:
        if self._later(lambda: self.choose(choice_id)) or self.play.finished:
            return
        seq = len(self.play.decisions) + 1
        decision = self.play.choose(choice_id)
        record: dict[str, Any] = {
            "seq": seq, "node_id": decision.node_id, "choice_id": decision.choice_id,
            "choice_text": decision.choice_text, "points": decision.points, "is_best": decision.is_best,
            "critical": decision.critical, "cites": list(decision.cites)}
        if self.play.finished:  # the ending: the decision and the outcome are saved together
            result = self.play.result()
            record["outcome"] = Outcome(result.passed, result.ending_node or "", services.scores_dict(result))
        self._save(decision=record, choice_id=choice_id)

    # --- saving ------------------------------------------------------------------------------

    def _start_record(self) -> dict[str, Any]:
        best = {d: s.best for d, s in Playthrough(self.scenario, seed=self.seed).result().scores.items()}
        return {"learner": self.iwp.learner or "guest", "scenario_id": self.scenario.id,
                "scenario_title": self.scenario.title, "scenario_sha256": self.scenario.sha256,
                "mode": self.mode, "seed": self.seed, "best": best}

    def _save(self, decision: dict[str, Any] | None = None, finish: dict[str, Any] | None = None,
              choice_id: str | None = None) -> None:
        """Save in a worker; choosing waits (and says so) until it is done. The choices keep the focus."""
        self.saving = True
        self._show_status("Saving…" if decision is not None or finish is not None else "", error=False)
        self._save_worker(self.app.store, self.attempt_id, self._start_record(), decision, finish, choice_id)

    @work(thread=True, exclusive=True, group="save")
    def _save_worker(self, store: Any, attempt_id: Any, start: dict[str, Any], decision: dict[str, Any] | None,
                     finish: dict[str, Any] | None, choice_id: str | None) -> None:
        try:
            attempt_id = services.save_progress(store, attempt_id, start=start, decision=decision, finish=finish)
            error = None
        except Exception as exc:  # worded for the user by the store
            error = str(exc)
        self.app.call_from_thread(self._saved, attempt_id, decision, finish, choice_id, error)

    def _saved(self, attempt_id: Any, decision: dict[str, Any] | None, finish: dict[str, Any] | None,
               choice_id: str | None, error: str | None) -> None:
        self.saving = False
        if attempt_id is not None:
            self.attempt_id = attempt_id
        if error is not None:
            self._waiting.clear()
            if decision is not None:
                # Never past a decision that was not recorded: back to the recorded ones.
                self.play = self._replayed(self.play.decisions[:-1])
                self.unsaved = choice_id
            what = "Your last choice was not saved" if decision is not None else (
                "The end of this attempt was not saved" if finish is not None else "Recording could not start")
            self.save_error = f"{what}: {error}."
            self._show_status(f"{self.save_error} Press r to try again; Esc leaves with everything saved "
                              "before it kept.", error=True)
            self.refresh_bindings()
            return
        had_error, self.save_error, self.unsaved = self.save_error, None, None
        self._show_status("", error=False)
        if had_error:
            self.refresh_bindings()
        if decision is not None:
            self._after_decision(self.play.decisions[-1])
        elif finish is not None:
            self.app.switch_screen(ResultScreen(self.scenario, self.mode, self.play, self.play.result()))
        if self.play.finished:
            self._waiting.clear()
        while self._waiting and not self.saving:  # the keys typed meanwhile, until one saves again
            self._waiting.pop(0)()

    def _replayed(self, decisions: list[Any]) -> Playthrough:
        play = Playthrough(self.scenario, seed=self.seed)
        for made in decisions:
            play.choose(made.choice_id)
        return play

    def _show_status(self, text: str, error: bool) -> None:
        status = self.query_one("#save-status", Static)
        status.update(literal(text))  # the store's words name a file: shown as written, never markup
        status.display = bool(text)
        status.set_class(error, "error")

    def action_retry_save(self) -> None:
        if self.saving or self.save_error is None:
            return
        if self.unsaved is not None:
            self.choose(self.unsaved)
        elif self.play.finished and self.attempt_id is not None:
            result = self.play.result()
            self._save(finish={"passed": result.passed, "ending_node": result.ending_node,
                               "scores": services.scores_dict(result)})
        else:
            self._save()

    def _after_decision(self, decision: Any) -> None:
        """A decision is recorded: show it, its feedback and what comes next (or the result)."""
        self.last_cites = list(decision.cites)
        # The coach's own line, then (practice mode) the feedback, then what happens next.
        self._render_lines(self.shown + 1)
        if self.mode == PRACTICE:
            self.query_one("#transcript", VerticalScroll).mount(self._feedback(decision))
        self._render_lines(len(self.play.transcript))
        if self.play.finished:  # recorded with its outcome, in the same transaction
            self.app.switch_screen(ResultScreen(self.scenario, self.mode, self.play, self.play.result()))
        else:
            self._show_choices()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """In assessment mode the cited policy waits for the end, so its key is not offered; the
        retry key shows only while a save has failed."""
        if action == "cited" and self.mode != PRACTICE:
            return False
        if action == "retry_save":
            return self.save_error is not None
        return True

    def action_cited(self) -> None:
        if self._later(self.action_cited):
            return
        entries = [e for e in (self.iwp.library.entry(i) for i in self.last_cites) if e is not None]
        if not entries:
            self.notify("Make a choice first: its cited policy answer shows here.", severity="warning")
            return
        self.app.push_screen(EntryScreen(entries, heading="Cited policy answer"))

    def action_leave(self) -> None:
        if self._later(self.action_leave):
            return
        if not self.play.decisions:
            self._abandon_and_leave()
            return

        def decided(answer: str | None) -> None:
            if answer == "keep":
                self.app.pop_screen()
            elif answer == "abandon":
                self._abandon_and_leave()

        self.app.push_screen(
            ChoiceScreen("Leave this scenario?",
                         "Your decisions so far are saved. Keep the attempt to resume it later, or abandon it.",
                         [("keep", "Keep for later"), ("abandon", "Abandon"), ("cancel", "Carry on")]),
            decided)


    def _abandon_and_leave(self) -> None:
        """Abandon this attempt in a worker, then go back to the list (which then shows it gone).
        Keys meanwhile wait, as they do for a save."""
        if self.attempt_id is None:
            self.app.pop_screen()
            return
        self.saving = True
        self._show_status("Abandoning…", error=False)

        def leave() -> None:
            self.saving = False
            self._show_status("", error=False)
            if self.app.screen is self:  # (not if a dialog was opened meanwhile: Esc again leaves)
                self.app.pop_screen()

        abandon_in_worker(self, [self.attempt_id], then=leave)


class ResultScreen(IwpScreen):
    """The end of an attempt: PASS or FAIL in words, a bar per dimension, the debrief."""

    MODE = "practise"
    AUTO_FOCUS = "#result-scroll"
    BINDINGS = [
        Binding("r", "retry", "Retry"),
        Binding("v", "review", "Policy"),
        Binding("n", "next", "Next"),
        Binding("escape", "back", "List"),
    ]
    HELP = PractiseScreen.HELP

    def __init__(self, scenario: Any, mode: str, play: Any, result: Any) -> None:
        super().__init__()
        self.scenario = scenario
        self.mode = mode
        self.play = play
        self.result = result

    def compose_body(self) -> ComposeResult:
        result = self.result
        lib = self.iwp.library
        with VerticalScroll(id="result-scroll"):
            verdict = result_words(result.passed)
            yield Static(Content.assemble((f" {verdict} ", "bold reverse"), "  ",
                                          literal(self.scenario.title, "bold", single_line=True),
                                          "  ", (f"Score {round(result.score * 100)}%", "bold")),
                         id="verdict", classes="pass" if result.passed else "fail")
            yield Static(self._explain(), id="verdict-reason")
            with Vertical(id="score-bars"):
                for dim, score in result.scores.items():
                    yield ScoreBar(lib.dimension_name(dim), score.earned, score.best, score.fraction,
                                   passed=score.reaches(result.pass_mark))
            items = debrief(result, lib.kb)
            yield Markdown(self._debrief_markdown(items), id="debrief")
            yield Static(Content.styled("r retry · v review the cited policy answers · n next scenario · "
                                        "Esc back to the list", "dim"), id="result-keys")

    def _explain(self) -> Content:
        result = self.result
        parts = [f"Ending: {result.ending_title}."] if result.ending_title else []
        if result.ending_text:
            parts.append(result.ending_text.strip())  # what happened, in the scenario's words for this path
        weakest = result.weakest
        if weakest is not None and len(result.scores) > 1:
            parts.append(f"Your score is your weakest dimension's: {self.iwp.library.dimension_name(weakest)} "
                         f"{round(result.score * 100)}%.")
        if result.critical_taken:
            parts.append("A critical mistake was made, so the attempt cannot pass.")
        low = [self.iwp.library.dimension_name(d) for d in result.below_pass_mark]
        if low:
            parts.append(f"Below the pass mark of {round(result.pass_mark * 100)}%: {', '.join(low)}.")
        if result.passed:
            parts.append(f"Every dimension reached the pass mark of {round(result.pass_mark * 100)}%.")
        return literal(" ".join(parts))

    def _debrief_markdown(self, items: list[Any]) -> str:
        """Every decision explained: why the choice scored as it did, why the best was better,
        and the source it rests on (the KB entry's text, with its citation)."""
        name = self.iwp.library.dimension_name

        def points(table: dict[str, int]) -> str:
            return ", ".join(f"{name(d)} {p:+d}" for d, p in table.items() if p) or "no points"

        out = ["## Debrief", ""]
        for n, item in enumerate(items, 1):
            mark = "✗✗ critical" if item.critical else ("✓ best" if item.is_best else "✗ not the best")
            out.append(f"**{n}. You chose** ({mark}; {_md(points(item.points))}): {_md(item.chosen_text)}")
            out.append("")
            out.append(f"- *Why:* {_md(item.why)}")
            if not item.is_best:
                for i, text in enumerate(item.best_texts):
                    out.append(f"- *Best:* {_md(text)}")
                    reason = item.best_feedback[i] if i < len(item.best_feedback) else ""
                    gained = item.best_points[i] if i < len(item.best_points) else {}
                    out.append(f"  - *Why it is better* ({_md(points(gained))}): "
                               f"{_md(reason or 'it scores nothing itself, but leads to the most points still available.')}")
            out.append("")
            for cited in item.sources:
                if not cited.found:
                    continue
                out.append(f"*Source:* **{_md(cited.title)}** ({_md(cited.citation)})")
                out.append("")
                body = printable(cited.body.strip())
                if len(body) > PAGE_CHARS:  # a huge entry would freeze the result screen: its first page
                    body = split_pages(body)[0].rstrip() + "\n\n*(The answer continues: press v to read it all.)*"
                out.extend(f"> {line}" if line.strip() else ">" for line in body.splitlines())
                out.append("")
        return "\n".join(out)

    def cited_entries(self) -> list[Any]:
        seen: list[str] = []
        for decision in self.result.decisions:
            for entry_id in decision.cites:
                if entry_id not in seen:
                    seen.append(entry_id)
        return [e for e in (self.iwp.library.entry(i) for i in seen) if e is not None]

    def action_retry(self) -> None:
        self.app.switch_screen(PlayScreen(self.scenario, self.mode))

    def action_review(self) -> None:
        entries = self.cited_entries()
        if not entries:
            self.notify("No policy answers were cited in this attempt.", severity="warning")
            return
        self.app.push_screen(EntryScreen(entries, heading="Cited policy answers"))

    def action_next(self) -> None:
        order = sorted(self.iwp.library.scenarios.values(), key=lambda s: (s.level != "new", s.title.casefold()))
        ids = [s.id for s in order]
        if not ids:
            return
        index = ids.index(self.scenario.id) if self.scenario.id in ids else -1
        self.app.switch_screen(PlayScreen(order[(index + 1) % len(order)], self.mode))

    def action_back(self) -> None:
        self.app.pop_screen()
