"""Reading scenario YAML safely, keeping the line and column of every key and value.

PyYAML on its own loses positions, silently keeps the last of two duplicate keys and happily
follows anchors, aliases and ``!!python/...`` tags. Trainers need ``file:line`` errors instead, so
we walk the parser's event stream ourselves (libyaml's C parser when available: it is fast) and
build plain data plus a position map, refusing duplicates, anchors, aliases and unknown tags as we
go. Nothing here ever raises on bad content: problems come back as :class:`Diagnostic` values.

:func:`load_scenario_file` and :func:`load_scenarios` are the public entry points; the rules that
turn the data into :class:`~iwp_trainer.scenario.Scenario` objects live in
:mod:`iwp_trainer.validate`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import ScalarNode

from iwp_trainer.diagnostics import Diagnostic
from iwp_trainer.scenario import Dimension, Scenario, ScenarioSet

MAX_BYTES = 1_000_000
MAX_DEPTH = 50
DIMENSIONS_FILE = "dimensions.yaml"

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null")}
_COLLECTION_TAGS = {_CORE + "map", _CORE + "seq"}

Path_ = tuple  # a path into the data: keys and list indexes, e.g. ("nodes", "opening", "choices", 0)


@dataclass(frozen=True)
class Pos:
    """A 1-based line and column in a file."""

    line: int
    col: int


@dataclass
class YamlDoc:
    """Plain data from one YAML file plus where each part of it was written."""

    data: Any
    file: str
    values: dict[tuple, Pos] = field(default_factory=dict)
    keys: dict[tuple, Pos] = field(default_factory=dict)
    plain: dict[tuple, str] = field(default_factory=dict)  # unquoted text read as a non-string

    def pos(self, path: tuple) -> Pos:
        """Where the value at ``path`` was written (or its nearest known ancestor)."""
        while True:
            found = self.values.get(path) or self.keys.get(path)
            if found or not path:
                return found or Pos(1, 1)
            path = path[:-1]

    def key_pos(self, path: tuple) -> Pos:
        """Where the key of the entry at ``path`` was written (falls back to the value)."""
        return self.keys.get(path) or self.pos(path)


def _pos(mark: Any) -> Pos:
    return Pos(mark.line + 1, mark.column + 1)


class _Frame:
    __slots__ = ("is_map", "value", "path", "key", "key_pos", "skip")

    def __init__(self, is_map: bool, value: Any, path: tuple, skip: bool) -> None:
        self.is_map = is_map
        self.value = value
        self.path = path
        self.key: Any = None
        self.key_pos: Pos | None = None
        self.skip = skip


class _Stop(Exception):
    """Raised inside the event walk to stop at the first fatal problem."""


def parse_yaml(text: str, file: str | Path) -> tuple[YamlDoc | None, list[Diagnostic]]:
    """Parse one YAML document into a :class:`YamlDoc`, or say precisely why not."""
    file = str(file)
    diags: list[Diagnostic] = []
    doc = YamlDoc(None, file)
    root: list[Any] = []
    stack: list[_Frame] = []
    documents = 0

    def fatal(code: str, message: str, mark: Any, hint: str | None = None) -> None:
        p = _pos(mark)
        diags.append(Diagnostic.error(code, message, file, p.line, p.col, hint))
        raise _Stop

    def place(value: Any, start: Pos, is_key_candidate: bool) -> tuple[tuple, bool] | None:
        """Attach a finished value to its parent. Returns (path, skip) for containers."""
        if not stack:
            root.append(value)
            doc.values[()] = start
            return (), False
        top = stack[-1]
        if top.is_map:
            if top.key is None:
                return None  # handled by the caller: this is a key
            path = top.path + (top.key,)
            skip = top.skip
            if not skip:
                top.value[top.key] = value
                doc.values.setdefault(path, start)
            top.key = None
            top.skip = False
            return path, skip
        path = top.path + (len(top.value),)
        if not top.skip:
            top.value.append(value)
            doc.values.setdefault(path, start)
        return path, top.skip

    try:
        for event in yaml.parse(text, Loader=_LOADER):
            if isinstance(event, DocumentStartEvent):
                documents += 1
                if documents > 1:
                    fatal("SC006", "more than one YAML document in the file; a scenario file holds exactly one",
                          event.start_mark, "remove the extra `---`")
                continue
            if isinstance(event, AliasEvent):
                fatal("SC003", f"alias `*{event.anchor}` is not allowed: write the value out in full",
                      event.start_mark)
            if isinstance(event, (MappingEndEvent, SequenceEndEvent)):
                stack.pop()
                continue
            if not isinstance(event, (ScalarEvent, MappingStartEvent, SequenceStartEvent)):
                continue
            start = _pos(event.start_mark)
            if event.anchor is not None:
                fatal("SC003", f"anchor `&{event.anchor}` is not allowed: write each value out in full",
                      event.start_mark)
            top = stack[-1] if stack else None
            is_key = top is not None and top.is_map and top.key is None
            if isinstance(event, ScalarEvent):
                value = _scalar(event, fatal)
                if is_key:
                    assert top is not None
                    key = event.value  # keys are always read as text: `no:` stays "no"
                    if key in top.value:
                        first = doc.keys.get(top.path + (key,))
                        where = f" (first at line {first.line})" if first else ""
                        diags.append(Diagnostic.error(
                            "SC002", f"duplicate key `{key}`{where}: YAML would silently keep only the last one",
                            file, start.line, start.col, "remove or rename one of them"))
                        top.skip = True
                    else:
                        doc.keys[top.path + (key,)] = start
                    top.key = key
                    continue
                placed = place(value, start, False)
                if placed is not None and event.implicit[0] and not isinstance(value, str) and value is not None:
                    path, skip = placed
                    if not skip:
                        doc.plain[path] = event.value
                continue
            # a mapping or a sequence starts
            if event.tag is not None and event.tag not in _COLLECTION_TAGS:
                fatal("SC004", f"tag `{_show_tag(event.tag)}` is not allowed: scenario files use plain YAML only",
                      event.start_mark, "remove the tag")
            if is_key:
                fatal("SC103", "a key must be plain text, not a list or mapping", event.start_mark)
            if len(stack) >= MAX_DEPTH:
                fatal("SC008", f"the file is nested more than {MAX_DEPTH} levels deep", event.start_mark,
                      "flatten the structure")
            container: Any = {} if isinstance(event, MappingStartEvent) else []
            placed = place(container, start, False)
            assert placed is not None
            path, skip = placed
            stack.append(_Frame(isinstance(event, MappingStartEvent), container, path, skip))
    except _Stop:
        return None, diags
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        diags.append(Diagnostic.error("SC001", f"YAML syntax error: {message}", file, line, col))
        return None, diags
    except yaml.YAMLError as exc:  # pragma: no cover - libyaml reports everything with marks
        diags.append(Diagnostic.error("SC001", f"YAML syntax error: {exc}", file, None, None))
        return None, diags
    except RecursionError:  # pragma: no cover - guarded by MAX_DEPTH
        diags.append(Diagnostic.error("SC008", "the file is nested too deeply", file, None, None))
        return None, diags

    if diags:  # duplicate keys: the data would be ambiguous
        return None, diags
    if not root or root[0] is None:
        diags.append(Diagnostic.error("SC005", "the file is empty", file, 1, 1,
                                      "a scenario file starts with `id:`, `title:` and the other keys"))
        return None, diags
    doc.data = root[0]
    return doc, diags


def _show_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag


def _scalar(event: ScalarEvent, fatal: Any) -> Any:
    """The Python value of a scalar, with YAML 1.1 resolution exactly as PyYAML's safe loader."""
    if event.tag is not None and event.tag != "!":
        tag = event.tag
        if tag not in _SCALAR_TAGS:
            fatal("SC004", f"tag `{_show_tag(tag)}` is not allowed: scenario files use plain YAML only",
                  event.start_mark, "remove the tag (only safe loading is used)")
    else:
        tag = _RESOLVER.resolve(ScalarNode, event.value, event.implicit)
    if tag == _CORE + "str":
        return event.value
    node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
    try:
        return _CONSTRUCTOR.construct_object(node, deep=True)
    except yaml.YAMLError:
        fatal("SC103", f"`{event.value}` cannot be read as {tag.rsplit(':', 1)[-1]}", event.start_mark)
    except (ValueError, OverflowError):  # e.g. a timestamp like 2024-13-45
        return event.value


