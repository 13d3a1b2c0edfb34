"""Browse: the knowledge base as a tree by source document and section, plus the glossary.

The tree takes its width from the terminal (about half, leaving the entry room to read) and the
coach can widen or narrow it with > and < (remembered)."""

from __future__ import annotations

import re
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
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


def tree_width(terminal: int, share: int) -> int:
    """The tree's width in cells: ``share`` per cent of the terminal, at least 24 cells, and never so
    wide that the entry has fewer than 30."""
    return max(24, min(round(terminal * share / 100), terminal - 30))


def natural_key(text: str) -> list[Any]:
    """Sort "section 10" after "section 5"."""
    return [int(part) if part.isdigit() else part.casefold() for part in re.split(r"(\d+)", text)]


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

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="browse"):
            tree: Tree[tuple[str, str]] = EllipsisTree("Knowledge base", id="kb-tree")
            tree.show_root = False
            tree.guide_depth = 3  # narrower guides leave more room for the questions
            yield tree
            with VerticalScroll(id="entry-view"):
                yield Static("", id="entry-title", classes="answer-title")
                yield Static("", id="entry-citation", classes="citation")
                yield PagedMarkdown("Choose an entry on the left.", id="entry-body")
                yield Static("", id="entry-terms", classes="terms")
                yield Vertical(id="entry-related")
                yield Static("", id="entry-cited-by", classes="related")

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
        entry = self.iwp.library.entry(entry_id)
        if entry is not None:
            self._display_entry(entry)

    def _display_entry(self, entry: Any) -> None:
        lib = self.iwp.library
        self.current = entry
        self.related = [lib.entries[i] for i in entry.related if i in lib.entries]
        passed = {sid for sid, best in services.best_by_scenario(self.iwp.store, self.iwp.learner or "guest").items()
                  if best.passed}
        self.citing = services.rank_citing(lib.cited_by.get(entry.id, []), entry.id, passed)
        self.query_one("#entry-title", Static).update(literal(entry.question, "bold"))
        self.query_one("#entry-body", PagedMarkdown).update(entry.body)  # a page at a time: a huge entry cannot freeze the app
        self.query_one("#entry-citation", Static).update(Content.assemble(("Source: ", "bold"), literal(entry.citation)))
        terms = services.acronyms(f"{entry.question}\n{entry.body[:TERMS_CHARS]}", lib.glossary)
        self.query_one("#entry-terms", Static).update(terms_line(terms).render() if terms else "")
        self._set_related(related_list("Related (press the number to open):", [e.question for e in self.related])
                          if self.related else None)
        cited = self.query_one("#entry-cited-by", Static)
        if self.citing:
            lines = [Content.styled("Scenarios that cite it (s practises the first):", "bold")]
            for scenario in self.citing:
                mark = "✓ passed" if scenario.id in passed else "not passed yet"
                count = services.citations(scenario, entry.id)
                lines.append(literal(f"  • {scenario.title} ({scenario.level}; {mark}; "
                                     f"cites it {count} time{'s' if count != 1 else ''})", single_line=True))
            cited.update(Content("\n").join(lines))
        else:
            cited.update(Content.styled("No scenario cites this entry yet.", "dim"))
        self.query_one("#entry-view", VerticalScroll).scroll_home(animate=False)

    def _display_term(self, term: str) -> None:
        self.current = None
        self.related, self.citing = [], []
        meaning = dict(services.glossary_terms(self.iwp.library.glossary)).get(term, "")
        glossary = self.iwp.library.glossary
        aliases: tuple[str, ...] = ()
        if glossary is not None and term in getattr(glossary, "terms", {}):
            aliases = tuple(getattr(glossary.terms[term], "forms", ())[1:])  # once each, whatever the case
        self.query_one("#entry-title", Static).update(literal(term, "bold"))
        self.query_one("#entry-body", PagedMarkdown).update(meaning)
        self.query_one("#entry-citation", Static).update(Content.styled("Glossary (kb/glossary.yaml)", "dim"))
        self._set_related(Static(Content.assemble(("Also written: ", "bold"), literal(", ".join(aliases))),
                                 classes="related")
                          if aliases else None)
        self.query_one("#entry-cited-by", Static).update("")
        self.query_one("#entry-terms", Static).update("")

    def _display_branch(self, label: str, count: int, what: str) -> None:
        self.current = None
        self.related, self.citing = [], []
        self.query_one("#entry-title", Static).update(literal(label, "bold"))
        self.query_one("#entry-body", PagedMarkdown).update(
            f"{count} {what}. Press Enter to open or close the branch, ↓ to choose one.")
        for name in ("#entry-citation", "#entry-cited-by", "#entry-terms"):
            self.query_one(name, Static).update("")
        self._set_related(None)

    def _set_related(self, widget: Any) -> None:
        holder = self.query_one("#entry-related", Vertical)
        holder.remove_children()
        if widget is not None:
            holder.mount(widget)

    @on(Tree.NodeHighlighted, "#kb-tree")
    def node_highlighted(self, event: Tree.NodeHighlighted[tuple[str, str]]) -> None:
        kind, key = event.node.data or ("", "")
        if kind == "entry":
            entry = self.iwp.library.entry(key)
            if entry is not None:
                self._display_entry(entry)
        elif kind == "term":
            self._display_term(key)
        elif kind in ("document", "section", "glossary"):
            count = sum(1 for n in _walk(event.node) if n.data and n.data[0] in ("entry", "term"))
            self._display_branch(key, count,
                                 "terms" if kind == "glossary" else "entries")

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
            return self.query_one("#entry-body", PagedMarkdown).paged
        return True

    def action_page(self, delta: int) -> None:
        body = self.query_one("#entry-body", PagedMarkdown)
        if body.turn(delta):
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
