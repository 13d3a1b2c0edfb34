"""Drawing a scenario's branching as Mermaid or Graphviz DOT text.

Trainers review a scenario by looking at its shape: where the choices lead, which ones score,
which are critical, where random branches split. Both formats show the same things: nodes with
their speaker, endings, random nodes with weights, choices as edges labelled with the choice id
and its points, and critical choices drawn thick and red with ``CRITICAL`` in the label.

Endings are coloured by outcome and say it in words too (``ending (pass)``, ``ending (fail)``,
``ending (pass or fail)``): the outcome is found by playing every path with the engine, so it
follows the same pass rule as the app.
"""

from __future__ import annotations

from iwp_trainer.safe_text import one_line, printable
from iwp_trainer.engine import Playthrough
from iwp_trainer.scenario import Choice, Node, Scenario

FORMATS: tuple[str, ...] = ("mermaid", "dot")
_SNIPPET = 48

PASS, FAIL, MIXED, UNKNOWN = "pass", "fail", "mixed", "unknown"
OUTCOME_WORDS = {PASS: "ending (pass)", FAIL: "ending (fail)", MIXED: "ending (pass or fail)",
                 UNKNOWN: "ending"}
# fill, stroke: green for pass, red for fail, blue when the path decides, grey when not worked out.
OUTCOME_COLOURS = {PASS: ("#e8f5e9", "#2e7d32"), FAIL: ("#ffebee", "#c62828"),
                   MIXED: ("#e3f2fd", "#1565c0"), UNKNOWN: ("#eeeeee", "#616161")}
RANDOM_SEEDS = 16  # seeds tried per path when random branches decide where it goes
MAX_PLAYS = 20_000  # past this many partial plays, endings not yet reached stay "unknown"


def ending_outcomes(scenario: Scenario, max_plays: int = MAX_PLAYS) -> dict[str, str]:
    """Each ending's outcome: ``pass`` when every path to it passes, ``fail`` when none does,
    ``mixed`` when it depends on the path, ``unknown`` when no path to it was found in the budget.

    Every sequence of choices is played with the engine (random branches under several seeds), so
    the verdict is the engine's own pass rule, not a guess from the graph.
    """
    seen: dict[str, set[bool]] = {n: set() for n, node in scenario.nodes.items() if node.is_ending}
    if scenario.start not in scenario.nodes:
        return {n: UNKNOWN for n in seen}
    seeds = range(RANDOM_SEEDS) if any(node.random for node in scenario.nodes.values()) else range(1)
    depth_limit = 3 * len(scenario.nodes)
    budget = [max_plays]

    def walk(prefix: list[str], seed: int) -> None:
        if budget[0] <= 0:
            return
        budget[0] -= 1
        play = Playthrough(scenario, seed=seed, shuffle=False, explain=False)
        try:
            for choice_id in prefix:
                play.choose(choice_id)
        except ValueError:
            return
        if play.finished:
            result = play.result()
            if result.ending_node in seen:
                seen[result.ending_node].add(bool(result.passed))
            return
        if len(prefix) >= depth_limit:
            return
        for choice in play.choices:
            walk([*prefix, choice.id], seed)

    for seed in seeds:
        walk([], seed)
    out = {}
    for node_id, results in seen.items():
        out[node_id] = (MIXED if len(results) == 2 else PASS if results == {True} else
                        FAIL if results == {False} else UNKNOWN)
    return out


def _snippet(text: str, limit: int = _SNIPPET) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _points(choice: Choice) -> str:
    return ", ".join(f"{dim} {value:+d}" for dim, value in choice.scores.items())


def choice_label(choice: Choice) -> str:
    """``id (dim +2, other -1)``, prefixed with ``CRITICAL`` when taking it fails the attempt."""
    label = choice.id
    points = _points(choice)
    if points:
        label += f" ({points})"
    if choice.requires or choice.excludes:
        conds = [f"if {f}" for f in choice.requires] + [f"unless {f}" for f in choice.excludes]
        label += " [" + ", ".join(conds) + "]"
    if choice.critical:
        label = "CRITICAL " + label
    return label


def node_label(scenario: Scenario, node: Node, outcome: str = UNKNOWN) -> str:
    # Variants change the words, not the branching: the graph just says they exist.
    more = f" (+{len(node.variants)} variant{'s' if len(node.variants) != 1 else ''})" if node.variants else ""
    if node.is_ending:
        return f"{node.id}: {OUTCOME_WORDS.get(outcome, 'ending')}: {node.ending}{more}"
    head = f"{node.id}"
    if node.id == scenario.start:
        head = f"START {head}"
    if node.is_random:
        head += " (random)"
    return f"{head}: {scenario.speaker_name(node.speaker)}: {_snippet(node.say)}{more}"


# -- Mermaid ------------------------------------------------------------------------------------


def _mermaid_text(text: str) -> str:
    """Text for inside a quoted Mermaid label: one line (a line break would end the statement),
    control characters as placeholders, and Mermaid's special characters as its ``#...;`` codes."""
    return (one_line(text).replace("#", "#35;").replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
            .replace("|", "#124;"))


