"""The engine: scoring, best achievable, critical choices, flags, random nodes, shuffling, loops,
the debrief, and a property test over random scenario graphs."""

from __future__ import annotations

import dataclasses
import random
from collections import deque
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iwp_trainer.engine import TOTAL, Playthrough, analyse, debrief, play_path
from iwp_trainer.scenario import Choice, Node, RandomBranch, Scenario
from iwp_trainer.scenario_loader import load_dimensions, load_scenario_file

FIX = Path(__file__).parent / "fixtures" / "scenarios"


@pytest.fixture(scope="module")
def group_swap() -> Scenario:
    dims, _ = load_dimensions(FIX / "valid" / "dimensions.yaml")
    scenario, diags = load_scenario_file(FIX / "valid" / "group-swap.yaml", dims, None)
    assert scenario is not None, diags
    return scenario


@pytest.fixture(scope="module")
def kb():
    from iwp_trainer.kb import load_kb

    return load_kb(FIX / "kb")


def make(nodes: list[Node], dimensions=("a",), start: str | None = None, pass_mark: float = 0.7,
         shuffle: bool = False) -> Scenario:
    return Scenario(id="t", title="T", summary="S", level="new", dimensions=tuple(dimensions),
                    pass_mark=pass_mark, start=start or nodes[0].id, nodes={n.id: n for n in nodes},
                    shuffle=shuffle)


def ending(node_id: str) -> Node:
    return Node(node_id, "The end.", ending=node_id.title())


# -- scoring ----------------------------------------------------------------------------------------


def test_best_path_passes_with_full_marks(group_swap: Scenario) -> None:
    result = play_path(group_swap, ["explain-rat", "normal-process"], seed=0)
    assert result.finished
    assert result.ending_node in ("calm-end", "observed-end")
    assert result.scores["reallocation"].earned == 2
    assert result.scores["sanctions"].earned == 2
    # explain-process (in the loop) adds 1 sanctions point on top of normal-process's 2
    assert result.scores["sanctions"].best == 3
    assert result.scores["reallocation"].best == 2
    # 2/3 sanctions is below the 0.7 pass mark
    assert result.passed is False


def test_pass_needs_every_dimension_at_pass_mark(group_swap: Scenario) -> None:
    result = play_path(group_swap, ["ask-why", "explain-process", "ask-why", "reassure", "normal-process"])
    assert result.scores["sanctions"].earned == 3
    assert result.scores["sanctions"].fraction == 1.0
    assert result.passed is True


def test_critical_choice_fails_whatever_the_score() -> None:
    nodes = [
        Node("start", "Q", choices=(
            Choice("good", "Good", "end", scores={"a": 1}),
            Choice("bad-but-scores", "Bad", "end", scores={"a": 1}, critical=True),
        )),
        ending("end"),
    ]
    scenario = make(nodes)
    bad = play_path(scenario, ["bad-but-scores"])
    assert bad.scores["a"].fraction == 1.0
    assert bad.critical_taken is True
    assert bad.passed is False
    assert play_path(scenario, ["good"]).passed is True


def test_negative_points_and_pass_mark_boundary() -> None:
    nodes = [
        Node("q1", "Q1", choices=(Choice("q1-best", "x", "q2", scores={"a": 7}),
                                  Choice("q1-worse", "x", "q2", scores={"a": 6}))),
        Node("q2", "Q2", choices=(Choice("q2-best", "x", "end", scores={"a": 3}),
                                  Choice("q2-wrong", "x", "end", scores={"a": -1}))),
        ending("end"),
    ]
    scenario = make(nodes, pass_mark=0.7)
    exactly = play_path(scenario, ["q1-best", "q2-wrong"])  # 6/10 < 0.7
    assert (exactly.scores["a"].earned, exactly.scores["a"].best) == (6, 10)
    assert exactly.passed is False
    at_mark = play_path(scenario, ["q1-worse", "q2-best"])  # 9/10
    assert at_mark.passed is True
    boundary = make([
        Node("q", "Q", choices=(Choice("seven", "x", "end", scores={"a": 7}),
                                Choice("ten", "x", "end", scores={"a": 10}))),
        ending("end")], pass_mark=0.7)
    assert play_path(boundary, ["seven"]).passed is True  # 7/10 == pass mark


