"""The glossary (``kb/glossary.yaml``): acronyms and terms a coach meets in the sources.

It is shown to users (what does CET mean?) and used by search to expand queries, so that
"FSF travel" finds the entry that only says "Flexible Support Fund". A broken glossary never
stops the app: problems come back as diagnostics and every valid term is still used.

The small YAML helpers here (positions of keys, YAML error lines) are shared with ``kb.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from iwp_trainer.diagnostics import Diagnostic
from iwp_trainer.files import FileTooLarge, NotRegularFile, read_regular

GLOSSARY_FILE = "glossary.yaml"

# Short lowercase words that are also acronyms ("IS" Income Support, "IT"): only their upper-case
# spelling counts as the acronym, otherwise every "is" in a question would mean Income Support.
_COMMON_WORDS = frozenset(
    "a an and are as at be but by do for if in is it me my no not of on or so the to up us we".split()
)


# --------------------------------------------------------------------------------------------
# YAML helpers shared with kb.py


def yaml_error_position(exc: yaml.YAMLError, text: str | None = None) -> tuple[int, int] | None:
    """Where in ``text`` a YAML error is, as 0-based (line, column), if known.

    Syntax errors carry a mark; a character YAML refuses (a NUL or other control character) is
    reported by PyYAML's reader only as an offset into the text, so ``text`` is needed for those.
    """
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return mark.line, mark.column
    position = getattr(exc, "position", None)
    if text is None or not isinstance(position, int):
        return None
    position = max(0, min(position, len(text)))
    line_start = text.rfind("\n", 0, position) + 1
    return text.count("\n", 0, position), position - line_start


def yaml_error_line(exc: yaml.YAMLError, first_line: int, text: str | None = None) -> int:
    """The file line of a YAML error; ``first_line`` is the file line of the YAML text's line 1."""
    where = yaml_error_position(exc, text)
    return first_line if where is None else first_line + where[0]


def yaml_error_text(exc: yaml.YAMLError, first_line: int = 1) -> str:
    """A one-line description of a YAML error, without PyYAML's multi-line position dump.

    When the problem was noticed after the construct that caused it (an unclosed ``[`` is only
    detected on a later line), the line where that construct started is named too.
    """
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    context_mark = getattr(exc, "context_mark", None)
    problem_mark = getattr(exc, "problem_mark", None)
    if problem:
        if context and context_mark is not None and (
            problem_mark is None or context_mark.line != problem_mark.line
        ):
            context = f"{context} started on line {first_line + context_mark.line}"
        return f"{context}, {problem}" if context else str(problem)
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


@dataclass(frozen=True)
class KeyLines:
    """File lines of a YAML mapping's keys and of the items of its list values.

    Built from PyYAML's node tree so diagnostics can point at the offending key, not just the file.
    """

    keys: dict[str, int] = field(default_factory=dict)
    items: dict[str, tuple[int, ...]] = field(default_factory=dict)
    children: dict[str, "KeyLines"] = field(default_factory=dict)
    start: int = 1

    def key(self, name: str) -> int:
        return self.keys.get(name, self.start)

    def item(self, name: str, index: int) -> int:
        lines = self.items.get(name, ())
        return lines[index] if index < len(lines) else self.key(name)


def key_lines(node: yaml.Node | None, first_line: int) -> KeyLines:
    """Positions for a composed mapping node (and its nested mappings), offset to the file."""
    if not isinstance(node, yaml.MappingNode):
        start = first_line + node.start_mark.line if node is not None else first_line
        return KeyLines(start=start)
    keys: dict[str, int] = {}
    items: dict[str, tuple[int, ...]] = {}
    children: dict[str, KeyLines] = {}
    for key_node, value_node in node.value:
        name = str(key_node.value)
        if name in keys:  # keep the first: the duplicate is reported separately
            continue
        keys[name] = first_line + key_node.start_mark.line
        if isinstance(value_node, yaml.SequenceNode):
            items[name] = tuple(first_line + item.start_mark.line for item in value_node.value)
        elif isinstance(value_node, yaml.MappingNode):
            children[name] = key_lines(value_node, first_line)
    return KeyLines(keys, items, children, first_line + node.start_mark.line)


