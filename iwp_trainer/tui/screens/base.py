"""What every activity screen shares: the navigation bar, the footer, keeping up with the app."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from iwp_trainer.tui.widgets import NavBar

if TYPE_CHECKING:
    from iwp_trainer.tui.app import IwpApp


class IwpScreen(Screen[Any]):
    """A top-level activity. Subclasses add their body in ``compose_body`` and redraw in
    ``refresh_data`` whenever the app's library, index or progress changes."""

    MODE = ""
    HELP = ""

    def __init__(self) -> None:
        super().__init__()
        self._seen_revision = -1

    @property
    def iwp(self) -> "IwpApp":
        return cast("IwpApp", self.app)

    def compose(self) -> ComposeResult:
        yield NavBar()
        yield from self.compose_body()
        yield Footer(compact=True)

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.refresh_nav()
        self.app_state_changed()

    def on_screen_resume(self) -> None:
        self.refresh_nav()
        self.app_state_changed()

    def refresh_nav(self) -> None:
        try:
            nav = self.query_one(NavBar)
        except Exception:
            return
        nav.current = self.MODE
        nav.problems = len(self.iwp.library.diagnostics)
        nav.learner = self.iwp.learner

    def app_state_changed(self) -> None:
        """Called when the app's data may have changed; redraw only if it really did."""
        self.refresh_nav()
        if self._seen_revision != self.iwp.library_revision:
            self._seen_revision = self.iwp.library_revision
            self.refresh_data()

    def refresh_data(self) -> None:
        """Redraw from ``self.iwp.library`` (a new or reloaded library)."""
