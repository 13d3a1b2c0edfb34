"""``iwp_trainer.lrs`` without a server: URLs, credentials, how answers are counted, retries and
back-off, the push record. The real round trip, against Ralph, is in test_lrs_push.py."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Mapping

import pytest

from iwp_trainer import lrs
from iwp_trainer.cli import main
from iwp_trainer.commands.export import ProgressBar

ENDPOINT = "https://lrs.example.org/xAPI/statements"
CREDS = lrs.Credentials("coach", "pw-9f8e7d", "the test")


@pytest.mark.parametrize("given", ["https://lrs.example.org/xAPI", "https://lrs.example.org/xAPI/",
                                   "https://LRS.example.org/xAPI/statements", "https://lrs.example.org/xAPI/statements/"])
def test_the_statements_resource_of_an_endpoint(given: str) -> None:
    assert lrs.statements_url(given) == ENDPOINT


@pytest.mark.parametrize("given, says", [
    ("https://coach:secret@lrs.example.org/xAPI/", "must not carry a user name or password"),
    ("ftp://lrs.example.org/", "not an http\\(s\\) URL"),
    ("https:///xAPI", "not an http\\(s\\) URL"),
    ("https://lrs.example.org:99999/", "not a valid URL"),
    ("https://lrs.example.org/xAPI/?x=1", "without a query"),
])
def test_bad_endpoints_are_refused_clearly(given: str, says: str) -> None:
    with pytest.raises(lrs.LRSError, match=says) as info:
        lrs.statements_url(given)
    assert "secret" not in str(info.value)


def test_credentials_from_the_environment_come_first(tmp_path: Path) -> None:
    env = {lrs.ENV_USER: "u", lrs.ENV_PASSWORD: "p"}
    found = lrs.load_credentials(ENDPOINT, tmp_path / "none.toml", env)
    assert (found.user, found.password) == ("u", "p") and "p" not in repr(found).replace("password", "")
    with pytest.raises(lrs.LRSError, match=f"{lrs.ENV_PASSWORD} is not set"):
        lrs.load_credentials(ENDPOINT, tmp_path / "none.toml", {lrs.ENV_USER: "u"})
    with pytest.raises(lrs.LRSError, match="no LRS credentials"):
        lrs.load_credentials(ENDPOINT, tmp_path / "none.toml", {})


def write_config(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_credentials_from_lrs_toml_match_the_endpoint(tmp_path: Path) -> None:
    config = write_config(tmp_path / "lrs.toml", """
[[lrs]]
url = "https://other.example.org/xAPI/"
user = "other"
password = "x"

