"""Playing a scenario: the current node, the choices on offer, scoring and the debrief.

Plain Python with no UI, so the app, the CLI (``iwp-trainer play``) and ``check``'s scripted tests
all play scenarios exactly the same way.

Scoring rules (see ``docs/scenario-format.md``):

* each choice's points count once per attempt, even if a loop brings the coach back to it, so
  nobody can farm points by going round a loop;
* the best achievable score for a dimension is the most any walk from the start to an ending can
  earn, computed from the graph (loops, flags and random branches included);
* an attempt passes when, for every scored dimension, earned/best >= ``pass_mark`` and no critical
  choice was taken;
* an attempt's one overall **score** is its weakest dimension's share of the best
  (:func:`~iwp_trainer.scoring.attempt_score`, re-exported here): the number the pass mark is measured against, so "FAIL 80%" with a
  70% pass mark can only mean a critical mistake. Every screen, report and the xAPI export show it.

The best-achievable search works on states (node, flags that matter, scored choices already taken
inside the current loop). A choice outside any loop can never be taken twice, so it never needs to
be remembered; this keeps the search small for real scenarios while staying exact.
"""

from __future__ import annotations

import difflib
import math
import random
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, TypeVar

from iwp_trainer.scenario import Choice, Node, Scenario
from iwp_trainer.scoring import attempt_score, dimension_fraction, reaches  # noqa: F401 (re-exported)


T = TypeVar("T")

NEG_INF = -math.inf
TOTAL = "__total__"
_MAX_AUTO_STEPS = 10_000

State = tuple[str, frozenset, frozenset]  # node id, flags, scored loop choices taken


class AnalysisTooLarge(Exception):
    """Too many combinations of flags and loop choices to work out best scores exactly."""