def duplicate_keys(node: yaml.Node | None, first_line: int) -> list[tuple[str, int]]:
    """Keys repeated in a mapping (PyYAML silently keeps the last one): name and file line."""
    if not isinstance(node, yaml.MappingNode):
        return []
    seen: set[str] = set()
    repeated = []
    for key_node, _ in node.value:
        name = str(key_node.value)
        if name in seen:
            repeated.append((name, first_line + key_node.start_mark.line))
        seen.add(name)
    return repeated


# libyaml's C parser when available (the same safe subset, faster); tests swap in the pure-Python
# one, which is what users get where libyaml is missing, through this one name.
YAML_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_YAML_DEPTH = 50


class YamlLimitError(Exception):
    """YAML that is well formed but beyond what we (or a YAML library) will read.

    Kept apart from syntax errors so the user is told what to change ("flatten the structure"),
    not to look for a typo that is not there. ``kind`` is "depth" or "size"; ``line`` and ``col``
    are 0-based like PyYAML's marks, or None when the library gave no position.
    """

    def __init__(self, kind: str, message: str, line: int | None = None, col: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.line = line
        self.col = col


def yaml_limit(exc: BaseException) -> YamlLimitError | None:
    """The limit a YAML library's exception reports, or None for an ordinary syntax error.

    libyaml (from PyYAML 6.0.4) stops at about 1,000 levels of flow nesting with "exceeded maximum
    nesting depth", often before a single event reaches us; the pure-Python loader instead
    recurses until Python's RecursionError; either may run out of memory on a huge document.
    """
    if isinstance(exc, YamlLimitError):
        return exc
    if isinstance(exc, RecursionError):
        return YamlLimitError("depth", "nested too deeply for the YAML reader")
    if isinstance(exc, MemoryError):
        return YamlLimitError("size", "too large for the YAML reader to hold in memory")
    if isinstance(exc, yaml.MarkedYAMLError) and "nesting depth" in (exc.problem or ""):
        mark = exc.problem_mark or exc.context_mark
        return YamlLimitError("depth", f"nested more than the YAML reader allows ({exc.problem})",
                              mark.line if mark else None, mark.column if mark else None)
    return None


def check_yaml_depth(text: str, limit: int = MAX_YAML_DEPTH) -> None:
    """Raise :class:`YamlLimitError` at the first collection nested deeper than ``limit``.

    Walking the events is flat (no recursion), so this finds the problem with its line before the
    recursive composer could hit Python's recursion limit.
    """
    depth = 0
    for event in yaml.parse(text, Loader=YAML_LOADER):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > limit:
                mark = event.start_mark
                raise YamlLimitError("depth", f"nested more than {limit} levels deep", mark.line, mark.column)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def limit_hint(exc: YamlLimitError) -> str:
    """What to do about a YAML limit, in the same words for scenarios, entries and the glossary."""
    return "flatten the structure" if exc.kind == "depth" else "split the file into smaller ones"


def compose_and_load(text: str) -> tuple[yaml.Node | None, Any]:
    """Parse YAML once, safely, giving both the node tree (for key lines and duplicate keys) and
    the plain data built from it.

    Raises ``yaml.YAMLError`` for bad syntax and :class:`YamlLimitError` for nesting deeper than
    :data:`MAX_YAML_DEPTH` or beyond a YAML library's own limits.
    """
    try:
        check_yaml_depth(text)
        loader = YAML_LOADER(text)
        try:
            node = loader.get_single_node()
            return node, (loader.construct_document(node) if node is not None else None)
        finally:
            loader.dispose()
    except (yaml.YAMLError, RecursionError, MemoryError) as exc:
        limit = yaml_limit(exc)
        if limit is None:
            raise
        raise limit from None


# --------------------------------------------------------------------------------------------
# The glossary


@dataclass(frozen=True)
class Term:
    """One acronym or term, what it means, and other ways coaches write it."""

    term: str
    meaning: str
    aliases: tuple[str, ...] = ()
    line: int = 0

    @property
    def forms(self) -> tuple[str, ...]:
        """The term and its aliases, without repeats (case-insensitive)."""
        seen: set[str] = set()
        out = []
        for form in (self.term, *self.aliases):
            if form.lower() not in seen:
                seen.add(form.lower())
                out.append(form)
        return tuple(out)


def _case_sensitive(form: str) -> bool:
    """Only an acronym that is also a common word ("IS") must match in its exact case."""
    return form.lower() in _COMMON_WORDS and form != form.lower()


def _normal(text: str, sensitive: bool) -> str:
    joined = " ".join(text.split())
    return joined if sensitive else joined.lower()


@dataclass
class Glossary:
    """All terms, keyed by term, plus whatever was wrong with the file."""

    terms: dict[str, Term] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    path: Path | None = None

    def __post_init__(self) -> None:
        self._patterns: list[tuple[re.Pattern[str], dict[str, Term], bool]] | None = None

    def __len__(self) -> int:
        return len(self.terms)

    def __iter__(self):
        return iter(self.terms.values())

    def _compiled(self) -> list[tuple[re.Pattern[str], dict[str, Term], bool]]:
        """One regex per case rule matching every spelling, longest first, at every position.

        A single alternation is much quicker than one search per spelling when indexing thousands
        of entries; the lookahead lets spellings nested in longer ones still be found.
        """
        if self._patterns is None:
            groups: dict[bool, dict[str, Term]] = {False: {}, True: {}}
            for term in self.terms.values():
                for form in term.forms:
                    sensitive = _case_sensitive(form)
                    key = _normal(form, sensitive)
                    if key:
                        groups[sensitive].setdefault(key, term)
            compiled = []
            for sensitive, forms in groups.items():
                if not forms:
                    continue
                ordered = sorted(forms, key=lambda f: (-len(f), f))
                alternation = "|".join(r"\s+".join(re.escape(w) for w in f.split()) for f in ordered)
                pattern = re.compile(rf"(?<![\w&])(?=({alternation})(?![\w&]))",
                                     0 if sensitive else re.IGNORECASE)
                compiled.append((pattern, forms, sensitive))
            self._patterns = compiled
        return self._patterns

    def lookup(self, text: str) -> Term | None:
        """The term whose name or alias is ``text`` (ignoring case and surrounding space)."""
        wanted = " ".join(text.split()).lower()
        for term in self.terms.values():
            if any(form.lower() == wanted for form in term.forms):
                return term
        return None

    def find(self, text: str) -> list[Term]:
        """Terms mentioned in ``text`` (by name or alias), in order of first mention, no repeats."""
        found: dict[str, tuple[int, Term]] = {}
        for pattern, forms, sensitive in self._compiled():
            for match in pattern.finditer(text):
                term = forms.get(_normal(match.group(1), sensitive))
                if term is not None and (term.term not in found or match.start() < found[term.term][0]):
                    found[term.term] = (match.start(), term)
        return [term for _, term in sorted(found.values(), key=lambda pair: pair[0])]

    def expand(self, text: str) -> str:
        """The other spellings of every term mentioned in ``text`` (not the text itself).

        "FSF travel" gives "Flexible Support Fund flexible support fund"-style text that search adds
        to the query (and to each entry's index text) so either spelling finds the other.
        """
        extra: list[str] = []
        lowered = text.lower()
        for term in self.find(text):
            for form in term.forms:
                if not re.search(rf"(?<!\w){re.escape(form.lower())}(?!\w)", lowered):
                    extra.append(form)
        return " ".join(extra)


def _meaning_and_aliases(
    name: str, value: Any, lines: KeyLines, path: Path, diags: list[Diagnostic]
) -> tuple[str, tuple[str, ...]] | None:
    """Validate one glossary value: a plain meaning string, or ``{meaning, aliases}``."""
    if isinstance(value, str):
        return (value.strip(), ()) if value.strip() else None
    if not isinstance(value, dict):
        diags.append(Diagnostic.error(
            "glossary-type", f"term {name!r} must be a meaning or a mapping with meaning and aliases",
            path, lines.key(name), hint="write `meaning: ...` and `aliases: [...]` under the term"))
        return None
    child = lines.children.get(name, KeyLines(start=lines.key(name)))
    meaning = value.get("meaning")
    if not isinstance(meaning, str) or not meaning.strip():
        line = child.key("meaning") if "meaning" in value else lines.key(name)
        diags.append(Diagnostic.error(
            "glossary-meaning", f"term {name!r} needs a non-empty `meaning` text", path, line))
        return None
    aliases = value.get("aliases", [])
    if aliases is None:
        aliases = []
    if not isinstance(aliases, list):
        diags.append(Diagnostic.error(
            "glossary-type", f"`aliases` of {name!r} must be a list of text", path,
            child.key("aliases"), hint="write aliases: [one, two]"))
        return None
    good: list[str] = []
    for index, alias in enumerate(aliases):
        if isinstance(alias, str) and alias.strip():
            good.append(alias.strip())
        else:
            diags.append(Diagnostic.error(
                "glossary-type", f"alias {index + 1} of {name!r} must be non-empty text, not {alias!r}",
                path, child.item("aliases", index)))
    for key in value:
        if key not in ("meaning", "aliases"):
            diags.append(Diagnostic.warning(
                "glossary-unknown-key", f"unknown key {key!r} under term {name!r} is ignored",
                path, child.key(str(key))))
    return meaning.strip(), tuple(good)


def parse_glossary(text: str, path: Path) -> Glossary:
    """Parse glossary YAML text; never raises on bad content."""
    diags: list[Diagnostic] = []
    try:
        node, data = compose_and_load(text)
    except YamlLimitError as exc:
        diags.append(Diagnostic.error(
            "glossary-limit", f"glossary is {exc.message}", path,
            1 if exc.line is None else 1 + exc.line, None if exc.col is None else exc.col + 1,
            hint=limit_hint(exc)))
        return Glossary({}, diags, path)
    except yaml.YAMLError as exc:
        diags.append(Diagnostic.error(
            "glossary-yaml", f"glossary is not valid YAML: {yaml_error_text(exc, 1)}", path,
            yaml_error_line(exc, 1, text)))
        return Glossary({}, diags, path)
    if data is None:
        return Glossary({}, diags, path)
    if not isinstance(data, dict):
        diags.append(Diagnostic.error(
            "glossary-type", "glossary must be a mapping of term -> meaning", path, 1))
        return Glossary({}, diags, path)
    lines = key_lines(node, 1)
    for name, line in duplicate_keys(node, 1):
        diags.append(Diagnostic.error(
            "glossary-duplicate", f"term {name!r} is defined twice; the later one is used", path, line))
    terms: dict[str, Term] = {}
    for raw_name, value in data.items():
        name = str(raw_name).strip() if raw_name is not None else ""
        if not isinstance(raw_name, (str, int, float)) or not name:
            diags.append(Diagnostic.error(
                "glossary-type", f"term name {raw_name!r} must be text", path, lines.start))
            continue
        parsed = _meaning_and_aliases(str(raw_name), value, lines, path, diags)
        if parsed is not None:
            meaning, aliases = parsed
            terms[name] = Term(name, meaning, aliases, lines.key(str(raw_name)))
    return Glossary(terms, diags, path)


MAX_GLOSSARY_BYTES = 1_000_000


def load_glossary(path: Path) -> Glossary:
    """Load ``glossary.yaml``; a missing file is an empty glossary, a broken one gives diagnostics."""
    try:
        raw = read_regular(path, MAX_GLOSSARY_BYTES)
    except FileTooLarge as exc:
        return Glossary({}, [Diagnostic.error(
            "glossary-too-large", f"glossary is {exc.size:,} bytes; the limit is {MAX_GLOSSARY_BYTES:,} (1 MB)",
            path, 1, hint="keep only acronyms and terms coaches meet")], path)
    except NotRegularFile as exc:
        return Glossary({}, [Diagnostic.error("glossary-unreadable", f"cannot read glossary: {exc}", path)], path)
    except FileNotFoundError:
        return Glossary({}, [], path)
    except OSError as exc:
        return Glossary({}, [Diagnostic.error(
            "glossary-unreadable", f"cannot read glossary: {exc.strerror or exc}", path)], path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return Glossary({}, [Diagnostic.error(
            "glossary-encoding", "glossary is not UTF-8 text", path, line,
            hint="save the file as UTF-8")], path)
    return parse_glossary(text, path)
