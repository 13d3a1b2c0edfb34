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

import gc
import hashlib
import os
import signal
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

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
from iwp_trainer.files import FileTooLarge, NotRegularFile, listed_files, read_regular
from iwp_trainer import glossary
from iwp_trainer.glossary import MAX_YAML_DEPTH, limit_hint, yaml_error_position, yaml_error_text, yaml_limit
from iwp_trainer.scenario import Dimension, Scenario, ScenarioSet

MAX_BYTES = 1_000_000
MAX_DEPTH = MAX_YAML_DEPTH
DIMENSIONS_FILE = "dimensions.yaml"

_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null")}
_COLLECTION_TAGS = {_CORE + "map", _CORE + "seq"}

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
    # The parser's marks (0-based ``line``/``column``), or Pos; read them with pos()/key_pos().
    values: dict[tuple, Any] = field(default_factory=dict)
    keys: dict[tuple, Any] = field(default_factory=dict)
    plain: dict[tuple, str] = field(default_factory=dict)  # unquoted text read as a non-string

    def pos(self, path: tuple) -> Pos:
        """Where the value at ``path`` was written (or its nearest known ancestor)."""
        while True:
            found = self.values.get(path) or self.keys.get(path)
            if found is not None or not path:
                return _pos(found) if found is not None else Pos(1, 1)
            path = path[:-1]

    def key_pos(self, path: tuple) -> Pos:
        """Where the key of the entry at ``path`` was written (falls back to the value)."""
        found = self.keys.get(path)
        return _pos(found) if found is not None else self.pos(path)


def _pos(mark: Any) -> Pos:
    if isinstance(mark, Pos):
        return mark
    return Pos(mark.line + 1, mark.column + 1)


class _Stop(Exception):
    """Raised inside the event walk to stop at the first fatal problem."""


SCENARIO_EMPTY_HINT = "a scenario file starts with `id:`, `title:` and the other keys"
DIMENSIONS_EMPTY_HINT = "list each dimension with its `name:` and `description:`, e.g. `discretion: {name: Discretion, description: ...}`"


def parse_yaml(text: str, file: str | Path,
               empty_hint: str = SCENARIO_EMPTY_HINT) -> tuple[YamlDoc | None, list[Diagnostic]]:
    """Parse one YAML document into a :class:`YamlDoc`, or say precisely why not.

    This loop runs once per YAML event, so it is written for speed: positions are kept as the
    parser's own marks and only turned into :class:`Pos` when asked for.
    """
    file = str(file)
    diags: list[Diagnostic] = []
    doc = YamlDoc(None, file)
    values = doc.values
    keys = doc.keys
    root: list[Any] = []
    # Each frame: [is_map, container, path, pending key or None, skip the pending value (a
    # duplicate key's), the whole container is skipped]
    stack: list[list[Any]] = []
    documents = 0
    resolvers = _RESOLVER.yaml_implicit_resolvers

    def fatal(code: str, message: str, mark: Any, hint: str | None = None) -> None:
        p = _pos(mark)
        diags.append(Diagnostic.error(code, message, file, p.line, p.col, hint))
        raise _Stop

    try:
        for event in yaml.parse(text, Loader=glossary.YAML_LOADER):
            cls = event.__class__
            if cls is MappingEndEvent or cls is SequenceEndEvent:
                stack.pop()
                continue
            if cls is ScalarEvent:
                if event.anchor is not None:
                    fatal("SC003", f"anchor `&{event.anchor}` is not allowed: write each value out in full",
                          event.start_mark)
                top = stack[-1] if stack else None
                if top is not None and top[0] and top[3] is None:  # a key: always read as text
                    key = event.value
                    if top[5]:
                        top[3] = key
                        continue
                    kpath = top[2] + (key,)
                    if key in top[1] or kpath in keys:
                        first = keys.get(kpath)
                        where = f" (first at line {first.line + 1})" if first is not None else ""
                        p = _pos(event.start_mark)
                        diags.append(Diagnostic.error(
                            "SC002", f"duplicate key `{key}`{where}: YAML would silently keep only the last one",
                            file, p.line, p.col, "remove or rename one of them"))
                        top[4] = True
                    else:
                        keys[kpath] = event.start_mark
                    top[3] = key
                    continue
                raw = event.value
                if event.tag is None and (not event.implicit[0] or raw[:1] not in resolvers):
                    value: Any = raw  # quoted, or plain text that no implicit type can match
                else:
                    value = _scalar(event, fatal)
                if top is None:
                    root.append(value)
                    values[()] = event.start_mark
                    continue
                skip = top[4] or top[5]
                if top[0]:
                    path = top[2] + (top[3],)
                    if not skip:
                        top[1][top[3]] = value
                    top[3] = None
                    top[4] = False
                else:
                    path = top[2] + (len(top[1]),)
                    if not skip:
                        top[1].append(value)
                if not skip:
                    values[path] = event.start_mark
                    if value is not raw and value is not None and not isinstance(value, str):
                        doc.plain[path] = raw
                continue
            if cls is MappingStartEvent or cls is SequenceStartEvent:
                if event.anchor is not None:
                    fatal("SC003", f"anchor `&{event.anchor}` is not allowed: write each value out in full",
                          event.start_mark)
                if event.tag is not None and event.tag not in _COLLECTION_TAGS:
                    fatal("SC004", f"tag `{_show_tag(event.tag)}` is not allowed: scenario files use plain "
                          "YAML only", event.start_mark, "remove the tag")
                if len(stack) >= MAX_DEPTH:
                    fatal("SC008", f"the file is nested more than {MAX_DEPTH} levels deep", event.start_mark,
                          "flatten the structure")
                is_map = cls is MappingStartEvent
                container: Any = {} if is_map else []
                top = stack[-1] if stack else None
                if top is None:
                    root.append(container)
                    values[()] = event.start_mark
                    stack.append([is_map, container, (), None, False, False])
                    continue
                skip = top[4] or top[5]
                if top[0]:
                    if top[3] is None:
                        fatal("SC103", "a key must be plain text, not a list or mapping", event.start_mark)
                    path = top[2] + (top[3],)
                    if not skip:
                        top[1][top[3]] = container
                    top[3] = None
                    top[4] = False
                else:
                    path = top[2] + (len(top[1]),)
                    if not skip:
                        top[1].append(container)
                if not skip:
                    values[path] = event.start_mark
                stack.append([is_map, container, path, None, False, skip])
                continue
            if cls is AliasEvent:
                fatal("SC003", f"alias `*{event.anchor}` is not allowed: write the value out in full",
                      event.start_mark)
            if cls is DocumentStartEvent:
                documents += 1
                if documents > 1:
                    fatal("SC006", "more than one YAML document in the file; a scenario file holds exactly one",
                          event.start_mark, "remove the extra `---`")
    except _Stop:
        return None, diags
    except (yaml.YAMLError, RecursionError, MemoryError) as exc:
        diags.append(_read_error(exc, text, file))
        return None, diags

    if diags:  # duplicate keys: the data would be ambiguous
        return None, diags
    if not root or root[0] is None:
        diags.append(Diagnostic.error("SC005", "the file is empty", file, 1, 1, empty_hint))
        return None, diags
    doc.data = root[0]
    return doc, diags


