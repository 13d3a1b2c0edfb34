"""``iwp-trainer ask``: readable answers, plain refusals, JSON lines, errors without tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from iwp_trainer.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def good_kb(fixtures_dir: Path) -> Path:
    return fixtures_dir / "kb" / "good"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_answer_shows_title_body_source_and_related(capsys, good_kb: Path) -> None:
    code, out, err = _run(capsys, "--kb", str(good_kb), "ask", "How long does a sanction last in the trial?")
    assert code == 0
    assert out.startswith("How long does a sanction last in the trial?\n")
    assert "The normal Universal Credit sanctions process applies." in out
    assert "Source: IWP trial FAQ, section 6: Conditionality and Sanctions" in out
    assert "Related questions:" in out
    assert "  - Can trial claimants get their travel costs refunded?" in out
    assert "**" not in out


def test_glossary_terms_in_the_question_are_spelled_out(capsys, good_kb: Path) -> None:
    code, out, _ = _run(capsys, "--kb", str(good_kb), "ask", "can the FSF refund travel costs")
    assert code == 0
    assert out.splitlines()[0].endswith("Can trial claimants get their travel costs refunded?")
    assert "Terms in your question:\n  - FSF: Flexible Support Fund.\n" in out


def test_question_may_be_given_as_several_words(capsys, good_kb: Path) -> None:
    code, out, _ = _run(capsys, "--kb", str(good_kb), "ask", "travel", "costs", "refunded")
    assert code == 0 and out.splitlines()[0].endswith("Can trial claimants get their travel costs refunded?")


def test_no_confident_answer_says_so_and_points_to_people(capsys, shipped_kb: Path) -> None:
    code, out, _ = _run(capsys, "--kb", str(shipped_kb), "ask", "how much is child benefit for two children")
    assert code == 0
    assert out.startswith('No confident answer to "how much is child benefit for two children"')
    assert "Closest topics:" in out
    flat = " ".join(out.split())  # the advice is wrapped to the terminal width
    assert "line manager" in flat and "district support" in flat


def test_json_one_question(capsys, good_kb: Path) -> None:
    code, out, _ = _run(capsys, "--kb", str(good_kb), "ask", "--json", "--top", "2", "travel costs refunded")
    assert code == 0
    [line] = out.splitlines()
    record = json.loads(line)
    assert set(record) == {"question", "answered", "question_truncated", "outcome", "did_you_mean", "definition",
                           "answers"}
    assert record["question_truncated"] is False
    assert record["question"] == "travel costs refunded" and record["outcome"] in ("answer", "suggest")
    assert record["answered"] is (record["outcome"] == "answer")
    if record["outcome"] == "suggest":
        assert record["did_you_mean"] == {"id": "travel-costs", "title": record["answers"][0]["title"]}
    assert 1 <= len(record["answers"]) <= 2
    best = record["answers"][0]
    assert set(best) == {"id", "title", "body", "source", "score"}
    assert best["id"] == "travel-costs"
    assert best["source"] == "IWP trial FAQ, section 5: Conducting Interviews"
    assert best["body"].startswith("Travel costs will not normally be refunded.")
    scores = [a["score"] for a in record["answers"]]
    assert scores == sorted(scores, reverse=True)


def test_json_reads_stdin_one_question_per_line_in_order(tmp_path: Path, good_kb: Path) -> None:
    lines = ["travel costs refunded", "", "how long does a sanction last", "what's the weather in Leeds",
             'AND OR "( *', "x" * 10_000]
    data = ("\n".join(lines) + "\n").encode("utf-8") + b"caf\xe9 bad utf-8\n"
    env = {**os.environ, "IWP_TRAINER_INDEX": str(tmp_path / "index")}
    proc = subprocess.run([sys.executable, "-m", "iwp_trainer", "--kb", str(good_kb), "ask", "--json"],
                          input=data, capture_output=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    records = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]
    assert [r["question"] for r in records[:-1]] == lines[:-1] + ["x" * 2000]  # capped at 2,000 characters
    assert [r["question_truncated"] for r in records] == [False] * (len(lines) - 1) + [True, False]
    assert len(records) == len(lines) + 1
    assert [r["outcome"] in ("answer", "suggest") for r in records[:4]] == [True, False, True, False]
    assert records[0]["answers"][0]["id"] == "travel-costs"
    assert records[2]["answers"][0]["id"] == "sanction-length"
    assert records[-1]["question"].startswith("caf")
    assert b"Traceback" not in proc.stderr


_PEAK = ("import sys\nfrom iwp_trainer.cli import main\ncode = main(sys.argv[1:])\nsys.stdout.flush()\n"
         "peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
         "sys.stderr.write(f'peak-kb {peak}\\n')\nraise SystemExit(code)\n")


def _peak_memory_mb(argv: list[str], stdin: Path, env: dict) -> tuple[int, bytes, float]:
    """Run ``iwp-trainer ARGV`` on a file as stdin: exit status, output and its own peak memory (MB)."""
    with open(stdin, "rb") as feed:
        proc = subprocess.run([sys.executable, "-c", _PEAK, *argv], stdin=feed, capture_output=True, env=env,
                              timeout=120)
    peak = [line for line in proc.stderr.decode().splitlines() if line.startswith("peak-kb ")]
    return proc.returncode, proc.stdout, int(peak[-1].split()[1]) / 1024 if peak else float("inf")


def test_a_huge_question_line_is_capped_streamed_and_never_held(tmp_path: Path, good_kb: Path) -> None:
    """A 300 MB line used 1.2 GB and was echoed whole. Now the question is its first 2,000
    characters, the JSON says it was cut, and the rest of the line is read past, not kept."""
    env = {**os.environ, "IWP_TRAINER_INDEX": str(tmp_path / "index")}
    if not Path("/proc/self/status").exists():
        pytest.skip("peak memory is read from /proc")
    argv = ["--kb", str(good_kb), "ask", "--json"]
    small = tmp_path / "small.txt"
    small.write_bytes(b"travel costs refunded\n")
    code, _out, baseline = _peak_memory_mb(argv, small, env)
    assert code == 0
    huge = tmp_path / "huge.txt"
    with open(huge, "wb") as handle:
        handle.write("é".encode())
        for _ in range(1000):
            handle.write(b"travel costs refunded " * 1200)  # 26 MB on one line
        handle.write(b"\nhow long does a sanction last\n")
    code, out, peak = _peak_memory_mb(argv, huge, env)
    assert code == 0
    first, second = [json.loads(line) for line in out.decode("utf-8").splitlines()]
    assert first["question_truncated"] is True and len(first["question"]) == 2000
    assert first["question"].startswith("étravel costs refunded travel")
    assert first["answers"][0]["id"] == "travel-costs"
    assert second == {**second, "question": "how long does a sanction last", "question_truncated": False}
    assert len(out) < 20_000  # nothing echoed beyond the cap
    assert peak - baseline < 15, (baseline, peak)  # the 26 MB line was never held


def test_a_long_question_argument_is_capped_and_says_so(capsys, good_kb: Path) -> None:
    code, out, _ = _run(capsys, "--kb", str(good_kb), "ask", "--json", "travel costs refunded " + "y" * 5000)
    record = json.loads(out)
    assert code == 0 and record["question_truncated"] is True and len(record["question"]) == 2000
    code, out, _ = _run(capsys, "--kb", str(good_kb), "ask", "travel costs refunded " + "y" * 5000)
    assert "cut to its first 2,000 characters" in out


def test_missing_kb_is_an_error_without_traceback(capsys, tmp_path: Path) -> None:
    code, out, err = _run(capsys, "--kb", str(tmp_path / "nope"), "ask", "anything")
    assert code == 1 and out == ""
    assert "knowledge base folder not found" in err and "Traceback" not in err


def test_kb_without_valid_entries_is_an_error(capsys, tmp_path: Path) -> None:
    (tmp_path / "bad.md").write_text("no front matter\n", encoding="utf-8")
    code, _, err = _run(capsys, "--kb", str(tmp_path), "ask", "anything")
    assert code == 1
    assert f"{tmp_path / 'bad.md'}:1: error kb-front-matter" in err
    assert "no valid entries" in err


def test_kb_problems_are_warnings_and_valid_entries_still_answer(capsys, fixtures_dir: Path) -> None:
    broken = fixtures_dir / "kb" / "broken"
    code, out, err = _run(capsys, "--kb", str(broken), "ask", "--json", "travel costs refunded")
    assert code == 0
    assert json.loads(out)["answers"][0]["id"] == "travel-costs"
    assert "warning" in err
    assert f"{broken / 'bad-yaml.md'}:5: error kb-yaml" in err
    assert f"{broken / 'zz-duplicate.md'}:3: error kb-duplicate-id" in err


def test_top_must_be_positive(capsys, good_kb: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--kb", str(good_kb), "ask", "--json", "--top", "0", "x"])
    assert exc.value.code == 2
    assert "must be 1 or more" in capsys.readouterr().err


def test_unwritable_index_is_an_error_without_traceback(capsys, tmp_path: Path, good_kb: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    code, _, err = _run(capsys, "--kb", str(good_kb), "--index", str(blocker / "index"), "ask", "travel")
    assert code == 1 and "cannot build the search index" in err and "Traceback" not in err


def test_cold_ask_through_the_entry_point(tmp_path: Path, shipped_kb: Path) -> None:
    env = {**os.environ, "IWP_TRAINER_INDEX": str(tmp_path / "index")}
    cmd = [sys.executable, "-m", "iwp_trainer", "ask", "can the FSF pay for travel to a WSR?"]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert first.stdout == second.stdout
    assert "Flexible Support Fund" in second.stdout
    assert "Source: IWP trial FAQ, section 5: Conducting Interviews" in second.stdout