class Analysis:
    """What the graph of one scenario allows: reachability, loops and best achievable scores."""

    # Flags multiply the states a scenario can be in; past this many, give up with a clear error
    # (the validator reports it) rather than grind on.
    MAX_STATES = 100_000
    # Each state carries the flags and loop choices taken so far, so the cost is states times
    # their size: a long loop of scored choices stays under MAX_STATES yet takes minutes and
    # gigabytes. This budget counts a state visit as 1 + its size (the shipped scenarios need
    # under 100; the 4,096-state flag test fixture about 53,000).
    MAX_WORK = 2_000_000

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        nodes = scenario.nodes
        self.used_flags: frozenset[str] = frozenset(
            f for _n, c in scenario.all_choices() for f in (*c.requires, *c.excludes))
        self.scc = _strongly_connected(nodes)
        self.repeatable: frozenset[str] = frozenset(
            c.id for node in nodes.values() for c in node.choices
            if c.scores and c.to in nodes and self.scc.get(c.to) == self.scc.get(node.id))
        self.relevant = _downstream_flags(nodes, self.scc)
        self._choice_scc: dict[str, int | None] = {
            c.id: self.scc.get(node.id) for node in nodes.values() for c in node.choices
            if c.id in self.repeatable}
        self._memo: dict[State, tuple[float, ...]] = {}
        self._work = 0
        self._explored: tuple[int, dict[State, list[State]] | None] | None = None
        self.objectives: tuple[str, ...] = (TOTAL, *scenario.dimensions)
        self._index = {name: i for i, name in enumerate(self.objectives)}
        self._zero: tuple[float, ...] = (0,) * len(self.objectives)
        self._gain: dict[str, tuple[float, ...]] = {}
        for _node, c in scenario.all_choices():
            per_dim = tuple(c.scores.get(d, 0) for d in scenario.dimensions)
            self._gain[c.id] = (sum(per_dim), *per_dim)

    # -- states -------------------------------------------------------------------------------

    def start_state(self) -> State:
        return (self.scenario.start, frozenset(), frozenset())

    def state(self, node_id: str, flags: Iterable[str], taken: Iterable[str]) -> State:
        """Project a full attempt state onto what can still matter."""
        scc = self.scc.get(node_id)
        return (node_id, frozenset(flags) & self.relevant.get(scc, frozenset()),
                frozenset(t for t in taken if self._choice_scc.get(t, -1) == scc))

    def available(self, node: Node, flags: frozenset[str]) -> list[Choice]:
        return [c for c in node.choices if c.available(flags)]

    def step(self, state: State, choice: Choice) -> tuple[State, bool]:
        """The state after taking ``choice``, and whether its points count (first time only)."""
        node_id, flags, taken = state
        fresh = choice.id not in taken
        new_flags = flags | frozenset(choice.set) if choice.set else flags
        new_taken = taken
        if choice.id in self.repeatable:
            new_taken = taken | {choice.id}
        to_scc = self.scc.get(choice.to)
        if to_scc != self.scc.get(node_id):
            new_taken = frozenset()
            new_flags = new_flags & self.relevant.get(to_scc, frozenset())
        elif choice.set:
            new_flags = new_flags & self.relevant.get(to_scc, frozenset())
        return (choice.to, new_flags, new_taken), fresh

    def transitions(self, state: State) -> list[tuple[Choice | None, State, bool]]:
        """Every move from a state: (choice or None for a random branch, next state, counts)."""
        node = self.scenario.nodes.get(state[0])
        if node is None:
            return []
        moves: list[tuple[Choice | None, State, bool]] = []
        for c in self.available(node, state[1]):
            if c.to in self.scenario.nodes:
                nxt, fresh = self.step(state, c)
                moves.append((c, nxt, fresh))
        for b in node.random:
            if b.to in self.scenario.nodes:
                if self.scc.get(b.to) == self.scc.get(state[0]):
                    nxt = (b.to, state[1], state[2])
                else:
                    nxt = (b.to, state[1] & self.relevant.get(self.scc.get(b.to), frozenset()), frozenset())
                moves.append((None, nxt, False))
        return moves

    # -- best achievable ------------------------------------------------------------------------

    def values(self, state: State) -> tuple[float, ...]:
        """Most points any walk from ``state`` to an ending earns, for each objective at once.

        The tuple is (total, then each scored dimension in order); ``-inf`` when no ending can
        be reached. States in the same "layer" (same flags, same taken choices, same loop) reach
        each other for free, so they are explored together; every other move strictly grows the
        state, so the states form a DAG, evaluated here with an explicit stack (no recursion
        limit to hit on long scenarios). Each objective's maximum is independent of the others,
        so computing them side by side gives exactly the single-objective answers.
        """
        memo = self._memo
        if state in memo:
            return memo[state]
        width = len(self.objectives)
        pending: dict[State, tuple[bool, list[tuple[tuple[float, ...], State]]]] = {}
        stack = [state]
        while stack:
            current = stack[-1]
            if current in memo:
                stack.pop()
                continue
            info = pending.get(current)
            if info is None:
                if len(memo) + len(pending) > self.MAX_STATES:
                    raise AnalysisTooLarge(f"more than {self.MAX_STATES:,} states")
                info = pending[current] = self._layer(current)
            missing = [nxt for _gain, nxt in info[1] if nxt not in memo]
            if missing:
                stack.extend(missing)
                continue
            best = [0.0 if info[0] else NEG_INF] * width
            for gain, nxt in info[1]:
                sub = memo[nxt]
                if sub[0] == NEG_INF:
                    continue
                for i in range(width):
                    v = gain[i] + sub[i]
                    if v > best[i]:
                        best[i] = v
            memo[current] = tuple(best)
            del pending[current]
            stack.pop()
        return memo[state]

    def _layer(self, state: State) -> tuple[bool, list[tuple[tuple[float, ...], State]]]:
        """From ``state``: can an ending be reached for free, and every move that leaves the layer."""
        nodes = self.scenario.nodes
        zero = self._zero
        has_ending = False
        moves: list[tuple[tuple[float, ...], State]] = []
        seen = {state}
        frontier = [state]
        while frontier:
            current = frontier.pop()
            self._work += 1 + len(current[1]) + len(current[2])
            if self._work > self.MAX_WORK:
                raise AnalysisTooLarge(f"more than {self.MAX_WORK:,} units of work")
            if nodes[current[0]].is_ending:
                has_ending = True
            here = self.scc.get(current[0])
            for choice, nxt, fresh in self.transitions(current):
                if nxt[1] == current[1] and nxt[2] == current[2] and self.scc.get(nxt[0]) == here:
                    # Only moves worth nothing stay in a layer: a fresh scored choice inside a loop
                    # joins ``taken``, and one leaving the loop changes component.
                    if nxt not in seen:
                        seen.add(nxt)
                        frontier.append(nxt)
                    continue
                moves.append((self._gain[choice.id] if choice is not None and fresh else zero, nxt))
        return has_ending, moves

    def value(self, state: State, objective: str = TOTAL) -> float:
        """Most points (for one dimension, or the total) any walk from ``state`` to an ending earns."""
        return self.values(state)[self._index[objective]]

    def move_value(self, state: State, choice: Choice, objective: str = TOTAL) -> float:
        """Points for taking ``choice`` now plus the best continuation (``-inf`` for a dead end)."""
        if choice.to not in self.scenario.nodes:
            return NEG_INF
        nxt, fresh = self.step(state, choice)
        sub = self.value(nxt, objective)
        if sub == NEG_INF:
            return NEG_INF
        return (self._gain[choice.id][self._index[objective]] if fresh else 0) + sub

    def best_achievable(self) -> dict[str, float]:
        """Per scored dimension, the most any walk from the start can earn (``-inf``: no ending)."""
        best = self.values(self.start_state())
        return {d: best[i + 1] for i, d in enumerate(self.scenario.dimensions)}

    def explore(self, limit: int = 50_000) -> dict[State, list[State]] | None:
        """Every state an attempt can be in, with the states each leads to (cached).

        ``None`` when there are more than ``limit`` states.
        """
        if self._explored is not None and limit <= self._explored[0]:
            return self._explored[1]
        start = self.start_state()
        graph: dict[State, list[State]] = {}
        if start[0] in self.scenario.nodes:
            frontier = [start]
            graph[start] = []
            while frontier:
                current = frontier.pop()
                targets = graph[current]
                for _c, nxt, _f in self.transitions(current):
                    targets.append(nxt)
                    if nxt not in graph:
                        if len(graph) >= limit:
                            self._explored = (limit, None)
                            return None
                        graph[nxt] = []
                        frontier.append(nxt)
        self._explored = (limit, graph)
        return graph

    def reachable_states(self, limit: int = 50_000) -> set[State] | None:
        """Every state an attempt can be in (``None`` when there are more than ``limit``)."""
        graph = self.explore(limit)
        return None if graph is None else set(graph)

    def trapped_states(self, limit: int = 50_000) -> set[State] | None:
        """Reachable states from which no ending can be reached (flags can close every way out)."""
        graph = self.explore(limit)
        if graph is None:
            return None
        nodes = self.scenario.nodes
        return set(graph) - reaching(graph, (state for state in graph if nodes[state[0]].is_ending))


