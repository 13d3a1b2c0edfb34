"""Every rule a scenario file must follow, each with a stable code and a ``file:line`` position.

Passes, so that every problem that can be found is found in one run, without a cascade of
confusing follow-on messages:

1. shape: keys, types, required fields, YAML 1.1 surprises, slugs (SC1xx);
2. item by item, on whatever the shape pass could read, even when it found errors: targets,
   duplicate choice ids, dimensions, cites, flags (SC201, SC202, SC3xx);
3. only when nothing above is an error: the graph as a whole (reachability, dead ends, flags that
   hide every choice, random branches, best scores: SC204-SC213, SC304);
4. then the scenario's own scripted ``tests:`` played through the engine (SC4xx).

The codes are listed, with what to do about each, in ``docs/scenario-format.md``.
"""

from __future__ import annotations

import datetime
import difflib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from iwp_trainer.diagnostics import Diagnostic
from iwp_trainer.safe_text import CONTROL_HINT, MAX_CONTROL_REPORTS, control_names, unsafe_chars
from iwp_trainer.engine import AnalysisTooLarge, Playthrough, analyse, reachable_from, reaching
from iwp_trainer.scenario import LEVELS, Choice, Dimension, Node, RandomBranch, Scenario, ScenarioTest, Variant

if TYPE_CHECKING:
    from iwp_trainer.scenario_loader import YamlDoc

SLUG = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
DEFAULT_PASS_MARK = 0.7

SCENARIO_KEYS = ("id", "title", "summary", "level", "dimensions", "pass_mark", "shuffle", "cast",
                 "start", "nodes", "tests")
SCENARIO_REQUIRED = ("id", "title", "summary", "level", "dimensions", "start", "nodes")
NODE_KEYS = ("speaker", "say", "variants", "choices", "random", "ending")
VARIANT_KEYS = ("when", "say")
CHOICE_KEYS = ("id", "text", "to", "scores", "feedback", "cites", "critical", "set", "requires",
               "excludes")
CHOICE_REQUIRED = ("id", "text", "to")
BRANCH_KEYS = ("to", "weight")
TEST_KEYS = ("name", "choose", "seed", "expect")
EXPECT_KEYS = ("ending", "passed", "scores")
DIMENSION_KEYS = ("name", "description")

# Every code this module can produce, with a one-line meaning (the docs expand on each).
CODES: dict[str, str] = {
    "SC001": "YAML syntax error",
    "SC002": "duplicate key (includes duplicate node ids)",
    "SC003": "anchors and aliases are not allowed",
    "SC004": "tags such as !!python/... are not allowed",
    "SC005": "empty file",
    "SC006": "the file is not a single mapping",
    "SC007": "file larger than 1 MB",
    "SC008": "nested more than 50 levels deep",
    "SC009": "cannot read the file (missing, not UTF-8)",
    "SC101": "unknown key",
    "SC102": "missing required key",
    "SC103": "wrong type",
    "SC104": "unquoted text read as a boolean, number or date (YAML 1.1)",
    "SC105": "empty text",
    "SC106": "not a valid id (slug)",
    "SC107": "scenario id does not match the file name",
    "SC108": "value out of range or not one of the allowed values",
    "SC109": "text holds a terminal control character or bidi control (the scenario still loads)",
    "SC201": "`to`, `start` or `expect.ending` names no node",
    "SC202": "duplicate choice id",
    "SC203": "duplicate scenario id across files",
    "SC204": "unreachable node (warning)",
    "SC205": "node with no choices that is not an ending",
    "SC206": "no ending can be reached from a node (loop with no exit)",
    "SC207": "an ending with choices or random branches",
    "SC208": "a node with both choices and random branches",
    "SC209": "every choice hidden by flags when the node is reached",
    "SC210": "random branches lead to different best scores (warning)",
    "SC211": "too many flag and loop combinations to analyse",
    "SC212": "a critical choice ranks as a best choice (warning)",
    "SC213": "a `variants` entry can never show (warning)",
    "SC301": "unknown dimension",
    "SC302": "scored choice without `cites`",
    "SC303": "`cites` names no knowledge-base entry",
    "SC304": "declared dimension that no path can score",
    "SC305": "flag required or excluded but never set (warning)",
    "SC306": "choice scores a dimension the scenario does not declare",
    "SC401": "scripted test: the outcome differs from `expect`",
    "SC402": "scripted test: the path cannot be played",
    "SC501": "no dimensions.yaml",
}


def suggest(word: str, options: Iterable[str]) -> str | None:
    """``did you mean `x`?`` for a near miss, else ``None``."""
    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return f"the date {value}"
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return f"the text {text if len(text) <= 60 else text[:56] + '...' + text[0]}"


