"""Sending xAPI statements to a Learning Record Store (LRS) over its xAPI HTTP API.

``push`` POSTs statements in batches to the LRS's ``statements`` resource with the
``X-Experience-API-Version`` header and HTTP Basic auth. The user name and password come from the
environment (``IWP_TRAINER_LRS_USER``, ``IWP_TRAINER_LRS_PASSWORD``) or from an owner-only
``lrs.toml`` (``paths.default_lrs_config_path``), never from the command line, where ``ps`` shows
them; they never appear in a message.

Statement ids are stable (``xapi.StatementBuilder``), so sending again never duplicates. Counting
what was new: an LRS answers a POST with the ids it stored. Ralph lists only the statements it did
not already hold and answers ``204 No Content`` when it held them all; an LRS may also answer
``409 Conflict`` for a batch holding an id it already has. On a 409 the batch is sent again one
statement at a time, and a statement still refused is looked up (GET ``?statementId=``) to tell
"already there" from "the LRS holds a different statement under this id". An LRS that echoes every
id of a batch, stored before or not, cannot be told apart from one that stored them all: those
count as new.

Server errors (5xx), 429 and connection failures are retried with exponential back-off (and the
server's ``Retry-After``); a batch too large for the server (413) is split. Any other 4xx stops the
push with one message saying what to check. No third-party HTTP client: ``urllib.request`` does all
of this, and the project gains no runtime dependency.

``PushState`` remembers, per LRS and per database and filter, the newest statement timestamp of the
last complete push, so ``--since`` sends only what was recorded after it. It looks back a margin
before that time, as coaches' clocks and in-flight transactions differ, and skips the statements in
that margin the LRS already confirmed (their ids are kept too): nothing is missed, and what is
already there is not sent again.
"""

from __future__ import annotations

import base64
import heapq
import ipaddress
import itertools
import json
import os
import random
import stat
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence
from urllib.parse import quote, urlsplit, urlunsplit

from iwp_trainer.atomic import atomic_writer
from iwp_trainer.safe_text import one_line
from iwp_trainer.xapi import XAPI_VERSION

ENV_USER = "IWP_TRAINER_LRS_USER"
ENV_PASSWORD = "IWP_TRAINER_LRS_PASSWORD"
DEFAULT_BATCH = 200  # ~250 KB a request: well under the body limits LRSs usually set
TIMEOUT = 60.0  # seconds for one request
SINCE_MARGIN = timedelta(minutes=15)  # re-sent with --since, for skewed clocks and late commits
USER_AGENT = "iwp-trainer (xAPI push)"
STATE_VERSION = 1


class LRSError(Exception):
    """A push that cannot go on, with one line saying why and what to do (never a credential)."""


# -- the endpoint ----------------------------------------------------------------------------------


def statements_url(url: str) -> str:
    """The ``statements`` resource of the LRS endpoint ``url`` (given with or without it).

    Raises ``LRSError`` for a URL that is not http(s), has no host, or carries a user or password
    (those belong in the environment or lrs.toml, not where ``ps`` and shell history show them)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # raises on a bad port
    except ValueError:
        raise LRSError(f"{one_line(url)!r} is not a valid URL") from None
    del port
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LRSError(f"{one_line(url)!r} is not an http(s) URL of an LRS, e.g. https://lrs.example.org/xAPI/")
    if parts.username is not None or parts.password is not None:
        raise LRSError("the LRS URL must not carry a user name or password: set "
                       f"{ENV_USER} and {ENV_PASSWORD}, or put them in lrs.toml")
    if parts.query or parts.fragment:
        raise LRSError("give the LRS's xAPI endpoint without a query or fragment, "
                       "e.g. https://lrs.example.org/xAPI/")
    path = parts.path.rstrip("/")
    if not path.endswith("/statements"):
        path += "/statements"
    return urlunsplit((parts.scheme, parts.netloc.lower(), path, "", ""))


def is_loopback(url: str) -> bool:
    """Whether ``url``'s host is this machine (plain http is only sensible there)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- credentials -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """A Basic-auth user and password, and where they came from (for messages)."""

    user: str
    password: str = field(repr=False)
    source: str

    def header(self) -> str:
        token = base64.b64encode(f"{self.user}:{self.password}".encode("utf-8")).decode("ascii")
        return f"Basic {token}"