def reachable_from(edges: Mapping[T, Iterable[T]], sources: Iterable[T]) -> set[T]:
    """Everything reachable from ``sources`` along ``edges`` (the sources included)."""
    seen = set(sources)
    frontier = list(seen)
    while frontier:
        for target in edges.get(frontier.pop(), ()):
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    return seen


def reaching(edges: Mapping[T, Iterable[T]], goals: Iterable[T]) -> set[T]:
    """Everything from which one of ``goals`` can be reached along ``edges`` (the goals included)."""
    incoming: dict[T, list[T]] = {}
    for source, targets in edges.items():
        for target in targets:
            incoming.setdefault(target, []).append(source)
    return reachable_from(incoming, goals)


def analyse(scenario: Scenario) -> Analysis:
    """The (cached) analysis of a scenario; scenarios are immutable so it never goes stale."""
    cached = scenario.__dict__.get("_analysis")
    if cached is None:
        cached = Analysis(scenario)
        object.__setattr__(scenario, "_analysis", cached)
    return cached


def _downstream_flags(nodes: dict[str, Node], scc: dict[str, int]) -> dict[int, frozenset[str]]:
    """Per component, the flags any choice from there onwards checks: others can be forgotten."""
    own: dict[int, set[str]] = {}
    succ: dict[int, set[int]] = {}
    for node in nodes.values():
        comp = scc[node.id]
        own.setdefault(comp, set()).update(f for c in node.choices for f in (*c.requires, *c.excludes))
        succ.setdefault(comp, set()).update(scc[t] for t in node.targets() if t in scc and scc[t] != comp)
    relevant: dict[int, frozenset[str]] = {}
    # Tarjan numbers components sinks first, so successors are always done before their sources.
    for comp in sorted(own):
        flags = set(own[comp])
        for nxt in succ.get(comp, ()):
            flags |= relevant[nxt]
        relevant[comp] = frozenset(flags)
    return relevant