def test_unfinished_attempt_never_passes(group_swap: Scenario) -> None:
    result = play_path(group_swap, ["explain-rat"])
    assert result.finished is False
    assert result.ending_node is None
    assert result.passed is False


# -- loops ------------------------------------------------------------------------------------------


def test_no_point_farming_in_loops() -> None:
    nodes = [
        Node("hub", "Hub", choices=(
            Choice("praise", "Praise", "hub", scores={"a": 2}),
            Choice("leave", "Leave", "end", scores={"a": 1}),
        )),
        ending("end"),
    ]
    scenario = make(nodes)
    assert analyse(scenario).best_achievable() == {"a": 3}
    result = play_path(scenario, ["praise", "praise", "praise", "leave"])
    assert result.scores["a"].earned == 3
    assert [d.points["a"] for d in result.decisions] == [2, 0, 0, 1]


def test_best_achievable_collects_points_around_a_loop() -> None:
    # A two-node loop: the best walk goes round once to pick up `detour` before leaving.
    nodes = [
        Node("a1", "A", choices=(Choice("to-b", "x", "b1", scores={"a": -1}),
                                 Choice("exit", "x", "end", scores={"a": 1}))),
        Node("b1", "B", choices=(Choice("detour", "x", "a1", scores={"a": 5}),)),
        ending("end"),
    ]
    scenario = make(nodes)
    assert analyse(scenario).best_achievable()["a"] == 5  # -1 + 5 + 1
    play = Playthrough(scenario)
    assert [c.id for c in play.best_choices()] == ["to-b"]
    result = play_path(scenario, ["to-b", "detour", "to-b", "detour", "exit"])
    assert result.scores["a"].earned == 5


# -- flags ------------------------------------------------------------------------------------------


def test_requires_and_excludes_filter_choices(group_swap: Scenario) -> None:
    play = Playthrough(group_swap, shuffle=False)
    play.choose("ask-why")
    assert "reassure" in [c.id for c in play.choices]
    nodes = [
        Node("s", "S", choices=(Choice("promise", "x", "m", set=("promised",)),
                                Choice("honest", "x", "m"))),
        Node("m", "M", choices=(Choice("own-up", "x", "end", requires=("promised",)),
                                Choice("move-on", "x", "end", excludes=("promised",)))),
        ending("end"),
    ]
    scenario = make(nodes)
    p1 = Playthrough(scenario)
    p1.choose("promise")
    assert [c.id for c in p1.choices] == ["own-up"]
    with pytest.raises(ValueError, match="not available"):
        p1.choose("move-on")
    p2 = Playthrough(scenario)
    p2.choose("honest")
    assert [c.id for c in p2.choices] == ["move-on"]


def test_flags_change_best_achievable() -> None:
    nodes = [
        Node("s", "S", choices=(Choice("prepare", "x", "m", set=("ready",), scores={"a": -1}),
                                Choice("rush", "x", "m"))),
        Node("m", "M", choices=(Choice("big", "x", "end", requires=("ready",), scores={"a": 4}),
                                Choice("small", "x", "end", scores={"a": 1}))),
        ending("end"),
    ]
    scenario = make(nodes)
    assert analyse(scenario).best_achievable()["a"] == 3
    assert [c.id for c in Playthrough(scenario).best_choices()] == ["prepare"]


# -- random nodes, shuffling ------------------------------------------------------------------------


def coin_scenario() -> Scenario:
    return make([
        Node("s", "S", choices=(Choice("flip", "x", "coin"),)),
        Node("coin", "Coin", random=(RandomBranch("heads", 1), RandomBranch("tails", 1))),
        ending("heads"),
        ending("tails"),
    ])


