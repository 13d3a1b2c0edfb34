"""The gaming simulation: naive strategies play scenarios deterministically, as learners' attempts."""

from __future__ import annotations

from pathlib import Path

from iwp_trainer.engine import Playthrough
from iwp_trainer.gaming import MAX_PASS_RATE, STRATEGIES, overall, play_strategy, simulate, text_length
from iwp_trainer.scenario import Choice, Node, Scenario
from iwp_trainer.scenario_loader import load_dimensions, load_scenario_file, load_scenarios

ROOT = Path(__file__).resolve().parent.parent
QUALITY = Path(__file__).parent / "fixtures" / "scenarios" / "quality"


def two_step(shuffle: bool) -> Scenario:
    """Two decisions; the right answer is the longest at the first and the shortest at the second."""
    def node(node_id: str, to: str, right: str, wrong: str) -> Node:
        return Node(node_id, "Q", choices=(
            Choice(f"{node_id}-right", right, to, scores={"a": 1}),
            Choice(f"{node_id}-wrong", wrong, to, scores={"a": -1}),
        ))

    nodes = [node("one", "two", "A long and careful right answer.", "Wrong."),
             node("two", "end", "Right.", "A long and careful wrong answer."),
             Node("end", "The end.", ending="End")]
    return Scenario(id="t", title="T", summary="S", level="new", dimensions=("a",), pass_mark=1.0,
                    start="one", nodes={n.id: n for n in nodes}, shuffle=shuffle)


def test_each_strategy_picks_what_its_name_says() -> None:
    scenario = two_step(shuffle=False)
    result = simulate(scenario, seeds=10)
    rates = {r.strategy: r.passes for r in result.rates}
    assert rates["longest"] == 0 and rates["shortest"] == 0  # each is right at one decision only
    assert rates["first"] == 10  # the right answer is listed first and nothing is shuffled
    assert set(rates) == set(STRATEGIES)
    assert 0 < rates["random"] < 10


def test_the_simulation_is_deterministic_and_follows_the_shuffle() -> None:
    scenario = two_step(shuffle=True)
    first = simulate(scenario, seeds=30)
    assert simulate(scenario, seeds=30) == first
    by = {r.strategy: r for r in first.rates}
    assert 0 < by["first"].passes < 30  # shuffled: first shown is right only sometimes
    # each play is the learner's attempt for that seed: the same order of choices
    play = Playthrough(scenario, seed=3)
    passes = play_strategy(scenario, "first", 3)
    while not play.finished:
        play.choose(play.choices[0].id)
    assert play.result().passed == passes


def test_a_strategy_stuck_in_a_loop_fails_instead_of_hanging() -> None:
    nodes = [
        Node("start", "Q", choices=(
            Choice("round-again-and-again", "Go round the loop once more, please.", "start"),
            Choice("out", "Leave.", "end", scores={"a": 1}),
        )),
        Node("end", "The end.", ending="End"),
    ]
    scenario = Scenario(id="loop", title="T", summary="S", level="new", dimensions=("a",), pass_mark=1.0,
                        start="start", nodes={n.id: n for n in nodes}, shuffle=False)
    assert play_strategy(scenario, "longest", 0) is False


def test_text_length_counts_what_a_learner_sees() -> None:
    assert text_length(Choice("x", "two  words\n here", "end")) == len("two words here")


def test_overall_pools_every_play() -> None:
    dims, _ = load_dimensions(QUALITY / "dimensions.yaml")
    clean, _ = load_scenario_file(QUALITY / "clean.yaml", dims, None)
    results = [simulate(clean, 20), simulate(two_step(False), 10)]
    total = overall(results)
    assert total["first"].plays == 30 and total["first"].passes == 10 + results[0].rates[3].passes



# Issue 12's evidence: over the shipped scenarios (scenarios/, rewritten for "scenarios v2"), no
# naive strategy passes more than 10% of its plays. Before the rewrite: always-longest passed 69%.
def test_no_naive_strategy_passes_more_than_a_tenth_of_any_shipped_scenario() -> None:
    loaded = load_scenarios(ROOT / "scenarios", None, run_tests=False)
    assert len(loaded.scenarios) >= 13
    gamed = {}
    for scenario in loaded.scenarios.values():
        for rate in simulate(scenario).gamed_by(MAX_PASS_RATE):
            gamed.setdefault(scenario.id, []).append(f"{rate.strategy} {rate.passes}/{rate.plays}")
    assert not gamed, f"naive strategies pass more than {MAX_PASS_RATE:.0%} of plays: {gamed}"