def read_yaml_file(path: Path) -> tuple[YamlDoc | None, bytes, list[Diagnostic]]:
    """Read a file with the size and encoding checks, then parse it."""
    file = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        return None, b"", [Diagnostic.error("SC009", f"cannot read the file: {exc.strerror or exc}", file)]
    if size > MAX_BYTES:
        return None, b"", [Diagnostic.error(
            "SC007", f"the file is {size:,} bytes; the limit is {MAX_BYTES:,} (1 MB)", file, 1, 1,
            "split it into several scenarios")]
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, b"", [Diagnostic.error("SC009", f"cannot read the file: {exc.strerror or exc}", file)]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, raw, [Diagnostic.error("SC009", "the file is not valid UTF-8 text", file, line, None,
                                            "save it as UTF-8")]
    if not text.strip():
        return None, raw, [Diagnostic.error("SC005", "the file is empty", file, 1, 1,
                                            "a scenario file starts with `id:`, `title:` and the other keys")]
    doc, diags = parse_yaml(text, file)
    return doc, raw, diags


def load_dimensions(path: Path) -> tuple[dict[str, Dimension], list[Diagnostic]]:
    """Read ``dimensions.yaml``: the scoring dimensions scenarios may use."""
    from iwp_trainer import validate

    if not path.is_file():
        return {}, [Diagnostic.error("SC501", f"no {DIMENSIONS_FILE} found: scenarios cannot be scored",
                                     str(path), None, None, f"create {path}")]
    doc, _raw, diags = read_yaml_file(path)
    if doc is None:
        return {}, diags
    dims, more = validate.build_dimensions(doc)
    return dims, diags + more


