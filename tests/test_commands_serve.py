"""`iwp-trainer serve`: the access token (Jupyter's convention) in front of textual-serve, and the
refusal to serve a non-loopback address without one. The real browser test is test_serve_browser.py."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from aiohttp import WSServerHandshakeError
from aiohttp.test_utils import TestClient, TestServer

from iwp_trainer import cli, web
from iwp_trainer.commands.serve import app_command

TOKEN = "s3cret-Token_value"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def client_for(token: str | None, public_url: str | None = None) -> TestClient:
    server = web.TrainerServer("true", host="127.0.0.1", port=8000, access=web.Access(token),
                               public_url=public_url, announce=lambda line: None)
    client = TestClient(TestServer(await server._make_app()))
    await client.start_server()
    return client


# --- the middleware ----------------------------------------------------------------------------

async def test_page_assets_and_websocket_without_the_token_get_403() -> None:
    client = await client_for(TOKEN)
    try:
        for path in ("/", "/?token=wrong", "/?token=", "/static/js/textual.js", "/download/x"):
            response = await client.get(path, allow_redirects=False)
            assert response.status == 403, path
            body = await response.text()
            assert "access token" in body and TOKEN not in body
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect("/ws")
        assert refused.value.status == 403
        response = await client.get("/", headers={"Authorization": "token wrong"})
        assert response.status == 403
        response = await client.get("/", cookies={web.COOKIE_NAME: "forged"})
        assert response.status == 403
    finally:
        await client.close()


async def test_the_first_good_token_sets_a_cookie_and_leaves_the_address() -> None:
    client = await client_for(TOKEN)
    try:
        response = await client.get(f"/?token={TOKEN}&fontsize=20", allow_redirects=False)
        assert response.status == 302
        assert response.headers["Location"] == "/?fontsize=20"  # the token is not kept in the address
        cookie = response.cookies[web.COOKIE_NAME]
        assert cookie.value and TOKEN not in cookie.value  # the cookie is derived, not the token
        assert cookie["httponly"] and cookie["samesite"] == "Strict"
        page = await client.get("/?fontsize=20")  # the client's cookie jar now has it
        assert page.status == 200
        html = await page.text()
        assert 'data-font-size="20"' in html and "/ws" in html
        assert "googleapis" not in html  # the page loads nothing from another site
        assert (await client.get("/static/js/textual.js")).status == 200
    finally:
        await client.close()


async def test_a_proxy_can_send_the_token_in_the_authorization_header() -> None:
    client = await client_for(TOKEN)
    try:
        response = await client.get("/", headers={"Authorization": f"token {TOKEN}"})
        assert response.status == 200
    finally:
        await client.close()


async def test_a_websocket_from_another_site_is_refused_even_with_the_cookie() -> None:
    client = await client_for(TOKEN)
    try:
        await client.get(f"/?token={TOKEN}")
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect("/ws", headers={"Origin": "https://evil.example"})
        assert refused.value.status == 403
    finally:
        await client.close()


async def test_without_a_token_only_loopback_host_names_are_served() -> None:
    client = await client_for(None)
    try:
        assert (await client.get("/")).status == 200  # the test client asks for 127.0.0.1
        rebound = await client.get("/", headers={"Host": "evil.example:8000"})
        assert rebound.status == 403  # DNS rebinding: another site's name pointed at 127.0.0.1
    finally:
        await client.close()


async def test_the_page_links_follow_the_public_url_behind_a_proxy() -> None:
    client = await client_for(TOKEN, public_url="https://trainer.example.org/iwp")
    try:
        html = await (await client.get("/", headers={"Authorization": f"token {TOKEN}"})).text()
        assert 'data-session-websocket-url="wss://trainer.example.org/iwp/ws"' in html
        assert "https://trainer.example.org/iwp/static/js/textual.js" in html
    finally:
        await client.close()


def test_loopback_addresses() -> None:
    assert all(web.is_loopback(h) for h in ("127.0.0.1", "127.5.0.1", "::1", "[::1]", "localhost"))
    assert not any(web.is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.10", "trainer.example.org"))


def test_tokens_are_random_and_the_environment_can_set_one() -> None:
    assert web.new_token() != web.new_token() and len(web.new_token()) >= 40
    assert web.token_from_environment({web.ENV_TOKEN: " abc "}) == "abc"
    assert web.token_from_environment({web.ENV_TOKEN: "  "}) is None  # blank is not "no token"


def test_each_tab_runs_the_app_on_serves_own_locations(tmp_path: Path) -> None:
    argv = ["--kb", str(tmp_path / "my kb"), "--scenarios", str(tmp_path / "sc"), "--db",
            str(tmp_path / "p.sqlite3"), "serve"]
    args = cli.resolve_paths(cli.build_parser(only="serve").parse_args(argv))
    command = shlex.split(app_command(args))
    assert command[:3] == [sys.executable, "-m", "iwp_trainer"]
    assert f"--kb={tmp_path / 'my kb'}" in command
    assert f"--scenarios={tmp_path / 'sc'}" in command
    assert f"--db={tmp_path / 'p.sqlite3'}" in command
    assert "--browser-tab" in command
    # ...and the app's own parser takes that command line.
    parsed = cli.build_parser().parse_args(command[3:])
    assert parsed.browser_tab and parsed.kb == tmp_path / "my kb" and parsed.command is None


# --- through the entry point -----------------------------------------------------------------

def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iwp_trainer", *args], capture_output=True,
                          text=True, timeout=60, env=env)


def test_a_non_loopback_address_without_a_token_is_refused() -> None:
    port = free_port()
    result = run_cli("serve", "--host", "0.0.0.0", "--port", str(port), "--no-token")
    assert result.returncode == 2
    assert "refusing to serve on 0.0.0.0 without an access token" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_bad_ports_and_learner_are_usage_errors() -> None:
    for args in (("serve", "--port", "0"), ("serve", "--port", "http"), ("--learner", "sam", "serve")):
        result = run_cli(*args)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr


def test_a_port_in_use_is_one_clear_message() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("serve", "--port", str(port))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1 port {port}" in result.stderr
    assert "Traceback" not in result.stderr


class Served:
    """`iwp-trainer serve` in a subprocess, stopped with Ctrl+C (SIGINT) at the end."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "iwp_trainer", "serve", "--port", str(self.port), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **(env or {})})
        assert self.process.stdout is not None
        self.first_line = self.process.stdout.readline()
        match = re.search(r"open (http://\S+) in a browser", self.first_line)
        assert match, (self.first_line, self.process.stderr.read() if self.process.poll() is not None else "")
        self.url = match.group(1)

    def status(self, url: str) -> int:
        try:
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
            with opener.open(url, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def stop(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGINT)
        out, err = self.process.communicate(timeout=30)
        return self.process.returncode, self.first_line + out + err


def test_serve_prints_a_url_with_a_fresh_token_and_nothing_else_shows_it() -> None:
    served = Served()
    try:
        token = re.search(r"\?token=([\w-]+)$", served.url).group(1)
        assert len(token) >= 40
        assert served.url.startswith(f"http://127.0.0.1:{served.port}/")
        assert served.status(f"http://127.0.0.1:{served.port}/") == 403
        assert served.status(served.url) == 200  # the redirect lands on the page (cookie kept)
    finally:
        code, output = served.stop()
    assert code == 0
    assert output.count(token) == 1  # only in the start-up URL: no access log line repeats it


def test_the_token_can_come_from_the_environment_on_any_address() -> None:
    served = Served("--host", "0.0.0.0", env={web.ENV_TOKEN: TOKEN})
    try:
        # Serving every address with a token is allowed; the URL names this machine, not 0.0.0.0.
        assert served.url == f"http://127.0.0.1:{served.port}/?token={TOKEN}"
        assert served.status(f"http://127.0.0.1:{served.port}/?token=nope") == 403
        assert served.status(served.url) == 200
    finally:
        code, _ = served.stop()
    assert code == 0


def test_no_token_on_loopback_serves_the_page() -> None:
    served = Served("--no-token")
    try:
        assert served.url == f"http://127.0.0.1:{served.port}/"
        assert served.status(served.url) == 200
    finally:
        served.stop()
