"""Messages that ask a screen to show something, so callers never reach into a screen's widgets."""

from __future__ import annotations

from textual.message import Message


class ShowEntry(Message):
    """Show this KB entry (Browse selects it in the tree)."""

    def __init__(self, entry_id: str) -> None:
        self.entry_id = entry_id
        super().__init__()


class ShowScenario(Message):
    """Highlight this scenario (Practise moves the list cursor to it); with ``play``, start it too."""

    def __init__(self, scenario_id: str, play: bool = False) -> None:
        self.scenario_id = scenario_id
        self.play = play
        super().__init__()
