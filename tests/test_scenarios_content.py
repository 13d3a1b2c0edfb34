"""Checks over the shipped role-play scenarios (`scenarios/*.yaml`).

Most read the files directly with PyYAML so the content is checked on its own terms: which
situations trainers can rely on being covered, that every scenario can be passed and failed,
and that the policy teaching stays tied to the knowledge base. The engine and `check` command
are used only for what they alone can say (a clean strict check, and what a best path scores).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from iwp_trainer.engine import analyse, play_path
from iwp_trainer.scenario_loader import load_scenarios

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
KB_DIR = ROOT / "kb"
DIMENSIONS = {"discretion", "sanctions", "reallocation", "eligibility", "engagement"}

# The situations the trainers asked for, one file each.
REQUIRED_SCENARIOS = [
    "control-group-request", "change-jobcentre-no-move", "change-of-address", "carer-cet",
    "domestic-violence", "household-above-cet", "travel-costs", "wsr-thin-evidence",
    "steps-not-taken", "first-in-work-conversation", "angry-mandatory", "self-employed",
    "change-jobcentre-granted", "progress-reviews", "bi-monthly-letter", "carer-earnings-move",
]


def _files() -> list[Path]:
    return sorted(p for p in SCENARIOS.glob("*.yaml") if p.name != "dimensions.yaml")


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name}: not a mapping"
    return data


def _choices(sc: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for node in sc["nodes"].values() for c in node.get("choices") or []]


ALL = {p.stem: _load(p) for p in _files()}
KB_IDS = {p.stem for p in KB_DIR.glob("*.md")}


def test_every_requested_scenario_is_shipped() -> None:
    missing = [sid for sid in REQUIRED_SCENARIOS if sid not in ALL]
    assert not missing, f"missing scenario files: {missing}"


def test_shipped_scenarios_pass_strict_check() -> None:
    result = subprocess.run([sys.executable, "-m", "iwp_trainer", "check", "--strict"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    entries = len(list((ROOT / "kb").glob("*.md")))
    assert (f"checked {len(ALL)} scenario files and {entries} knowledge-base entries: 0 errors, 0 warnings"
            in result.stdout)


def test_shipped_scenarios_pass_the_assessment_quality_checks() -> None:
    """`check --quality --strict` (SC601-SC606, gaming simulation included) is clean on the shipped set."""
    result = subprocess.run([sys.executable, "-m", "iwp_trainer", "check", "--strict", "--quality"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    entries = len(list((ROOT / "kb").glob("*.md")))
    assert (f"checked {len(ALL)} scenario files and {entries} knowledge-base entries: 0 errors, 0 warnings"
            in result.stdout)


@pytest.mark.parametrize("sid", sorted(ALL))
def test_each_scenario_has_a_passing_and_a_failing_scripted_path(sid: str) -> None:
    tests = ALL[sid]["tests"]
    passing = [t for t in tests if t["expect"].get("passed") is True]
    failing = [t for t in tests if t["expect"].get("passed") is False]
    assert passing and failing, f"{sid}: needs a passing and a failing test"
    assert all("scores" in t["expect"] for t in passing), f"{sid}: best paths must state their scores"


@pytest.mark.parametrize("sid", sorted(ALL))
def test_best_path_earns_full_marks(sid: str) -> None:
    """The first passing test is the model answer: it must reach the best score in every dimension."""
    loaded = load_scenarios(SCENARIOS, KB_IDS, run_tests=False, files=[SCENARIOS / f"{sid}.yaml"])
    scenario = loaded.scenarios[sid]
    best = next(t for t in ALL[sid]["tests"] if t["expect"].get("passed") is True)
    result = play_path(scenario, best["choose"], seed=best.get("seed", 0))
    assert result.passed
    short = {d: s.fraction for d, s in result.scores.items() if s.fraction < 1.0}
    assert not short, f"{sid}: best path '{best['name']}' falls short in {short}"


@pytest.mark.parametrize("sid", sorted(ALL))
def test_main_path_is_three_to_six_decisions_deep(sid: str) -> None:
    best = next(t for t in ALL[sid]["tests"] if t["expect"].get("passed") is True)
    assert 3 <= len(best["choose"]) <= 6, f"{sid}: best path has {len(best['choose'])} decisions"


@pytest.mark.parametrize("sid", sorted(ALL))
def test_scored_choices_teach_and_cite_real_entries(sid: str) -> None:
    for choice in _choices(ALL[sid]):
        if choice.get("scores"):
            assert str(choice.get("feedback", "")).strip(), f"{sid}/{choice['id']}: no feedback"
            assert choice.get("cites"), f"{sid}/{choice['id']}: no cites"
        unknown = set(choice.get("cites") or []) - KB_IDS
        assert not unknown, f"{sid}/{choice['id']}: cites unknown KB entries {unknown}"


def test_every_policy_entry_is_taught_somewhere() -> None:
    """Together the scenarios cover every policy area of the two sources."""
    cited = {k for sc in ALL.values() for c in _choices(sc) for k in c.get("cites") or []}
    uncited = sorted(KB_IDS - cited)
    assert not uncited, f"KB entries no scenario cites: {uncited}"


def test_all_dimensions_levels_and_mechanics_are_used() -> None:
    scored = {d for sc in ALL.values() for d in sc["dimensions"]}
    assert scored == DIMENSIONS
    assert {sc["level"] for sc in ALL.values()} == {"new", "experienced"}
    with_random = [sid for sid, sc in ALL.items() if any("random" in n for n in sc["nodes"].values())]
    assert with_random, "no scenario uses a random node"
    with_flags = [sid for sid, sc in ALL.items()
                  if any(c.get("requires") or c.get("excludes") for c in _choices(sc))]
    assert len(with_flags) >= 2, f"flags gate choices only in {with_flags}"
    with_variants = [sid for sid, sc in ALL.items() if any(n.get("variants") for n in sc["nodes"].values())]
    assert len(with_variants) >= len(ALL) - 1, f"endings follow the path only in {with_variants}"


@pytest.mark.parametrize("sid", sorted(sid for sid, sc in ALL.items() if "reallocation" in sc["dimensions"]))
def test_moving_someone_between_groups_is_critical(sid: str) -> None:
    """Any choice that scores the worst reallocation mark breaks the rule outright."""
    worst = [c for c in _choices(ALL[sid]) if (c.get("scores") or {}).get("reallocation", 0) <= -2]
    assert worst, f"{sid}: scores reallocation but offers no reallocating choice"
    assert all(c.get("critical") is True for c in worst), f"{sid}: a reallocating choice is not critical"


# Sanction lengths or amounts would be invented policy: the FAQ gives none.
INVENTED_SANCTION = re.compile(r"\b(\d+|one|two|three|four|six|eight)[- ](day|week|month)s?\b.{0,20}sanction"
                               r"|sanction.{0,30}£\s*\d", re.IGNORECASE)


@pytest.mark.parametrize("sid", sorted(ALL))
def test_rewarded_choices_never_state_a_sanction_length_or_amount(sid: str) -> None:
    for choice in _choices(ALL[sid]):
        if any(v > 0 for v in (choice.get("scores") or {}).values()):
            text = f"{choice['text']} {choice.get('feedback', '')}"
            assert not INVENTED_SANCTION.search(text), f"{sid}/{choice['id']}: states a sanction figure"


@pytest.mark.parametrize("sid", sorted(ALL))
def test_no_penalised_choice_is_ever_shown_as_best(sid: str) -> None:
    """The debrief's 'best here' must never point a learner at a choice that loses points."""
    loaded = load_scenarios(SCENARIOS, KB_IDS, run_tests=False, files=[SCENARIOS / f"{sid}.yaml"])
    scenario = loaded.scenarios[sid]
    analysis = analyse(scenario)
    states = analysis.reachable_states()
    assert states is not None
    for state in states:
        node = scenario.nodes[state[0]]
        offered = [c for c in node.choices if c.available(state[1])]
        if not offered:
            continue
        values = {c.id: analysis.move_value(state, c) for c in offered}
        top = max(values.values())
        wrong_best = [c.id for c in offered if values[c.id] == top and min(c.scores.values(), default=0) < 0]
        assert not wrong_best, f"{sid}/{node.id}: penalised choice(s) {wrong_best} rank as best"


