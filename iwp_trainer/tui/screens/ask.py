"""Ask: a chat over the knowledge base, with the source of every answer on screen.

The answerer decides what is answered and how confidently; this screen only shows it: the entry as
Markdown with its citation, related questions a single key away, and an honest "I can't answer
that" pointing to the line manager or district support when there is no confident answer.
"""

from __future__ import annotations

from typing import Any

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import Input, Label, Markdown, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from iwp_trainer.tui import services
from iwp_trainer.tui.pages import PagedMarkdown
from iwp_trainer.tui.safe import literal, notify
from iwp_trainer.tui.screens.base import IwpScreen

MAX_RELATED = 9
SUGGESTION_ROWS = 5
WELCOME = (
    "Ask a question about the **In-Work Progression trial**, in your own words. "
    "Answers come only from the knowledge base, which is written from the *IWP trial FAQ* and the "
    "*OBR Welfare trends report (January 2018)*, and every answer shows its source.\n\n"
    "Try: *Can I move a claimant between the trial and control groups?*"
)
PLACEHOLDER = "Ask a question about the IWP trial, then press Enter"
ALT_DIGITS = frozenset(f"alt+{n}" for n in range(1, 10))
NUMBERS_HINT = "Alt+1-9 opens a numbered question; or type a new question"
NO_ANSWER_ADVICE = "Please check with your [b]line manager[/b] or [b]district support[/b]."


def entry_title(entry: Any) -> str:
    return str(getattr(entry, "title", None) or getattr(entry, "question", "") or entry.id)


def entry_citation(entry: Any) -> str:
    citation = getattr(entry, "citation", None)
    if citation:
        return str(citation)
    parts = [getattr(entry, "source_document", ""), getattr(entry, "source_section", "")]
    return ", ".join(p for p in parts if p)


class KBSuggester(Suggester):
    """Completes what the coach is typing with a KB question or alias that starts the same way."""

    def __init__(self, phrases: list[str]) -> None:
        super().__init__(use_cache=True, case_sensitive=False)
        seen: set[str] = set()
        self._phrases: list[tuple[str, str]] = []
        for phrase in phrases:
            key = phrase.casefold()
            if phrase and key not in seen:
                seen.add(key)
                self._phrases.append((key, phrase))

    async def get_suggestion(self, value: str) -> str | None:
        if len(value) < 3:
            return None
        for key, phrase in self._phrases:
            if key.startswith(value) and len(key) > len(value):
                return phrase
        return None