def test_random_nodes_follow_the_seed() -> None:
    scenario = coin_scenario()
    outcomes = {seed: play_path(scenario, ["flip"], seed=seed).ending_node for seed in range(40)}
    assert set(outcomes.values()) == {"heads", "tails"}
    for seed, end in outcomes.items():
        assert play_path(scenario, ["flip"], seed=seed).ending_node == end
    play = Playthrough(scenario, seed=3)
    play.choose("flip")
    assert play.transcript[-2][1] == "Coin"  # the random node's line is in the transcript


def test_random_weights_are_respected() -> None:
    scenario = make([
        Node("coin", "Coin", random=(RandomBranch("heads", 9), RandomBranch("tails", 1))),
        ending("heads"),
        ending("tails"),
    ])
    heads = sum(Playthrough(scenario, seed=s).node.id == "heads" for s in range(300))
    assert 230 < heads < 300


def test_shuffle_is_deterministic_per_seed_and_off_when_disabled(group_swap: Scenario) -> None:
    orders = {seed: [c.id for c in Playthrough(group_swap, seed=seed).choices] for seed in range(30)}
    assert len({tuple(o) for o in orders.values()}) > 1
    for seed, order in orders.items():
        assert [c.id for c in Playthrough(group_swap, seed=seed).choices] == order
    written = [c.id for c in group_swap.nodes["opening"].choices]
    for seed in range(10):
        assert [c.id for c in Playthrough(group_swap, seed=seed, shuffle=False).choices] == written
    unshuffled = dataclasses.replace(group_swap, shuffle=False)
    assert [c.id for c in Playthrough(unshuffled, seed=5).choices] == written


# -- decisions, transcript, debrief -----------------------------------------------------------------


def test_decisions_record_best_choices_and_points(group_swap: Scenario) -> None:
    play = Playthrough(group_swap, shuffle=False)
    first = play.choose("explain-rat")
    assert first.points == {"reallocation": 2, "sanctions": 0}
    # explain-rat loses the sanctions point in the loop, so asking why first is the best move
    assert first.best_choice_ids == ("ask-why",)
    assert first.is_best is False
    second = play.choose("normal-process")
    assert second.is_best is True
    assert second.cites == ("sanction-duration",)
    assert play.finished
    with pytest.raises(ValueError, match="already ended"):
        play.choose("normal-process")


def test_transcript_uses_cast_names_and_includes_the_coach(group_swap: Scenario) -> None:
    play = Playthrough(group_swap, shuffle=False)
    play.choose("ask-why")
    speakers = [s for s, _t in play.transcript]
    assert speakers[:3] == ["Dana", "You", "Dana"]
    assert play.transcript[1][1] == group_swap.nodes["opening"].choices[2].text


def test_unknown_choice_suggests_the_nearest(group_swap: Scenario) -> None:
    play = Playthrough(group_swap)
    with pytest.raises(ValueError, match="did you mean `explain-rat`"):
        play.choose("explain-rta")


def test_debrief_shows_chosen_best_feedback_and_cited_policy(group_swap: Scenario, kb) -> None:
    result = play_path(group_swap, ["move-her"])
    items = debrief(result, kb)
    assert len(items) == 1
    item = items[0]
    assert item.chosen_text.startswith("Move her")
    assert item.critical is True
    assert item.is_best is False
    assert item.best_texts == (group_swap.nodes["opening"].choices[2].text,)
    assert item.feedback == "Coaches have no discretion to reallocate."
    (cited,) = item.cited
    entry = kb.entries["reallocation-not-allowed"]
    assert (cited.title, cited.citation, cited.body) == (entry.title, entry.citation, entry.body)
    assert "section 5" in cited.citation
    missing = debrief(result, None)[0].cited[0]
    assert missing.found is False


