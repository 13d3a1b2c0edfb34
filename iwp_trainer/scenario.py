"""Role-play scenarios as plain data.

The loader (:mod:`iwp_trainer.scenario_loader`) builds these from YAML and the validator
(:mod:`iwp_trainer.validate`) checks them; the engine plays them. Every object keeps the line and
column it came from so problems found later (a failing scripted test, a dead end) can still point
the trainer at the right place in the file. The format is described in ``docs/scenario-format.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from iwp_trainer.diagnostics import Diagnostic

LEVELS: tuple[str, ...] = ("new", "experienced")


@dataclass(frozen=True)
class Dimension:
    """A scoring dimension declared in ``scenarios/dimensions.yaml`` (e.g. ``sanctions``)."""

    id: str
    name: str
    description: str
    line: int | None = None


@dataclass(frozen=True)
class Choice:
    """One thing the coach can say or do at a node, and where it leads."""

    id: str
    text: str
    to: str
    scores: dict[str, int] = field(default_factory=dict)
    feedback: str = ""
    cites: tuple[str, ...] = ()
    critical: bool = False
    set: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    line: int | None = None
    col: int | None = None

    def available(self, flags: frozenset[str] | set[str]) -> bool:
        """Shown only when every ``requires`` flag is set and no ``excludes`` flag is."""
        if not self.requires and not self.excludes:
            return True
        return all(f in flags for f in self.requires) and not any(f in flags for f in self.excludes)


@dataclass(frozen=True)
class RandomBranch:
    """One outcome of a random node, picked by weight with the attempt's seeded generator."""

    to: str
    weight: float = 1.0
    line: int | None = None
    col: int | None = None


@dataclass(frozen=True)
class Variant:
    """Another wording of a node's ``say``, shown when every flag in ``when`` is set.

    This is how the story follows the path: an ending can name the mistake the coach made and
    put right on the way, instead of congratulating everyone alike.
    """

    when: tuple[str, ...]
    say: str
    line: int | None = None
    col: int | None = None

    def matches(self, flags: frozenset[str] | set[str]) -> bool:
        return all(f in flags for f in self.when)


@dataclass(frozen=True)
class Node:
    """A point in the conversation: someone speaks, then choices, a random branch, or an ending."""

    id: str
    say: str
    speaker: str = "narrator"
    choices: tuple[Choice, ...] = ()
    random: tuple[RandomBranch, ...] = ()
    ending: str | None = None
    line: int | None = None
    col: int | None = None
    variants: tuple[Variant, ...] = ()

    def text(self, flags: frozenset[str] | set[str] = frozenset()) -> str:
        """What is said here given the flags set so far: the first matching variant, else ``say``."""
        for variant in self.variants:
            if variant.matches(flags):
                return variant.say
        return self.say

    @property
    def is_ending(self) -> bool:
        return self.ending is not None

    @property
    def is_random(self) -> bool:
        return bool(self.random)

    def targets(self) -> list[str]:
        """Node ids this node can lead to (choices and random branches alike)."""
        return [c.to for c in self.choices] + [b.to for b in self.random]


@dataclass(frozen=True)
class ScenarioTest:
    """A scripted path run by ``iwp-trainer check``: choices to take and what must happen."""

    name: str
    choose: tuple[str, ...]
    seed: int = 0
    expect_ending: str | None = None
    expect_passed: bool | None = None
    expect_scores: dict[str, int] | None = None
    line: int | None = None
    col: int | None = None


@dataclass(frozen=True)
class Scenario:
    """A whole role-play: its nodes, what it scores and its scripted tests."""

    id: str
    title: str
    summary: str
    level: str
    dimensions: tuple[str, ...]
    pass_mark: float
    start: str
    nodes: dict[str, Node]
    shuffle: bool = True
    cast: dict[str, str] = field(default_factory=dict)
    tests: tuple[ScenarioTest, ...] = ()
    path: Path | None = None
    sha256: str = ""
    line: int | None = None

    def choice(self, choice_id: str) -> Choice | None:
        """The choice with this id anywhere in the scenario (ids are unique per scenario)."""
        for node in self.nodes.values():
            for choice in node.choices:
                if choice.id == choice_id:
                    return choice
        return None

    def all_choices(self) -> list[tuple[Node, Choice]]:
        return [(node, choice) for node in self.nodes.values() for choice in node.choices]

    def speaker_name(self, role: str) -> str:
        """The display name for a speaker role: the cast name, else the role in title case."""
        return self.cast.get(role) or role.replace("-", " ").replace("_", " ").capitalize()

    @property
    def file(self) -> str:
        return str(self.path) if self.path else f"{self.id}.yaml"


@dataclass
class ScenarioSet:
    """Everything loaded from a scenarios folder: the valid scenarios and every problem found."""

    scenarios: dict[str, Scenario] = field(default_factory=dict)
    dimensions: dict[str, Dimension] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
