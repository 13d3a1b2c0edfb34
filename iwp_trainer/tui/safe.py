"""The one way the app shows text from files and users: as content, never as markup.

Textual parses a plain ``str`` given to ``Static``, a ``Tree`` label, a ``DataTable`` cell, an
``OptionList`` prompt, a palette hit, a ``border_title`` or ``notify()`` as markup, so ``[/]`` in a KB question crashes
the app, ``[Annex A]`` vanishes and ``[@click=app.quit]`` becomes a live action. :func:`literal`
wraps such text in a :class:`~textual.content.Content`, which is never parsed, after
:func:`~iwp_trainer.safe_text.printable` has replaced terminal control characters and bidi controls.
"""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text
from textual.content import Content

from iwp_trainer.safe_text import one_line, printable


def literal(text: Any, style: str = "", *, single_line: bool = False) -> Content:
    """``text`` exactly as written (with control characters made visible), optionally styled.

    ``single_line`` is for places that hold one line (table cells, tree labels, titles): line breaks
    become spaces there instead of breaking the layout.
    """
    safe = one_line(text) if single_line else printable(text)
    return Content.styled(safe, style) if style else Content(safe)


def literal_text(text: Any, style: str = "", *, single_line: bool = True) -> Text:
    """:func:`literal` as a Rich ``Text``, for the widgets that take Rich text rather than Content
    (``Tree`` labels, ``DataTable`` cells, Rich tables); one line unless ``single_line=False``."""
    return Text(one_line(text) if single_line else printable(text), style=style)


_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]{}()<>#+\-.!|~&])")


def markdown_literal(text: Any) -> str:
    """``text`` for one line of a Markdown document that shows it as written: every Markdown
    punctuation mark is backslash-escaped (CommonMark allows that for any ASCII punctuation), so a
    ``[link](...)``, a ``*`` or a leading ``#`` in scenario text is not formatting."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", one_line(text))


def notify(target: Any, message: Any, **kwargs: Any) -> None:
    """``target.notify(...)`` with ``message`` shown literally (Textual parses it as markup by
    default); ``target`` is the app, a screen or a widget. A title is never parsed as markup."""
    kwargs.setdefault("title", "")
    kwargs["title"] = one_line(kwargs["title"])
    target.notify(printable(message), markup=False, **kwargs)
