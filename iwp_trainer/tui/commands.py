"""The command palette (Ctrl+P): find any KB entry, scenario or screen by name."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from iwp_trainer.tui.app import IwpApp

SCREENS: tuple[tuple[str, str, str], ...] = (
    ("ask", "Ask", "Ask a question about the IWP trial"),
    ("browse", "Browse", "The knowledge base by source document and section, and the glossary"),
    ("practise", "Practise", "Role-play scenarios, in practice or assessment mode"),
    ("progress", "Progress", "Your attempts and results over time"),
    ("problems", "Problems", "Errors found in kb/ and scenarios/"),
)


class IwpCommands(Provider):
    """Screens, KB entries (by question or alias) and scenarios (by title or id)."""

    def _targets(self) -> list[tuple[str, str, Any]]:
        app = cast("IwpApp", self.app)
        targets: list[tuple[str, str, Any]] = []
        for mode, name, help_text in SCREENS:
            targets.append((f"Go to {name}", help_text, partial(app.action_go, mode)))
        targets.append(("Change learner", "Record progress under another name or staff id",
                        partial(app.action_change_learner)))
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
        yield DiscoveryHit("Change learner", app.action_change_learner,
                           help="Record progress under another name or staff id")
        for scenario in app.library.scenarios.values():
            yield DiscoveryHit(f"Scenario: {scenario.title}", partial(app.open_scenario, scenario.id),
                               help=scenario.summary)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        best: dict[int, tuple[float, str, str, Any]] = {}
        for text, help_text, command in self._targets():
            score = matcher.match(text)
            if score > 0:
                key = id(command.func) ^ hash(command.args)  # one hit per target: its best-matching name
                if key not in best or score > best[key][0]:
                    best[key] = (score, text, help_text, command)
        for score, text, help_text, command in sorted(best.values(), key=lambda t: -t[0]):
            yield Hit(score, matcher.highlight(text), command, text=text, help=help_text)
