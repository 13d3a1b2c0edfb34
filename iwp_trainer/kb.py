"""The knowledge base: one Markdown file per policy question, with YAML front matter.

Trainers edit these files by hand, so loading never raises on bad content: each broken entry
becomes a :class:`Diagnostic` with ``file:line`` (the YAML error's line, or the offending key's)
and every other entry still loads. Front matter is split with markdown-it-py's front-matter rule
(the same parser that later extracts plain text for the index), and read with PyYAML's safe loader.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import yaml

from iwp_trainer.diagnostics import Diagnostic
from iwp_trainer.files import FileTooLarge, NotRegularFile, listed_files, read_regular
from iwp_trainer.safe_text import CONTROL_HINT, MAX_CONTROL_REPORTS, control_names, unsafe_chars
from iwp_trainer.glossary import (
    GLOSSARY_FILE,
    Glossary,
    KeyLines,
    YamlLimitError,
    compose_and_load,
    limit_hint,
    duplicate_keys,
    key_lines,
    load_glossary,
    yaml_error_line,
    yaml_error_text,
)

KNOWN_KEYS = ("id", "question", "title", "aliases", "tags", "source", "related")
# A `title:` is the short name shown in lists (the Browse tree) when the question is long.
TITLE_MAX = 60


@dataclass(frozen=True)
class Entry:
    """One answered policy question. ``line`` is the file line of its ``id`` key."""

    id: str
    question: str
    aliases: tuple[str, ...]
    tags: tuple[str, ...]
    source_document: str
    source_section: str
    related: tuple[str, ...]
    body: str
    path: Path
    line: int
    short_title: str = ""  # the front matter's optional `title:`

    @property
    def title(self) -> str:
        """The heading of the answer: always the full question."""
        return self.question

    @property
    def label(self) -> str:
        """The name in lists such as the Browse tree: the short ``title:`` if given, else the question."""
        return self.short_title or self.question

    @property
    def citation(self) -> str:
        """How the source is shown to users, e.g. "IWP trial FAQ, section 5: Conducting Interviews"."""
        return f"{self.source_document}, {self.source_section}"

    @property
    def plain_body(self) -> str:
        """The answer without Markdown markup, for terminals and the index."""
        return plain_text(self.body)


@dataclass
class KnowledgeBase:
    """Every valid entry by id, the glossary, and all problems found while loading."""

    entries: dict[str, Entry] = field(default_factory=dict)
    glossary: Glossary = field(default_factory=Glossary)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries.values())

    def get(self, entry_id: str) -> Entry | None:
        return self.entries.get(entry_id)

    def related(self, entry: Entry) -> list[Entry]:
        """The entries an entry points to (only ones that loaded)."""
        return [self.entries[i] for i in entry.related if i in self.entries]


# --------------------------------------------------------------------------------------------
# Markdown


@lru_cache(maxsize=1)
def _splitter() -> Any:
    """A minimal markdown-it parser that only needs to recognise the front-matter block."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.front_matter import front_matter_plugin

    return MarkdownIt("zero").use(front_matter_plugin)


@lru_cache(maxsize=1)
def _renderer() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


def split_front_matter(text: str) -> tuple[str, int, str, int] | None:
    """``(yaml_text, yaml_first_line, body, body_first_line)``, or None without front matter.

    Lines are 1-based file lines. Only the opening block of the file is parsed, so this stays cheap.
    """
    lines = text.splitlines(keepends=True)
    if not lines or not lines[0].rstrip("\r\n").startswith("---"):
        return None
    tokens = _splitter().parse(text)
    if not tokens or tokens[0].type != "front_matter" or tokens[0].map is None:
        return None
    end = tokens[0].map[1]  # index of the first body line
    body = "".join(lines[end:])
    return tokens[0].content, 2, body, end + 1