def test_debrief_teaches_why_the_best_was_better_and_the_source_text() -> None:
    from iwp_trainer.kb import load_kb
    from iwp_trainer.scenario_loader import load_scenarios

    tui = Path(__file__).parent / "fixtures" / "tui"
    kb = load_kb(tui / "kb")
    fare = load_scenarios(tui / "scenarios", set(kb.entries)).scenarios["fare"]
    wrong, right = debrief(play_path(fare, ["refund-anyway", "agreed-steps"]), kb)
    best = fare.choice("not-normally")
    # why the chosen option scored as it did
    assert wrong.why == fare.choice("refund-anyway").feedback and wrong.points["discretion"] == -1
    # why the best option was better, in its own words and points
    assert wrong.best_feedback == (best.feedback,) and wrong.best_points == ({"discretion": 2},)
    # the source it rests on: the cited entry's text, with its citation
    (source,) = wrong.sources
    entry = kb.entries["travel-costs-refund"]
    assert (source.citation, source.body) == (entry.citation, entry.body)
    assert source.text.startswith("Travel costs will not normally be refunded.")
    # a best choice needs no "better" option; its sources are its own
    assert right.is_best and right.best_feedback == () and [c.id for c in right.sources] == ["when-sanction-applies"]
    payload = wrong.to_dict()
    assert payload["why"] == wrong.why and payload["best_feedback"] == [best.feedback]
    assert payload["sources"][0]["text"] == source.text


def test_debrief_sources_add_the_best_choices_entries_once() -> None:
    nodes = [
        Node("start", "Q", choices=(
            Choice("good", "Good", "end", scores={"a": 2}, feedback="Because.", cites=("x", "y")),
            Choice("bad", "Bad", "end", scores={"a": -1}, cites=("y",)),
            Choice("quiet", "Quiet", "end"),
        )),
        ending("end"),
    ]
    (item,) = debrief(play_path(make(nodes), ["bad"]), None)
    assert [c.id for c in item.sources] == ["y", "x"]  # the chosen option's entries first
    assert item.why == "No feedback was written for this choice."
    (quiet,) = debrief(play_path(make(nodes), ["quiet"]), None)
    assert quiet.why.startswith("It scores nothing itself, and leads away")


# -- property test over random graphs ---------------------------------------------------------------

DIMS = ("a", "b")


@st.composite
def scenario_graphs(draw: st.DrawFn, allow_random: bool = True) -> Scenario:
    """Random scenario graphs, loops included, in which every node can reach an ending."""
    n_inner = draw(st.integers(1, 5))
    n_end = draw(st.integers(1, 2))
    ids = [f"n{i}" for i in range(n_inner)] + [f"end{i}" for i in range(n_end)]
    flags = ["f1", "f2"]
    points = st.dictionaries(st.sampled_from(DIMS), st.integers(-2, 3), max_size=2)
    nodes: list[Node] = []
    counter = 0
    for i in range(n_inner):
        forward = draw(st.sampled_from(ids[i + 1:]))  # always a way onwards: no trap by construction
        if allow_random and draw(st.integers(0, 4)) == 0:
            extra = draw(st.lists(st.sampled_from(ids), max_size=2))
            branches = tuple(RandomBranch(t, draw(st.integers(1, 3))) for t in [forward, *extra])
            nodes.append(Node(ids[i], f"say {i}", random=branches))
            continue
        choices = []
        for j, target in enumerate([forward, *draw(st.lists(st.sampled_from(ids), max_size=2))]):
            counter += 1
            choices.append(Choice(
                f"c{counter}", f"text {counter}", target,
                scores=draw(points),
                set=tuple(draw(st.lists(st.sampled_from(flags), max_size=1))),
                # the onward choice is never hidden, so no node can get stuck
                requires=() if j == 0 else tuple(draw(st.lists(st.sampled_from(flags), max_size=1))),
                critical=draw(st.integers(0, 9)) == 0,
            ))
        nodes.append(Node(ids[i], f"say {i}", choices=tuple(choices)))
    nodes += [ending(e) for e in ids[n_inner:]]
    return make(nodes, dimensions=DIMS, start="n0")


