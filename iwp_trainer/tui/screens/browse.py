"""Browse: the knowledge base as a tree by source document and section, plus the glossary.

The tree takes its width from the terminal (about half, leaving the entry room to read) and the
coach can widen or narrow it with > and < (remembered).

The right-hand pane is built whole for each tree line (title, source, body, terms, related, citing
scenarios) in a worker, hidden, and swapped in at once: after quick arrow presses it may lag behind
the cursor for a moment, but never shows one entry's title over another's body, and a render the
cursor has moved past is dropped unseen. The learner's passed scenarios (for the citing list and
``s``) are read once per visit and again only when progress changes, not on every highlight."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static, Tree

from iwp_trainer.tui import services
from iwp_trainer.tui.messages import ShowEntry
from iwp_trainer.tui.pages import PagedMarkdown
from iwp_trainer.tui.safe import literal, literal_text
from iwp_trainer.tui.screens.ask import related_list, terms_line
from iwp_trainer.tui.screens.base import IwpScreen
from iwp_trainer.tui.widgets import EllipsisTree

GLOSSARY = "Glossary"
TERMS_CHARS = 20_000  # acronyms are looked for in the start of a huge entry, not all of it
TREE_SHARE = 50  # per cent of the terminal's width the tree takes at first
TREE_STEP = 5  # < and > change it by this much
TREE_SHARE_KEY = "browse_tree_share"
QUICK_KEYS = 0.1  # highlights closer together than this (s) are a key held or tapped fast ...
SETTLE = 0.05  # ... so the pane waits this long (s) for the next before building anything


def tree_width(terminal: int, share: int) -> int:
    """The tree's width in cells: ``share`` per cent of the terminal, at least 24 cells, and never so
    wide that the entry has fewer than 30."""
    return max(24, min(round(terminal * share / 100), terminal - 30))


def natural_key(text: str) -> list[Any]:
    """Sort "section 10" after "section 5"."""
    return [int(part) if part.isdigit() else part.casefold() for part in re.split(r"(\d+)", text)]


@dataclass
class PaneView:
    """Everything the right-hand pane shows for one tree line, gathered before any of it is drawn,
    with what the keys act on while it is shown (1-9 the related entries, s the first citing)."""

    key: tuple[str, str]  # the tree line's data: ("entry", id), ("term", term), ("section", name) ...
    title: Content
    body: str  # Markdown
    citation: Content | str = ""
    terms: Content | str = ""
    related: Widget | None = None
    cited: Content | str = ""
    entry: Any = None
    related_entries: list[Any] = field(default_factory=list)
    citing: list[Any] = field(default_factory=list)
    passed: frozenset[str] = frozenset()  # the passed scenarios its citing list was ranked with


class EntryPane(Vertical):
    """One tree line's whole pane. Built hidden and shown in one step, so its parts always agree."""

    DEFAULT_CSS = "EntryPane { height: auto; }"

    def __init__(self, view: PaneView, *, shown: bool = True) -> None:
        super().__init__(classes="entry-pane")
        self.view = view
        self.display = shown

    def compose(self) -> ComposeResult:
        view = self.view
        yield Static(view.title, id="entry-title", classes="answer-title")
        yield Static(view.citation, id="entry-citation", classes="citation")
        yield PagedMarkdown(view.body, id="entry-body")  # a page at a time: a huge entry cannot freeze the app
        yield Static(view.terms, id="entry-terms", classes="terms")
        with Vertical(id="entry-related"):
            if view.related is not None:
                yield view.related
        yield Static(view.cited, id="entry-cited-by", classes="related")

    @property
    def body(self) -> PagedMarkdown:
        return self.query_one("#entry-body", PagedMarkdown)


