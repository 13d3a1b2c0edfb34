"""The Textual app: Ask, Browse, Practise, Progress and Problems over the core modules.

The app owns the loaded data (the ``Library``), the answerer and the progress store and hands them
to the screens; all policy, scoring and recording live in the core. Loading and indexing run in
thread workers so the Ask screen is usable at once and shows how far indexing has got.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.worker import get_current_worker

from iwp_trainer import paths, settings
from iwp_trainer.tui import services
from iwp_trainer.tui.commands import IwpCommands
from iwp_trainer.tui.dialogs import HelpScreen, LearnerNameScreen
from iwp_trainer.tui.messages import ShowEntry, ShowScenario
from iwp_trainer.tui.safe import notify
from iwp_trainer.tui.screens.ask import AskScreen
from iwp_trainer.tui.screens.browse import BrowseScreen
from iwp_trainer.tui.screens.practise import PractiseScreen
from iwp_trainer.tui.screens.problems import ProblemsScreen, loaded
from iwp_trainer.tui.screens.progress import ProgressScreen
from iwp_trainer.tui.themes import DARK_THEME, LIGHT_THEME, OLD_NAMES, THEMES



class LibraryLoaded(Message):
    """The KB and scenarios have been (re)read."""

    def __init__(self, library: services.Library, reload: bool) -> None:
        self.library = library
        self.reload = reload
        super().__init__()


class AnswererReady(Message):
    """The search index is open; ``error`` says why not when it could not be."""

    def __init__(self, answerer: Any, error: str | None) -> None:
        self.answerer = answerer
        self.error = error
        super().__init__()


class AskNotice(Message):
    """Something Ask must say once (the semantic model did not load: matching words only)."""

    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__()


class IndexProgress(Message):
    def __init__(self, done: int, total: int) -> None:
        self.done = done
        self.total = total
        super().__init__()


class IwpApp(App[int]):
    """Train and support work coaches on the In-Work Progression trial."""

    TITLE = "IWP trainer"
    CSS_PATH = "app.tcss"
    # Only the app's provider: its own commands first, Textual's useful built-ins reworded after them.
    COMMANDS = {IwpCommands}
    MODES = {
        "ask": AskScreen,
        "browse": BrowseScreen,
        "practise": PractiseScreen,
        "progress": ProgressScreen,
        "problems": ProblemsScreen,
    }
    BINDINGS = [
        Binding("f1,question_mark", "help", "Help", key_display="?"),
        # One footer item for the five screens (the navigation bar names each with its key).
        Binding("f2", "go('ask')", "Screens", key_display="F2-F6", tooltip="F2 Ask, F3 Browse, F4 Practise, "
                "F5 Progress, F6 Problems"),
        Binding("f3", "go('browse')", "Browse", show=False),
        Binding("f4", "go('practise')", "Practise", show=False),
        Binding("f5", "go('progress')", "Progress", show=False),
        Binding("f6", "go('problems')", "Problems", show=False),
        # Shown in the footer of the Problems screen (where trainers need it) and in the help (F1);
        # left out of the other footers so everything else fits in 80 columns.
        Binding("ctrl+r", "reload", "Reload", show=False, tooltip="Re-read kb/ and scenarios/ after editing them"),
        Binding("ctrl+t", "toggle_theme", "Theme", show=False, tooltip="Switch between light and dark"),
        Binding("ctrl+q", "quit", "Quit", priority=True, tooltip="Quit: everything recorded is kept"),
    ]

    def __init__(
        self,
        kb_dir: Path,
        scenarios_dir: Path,
        index_dir: Path,
        db_path: Path | str,
        learner: str | None = None,
        *,
        remember_learner: bool = True,
        browser_tab: bool = False,
    ) -> None:
        super().__init__()
        self.kb_dir = Path(kb_dir)
        self.scenarios_dir = Path(scenarios_dir)
        self.index_dir = Path(index_dir)
        self.db_path = paths.db_location(db_path)
        self.learner: str = learner or ""
        # One browser tab of `iwp-trainer serve`: the settings file and login name are the server
        # account's, not the coach's, so nothing is read from or kept in them (each tab asks its
        # coach's name, and no tab sees another's).
        self.browser_tab = browser_tab
        self.remember_learner = remember_learner and not browser_tab
        self.library = services.Library()
        self.library_revision = 0
        self.last_played: str | None = None  # the scenario last opened for play (Practise returns to it)
        self.answerer: Any = None
        self.answerer_error: str | None = None
        self._ask_notice_shown = False
        self.index_progress: tuple[int, int] = (0, 0)
        self.store: Any = None  # opened in on_mount, before any screen can record
        self.store_notice: str | None = None
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = DARK_THEME

    # --- start-up ------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.store, self.store_notice = services.open_store(self.db_path)
        saved_theme = self.setting("theme")
        saved_theme = OLD_NAMES.get(saved_theme or "", saved_theme)
        if saved_theme in self.available_themes:
            self.theme = saved_theme
        # Remember the theme however it was chosen (Ctrl+T or the palette's theme picker).
        self.theme_changed_signal.subscribe(self, lambda theme: self.remember("theme", theme.name))
        self.switch_mode("ask")
        # Read the files and open the index once the first screen is painted, both in threads.
        self.call_after_refresh(self.load_library, False)
        self.call_after_refresh(self.open_index)
        # Ask needs no identity: the name is asked when a scenario is first started (with_learner).
        if not self.learner:
            self.learner = self.setting("learner") or ""
        if self.store_notice:
            notify(self, self.store_notice, title="Progress", severity="warning", timeout=8)

    def setting(self, key: str) -> str | None:
        """A remembered setting (none in a browser tab)."""
        return None if self.browser_tab else _settings_get(key)

    def remember(self, key: str, value: Any) -> None:
        """Keep a setting for next time (not from a browser tab: the file is the server's)."""
        if not self.browser_tab:
            _settings_set(key, value)

    def login_name(self) -> str:
        """The name offered for a new learner: the login name, except in a browser tab, where it
        is the server account's."""
        return "" if self.browser_tab else settings.login_name()

    def with_learner(self, then: Callable[[], None]) -> None:
        """Run ``then`` once a learner is known: straight away, or after asking for the name (pre-filled
        with the login name). Esc in the dialog means ``then`` does not run."""
        if self.learner:
            then()
            return

        def chosen(name: str | None) -> None:
            if name is None:
                return
            self._learner_chosen(name or settings.GUEST)
            self._revisit_progress()
            then()

        self.push_screen(LearnerNameScreen(suggested=self.login_name()), chosen)

    def _learner_chosen(self, name: str) -> None:
        """Record under ``name`` from now on, and remember it (so a guest is not asked again)."""
        self.learner = name
        if self.remember_learner:
            self.remember("learner", name)
        self.refresh_nav()

    @work(thread=True, exclusive=True, group="library")
    def load_library(self, reload: bool) -> None:
        library = services.load_library(self.kb_dir, self.scenarios_dir)
        if not get_current_worker().is_cancelled:
            self.post_message(LibraryLoaded(library, reload))

    @work(thread=True, exclusive=True, group="index")
    def open_index(self, rebuild: bool = False) -> None:
        worker = get_current_worker()

        def progress(done: int, total: int) -> None:
            if not worker.is_cancelled:
                self.post_message(IndexProgress(done, total))

        try:
            answerer = services.open_answerer(self.kb_dir, self.index_dir, progress=progress)
            error = None
        except Exception as exc:  # shown on the Ask screen; the rest of the app still works
            worded = type(exc).__name__ == "AskError"  # already a sentence for the user
            answerer, error = None, str(exc) if worded else f"{type(exc).__name__}: {exc}"
        if not worker.is_cancelled:
            self.post_message(AnswererReady(answerer, error))
        # Ask is usable now; the semantic model goes on loading here. When it could not load, Ask
        # runs on its lexical half and says so once.
        settle = getattr(answerer, "settle", None)
        if settle is not None:
            try:
                settle()
            except Exception:
                return
            if not worker.is_cancelled and getattr(answerer, "notice", ""):
                self.post_message(AskNotice(answerer.notice))

    def on_library_loaded(self, message: LibraryLoaded) -> None:
        self.library = message.library
        self.library_revision += 1
        self.refresh_nav()
        if message.reload:  # the KB may have changed: the answerer reads it afresh
            self._close_answerer()
            self.open_index()
        self._tell_screens()
        count = len(self.library.diagnostics)
        if count and not message.reload:
            self.notify(f"{count} problem{'s' if count != 1 else ''} in the KB or scenario files; "
                        f"{loaded(self.library)} See Problems (F6).", title="Problems", severity="warning", timeout=10)
        if message.reload:
            self.notify(
                f"Re-read {len(self.library.entries)} entries and {len(self.library.scenarios)} scenarios; "
                + (f"{count} problem{'s' if count != 1 else ''}." if count else "no problems."),
                title="Reloaded",
                severity="warning" if count else "information",
            )

    def on_index_progress(self, message: IndexProgress) -> None:
        self.index_progress = (message.done, message.total)
        self._tell_screens()

    def _close_answerer(self) -> None:
        answerer, self.answerer = self.answerer, None
        self.answerer_error = None
        self.index_progress = (0, 0)
        if answerer is not None:
            try:
                answerer.close()
            except Exception:
                pass

    def on_ask_notice(self, message: AskNotice) -> None:
        if not self._ask_notice_shown:
            self._ask_notice_shown = True
            self.notify(message.text, severity="warning", markup=False)

    def on_answerer_ready(self, message: AnswererReady) -> None:
        self._close_answerer()
        self.answerer = message.answerer
        self.answerer_error = message.error
        notice = getattr(message.answerer, "notice", "")
        if notice and not self._ask_notice_shown:  # the model file could not be read: say so once
            self._ask_notice_shown = True
            self.notify(notice, severity="warning", markup=False)
        self._tell_screens()

    def _tell_screens(self) -> None:
        """Let every screen that exists bring itself up to date with the app's data."""
        for screen in self._all_screens():
            refresh = getattr(screen, "app_state_changed", None)
            if refresh is not None and screen.is_mounted:
                refresh()

    def refresh_nav(self) -> None:
        for screen in self._all_screens():
            refresh = getattr(screen, "refresh_nav", None)
            if refresh is not None and screen.is_mounted:
                refresh()

    def _all_screens(self) -> list[Any]:
        screens: list[Any] = []
        for mode in self.MODES:
            try:
                screens.extend(self.get_screen_stack(mode))
            except KeyError:
                continue
        return screens

    # --- actions ---------------------------------------------------------------------------------

    def action_go(self, mode: str) -> None:
        if mode in self.MODES and mode != self.current_mode:
            self.switch_mode(mode)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_change_learner(self) -> None:
        self.push_screen(LearnerNameScreen(current=self.learner, suggested=self.login_name()),
                         self._learner_changed)

    def _learner_changed(self, name: str | None) -> None:
        if name is None or (name and name == self.learner):
            return  # Esc (or the same name): nothing changes
        name = name or settings.GUEST
        self._learner_chosen(name)
        notify(self, f"Progress is now recorded for {name}.", title="Learner")
        self._revisit_progress()

    def _revisit_progress(self) -> None:
        for screen in self._all_screens():
            refresh = getattr(screen, "learner_changed", None)
            if refresh is not None and screen.is_mounted:
                refresh()

    def action_reload(self) -> None:
        self.load_library(reload=True)

    def action_toggle_theme(self) -> None:
        """Between the standard dark and light themes (any other theme counts as dark)."""
        self.theme = DARK_THEME if self.theme == LIGHT_THEME else LIGHT_THEME

    def open_entry(self, entry_id: str) -> None:
        """Show one KB entry in Browse (used by the command palette and by links)."""
        self.switch_mode("browse")
        self.get_screen_stack("browse")[0].post_message(ShowEntry(entry_id))

    def open_scenario(self, scenario_id: str, play: bool = False) -> None:
        """Show a scenario in Practise; with ``play``, start it in practice mode."""
        self.switch_mode("practise")
        self.get_screen_stack("practise")[0].post_message(ShowScenario(scenario_id, play=play))

    def on_unmount(self) -> None:
        self._close_answerer()
        close = getattr(self.store, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                pass


def _settings_get(key: str) -> str | None:
    """A remembered setting; a missing or damaged settings file is never fatal."""
    try:
        if key == "learner":
            return settings.get_learner()
        value = settings.load_settings().get(key)
        return str(value) if value else None
    except Exception:
        return None


def _settings_set(key: str, value: Any) -> None:
    try:
        if key == "learner":
            settings.set_learner(value)
        else:
            settings.save_setting(key, value)
    except Exception:  # an unwritable settings file only means it is asked again next time
        pass


def run_app(args: argparse.Namespace) -> int:
    """Entry point for bare ``iwp-trainer``: open the app on the resolved locations."""
    app = IwpApp(
        kb_dir=args.kb or paths.default_kb_dir(),
        scenarios_dir=args.scenarios or paths.default_scenarios_dir(),
        index_dir=args.index or paths.default_index_dir(),
        db_path=args.db or paths.default_db_path(),
        learner=getattr(args, "learner", None),
        browser_tab=bool(getattr(args, "browser_tab", False)),
    )
    result = app.run()
    # A crash (an exception in the app) has no result but a return code: never report success then.
    return app.return_code or int(result or 0)