def oracle(scenario: Scenario) -> tuple[dict[str, float], list[str] | None]:
    """Brute force over full states (node, flags, every choice taken): the best total per
    objective and, with no random nodes, a choice path reaching the best total."""
    start = (scenario.start, frozenset(), frozenset())
    parent: dict[tuple, tuple | None] = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        node = scenario.nodes[state[0]]
        moves = [(c.to, state[1] | set(c.set), state[2] | {c.id}, c.id)
                 for c in node.choices if c.available(state[1])]
        moves += [(b.to, state[1], state[2], None) for b in node.random]
        for to, fl, taken, cid in moves:
            nxt = (to, frozenset(fl), frozenset(taken))
            if nxt not in parent:
                parent[nxt] = (state, cid)
                queue.append(nxt)
    finals = [s for s in parent if scenario.nodes[s[0]].is_ending]

    def score(state: tuple, dims: tuple[str, ...]) -> int:
        return sum(scenario.choice(cid).scores.get(d, 0) for cid in state[2] for d in dims)

    best = {d: max(score(s, (d,)) for s in finals) for d in DIMS}
    best[TOTAL] = max(score(s, DIMS) for s in finals)
    winner = max(finals, key=lambda s: score(s, DIMS))
    path: list[str] = []
    state = winner
    while parent[state] is not None:
        state, cid = parent[state]
        if cid is not None:
            path.append(cid)
    return best, path[::-1]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_graphs(), st.integers(0, 10_000))
def test_property_random_graphs(scenario: Scenario, seed: int) -> None:
    analysis = analyse(scenario)
    # every node can reach an ending
    for node_id in scenario.nodes:
        assert analysis.value((node_id, frozenset(), frozenset())) > float("-inf"), node_id
    # a player taking random choices reaches one
    rng = random.Random(seed)
    play = Playthrough(scenario, seed=seed)
    for _ in range(5_000):
        if play.finished:
            break
        play.choose(rng.choice(play.choices).id)
    assert play.finished
    # the computed maxima equal a brute-force search over every walk
    best, path = oracle(scenario)
    assert analysis.value(analysis.start_state(), TOTAL) == best[TOTAL]
    result = play.result()
    for dim in DIMS:
        assert analysis.best_achievable()[dim] == best[dim]
        assert result.scores[dim].best == best[dim]
        assert result.scores[dim].earned <= best[dim]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_graphs(allow_random=False))
def test_property_best_path_scores_the_maximum(scenario: Scenario) -> None:
    best, path = oracle(scenario)
    play = Playthrough(scenario, shuffle=False)
    for cid in path:
        decision = play.choose(cid)
        assert decision.is_best, (cid, decision.best_choice_ids)
    assert play.finished
    result = play.result()
    assert sum(s.earned for s in result.scores.values()) == best[TOTAL]


def test_explain_off_skips_best_choices_but_scores_the_same(group_swap: Scenario) -> None:
    path = ["ask-why", "explain-process", "ask-why", "reassure", "normal-process"]
    quick = Playthrough(group_swap, seed=2, shuffle=False, explain=False)
    for choice_id in path:
        assert quick.choose(choice_id).best_choice_ids == ()
    assert quick.result().scores == play_path(group_swap, path, seed=2).scores


def test_reachability_helpers_follow_edges_both_ways() -> None:
    from iwp_trainer.engine import reachable_from, reaching

    edges = {"a": ["b"], "b": ["c", "a"], "c": [], "d": ["d"], "e": ["c"]}
    assert reachable_from(edges, ["a"]) == {"a", "b", "c"}
    assert reaching(edges, ["c"]) == {"a", "b", "c", "e"}
    assert reaching(edges, []) == set()


