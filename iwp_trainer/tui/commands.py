"""The command palette (Ctrl+P): find any KB entry, scenario or screen by name.

This is the palette's only provider: the app's own commands come first, and the few of Textual's
built-ins worth having (theme, keys, quit) follow in the app's words. Maximize and Screenshot are
left out: they mean nothing to a coach."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Matcher, Provider
from textual.content import Content

from iwp_trainer.tui.safe import literal

if TYPE_CHECKING:
    from iwp_trainer.tui.app import IwpApp

SCREENS: tuple[tuple[str, str, str], ...] = (
    ("ask", "Ask", "Ask a question about the IWP trial"),
    ("browse", "Browse", "The knowledge base by source document and section, and the glossary"),
    ("practise", "Practise", "Role-play scenarios, in practice or assessment mode"),
    ("progress", "Progress", "Your attempts and results over time"),
    ("problems", "Problems", "Errors found in kb/ and scenarios/"),
)


LEARNER_HELP = "Record progress under another name or staff id"


def general_commands(app: "IwpApp") -> list[tuple[str, str, Any]]:
    """The app-wide commands after the screens: (name, help, callable), in the palette's order."""
    return [
        ("Change learner", LEARNER_HELP, partial(app.action_change_learner)),
        ("Help: keys for this screen", "What each key does here and everywhere (F1 or ?)",
         partial(app.action_help)),
        ("Theme: choose colours", "Pick a colour theme (Ctrl+T switches light and dark)",
         partial(app.action_change_theme)),
        ("Quit", "Close the app: every decision and question is already saved (Ctrl+Q)",
         partial(app.action_quit)),
    ]


def highlight(matcher: Matcher, text: str) -> Content:
    """``text`` as written with the matched letters marked (``Matcher.highlight`` would parse it as
    markup, so a ``[link=...]`` in a citation crashed the palette)."""
    content = literal(text, single_line=True)
    score, offsets = matcher.fuzzy_search.match(matcher.query, content.plain)
    if score:
        for offset in offsets:
            if not content.plain[offset].isspace():
                content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


class IwpCommands(Provider):
    """Screens, KB entries (by question or alias) and scenarios (by title or id)."""

    def _targets(self) -> list[tuple[str, str, Any]]:
        app = cast("IwpApp", self.app)
        targets: list[tuple[str, str, Any]] = []
        for mode, name, help_text in SCREENS:
            targets.append((f"Go to {name}", help_text, partial(app.action_go, mode)))
        targets += general_commands(app)
        for entry in app.library.entries.values():
            opener = partial(app.open_entry, entry.id)
            targets.append((f"Entry: {entry.question}", entry.citation, opener))
            for alias in entry.aliases:
                targets.append((f"Entry: {alias}", f"{entry.question} ({entry.citation})", opener))
        for scenario in app.library.scenarios.values():
            targets.append((f"Scenario: {scenario.title}", f"{scenario.summary} [{scenario.id}]",
                            partial(app.open_scenario, scenario.id)))
        return targets

    async def discover(self) -> Hits:
        app = cast("IwpApp", self.app)
        for mode, name, help_text in SCREENS:
            yield DiscoveryHit(f"Go to {name}", partial(app.action_go, mode), help=help_text)
        app_commands = general_commands(app)
        yield DiscoveryHit(app_commands[0][0], app_commands[0][2], help=app_commands[0][1])
        for scenario in app.library.scenarios.values():
            title = f"Scenario: {scenario.title}"
            yield DiscoveryHit(literal(title, single_line=True), partial(app.open_scenario, scenario.id),
                               text=title, help=literal(scenario.summary, single_line=True))  # type: ignore[arg-type]
        for name, help_text, command in app_commands[1:]:
            yield DiscoveryHit(name, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        best: dict[int, tuple[float, str, str, Any]] = {}
        for text, help_text, command in self._targets():
            score = matcher.match(literal(text, single_line=True).plain)
            if score > 0:
                key = id(command.func) ^ hash(command.args)  # one hit per target: its best-matching name
                if key not in best or score > best[key][0]:
                    best[key] = (score, text, help_text, command)
        for score, text, help_text, command in sorted(best.values(), key=lambda t: -t[0]):
            yield Hit(score, highlight(matcher, text), command, text=text,
                      help=literal(help_text, single_line=True))  # type: ignore[arg-type]