def plain_text(markdown: str) -> str:
    """Markdown to readable plain text: paragraphs kept, emphasis and link markup dropped.

    Items of one list stay on consecutive lines; other blocks are separated by a blank line.
    """
    tokens = _renderer().parse(markdown)
    blocks: list[tuple[str, int]] = []  # text, id of the list it is an item of (0: not in a list)
    prefix = ""
    lists: list[int] = []
    list_count = 0
    for token in tokens:
        if token.type in ("bullet_list_open", "ordered_list_open"):
            list_count += 1
            lists.append(list_count)
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif token.type == "list_item_open":
            prefix = "- " if token.markup in "-*+" else f"{token.info}{token.markup} "
        elif token.type == "inline" and token.children is not None:
            parts = []
            for child in token.children:
                if child.type in ("text", "code_inline", "image"):
                    parts.append(child.content)
                elif child.type == "softbreak":
                    parts.append(" ")
                elif child.type == "hardbreak":
                    parts.append("\n")
            text = "".join(parts).strip()
            if text:
                blocks.append((prefix + text, lists[-1] if lists else 0))
            prefix = ""
        elif token.type in ("fence", "code_block"):
            blocks.append((token.content.rstrip("\n"), 0))
    out = []
    for i, (text, list_id) in enumerate(blocks):
        if i:
            out.append("\n" if list_id and blocks[i - 1][1] == list_id else "\n\n")
        out.append(text)
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Loading


def _text_tuple(
    meta: dict[str, Any], key: str, lines: KeyLines, path: Path, diags: list[Diagnostic]
) -> tuple[str, ...] | None:
    """A list-of-text field; None (after a diagnostic) when it has the wrong type."""
    value = meta.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        diags.append(Diagnostic.error(
            "kb-type", f"`{key}` must be a list of text, not {type(value).__name__}", path,
            lines.key(key), hint=f"write {key}: [first, second]"))
        return None
    out: list[str] = []
    ok = True
    for index, item in enumerate(value):
        if isinstance(item, str) and item.strip():
            out.append(item.strip())
        else:
            diags.append(Diagnostic.error(
                "kb-type", f"item {index + 1} of `{key}` must be non-empty text, not {item!r}", path,
                lines.item(key, index)))
            ok = False
    return tuple(out) if ok else None


def _misspelt(key: str, meta: dict[str, Any]) -> str | None:
    """The unknown key in ``meta`` that is most likely a misspelling of the missing ``key``."""
    unknown = [str(k) for k in meta if k not in KNOWN_KEYS]
    close = difflib.get_close_matches(key, unknown, n=1, cutoff=0.6)
    return close[0] if close else None


def _required_text(
    meta: dict[str, Any], key: str, lines: KeyLines, path: Path, diags: list[Diagnostic], where: str = ""
) -> str | None:
    value = meta.get(key)
    label = f"{where}{key}"
    if key not in meta or value is None or (isinstance(value, str) and not value.strip()):
        typo = _misspelt(key, meta) if key not in meta else None
        diags.append(Diagnostic.error(
            "kb-missing-field", f"entry has no `{label}`", path,
            lines.key(typo) if typo else (lines.key(key) if key in meta else lines.start),
            hint=f"did you mean `{key}`? it is written `{typo}:`" if typo else f"add `{key}:` to the front matter"))
        return None
    if not isinstance(value, str):
        diags.append(Diagnostic.error(
            "kb-type", f"`{label}` must be text, not {type(value).__name__}", path, lines.key(key),
            hint="put the value in quotes"))
        return None
    return " ".join(value.split())


