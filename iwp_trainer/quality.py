"""Assessment quality: does passing a scenario mean the coach knows the policy?

The validator (:mod:`iwp_trainer.validate`) says whether a scenario *works*; these checks say
whether it *assesses*. They look for the classic item-writing flaws that let a learner pass by
test-wiseness instead of knowledge, and for stories that carry on as if a mistake had not been
made. Each is a warning with a stable code (SC6xx, listed in ``docs/scenario-format.md``), so
``check --strict`` fails on them:

* SC601 the best option is also the longest at more than a third of the decisions;
* SC602 the options at a decision differ in length by more than 2x;
* SC603 absolute words ("never", "always", "full stop"...) in a wrong option, none in the best;
* SC604 a scored dimension rests on a single decision;
* SC605 a success ending reachable after a critical or negatively scored choice with nothing on
  the way (a variant shown, a flag acted on) that reflects it;
* SC606 a naive strategy (always longest, shortest, random, first shown) passes more than 10%
  of its plays (see :mod:`iwp_trainer.gaming`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from iwp_trainer.diagnostics import Diagnostic
from iwp_trainer.engine import NEG_INF, AnalysisTooLarge, State, analyse
from iwp_trainer.gaming import DEFAULT_SEEDS, MAX_PASS_RATE, GamingResult, simulate, text_length
from iwp_trainer.scenario import Choice, Node, Scenario

CODES: dict[str, str] = {
    "SC601": "the best option is also the longest at more than a third of the decisions (warning)",
    "SC602": "option lengths at a decision differ by more than 2x (warning)",
    "SC603": "absolute words only in wrong options (warning)",
    "SC604": "a scored dimension rests on one decision (warning)",
    "SC605": "a success ending ignores a critical or negatively scored choice on the way (warning)",
    "SC606": "a naive strategy passes more than 10% of plays (warning)",
}

LONGEST_SHARE = 1 / 3
LENGTH_RATIO = 2.0
ABSOLUTE_WORDS = ("never", "always", "definitely", "certainly", "absolutely", "guaranteed", "guarantee",
                  "full stop", "no questions asked", "no exceptions", "under no circumstances",
                  "whatever happens", "automatic", "automatically", "every time", "nothing at all")
_ABSOLUTE = re.compile(r"\b(" + "|".join(re.escape(w) for w in ABSOLUTE_WORDS) + r")\b", re.I)
MAX_PATHS = 20_000  # SC605 walks every path; past this many it judges on those it has seen
MAX_NODE_VISITS = 2


def absolute_words(text: str) -> list[str]:
    """The absolute words in ``text``, lower-cased, in order."""
    return [m.group(1).lower() for m in _ABSOLUTE.finditer(" ".join(text.split()))]


@dataclass(frozen=True)
class DecisionPoint:
    """A node where the coach chooses between two or more options, in one reachable state."""

    node: Node
    options: tuple[Choice, ...]
    best: tuple[Choice, ...]

    @property
    def best_is_longest(self) -> bool:
        longest = max(text_length(c) for c in self.options)
        return any(text_length(c) == longest for c in self.best)

    @property
    def length_ratio(self) -> float:
        lengths = [text_length(c) for c in self.options]
        return max(lengths) / max(1, min(lengths))


def decision_points(scenario: Scenario) -> list[DecisionPoint]:
    """Every decision an attempt can meet, one per node (its first reachable state with 2+ options).

    A node met in several flag states usually offers the same options; the first such state
    stands for it so each decision counts once.
    """
    analysis = analyse(scenario)
    try:
        states = analysis.reachable_states()
    except AnalysisTooLarge:
        states = None
    if states is None:
        states = {analysis.state(n.id, (), ()) for n in scenario.nodes.values() if n.choices}
    seen: dict[str, DecisionPoint] = {}
    for state in sorted(states, key=lambda st: (st[0], len(st[1]), sorted(st[1]), sorted(st[2]))):
        node = scenario.nodes[state[0]]
        if node.id in seen:
            continue
        options = tuple(analysis.available(node, state[1]))
        if len(options) < 2:
            continue
        seen[node.id] = DecisionPoint(node, options, _best(analysis, state, options))
    order = {node_id: i for i, node_id in enumerate(scenario.nodes)}
    return sorted(seen.values(), key=lambda p: order[p.node.id])


def _best(analysis, state: State, options: tuple[Choice, ...]) -> tuple[Choice, ...]:
    values = [(analysis.move_value(state, c), c) for c in options]
    top = max(v for v, _c in values)
    return tuple(c for v, c in values if v == top and top != NEG_INF)


def check_quality(scenario: Scenario, seeds: int = DEFAULT_SEEDS,
                  gaming: GamingResult | None = None) -> list[Diagnostic]:
    """Every assessment-quality warning for one (valid) scenario."""
    file = scenario.file
    out: list[Diagnostic] = []
    points = decision_points(scenario)

    longest = [p for p in points if p.best_is_longest]
    if points and len(longest) > LONGEST_SHARE * len(points):
        where = ", ".join(f"`{p.node.id}`" for p in longest)
        out.append(Diagnostic.warning(
            "SC601", f"the best option is also the longest at {len(longest)} of {len(points)} decisions "
                     f"({where}): picking the longest passes without knowing the policy",
            file, scenario.line, None,
            "make the right answer shorter or the wrong ones as full, at no more than a third of the decisions"))

    for p in points:
        if p.length_ratio > LENGTH_RATIO:
            lengths = sorted(text_length(c) for c in p.options)
            out.append(Diagnostic.warning(
                "SC602", f"the options at `{p.node.id}` range from {lengths[0]} to {lengths[-1]} characters "
                         f"(more than {LENGTH_RATIO:g}x): length gives the answer away",
                file, p.node.line, p.node.col, "write options of similar length and register"))

    for p in points:
        if any(absolute_words(c.text) for c in p.best):
            continue
        for c in p.options:
            if c in p.best:
                continue
            words = absolute_words(c.text)
            if words:
                out.append(Diagnostic.warning(
                    "SC603", f"wrong option `{c.id}` at `{p.node.id}` says \"{words[0]}\" and the best option "
                             "uses no such absolute word: the word gives it away",
                    file, c.line, c.col, "make the wrong option a near miss without giveaway words"))

    for dim in scenario.dimensions:
        nodes = [n for n in scenario.nodes.values() if any(c.scores.get(dim) for c in n.choices)]
        if len(nodes) == 1:
            node = nodes[0]
            out.append(Diagnostic.warning(
                "SC604", f"`{dim}` is scored at one decision only (`{node.id}`): one pick passes or fails it",
                file, node.line, node.col, f"score `{dim}` at two or more decisions, or drop it from `dimensions`"))

    out.extend(_ignored_mistakes(scenario))

    result = gaming or simulate(scenario, seeds)
    for rate in result.gamed_by(MAX_PASS_RATE):
        out.append(Diagnostic.warning(
            "SC606", f"always choosing the {_strategy_words(rate.strategy)} passes {rate.passes} of "
                     f"{rate.plays} plays ({rate.rate:.0%}, more than {MAX_PASS_RATE:.0%})",
            file, scenario.line, None, "see `iwp-trainer check --gaming`; vary which option is right"))
    return out


def _strategy_words(strategy: str) -> str:
    return {"longest": "longest option", "shortest": "shortest option", "random": "option at random",
            "first": "first option shown"}.get(strategy, strategy)


# -- SC605: the story follows the choices --------------------------------------------------------


@dataclass(frozen=True)
class _Walk:
    """One complete path: the choices taken, the nodes shown (with their variant), the outcome."""

    steps: tuple[tuple[Choice, str], ...]  # (choice, node it was taken at)
    shown: tuple[tuple[str, int], ...]  # (node id, index of the variant shown or -1), in order
    ending: str
    passed: bool


def _walks(scenario: Scenario) -> Iterator[_Walk]:
    """Every path from the start to an ending (random branches all followed), up to MAX_PATHS."""
    best = analyse(scenario).best_achievable()
    dims = scenario.dimensions
    count = 0
    stack: list[tuple[str, frozenset[str], frozenset[str], tuple, tuple, dict[str, int]]] = [
        (scenario.start, frozenset(), frozenset(), (), (), {})]
    while stack and count < MAX_PATHS:
        node_id, flags, taken, steps, shown, visits = stack.pop()
        node = scenario.nodes[node_id]
        if visits.get(node_id, 0) >= MAX_NODE_VISITS:
            continue
        visits = {**visits, node_id: visits.get(node_id, 0) + 1}
        variant = next((i for i, v in enumerate(node.variants) if v.matches(flags)), -1)
        shown = shown + ((node_id, variant),)
        if node.is_ending:
            count += 1
            earned = {d: 0 for d in dims}
            seen: set[str] = set()
            for choice, _at in steps:
                if choice.id not in seen:
                    seen.add(choice.id)
                    for d in dims:
                        earned[d] += choice.scores.get(d, 0)
            critical = any(c.critical for c, _at in steps)
            passed = not critical and all(
                earned[d] >= scenario.pass_mark * best[d] - 1e-9 if best[d] > 0 else earned[d] >= best[d]
                for d in dims)
            yield _Walk(steps, shown, node_id, passed)
            continue
        for branch in node.random:
            stack.append((branch.to, flags, taken, steps, shown, visits))
        for choice in node.choices:
            if choice.available(flags):
                stack.append((choice.to, flags | frozenset(choice.set), taken | {choice.id},
                              steps + ((choice, node_id),), shown, visits))


def _ignored_mistakes(scenario: Scenario) -> list[Diagnostic]:
    walks = list(_walks(scenario))
    success = {w.ending for w in walks if w.passed}
    out: list[Diagnostic] = []
    warned: set[tuple[str, str]] = set()
    for walk in walks:
        if walk.ending not in success:
            continue
        for i, (choice, _at) in enumerate(walk.steps):
            if not (choice.critical or any(v < 0 for v in choice.scores.values())):
                continue
            if (choice.id, walk.ending) in warned or _reflected(scenario, walk, i):
                continue
            warned.add((choice.id, walk.ending))
            kind = "critical" if choice.critical else "negatively scored"
            if choice.set:
                hint = (f"give `{walk.ending}` a variant (`variants: [{{when: [{choice.set[0]}], say: ...}}]`) "
                        "that names the mistake, or lead the choice elsewhere")
            else:
                hint = (f"set a flag on it and give `{walk.ending}` a variant keyed on that flag that names "
                        "the mistake, or lead the choice elsewhere")
            out.append(Diagnostic.warning(
                "SC605", f"after {kind} choice `{choice.id}`, the attempt can still reach the success ending "
                         f"`{walk.ending}` and nothing on the way reflects it",
                scenario.file, choice.line, choice.col, hint))
    return out


def _reflected(scenario: Scenario, walk: _Walk, index: int) -> bool:
    """Does anything after step ``index`` respond to it: a variant keyed on a flag it set, or a
    later choice taken that needs (or is hidden by) one of them?"""
    choice, _at = walk.steps[index]
    flags = set(choice.set)
    if not flags:
        return False
    # Nodes shown after this step: the node it led to onwards.
    step_nodes = [at for _c, at in walk.steps]
    start = _shown_index(walk, step_nodes, index)
    for node_id, variant in walk.shown[start:]:
        if variant >= 0 and flags & set(scenario.nodes[node_id].variants[variant].when):
            return True
    for later, _at in walk.steps[index + 1:]:
        if flags & set(later.requires):
            return True
    return False


def _shown_index(walk: _Walk, step_nodes: list[str], index: int) -> int:
    """Position in ``walk.shown`` just after the node where step ``index`` was taken."""
    seen = -1
    pos = 0
    for pos, (node_id, _v) in enumerate(walk.shown):
        if node_id == step_nodes[index]:
            seen += 1
            # the index-th step is taken at its node's k-th appearance among steps so far
            if seen == step_nodes[:index + 1].count(node_id) - 1:
                return pos + 1
    return pos + 1