class AskInput(Input):
    """The question box: Up/Down recall earlier questions; in an empty box ? opens help. Digits are
    always text ("16 hours a week, is that enough" starts a question, even right after an answer
    listing numbered questions); Alt+1-9 open the numbered questions (``number_keys``: the box
    says so in its placeholder)."""

    class KeyWhenEmpty(Message):
        """A key that means a command (not text) because the box is empty."""

        def __init__(self, key: str) -> None:
            self.key = key
            super().__init__()

    class DownFromInput(Message):
        """Down pressed with no later history: the screen may move focus to the suggestions."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.history: list[str] = []
        self._cursor: int | None = None  # index into history while recalling
        self.number_keys = False

    def remember(self, question: str) -> None:
        if question and (not self.history or self.history[-1] != question):
            self.history.append(question)
        self._cursor = None

    def _recalled(self) -> bool:
        return self._cursor is not None and self.value == self.history[self._cursor]

    async def _on_key(self, event: events.Key) -> None:
        if not self.value and event.character == "?":
            event.stop()
            event.prevent_default()
            self.post_message(self.KeyWhenEmpty(event.character))
            return
        if event.key in ALT_DIGITS:  # never text, whatever the terminal sends with it
            event.stop()
            event.prevent_default()
            self.post_message(self.KeyWhenEmpty(event.key[-1]))
            return
        if event.key == "up" and self.history and (not self.value or self._recalled()):
            event.stop()
            event.prevent_default()
            self._cursor = len(self.history) - 1 if self._cursor is None else max(0, self._cursor - 1)
            self.value = self.history[self._cursor]
            self.cursor_position = len(self.value)
            return
        if event.key == "down":
            event.stop()
            event.prevent_default()
            if self._recalled() and self._cursor is not None and self._cursor < len(self.history) - 1:
                self._cursor += 1
                self.value = self.history[self._cursor]
                self.cursor_position = len(self.value)
            elif self._recalled():
                self._cursor = None
                self.value = ""
            else:
                self.post_message(self.DownFromInput())
            return
        await super()._on_key(event)


def related_list(heading: str, titles: list[str], start: int = 0) -> Vertical:
    """A heading and numbered lines whose wrapped text stays clear of the numbers (from ``start``)."""
    rows: list[Any] = [Static(Content.styled(heading, "bold"))]
    for n, title in list(enumerate(titles, start=1))[start:]:
        rows.append(Horizontal(Static(Content.styled(f"[{n}]", "bold"), classes="related-key"),
                               Static(literal(title), classes="related-text"), classes="related-row"))
    return Vertical(*rows, classes="related")


def terms_line(terms: list[tuple[str, str]]) -> Static:
    """The acronyms an answer uses, spelled out from the glossary."""
    pieces: list[Content | str] = [Content.styled("Terms: ", "bold")]
    for n, (term, meaning) in enumerate(terms):
        pieces += [" · " if n else "", literal(term, "bold"), literal(f" {meaning}")]
    return Static(Content.assemble(*pieces), classes="terms")


class Exchange(Vertical):
    """One question and its answer in the conversation."""

    def __init__(self, question: str, *, opened: bool = False, typed: str = "") -> None:
        super().__init__(classes="exchange")
        self.question = question
        self.opened = opened
        # For an entry opened from a suggestion or a related list: the question the coach had
        # typed, so "didn't help" can be recorded against their own words.
        self.typed = typed
        self.answer: Any = None
        self.related: list[Any] = []
        self.answered: bool | None = None
        self.helpful: bool | None = None
        self.suggested: Any = None  # the entry a "did you mean …?" offers

    def compose(self) -> ComposeResult:
        who = "Opened" if self.opened else "You"
        yield Static(Content.assemble((f"{who}: ", "bold"), literal(self.question)), classes="question")
        yield Static(Content.styled("Looking for an answer…", "italic"), classes="pending")

    def show_entry(self, entry: Any, related: list[Any], note: str = "",
                   terms: list[tuple[str, str]] | None = None) -> None:
        """Show a KB entry as the answer: title, body, citation, numbered related questions."""
        self.answered = True
        self.related = related[:MAX_RELATED]
        # The source sits right under the title so it is on screen even when the body is long.
        parts: list[Any] = [Static(literal(entry_title(entry), "bold"), classes="answer-title"),
                            Static(Content.assemble(("Source: ", "bold"), literal(entry_citation(entry))),
                                   classes="citation")]
        if note:
            parts.append(Static(literal(note, "italic"), classes="answer-note"))
        parts.append(PagedMarkdown(getattr(entry, "body", "") or "", keys="open it in Browse (F3) to read every page.",
                                   classes="answer-body"))
        if terms:
            parts.append(terms_line(terms))
        if self.related:
            parts.append(self._related_list("Related questions"))
        self._show_card("Answer", parts, "answer")

    def show_suggestion(self, entry: Any, others: list[Any], note: str = "") -> None:
        """Likely but not certain: name the entry; Enter or Alt+1 opens it, the others stay listed."""
        self.answered = False
        self.suggested = entry
        self.related = [entry, *[o for o in others if o.id != entry.id]][:MAX_RELATED]
        parts: list[Any] = [Static(Content.assemble(("Did you mean: ", "bold"), literal(entry_title(entry))),
                                   classes="answer-title"),
                            Static(Content.assemble(("Source: ", "bold"), literal(entry_citation(entry))),
                                   classes="citation")]
        if note:
            parts.append(Static(literal(note, "italic"), classes="answer-note"))
        parts.append(Static("Press Enter or Alt+1 to open its answer. It may not be what you asked; if it is not, "
                            "check with your line manager or district support.", classes="answer-note"))
        if len(self.related) > 1:
            parts.append(related_list("Other close questions (Alt+number to open):",
                                      [entry_title(e) for e in self.related], start=1))
        self._show_card("Did you mean…?", parts, "answer suggestion")

    def show_definition(self, term: str, meaning: str, entry: Any) -> None:
        """A glossary definition, marked as such, with the KB entry about the term a key away."""
        self.answered = True
        self.related = [entry] if entry is not None else []
        parts: list[Any] = [Static(Content.assemble(literal(term, "bold"), " (definition from the glossary)"),
                                   classes="answer-title"),
                            Static(literal(meaning), classes="definition")]
        if entry is not None:
            parts.append(self._related_list("In the knowledge base"))
        self._show_card("Definition", parts, "answer definition")

    def show_no_answer(self, reason: str, closest: list[Any], note: str = "") -> None:
        """No confident answer: say so, list the closest topics, point to people who can help."""
        self.answered = False
        self.related = closest[:MAX_RELATED]
        parts: list[Any] = [Static(Content.styled("I can't answer that with confidence from the IWP guidance.",
                                                  "bold"), classes="answer-title")]
        if note:
            parts.append(Static(literal(note, "italic"), classes="answer-note"))
        if reason:
            parts.append(Static(literal(reason), classes="answer-note"))
        if self.related:
            parts.append(self._related_list("Closest topics"))
        else:
            parts.append(Static("Try other words, or look through the topics in Browse (F3).", classes="answer-note"))
        parts.append(Static(Content.from_markup(NO_ANSWER_ADVICE), classes="advice"))
        self._show_card("No confident answer", parts, "answer no-answer")

    def _show_card(self, title: str, parts: list[Any], classes: str) -> None:
        self.remove_children(".pending")
        card = Vertical(*parts, classes=classes)
        card.border_title = title
        self.mount(card)

    def show_error(self, message: str) -> None:
        self.answered = None
        self.remove_children(".pending")
        self.mount(Static(Content.assemble(("Search is unavailable: ", "bold"), literal(message)),
                          classes="answer error"))

    def mark_unhelpful(self) -> None:
        self.helpful = False
        if not self.query(".unhelpful"):
            words = (Content.assemble("✗ Marked “", literal(self.question), "” as not helpful for “", literal(self.typed),
                                      "”. Thank you: it has been recorded for the trainers.")
                     if self.opened else
                     Content("✗ Marked as not helpful. Thank you: it has been recorded for the trainers."))
            self.mount(Static(words, classes="unhelpful"))

    def _related_list(self, heading: str) -> Vertical:
        return related_list(f"{heading} (Alt+number to open):", [entry_title(e) for e in self.related])


class AskScreen(IwpScreen):
    """The home screen: the question box is focused at start."""

    MODE = "ask"
    AUTO_FOCUS = "#question"
    BINDINGS = [
        Binding("alt+1", "related(1)", "Open numbered", key_display="Alt+1-9"),
        *[Binding(f"alt+{n}", f"related({n})", show=False) for n in range(2, 10)],
        Binding("ctrl+n", "not_helpful", "Didn't help"),
        Binding("escape", "clear", "Clear", show=False),
        Binding("pageup", "scroll_conversation(-1)", show=False),
        Binding("pagedown", "scroll_conversation(1)", show=False),
    ]
    HELP = """\