def parse_entry(text: str, path: Path, diags: list[Diagnostic]) -> tuple[Entry, KeyLines] | None:
    """Parse one entry file's text; on any problem add diagnostics and return None."""
    split = split_front_matter(text)
    if split is None:
        if text.lstrip("\ufeff").startswith("---"):
            diags.append(Diagnostic.error(
                "kb-front-matter", "front matter opened with --- is never closed", path, 1,
                hint="end the front matter with a line containing only ---"))
        else:
            diags.append(Diagnostic.error(
                "kb-front-matter", "entry has no YAML front matter", path, 1,
                hint="start the file with ---, the id/question/source keys, then ---"))
        return None
    yaml_text, first, body, _ = split
    before = len(diags)
    try:
        node, meta = compose_and_load(yaml_text)
    except YamlLimitError as exc:
        diags.append(Diagnostic.error(
            "kb-limit", f"front matter is {exc.message}", path,
            first if exc.line is None else first + exc.line, None if exc.col is None else exc.col + 1,
            hint=limit_hint(exc)))
        return None
    except yaml.YAMLError as exc:
        diags.append(Diagnostic.error(
            "kb-yaml", f"front matter is not valid YAML: {yaml_error_text(exc, first)}", path,
            yaml_error_line(exc, first, yaml_text)))
        return None
    if not isinstance(meta, dict):
        diags.append(Diagnostic.error(
            "kb-type", "front matter must be a mapping of keys (id, question, source, ...)", path, first))
        return None
    lines = key_lines(node, first)
    # Reported as errors (so `check` fails) but the entry still loads: the app and every command show
    # each such character as a visible placeholder, and one pasted-in mark should not hide an answer.
    control = control_char_diagnostics(meta, lines, body, split[3], path)
    for name, line in duplicate_keys(node, first):
        diags.append(Diagnostic.error("kb-duplicate-key", f"key `{name}` appears twice", path, line))
    entry_id = _required_text(meta, "id", lines, path, diags)
    question = _required_text(meta, "question", lines, path, diags)
    short_title = ""
    if meta.get("title") is not None:
        short_title = _required_text(meta, "title", lines, path, diags) or ""
        if short_title and len(short_title) > TITLE_MAX:
            diags.append(Diagnostic.warning(
                "kb-long-title", f"`title` is {len(short_title)} characters; keep it to {TITLE_MAX} or fewer",
                path, lines.key("title"), hint="the title is the short name shown in the Browse tree"))
        elif short_title and question and len(short_title) >= len(question):
            diags.append(Diagnostic.warning(
                "kb-title-not-shorter", "`title` is no shorter than the question, so it adds nothing", path,
                lines.key("title"), hint="give a title only when the question is long; otherwise remove it"))
    aliases = _text_tuple(meta, "aliases", lines, path, diags)
    tags = _text_tuple(meta, "tags", lines, path, diags)
    related = _text_tuple(meta, "related", lines, path, diags)
    document = section = None
    source = meta.get("source")
    if "source" not in meta or source is None:
        typo = _misspelt("source", meta) if "source" not in meta else None
        diags.append(Diagnostic.error(
            "kb-missing-field", "entry has no `source` (document and section)", path,
            lines.key(typo) if typo else (lines.key("source") if "source" in meta else lines.start),
            hint=(f"did you mean `source`? it is written `{typo}:`" if typo
                  else "add source: {document: IWP trial FAQ, section: ...}")))
    elif not isinstance(source, dict):
        diags.append(Diagnostic.error(
            "kb-type", "`source` must be a mapping with `document` and `section`", path,
            lines.key("source")))
    else:
        src_lines = lines.children.get("source", KeyLines(start=lines.key("source")))
        document = _required_text(source, "document", src_lines, path, diags, "source.")
        section = _required_text(source, "section", src_lines, path, diags, "source.")
    for key in meta:
        if key not in KNOWN_KEYS:
            close = difflib.get_close_matches(str(key), [k for k in KNOWN_KEYS if k not in meta], n=1, cutoff=0.6)
            diags.append(Diagnostic.warning(
                "kb-unknown-key", f"unknown key `{key}` is ignored", path, lines.key(str(key)),
                hint=f"did you mean `{close[0]}`?" if close else "known keys: " + ", ".join(KNOWN_KEYS)))
    if any(d.severity == "error" for d in diags[before:]):
        diags.extend(control)
        return None
    diags.extend(control)
    assert entry_id and question and document and section is not None
    assert aliases is not None and tags is not None and related is not None
    if not body.strip():
        diags.append(Diagnostic.warning("kb-empty-body", f"entry {entry_id!r} has no answer text", path,
                                        lines.key("id")))
    entry = Entry(entry_id, question, aliases, tags, document, section, related,
                  body.strip("\n"), path, lines.key("id"), short_title)
    return entry, lines


def _control_message(where: str, text: str) -> str:
    return f"{where} contains {control_names(text)}: a terminal control character or bidi control"