def _read_error(exc: BaseException, text: str, file: str) -> Diagnostic:
    """One diagnostic for YAML that could not be read: a library's limit (SC008 nesting, SC007
    size) or a syntax error (SC001), with its line and column where the library gives one."""
    limit = yaml_limit(exc)
    if limit is not None:
        line = None if limit.line is None else limit.line + 1
        col = None if limit.col is None else limit.col + 1
        if limit.kind == "depth":
            return Diagnostic.error("SC008", f"the file is nested more than {MAX_DEPTH} levels deep", file,
                                    line, col, limit_hint(limit))
        return Diagnostic.error("SC007", f"the file is {limit.message}", file, line, col, limit_hint(limit))
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        return Diagnostic.error("SC001", f"YAML syntax error: {message}", file, line, col, _syntax_hint(message))
    # a character YAML refuses (NUL, other control characters)
    where = yaml_error_position(exc, text)
    line, col = (where[0] + 1, where[1] + 1) if where else (None, None)
    return Diagnostic.error("SC001", f"YAML syntax error: {yaml_error_text(exc)}", file, line, col,
                            "remove the character or retype the text around it")


_SYNTAX_HINTS = (
    ("tab character", "indent with spaces, never tabs"),
    ("mapping values are not allowed", 'text containing ": " must be in quotes'),
    ("expected key", "check the indentation and quotes here and on the line before; "
                     "to put a \" inside \"...\", write \\\" or use '...' instead"),
    ("'-' indicator", "check the indentation: items of a list line up under each other"),
    ("could not find expected ':'", "a key needs a colon and a space after it, e.g. `say: \"...\"`"),
    ("unexpected end of stream", "a quote or bracket is not closed"),
    ("found unexpected end", "a quote or bracket is not closed"),
)


def _syntax_hint(message: str) -> str | None:
    """A plain-words fix for libyaml's commonest complaints."""
    for needle, hint in _SYNTAX_HINTS:
        if needle in message:
            return hint
    return None


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


def read_yaml_file(path: Path, empty_hint: str = SCENARIO_EMPTY_HINT
                   ) -> tuple[YamlDoc | None, bytes, list[Diagnostic]]:
    """Read a file with the size and encoding checks, then parse it."""
    file = str(path)
    try:
        raw = read_regular(path, MAX_BYTES)
    except FileTooLarge as exc:
        return None, b"", [Diagnostic.error(
            "SC007", f"the file is {exc.size:,} bytes; the limit is {MAX_BYTES:,} (1 MB)", file, 1, 1,
            "split it into several scenarios")]
    except NotRegularFile as exc:
        return None, b"", [Diagnostic.error("SC009", f"cannot read the file: {exc}", file, None, None,
                                            "give a scenario .yaml file")]
    except OSError as exc:
        return None, b"", [Diagnostic.error("SC009", f"cannot read the file: {exc.strerror or exc}", file)]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, raw, [Diagnostic.error("SC009", "the file is not valid UTF-8 text", file, line, None,
                                            "save it as UTF-8")]
    if not text.strip():
        return None, raw, [Diagnostic.error("SC005", "the file is empty", file, 1, 1, empty_hint)]
    doc, diags = parse_yaml(text, file, empty_hint)
    return doc, raw, diags


