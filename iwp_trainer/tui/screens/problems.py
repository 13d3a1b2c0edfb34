"""Problems: every error found in kb/ and scenarios/, as ``file:line: message``.

The app starts with whatever is valid; trainers fix the files and press Ctrl+R to re-read them.
"""

from __future__ import annotations

import os
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from iwp_trainer.diagnostics import Diagnostic, format_diagnostic
from iwp_trainer.tui.screens.base import IwpScreen
from iwp_trainer.tui.safe import literal


def short_path(path: str) -> str:
    """A path relative to the working folder when that is shorter (what a trainer types to open it)."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if len(rel) < len(path) and not rel.startswith("../..") else path


def shown_path(diag: Diagnostic) -> Diagnostic:
    """The same problem with its file as :func:`short_path` shows it."""
    if not diag.file:
        return diag
    return Diagnostic(short_path(diag.file), diag.line, diag.col, diag.severity, diag.code, diag.message, diag.hint)


class ProblemsScreen(IwpScreen):
    MODE = "problems"
    AUTO_FOCUS = "#problem-list"
    BINDINGS = [Binding("ctrl+r", "app.reload", "Reload files")]
    HELP = """\
### Problems
Every problem found in **kb/** and **scenarios/**, as `file:line: message`. The app keeps working
with everything that is valid. Fix the file in your editor, then press **Ctrl+R** to re-read it.
"""

    def compose_body(self) -> ComposeResult:
        with Vertical(id="problems"):
            yield Static("", id="problem-summary")
            yield OptionList(id="problem-list")
            yield Static("", id="problem-detail")

    def refresh_data(self) -> None:
        diags = sorted(self.iwp.library.diagnostics, key=lambda d: (d.file, d.line or 0, d.col or 0, d.code))
        errors = sum(1 for d in diags if d.severity == "error")
        warnings = len(diags) - errors
        summary = self.query_one("#problem-summary", Static)
        if diags:
            summary.update(Content.assemble(
                (f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}", "bold"),
                literal(f" in {short_path(str(self.iwp.kb_dir))} and {short_path(str(self.iwp.scenarios_dir))}. "
                f"{loaded(self.iwp.library)} "
                "Fix the files, then press Ctrl+R to re-read them.")))
        else:
            summary.update(Content.assemble(("No problems.", "bold"), f" {loaded(self.iwp.library)} "
                                            "Ctrl+R re-reads the files after editing."))
        options = self.query_one("#problem-list", OptionList)
        options.clear_options()
        options.add_options([
            Option(Content.assemble(("✗ " if d.severity == "error" else "! ", "bold"), literal(format_diagnostic(shown_path(d)))),
                   id=str(n))
            for n, d in enumerate(diags)
        ])
        options.display = bool(diags)
        self._diags = diags
        self.query_one("#problem-detail", Static).update("")
        if diags:
            options.highlighted = 0

    @on(OptionList.OptionHighlighted, "#problem-list")
    def highlighted(self, event: OptionList.OptionHighlighted) -> None:
        diag = self._diags[int(event.option.id or 0)]
        detail = [Content.assemble(("Where: ", "bold"), literal(shown_path(diag).location)),
                  Content.assemble(("What: ", "bold"), literal(f"{diag.severity} {diag.code}: {diag.message}"))]
        if diag.hint:
            detail.append(Content.assemble(("How to fix: ", "bold"), literal(diag.hint)))
        self.query_one("#problem-detail", Static).update(Content("\n").join(detail))


def loaded(library: Any) -> str:
    """What did load, said plainly: "everything else loaded" is untrue when a whole folder failed."""
    entries, scenarios = len(library.entries), len(library.scenarios)
    return (f"{entries} entr{'ies' if entries != 1 else 'y'} and "
            f"{scenarios} scenario{'s' if scenarios != 1 else ''} loaded.")