### Ask
Type a question in your own words and press **Enter**. The answer shows its **source**; numbered
**related questions** open with **Alt+1**-**Alt+9** (digits on their own are always part of your
question). When Ask is not sure it asks **Did you mean …?**: **Enter** (in the empty box) or
**Alt+1** opens that answer. "What is CET" gets the glossary definition.

| key | does |
| --- | --- |
| Enter | ask the question |
| Up / Down | recall earlier questions (in an empty or recalled box); Down opens the suggestions |
| → | at the end of the box: accept the suggested completion |
| Alt+1-9 | open a numbered question of the latest answer |
| Enter | in the empty box after "Did you mean …?": open that answer |
| Ctrl+N | mark the latest answer, or the entry you opened for your question, as "didn't help" (recorded for trainers) |
| PgUp / PgDn | scroll the conversation |
| Esc | clear the question box |
"""

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[Exchange] = []

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="index-status"):
            yield Label("Opening the search index…", id="index-label")
            yield ProgressBar(id="index-progress", show_eta=False)
        with VerticalScroll(id="conversation"):
            yield Markdown(WELCOME, id="welcome")
        yield OptionList(id="suggestions")
        yield AskInput(placeholder=PLACEHOLDER, id="question")

    # --- keeping up with the app ---------------------------------------------------------------

    def refresh_data(self) -> None:
        phrases: list[str] = []
        for entry in self.iwp.library.entries.values():
            phrases.append(getattr(entry, "question", ""))
            phrases.extend(getattr(entry, "aliases", ()) or ())
        self.query_one(AskInput).suggester = KBSuggester(phrases)

    def app_state_changed(self) -> None:
        super().app_state_changed()
        status = self.query_one("#index-status")
        label = self.query_one("#index-label", Label)
        bar = self.query_one("#index-progress", ProgressBar)
        if self.iwp.answerer is not None:
            status.display = False
            waiting, self.pending = self.pending, []
            for exchange in waiting:
                self.answer(exchange)
        elif self.iwp.answerer_error:
            status.display = True
            see = " See Problems (F6)." if self.iwp.library.diagnostics else ""
            label.update(literal(f"Ask is unavailable: {self.iwp.answerer_error.rstrip('.')}.{see}"))
            bar.display = False
            for exchange in self.pending:
                exchange.show_error(self.iwp.answerer_error)
            self.pending = []
        else:
            status.display = True
            bar.display = True
            done, total = self.iwp.index_progress
            if total:
                label.update(f"Building the search index: {done} of {total} entries")
                bar.update(total=total, progress=done)
            else:
                label.update("Opening the search index…")
                bar.update(total=None)

    # --- asking --------------------------------------------------------------------------------

    @on(Input.Submitted, "#question")
    async def ask_question(self, event: Input.Submitted) -> None:
        question = event.value.strip()
        if not question:
            latest = self._latest()
            if latest is not None and latest.suggested is not None:
                await self.open_entry(latest.suggested, typed=latest.question)  # Enter accepts "did you mean"
            return
        box = self.query_one(AskInput)
        box.remember(question)
        box.value = ""
        self._hide_suggestions()
        exchange = Exchange(question)
        await self._add(exchange)
        if self.iwp.answerer is not None:
            self.answer(exchange)
        elif self.iwp.answerer_error:
            exchange.show_error(self.iwp.answerer_error)
        else:
            exchange.query_one(".pending", Static).update(
                Content.styled("Waiting for the search index to open; the answer will follow…", "italic"))
            self.pending.append(exchange)

    def answer(self, exchange: Exchange) -> None:
        answer = self.iwp.answerer.ask(exchange.question, top=3)
        self.show_answer(exchange, answer)

    def show_answer(self, exchange: Exchange, answer: Any) -> None:
        exchange.answer = answer
        entries = [m.entry for m in answer.matches]
        corrections = getattr(answer, "corrections", ()) or ()
        note = ("Searched for " + ", ".join(f"“{right}” (you typed “{wrong}”)" for wrong, right in corrections)
                if corrections else "")
        outcome = getattr(answer, "outcome", "answer" if answer.answered else "refusal")
        definition = getattr(answer, "definition", None)
        if outcome == "definition" and definition is not None:
            exchange.show_definition(definition.term, definition.meaning, definition.entry)
        elif outcome == "suggest" and entries:
            exchange.show_suggestion(entries[0], entries[1:], note)
        elif answer.answered and entries:
            best = entries[0]
            exchange.show_entry(best, self._related_for(best, entries[1:]), note, self._terms(best))
        else:
            exchange.show_no_answer(getattr(answer, "reason", "") or "", entries, note)
        self._record(exchange.question, bool(answer.answered and (entries or definition is not None)))
        self._update_hint()
        self.call_after_refresh(self._scroll_to, exchange)

    def _terms(self, entry: Any) -> list[tuple[str, str]]:
        return services.acronyms(f"{entry_title(entry)}\n{getattr(entry, 'body', '')}", self.iwp.library.glossary)

    def _related_for(self, entry: Any, others: list[Any]) -> list[Any]:
        entries = self.iwp.library.entries
        related: list[Any] = []
        seen = {entry.id}
        for candidate in [entries.get(i) for i in getattr(entry, "related", ()) or ()] + others:
            if candidate is not None and candidate.id not in seen:
                seen.add(candidate.id)
                related.append(candidate)
        return related

    def _update_hint(self) -> None:
        """The box says when Alt+1-9 have numbered questions to open."""
        latest = self._latest()
        box = self.query_one(AskInput)
        box.number_keys = bool(latest is not None and latest.related)
        box.placeholder = NUMBERS_HINT if box.number_keys else PLACEHOLDER

    async def open_entry(self, entry: Any, typed: str = "") -> None:
        """Show an entry in the conversation (a related question, a suggestion); ``typed`` is the
        question it was opened for."""
        exchange = Exchange(entry_title(entry), opened=True, typed=typed)
        await self._add(exchange)
        exchange.show_entry(entry, self._related_for(entry, []), terms=self._terms(entry))
        self._update_hint()
        self.call_after_refresh(self._scroll_to, exchange)

    async def _add(self, exchange: Exchange) -> None:
        conversation = self.query_one("#conversation", VerticalScroll)
        await conversation.mount(exchange)
        conversation.scroll_end(animate=False)

    def _scroll_to(self, exchange: Exchange) -> None:
        """Bring the new exchange to the top; again once its Markdown has been laid out."""
        def scroll() -> None:
            if exchange.is_attached:
                self.query_one("#conversation", VerticalScroll).scroll_to_widget(exchange, animate=False, top=True)
        scroll()
        self.set_timer(0.05, scroll)
        self.set_timer(0.25, scroll)

    def _record(self, question: str, answered: bool, helpful: bool | None = None) -> None:
        try:
            self.iwp.store.record_question(self.iwp.learner or "guest", question, answered, helpful=helpful)
        except Exception as exc:
            notify(self, f"Could not record the question: {exc}", severity="warning")

    def _latest(self) -> Exchange | None:
        exchanges = list(self.query(Exchange))
        return exchanges[-1] if exchanges else None

    # --- keys ----------------------------------------------------------------------------------

    async def action_related(self, n: int) -> None:
        latest = self._latest()
        if latest is None or not latest.related:
            self.notify("No related questions to open yet: ask a question first.", severity="warning")
            return
        if n > len(latest.related):
            self.notify(f"There are only {len(latest.related)} related questions.", severity="warning")
            return
        await self.open_entry(latest.related[n - 1], typed=latest.typed if latest.opened else latest.question)

    def action_not_helpful(self) -> None:
        latest = self._latest()
        if latest is None or (latest.opened and not latest.typed) or (not latest.opened and latest.answer is None):
            self.notify("Ask a question first: then Ctrl+N marks its answer as not helpful.", severity="warning")
            return
        if latest.helpful is False:
            return
        latest.mark_unhelpful()
        # An entry opened from a suggestion or a related list counts against the words typed.
        question, answered = (latest.typed, True) if latest.opened else (latest.question, bool(latest.answered))
        self._record(question, answered, helpful=False)
        self.call_after_refresh(self._scroll_to, latest)

    def action_clear(self) -> None:
        box = self.query_one(AskInput)
        if self.focused is not box:
            box.focus()
            return
        box.value = ""
        self._hide_suggestions()

    def action_scroll_conversation(self, direction: int) -> None:
        conversation = self.query_one("#conversation", VerticalScroll)
        if direction < 0:
            conversation.scroll_page_up(animate=False)
        else:
            conversation.scroll_page_down(animate=False)

    @on(AskInput.KeyWhenEmpty)
    async def key_when_empty(self, event: AskInput.KeyWhenEmpty) -> None:
        if event.key == "?":
            self.iwp.action_help()
        else:
            await self.action_related(int(event.key))

    # --- suggestions while typing --------------------------------------------------------------

    @on(Input.Changed, "#question")
    def question_changed(self, event: Input.Changed) -> None:
        text = event.value.strip()
        if len(text) < 3 or self.iwp.answerer is None:
            self._hide_suggestions()
            return
        self.find_suggestions(text)

    @work(thread=True, exclusive=True, group="suggest")
    def find_suggestions(self, text: str) -> None:
        answerer = self.iwp.answerer
        if answerer is None:
            return
        entries = answerer.suggest(text, limit=SUGGESTION_ROWS)
        if get_current_worker().is_cancelled:
            return  # a newer keystroke has its own search: drop these stale results
        self.app.call_from_thread(self._show_suggestions, text, entries)

    def _show_suggestions(self, text: str, entries: list[Any]) -> None:
        if self.query_one(AskInput).value.strip() != text:
            return  # typed on since: stale
        options = self.query_one("#suggestions", OptionList)
        options.clear_options()
        if not entries:
            options.display = False
            return
        options.add_options([Option(literal(entry_title(e), single_line=True), id=e.id) for e in entries])
        options.display = True

    def _hide_suggestions(self) -> None:
        self.workers.cancel_group(self, "suggest")
        options = self.query_one("#suggestions", OptionList)
        options.clear_options()
        options.display = False

    @on(AskInput.DownFromInput)
    def focus_suggestions(self) -> None:
        options = self.query_one("#suggestions", OptionList)
        if options.display and options.option_count:
            options.focus()
            options.highlighted = 0

    @on(OptionList.OptionSelected, "#suggestions")
    async def suggestion_chosen(self, event: OptionList.OptionSelected) -> None:
        entry = self.iwp.library.entry(event.option.id or "")
        box = self.query_one(AskInput)
        typed = box.value.strip()
        box.value = ""
        self._hide_suggestions()
        box.focus()
        if entry is not None:
            await self.open_entry(entry, typed=typed)

    def on_key(self, event: events.Key) -> None:
        options = self.query_one("#suggestions", OptionList)
        if self.focused is options and (
            event.key == "escape" or (event.key == "up" and options.highlighted in (None, 0))
        ):
            event.stop()
            self.query_one(AskInput).focus()