class _Checker:
    """Collects diagnostics for one document, with positions looked up by data path."""

    def __init__(self, doc: YamlDoc) -> None:
        self.doc = doc
        self.file = doc.file
        self.diags: list[Diagnostic] = []

    def _add(self, severity: str, code: str, message: str, path: tuple, hint: str | None, key: bool) -> None:
        pos = self.doc.key_pos(path) if key else self.doc.pos(path)
        message = message.replace("\r", "\\r").replace("\n", "\\n")  # one problem, one line
        make = Diagnostic.error if severity == "error" else Diagnostic.warning
        self.diags.append(make(code, message, self.file, pos.line, pos.col, hint))

    def error(self, code: str, message: str, path: tuple, hint: str | None = None, key: bool = False) -> None:
        self._add("error", code, message, path, hint, key)

    def warning(self, code: str, message: str, path: tuple, hint: str | None = None, key: bool = False) -> None:
        self._add("warning", code, message, path, hint, key)

    @property
    def errors(self) -> int:
        return sum(1 for d in self.diags if d.severity == "error")

    # -- shapes ---------------------------------------------------------------------------------

    def mapping(self, value: Any, path: tuple, what: str) -> dict | None:
        if isinstance(value, dict):
            return value
        self.error("SC103", f"{what} must be a mapping of `key: value` lines, not {_describe(value)}", path)
        return None

    def keys(self, m: dict, path: tuple, allowed: tuple[str, ...], required: tuple[str, ...], what: str) -> None:
        for key in m:
            if key not in allowed:
                hint = suggest(key, allowed) or f"allowed keys: {', '.join(allowed)}"
                self.error("SC101", f"unknown key `{key}` in {what}", path + (key,), hint, key=True)
        for key in required:
            if key not in m:
                self.error("SC102", f"{what} is missing the required key `{key}`", path, key=True)

    def surprise(self, value: Any, path: tuple, what: str) -> None:
        raw = self.doc.plain.get(path, str(value))
        self.error("SC104", f"{what} was read as {_describe(value)} from unquoted `{raw}` (YAML 1.1)",
                   path, f'put it in quotes: "{raw}"')

    def text(self, m: dict, path: tuple, key: str, what: str, required: bool = True) -> str | None:
        if key not in m:
            return None  # missing keys are reported by ``keys``
        value = m[key]
        where = path + (key,)
        if isinstance(value, str):
            if not value.strip():
                self.error("SC105", f"{what} is empty", where, "write the text, or remove the key")
                return None
            return value.strip()
        if value is None:
            self.error("SC105", f"{what} is empty", where, "write the text, or remove the key")
            return None
        if isinstance(value, (bool, int, float, datetime.date)):
            self.surprise(value, where, what)
            return None
        self.error("SC103", f"{what} must be text, not {_describe(value)}", where)
        return None

    def slug(self, m: dict, path: tuple, key: str, what: str) -> str | None:
        value = self.text(m, path, key, what)
        if value is None:
            return None
        if not SLUG.match(value):
            self.error("SC106", f"{what} `{value}` is not a valid id", path + (key,),
                       "use lower-case letters, digits and hyphens, e.g. `explain-rat`")
            return None
        return value

    def slug_value(self, value: Any, path: tuple, what: str) -> str | None:
        if isinstance(value, (bool, int, float, datetime.date)):
            self.surprise(value, path, what)
            return None
        if not isinstance(value, str) or not value:
            self.error("SC103", f"{what} must be an id, not {_describe(value)}", path)
            return None
        if not SLUG.match(value):
            self.error("SC106", f"{what} `{value}` is not a valid id", path,
                       "use lower-case letters, digits and hyphens")
            return None
        return value

    def slug_list(self, m: dict, path: tuple, key: str, what: str) -> tuple[str, ...]:
        if key not in m:
            return ()
        value = m[key]
        where = path + (key,)
        if isinstance(value, str):
            value = [value]  # `cites: one-id` is read as a one-item list
            self.doc.values.setdefault(where + (0,), self.doc.pos(where))
        if not isinstance(value, list):
            self.error("SC103", f"{what} must be a list like [a, b], not {_describe(value)}", where)
            return ()
        out = []
        for i, item in enumerate(value):
            slug = self.slug_value(item, where + (i,), f"an item of {what}")
            if slug is not None:
                out.append(slug)
        return tuple(out)

    def boolean(self, m: dict, path: tuple, key: str, what: str, default: bool) -> bool:
        if key not in m:
            return default
        value = m[key]
        if isinstance(value, bool):
            return value
        self.error("SC103", f"{what} must be true or false, not {_describe(value)}", path + (key,))
        return default

    def number(self, m: dict, path: tuple, key: str, what: str, integer: bool = False) -> float | int | None:
        if key not in m:
            return None
        value = m[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
            kind = "a whole number" if integer else "a number"
            self.error("SC103", f"{what} must be {kind}, not {_describe(value)}", path + (key,))
            return None
        return value

    def points(self, m: dict, path: tuple, key: str, what: str) -> dict[str, int]:
        if key not in m:
            return {}
        where = path + (key,)
        table = self.mapping(m[key], where, what)
        if table is None:
            return {}
        out: dict[str, int] = {}
        for dim, value in table.items():
            if not SLUG.match(dim):
                self.error("SC106", f"dimension `{dim}` in {what} is not a valid id", where + (dim,), key=True)
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                self.error("SC103", f"points for `{dim}` must be a whole number (may be negative), "
                                    f"not {_describe(value)}", where + (dim,))
                continue
            out[dim] = value
        return out


# -- dimensions.yaml ----------------------------------------------------------------------------


def build_dimensions(doc: YamlDoc) -> tuple[dict[str, Dimension], list[Diagnostic]]:
    """Read the dimensions file: ``id: {name, description}`` for each scoring dimension."""
    ck = _Checker(doc)
    data = doc.data
    if not isinstance(data, dict):
        ck.error("SC006", f"dimensions.yaml must be a mapping of dimension ids, not {_describe(data)}", ())
        return {}, ck.diags
    dims: dict[str, Dimension] = {}
    for dim_id, body in data.items():
        path = (dim_id,)
        if not SLUG.match(dim_id):
            ck.error("SC106", f"dimension id `{dim_id}` is not a valid id", path, key=True)
            continue
        m = ck.mapping(body, path, f"dimension `{dim_id}`")
        if m is None:
            continue
        before = ck.errors
        ck.keys(m, path, DIMENSION_KEYS, DIMENSION_KEYS, f"dimension `{dim_id}`")
        name = ck.text(m, path, "name", f"the name of dimension `{dim_id}`")
        description = ck.text(m, path, "description", f"the description of dimension `{dim_id}`")
        if ck.errors == before and name and description:
            dims[dim_id] = Dimension(dim_id, name, description, doc.key_pos(path).line)
    return dims, ck.diags + control_char_diagnostics(doc)


# -- scenario files -----------------------------------------------------------------------------


class _Built:
    """A scenario plus where each part of it was written, for the later passes."""

    def __init__(self) -> None:
        self.node_path: dict[str, tuple] = {}
        self.choice_path: dict[int, tuple] = {}  # id(choice) -> path
        self.branch_path: dict[int, tuple] = {}
        self.test_path: dict[int, tuple] = {}
        self.dim_path: dict[str, tuple] = {}
        self.variant_path: dict[int, tuple] = {}


def validate_document(
    doc: YamlDoc,
    dimensions: dict[str, Dimension],
    kb_ids: set[str] | None,
    run_tests: bool = True,
    sha256: str = "",
    path: Path | None = None,
) -> tuple[Scenario | None, list[Diagnostic]]:
    """Build a :class:`Scenario` from parsed YAML and check every rule.

    Returns ``None`` for the scenario when any shape, graph or scoring error was found; failing
    scripted tests are reported but the scenario is still returned (it can be played).
    """
    scenario, diags = _validate_document(doc, dimensions, kb_ids, run_tests, sha256, path)
    return scenario, diags + control_char_diagnostics(doc)


def control_char_diagnostics(doc: YamlDoc) -> list[Diagnostic]:
    """SC109 for every text (value or key) holding a character that
    :func:`~iwp_trainer.safe_text.printable` would replace: ESC, other C0/C1 controls, bidi controls.
    Usually written as YAML escapes (``"\\e]52;..."``, ``"\\u202e"``). An error, so ``check`` fails, but
    it does not stop the scenario loading: everything shows such characters as placeholders."""
    ck = _Checker(doc)
    found = 0

    def visit(value: Any, path: tuple) -> None:
        nonlocal found
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and unsafe_chars(key):
                    found += 1
                    if found <= MAX_CONTROL_REPORTS:
                        ck.error("SC109", f"the key {_where(path + (key,))} contains {control_names(key)}", path + (key,),
                                 CONTROL_HINT, key=True)
                visit(item, path + (key,))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                visit(item, path + (index,))
        elif isinstance(value, str) and unsafe_chars(value):
            found += 1
            if found <= MAX_CONTROL_REPORTS:
                ck.error("SC109", f"{_where(path)} contains {control_names(value)}", path, CONTROL_HINT)

    visit(doc.data, ())
    if found > MAX_CONTROL_REPORTS:
        more = found - MAX_CONTROL_REPORTS
        ck.diags.append(Diagnostic.error("SC109", f"{more} more text{'s' if more != 1 else ''} with control "
                                         "characters after this", doc.file, ck.diags[-1].line, hint=CONTROL_HINT))
    return ck.diags


def _where(path: tuple) -> str:
    """``nodes.opening.choices[1].text`` for a data path."""
    out = ""
    for part in path:
        out += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return f"`{out or 'the file'}`"


def _validate_document(
    doc: YamlDoc,
    dimensions: dict[str, Dimension],
    kb_ids: set[str] | None,
    run_tests: bool,
    sha256: str,
    path: Path | None,
) -> tuple[Scenario | None, list[Diagnostic]]:
    ck = _Checker(doc)
    built = _Built()
    scenario = _build(ck, built, dimensions, sha256, path)
    if scenario is None:
        return None, ck.diags
    # Checks that look at one item at a time run on whatever could be read, so a shape error
    # elsewhere (an id that differs from the file name, a typo in a key) never hides them.
    _check_references(ck, built, scenario, dimensions, kb_ids, complete=not ck.errors)
    if ck.errors:
        return None, ck.diags
    try:
        _check_graph(ck, built, scenario)
        if ck.errors:
            return None, ck.diags
        _check_scoring(ck, built, scenario, dimensions, kb_ids)
    except AnalysisTooLarge:
        ck.error("SC211", "too many combinations of flags and loops to work out the best scores",
                 ("nodes",), ("use fewer flags, or flags that are checked soon after they are set, and fewer scored "
                  "choices inside loops (choices that lead back to an earlier node)"), key=True)
    if ck.errors:
        return None, ck.diags
    _check_variants(ck, built, scenario)
    if run_tests:
        _run_tests(ck, built, scenario, dimensions)
    return scenario, ck.diags


def _build(ck: _Checker, built: _Built, dimensions: dict[str, Dimension], sha256: str,
           path: Path | None) -> Scenario | None:
    data = ck.doc.data
    if not isinstance(data, dict):
        ck.error("SC006", f"a scenario file must be a mapping (id:, title:, nodes: ...), not {_describe(data)}", ())
        return None
    ck.keys(data, (), SCENARIO_KEYS, SCENARIO_REQUIRED, "the scenario")
    sid = ck.slug(data, (), "id", "the scenario id")
    if sid and path is not None and path.stem != sid:
        ck.error("SC107", f"scenario id `{sid}` does not match the file name `{path.name}`", ("id",),
                 f"rename the file to {sid}.yaml or change the id")
    title = ck.text(data, (), "title", "the title")
    summary = ck.text(data, (), "summary", "the summary")
    level = ck.text(data, (), "level", "the level")
    if level is not None and level not in LEVELS:
        ck.error("SC108", f"level `{level}` is not one of: {', '.join(LEVELS)}", ("level",),
                 suggest(level, LEVELS))
    dims = ck.slug_list(data, (), "dimensions", "the scenario's dimensions")
    if "dimensions" in data and not dims and not ck.errors:
        ck.error("SC108", "the scenario must score at least one dimension", ("dimensions",),
                 f"e.g. dimensions: [{', '.join(dimensions) or 'sanctions'}]")
    for i, dim in enumerate(dims):
        built.dim_path.setdefault(dim, ("dimensions", i))
        if dimensions and dim not in dimensions:
            ck.error("SC301", f"unknown dimension `{dim}`", ("dimensions", i),
                     suggest(dim, dimensions) or f"declared in dimensions.yaml: {', '.join(dimensions)}")
        elif dims.index(dim) != i:
            ck.error("SC108", f"dimension `{dim}` is listed twice", ("dimensions", i))
    pass_mark = ck.number(data, (), "pass_mark", "pass_mark")
    if pass_mark is not None and not 0 < pass_mark <= 1:
        ck.error("SC108", f"pass_mark {pass_mark} must be a fraction above 0 and at most 1", ("pass_mark",),
                 "e.g. 0.7 for 70% of the best achievable score")
    shuffle = ck.boolean(data, (), "shuffle", "shuffle", True)
    cast: dict[str, str] = {}
    if "cast" in data:
        table = ck.mapping(data["cast"], ("cast",), "cast")
        for role in table or {}:
            if not SLUG.match(role):
                ck.error("SC106", f"speaker role `{role}` is not a valid id", ("cast", role), key=True)
            name = ck.text(table, ("cast",), role, f"the cast name for `{role}`")  # type: ignore[arg-type]
            if name:
                cast[role] = name
    start = ck.slug(data, (), "start", "start")
    nodes: dict[str, Node] = {}
    if "nodes" in data:
        table = ck.mapping(data["nodes"], ("nodes",), "nodes")
        if table is not None and not table:
            ck.error("SC102", "the scenario has no nodes", ("nodes",))
        for node_id, body in (table or {}).items():
            node = _build_node(ck, built, node_id, body)
            if node is not None:
                nodes[node_id] = node
    tests: list[ScenarioTest] = []
    if "tests" in data:
        items = data["tests"]
        if not isinstance(items, list):
            ck.error("SC103", f"tests must be a list of `- name: ...` items, not {_describe(items)}", ("tests",))
        else:
            for i, item in enumerate(items):
                test = _build_test(ck, built, i, item)
                if test is not None:
                    tests.append(test)
    # With errors this is a partial scenario: only the item-by-item checks look at it.
    return Scenario(
        id=sid or (path.stem if path is not None else ""), title=title or "", summary=summary or "",
        level=level or "", dimensions=dims,
        pass_mark=float(pass_mark) if pass_mark is not None else DEFAULT_PASS_MARK,
        start=start or "", nodes=nodes, shuffle=shuffle, cast=cast, tests=tuple(tests), path=path,
        sha256=sha256, line=ck.doc.key_pos(("id",)).line,
    )


def _build_node(ck: _Checker, built: _Built, node_id: str, body: Any) -> Node | None:
    path = ("nodes", node_id)
    built.node_path[node_id] = path
    if not SLUG.match(node_id):
        ck.error("SC106", f"node id `{node_id}` is not a valid id", path,
                 "use lower-case letters, digits and hyphens", key=True)
    m = ck.mapping(body, path, f"node `{node_id}`")
    if m is None:
        return None
    before = ck.errors
    what = f"node `{node_id}`"
    ck.keys(m, path, NODE_KEYS, ("say",), what)
    speaker = ck.slug(m, path, "speaker", f"the speaker of {what}") if "speaker" in m else "narrator"
    say = ck.text(m, path, "say", f"`say` in {what}")
    kinds = [k for k in ("choices", "random", "ending") if k in m]
    if not kinds:
        ck.error("SC205", f"{what} has no choices and is not an ending", path,
                 "add `choices:`, `random:` or `ending: \"Title\"`", key=True)
    if "ending" in m and len(kinds) > 1:
        other = next(k for k in kinds if k != "ending")
        ck.error("SC207", f"{what} is an ending but also has `{other}`", path + (other,),
                 "an ending closes the scenario: remove one", key=True)
    elif "choices" in m and "random" in m:
        ck.error("SC208", f"{what} has both `choices` and `random`", path + ("random",),
                 "a node either offers choices or branches at random", key=True)
    ending = ck.text(m, path, "ending", f"the ending title of {what}") if "ending" in m else None
    variants = _build_variants(ck, built, path, m, what)
    choices: list[Choice] = []
    if "choices" in m:
        items = m["choices"]
        if not isinstance(items, list):
            ck.error("SC103", f"`choices` in {what} must be a list of `- id: ...` items, not {_describe(items)}",
                     path + ("choices",))
        elif not items:
            ck.error("SC205", f"{what} has an empty list of choices and is not an ending", path + ("choices",))
        for i, item in enumerate(items if isinstance(items, list) else []):
            choice = _build_choice(ck, built, path + ("choices", i), item, what)
            if choice is not None:
                choices.append(choice)
    branches: list[RandomBranch] = []
    if "random" in m:
        items = m["random"]
        if not isinstance(items, list) or not items:
            ck.error("SC103", f"`random` in {what} must be a list of `- to: ...` branches", path + ("random",))
        for i, item in enumerate(items if isinstance(items, list) else []):
            bpath = path + ("random", i)
            b = ck.mapping(item, bpath, f"a random branch of {what}")
            if b is None:
                continue
            ck.keys(b, bpath, BRANCH_KEYS, ("to",), f"a random branch of {what}")
            to = ck.slug(b, bpath, "to", "`to`")
            weight = ck.number(b, bpath, "weight", "weight")
            if weight is not None and weight <= 0:
                ck.error("SC108", f"weight {weight} must be above 0", bpath + ("weight",))
            if to:
                branch = RandomBranch(to, float(weight) if weight else 1.0, ck.doc.pos(bpath).line,
                                      ck.doc.pos(bpath).col)
                built.branch_path[id(branch)] = bpath
                branches.append(branch)
    if ck.errors != before or say is None:
        return None
    pos = ck.doc.key_pos(path)
    return Node(node_id, say, speaker or "narrator", tuple(choices), tuple(branches), ending, pos.line, pos.col,
                variants)


def _build_variants(ck: _Checker, built: _Built, path: tuple, m: dict, what: str) -> tuple[Variant, ...]:
    """``variants: [{when: [flag, ...], say: "..."}]``: other wordings of ``say``, first match wins."""
    if "variants" not in m:
        return ()
    vpath = path + ("variants",)
    items = m["variants"]
    if not isinstance(items, list) or not items:
        ck.error("SC103", f"`variants` in {what} must be a list of `- when: [flag]` / `say: ...` items, "
                          f"not {_describe(items)}", vpath)
        return ()
    out: list[Variant] = []
    for i, item in enumerate(items):
        ipath = vpath + (i,)
        v = ck.mapping(item, ipath, f"variant {i + 1} of {what}")
        if v is None:
            continue
        before = ck.errors
        ck.keys(v, ipath, VARIANT_KEYS, VARIANT_KEYS, f"variant {i + 1} of {what}")
        when = ck.slug_list(v, ipath, "when", f"`when` of variant {i + 1} of {what}")
        if "when" in v and not when and ck.errors == before:
            ck.error("SC105", f"`when` of variant {i + 1} of {what} names no flag", ipath + ("when",),
                     "list the flags that choose this wording, e.g. `when: [said-never]`")
        say = ck.text(v, ipath, "say", f"`say` of variant {i + 1} of {what}")
        if ck.errors != before or not when or say is None:
            continue
        pos = ck.doc.pos(ipath)
        variant = Variant(when, say, pos.line, pos.col)
        built.variant_path[id(variant)] = ipath
        out.append(variant)
    return tuple(out)


def _build_choice(ck: _Checker, built: _Built, path: tuple, item: Any, where: str) -> Choice | None:
    m = ck.mapping(item, path, f"a choice in {where}")
    if m is None:
        return None
    before = ck.errors
    cid = m.get("id") if isinstance(m.get("id"), str) else None
    what = f"choice `{cid}`" if cid else f"a choice in {where}"
    ck.keys(m, path, CHOICE_KEYS, CHOICE_REQUIRED, what)
    cid = ck.slug(m, path, "id", "the choice id")
    text = ck.text(m, path, "text", f"the text of {what}")
    to = ck.slug(m, path, "to", f"`to` in {what}")
    scores = ck.points(m, path, "scores", f"the scores of {what}")
    feedback = ck.text(m, path, "feedback", f"the feedback of {what}") if "feedback" in m else ""
    cites = ck.slug_list(m, path, "cites", f"`cites` of {what}")
    critical = ck.boolean(m, path, "critical", f"`critical` of {what}", False)
    flags_set = ck.slug_list(m, path, "set", f"`set` of {what}")
    requires = ck.slug_list(m, path, "requires", f"`requires` of {what}")
    excludes = ck.slug_list(m, path, "excludes", f"`excludes` of {what}")
    if ck.errors != before or not (cid and text and to):
        return None
    pos = ck.doc.pos(path)
    choice = Choice(cid, text, to, scores, feedback or "", cites, critical, flags_set, requires, excludes,
                    pos.line, pos.col)
    built.choice_path[id(choice)] = path
    return choice


def _build_test(ck: _Checker, built: _Built, index: int, item: Any) -> ScenarioTest | None:
    path = ("tests", index)
    m = ck.mapping(item, path, f"test {index + 1}")
    if m is None:
        return None
    before = ck.errors
    name = ck.text(m, path, "name", f"the name of test {index + 1}") if "name" in m else None
    what = f"test `{name}`" if name else f"test {index + 1}"
    ck.keys(m, path, TEST_KEYS, ("name", "choose", "expect"), what)
    if "choose" in m and not isinstance(m["choose"], list):
        ck.error("SC103", f"`choose` of {what} must be a list of choice ids like [a, b]", path + ("choose",))
        choose: tuple[str, ...] = ()
    else:
        choose = ck.slug_list(m, path, "choose", f"`choose` of {what}")
    seed = ck.number(m, path, "seed", f"the seed of {what}", integer=True)
    expect_ending = None
    expect_passed = None
    expect_scores = None
    if "expect" in m:
        epath = path + ("expect",)
        e = ck.mapping(m["expect"], epath, f"`expect` of {what}")
        if e is not None:
            ck.keys(e, epath, EXPECT_KEYS, (), f"`expect` of {what}")
            if not e:
                ck.error("SC102", f"`expect` of {what} says nothing", epath, "give ending, passed and/or scores")
            if "ending" in e:
                expect_ending = ck.slug(e, epath, "ending", f"the expected ending of {what}")
            if "passed" in e:
                if isinstance(e["passed"], bool):
                    expect_passed = e["passed"]
                else:
                    ck.error("SC103", f"`passed` of {what} must be true or false, not {_describe(e['passed'])}",
                             epath + ("passed",))
            if "scores" in e:
                expect_scores = ck.points(e, epath, "scores", f"the expected scores of {what}")
    if ck.errors != before or name is None:
        return None
    pos = ck.doc.pos(path)
    test = ScenarioTest(name, choose, int(seed or 0), expect_ending, expect_passed, expect_scores,
                        pos.line, pos.col)
    built.test_path[id(test)] = path
    return test


# -- graph --------------------------------------------------------------------------------------


def _check_references(ck: _Checker, built: _Built, scenario: Scenario, dimensions: dict[str, Dimension],
                      kb_ids: set[str] | None, complete: bool) -> None:
    """Item-by-item checks (SC201, SC202, SC301-SC303, SC306; SC305 when nothing failed to read).

    They run even when the shape pass found errors, on every node, choice and test that could be
    read. Targets are checked against every node id written in the file, including nodes with
    errors of their own, so a broken node is not reported a second time as missing.
    """
    declared = list(built.node_path)
    nodes = scenario.nodes
    if scenario.start and declared and scenario.start not in built.node_path:
        ck.error("SC201", f"start `{scenario.start}` names no node", ("start",), suggest(scenario.start, declared))
    seen_choice: dict[str, tuple] = {}
    for node in nodes.values():
        for choice in node.choices:
            cpath = built.choice_path[id(choice)]
            if choice.to not in built.node_path:
                ck.error("SC201", f"`to: {choice.to}` in choice `{choice.id}` names no node", cpath + ("to",),
                         suggest(choice.to, declared))
            if choice.id in seen_choice:
                first = ck.doc.pos(seen_choice[choice.id])
                ck.error("SC202", f"duplicate choice id `{choice.id}` (first at line {first.line})",
                         cpath + ("id",), "choice ids must be unique within a scenario")
            else:
                seen_choice[choice.id] = cpath
        for branch in node.random:
            if branch.to not in built.node_path:
                ck.error("SC201", f"`to: {branch.to}` in a random branch of `{node.id}` names no node",
                         built.branch_path[id(branch)] + ("to",), suggest(branch.to, declared))
    for test in scenario.tests:
        if test.expect_ending and test.expect_ending not in built.node_path:
            ck.error("SC201", f"expected ending `{test.expect_ending}` of test `{test.name}` names no node",
                     built.test_path[id(test)] + ("expect", "ending"), suggest(test.expect_ending, declared))
    _check_cites_and_dimensions(ck, built, scenario, dimensions, kb_ids, complete)


def _check_graph(ck: _Checker, built: _Built, scenario: Scenario) -> None:
    nodes = scenario.nodes

    # Forward reachability from the start, ignoring flags.
    targets = {node_id: node.targets() for node_id, node in nodes.items()}
    reach = reachable_from(targets, [scenario.start])
    for node_id in nodes:
        if node_id not in reach:
            ck.warning("SC204", f"node `{node_id}` cannot be reached from the start", built.node_path[node_id],
                       "link to it with a `to:` or remove it", key=True)

    # Backward: which nodes can reach an ending at all.
    good = reaching(targets, (n for n, node in nodes.items() if node.is_ending))
    if not good:
        ck.error("SC206", "the scenario has no ending", ("nodes",), "add a node with `ending: \"Title\"`",
                 key=True)
        return
    for node_id in nodes:
        if node_id not in good:
            ck.error("SC206", f"no ending can be reached from node `{node_id}` (a loop with no way out)",
                     built.node_path[node_id], "give it a choice that leads towards an ending", key=True)
    if ck.errors:
        return

    # With flags, some choices are hidden: explore what attempts can actually meet.
    analysis = analyse(scenario)
    if not analysis.used_flags:
        return
    states = analysis.reachable_states()
    if states is None:
        return  # too many flag combinations to explore; the static checks above still hold
    stuck: dict[str, list[frozenset[str]]] = {}
    for state in states:
        node = nodes[state[0]]
        if node.choices and not analysis.available(node, state[1]):
            stuck.setdefault(node.id, []).append(state[1])
    trapped = {state[0] for state in analysis.trapped_states() or ()}
    for node_id in sorted(stuck):
        flags = ", ".join(min(sorted(f) for f in stuck[node_id])) or "none"
        ck.error("SC209", f"node `{node_id}` can be reached with flags ({flags}) that hide every "
                          "one of its choices", built.node_path[node_id],
                 "check the `requires`/`excludes` of its choices", key=True)
    for node_id in sorted(trapped - set(stuck)):
        ck.error("SC206", f"from node `{node_id}`, with the flags set on the way, no ending can be reached",
                 built.node_path[node_id], "check the `requires`/`excludes` on the way out", key=True)


# -- scoring ------------------------------------------------------------------------------------


def _check_cites_and_dimensions(ck: _Checker, built: _Built, scenario: Scenario,
                                dimensions: dict[str, Dimension], kb_ids: set[str] | None,
                                complete: bool) -> None:
    flags_set = {f for _n, c in scenario.all_choices() for f in c.set}
    for _node, choice in scenario.all_choices():
        cpath = built.choice_path[id(choice)]
        for dim in choice.scores:
            where = cpath + ("scores", dim)
            if dimensions and dim not in dimensions:
                ck.error("SC301", f"unknown dimension `{dim}` in the scores of choice `{choice.id}`", where,
                         suggest(dim, dimensions) or f"declared: {', '.join(dimensions)}", key=True)
            elif dim not in scenario.dimensions:
                ck.error("SC306", f"choice `{choice.id}` scores `{dim}`, which the scenario does not list "
                                  "in `dimensions`", where, f"add {dim} to `dimensions` or remove the score",
                         key=True)
        if choice.scores and not choice.cites:
            ck.error("SC302", f"choice `{choice.id}` is scored but cites no knowledge-base entry", cpath,
                     "add `cites: [kb-entry-id]` naming the policy behind the score")
        if kb_ids is not None:
            for i, cite in enumerate(choice.cites):
                if cite not in kb_ids:
                    ck.error("SC303", f"`cites` of choice `{choice.id}` names `{cite}`, which is not in the "
                                      "knowledge base", cpath + ("cites", i), suggest(cite, kb_ids))
        for key in ("requires", "excludes") if complete else ():  # a choice that failed to read may set it
            for i, flag in enumerate(getattr(choice, key)):
                if flag not in flags_set:
                    ck.warning("SC305", f"flag `{flag}` in `{key}` of choice `{choice.id}` is never set by any "
                                        "choice", cpath + (key, i), suggest(flag, flags_set) or
                               "set it with `set: [flag]` on an earlier choice")
    for test in scenario.tests:
        for dim in test.expect_scores or {}:
            if dim not in scenario.dimensions:
                ck.error("SC301", f"test `{test.name}` expects a score for `{dim}`, which the scenario "
                                  "does not score", built.test_path[id(test)] + ("expect", "scores", dim),
                         suggest(dim, scenario.dimensions), key=True)


def _check_scoring(ck: _Checker, built: _Built, scenario: Scenario, dimensions: dict[str, Dimension],
                   kb_ids: set[str] | None) -> None:
    analysis = analyse(scenario)
    best = analysis.best_achievable()
    for dim, value in best.items():
        if value <= 0:
            ck.error("SC304", f"no path through the scenario can score any `{dim}` points", built.dim_path[dim],
                     "add a positively scored choice for it or remove it from `dimensions`")
    # Random branches should offer the same best score, whatever state the attempt is in there.
    states = analysis.reachable_states()
    if states is None:  # too many to list: judge each random node from a fresh start instead
        states = {(n.id, frozenset(), frozenset()) for n in scenario.nodes.values() if n.random}
    warned: set[tuple[str, str]] = set()
    for state in sorted(states, key=lambda st: (st[0], sorted(st[1]), sorted(st[2]))):
        node = scenario.nodes[state[0]]
        if len(node.random) < 2:
            continue
        branches = [(nxt[0], analysis.values(nxt)) for _c, nxt, _f in analysis.transitions(state)]
        for i, dim in enumerate(scenario.dimensions, start=1):
            values = {to: v[i] for to, v in branches}
            if len(set(values.values())) > 1 and (node.id, dim) not in warned:
                warned.add((node.id, dim))
                detail = ", ".join(f"`{to}` {int(v) if v != float('-inf') else 'none'}" for to, v in values.items())
                ck.warning("SC210", f"the random branches of `{node.id}` lead to different best `{dim}` scores "
                                    f"({detail}): unlucky players cannot reach the best",
                           built.node_path[node.id] + ("random",), "balance the points on each branch", key=True)
    # The debrief points learners at the best choice: it must never be one that fails the attempt.
    if not any(c.critical for _n, c in scenario.all_choices()):
        return
    states = analysis.reachable_states()  # cached: the same exploration as above
    flagged: set[str] = set()
    for state in states or ():
        node = scenario.nodes[state[0]]
        offered = analysis.available(node, state[1])
        if not any(c.critical for c in offered):
            continue
        values = {c.id: analysis.move_value(state, c) for c in offered}
        top = max(values.values())
        for choice in offered:
            if choice.critical and values[choice.id] == top and choice.id not in flagged:
                flagged.add(choice.id)
                ck.warning("SC212", f"critical choice `{choice.id}` scores as well as any other choice at "
                                    f"`{node.id}`, so the debrief would show it as a best choice",
                           built.choice_path[id(choice)],
                           "give it fewer points than the right choice (usually negative ones)")


# -- variants -----------------------------------------------------------------------------------


def flags_before(scenario: Scenario) -> dict[str, frozenset[str]]:
    """Per reachable node, every flag some path from the start may have set on arriving there.

    ``requires``/``excludes`` are ignored, so this over-approximates: a flag missing here is
    certainly never set on the way to the node.
    """
    nodes = scenario.nodes
    seen: dict[str, set[str]] = {scenario.start: set()}
    work = [scenario.start]
    while work:
        node_id = work.pop()
        node = nodes.get(node_id)
        if node is None:
            continue
        here = seen[node_id]
        moves = [(c.to, here | set(c.set)) for c in node.choices] + [(b.to, here) for b in node.random]
        for to, flags in moves:
            old = seen.get(to)
            if old is None or not flags <= old:
                seen[to] = flags if old is None else old | flags
                work.append(to)
    return {node_id: frozenset(flags) for node_id, flags in seen.items()}


def _check_variants(ck: _Checker, built: _Built, scenario: Scenario) -> None:
    """SC213: a variant that can never show, because a flag it needs is never set on the way to
    its node, or because an earlier variant needing fewer flags always wins first."""
    if not any(node.variants for node in scenario.nodes.values()):
        return
    before = flags_before(scenario)
    every_flag = {f for _n, c in scenario.all_choices() for f in c.set}
    for node in scenario.nodes.values():
        arriving = before.get(node.id)
        if arriving is None:
            continue  # unreachable: SC204 already says so
        for j, variant in enumerate(node.variants):
            vpath = built.variant_path[id(variant)]
            missing = [(i, f) for i, f in enumerate(variant.when) if f not in arriving]
            if missing:
                i, flag = missing[0]
                where = "by any choice" if flag not in every_flag else "on any path to it"
                ck.warning("SC213", f"variant {j + 1} of node `{node.id}` can never show: flag `{flag}` is never "
                                    f"set {where}", vpath + ("when", i),
                           suggest(flag, sorted(arriving)) or "set it with `set: [flag]` on a choice before this node")
                continue
            for k, earlier in enumerate(node.variants[:j]):
                if set(earlier.when) <= set(variant.when):
                    ck.warning("SC213", f"variant {j + 1} of node `{node.id}` can never show: variant {k + 1} "
                                        f"(when {', '.join(earlier.when)}) matches whenever it does and comes first",
                               vpath, "put the variant with more flags first, or remove one")
                    break


# -- scripted tests -----------------------------------------------------------------------------


def _run_tests(ck: _Checker, built: _Built, scenario: Scenario, dimensions: dict[str, Dimension]) -> None:
    for test in scenario.tests:
        tpath = built.test_path[id(test)]
        play = Playthrough(scenario, seed=test.seed, shuffle=False, explain=False)
        failed = False
        for i, choice_id in enumerate(test.choose):
            if play.finished:
                ck.error("SC402", f"test `{test.name}`: the scenario ends at `{play.node.id}` before "
                                  f"`{choice_id}` can be chosen", tpath + ("choose", i))
                failed = True
                break
            try:
                play.choose(choice_id)
            except ValueError as exc:
                ck.error("SC402", f"test `{test.name}`: {exc}", tpath + ("choose", i))
                failed = True
                break
        if failed:
            continue
        result = play.result()
        problems: list[str] = []
        if not play.finished:
            offered = ", ".join(c.id for c in play.choices)
            ck.error("SC402", f"test `{test.name}`: the path stops at node `{play.node.id}` before an ending "
                              f"(choices there: {offered})", tpath)
            continue
        if test.expect_ending is not None and result.ending_node != test.expect_ending:
            problems.append(f"expected ending `{test.expect_ending}` but reached `{result.ending_node}`")
        if test.expect_passed is not None and result.passed != test.expect_passed:
            detail = ", ".join(f"{d} {s.earned}/{s.best}" for d, s in result.scores.items())
            why = " (a critical choice was taken)" if result.critical_taken else ""
            problems.append(f"expected {'a pass' if test.expect_passed else 'a fail'} but it "
                            f"{'passed' if result.passed else 'failed'}{why}: {detail}, pass mark "
                            f"{scenario.pass_mark:g}")
        for dim, expected in (test.expect_scores or {}).items():
            earned = result.scores[dim].earned if dim in result.scores else 0
            if earned != expected:
                problems.append(f"expected {expected} `{dim}` points but earned {earned}")
        if problems:
            ck.error("SC401", f"test `{test.name}` failed: " + "; ".join(problems), tpath)
