"""The app's two themes: Textual's dark and light themes, with the colours that fell short of WCAG
AA (4.5:1 for text) made darker or lighter until every piece of text reaches it.

``tests/tui/test_tui_contrast.py`` renders every screen in both themes and measures the colours
actually drawn, so a change here (or in ``app.tcss``) that loses contrast fails a test.
"""

from __future__ import annotations

from dataclasses import replace

from textual.theme import BUILTIN_THEMES, Theme

DARK_THEME = "iwp-dark"
LIGHT_THEME = "iwp-light"
# Names a settings file may still hold from before these themes existed.
OLD_NAMES = {"textual-dark": DARK_THEME, "textual-light": LIGHT_THEME}

DARK = replace(
    BUILTIN_THEMES["textual-dark"],
    name=DARK_THEME,
    primary="#0063B1",  # the highlighted row and primary buttons: light text on it reaches 5:1
    variables={
        "markdown-h2-color": "#5AAEF0",  # headings in answers and the debrief, on the dark background
    },
)

LIGHT = replace(
    BUILTIN_THEMES["textual-light"],
    name=LIGHT_THEME,
    variables={
        **BUILTIN_THEMES["textual-light"].variables,
        "footer-key-foreground": "#005A9E",  # was #0178D4: 2.9:1 on the footer
        "text-accent": "#6E470F",            # citations and borders' titles
        "text-warning": "#6E470F",
    },
)

THEMES: tuple[Theme, ...] = (DARK, LIGHT)
