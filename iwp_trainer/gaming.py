"""Can a scenario be passed without knowing the policy? Play it with naive strategies and see.

A learner who has spotted that the right answer is usually the longest, or the first shown, can
pass without reading the claimant at all. Each strategy here plays a scenario many times, one
attempt per seed (random branches and the shuffled order of choices follow the seed exactly as
they do for a learner), and we count how often it passes. Everything is deterministic: the same
scenario and seeds always give the same figures.

``check`` turns a high pass rate into SC606; ``check --gaming`` prints the table.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from iwp_trainer.engine import Playthrough
from iwp_trainer.scenario import Choice, Scenario

DEFAULT_SEEDS = 20
MAX_PASS_RATE = 0.10  # above this share of plays, a naive strategy is said to game the scenario
MAX_DECISIONS = 200  # a strategy that goes round a loop for ever simply fails


def text_length(choice: Choice) -> int:
    """An option's length as a learner sees it: characters, with runs of spaces counted once."""
    return len(" ".join(choice.text.split()))


Strategy = Callable[[Sequence[Choice], random.Random], Choice]


def _longest(options: Sequence[Choice], _rng: random.Random) -> Choice:
    return max(options, key=text_length)  # ties: the first shown


def _shortest(options: Sequence[Choice], _rng: random.Random) -> Choice:
    return min(options, key=text_length)


def _random(options: Sequence[Choice], rng: random.Random) -> Choice:
    return rng.choice(list(options))


def _first(options: Sequence[Choice], _rng: random.Random) -> Choice:
    return options[0]  # first as shown to the learner (shuffled by the seed when `shuffle: true`)


STRATEGIES: dict[str, Strategy] = {
    "longest": _longest,
    "shortest": _shortest,
    "random": _random,
    "first": _first,
}


@dataclass(frozen=True)
class StrategyRate:
    """How one naive strategy fared on one scenario."""

    strategy: str
    plays: int
    passes: int

    @property
    def rate(self) -> float:
        return self.passes / self.plays if self.plays else 0.0


@dataclass(frozen=True)
class GamingResult:
    """Every strategy's pass rate on one scenario."""

    scenario_id: str
    rates: tuple[StrategyRate, ...] = field(default_factory=tuple)

    def gamed_by(self, limit: float = MAX_PASS_RATE) -> list[StrategyRate]:
        """The strategies that pass more than ``limit`` of their plays."""
        return [r for r in self.rates if r.rate > limit + 1e-12]


def play_strategy(scenario: Scenario, strategy: str, seed: int) -> bool:
    """One attempt with ``strategy``: does it pass?"""
    pick = STRATEGIES[strategy]
    rng = random.Random(f"{seed}:{scenario.id}:{strategy}")
    play = Playthrough(scenario, seed=seed, explain=False)
    for _ in range(MAX_DECISIONS):
        if play.finished or not play.choices:
            break
        play.choose(pick(play.choices, rng).id)
    return play.finished and play.result().passed


def simulate(scenario: Scenario, seeds: int = DEFAULT_SEEDS,
             strategies: Iterable[str] = tuple(STRATEGIES)) -> GamingResult:
    """Play ``scenario`` ``seeds`` times (seeds 0 .. seeds-1) with each strategy."""
    rates = []
    for name in strategies:
        passes = sum(play_strategy(scenario, name, seed) for seed in range(seeds))
        rates.append(StrategyRate(name, seeds, passes))
    return GamingResult(scenario.id, tuple(rates))


def overall(results: Iterable[GamingResult]) -> dict[str, StrategyRate]:
    """Each strategy's pass rate over a whole set of scenarios (all plays pooled)."""
    totals: dict[str, list[int]] = {}
    for result in results:
        for r in result.rates:
            t = totals.setdefault(r.strategy, [0, 0])
            t[0] += r.plays
            t[1] += r.passes
    return {name: StrategyRate(name, plays, passes) for name, (plays, passes) in totals.items()}
