"""``iwp-trainer export xapi --lrs URL`` against a real LRS: Ralph, started here (tests/ralph_lrs.py).

Statements are sent through the command, read back through Ralph's own GET API and compared field
by field with what ``export xapi --out`` writes; sending again stores nothing twice and says so;
``--since`` sends only what is new; bad credentials give one line and exit 1; a flaky proxy in
front of Ralph (503, then a dropped connection) is ridden out by the retries.
"""

from __future__ import annotations

import http.server
import json
import os
import pty
import subprocess
import sys
import threading
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from iwp_trainer.cli import main
from iwp_trainer.store import ProgressStore
from ralph_lrs import PASSWORD, USER, Ralph, start_ralph


@pytest.fixture(scope="module")
def ralph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ralph]:
    yield from start_ralph(tmp_path_factory.mktemp("ralph"))


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IWP_TRAINER_LRS_USER", USER)
    monkeypatch.setenv("IWP_TRAINER_LRS_PASSWORD", PASSWORD)


class Clock:
    """The store's clock, moved by the test, so ``--since`` has a past and a present."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3)


def record(path: Path, clock: Callable[[], datetime], learner: str, finish: bool = True,
           decisions: int = 2) -> int:
    store = ProgressStore.open(path, clock=clock)
    try:
        attempt = store.start_attempt(learner, "s1", "Scenario one", "f" * 64, "practice", 7,
                                      {"discretion": 2 * decisions, "accuracy": decisions})
        for seq in range(1, decisions + 1):
            store.record_decision(attempt, seq, f"n{seq}", "good" if seq % 2 else "weak", f"Choice {seq}",
                                  {"discretion": 2, "accuracy": seq % 2}, bool(seq % 2), False, ["faq-1"])
        if finish:
            store.finish_attempt(attempt, True, "end", {"discretion": (2 * decisions, 2 * decisions),
                                                         "accuracy": (decisions // 2, decisions)})
        return attempt
    finally:
        store.close()


def exported(db: Path, tmp_path: Path) -> list[dict[str, Any]]:
    out = tmp_path / "statements.jsonl"
    assert main(["--db", str(db), "export", "xapi", "--out", str(out)]) == 0
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def push(db: Path, url: str, *extra: str) -> int:
    return main(["--db", str(db), "export", "xapi", "--lrs", url, *extra])


def by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in items}


def in_lrs(ralph: Ralph, sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What Ralph holds for the attempts of ``sent`` (one GET per registration, via its API)."""
    found: list[dict[str, Any]] = []
    for registration in sorted({s["context"]["registration"] for s in sent}):
        found.extend(ralph.statements(registration=registration))
    return found


def test_push_stores_every_statement_as_exported_field_by_field(ralph: Ralph, tmp_path: Path, credentials: None,
                                                                capsys: pytest.CaptureFixture) -> None:
    db = tmp_path / "p.sqlite3"
    clock = Clock(T0)
    record(db, clock, "Ann")
    record(db, clock, "Ben", finish=False, decisions=1)
    sent = exported(db, tmp_path)
    assert len(sent) == 5 + 2
    capsys.readouterr()

    assert push(db, ralph.url) == 0
    out = capsys.readouterr().out
    assert f"Sent 7 statements to {ralph.url}statements" in out and "7 new, 0 already there" in out

    stored = by_id(in_lrs(ralph, sent))
    assert sorted(stored) == sorted(s["id"] for s in sent)
    for statement in sent:
        copy = stored[statement["id"]]
        for key, value in statement.items():
            if key == "timestamp":  # the same instant, however the LRS spells it
                assert datetime.fromisoformat(copy[key].replace("Z", "+00:00")) == datetime.fromisoformat(value)
            else:
                assert copy[key] == value, (statement["id"], key)
        assert copy["stored"] and copy["authority"]["account"]["name"] == "iwp-tests"  # added by the LRS


