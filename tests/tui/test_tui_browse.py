"""Browse: the KB tree by document and section, the glossary, citations, related, citing scenarios;
and the command palette that finds any entry, scenario or screen."""

from __future__ import annotations

import asyncio
import re

from textual import events
from textual.command import CommandInput, CommandList, CommandPalette
from textual.widgets import Markdown, Static, Tree

from iwp_trainer.kb import load_kb
from iwp_trainer.tui.screens.browse import BrowseScreen
from iwp_trainer.tui.screens.practise import PlayScreen, PractiseScreen

from tui_helpers import TUI_FIXTURES, ready, wait_for

KB = load_kb(TUI_FIXTURES / "kb")


def pane(screen: BrowseScreen) -> str:
    view = screen.pane  # the one on show (the next may be on its way, hidden)
    return "\n".join([str(w.render()) for w in view.query(Static)] + [w.source for w in view.query(Markdown)])


async def pane_ready(pilot, screen: BrowseScreen) -> None:
    """Wait until the right-hand pane shows what the cursor is on."""
    tree = screen.query_one(Tree)
    await pilot.pause()
    await wait_for(pilot, lambda: tree.cursor_node is not None and (
        tree.cursor_node.data[0] != "entry" or (screen.current is not None
                                                and ("entry", screen.current.id) == tree.cursor_node.data)))
    await pilot.pause()


async def palette_shows(pilot, first: str) -> None:
    """Wait until the palette's best hit is ``first``."""
    def top() -> str:
        hits = pilot.app.screen.query(CommandList)
        if not hits or not hits.first().option_count:
            return ""
        return str(hits.first().get_option_at_index(0).prompt).split("\n")[0]
    await wait_for(pilot, lambda: top() == first)


async def open_browse(pilot) -> BrowseScreen:
    await pilot.press("f3")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, BrowseScreen))
    return pilot.app.screen


async def test_tree_groups_entries_by_document_and_section_then_glossary(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        screen = await open_browse(pilot)
        tree = screen.query_one(Tree)
        top = [str(n.label) for n in tree.root.children]
        documents = sorted({e.source_document for e in KB})
        assert top[:-1] == documents
        assert top[-1] == f"Glossary ({len(KB.glossary)})"
        faq = tree.root.children[documents.index("IWP trial FAQ")]
        sections = sorted({e.source_section for e in KB if e.source_document == "IWP trial FAQ"})
        assert [str(n.label).rsplit(" (", 1)[0] for n in faq.children] == sections
        leaves = [str(leaf.label) for section in faq.children for leaf in section.children]
        assert sorted(leaves) == sorted(e.question for e in KB if e.source_document == "IWP trial FAQ")


async def test_entry_shows_citation_related_and_citing_scenarios(make_app) -> None:
    entry = KB.entries["sanction-duration"]
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        screen = await open_browse(pilot)
        screen.show_entry(entry.id)
        await pane_ready(pilot, screen)
        text = pane(screen)
        assert entry.question in text
        assert f"Source: {entry.citation}" in text
        assert KB.related(entry)[0].question in text
        assert "Can I get my bus fare back? (new; not passed yet; cites it" in text  # fare.yaml cites it
        assert screen.query_one(Tree).cursor_node.data == ("entry", entry.id)
        await pilot.press("1")
        await pane_ready(pilot, screen)
        assert screen.current.id == KB.related(entry)[0].id
        assert screen.query_one(Tree).cursor_node.data == ("entry", screen.current.id)


async def test_glossary_term_shows_its_meaning(make_app) -> None:
    term = KB.glossary.terms["FSF"]
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        screen = await open_browse(pilot)
        tree = screen.query_one(Tree)
        glossary = tree.root.children[-1]
        glossary.expand()
        await pilot.pause()
        node = next(n for n in glossary.children if n.data == ("term", "FSF"))
        tree.move_cursor(node)
        await pane_ready(pilot, screen)
        assert term.meaning in pane(screen)
        assert "Also written: Flexible Support Fund" in pane(screen)
        assert "flexible support fund" not in pane(screen)  # an alias differing only in case is not repeated


async def test_s_practises_a_citing_scenario(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        screen = await open_browse(pilot)
        screen.show_entry("reallocation-not-allowed")
        await pane_ready(pilot, screen)
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        assert app.screen.scenario.id == "swap"


async def test_command_palette_finds_an_entry_by_alias(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        pilot.app.screen.query_one(CommandInput).value = "bus fare"
        await palette_shows(pilot, "Entry: claimant wants money back for bus fare")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, BrowseScreen))
        await pane_ready(pilot, app.screen)
        assert app.screen.current.id == "travel-costs-refund"


async def test_command_palette_finds_a_scenario_and_a_screen(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        pilot.app.screen.query_one(CommandInput).value = "other group"
        await palette_shows(pilot, "Scenario: Can I just be in the other group?")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PractiseScreen))
        await pilot.pause()
        assert app.screen.selected_id() == "swap"
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        pilot.app.screen.query_one(CommandInput).value = "go to problems"
        await palette_shows(pilot, "Go to Problems")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_mode == "problems")


