"""The scenario commands through the real entry point: check, play and graph."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from iwp_trainer.cli import main

FIX = Path(__file__).parent / "fixtures" / "scenarios"
VALID = FIX / "valid"
BROKEN = FIX / "broken"
KB = FIX / "kb"
BASE = ["--kb", str(KB), "--scenarios", str(VALID)]


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([*BASE, *args])
    out, err = capsys.readouterr()
    return code, out, err


# -- check ------------------------------------------------------------------------------------------


def test_check_clean_folder_exits_zero(capsys) -> None:
    code, out, err = cli(capsys, "check", "--strict", "--no-quality")
    assert code == 0, err
    assert err == ""
    assert "checked 2 scenario files and 3 knowledge-base entries: 0 errors, 0 warnings" in out


def test_check_reports_file_line_code_and_exits_one(capsys) -> None:
    code, out, err = cli(capsys, "check", str(BROKEN / "sc201-missing-target.yaml"))
    assert code == 1
    assert err.splitlines() == [
        f"{BROKEN / 'sc201-missing-target.yaml'}:14:13: error SC201: `to: doen` in choice `explain-rat` "
        "names no node (did you mean `done`?)"]
    assert "1 error" in out


def test_check_warnings_fail_only_with_strict(capsys) -> None:
    path = str(BROKEN / "sc204-unreachable.yaml")
    code, _out, err = cli(capsys, "check", path)
    assert code == 0 and "warning SC204" in err
    code, _out, err = cli(capsys, "check", "--strict", path)
    assert code == 1 and "warning SC204" in err


def test_check_runs_scenario_tests(capsys) -> None:
    code, _out, err = cli(capsys, "check", str(BROKEN / "sc401-test-fails.yaml"))
    assert code == 1
    assert f"{BROKEN / 'sc401-test-fails.yaml'}:21:5: error SC401: test `best path` failed" in err


def test_check_whole_folder_includes_kb_problems(tmp_path: Path, capsys) -> None:
    kb = tmp_path / "kb"
    shutil.copytree(KB, kb)
    (kb / "broken.md").write_text("no front matter here\n", encoding="utf-8")
    code = main(["--kb", str(kb), "--scenarios", str(VALID), "check"])
    _out, err = capsys.readouterr()
    assert code == 1
    assert str(kb / "broken.md") in err


def test_check_json_is_one_stable_object(capsys) -> None:
    code, out, _err = cli(capsys, "check", "--no-quality", "--json", str(BROKEN / "sc301-unknown-dimension.yaml"),
                          str(VALID / "tiny.yaml"))
    assert code == 1
    payload = json.loads(out)
    assert payload["ok"] is False
    assert (payload["files"], payload["errors"], payload["warnings"]) == (2, 1, 0)
    (diag,) = payload["diagnostics"]
    assert diag["code"] == "SC301" and diag["line"] == 5 and diag["hint"] == "did you mean `sanctions`?"
    assert set(diag) == {"file", "line", "col", "severity", "code", "message", "hint"}


def test_check_a_folder_of_broken_files_reports_each(capsys) -> None:
    code, _out, err = cli(capsys, "check", "--no-quality", str(BROKEN))
    assert code == 1
    files = {Path(line.split(":", 1)[0]).name for line in err.splitlines()}
    # every broken fixture is reported, except sc211's, which only breaks under a lowered limit
    assert files == {p.name for p in BROKEN.glob("sc*.yaml")} - {"sc211-too-many-flags.yaml"}


def test_check_a_shell_glob_including_dimensions_yaml(tmp_path: Path, capsys) -> None:
    files = sorted(str(p) for p in VALID.glob("*.yaml"))
    assert any(f.endswith("dimensions.yaml") for f in files)
    code, out, err = cli(capsys, "check", "--strict", "--no-quality", *files)
    assert code == 0, err
    assert "checked 2 scenario files" in out
    bad = tmp_path / "dimensions.yaml"
    bad.write_text("sanctions:\n  name: Sanctions\n", encoding="utf-8")
    code, _out, err = cli(capsys, "check", str(bad))
    assert code == 1 and f"{bad}:1:1: error SC102" in err


def test_check_missing_path_is_a_usage_error(capsys) -> None:
    code, _out, err = cli(capsys, "check", "no/such/file.yaml")
    assert code == 2
    assert "no such file or folder: no/such/file.yaml" in err


def test_check_via_subprocess_never_shows_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"id: !!python/object/apply:os.system ['echo pwned']\n")
    result = subprocess.run([sys.executable, "-m", "iwp_trainer", *BASE, "check", str(bad)],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{bad}:1:5: error SC004" in result.stderr
    assert "pwned" not in result.stdout


# -- play -------------------------------------------------------------------------------------------


def test_play_prints_the_debrief(capsys) -> None:
    code, out, err = cli(capsys, "play", "group-swap", "--choose", "move-her")
    assert code == 0, err
    assert "Dana: I've read the letter. Can you put me in the other group?" in out
    assert "You: Move her to the control group since she works long shifts." in out
    assert "you chose `move-her` (CRITICAL)" in out
    assert "Best here: `ask-why`" in out
    # why the choice scored as it did, why the best was better, and the source sentence behind it
    assert "Points: reallocation -2\n   Why: Coaches have no discretion to reallocate." in out
    assert "Why it is better (no points): it scores nothing itself, but leads to the most points" in out
    assert ("Source: Can I move a claimant between the trial and control groups? "
            "(IWP trial FAQ, section 5: Conducting Interviews)") in out
    assert "     | No. Allocation to the control or trial group must be dictated by the Random" in out
    assert "Ending: Reallocated (moved-end)" in out
    assert "Result: NOT PASSED (a critical choice was taken)" in out


def test_play_json_is_stable(capsys) -> None:
    path = "ask-why,explain-process,ask-why,reassure,normal-process"
    code, out, _err = cli(capsys, "play", "group-swap", "--choose", path, "--seed", "4", "--json")
    assert code == 0
    payload = json.loads(out)
    assert set(payload) == {"scenario", "title", "seed", "path", "result", "debrief", "transcript", "available"}
    assert payload["path"] == path.split(",")
    assert payload["seed"] == 4
    result = payload["result"]
    assert result["passed"] is True
    assert result["scores"]["sanctions"] == {"earned": 3, "best": 3, "fraction": 1.0}
    assert [d["points"]["sanctions"] for d in payload["debrief"]] == [0, 1, 0, 0, 2]
    assert payload["debrief"][3]["cites"][0]["citation"] == "IWP trial FAQ, section 5: Conducting Interviews"
    code, again, _err = cli(capsys, "play", "group-swap", "--choose", path, "--seed", "4", "--json")
    assert again == out


def test_play_by_file_path(capsys) -> None:
    code, out, _err = cli(capsys, "play", str(VALID / "tiny.yaml"), "--choose", "refer")
    assert code == 0
    assert "reallocation: 1/2 (50%)" in out


def test_play_unknown_scenario_suggests(capsys) -> None:
    code, out, err = cli(capsys, "play", "group-swp", "--choose", "x")
    assert code == 1 and out == ""
    assert "unknown scenario `group-swp`" in err and "did you mean `group-swap`?" in err


def test_play_unknown_scenario_with_nothing_close_lists_the_valid_ids(capsys) -> None:
    code, out, err = cli(capsys, "play", "no-such")
    assert code == 1 and out == ""
    known = sorted(p.stem for p in VALID.glob("*.yaml") if p.name != "dimensions.yaml")
    assert f"unknown scenario `no-such` in {VALID}; the scenarios are: {', '.join(known)}" in err
    code, _out, err = cli(capsys, "graph", "no-such")
    assert code == 1 and "the scenarios are: " + ", ".join(known) in err


def test_check_summary_counts_kb_entries_too(tmp_path: Path, capsys) -> None:
    code, out, _err = cli(capsys, "check", str(KB))
    assert "checked 3 knowledge-base entries: 0 errors, 0 warnings" in out
    code, out, _err = cli(capsys, "check", str(VALID / "group-swap.yaml"), str(sorted(KB.glob("*.md"))[0]))
    assert "checked 1 scenario file and 1 knowledge-base entry:" in out
    code, out, _err = cli(capsys, "check", "--json")
    assert json.loads(out)["kb_entries"] == 3


def test_play_unknown_choice_suggests(capsys) -> None:
    code, _out, err = cli(capsys, "play", "group-swap", "--choose", "ask-why,reasure")
    assert code == 1
    assert "step 2: choice `reasure` is not available at node `worries`" in err
    assert "did you mean `reassure`?" in err


def test_play_broken_scenario_shows_its_errors(capsys) -> None:
    code, _out, err = cli(capsys, "play", str(BROKEN / "sc201-missing-target.yaml"), "--choose", "x")
    assert code == 1
    assert "error SC201" in err and "has errors" in err


def test_play_unfinished_path_says_where_it_stopped(capsys) -> None:
    code, out, _err = cli(capsys, "play", "group-swap", "--choose", "ask-why")
    assert code == 0
    assert "Not finished: the path stops at `worries`" in out


# -- graph ------------------------------------------------------------------------------------------


def test_graph_defaults_to_mermaid_and_offers_dot(capsys) -> None:
    code, out, _err = cli(capsys, "graph", "group-swap")
    assert code == 0 and "flowchart TD" in out and "CRITICAL move-her" in out
    code, out, _err = cli(capsys, "graph", "group-swap", "--format", "dot")
    assert code == 0 and out.startswith('digraph "group-swap"')


def test_graph_labels_and_colours_endings_by_outcome(capsys) -> None:
    from iwp_trainer.graph import OUTCOME_COLOURS, ending_outcomes
    from iwp_trainer.scenario_loader import load_dimensions, load_scenario_file

    dims, _ = load_dimensions(VALID / "dimensions.yaml")
    scenario, _ = load_scenario_file(VALID / "group-swap.yaml", dims, None)
    outcomes = ending_outcomes(scenario)
    assert "fail" in outcomes.values() and set(outcomes.values()) & {"pass", "mixed"}
    code, mermaid, _err = cli(capsys, "graph", "group-swap")
    code, dot, _err = cli(capsys, "graph", "group-swap", "--format", "dot")
    words = {"pass": "ending (pass)", "fail": "ending (fail)", "mixed": "ending (pass or fail)"}
    for node_id, outcome in outcomes.items():
        node = scenario.nodes[node_id]
        fill, _stroke = OUTCOME_COLOURS[outcome]
        assert f"{node_id}<br/>{words[outcome]}: {node.ending}" in mermaid
        assert f"classDef ending_{outcome} fill:{fill}" in mermaid
        assert f'"{node_id}\\n{words[outcome]}: {node.ending}"' in dot
        line = next(ln for ln in dot.splitlines() if ln.strip().startswith(f'"{node_id}" ['))
        assert f'fillcolor="{fill}"' in line


def test_graph_bad_usage(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*BASE, "graph", "group-swap", "--format", "png"])
    assert exc.value.code == 2
    code, _out, err = cli(capsys, "graph", "nope")
    assert code == 1 and "unknown scenario `nope`" in err


def test_check_a_kb_entry_or_the_kb_folder_validates_it_as_knowledge_base(tmp_path: Path, capsys) -> None:
    """`check kb/x.md` or `check kb/` must not parse Markdown (or the glossary) as a scenario."""
    kb = tmp_path / "kb"
    shutil.copytree(KB, kb)
    good = sorted(kb.glob("*.md"))[0]
    code, out, err = cli(capsys, "--kb", str(kb), "check", str(good))
    assert code == 0, err
    assert "SC0" not in err and "SC1" not in err
    (kb / "broken.md").write_text("---\nid: broken\nquestion: Q?\n---\nBody\n", encoding="utf-8")
    (kb / "glossary.yaml").write_text("CET: conditionality earnings threshold\n", encoding="utf-8")
    for target in (kb / "broken.md", kb):
        code, out, err = cli(capsys, "--kb", str(kb), "check", str(target))
        assert code == 1
        assert "broken.md:2: error kb-missing-field" in err
        assert "SC" not in err and "glossary.yaml" not in err
    code, out, err = cli(capsys, "--kb", str(kb), "check", str(kb / "glossary.yaml"))
    assert code == 0 and "SC" not in err, err


def test_check_another_kb_folder_is_validated_as_knowledge_base(tmp_path: Path, capsys) -> None:
    other = tmp_path / "kb-copy"
    shutil.copytree(KB, other)
    (other / "broken.md").write_text("no front matter here\n", encoding="utf-8")
    code, out, err = cli(capsys, "check", str(other))
    assert code == 1 and "broken.md:1: error kb-front-matter" in err and "SC" not in err, err


def test_play_and_graph_say_what_is_wrong_with_the_reference(tmp_path: Path, capsys) -> None:
    code, out, err = cli(capsys, "play", str(tmp_path), "--choose", "x")
    assert code == 1 and f"{tmp_path} is a folder" in err and "no such" not in err
    code, out, err = cli(capsys, "--scenarios", str(tmp_path / "missing"), "graph", "group-swap")
    assert code == 1 and f"scenarios folder not found: {tmp_path / 'missing'}" in err
    code, out, err = cli(capsys, "graph", str(VALID / "dimensions.yaml"))
    assert code == 1 and "scoring dimensions, not a scenario" in err and "SC102" not in err


def test_play_shows_the_ending_variant_that_fits_the_path(capsys) -> None:
    tui = Path(__file__).parent / "fixtures" / "tui"
    base = ["--kb", str(tui / "kb"), "--scenarios", str(tui / "scenarios")]
    variant = "Aisha leaves knowing what is expected of her, with a refund the guidance did not support."
    assert main([*base, "play", "fare", "--choose", "refund-anyway,agreed-steps"]) == 0
    out = capsys.readouterr().out
    assert " ".join(out.split()).count(variant) == 2  # the transcript and under the ending
    assert main([*base, "play", "fare", "--choose", "not-normally,agreed-steps", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["result"]["ending_text"] == "Aisha leaves knowing what is expected of her."
    assert payload["transcript"][-1]["text"] == payload["result"]["ending_text"]


# -- check: assessment quality ----------------------------------------------------------------------

QUALITY = FIX / "quality"


def _unshuffled_copy(tmp_path: Path) -> Path:
    """The clean quality fixture with `shuffle: false`: always picking the first option passes."""
    folder = tmp_path / "scenarios"
    folder.mkdir()
    shutil.copy(QUALITY / "dimensions.yaml", folder)
    text = (QUALITY / "clean.yaml").read_text(encoding="utf-8")
    (folder / "clean.yaml").write_text(text.replace("pass_mark: 0.7", "pass_mark: 0.7\nshuffle: false"),
                                       encoding="utf-8")
    return folder


def test_check_quality_warns_and_strict_fails(tmp_path: Path, capsys) -> None:
    folder = _unshuffled_copy(tmp_path)
    assert main(["--kb", str(KB), "--scenarios", str(folder), "check", "--strict", "--no-quality"]) == 0
    capsys.readouterr()
    assert main(["--kb", str(KB), "--scenarios", str(folder), "check"]) == 0  # on by default: a warning
    out, err = capsys.readouterr()
    assert "clean.yaml:4: warning SC606: always choosing the first option shown passes 20 of 20 plays" in err
    assert "0 errors, 1 warning" in out
    assert main(["--kb", str(KB), "--scenarios", str(folder), "check", "--quality", "--strict"]) == 1


def test_check_gaming_prints_each_strategys_pass_rate(tmp_path: Path, capsys) -> None:
    folder = _unshuffled_copy(tmp_path)
    base = ["--kb", str(KB), "--scenarios", str(folder), "check", "--gaming"]
    assert main([*base, "--seeds", "5"]) == 0
    out, _err = capsys.readouterr()
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith("  ")}
    assert rows["scenario"] == ["longest", "shortest", "random", "first"]
    assert rows["clean"][3] == "100%" and rows["clean"][0] == "0%"
    assert "5 plays each" in out and "best option is the longest at 0 of 3 decisions" in out
    assert main([*base, "--json"]) == 0  # warnings only: still ok without --strict
    payload = json.loads(capsys.readouterr().out)
    assert payload["gaming"]["scenarios"]["clean"]["first"] == {"passes": 20, "plays": 20, "rate": 1.0}
    assert payload["gaming"]["decisions"] == 3 and payload["gaming"]["best_is_longest"] == 0
    assert [d["code"] for d in payload["diagnostics"]] == ["SC606"]


def test_check_seeds_must_be_positive(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*BASE, "check", "--gaming", "--seeds", "0"])
    assert exc.value.code == 2
    assert "must be 1 or more" in capsys.readouterr().err