def test_sending_again_stores_nothing_twice_and_says_so(ralph: Ralph, tmp_path: Path, credentials: None,
                                                        capsys: pytest.CaptureFixture) -> None:
    db = tmp_path / "p.sqlite3"
    clock = Clock(T0)
    for name in ("Cat", "Dev", "Eve"):
        record(db, clock, name, decisions=3)
    sent = exported(db, tmp_path)
    capsys.readouterr()
    assert push(db, ralph.url, "--batch-size", "4") == 0
    assert "18 new, 0 already there" in capsys.readouterr().out

    assert push(db, ralph.url, "--batch-size", "4") == 0
    again = capsys.readouterr().out
    assert "Sent 18 statements" in again and "0 new, 18 already there" in again
    held = in_lrs(ralph, sent)
    assert len(held) == 18 and len({s["id"] for s in held}) == 18

    # A batch mixing new and old statements: each counted as what it is.
    record(db, clock, "Fay", decisions=1)
    assert push(db, ralph.url, "--batch-size", "100") == 0
    assert "Sent 22 statements" in (mixed := capsys.readouterr().out) and "4 new, 18 already there" in mixed


def test_since_sends_only_what_was_recorded_after_the_last_push(ralph: Ralph, tmp_path: Path, credentials: None,
                                                                capsys: pytest.CaptureFixture) -> None:
    db = tmp_path / "p.sqlite3"
    clock = Clock(T0)
    record(db, clock, "Gus")  # 5 statements at T0
    clock.now = T0 + timedelta(minutes=30)
    open_attempt = record(db, clock, "Hal", finish=False, decisions=1)  # 2 at T0 + 30 min

    assert push(db, ralph.url, "--since") == 0  # nothing remembered yet: everything goes
    first = capsys.readouterr()
    assert "No complete push" in first.err and "Sent 7 statements" in first.out and "7 new, 0 already" in first.out

    assert push(db, ralph.url, "--since") == 0
    assert "Nothing new to send" in capsys.readouterr().out

    clock.now = T0 + timedelta(hours=2)  # later: Hal finishes, Ivy starts
    store = ProgressStore.open(db, clock=clock)
    store.record_decision(open_attempt, 2, "n2", "weak", "Choice 2", {"discretion": 2, "accuracy": 0}, False,
                          False, [])
    store.finish_attempt(open_attempt, False, "end", {"discretion": (4, 4), "accuracy": (1, 2)})
    store.close()
    record(db, clock, "Ivy", finish=False, decisions=1)

    assert push(db, ralph.url, "--since") == 0
    out = capsys.readouterr().out
    # Hal's answered, completed and failed; Ivy's attempted and answered. Nothing older.
    assert "Sent 5 statements" in out and "5 new, 0 already there" in out
    sent = exported(db, tmp_path)
    assert len(sent) == 7 + 5
    assert sorted(s["id"] for s in in_lrs(ralph, sent)) == sorted(s["id"] for s in sent)

    state = json.loads(Path(os.environ["IWP_TRAINER_LRS_STATE"]).read_text())
    [entry] = state["pushes"]
    assert entry["lrs"] == ralph.url + "statements" and entry["new"] == 5
    newest = max(datetime.fromisoformat(s["timestamp"]) for s in sent)
    assert datetime.fromisoformat(entry["through"]) == newest
    # The margin's statements are remembered as confirmed, so they are not sent again.
    assert sorted(entry["recent_ids"]) == sorted(s["id"] for s in sent if datetime.fromisoformat(s["timestamp"])
                                                 >= newest - timedelta(minutes=15))

    # A statement saved late, with a time inside the margin (another coach's clock a little
    # behind), is still sent by the next --since.
    clock.now = newest - timedelta(minutes=5)
    record(db, clock, "Jay", finish=False, decisions=1)
    assert push(db, ralph.url, "--since") == 0
    assert "Sent 2 statements" in (late := capsys.readouterr().out) and "2 new, 0 already there" in late

    # A push of everything is still possible, and stores nothing twice.
    assert push(db, ralph.url) == 0
    assert "0 new, 14 already there" in capsys.readouterr().out


