"""A real Learning Record Store for the tests: Ralph (``ralph-malph``, test extra) with its
file-system back end, on 127.0.0.1, as a subprocess.

Its users file is made with Ralph's own ``ralph auth`` (bcrypt-hashed). The listening socket is
made here and handed to uvicorn (``--fd``), so there is no race for a free port. When Ralph cannot
be started, the test using it fails with the reason: it never skips.

One adjustment: Ralph 5.1.0's file-system LRS back end writes its one statements file with the
data back end's default "create" mode, so the second POST of new statements fails (HTTP 500,
"fs_lrs.jsonl already exists and overwrite is not allowed"). ``APP_MODULE`` sets that back end's
write mode to "append" before importing Ralph's app; its HTTP API (duplicate checks, 200/204/409,
GET) is Ralph's own, unchanged.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

USER = "coach-lrs"
PASSWORD = "correct horse battery staple"
START_TIMEOUT = 60.0  # seconds: Ralph imports FastAPI, pydantic and friends on a 2-core machine
APP_MODULE = """\
from ralph.backends.data.base import BaseOperationType
from ralph.backends.lrs.fs import FSLRSBackend

FSLRSBackend.default_operation_type = BaseOperationType.APPEND  # see tests/ralph_lrs.py

from ralph.api import app  # noqa: E402
"""


@dataclass
class Ralph:
    """A running Ralph LRS: its xAPI endpoint and a GET through its own API."""

    url: str  # the xAPI endpoint, e.g. http://127.0.0.1:PORT/xAPI/
    folder: Path
    log: Path
    process: subprocess.Popen
    started_in: float

    def get(self, path_and_query: str) -> tuple[int, Any]:
        """GET ``/xAPI/statements...`` (or any path) as the test user; (status, parsed JSON)."""
        base = self.url.split("/xAPI/")[0]
        request = urllib.request.Request(base + path_and_query, headers={
            "X-Experience-API-Version": "1.0.3",
            "Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                body = answer.read()
                return answer.status, json.loads(body) if body else None
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")

    def statements(self, **query: str) -> list[dict[str, Any]]:
        """Every statement matching ``query`` (xAPI GET parameters), following ``more`` links."""
        path = "/xAPI/statements?" + "&".join(f"{k}={urllib.request.quote(v)}" for k, v in query.items())
        found: list[dict[str, Any]] = []
        for _ in range(1000):
            status, data = self.get(path)
            assert status == 200, (status, data)
            found.extend(data["statements"])
            if not data.get("more"):
                return found
            path = data["more"]
        raise AssertionError("Ralph's 'more' links never ended")

    def tail(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-3000:]
        except OSError:
            return ""


def _environment(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RALPH_")}
    env.update({
        "RALPH_RUNSERVER_BACKEND": "fs",
        "RALPH_APP_DIR": str(folder / "app"),
        "RALPH_AUTH_FILE": str(folder / "auth.json"),
        "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(folder / "data"),
        "RALPH_SENTRY_DSN": "",
    })
    return env


def start_ralph(folder: Path) -> Iterator[Ralph]:
    """Start Ralph in ``folder``, yield it, stop it. Fails the test (with Ralph's output) when it
    cannot be started."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data").mkdir(exist_ok=True)
    env = _environment(folder)
    started = time.monotonic()
    made = subprocess.run(
        [sys.executable, "-m", "ralph", "auth", "--username", USER, "--password", PASSWORD, "--scope", "all",
         "--agent-ifi-account", "iwp-tests", "https://lrs-tests.invalid", "--write-to-disk"],
        env=env, cwd=folder, capture_output=True, text=True, timeout=120)
    if made.returncode != 0 or not (folder / "auth.json").is_file():
        pytest.fail(f"cannot make Ralph's users file with `ralph auth` (exit {made.returncode}): "
                    f"{(made.stderr or made.stdout)[-2000:]}")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    (folder / "ralph_fs_append.py").write_text(APP_MODULE, encoding="utf-8")
    log = folder / "ralph.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "ralph_fs_append:app", "--app-dir", str(folder),
             "--fd", str(listener.fileno()),
             "--log-level", "warning", "--no-access-log"],
            env=env, cwd=folder, stdout=out, stderr=subprocess.STDOUT, pass_fds=(listener.fileno(),))
    listener.close()
    ralph = Ralph(f"http://127.0.0.1:{port}/xAPI/", folder, log, process, 0.0)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"Ralph exited with {process.returncode} before answering: {ralph.tail()}")
            try:
                status, _ = ralph.get("/__heartbeat__")
                if status == 200:
                    break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"Ralph did not answer on 127.0.0.1:{port} within {START_TIMEOUT:.0f} s: {ralph.tail()}")
            time.sleep(0.2)
        ralph.started_in = time.monotonic() - started
        yield ralph
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