def load_scenario_file(
    path: Path,
    dimensions: dict[str, Dimension],
    kb_ids: Iterable[str] | None,
    run_tests: bool = True,
) -> tuple[Scenario | None, list[Diagnostic]]:
    """Load and validate one scenario file.

    Returns the scenario (``None`` when it has errors that make it unplayable) and every problem
    found. Failing scripted tests are reported but do not stop the scenario being returned.
    ``kb_ids=None`` skips the check that ``cites`` name real knowledge-base entries.
    """
    from iwp_trainer import validate

    path = Path(path)
    doc, raw, diags = read_yaml_file(path)
    if doc is None:
        return None, diags
    scenario, more = validate.validate_document(
        doc, dimensions, None if kb_ids is None else set(kb_ids), run_tests=run_tests,
        sha256=hashlib.sha256(raw).hexdigest(), path=path)
    return scenario, diags + more


def scenario_files(scenarios_dir: Path) -> list[Path]:
    """Every scenario file in a folder: ``*.yaml`` except ``dimensions.yaml``, sorted."""
    return sorted(p for p in Path(scenarios_dir).glob("*.yaml") if p.name != DIMENSIONS_FILE and p.is_file())


def load_scenarios(
    scenarios_dir: Path,
    kb_ids: Iterable[str] | None,
    run_tests: bool = True,
    files: Iterable[Path] | None = None,
) -> ScenarioSet:
    """Load every scenario in a folder, keeping each valid one even when others are broken.

    ``files`` restricts loading to some files (which may live elsewhere); the dimensions always
    come from ``scenarios_dir/dimensions.yaml``.
    """
    scenarios_dir = Path(scenarios_dir)
    result = ScenarioSet()
    if files is None and not scenarios_dir.is_dir():
        result.diagnostics.append(Diagnostic.error("SC009", "the scenarios folder does not exist",
                                                   str(scenarios_dir)))
        return result
    result.dimensions, diags = load_dimensions(scenarios_dir / DIMENSIONS_FILE)
    result.diagnostics.extend(diags)
    ids = None if kb_ids is None else set(kb_ids)
    first_file: dict[str, tuple[str, int | None]] = {}
    for path in (scenario_files(scenarios_dir) if files is None else list(files)):
        scenario, diags = load_scenario_file(path, result.dimensions, ids, run_tests=run_tests)
        result.diagnostics.extend(diags)
        if scenario is None:
            continue
        if scenario.id in first_file:
            other, other_line = first_file[scenario.id]
            result.diagnostics.append(Diagnostic.error(
                "SC203", f"duplicate scenario id `{scenario.id}`: also used in {other}"
                + (f" line {other_line}" if other_line else ""),
                scenario.file, scenario.line, None, "give each scenario its own id"))
            continue
        first_file[scenario.id] = (scenario.file, scenario.line)
        result.scenarios[scenario.id] = scenario
    return result
