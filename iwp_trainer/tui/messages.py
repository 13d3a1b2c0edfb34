"""Messages that ask a screen to show something, so callers never reach into a screen's widgets."""

from __future__ import annotations

from textual.message import Message


class ShowEntry(Message):
    """Show this KB entry (Browse selects it in the tree)."""

    def __init__(self, entry_id: str) -> None:
        self.entry_id = entry_id
        super().__init__()


class ShowScenario(Message):
    """Highlight this scenario (Practise moves the list cursor to it)."""

    def __init__(self, scenario_id: str) -> None:
        self.scenario_id = scenario_id
        super().__init__()