def to_mermaid(scenario: Scenario) -> str:
    """A Mermaid ``flowchart``: paste it into any Markdown viewer that renders Mermaid."""
    ids = {node_id: f"n{i}" for i, node_id in enumerate(scenario.nodes)}
    # A comment runs to the end of the line, so the title must stay on it: a line break in the title
    # would otherwise start a line of Mermaid of the trainer's choosing.
    lines = [f"%% {scenario.id}: {one_line(scenario.title)}", "flowchart TD"]
    outcomes = ending_outcomes(scenario)
    for node_id, node in scenario.nodes.items():
        label = _mermaid_text(node_label(scenario, node, outcomes.get(node_id, UNKNOWN))).replace(": ", "<br/>", 1)
        if node.is_ending:
            lines.append(f'    {ids[node_id]}(["{label}"])')
        elif node.is_random:
            lines.append(f'    {ids[node_id]}{{{{"{label}"}}}}')
        else:
            lines.append(f'    {ids[node_id]}["{label}"]')
    critical_edges: list[int] = []
    edge = 0
    for node_id, node in scenario.nodes.items():
        for choice in node.choices:
            target = ids.get(choice.to)
            if target is None:
                continue
            arrow = "==>" if choice.critical else "-->"
            lines.append(f'    {ids[node_id]} {arrow}|"{_mermaid_text(choice_label(choice))}"| {target}')
            if choice.critical:
                critical_edges.append(edge)
            edge += 1
        for branch in node.random:
            target = ids.get(branch.to)
            if target is None:
                continue
            lines.append(f'    {ids[node_id]} -.->|"weight {branch.weight:g}"| {target}')
            edge += 1
    used = [o for o in (PASS, FAIL, MIXED, UNKNOWN) if o in outcomes.values()]
    for outcome in used:
        fill, stroke = OUTCOME_COLOURS[outcome]
        lines.append(f"    classDef ending_{outcome} fill:{fill},stroke:{stroke}")
    lines.append("    classDef random fill:#fff8e1,stroke:#f9a825")
    lines.append("    classDef start stroke-width:3px")
    randoms = [ids[n] for n, node in scenario.nodes.items() if node.is_random]
    for outcome in used:
        members = [ids[n] for n, o in outcomes.items() if o == outcome]
        lines.append(f"    class {','.join(members)} ending_{outcome}")
    if randoms:
        lines.append(f"    class {','.join(randoms)} random")
    if scenario.start in ids:
        lines.append(f"    class {ids[scenario.start]} start")
    if critical_edges:
        lines.append(f"    linkStyle {','.join(map(str, critical_edges))} stroke:#c62828,stroke-width:3px")
    return "\n".join(lines) + "\n"


# -- Graphviz DOT -------------------------------------------------------------------------------


def _dot_text(text: str) -> str:
    """A quoted DOT string: backslashes (DOT's own escapes such as ``\\l``), quotes and line breaks
    escaped, control characters as placeholders."""
    text = printable(text, keep="\n").replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + text + '"'


def to_dot(scenario: Scenario) -> str:
    """A Graphviz digraph: ``iwp-trainer graph X --format dot | dot -Tsvg > x.svg``."""
    lines = [f"digraph {_dot_text(scenario.id)} {{",
             f"    label={_dot_text(scenario.title)};",
             "    rankdir=TB;",
             '    node [shape=box, style="rounded", fontname="Helvetica"];',
             '    edge [fontname="Helvetica", fontsize=10];']
    outcomes = ending_outcomes(scenario)
    for node_id, node in scenario.nodes.items():
        outcome = outcomes.get(node_id, UNKNOWN)
        label = _dot_text(node_label(scenario, node, outcome).replace(": ", "\n", 1))
        attrs = [f"label={label}"]
        if node.is_ending:
            fill, stroke = OUTCOME_COLOURS[outcome]
            attrs += ["shape=doubleoctagon", 'style="filled"', f'fillcolor="{fill}"', f'color="{stroke}"']
        elif node.is_random:
            attrs += ["shape=diamond", 'style="filled"', 'fillcolor="#fff8e1"']
        if node_id == scenario.start:
            attrs.append("penwidth=3")
        lines.append(f"    {_dot_text(node_id)} [{', '.join(attrs)}];")
    for node_id, node in scenario.nodes.items():
        for choice in node.choices:
            if choice.to not in scenario.nodes:
                continue
            attrs = [f"label={_dot_text(choice_label(choice))}"]
            if choice.critical:
                attrs += ['color="#c62828"', 'fontcolor="#c62828"', "penwidth=3"]
            lines.append(f"    {_dot_text(node_id)} -> {_dot_text(choice.to)} [{', '.join(attrs)}];")
        for branch in node.random:
            if branch.to not in scenario.nodes:
                continue
            lines.append(f"    {_dot_text(node_id)} -> {_dot_text(branch.to)} "
                         f"[label={_dot_text(f'weight {branch.weight:g}')}, style=dashed];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(scenario: Scenario, fmt: str = "mermaid") -> str:
    """The graph in ``fmt`` (``mermaid`` or ``dot``)."""
    if fmt == "mermaid":
        return to_mermaid(scenario)
    if fmt == "dot":
        return to_dot(scenario)
    raise ValueError(f"unknown graph format `{fmt}`: use one of {', '.join(FORMATS)}")
