"""The app in a browser: textual-serve, with an access token in front of it.

textual-serve starts one app process per browser tab (per websocket). What it does not do is
decide who may connect, so every request (page, assets, websocket, downloads) passes
:func:`token_middleware` first. It follows Jupyter's convention: a random token printed in the
start-up URL (``http://host:port/?token=...``), or one set in ``$IWP_TRAINER_SERVE_TOKEN``. The
first request with a good ``?token=`` gets a cookie (derived from the token, not the token itself)
and is redirected to the same address without it, so the token does not stay in the address bar,
the history or a ``Referer``; the assets and the websocket then ride on the cookie. A reverse
proxy can send ``Authorization: token ...`` instead. Anything else gets 403.

Without a token (``--no-token``, loopback only) a page on another site could still open a
websocket to ``127.0.0.1`` from the coach's own browser, so websockets from another origin are
refused, token or not, and so are requests naming a host other than the one served (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import secrets
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import quote, urlsplit

import aiohttp_jinja2
from aiohttp import web
from textual_serve.server import Server

from iwp_trainer import paths

ENV_TOKEN = "IWP_TRAINER_SERVE_TOKEN"
COOKIE_NAME = "iwp_trainer_token"
TOKEN_PARAM = "token"
TITLE = "IWP trainer"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

FORBIDDEN_TEXT = (
    "403 Forbidden: this iwp-trainer needs its access token. Open the address that "
    "`iwp-trainer serve` printed when it started (it ends in ?token=...), or ask whoever runs it.\n"
)


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine. Any name but ``localhost`` counts as not:
    what a name resolves to can change, and being wrong here opens the app to the network."""
    host = host.strip().strip("[]")
    if host.lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    """A fresh random token, as Jupyter makes them (URL-safe, 256 bits)."""
    return secrets.token_urlsafe(32)


def token_from_environment(environ: dict[str, str]) -> str | None:
    """The token set in ``$IWP_TRAINER_SERVE_TOKEN``; blank counts as unset (an empty variable is more
    often a mistake than a wish to switch the token off, which is ``--no-token``)."""
    value = environ.get(ENV_TOKEN, "").strip()
    return value or None


@dataclass(frozen=True)
class Access:
    """Who may connect: ``token`` is ``None`` only when serving on loopback with ``--no-token``."""

    token: str | None

    def cookie_value(self) -> str:
        """What the cookie holds: an HMAC of the token, so the cookie jar never has the token."""
        assert self.token is not None
        return hmac.new(self.token.encode("utf-8"), b"iwp-trainer serve cookie", hashlib.sha256).hexdigest()

    def allows(self, request: web.Request) -> bool:
        """A good cookie, ``Authorization: token ...`` header or ``?token=`` parameter."""
        if self.token is None:
            return True
        if _same(request.cookies.get(COOKIE_NAME), self.cookie_value()):
            return True
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "token" and _same(value.strip(), self.token):
            return True
        return _same(request.query.get(TOKEN_PARAM), self.token)