def _strongly_connected(nodes: dict[str, Node]) -> dict[str, int]:
    """Tarjan's algorithm, iteratively: node id -> component number."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    comp: dict[str, int] = {}
    counter = 0
    components = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter([t for t in nodes[root].targets() if t in nodes]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter([t for t in nodes[w].targets() if t in nodes])))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == index[v]:
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp[w] = components
                    if w == v:
                        break
                components += 1
    return comp


# -- playing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """One choice the coach made, how it scored and what the best option(s) were."""

    node_id: str
    choice_id: str
    choice_text: str
    points: dict[str, int]
    best_choice_ids: tuple[str, ...]
    is_best: bool
    critical: bool
    feedback: str
    cites: tuple[str, ...]
    best_choice_texts: tuple[str, ...] = ()
    prompt: str = ""
    best_feedback: tuple[str, ...] = ()  # why each best choice was better, in its own words
    best_cites: tuple[str, ...] = ()  # the KB entries the best choices cite
    best_points: tuple[dict[str, int], ...] = ()


@dataclass(frozen=True)
class DimensionScore:
    earned: int
    best: int
    fraction: float

    def reaches(self, pass_mark: float) -> bool:
        """The pass rule for one dimension: earned >= pass_mark x best (with nothing to earn, no loss)."""
        return reaches(self.earned, self.best, pass_mark)


@dataclass(frozen=True)
class Result:
    """The outcome of an attempt: pass or fail, the ending and the score per dimension."""

    scenario_id: str
    passed: bool
    critical_taken: bool
    ending_node: str | None
    ending_title: str | None
    scores: dict[str, DimensionScore]
    decisions: tuple[Decision, ...] = ()
    pass_mark: float = 0.0
    finished: bool = True
    ending_text: str | None = None  # the ending's words on this path (its variant, if one matched)

    @property
    def score(self) -> float:
        """The attempt's one overall score (see :func:`attempt_score`)."""
        return attempt_score(s.fraction for s in self.scores.values())

    @property
    def weakest(self) -> str | None:
        """The dimension the score comes from (the first, on a tie)."""
        if not self.scores:
            return None
        return min(self.scores, key=lambda d: self.scores[d].fraction)

    @property
    def below_pass_mark(self) -> list[str]:
        """The scored dimensions that fall short of the pass mark, in the scenario's order."""
        return [dim for dim, score in self.scores.items() if not score.reaches(self.pass_mark)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario_id,
            "passed": self.passed,
            "critical_taken": self.critical_taken,
            "finished": self.finished,
            "ending": self.ending_node,
            "ending_title": self.ending_title,
            "ending_text": self.ending_text,
            "pass_mark": self.pass_mark,
            "score": round(self.score, 4),
            "scores": {d: {"earned": s.earned, "best": s.best, "fraction": round(s.fraction, 4)}
                       for d, s in self.scores.items()},
        }