async def test_long_questions_in_the_tree_end_in_an_ellipsis(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        screen = await open_browse(pilot)
        tree = screen.query_one(Tree)
        await pilot.pause()
        labels = [tree.render_label(line.node, tree.rich_style, tree.rich_style).plain
                  for line in tree._tree_lines]
        assert any(label.endswith("…") for label in labels)
        assert all(len(label) <= tree.scrollable_content_region.width for label in labels)


async def test_s_starts_the_best_match_not_yet_passed_with_most_citations(make_app) -> None:
    from iwp_trainer.tui import services

    root = TUI_FIXTURES.parents[2]
    app = make_app(kb=root / "kb", scenarios=root / "scenarios")  # entries that several scenarios cite
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        lib = app.library
        entry_id = next(e for e, citing in sorted(lib.cited_by.items()) if len(citing) > 1
                        and len({services.citations(s, e) for s in citing}) > 1)
        citing = lib.cited_by[entry_id]
        most = max(citing, key=lambda s: services.citations(s, entry_id))
        screen = await open_browse(pilot)
        screen.show_entry(entry_id)
        await pane_ready(pilot, screen)
        assert screen.citing[0].id == most.id  # nothing passed yet: the one citing it most
        # Pass that one: now the other scenario is the better one to practise.
        attempt = app.store.start_attempt("test", most.id, most.title, most.sha256, "practice", 1, {})
        app.store.finish_attempt(attempt, True, "end", {})
        screen.show_entry(next(e for e in lib.entries if e != entry_id))
        await pane_ready(pilot, screen)
        screen.show_entry(entry_id)
        await pane_ready(pilot, screen)
        assert screen.citing[0].id != most.id and screen.citing[-1].id == most.id
        assert "✓ passed" in pane(screen)
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        assert app.screen.scenario.id == screen.citing[0].id


async def test_tree_width_follows_the_terminal_and_the_user(make_app) -> None:
    from iwp_trainer import settings
    from iwp_trainer.tui.screens.browse import tree_width

    for size in ((80, 24), (120, 40)):
        app = make_app()
        async with app.run_test(size=size) as pilot:
            await ready(pilot)
            screen = await open_browse(pilot)
            await pilot.pause()
            tree = screen.query_one(Tree)
            assert tree.outer_size.width == tree_width(size[0], 50) == round(size[0] / 2)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        screen = await open_browse(pilot)
        await pilot.pause()
        tree = screen.query_one(Tree)
        before = tree.outer_size.width
        await pilot.press("greater_than_sign", "greater_than_sign")
        await pilot.pause()
        assert tree.outer_size.width == before + 12  # 2 x 5% of 120 columns
        await pilot.press("less_than_sign")
        await pilot.pause()
        assert tree.outer_size.width == before + 6
    assert settings.load_settings()["browse_tree_share"] == 55  # remembered for next time


async def test_tree_shows_the_short_title_when_an_entry_has_one(make_app, tmp_path) -> None:
    import shutil

    kb = tmp_path / "kb"
    shutil.copytree(TUI_FIXTURES / "kb", kb)
    path = kb / "travel-costs-refund.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("\nquestion:", "\ntitle: Refunding travel costs\nquestion:", 1), encoding="utf-8")
    app = make_app(kb=kb)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        screen = await open_browse(pilot)
        labels = [str(n.label) for n in _all_nodes(screen.query_one(Tree).root)]
        assert "Refunding travel costs" in labels
        assert KB.entries["travel-costs-refund"].question not in labels
        screen.show_entry("travel-costs-refund")
        await pane_ready(pilot, screen)
        assert KB.entries["travel-costs-refund"].question in pane(screen)  # the pane keeps the question


def _all_nodes(node):
    out = [node]
    for child in node.children:
        out.extend(_all_nodes(child))
    return out


def _words(text: str) -> str:
    """Text as words only (no Markdown marks, bullets or line breaks), to compare source with screen."""
    return " ".join(re.sub(r"[*_#>`|•\[\]()]", " ", text).split())


async def press_quickly(pilot, keys: list[str], gap: float = 0.02) -> None:
    """Keys as a terminal sends them while a key is held: one every ``gap`` seconds, without waiting
    for the app to catch up (``pilot.press`` waits until the app is idle after each key)."""
    for key in keys:
        pilot.app._driver.send_message(events.Key(key, None))
        await asyncio.sleep(gap)


def _opening(body: str) -> str:
    """The first words of an entry's body as the screen shows them (list marks dropped)."""
    return " ".join(_words(re.sub(r"(?m)^\s*(?:[-+]|\d+\.) ", " ", body)).split()[:8])


def _shown_pane(app, screen: BrowseScreen) -> str:
    """The right-hand pane as the terminal would show it now, as words."""
    region = screen.query_one("#entry-view").region
    lines = [strip.text[region.x:region.right] for strip in app.screen._compositor.render_strips()]
    return _words(" ".join(lines[region.y:region.bottom]))


def _pane_entry(app, screen: BrowseScreen, lib) -> tuple[str, str | None]:
    """(the id of the entry whose question heads the pane, the id of the entry whose body follows it);
    "" when the pane shows something else (a branch or the glossary)."""
    shown = _shown_pane(app, screen)
    titled = max((e for e in lib.entries.values() if shown.startswith(_words(e.question))),
                 key=lambda e: len(e.question), default=None)
    bodies = [e.id for e in lib.entries.values() if _opening(e.body) in shown]
    if titled is None:
        return "", (bodies[0] if bodies else None)
    return titled.id, (titled.id if titled.id in bodies else (bodies[0] if bodies else None))


async def test_quick_arrows_never_show_one_entrys_title_over_anothers_body(make_app) -> None:
    root = TUI_FIXTURES.parents[2]
    app = make_app(kb=root / "kb", scenarios=root / "scenarios")  # enough entries to run through
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        screen = await open_browse(pilot)
        lib = app.library
        tree = screen.query_one(Tree)
        await pilot.pause()
        checked, mixed = 0, []
        for burst in (["down"] * 6, ["down"] * 9, ["up"] * 4, ["down"] * 12, ["up", "down"] * 3, ["down"] * 5):
            await press_quickly(pilot, burst)
            await asyncio.sleep(0.05)  # a glance at the pane before the next keys
            titled, body = _pane_entry(app, screen, lib)
            if titled:  # an entry heads the pane: its own body is under it, nobody else's
                checked += 1
                if body != titled:
                    mixed.append(f"the title of {titled} over the body of {body}: {_shown_pane(app, screen)}")
            elif body is not None:
                mixed.append(f"a branch's title over the body of {body}: {_shown_pane(app, screen)}")
        await pilot.pause()  # the keys still queued are handled before the test ends
        assert not mixed, "\n".join(mixed)
        while tree.cursor_node.data[0] != "entry":  # end on an entry (the KB's sections may change)
            await press_quickly(pilot, ["down"])
        # Once the keys stop, the pane shows the entry the cursor is on, title and body.
        kind, key = tree.cursor_node.data
        await wait_for(pilot, lambda: _pane_entry(app, screen, lib) == (key, key))
        assert checked, "no pause showed an entry: the test checked nothing"


async def test_moving_in_the_tree_reads_progress_once_per_visit_and_when_it_changes(make_app, monkeypatch) -> None:
    from iwp_trainer.tui import services

    reads = []
    real = services.best_by_scenario
    monkeypatch.setattr(services, "best_by_scenario", lambda *args: reads.append(args) or real(*args))
    root = TUI_FIXTURES.parents[2]
    app = make_app(kb=root / "kb", scenarios=root / "scenarios")
    async with app.run_test(size=(100, 32)) as pilot:
        await ready(pilot)
        screen = await open_browse(pilot)
        tree = screen.query_one(Tree)
        shown = 0
        for _ in range(12):
            await pilot.press("down")
            await pane_ready(pilot, screen)
            shown += tree.cursor_node.data[0] == "entry"
        assert shown >= 5 and len(reads) == 1  # not once per entry
        # Progress recorded (here straight into the store): the next entry reads it again, once.
        scenario = next(iter(app.library.scenarios.values()))
        attempt = app.store.start_attempt("test", scenario.id, scenario.title, scenario.sha256, "practice", 1, {})
        app.store.finish_attempt(attempt, True, "end", {})
        for _ in range(3):
            await pilot.press("down")
            await pane_ready(pilot, screen)
        assert len(reads) == 2
        # Another screen and back: read once more (another window may have recorded progress).
        await pilot.press("f2")
        await wait_for(pilot, lambda: not isinstance(app.screen, BrowseScreen))
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, BrowseScreen))
        await pilot.pause()
        assert len(reads) == 3