def load_dimensions(path: Path) -> tuple[dict[str, Dimension], list[Diagnostic]]:
    """Read ``dimensions.yaml``: the scoring dimensions scenarios may use."""
    from iwp_trainer import validate

    if not path.is_file():
        found = f"{DIMENSIONS_FILE} is a folder, not a file" if path.is_dir() else f"no {DIMENSIONS_FILE} found"
        return {}, [Diagnostic.error("SC501", f"{found}: scenarios cannot be scored",
                                     str(path), None, None, f"create {path}")]
    doc, _raw, diags = read_yaml_file(path, DIMENSIONS_EMPTY_HINT)
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
    """Every scenario file in a folder: ``*.yaml`` except ``dimensions.yaml``, sorted. A name that
    cannot be read (a symlink loop, a named pipe) is listed too: loading reports that one file."""
    try:
        names = listed_files(scenarios_dir, ".yaml")
    except OSError:
        return []
    return [Path(scenarios_dir) / name for name in names if name != DIMENSIONS_FILE]


PARALLEL_MIN_FILES = 64


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause Python's cycle collector while loading.

    Loading makes many small objects that live on (data, positions, scenarios). Each automatic
    collection re-scans all of them, which more than doubled the time to check a big folder; the
    few cycles made meanwhile are collected as usual afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load_in_worker(args: tuple[Path, dict[str, Dimension], set[str] | None, bool]
                    ) -> tuple[Scenario | None, list[Diagnostic]]:
    scenario, diags = load_scenario_file(*args)
    if scenario is not None:
        scenario.__dict__.pop("_analysis", None)  # a cache: cheaper to rebuild than to pickle
    return scenario, diags


def _quiet_worker() -> None:
    """Pool initializer: Ctrl+C reaches the whole process group, workers included. Only the main
    process answers it (one "interrupted" line); a worker must not print its own traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _load_all(paths: list[Path], dimensions: dict[str, Dimension], ids: set[str] | None, run_tests: bool,
              jobs: int) -> Iterable[tuple[Scenario | None, list[Diagnostic]]]:
    """Load files in order; with ``jobs`` > 1 and many files, in worker processes."""
    if jobs > 1 and len(paths) >= PARALLEL_MIN_FILES:
        try:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            context = multiprocessing.get_context("fork") if hasattr(os, "fork") else None
            pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_quiet_worker)
        except (OSError, ImportError, RuntimeError):  # no processes here: fall back to one
            pool = None
        if pool is not None:
            interrupted: list[int] = []
            try:
                # While the workers are forked, Ctrl+C is only noted: a worker that got it before
                # its initializer ran would otherwise print a traceback. The main process acts on it.
                previous = signal.signal(signal.SIGINT, lambda signum, _frame: interrupted.append(signum))
            except ValueError:  # not the main thread: signals are not ours to handle
                previous = None
            try:
                try:
                    work = [(p, dimensions, ids, run_tests) for p in paths]
                    results = pool.map(_load_in_worker, work, chunksize=max(1, len(paths) // (jobs * 4)))
                finally:
                    if previous is not None:
                        signal.signal(signal.SIGINT, previous)
                if interrupted:
                    raise KeyboardInterrupt
                return list(results)
            except KeyboardInterrupt:
                # Stop now: drop the queued work and end the workers rather than wait for them.
                # Their list and the pool's manager thread first: shutdown() forgets both, and the
                # workers would finish their chunks. The thread ends with them; waiting for it means
                # nothing races it for its pipe at exit (an EBADF traceback otherwise).
                processes = list((getattr(pool, "_processes", None) or {}).values())
                manager = getattr(pool, "_executor_manager_thread", None)
                pool.shutdown(wait=False, cancel_futures=True)
                for process in processes:
                    process.terminate()
                if manager is not None:
                    manager.join(timeout=10)
                raise
            except (OSError, RuntimeError):  # the workers could not run: load here instead
                pass
            finally:
                pool.shutdown(wait=True)
    return [load_scenario_file(p, dimensions, ids, run_tests=run_tests) for p in paths]


def load_scenarios(
    scenarios_dir: Path,
    kb_ids: Iterable[str] | None,
    run_tests: bool = True,
    files: Iterable[Path] | None = None,
    jobs: int = 1,
) -> ScenarioSet:
    """Load every scenario in a folder, keeping each valid one even when others are broken.

    ``files`` restricts loading to some files (which may live elsewhere); the dimensions always
    come from ``scenarios_dir/dimensions.yaml``. ``jobs`` > 1 spreads large folders (64 files or
    more) over that many processes: ``iwp-trainer check`` does this, the app does not need to.
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
    paths = scenario_files(scenarios_dir) if files is None else list(files)
    with _gc_paused():
        loaded = _load_all(paths, result.dimensions, ids, run_tests, jobs)
    for scenario, diags in loaded:
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