class Playthrough:
    """One attempt at a scenario. Random branches and the order of choices follow ``seed``."""

    def __init__(self, scenario: Scenario, seed: int = 0, shuffle: bool | None = None,
                 explain: bool = True) -> None:
        """``explain=False`` skips working out the best choice at each decision (decisions then
        have no ``best_choice_ids``): ``check``'s scripted tests only need the result."""
        self.scenario = scenario
        self.seed = seed
        self.explain = explain
        self.shuffle = scenario.shuffle if shuffle is None else shuffle
        self.analysis = analyse(scenario)
        self._rng = random.Random(seed)
        self.flags: set[str] = set()
        self.taken: set[str] = set()
        self.decisions: list[Decision] = []
        self.transcript: list[tuple[str, str]] = []
        self.path: list[str] = []  # node ids visited, random nodes included
        self._visits: dict[str, int] = {}
        self._order: list[Choice] = []
        self._say = ""
        self._node: Node = scenario.nodes[scenario.start]
        self._enter(scenario.start)

    @property
    def node(self) -> Node:
        return self._node

    @property
    def finished(self) -> bool:
        return self._node.is_ending

    @property
    def say(self) -> str:
        """What the current node says on this path (a matching ``variants`` entry, else ``say``)."""
        return self._say

    @property
    def choices(self) -> list[Choice]:
        """The choices on offer now, in this attempt's order."""
        return list(self._order)

    def _enter(self, node_id: str) -> None:
        for _ in range(_MAX_AUTO_STEPS):
            node = self.scenario.nodes[node_id]
            self.path.append(node_id)
            self._say = node.text(self.flags)  # the variant that fits the path so far
            self.transcript.append((self.scenario.speaker_name(node.speaker), self._say))
            if not node.random:
                break
            weights = [b.weight for b in node.random]
            node_id = self._rng.choices(node.random, weights=weights, k=1)[0].to
        else:  # pragma: no cover - the validator refuses random loops with no exit
            raise RuntimeError(f"random branches in {self.scenario.id} never settle")
        self._node = node
        visit = self._visits.get(node.id, 0)
        self._visits[node.id] = visit + 1
        order = [c for c in node.choices if c.available(self.flags)]
        if self.shuffle and len(order) > 1:
            random.Random(f"{self.seed}:{self.scenario.id}:{node.id}:{visit}").shuffle(order)
        self._order = order

    def _state(self) -> tuple[str, frozenset, frozenset]:
        return self.analysis.state(self._node.id, self.flags, self.taken)

    def best_choices(self) -> list[Choice]:
        """The available choice(s) worth the most points on the way to an ending."""
        state = self._state()
        values = [(self.analysis.move_value(state, c), c) for c in self._order]
        top = max((v for v, _c in values), default=NEG_INF)
        if top == NEG_INF:
            return []
        return [c for v, c in values if v == top]

    def choose(self, choice_id: str) -> Decision:
        """Take a choice by id; random nodes after it are followed automatically."""
        if self.finished:
            raise ValueError(f"the scenario has already ended at `{self._node.id}`")
        choice = next((c for c in self._order if c.id == choice_id), None)
        if choice is None:
            offered = [c.id for c in self._order]
            close = difflib.get_close_matches(choice_id, offered, n=1)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            raise ValueError(f"choice `{choice_id}` is not available at node `{self._node.id}`"
                             f" (available: {', '.join(sorted(offered)) or 'none'}){hint}")
        best = self.best_choices() if self.explain else []
        fresh = choice.id not in self.taken
        points = {d: (choice.scores.get(d, 0) if fresh else 0) for d in self.scenario.dimensions}
        decision = Decision(
            node_id=self._node.id,
            choice_id=choice.id,
            choice_text=choice.text,
            points=points,
            best_choice_ids=tuple(c.id for c in best),
            is_best=choice in best,
            critical=choice.critical,
            feedback=choice.feedback,
            cites=choice.cites,
            best_choice_texts=tuple(c.text for c in best),
            prompt=self._say,
            best_feedback=tuple(c.feedback for c in best),
            best_cites=tuple(dict.fromkeys(e for c in best for e in c.cites)),
            best_points=tuple({d: c.scores.get(d, 0) for d in self.scenario.dimensions if c.scores.get(d)}
                              for c in best),
        )
        self.decisions.append(decision)
        self.taken.add(choice.id)
        self.flags.update(choice.set)
        self.transcript.append((self.scenario.speaker_name("coach"), choice.text))
        self._enter(choice.to)
        return decision

    def result(self) -> Result:
        """Scores so far; ``passed`` is only ever true once an ending is reached."""
        best = self.analysis.best_achievable()
        scores: dict[str, DimensionScore] = {}
        for dim in self.scenario.dimensions:
            earned = sum(d.points.get(dim, 0) for d in self.decisions)
            top = best.get(dim, NEG_INF)
            top_int = int(top) if top != NEG_INF else 0
            scores[dim] = DimensionScore(earned, top_int, dimension_fraction(earned, top_int))
        critical = any(d.critical for d in self.decisions)
        mark = self.scenario.pass_mark
        passed = self.finished and not critical and all(s.reaches(mark) for s in scores.values())
        return Result(
            scenario_id=self.scenario.id,
            passed=passed,
            critical_taken=critical,
            ending_node=self._node.id if self.finished else None,
            ending_title=self._node.ending if self.finished else None,
            scores=scores,
            decisions=tuple(self.decisions),
            pass_mark=mark,
            finished=self.finished,
            ending_text=self._say if self.finished else None,
        )