def control_char_diagnostics(meta: dict[str, Any], lines: KeyLines, body: str, body_line: int,
                             path: Path) -> list[Diagnostic]:
    """``kb-control-char`` for each front-matter value and body line holding a character that
    :func:`~iwp_trainer.safe_text.printable` would replace (ESC, other C0/C1 controls, bidi)."""
    out: list[Diagnostic] = []

    def visit(value: Any, where: str, line: int, key_lines_: KeyLines, key: str) -> None:
        if isinstance(value, str):
            if unsafe_chars(value):
                out.append(Diagnostic.error("kb-control-char", _control_message(where, value), path, line,
                                            hint=CONTROL_HINT))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                visit(item, f"item {index + 1} of `{where.strip('`')}`", key_lines_.item(key, index), key_lines_, key)
        elif isinstance(value, dict):
            child = key_lines_.children.get(key, KeyLines(start=line))
            for name, item in value.items():
                visit(item, f"`{where.strip('`')}.{name}`", child.key(str(name)), child, str(name))

    for name, value in meta.items():
        visit(value, f"`{name}`", lines.key(str(name)), lines, str(name))
    for number, text in enumerate(body.split("\n")):
        found = unsafe_chars(text[:-1] if text.endswith("\r") else text)  # a Windows line ending is fine
        if found:
            out.append(Diagnostic.error("kb-control-char", _control_message("the answer text", text.rstrip("\r")),
                                        path, body_line + number, found[0][0] + 1, hint=CONTROL_HINT))
    if len(out) > MAX_CONTROL_REPORTS:
        more = len(out) - MAX_CONTROL_REPORTS
        last = out[MAX_CONTROL_REPORTS - 1]
        out = out[:MAX_CONTROL_REPORTS] + [Diagnostic.error(
            "kb-control-char", f"{more} more line{'s' if more != 1 else ''} with control characters after this",
            path, last.line, hint=CONTROL_HINT)]
    return out


MAX_ENTRY_BYTES = 1_000_000  # an entry is a page of policy; a bigger file is a mistake (and slow to index)


def _read_text(path: Path, diags: list[Diagnostic]) -> str | None:
    try:
        raw = read_regular(path, MAX_ENTRY_BYTES)
    except FileTooLarge as exc:
        diags.append(Diagnostic.error(
            "kb-too-large", f"entry is {exc.size:,} bytes; the limit is {MAX_ENTRY_BYTES:,} (1 MB)", path, 1,
            hint="split it into several entries, one question each"))
        return None
    except NotRegularFile as exc:
        diags.append(Diagnostic.error("kb-unreadable", f"cannot read entry: {exc}", path,
                                      hint="an entry must be an ordinary Markdown file"))
        return None
    except OSError as exc:
        diags.append(Diagnostic.error("kb-unreadable", f"cannot read entry: {exc.strerror or exc}", path))
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        diags.append(Diagnostic.error("kb-encoding", "entry is not UTF-8 text", path, line,
                                      hint="save the file as UTF-8"))
        return None


def entry_files(kb_dir: Path) -> list[Path]:
    """The entry files of a KB folder, in name order (hidden files skipped).

    Uses ``os.scandir`` and sorts names, not Paths: with 10,000 entries this is ~10x quicker. A
    name that cannot be read (a symlink loop, a named pipe) is listed too, so loading reports that
    one path and keeps every other entry.
    """
    try:
        names = listed_files(kb_dir, ".md")
    except OSError:
        return []
    base = Path(kb_dir)
    return [base / name for name in names]