def load_credentials(endpoint: str, config_path: Path, env: Mapping[str, str] | None = None) -> Credentials:
    """The credentials for ``endpoint`` (a ``statements_url``): the environment first, then the
    ``[[lrs]]`` entry of ``config_path`` whose ``url`` names the same endpoint.

    The file must be owner-only (as ``~/.pgpass`` must), since it holds a password. Raises
    ``LRSError`` when nothing is found or the file is unusable."""
    env = os.environ if env is None else env
    user, password = env.get(ENV_USER, ""), env.get(ENV_PASSWORD, "")
    if user or password:
        if not (user and password):
            missing = ENV_PASSWORD if user else ENV_USER
            raise LRSError(f"{missing} is not set: set both {ENV_USER} and {ENV_PASSWORD}, or neither "
                           f"and use {config_path}")
        return Credentials(user, password, f"{ENV_USER}/{ENV_PASSWORD}")
    try:
        info = os.stat(config_path)
    except FileNotFoundError:
        raise LRSError(f"no LRS credentials: set {ENV_USER} and {ENV_PASSWORD}, or add an [[lrs]] entry "
                       f"for {endpoint} to {config_path} (see the README, \"For a district\")") from None
    except OSError as exc:
        raise LRSError(f"cannot read {config_path}: {exc.strerror or exc}") from None
    if os.name == "posix" and info.st_mode & 0o077:
        raise LRSError(f"{config_path} holds a password but others can read it "
                       f"(mode {stat.S_IMODE(info.st_mode):o}): run chmod 600 {config_path}")
    try:
        with open(config_path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise LRSError(f"cannot read {config_path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LRSError(f"{config_path} is not valid TOML: {one_line(exc)}") from None
    entries = data.get("lrs", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise LRSError(f"{config_path}: write each LRS as an [[lrs]] table with url, user and password")
    for number, entry in enumerate(entries, 1):
        url = entry.get("url")
        if not isinstance(url, str):
            raise LRSError(f"{config_path}: [[lrs]] entry {number} has no url")
        try:
            same = statements_url(url) == endpoint
        except LRSError as exc:
            raise LRSError(f"{config_path}: [[lrs]] entry {number}: {exc}") from None
        if not same:
            continue
        user, password = entry.get("user"), entry.get("password")
        if not (isinstance(user, str) and user and isinstance(password, str) and password):
            raise LRSError(f"{config_path}: the [[lrs]] entry for {endpoint} needs a user and a password")
        return Credentials(user, password, str(config_path))
    raise LRSError(f"no LRS credentials for {endpoint}: {config_path} has no [[lrs]] entry with that url, "
                   f"and {ENV_USER}/{ENV_PASSWORD} are not set")


# -- HTTP ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    headers: Mapping[str, str]


class ConnectionProblem(Exception):
    """The request got no HTTP answer (refused, reset, timed out, DNS): worth retrying."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib turns a redirected POST into a GET without its body, whose 200 would look like a
    # success: a redirect is reported instead.
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def http_request(method: str, url: str, body: bytes | None, headers: Mapping[str, str],
                 timeout: float = TIMEOUT) -> Response:
    """One HTTP request through urllib; any HTTP status is an answer, no answer is
    ``ConnectionProblem``."""
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))
    try:
        with _OPENER.open(request, timeout=timeout) as answer:
            return Response(answer.status, answer.read(), dict(answer.headers.items()))
    except urllib.error.HTTPError as exc:
        try:
            data = exc.read()
        except OSError:
            data = b""
        return Response(exc.code, data, dict(exc.headers.items()) if exc.headers else {})
    except urllib.error.URLError as exc:
        raise ConnectionProblem(one_line(exc.reason)) from None
    except (OSError, ValueError) as exc:  # reset mid-answer, timeout, bad chunking
        raise ConnectionProblem(one_line(exc) or type(exc).__name__) from None


Transport = Callable[[str, str, "bytes | None", Mapping[str, str]], Response]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a request the server failed (5xx, 429) or never
    answered: ``tries`` in all, waiting ``base``, 2x``base``, 4x``base``... (at most ``cap``, with
    a little jitter so many coaches' pushes do not retry in step) or the server's Retry-After."""

    tries: int = 5
    base: float = 0.5
    cap: float = 15.0
    retry_after_cap: float = 60.0

    def delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(max(float(retry_after), 0.0), self.retry_after_cap)
            except ValueError:
                pass  # an HTTP date: use our own back-off
        return min(self.cap, self.base * 2 ** attempt) * random.uniform(0.9, 1.1)


def _detail(response: Response, secret: str) -> str:
    """The server's own short reason, as data: one line, bounded, never our password."""
    text = response.body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
        if isinstance(data, dict):
            text = str(data.get("detail") or data.get("message") or data.get("error") or text)
    except ValueError:
        pass
    text = one_line(text)
    if secret:
        text = text.replace(secret, "***")
    return text[:200] + ("…" if len(text) > 200 else "")


# -- pushing ---------------------------------------------------------------------------------------


@dataclass
class PushResult:
    """What one push did. ``new`` + ``already`` + ``conflicts`` == ``sent``."""

    endpoint: str
    sent: int = 0
    new: int = 0
    already: int = 0
    conflicts: list[str] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0


class LRSClient:
    """The xAPI statements resource of one LRS, with credentials, retries and counting."""

    def __init__(self, endpoint: str, credentials: Credentials, *, transport: Transport | None = None,
                 retry: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.endpoint = endpoint
        self.credentials = credentials
        self.transport = transport or http_request
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.requests = 0
        self.retries = 0

    def _headers(self, json_body: bool) -> dict[str, str]:
        headers = {"X-Experience-API-Version": XAPI_VERSION, "Authorization": self.credentials.header(),
                   "Accept": "application/json", "User-Agent": USER_AGENT}
        if json_body:
            headers["Content-Type"] = "application/json; charset=utf-8"
        return headers

    def request(self, method: str, url: str, body: bytes | None = None) -> Response:
        """One request, retried on 5xx, 429 and no answer; any other answer is returned."""
        problem = ""
        for attempt in range(self.retry.tries):
            if attempt:
                self.retries += 1
            self.requests += 1
            try:
                response = self.transport(method, url, body, self._headers(body is not None))
            except ConnectionProblem as exc:
                problem = f"no answer from the LRS ({exc})"
                retry_after = None
            else:
                if response.status < 500 and response.status != 429:
                    return response
                problem = f"the LRS failed (HTTP {response.status}: {_detail(response, self.credentials.password)})"
                retry_after = response.headers.get("Retry-After") or response.headers.get("retry-after")
            if attempt + 1 < self.retry.tries:
                self.sleep(self.retry.delay(attempt, retry_after))
        raise LRSError(f"{problem}; gave up after {self.retry.tries} tries")

    def _refusal(self, response: Response) -> LRSError:
        """One clear line for an answer that retrying cannot change."""
        code, detail = response.status, _detail(response, self.credentials.password)
        if code == 401:
            return LRSError(f"the LRS refused the user name or password from {self.credentials.source} "
                            f"(HTTP 401): check them")
        if code == 403:
            return LRSError(f"the LRS user {self.credentials.user!r} may not write statements (HTTP 403: "
                            f"{detail}): ask the LRS's administrator for the statements/write scope")
        if code == 404:
            return LRSError(f"no xAPI statements resource at {self.endpoint} (HTTP 404): check the URL, "
                            "the LRS's xAPI endpoint, e.g. https://lrs.example.org/xAPI/")
        if 300 <= code < 400:
            where = one_line(response.headers.get("Location") or response.headers.get("location") or "elsewhere")
            return LRSError(f"the LRS redirects {self.endpoint} to {where} (HTTP {code}): use that URL")
        if code == 400:
            return LRSError(f"the LRS rejected the statements as invalid (HTTP 400: {detail})")
        return LRSError(f"the LRS refused the statements (HTTP {code}: {detail})")

    def _ids(self, response: Response) -> list[str] | None:
        try:
            data = json.loads(response.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None
        if isinstance(data, list) and all(isinstance(i, str) for i in data):
            return data
        return None

    def post_batch(self, batch: Sequence[dict[str, Any]], result: PushResult) -> None:
        """Store one batch, adding to ``result``'s counts; splits it when the LRS finds it too
        large, and goes one by one when it reports a conflict."""
        body = json.dumps(list(batch), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        response = self.request("POST", self.endpoint, body)
        ids = [s["id"] for s in batch]
        if response.status == 204:
            result.already += len(batch)
        elif response.status == 200:
            stored = self._ids(response)
            if stored is None:
                raise LRSError("the LRS answered the statements with something other than their ids "
                               f"(HTTP 200): is {self.endpoint} an xAPI statements resource?")
            new = len(set(ids) & set(stored))
            result.new += new
            result.already += len(batch) - new
        elif response.status == 413 and len(batch) > 1:
            half = len(batch) // 2
            self.post_batch(batch[:half], result)
            self.post_batch(batch[half:], result)
            return
        elif response.status == 409 and len(batch) > 1:
            for statement in batch:
                self.post_batch([statement], result)
            return
        elif response.status == 409:
            if self.holds_same(batch[0]):
                result.already += 1
            else:
                result.conflicts.append(batch[0]["id"])
        else:
            raise self._refusal(response)
        result.sent += len(batch)

    def get_statement(self, statement_id: str) -> dict[str, Any] | None:
        """The LRS's copy of one statement, or None when it has none."""
        response = self.request("GET", f"{self.endpoint}?statementId={quote(statement_id)}")
        if response.status == 404:
            return None
        if response.status != 200:
            raise self._refusal(response)
        try:
            data = json.loads(response.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise LRSError("the LRS answered a statement look-up with something other than JSON") from None
        return data if isinstance(data, dict) else None

    def holds_same(self, statement: dict[str, Any]) -> bool:
        """Whether the LRS already holds this statement (not a different one under its id)."""
        stored = self.get_statement(statement["id"])
        return stored is not None and same_statement(statement, stored)


def _when(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def same_statement(sent: Mapping[str, Any], stored: Mapping[str, Any]) -> bool:
    """Whether ``stored`` is the LRS's copy of ``sent``: the same who, did what, to what, with what
    result, when. What an LRS adds (stored, authority, version) and how it spells a timestamp do
    not count."""
    def core(statement: Mapping[str, Any]) -> tuple[Any, ...]:
        return (statement.get("id"), statement.get("actor"), (statement.get("verb") or {}).get("id"),
                (statement.get("object") or {}).get("id"), statement.get("result"),
                (statement.get("context") or {}).get("registration"))
    return core(sent) == core(stored) and _when(sent.get("timestamp")) == _when(stored.get("timestamp"))


def push(client: LRSClient, statements: Iterable[dict[str, Any]], batch_size: int = DEFAULT_BATCH,
         progress: Callable[[PushResult], None] | None = None) -> PushResult:
    """Send ``statements`` (read lazily: a district's history need not fit in memory at once) in
    batches; ``progress(result)`` after each. Raises ``LRSError`` (with ``.result`` set to what
    was done so far) when the LRS refuses or stops answering."""
    started = time.monotonic()
    result = PushResult(client.endpoint)
    source = iter(statements)
    try:
        while batch := list(itertools.islice(source, batch_size)):
            client.post_batch(batch, result)
            if progress is not None:
                progress(result)
    except LRSError as exc:
        exc.result = result  # type: ignore[attr-defined]
        raise
    finally:
        result.requests, result.retries = client.requests, client.retries
        result.seconds = time.monotonic() - started
    return result


# -- what was pushed before ------------------------------------------------------------------------


def redact(target: str) -> str:
    """A database location fit to keep in a file: a URL's password dropped."""
    try:
        parts = urlsplit(target)
        if parts.password is not None:
            host = parts.hostname or ""
            netloc = f"{parts.username or ''}@{host}" + (f":{parts.port}" if parts.port else "")
            return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    except ValueError:
        pass
    return target


@dataclass(frozen=True)
class PushScope:
    """What one remembered push covered: an LRS, a database and the statements' filters."""

    lrs: str
    db: str
    activity_base: str
    learner: str | None = None
    scenario: str | None = None

    def key(self) -> dict[str, Any]:
        return {"lrs": self.lrs, "db": redact(self.db), "activity_base": self.activity_base,
                "learner": self.learner, "scenario": self.scenario}


class PushState:
    """The last complete push per scope, kept in one small JSON file (written atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problem = ""  # why the file could not be read, when it could not
        self.entries: list[dict[str, Any]] = []
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            self.problem = f"cannot read {path} ({one_line(getattr(exc, 'strerror', None) or exc)})"
            return
        entries = data.get("pushes") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            self.problem = f"{path} is not a push record of this app"
            return
        self.entries = [e for e in entries if isinstance(e, dict)]

    def _find(self, scope: PushScope) -> dict[str, Any] | None:
        key = scope.key()
        return next((e for e in self.entries if all(e.get(k) == v for k, v in key.items())), None)

    def through(self, scope: PushScope) -> datetime | None:
        """The newest statement timestamp of the last complete push in ``scope``."""
        entry = self._find(scope)
        return _when(entry.get("through")) if entry else None

    def recent(self, scope: PushScope) -> set[str]:
        """The ids, within the margin before ``through``, that the LRS confirmed it holds."""
        entry = self._find(scope)
        ids = entry.get("recent_ids") if entry else None
        return {i for i in ids if isinstance(i, str)} if isinstance(ids, list) else set()

    def record(self, scope: PushScope, through: datetime, result: PushResult,
               recent_ids: Iterable[str] = ()) -> None:
        """Remember a complete push, and save the file (``OSError`` when it cannot be written).
        ``recent_ids``: the statements in the margin before ``through``, all now in the LRS, so
        the next ``--since`` need not send them again."""
        previous = self.through(scope)
        if previous is not None and previous > through:
            through = previous
        entry = {**scope.key(), "through": through.isoformat(), "pushed_at":
                 datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "sent": result.sent, "new": result.new, "already": result.already,
                 "recent_ids": sorted(recent_ids)}
        old = self._find(scope)
        self.entries = [e for e in self.entries if e is not old] + [entry]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_writer(self.path) as handle:
            json.dump({"version": STATE_VERSION, "pushes": self.entries}, handle, indent=1)
            handle.write("\n")


class Selection:
    """The statements of ``attempts`` to send, made attempt by attempt as they are sent: all of
    them, or (``floor``) those recorded from ``floor`` on except the ``known`` ids. On the way it
    notes the newest statement time and the ids within ``margin`` before it, which a complete push
    leaves in the LRS: the next ``--since`` starts there."""

    def __init__(self, attempts: Sequence[Any], build: Callable[[Any], Iterable[dict[str, Any]]],
                 floor: datetime | None = None, known: set[str] | frozenset[str] = frozenset(),
                 margin: timedelta = SINCE_MARGIN) -> None:
        self.attempts, self.build = attempts, build
        self.floor, self.known, self.margin = floor, known, margin
        self.attempts_done = 0
        self.seen = 0
        self.selected = 0
        self.newest: datetime | None = None
        self._recent: list[tuple[datetime, str]] = []  # a heap, oldest first

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for attempt in self.attempts:
            for statement in self.build(attempt):
                self.seen += 1
                when = _when(statement.get("timestamp"))
                self._note(when, statement["id"])
                if self.floor is None or ((when or self.floor) >= self.floor and statement["id"] not in self.known):
                    self.selected += 1
                    yield statement
            self.attempts_done += 1

    def _note(self, when: datetime | None, statement_id: str) -> None:
        if when is None:
            return
        if self.newest is None or when > self.newest:
            self.newest = when
        cut = self.newest - self.margin
        if when >= cut:
            heapq.heappush(self._recent, (when, statement_id))
        while self._recent and self._recent[0][0] < cut:  # bounded: one margin's worth
            heapq.heappop(self._recent)

    def recent_ids(self) -> list[str]:
        """The ids from ``margin`` before the newest time on (call once the push is complete)."""
        if self.newest is None:
            return []
        cut = self.newest - self.margin
        return sorted({i for t, i in self._recent if t >= cut})