def _same(given: str | None, expected: str) -> bool:
    if not given:
        return False
    return secrets.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def _origin_ok(request: web.Request, public_url: str | None) -> bool:
    """A websocket opened by a page of this server (or with no Origin: not a browser)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    netloc = urlsplit(origin).netloc.lower()
    allowed = {request.host.lower()}
    if public_url:
        allowed.add(urlsplit(public_url).netloc.lower())
    return netloc in allowed


def _host_ok(request: web.Request, access: Access, public_url: str | None) -> bool:
    """Without a token, only requests for a loopback name (or the public URL's host): a page on
    another site cannot rebind its own name to 127.0.0.1 and then read the app."""
    if access.token is not None:
        return True
    host = urlsplit(f"//{request.host}").hostname or ""
    if public_url and host == (urlsplit(public_url).hostname or "").lower():
        return True
    return is_loopback(host)


def token_middleware(access: Access, public_url: str | None = None) -> Any:
    """The aiohttp middleware that lets through only requests carrying the token (see module doc)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not _host_ok(request, access, public_url):
            return web.Response(status=403, text="403 Forbidden: unknown host name.\n")
        if request.path == "/ws" and not _origin_ok(request, public_url):
            return web.Response(status=403, text="403 Forbidden: websocket from another site.\n")
        if not access.allows(request):
            return web.Response(status=403, text=FORBIDDEN_TEXT)
        if access.token is not None and TOKEN_PARAM in request.query and request.method == "GET":
            # First visit with ?token=: remember it in a cookie, and drop it from the address.
            query = request.rel_url.query.copy()
            del query[TOKEN_PARAM]
            response = web.Response(status=302, headers={"Location": str(request.rel_url.with_query(query))})
            response.set_cookie(
                COOKIE_NAME,
                access.cookie_value(),
                httponly=True,
                samesite="Strict",
                path="/",
                secure=request.secure or (public_url or "").startswith("https:"),
            )
            return response
        return await handler(request)

    return middleware


class TrainerServer(Server):
    """textual-serve's server with the token middleware, a page that loads nothing from other sites,
    links built from the address the browser used (or ``public_url``), and no access log (its
    lines would carry ``?token=``). The address is printed once the socket listens."""

    def __init__(self, command: str, host: str, port: int, access: Access,
                 public_url: str | None = None, announce: Callable[[str], None] = print) -> None:
        super().__init__(command, host=host, port=port, title=TITLE, public_url=public_url,
                         statics_path=_static_dir(), templates_path=paths.WEB_TEMPLATES_DIR)
        self.access = access
        self.explicit_public_url = public_url.rstrip("/") if public_url else None
        self.announce = announce

    def start_url(self) -> str:
        """The address to open; the only place the token is ever printed."""
        if self.explicit_public_url:
            base = self.explicit_public_url
        else:
            host = self.host if ":" not in self.host else f"[{self.host}]"
            if host in {"0.0.0.0", "[::]"}:
                host = "127.0.0.1" if host == "0.0.0.0" else "[::1]"
            base = f"http://{host}:{self.port}"
        return f"{base}/" + (f"?{TOKEN_PARAM}={quote(self.access.token, safe='')}" if self.access.token else "")

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(token_middleware(self.access, self.explicit_public_url))
        return app

    async def on_startup(self, app: web.Application) -> None:
        """Nothing: the address is announced once the socket listens (see :meth:`_serve`)."""

    def initialize_logging(self) -> None:
        logging.basicConfig(level="DEBUG" if self.debug else "WARNING", format="%(name)s: %(message)s")

    def serve(self, debug: bool = False) -> None:
        """Listen until Ctrl+C or SIGTERM. Raises ``OSError`` when the address cannot be listened on."""
        self.debug = debug
        self.initialize_logging()
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        # No access log: its lines would carry ?token=.
        runner = web.AppRunner(await self._make_app(), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
            self.announce(f"iwp-trainer serve: open {self.start_url()} in a browser (Ctrl+C stops it)")
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, stop.set)
                except (NotImplementedError, RuntimeError):
                    pass
            await stop.wait()
        finally:
            await runner.cleanup()

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        """The page, its links made from the address the browser used unless a public URL is set
        (textual-serve's own would say ``0.0.0.0`` when serving on every address)."""
        base = self.explicit_public_url or f"{request.scheme}://{request.host}"
        ws_base = ("wss:" if base.startswith("https:") else "ws:") + base.split(":", 1)[1]
        font_size = request.query.get("fontsize", "16")
        return {
            "font_size": int(font_size) if font_size.isdigit() and 6 <= int(font_size) <= 64 else 16,
            "app_websocket_url": f"{ws_base}/ws",
            "config": {"static": {"url": f"{base}/static/"}},
            "application": {"name": self.title},
        }


def _static_dir() -> Path:
    """textual-serve's own assets (xterm.js, its CSS and fonts), shipped in its package."""
    import textual_serve

    return Path(textual_serve.__file__).resolve().parent / "static"