def test_credentials_from_lrs_toml(ralph: Ralph, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    db = tmp_path / "p.sqlite3"
    record(db, Clock(T0), "Jo", decisions=1)
    config = Path(os.environ["IWP_TRAINER_LRS_CONFIG"])
    config.write_text(f'[[lrs]]\nurl = "{ralph.url}"\nuser = "{USER}"\npassword = "{PASSWORD}"\n')
    config.chmod(0o644)
    assert push(db, ralph.url) == 1
    err = capsys.readouterr().err
    assert "others can read it" in err and "chmod 600" in err and PASSWORD not in err
    config.chmod(0o600)
    assert push(db, ralph.url) == 0
    assert "4 new" in capsys.readouterr().out


def test_bad_credentials_are_one_clear_line_and_exit_1(ralph: Ralph, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture) -> None:
    db = tmp_path / "p.sqlite3"
    record(db, Clock(T0), "Kim")
    monkeypatch.setenv("IWP_TRAINER_LRS_USER", USER)
    monkeypatch.setenv("IWP_TRAINER_LRS_PASSWORD", "not-the-password-zz9")
    assert push(db, ralph.url) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "HTTP 401" in lines[0] and "IWP_TRAINER_LRS_USER" in lines[0], captured.err
    assert "not-the-password-zz9" not in captured.err + captured.out and "Traceback" not in captured.err
    assert captured.out == ""
    assert not Path(os.environ["IWP_TRAINER_LRS_STATE"]).exists()  # a failed push is not remembered


class FlakyProxy(http.server.ThreadingHTTPServer):
    """In front of Ralph: answers 503, then drops the connection unanswered, then forwards."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.failures = ["503", "drop"]
        self.seen: list[str] = []
        super().__init__(("127.0.0.1", 0), _ProxyHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/xAPI/"


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    server: FlakyProxy

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
        failure = self.server.failures.pop(0) if self.server.failures else None
        self.server.seen.append(f"{self.command} {failure or 'forwarded'}")
        if failure == "503":
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if failure == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        base = self.server.upstream.split("/xAPI")[0]
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        request = urllib.request.Request(base + self.path, data=body, method=self.command, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status, data = answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            status, data = exc.code, exc.read()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = _forward


def test_server_errors_and_dropped_connections_are_retried(ralph: Ralph, tmp_path: Path, credentials: None,
                                                           capsys: pytest.CaptureFixture) -> None:
    db = tmp_path / "p.sqlite3"
    record(db, Clock(T0), "Lou")
    sent = exported(db, tmp_path)
    capsys.readouterr()
    proxy = FlakyProxy(ralph.url)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        assert push(db, proxy.url) == 0
    finally:
        proxy.shutdown()
        proxy.server_close()
    captured = capsys.readouterr()
    assert proxy.seen == ["POST 503", "POST drop", "POST forwarded"]
    assert "Sent 5 statements" in captured.out and "5 new, 0 already there" in captured.out
    assert "in 3 requests" in captured.out
    assert sorted(s["id"] for s in in_lrs(ralph, sent)) == sorted(s["id"] for s in sent)


def test_a_terminal_sees_a_progress_bar_on_stderr_and_a_log_only_the_summary(ralph: Ralph, tmp_path: Path,
                                                                              credentials: None) -> None:
    db = tmp_path / "p.sqlite3"
    clock = Clock(T0)
    for name in ("Max", "Nia", "Oli"):
        record(db, clock, name, decisions=3)
    command = [sys.executable, "-m", "iwp_trainer", "--db", str(db), "export", "xapi", "--lrs", ralph.url,
               "--batch-size", "5"]
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL,
                              timeout=120)
        os.close(follower)
        follower = -1
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other side is closed: all read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)
    assert done.returncode == 0
    text = shown.decode()
    assert "\r[" in text and "] 0/3 attempts, 5 statements sent" in text
    assert "] 2/3 attempts, 15 statements sent" in text and "attempts, 18 statements sent" in text
    assert text.endswith("\r" + " " * len("[" + "#" * 30 + "] 3/3 attempts, 18 statements sent") + "\r")  # cleared
    assert "18 new, 0 already there" in done.stdout.decode()

    logged = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert logged.returncode == 0 and logged.stderr == ""  # no bar in a log
    assert "0 new, 18 already there" in logged.stdout


def test_an_lrs_that_cannot_start_fails_the_test_with_the_reason(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import ralph_lrs

    real = ralph_lrs._environment
    monkeypatch.setattr(ralph_lrs, "_environment",
                        lambda folder: {**real(folder), "RALPH_RUNSERVER_BACKEND": "no-such-backend"})
    with pytest.raises(pytest.fail.Exception, match="no-such-backend"):
        next(start_ralph(tmp_path / "broken"))
