"""One score: the result screen, the Practise list, Progress, `report` and the xAPI export show the
same number for the same attempt; and every screen copes with any number of dimensions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from iwp_trainer.cli import main
from iwp_trainer.reports import scenarios_report
from iwp_trainer.tui.screens.practise import PlayScreen, PractiseScreen, ResultScreen
from iwp_trainer.tui.screens.progress import ProgressScreen
from iwp_trainer.tui.widgets import ScoreBar
from iwp_trainer.xapi import statements

from tui_helpers import TUI_FIXTURES, ready, wait_for

SIX = ["discretion", "sanctions", "reallocation", "eligibility", "engagement", "communication"]

# Discretion 1 of 3 and full marks in the five others: the mean of the shares would be 89% and the
# share of all points 78%, but the one score is the weakest dimension's, 33%, as the pass mark reads it.
PARTIAL = """\
id: partial
title: "Partly right"
summary: "Gets one dimension only partly right."
level: new
dimensions: [discretion, sanctions, reallocation, eligibility, engagement, communication]
pass_mark: 0.7
shuffle: false
start: opening
nodes:
  opening:
    speaker: claimant
    say: "Can I claim my bus fare back?"
    choices:
      - id: a-full
        text: "Explain travel costs are not normally refunded, and when the Flexible Support Fund can be considered."
        to: second
        scores: {discretion: 3, eligibility: 1}
        cites: [travel-costs-refund]
      - id: a-part
        text: "Say travel costs are not normally refunded."
        to: second
        scores: {discretion: 1, eligibility: 1}
        cites: [travel-costs-refund]
  second:
    speaker: claimant
    say: "And if I miss one?"
    choices:
      - id: b-full
        text: "Explain she would only be sanctioned if she is not taking the agreed reasonable steps."
        to: end
        scores: {sanctions: 2, reallocation: 1, engagement: 1, communication: 1}
        cites: [when-sanction-applies]
      - id: b-none
        text: "Say a missed appointment means a sanction."
        to: end
        scores: {sanctions: -1}
        cites: [when-sanction-applies]
  end:
    speaker: narrator
    say: "Aisha leaves."
    ending: "Done"
"""


@pytest.fixture
def six_dimensions(tmp_path: Path) -> Path:
    """The app's fixture scenarios plus `partial`, with six dimensions declared."""
    folder = tmp_path / "scenarios"
    shutil.copytree(TUI_FIXTURES / "scenarios", folder)
    with (folder / "dimensions.yaml").open("a", encoding="utf-8") as handle:
        for dim in SIX[3:]:
            handle.write(f"{dim}:\n  name: {dim.capitalize()}\n  description: What {dim} means.\n")
    (folder / "partial.yaml").write_text(PARTIAL, encoding="utf-8")
    return folder


def shown(screen) -> str:
    return "\n".join(str(w.render()) for w in screen.query(Static))


async def test_the_same_attempt_shows_the_same_score_everywhere(make_app, six_dimensions: Path,
                                                                tmp_path: Path, capsys) -> None:
    app = make_app(scenarios=six_dimensions)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(app.screen, PractiseScreen))
        app.screen.select_scenario("partial")
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))
        await pilot.press("2", "1")  # a-part, b-full
        await wait_for(pilot, lambda: isinstance(app.screen, ResultScreen))
        result = app.screen.result
        assert result.score == pytest.approx(1 / 3) and not result.passed
        # 1. the end screen
        end = shown(app.screen)
        assert "FAIL" in end and "Score 33%" in end
        assert "weakest dimension's: Discretion 33%" in end
        bars = {bar.label: bar for bar in app.screen.query(ScoreBar)}
        assert list(bars) == [d.capitalize() for d in SIX]  # every dimension, in the scenario's order
        # 2. the Practise list
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, PractiseScreen))
        table = app.screen.query_one("#scenario-table", DataTable)
        assert table.get_row("partial")[3] == "FAIL 33%"
        # 3. Progress
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, ProgressScreen))
        await pilot.pause()
        row = app.screen.query_one("#attempts", DataTable).get_row_at(0)
        assert row[3] == "FAIL" and row[4].endswith(" 33%")
        progress_bars = {bar.label for bar in app.screen.query(ScoreBar)}
        assert progress_bars == {d.capitalize() for d in SIX}
        # 4. the trainers' report and 5. the xAPI export, read from the same database
        [report_row] = [r for r in scenarios_report(app.store).rows if r["scenario"] == "partial"]
        assert report_row["score"] == pytest.approx(result.score)
        assert set(SIX) <= set(report_row)
        [failed] = [s for s in statements(app.store.attempts()) if s["verb"]["display"]["en-GB"] == "failed"]
        assert failed["result"]["score"]["scaled"] == round(result.score, 4)
        assert failed["result"]["score"]["raw"] == 33
        dims = next(v for k, v in failed["result"]["extensions"].items() if k.endswith("/dimension-scores"))
        assert set(dims) == set(SIX)
    db = tmp_path / "progress.sqlite3"
    assert main(["--db", str(db), "report", "scenarios", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [r["score"] for r in payload["rows"] if r["scenario"] == "partial"] == [round(1 / 3, 4)]
    assert main(["--db", str(db), "report", "scenarios"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("partial"))
    assert line.split()[5:7] == ["0%", "33%"]  # scenario, title (2 words), attempts, passed, pass rate, score