def play_path(scenario: Scenario, choice_ids: Iterable[str], seed: int = 0) -> Result:
    """Play a scripted path (choices by id) without shuffling; raises ``ValueError`` on a bad id."""
    play = Playthrough(scenario, seed=seed, shuffle=False)
    for choice_id in choice_ids:
        play.choose(choice_id)
    return play.result()


# -- debrief ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CitedEntry:
    """A knowledge-base entry a choice cites, as shown in the debrief."""

    id: str
    title: str
    citation: str
    body: str
    found: bool = True
    text: str = ""  # the body without Markdown, for plain output


@dataclass(frozen=True)
class DebriefItem:
    """One decision explained: what was chosen, what was best, why, and the policy behind it."""

    node_id: str
    prompt: str
    choice_id: str
    chosen_text: str
    best_choice_ids: tuple[str, ...]
    best_texts: tuple[str, ...]
    is_best: bool
    points: dict[str, int]
    critical: bool
    feedback: str
    cited: tuple[CitedEntry, ...] = field(default_factory=tuple)
    best_feedback: tuple[str, ...] = ()
    best_points: tuple[dict[str, int], ...] = ()
    best_cited: tuple[CitedEntry, ...] = field(default_factory=tuple)

    @property
    def why(self) -> str:
        """Why the chosen option scored as it did: its feedback, or what its points say."""
        if self.feedback:
            return self.feedback
        if self.critical:
            return "A critical mistake: it fails the attempt whatever else is scored."
        if any(self.points.values()):
            return "No feedback was written for this choice."
        if self.is_best:
            return "It scores nothing itself, but it leads to the most points still available."
        return "It scores nothing itself, and leads away from the points still available."

    @property
    def sources(self) -> tuple[CitedEntry, ...]:
        """Every KB entry behind this decision, the chosen option's first, each once."""
        seen: dict[str, CitedEntry] = {}
        for entry in (*self.cited, *self.best_cited):
            seen.setdefault(entry.id, entry)
        return tuple(seen.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": self.node_id,
            "choice": self.choice_id,
            "chosen_text": self.chosen_text,
            "best_choices": list(self.best_choice_ids),
            "best_texts": list(self.best_texts),
            "is_best": self.is_best,
            "points": dict(self.points),
            "critical": self.critical,
            "feedback": self.feedback,
            "why": self.why,
            "best_feedback": list(self.best_feedback),
            "best_points": [dict(p) for p in self.best_points],
            "cites": [{"id": c.id, "title": c.title, "citation": c.citation, "found": c.found}
                      for c in self.cited],
            "sources": [{"id": c.id, "title": c.title, "citation": c.citation, "found": c.found,
                         "text": c.text} for c in self.sources],
        }


def _cited(entry_id: str, kb: Any) -> CitedEntry:
    entries = getattr(kb, "entries", None) or {}
    entry = entries.get(entry_id)
    if entry is None:
        return CitedEntry(entry_id, entry_id, "", "", found=False)
    body = str(getattr(entry, "body", ""))
    return CitedEntry(entry_id, str(getattr(entry, "title", entry_id)),
                      str(getattr(entry, "citation", "")), body, text=str(getattr(entry, "plain_body", body)))


def debrief(result: Result, kb: Any = None) -> list[DebriefItem]:
    """Each decision explained so it teaches: why the chosen option scored as it did, why the
    best option was better (its own feedback), and the KB entries both rest on, text and citation.

    ``kb`` is a :class:`~iwp_trainer.kb.KnowledgeBase` (anything with ``.entries``) or ``None``.
    """
    return [
        DebriefItem(
            node_id=d.node_id,
            prompt=d.prompt,
            choice_id=d.choice_id,
            chosen_text=d.choice_text,
            best_choice_ids=d.best_choice_ids,
            best_texts=d.best_choice_texts,
            is_best=d.is_best,
            points=dict(d.points),
            critical=d.critical,
            feedback=d.feedback,
            cited=tuple(_cited(c, kb) for c in d.cites),
            best_feedback=() if d.is_best else d.best_feedback,
            best_points=() if d.is_best else d.best_points,
            best_cited=() if d.is_best else tuple(_cited(c, kb) for c in d.best_cites if c not in d.cites),
        )
        for d in result.decisions
    ]