def test_trainers_guide_lists_every_scenario() -> None:
    guide = (SCENARIOS / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([a-z0-9-]+)` \|", guide, re.MULTILINE))
    assert listed == set(ALL), f"scenarios/README.md is out of step: {sorted(listed ^ set(ALL))}"


# Assessment quality (issue 12): a pass must mean the coach knows the policy.

from iwp_trainer.engine import Playthrough  # noqa: E402

LOADED = load_scenarios(SCENARIOS, KB_IDS, run_tests=False)
GAMING_SEEDS = 40


def _naive(pick: str):
    def choose(choices, rng):
        if pick == "longest":
            return max(choices, key=lambda c: len(c.text))
        if pick == "shortest":
            return min(choices, key=lambda c: len(c.text))
        if pick == "first":
            return choices[0]
        return rng.choice(choices)
    return choose


@pytest.mark.parametrize("strategy", ["longest", "shortest", "random", "first"])
@pytest.mark.parametrize("sid", sorted(ALL))
def test_naive_strategies_rarely_pass(sid: str, strategy: str) -> None:
    """Always longest / shortest / random / first listed must pass at most 10% of plays.

    "first" is tried both as shown (shuffled) and in file order, so the model answer being
    written first can't be gamed either.
    """
    import random as _random
    scenario = LOADED.scenarios[sid]
    pick = _naive(strategy)
    orders = [None, False] if strategy == "first" else [None]
    for shuffle in orders:
        passed = 0
        for seed in range(GAMING_SEEDS):
            play = Playthrough(scenario, seed=seed, shuffle=shuffle, explain=False)
            rng = _random.Random(seed)
            while not play.finished:
                play.choose(pick(play.choices, rng).id)
            passed += play.result().passed
        assert passed / GAMING_SEEDS <= 0.10, f"{sid}: '{strategy}' (shuffle={shuffle}) passes {passed}/{GAMING_SEEDS}"


def _decisions(sid: str):
    """Each decision point (node) with the choices on offer and the best ones, per reachable state."""
    scenario = LOADED.scenarios[sid]
    analysis = analyse(scenario)
    seen: dict[str, list[tuple[list, list]]] = {}
    for state in analysis.reachable_states() or ():
        node = scenario.nodes[state[0]]
        offered = [c for c in node.choices if c.available(state[1])]
        if len(offered) < 2:
            continue
        values = {c.id: analysis.move_value(state, c) for c in offered}
        top = max(values.values())
        seen.setdefault(node.id, []).append((offered, [c for c in offered if values[c.id] == top]))
    return seen


@pytest.mark.parametrize("sid", sorted(ALL))
def test_best_option_is_not_usually_the_longest(sid: str) -> None:
    decisions = _decisions(sid)
    longest = [nid for nid, offers in decisions.items()
               if any(max(len(c.text) for c in offered) in {len(c.text) for c in best} for offered, best in offers)]
    assert len(longest) * 3 <= len(decisions), f"{sid}: best option is the longest at {longest}"


@pytest.mark.parametrize("sid", sorted(ALL))
def test_options_at_a_decision_are_of_similar_length(sid: str) -> None:
    for nid, offers in _decisions(sid).items():
        for offered, _best in offers:
            lengths = [len(c.text) for c in offered]
            assert max(lengths) <= 2 * min(lengths), f"{sid}/{nid}: option lengths {lengths}"


ABSOLUTE = re.compile(r"\b(never|always|definitely|full stop|just this once|more or less)\b", re.IGNORECASE)


@pytest.mark.parametrize("sid", sorted(ALL))
def test_no_giveaway_absolute_words_in_options(sid: str) -> None:
    """Caricature words mark a wrong option without testing knowledge; keep options plain."""
    flagged = [c["id"] for c in _choices(ALL[sid]) if ABSOLUTE.search(c["text"])]
    assert not flagged, f"{sid}: absolute or giveaway words in {flagged}"


@pytest.mark.parametrize("sid", sorted(ALL))
def test_a_mistake_is_named_in_the_success_ending(sid: str) -> None:
    """A penalised choice that still reaches the passing ending sets a flag that ending's text uses."""
    sc = ALL[sid]
    nodes = sc["nodes"]
    variant_flags = {f for n in nodes.values() for v in n.get("variants") or [] for f in v["when"]}
    for node in nodes.values():
        for choice in node.get("choices") or []:
            if min((choice.get("scores") or {}).values(), default=0) < 0 and not choice.get("critical"):
                target = nodes[choice["to"]]
                if "ending" in target:
                    continue  # goes straight to its own ending
                assert set(choice.get("set") or []) & variant_flags or _all_paths_fail_separately(sc, choice), \
                    f"{sid}/{choice['id']}: penalised, but no ending text reflects it"


def _all_paths_fail_separately(sc: dict, choice: dict) -> bool:
    """True when every ending reachable after the choice differs from the model answer's ending."""
    best = next(t for t in sc["tests"] if t["expect"].get("passed") is True)
    model_end = best["expect"].get("ending")
    nodes = sc["nodes"]
    todo, seen = [choice["to"]], set()
    while todo:
        nid = todo.pop()
        if nid in seen:
            continue
        seen.add(nid)
        node = nodes[nid]
        if "ending" in node and nid == model_end:
            return False
        todo += [c["to"] for c in node.get("choices") or []] + [b["to"] for b in node.get("random") or []]
    return True


def _walk_endings(sc: dict):
    """Every path (choices in file order, all random branches): (penalised choices taken, ending, flags)."""
    nodes = sc["nodes"]
    stack = [(sc["start"], frozenset(), ())]
    while stack:
        nid, flags, penalised = stack.pop()
        node = nodes[nid]
        if "ending" in node:
            yield penalised, nid, flags
            continue
        for branch in node.get("random") or []:
            stack.append((branch["to"], flags, penalised))
        for c in node.get("choices") or []:
            if set(c.get("requires") or []) - flags or set(c.get("excludes") or []) & flags:
                continue
            bad = min((c.get("scores") or {}).values(), default=0) < 0 and not c.get("critical")
            stack.append((c["to"], flags | set(c.get("set") or []), penalised + ((c,) if bad else ())))


@pytest.mark.parametrize("sid", sorted(ALL))
def test_a_single_mistake_is_named_by_the_ending_text_shown(sid: str) -> None:
    """On a path with exactly one penalised choice, the ending's wording that shows is keyed on that
    choice's own flag, not only on the shared `slipped` flag or on an unscored choice's flag."""
    sc = ALL[sid]
    for penalised, end, flags in _walk_endings(sc):
        variants = sc["nodes"][end].get("variants") or []
        if len(penalised) != 1 or not variants:
            continue
        shown = next((v for v in variants if set(v["when"]) <= flags), None)
        own = set(penalised[0].get("set") or []) - {"slipped"}
        assert shown is not None and own & set(shown["when"]), \
            f"{sid}: after `{penalised[0]['id']}` the ending `{end}` shows {shown and shown['when']}"