[[lrs]]
url = "https://lrs.example.org/xAPI"
user = "coach"
password = "pw"
""")
    found = lrs.load_credentials(ENDPOINT, config, {})
    assert (found.user, found.password, found.source) == ("coach", "pw", str(config))
    with pytest.raises(lrs.LRSError, match="no \\[\\[lrs\\]\\] entry with that url"):
        lrs.load_credentials("https://third.example.org/statements", config, {})


@pytest.mark.parametrize("text, says", [
    ("[[lrs]]\nurl = 'https://lrs.example.org/xAPI'\nuser = 'c'\n", "needs a user and a password"),
    ("[[lrs]\n", "not valid TOML"),
    ("lrs = 3\n", "as an \\[\\[lrs\\]\\] table"),
    ("[[lrs]]\nuser = 'c'\n", "has no url"),
])
def test_a_broken_lrs_toml_is_one_clear_message(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(lrs.LRSError, match=says):
        lrs.load_credentials(ENDPOINT, write_config(tmp_path / "lrs.toml", text), {})


def test_an_lrs_toml_others_can_read_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path / "lrs.toml", "[[lrs]]\nurl='https://lrs.example.org/xAPI'\nuser='c'\n"
                                                 "password='pw-secret'\n", 0o640)
    with pytest.raises(lrs.LRSError, match="chmod 600") as info:
        lrs.load_credentials(ENDPOINT, config, {})
    assert "pw-secret" not in str(info.value)


class FakeLRS:
    """Answers from a script: each item a status (with ids for 200) or "drop"; then echoes."""

    def __init__(self, *script: Any, holds: Mapping[str, dict] | None = None) -> None:
        self.script = list(script)
        self.holds = dict(holds or {})
        self.calls: list[tuple[str, str, int]] = []

    def __call__(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]) -> lrs.Response:
        assert headers["X-Experience-API-Version"] == "1.0.3"
        assert headers["Authorization"].startswith("Basic ")
        batch = json.loads(body) if body else []
        self.calls.append((method, url, len(batch)))
        if method == "GET":
            found = self.holds.get(url.split("statementId=")[1])
            return lrs.Response(200, json.dumps(found).encode(), {}) if found else lrs.Response(404, b"", {})
        step = self.script.pop(0) if self.script else 200
        if step == "drop":
            raise lrs.ConnectionProblem("Connection reset by peer")
        if isinstance(step, tuple):
            status, extra = step
        else:
            status, extra = step, {}
        if status == 200:
            ids = [s["id"] for s in batch if s["id"] not in self.holds]
            for s in batch:
                self.holds.setdefault(s["id"], s)
            return lrs.Response(200, json.dumps(ids).encode(), {})
        return lrs.Response(status, json.dumps({"detail": "nope " + CREDS.password}).encode(), extra)


def statements(n: int, start: int = 0) -> list[dict[str, Any]]:
    base = datetime(2026, 3, 1, tzinfo=timezone.utc)
    return [{"id": f"id-{i}", "actor": {"name": "a"}, "verb": {"id": "v"}, "object": {"id": "o"},
             "timestamp": (base + timedelta(minutes=i)).isoformat()} for i in range(start, start + n)]


def client(fake: FakeLRS, slept: list[float] | None = None) -> lrs.LRSClient:
    return lrs.LRSClient(ENDPOINT, CREDS, transport=fake,
                         sleep=(slept.append if slept is not None else (lambda s: None)))


def test_batches_and_the_count_of_what_was_new() -> None:
    fake = FakeLRS(holds={"id-1": statements(1, 1)[0]})
    seen: list[int] = []
    result = lrs.push(client(fake), iter(statements(5)), batch_size=2, progress=lambda r: seen.append(r.sent))
    assert [c[2] for c in fake.calls] == [2, 2, 1]
    assert (result.sent, result.new, result.already, result.requests) == (5, 4, 1, 3)
    assert seen == [2, 4, 5]


def test_204_means_all_already_there() -> None:
    result = lrs.push(client(FakeLRS(204)), statements(3))
    assert (result.sent, result.new, result.already) == (3, 0, 3)


def test_5xx_and_no_answer_are_retried_with_growing_waits_then_given_up() -> None:
    slept: list[float] = []
    result = lrs.push(client(FakeLRS(503, "drop", 502), slept), statements(3))
    assert (result.new, result.retries, result.requests) == (3, 3, 4)
    assert len(slept) == 3 and slept[0] < slept[1] < slept[2] and slept[0] == pytest.approx(0.5, rel=0.15)

    slept.clear()
    with pytest.raises(lrs.LRSError, match="gave up after 5 tries") as info:
        lrs.push(client(FakeLRS(500, 500, 500, 500, 500, 200), slept), statements(3))
    assert len(slept) == 4 and CREDS.password not in str(info.value) and "***" in str(info.value)
    assert info.value.result.sent == 0  # type: ignore[attr-defined]


def test_retry_after_is_honoured_within_a_cap() -> None:
    slept: list[float] = []
    lrs.push(client(FakeLRS((429, {"Retry-After": "7"}), (503, {"Retry-After": "3600"})), slept), statements(1))
    assert slept == [7.0, lrs.RetryPolicy().retry_after_cap]


@pytest.mark.parametrize("status, says", [
    (401, "refused the user name or password from the test"), (403, "may not write statements"),
    (404, "no xAPI statements resource"), (400, "rejected the statements as invalid"),
    (302, "redirects"), (422, "refused the statements \\(HTTP 422"),
])
def test_a_4xx_stops_at_once_with_one_clear_line(status: int, says: str) -> None:
    fake = FakeLRS(status)
    with pytest.raises(lrs.LRSError, match=says) as info:
        lrs.push(client(fake), statements(3))
    assert len(fake.calls) == 1 and "\n" not in str(info.value) and CREDS.password not in str(info.value)


def test_too_large_a_batch_is_split() -> None:
    fake = FakeLRS(413, 413)
    result = lrs.push(client(fake), statements(4), batch_size=4)
    assert [c[2] for c in fake.calls] == [4, 2, 1, 1, 2] and result.new == 4


def test_a_409_batch_goes_one_by_one_and_looks_up_what_is_refused() -> None:
    same, different = statements(2)
    different_copy = {**different, "verb": {"id": "other"}}
    fake = FakeLRS(409, 409, 409, holds={"id-0": same, "id-1": different_copy})
    result = lrs.push(client(fake), statements(3), batch_size=3)
    assert (result.sent, result.new, result.already, result.conflicts) == (3, 1, 1, ["id-1"])
    assert [c[0] for c in fake.calls] == ["POST", "POST", "GET", "POST", "GET", "POST"]


def test_same_statement_ignores_what_an_lrs_adds_and_how_it_spells_time() -> None:
    sent = statements(1)[0]
    stored = {**sent, "timestamp": sent["timestamp"].replace("+00:00", "Z"), "stored": "x", "authority": {},
              "version": "1.0.0"}
    assert lrs.same_statement(sent, stored)
    assert not lrs.same_statement(sent, {**stored, "result": {"success": False}})


def test_the_push_record_keeps_the_newest_time_per_scope(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "lrs-pushes.json"
    state = lrs.PushState(path)
    a = lrs.PushScope(ENDPOINT, "postgresql://coach:hunter2@db/iwp", "https://x/xapi")
    b = lrs.PushScope(ENDPOINT, "/p.sqlite3", "https://x/xapi", learner="Ann")
    t1 = datetime(2026, 3, 1, tzinfo=timezone.utc)
    state.record(a, t1, lrs.PushResult(ENDPOINT, sent=3, new=3))
    state.record(a, t1 - timedelta(days=1), lrs.PushResult(ENDPOINT))  # never goes back
    state.record(b, t1 + timedelta(days=1), lrs.PushResult(ENDPOINT))
    again = lrs.PushState(path)
    assert again.through(a) == t1 and again.through(b) == t1 + timedelta(days=1) and not again.problem
    assert "hunter2" not in path.read_text() and len(again.entries) == 2

    path.write_text("{not json")
    broken = lrs.PushState(path)
    assert broken.problem.startswith(f"cannot read {path}") and broken.through(a) is None


def test_selection_keeps_a_margin_before_the_last_push_and_skips_what_was_confirmed() -> None:
    items = statements(60)  # one a minute
    through = datetime.fromisoformat(items[40]["timestamp"])
    attempts = [items[i:i + 7] for i in range(0, 60, 7)]  # "attempts" of 7 statements, built lazily
    kept = lrs.Selection(attempts, iter, floor=through - lrs.SINCE_MARGIN)
    assert [s["id"] for s in kept] == [f"id-{i}" for i in range(25, 60)]  # 15 minutes before, and after
    assert (kept.seen, kept.selected, kept.attempts_done) == (60, 35, 9)
    known = {f"id-{i}" for i in range(25, 41)}  # the margin's statements the LRS confirmed last time
    again = lrs.Selection(attempts, iter, floor=through - lrs.SINCE_MARGIN, known=known)
    assert [s["id"] for s in again] == [f"id-{i}" for i in range(41, 60)]


def test_selection_notes_the_newest_time_and_the_margin_before_it_in_any_order() -> None:
    items = statements(60)
    shuffled = [items[i] for i in (59, *range(0, 59))]  # the newest first: a later attempt's last decision
    everything = lrs.Selection([shuffled], iter)
    assert len(list(everything)) == 60
    assert everything.newest == datetime.fromisoformat(items[59]["timestamp"])
    assert everything.recent_ids() == sorted(f"id-{i}" for i in range(44, 60))


def test_progress_bar_line_and_silence_off_a_terminal(capsys: pytest.CaptureFixture) -> None:
    assert ProgressBar.line(50, 200, 300, width=10) == "[##........] 50/200 attempts, 300 statements sent"
    assert ProgressBar.line(1200, 1200, 7200, width=4) == "[####] 1,200/1,200 attempts, 7,200 statements sent"
    import sys
    bar = ProgressBar(sys.stderr)
    bar.show(1, 2, 5)
    bar.close()
    assert capsys.readouterr().err == ""  # not a terminal under pytest


def test_cli_refuses_credentials_in_the_url_and_since_alone_without_lrs(capsys: pytest.CaptureFixture,
                                                                       tmp_path: Path) -> None:
    assert main(["--db", str(tmp_path / "p.db"), "export", "xapi", "--lrs",
                 "https://coach:hunter2@lrs.example.org/xAPI/"]) == 1
    err = capsys.readouterr().err
    assert "must not carry a user name or password" in err and "hunter2" not in err
    assert main(["--db", str(tmp_path / "p.db"), "export", "xapi", "--since"]) == 2
    assert "--since without a date needs --lrs" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["export", "xapi", "--lrs", "https://lrs.example.org/", "--out", "x.jsonl"])
    assert info.value.code == 2