def _modified(path: Path) -> float:
    """When a file was last written (0 when that cannot be read): the newer of two copies is blamed."""
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def load_kb(kb_dir: Path) -> KnowledgeBase:
    """Load every entry and the glossary of ``kb_dir``; never raises on bad content.

    A missing folder gives an empty KB with one error diagnostic. Of entries sharing an id, the
    oldest file is kept and each newer copy is reported, naming both files and lines: the newer file
    is the one just added or copied, so that is where the fix belongs. A ``related`` id that does not
    exist is reported and dropped.
    """
    kb_dir = Path(kb_dir)
    diags: list[Diagnostic] = []
    if not kb_dir.is_dir():
        diags.append(Diagnostic.error(
            "kb-missing", f"knowledge base folder not found: {kb_dir}", kb_dir,
            hint="pass --kb DIR or set IWP_TRAINER_KB"))
        return KnowledgeBase({}, Glossary(), diags)
    entries: dict[str, Entry] = {}
    positions: dict[str, KeyLines] = {}
    copies: dict[str, list[tuple[Entry, KeyLines]]] = {}
    for path in entry_files(kb_dir):
        text = _read_text(path, diags)
        if text is None:
            continue
        parsed = parse_entry(text, path, diags)
        if parsed is None:
            continue
        copies.setdefault(parsed[0].id, []).append(parsed)
    for entry_id, found in copies.items():
        if len(found) > 1:
            found.sort(key=lambda parsed: (_modified(parsed[0].path), parsed[0].path.name))
            first = found[0][0]
            for newer, _lines in found[1:]:
                diags.append(Diagnostic.error(
                    "kb-duplicate-id",
                    f"id {entry_id!r} is used by {first.path.name}:{first.line} and again here, in "
                    f"{newer.path.name}:{newer.line}, the newer file; this copy is ignored",
                    newer.path, newer.line, hint="give this entry its own id (or remove the copy)"))
        entries[entry_id], positions[entry_id] = found[0]
    for entry_id, entry in list(entries.items()):
        missing = [i for i in entry.related if i not in entries]
        if not missing:
            continue
        lines = positions[entry_id]
        for index, rel in enumerate(entry.related):
            if rel in missing:
                diags.append(Diagnostic.error(
                    "kb-unknown-related", f"related id {rel!r} does not exist", entry.path,
                    lines.item("related", index), hint="use the id of another entry"))
        kept = tuple(i for i in entry.related if i not in missing)
        entries[entry_id] = replace(entry, related=kept)
    glossary = load_glossary(kb_dir / GLOSSARY_FILE)
    diags.extend(glossary.diagnostics)
    return KnowledgeBase(entries, glossary, diags)


# --------------------------------------------------------------------------------------------
# Snapshots: the search index keeps one so a cold start need not re-parse thousands of files


def kb_to_data(kb: KnowledgeBase) -> dict[str, Any]:
    """A JSON-ready copy of a loaded KB (entries, glossary, diagnostics)."""
    from dataclasses import asdict

    return {
        "entries": [
            {**{k: v for k, v in asdict(e).items() if k != "path"}, "path": str(e.path)} for e in kb
        ],
        "glossary": [asdict(t) for t in kb.glossary],
        "glossary_path": str(kb.glossary.path) if kb.glossary.path else None,
        "glossary_diagnostics": [d.to_dict() for d in kb.glossary.diagnostics],
        "diagnostics": [d.to_dict() for d in kb.diagnostics],
    }


def kb_from_data(data: dict[str, Any]) -> KnowledgeBase:
    """Rebuild a KB from :func:`kb_to_data`; raises ``KeyError``/``TypeError`` on a bad snapshot."""
    from iwp_trainer.glossary import Term

    entries = {}
    for raw in data["entries"]:
        entry = Entry(
            raw["id"], raw["question"], tuple(raw["aliases"]), tuple(raw["tags"]),
            raw["source_document"], raw["source_section"], tuple(raw["related"]), raw["body"],
            Path(raw["path"]), int(raw["line"]), str(raw.get("short_title") or ""),
        )
        entries[entry.id] = entry
    terms = {}
    for raw in data["glossary"]:
        term = Term(raw["term"], raw["meaning"], tuple(raw["aliases"]), int(raw["line"]))
        terms[term.term] = term
    glossary_path = Path(data["glossary_path"]) if data.get("glossary_path") else None
    glossary = Glossary(terms, [Diagnostic(**d) for d in data["glossary_diagnostics"]], glossary_path)
    return KnowledgeBase(entries, glossary, [Diagnostic(**d) for d in data["diagnostics"]])
