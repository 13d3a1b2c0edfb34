"""Graph export: every node, choice (with id and points), ending and random branch is drawn,
and critical choices are visibly marked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from iwp_trainer.graph import render, to_dot, to_mermaid
from iwp_trainer.scenario import Choice, Node, Scenario
from iwp_trainer.scenario_loader import load_dimensions, load_scenario_file

FIX = Path(__file__).parent / "fixtures" / "scenarios"


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    dims, _ = load_dimensions(FIX / "valid" / "dimensions.yaml")
    loaded, diags = load_scenario_file(FIX / "valid" / "group-swap.yaml", dims, None)
    assert loaded is not None, diags
    return loaded


def mermaid_ids(text: str) -> dict[str, str]:
    """Mermaid node id -> scenario node id, read back from the node declarations."""
    found = {}
    for match in re.finditer(r"^    (n\d+)[\[\(\{]+\"(?:START )?([a-z0-9-]+)", text, re.M):
        found[match.group(1)] = match.group(2)
    return found


def test_mermaid_draws_every_node_and_choice(scenario: Scenario) -> None:
    text = to_mermaid(scenario)
    assert text.splitlines()[1] == "flowchart TD"
    ids = mermaid_ids(text)
    assert sorted(ids.values()) == sorted(scenario.nodes)
    back = {v: k for k, v in ids.items()}
    for node in scenario.nodes.values():
        for choice in node.choices:
            edge = re.search(rf"^    {back[node.id]} (-->|==>)\|\"[^\"]*\b{choice.id}\b[^\"]*\"\| {back[choice.to]}$",
                             text, re.M)
            assert edge, choice.id
    assert '"explain-rat (reallocation +2)"' in text
    assert '"tougher (sanctions -1)"' in text


def test_mermaid_marks_critical_endings_and_random(scenario: Scenario) -> None:
    text = to_mermaid(scenario)
    back = {v: k for k, v in mermaid_ids(text).items()}
    critical = [line for line in text.splitlines() if "==>" in line]
    assert len(critical) == 1 and "CRITICAL move-her" in critical[0]
    assert "linkStyle" in text and "stroke:#c62828" in text
    assert f'{back["check"]} -.->|"weight 3"| {back["calm-end"]}' in text
    assert f'{back["check"]} -.->|"weight 1"| {back["observed-end"]}' in text
    assert f'{back["calm-end"]}(["calm-end<br/>ending (pass or fail): Stays in the trial"])' in text
    assert re.search(rf"class [n0-9,]*{back['calm-end']}\b[n0-9,]* ending_mixed", text)
    assert f'{back["moved-end"]}(["moved-end<br/>ending (fail): Reallocated"])' in text
    assert re.search(rf"class {back['moved-end']} ending_fail", text)
    assert "classDef ending_fail fill:#ffebee,stroke:#c62828" in text
    assert "[if asked-worries]" in text  # conditions on choices are shown


def test_dot_draws_the_same_graph(scenario: Scenario) -> None:
    text = to_dot(scenario)
    assert text.startswith('digraph "group-swap" {') and text.rstrip().endswith("}")
    edges = re.findall(r'^    "([a-z0-9-]+)" -> "([a-z0-9-]+)"', text, re.M)
    expected = [(n.id, c.to) for n in scenario.nodes.values() for c in n.choices]
    expected += [(n.id, b.to) for n in scenario.nodes.values() for b in n.random]
    assert sorted(edges) == sorted(expected)
    critical = [line for line in text.splitlines() if "CRITICAL" in line]
    assert len(critical) == 1 and 'color="#c62828"' in critical[0] and "penwidth=3" in critical[0]
    assert '"check" -> "calm-end" [label="weight 3", style=dashed];' in text
    assert re.search(r'"moved-end" \[label="moved-end\\nending \(fail\): Reallocated", shape=doubleoctagon, '
                     r'style="filled", fillcolor="#ffebee", color="#c62828"', text)


def test_ending_outcomes_follow_the_engines_pass_rule(scenario: Scenario) -> None:
    from iwp_trainer.engine import play_path
    from iwp_trainer.graph import ending_outcomes

    outcomes = ending_outcomes(scenario)
    assert outcomes["moved-end"] == "fail"  # only reached through the critical choice
    for test in scenario.tests:  # every scripted path agrees with the outcome of its ending
        result = play_path(scenario, test.choose, test.seed)
        if result.finished:
            assert outcomes[result.ending_node] in (("pass", "mixed") if result.passed else ("fail", "mixed"))


def test_labels_are_escaped() -> None:
    nodes = {
        "s": Node("s", 'She said "no" | <maybe> & more', speaker="claimant",
                  choices=(Choice("c", "x", "e"),)),
        "e": Node("e", "End", ending='The "end"'),
    }
    scenario = Scenario("q", 'Quote "test"', "s", "new", ("a",), 0.7, "s", nodes)
    mermaid = to_mermaid(scenario)
    assert '"no"' not in mermaid and "#quot;no#quot;" in mermaid and "#124;" in mermaid
    dot = to_dot(scenario)
    assert '\\"no\\"' in dot and '\\"end\\"' in dot


def test_render_rejects_unknown_formats(scenario: Scenario) -> None:
    assert render(scenario, "dot") == to_dot(scenario)
    with pytest.raises(ValueError, match="mermaid, dot"):
        render(scenario, "png")


def test_a_node_with_variants_says_so() -> None:
    from iwp_trainer.graph import node_label
    from iwp_trainer.scenario import Node, Scenario, Variant

    end = Node("end", "Done.", ending="Done", variants=(Variant(("x",), "Done, after x."),))
    scenario = Scenario(id="t", title="T", summary="S", level="new", dimensions=("a",), pass_mark=0.7,
                        start="end", nodes={"end": end})
    assert node_label(scenario, end) == "end: ending: Done (+1 variant)"


def test_a_line_break_in_the_title_stays_inside_the_mermaid_comment(scenario: Scenario) -> None:
    import dataclasses

    hostile = dataclasses.replace(scenario, title="Swap\nclick n0 call alert()\r\n%%{init: {}}%%\x1b]0;t\x07")
    text = to_mermaid(hostile)
    lines = text.splitlines()
    assert lines[0] == "%% group-swap: Swap click n0 call alert() %%{init: {}}%%␛]0;t␇"
    assert lines[1] == "flowchart TD"
    assert not any(line.startswith("click") for line in lines)
    assert "\x1b" not in text


def test_mermaid_labels_escape_its_own_codes(scenario: Scenario) -> None:
    import dataclasses

    node_id = scenario.start
    node = dataclasses.replace(scenario.nodes[node_id], say='#quot; and "quotes" | pipes\nand a break')
    text = to_mermaid(dataclasses.replace(scenario, nodes={**scenario.nodes, node_id: node}))
    label = next(line for line in text.splitlines() if "START" in line)
    assert "#35;quot; and #quot;quotes#quot; #124; pipes and a break" in label


def test_dot_strings_escape_quotes_backslashes_breaks_and_controls(scenario: Scenario) -> None:
    import dataclasses

    text = to_dot(dataclasses.replace(scenario, title='a "b" \\l c\nd\x1b[2J\u202e'))
    assert 'label="a \\"b\\" \\\\l c\\nd␛[2J\ufffd";' in text.splitlines()[1]
    assert "\x1b" not in text and "\u202e" not in text