class BrowseScreen(IwpScreen):
    MODE = "browse"
    AUTO_FOCUS = "#kb-tree"
    BINDINGS = [
        Binding("1", "related(1)", "Related", key_display="1-9"),
        *[Binding(str(n), f"related({n})", show=False) for n in range(2, 10)],
        Binding("s", "scenarios", "Practise it"),
        Binding("right_square_bracket", "page(1)", "Next page", key_display="]"),
        Binding("left_square_bracket", "page(-1)", "Previous page", key_display="["),
        Binding("less_than_sign", "tree_width(-1)", "Narrower", key_display="<"),
        Binding("greater_than_sign", "tree_width(1)", "Wider", key_display=">"),
    ]
    HELP = """\
### Browse
The knowledge base by **source document** and **section**, then the **glossary** of acronyms and
terms. Move with the arrow keys; **Enter** or **→** opens a branch; the entry shows on the right with
its source, its related entries and the scenarios that cite it.

| key | does |
| --- | --- |
| ↑ ↓ | move in the tree (the entry shows as you move) |
| Enter / Space | open or close a branch |
| 1-9 | open a related entry |
| s | practise the scenario that best matches this entry: one you have not passed yet, citing it most |
| < and > | make the tree narrower or wider (remembered) |
| Tab | move to the entry text (scroll it with ↑ ↓) |
| ] / [ | next / previous page of a long entry (shown a page at a time) |
"""

    def __init__(self) -> None:
        super().__init__()
        self.current: Any = None
        self.related: list[Any] = []
        self.citing: list[Any] = []
        self._pending_entry: str | None = None
        self.tree_share = TREE_SHARE
        self.pane = EntryPane(PaneView(("", ""), Content(""), "Choose an entry on the left."))  # on show
        self._wanted: tuple[str, str, int] | None = None  # the tree line the newest render is for
        self._last_request = 0.0
        self._visit = 0
        self._passed: frozenset[str] = frozenset()
        self._passed_key: tuple[Any, ...] | None = None

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="browse"):
            tree: Tree[tuple[str, str]] = EllipsisTree("Knowledge base", id="kb-tree")
            tree.show_root = False
            tree.guide_depth = 3  # narrower guides leave more room for the questions
            yield tree
            with VerticalScroll(id="entry-view"):
                yield self.pane

    def on_mount(self) -> None:
        try:
            saved = int(self.app.setting(TREE_SHARE_KEY) or TREE_SHARE)  # type: ignore[attr-defined]
        except (TypeError, ValueError):
            saved = TREE_SHARE
        self.tree_share = max(20, min(80, saved))
        super().on_mount()
        self._size_tree()

    def on_resize(self) -> None:
        self._size_tree()

    def on_screen_resume(self) -> None:  # (Textual runs IwpScreen's handler as well, after this one)
        self._visit += 1  # progress may have changed elsewhere (Practise, another window): read it again
        self._refresh_marks()

    def learner_changed(self) -> None:
        self._refresh_marks()

    def _refresh_marks(self) -> None:
        """Redraw the entry on show if the scenarios its citing list marks as passed have changed."""
        if self.current is not None and self._passed_ids() != self.pane.view.passed:
            self._request(("entry", self.current.id), force=True)

    def _size_tree(self) -> None:
        self.query_one("#kb-tree", Tree).styles.width = tree_width(self.size.width or 100, self.tree_share)

    def action_tree_width(self, direction: int) -> None:
        share = max(20, min(80, self.tree_share + direction * TREE_STEP))
        if share == self.tree_share:
            return
        self.tree_share = share
        self._size_tree()
        self.app.remember(TREE_SHARE_KEY, share)  # type: ignore[attr-defined]

    def refresh_data(self) -> None:
        lib = self.iwp.library
        tree = self.query_one("#kb-tree", Tree)
        tree.clear()
        documents: dict[str, dict[str, list[Any]]] = {}
        for entry in lib.entries.values():
            documents.setdefault(entry.source_document, {}).setdefault(entry.source_section, []).append(entry)
        for document in sorted(documents, key=natural_key):
            doc_node = tree.root.add(literal_text(document), data=("document", document), expand=True)
            for section in sorted(documents[document], key=natural_key):
                entries = documents[document][section]
                sec_node = doc_node.add(literal_text(f"{section} ({len(entries)})"), data=("section", section),
                                        expand=True)
                for entry in sorted(entries, key=lambda e: e.label.casefold()):
                    sec_node.add_leaf(literal_text(entry.label), data=("entry", entry.id))
        terms = services.glossary_terms(lib.glossary)
        if terms:
            gloss = tree.root.add(f"{GLOSSARY} ({len(terms)})", data=("glossary", GLOSSARY))
            for term, _meaning in terms:
                gloss.add_leaf(literal_text(term), data=("term", term))
        if self._pending_entry:
            self.show_entry(self._pending_entry)
        elif self.current is not None and getattr(self.current, "id", None) in lib.entries:
            self.show_entry(self.current.id)
        else:
            tree.move_cursor_to_line(0)

    # --- showing -------------------------------------------------------------------------------

    @on(ShowEntry)
    def show_entry_message(self, message: ShowEntry) -> None:
        self.show_entry(message.entry_id)

    def show_entry(self, entry_id: str) -> None:
        """Select an entry in the tree and show it (from the palette, a link or a related key)."""
        if self._seen_revision != self.iwp.library_revision:  # not drawn yet: apply once it is
            self._pending_entry = entry_id
            return
        self._pending_entry = None
        tree = self.query_one("#kb-tree", Tree)
        for node in _walk(tree.root):
            if node.data == ("entry", entry_id):
                parent = node.parent
                while parent is not None:
                    parent.expand()
                    parent = parent.parent
                self.call_after_refresh(tree.move_cursor, node)
                break
        if self.iwp.library.entry(entry_id) is not None:
            self._request(("entry", entry_id))

    @on(Tree.NodeHighlighted, "#kb-tree")
    def node_highlighted(self, event: Tree.NodeHighlighted[tuple[str, str]]) -> None:
        kind, key = event.node.data or ("", "")
        if kind in ("document", "section", "glossary"):
            count = sum(1 for n in _walk(event.node) if n.data and n.data[0] in ("entry", "term"))
            self._request((kind, key), lambda: self._branch_view((kind, key), count,
                                                                  "terms" if kind == "glossary" else "entries"))
        elif kind in ("entry", "term"):
            self._request((kind, key))

    def _request(self, key: tuple[str, str], build: Callable[[], PaneView | None] | None = None, *,
                 force: bool = False) -> None:
        """Show the tree line ``key`` (built by ``build``, else as an entry or a term), unless it is
        already on show or on its way."""
        wanted = (*key, self.iwp.library_revision)
        if wanted == self._wanted and not force:
            return
        self._wanted = wanted
        now = time.monotonic()
        quick, self._last_request = now - self._last_request < QUICK_KEYS, now
        self._render_pane(wanted, build or (lambda: self._view(key)), quick)

    @work(exclusive=True, group="entry-pane")
    async def _render_pane(self, wanted: tuple[str, str, int], build: Callable[[], PaneView | None],
                           quick: bool) -> None:
        """Build the pane hidden, then swap it in. A newer highlight cancels this (exclusive), so only
        the newest lands; one cancelled before it is drawn is removed unseen."""
        if quick:  # the next key is probably on its way: let it replace this before any work
            await asyncio.sleep(SETTLE)
        view = build()
        if view is None:
            return
        pane = EntryPane(view, shown=False)
        landed = False
        try:
            await self.query_one("#entry-view", VerticalScroll).mount(pane)  # the Markdown is laid out inside
            if wanted == self._wanted:
                self._swap(pane)
                landed = True
        finally:
            if not landed:
                pane.remove()

    def _swap(self, pane: EntryPane) -> None:
        old, self.pane = self.pane, pane
        view = pane.view
        with self.app.batch_update():
            old.display = False
            pane.display = True
            old.remove()
            self.current, self.related, self.citing = view.entry, view.related_entries, view.citing
            self.query_one("#entry-view", VerticalScroll).scroll_home(animate=False)
        self.refresh_bindings()  # the page keys are offered only for an entry with pages

    def _view(self, key: tuple[str, str]) -> PaneView | None:
        kind, name = key
        if kind == "term":
            return self._term_view(name)
        entry = self.iwp.library.entry(name)
        return None if entry is None else self._entry_view(entry)

    def _passed_ids(self) -> frozenset[str]:
        """The scenarios this learner has passed: read once per visit, then again only when this
        app records progress (the store's revision) or the learner changes."""
        store = self.iwp.store
        learner = self.iwp.learner or "guest"
        key = (learner, id(store), getattr(store, "revision", None), self._visit)
        if key != self._passed_key:
            best = services.best_by_scenario(store, learner)
            self._passed = frozenset(sid for sid, result in best.items() if result.passed)
            self._passed_key = key
        return self._passed

    def _entry_view(self, entry: Any) -> PaneView:
        lib = self.iwp.library
        related = [lib.entries[i] for i in entry.related if i in lib.entries]
        passed = self._passed_ids()
        citing = services.rank_citing(lib.cited_by.get(entry.id, []), entry.id, set(passed))
        terms = services.acronyms(f"{entry.question}\n{entry.body[:TERMS_CHARS]}", lib.glossary)
        if citing:
            lines = [Content.styled("Scenarios that cite it (s practises the first):", "bold")]
            for scenario in citing:
                mark = "✓ passed" if scenario.id in passed else "not passed yet"
                count = services.citations(scenario, entry.id)
                lines.append(literal(f"  • {scenario.title} ({scenario.level}; {mark}; "
                                     f"cites it {count} time{'s' if count != 1 else ''})", single_line=True))
            cited = Content("\n").join(lines)
        else:
            cited = Content.styled("No scenario cites this entry yet.", "dim")
        return PaneView(
            ("entry", entry.id), literal(entry.question, "bold"), entry.body,
            citation=Content.assemble(("Source: ", "bold"), literal(entry.citation)),
            terms=terms_line(terms).render() if terms else "",
            related=(related_list("Related (press the number to open):", [e.question for e in related])
                     if related else None),
            cited=cited, entry=entry, related_entries=related, citing=citing, passed=passed)

    def _term_view(self, term: str) -> PaneView:
        meaning = dict(services.glossary_terms(self.iwp.library.glossary)).get(term, "")
        glossary = self.iwp.library.glossary
        aliases: tuple[str, ...] = ()
        if glossary is not None and term in getattr(glossary, "terms", {}):
            aliases = tuple(getattr(glossary.terms[term], "forms", ())[1:])  # once each, whatever the case
        return PaneView(
            ("term", term), literal(term, "bold"), meaning,
            citation=Content.styled("Glossary (kb/glossary.yaml)", "dim"),
            related=(Static(Content.assemble(("Also written: ", "bold"), literal(", ".join(aliases))),
                            classes="related") if aliases else None))

    @staticmethod
    def _branch_view(key: tuple[str, str], count: int, what: str) -> PaneView:
        return PaneView(key, literal(key[1], "bold"),
                        f"{count} {what}. Press Enter to open or close the branch, ↓ to choose one.")

    # --- keys ----------------------------------------------------------------------------------

    def action_related(self, n: int) -> None:
        if not self.related:
            self.notify("This entry has no related entries.", severity="warning")
        elif n > len(self.related):
            self.notify(f"There are only {len(self.related)} related entries.", severity="warning")
        else:
            self.show_entry(self.related[n - 1].id)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The page keys are offered only for an entry long enough to have pages."""
        if action == "page":
            return self.pane.is_mounted and self.pane.body.paged
        return True

    def action_page(self, delta: int) -> None:
        if self.pane.body.turn(delta):
            self.query_one("#entry-view", VerticalScroll).scroll_home(animate=False)

    def action_scenarios(self) -> None:
        if not self.citing:
            self.notify("No scenario cites this entry.", severity="warning")
            return
        self.iwp.open_scenario(self.citing[0].id, play=True)  # ranked: not yet passed, most citations


def _walk(node: Any) -> list[Any]:
    out = [node]
    for child in node.children:
        out.extend(_walk(child))
    return out