def test_dimensions_below_the_pass_mark_are_named_by_the_engine() -> None:
    from iwp_trainer.engine import DimensionScore, Result

    scores = {
        "discretion": DimensionScore(2, 3, 2 / 3),
        "sanctions": DimensionScore(3, 3, 1.0),
        "reallocation": DimensionScore(-1, 0, 0.0),
    }
    result = Result("s", False, False, "end", "End", scores, pass_mark=0.7)
    assert result.below_pass_mark == ["discretion", "reallocation"]
    assert DimensionScore(7, 10, 0.7).reaches(0.7)
    assert not DimensionScore(6, 10, 0.6).reaches(0.7)


def _long_loop_yaml(n: int) -> str:
    """A chain of ``n`` nodes, each with a scored step forward and a scored step back: one big loop
    whose scored choices can be taken in any combination."""
    lines = ["id: long-loop", 'title: "Long loop"', 'summary: "x"', "level: experienced",
             "dimensions: [reallocation]", "shuffle: false", "start: n0", "nodes:"]
    for i in range(n):
        lines += [f"  n{i}:", '    say: "h"', "    choices:",
                  f'      - {{id: c{i}, text: "g", to: n{i + 1}, scores: {{reallocation: 1}}, feedback: "k", cites: [kb-entry]}}',
                  f'      - {{id: d{i}, text: "b", to: n{max(i - 1, 0)}, scores: {{reallocation: 0}}, feedback: "k", cites: [kb-entry]}}']
    lines += [f"  n{n}:", '    say: "end"', '    ending: "End"']
    return "\n".join(lines) + "\n"


def test_best_score_analysis_gives_up_quickly_on_a_long_scored_loop(tmp_path: Path) -> None:
    """A 650 KB scenario like this made `check` run for minutes and use gigabytes: every state
    carries the set of loop choices already taken, so the work grows with states x their size.
    The analysis has a budget for that work and stops with SC211 well within a second or two."""
    import time

    dims, _ = load_dimensions(FIX / "valid" / "dimensions.yaml")
    path = tmp_path / "long-loop.yaml"
    path.write_text(_long_loop_yaml(300), encoding="utf-8")
    start = time.perf_counter()
    scenario, diags = load_scenario_file(path, dims, None)
    elapsed = time.perf_counter() - start
    assert [d.code for d in diags if d.severity == "error"] == ["SC211"]
    assert "scored choices inside loops" in (diags[0].hint or "")
    assert elapsed < 4, f"took {elapsed:.1f} s"


# -- variants ---------------------------------------------------------------------------------------


def test_variants_follow_the_flags_first_match_wins_else_plain_say() -> None:
    from iwp_trainer.scenario import Variant

    nodes = [
        Node("start", "Q", choices=(
            Choice("a", "A", "mid", scores={"a": 1}, set=("x",)),
            Choice("b", "B", "mid", scores={"a": 1}, set=("x", "y")),
            Choice("c", "C", "mid", scores={"a": 1}),
        )),
        Node("mid", "Plain middle.", variants=(Variant(("x",), "Middle after x."),), choices=(
            Choice("go", "Go", "end", scores={"a": 1}),
        )),
        Node("end", "Plain end.", ending="End", variants=(
            Variant(("x", "y"), "End after x and y."),
            Variant(("x",), "End after x."),
        )),
    ]
    scenario = make(nodes)
    seen = {}
    for first in ("a", "b", "c"):
        play = Playthrough(scenario, shuffle=False)
        play.choose(first)
        decision = play.choose("go")
        result = play.result()
        assert play.transcript[-1][1] == result.ending_text == play.say
        seen[first] = (decision.prompt, result.ending_text)
    assert seen == {
        "a": ("Middle after x.", "End after x."),
        "b": ("Middle after x.", "End after x and y."),  # the first matching variant wins
        "c": ("Plain middle.", "Plain end."),
    }
