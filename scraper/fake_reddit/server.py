"""The fake Reddit's HTTP face: OAuth token endpoint, search, trees, morechildren, info.

Started on 127.0.0.1 on a free port, in a background thread::

    with FakeReddit(forest) as server:
        settings = RedditSettings(oauth_url=server.url, reddit_url=server.url)

It checks Basic credentials on the token endpoint and the bearer token on every
API call, sends ``x-ratelimit-*`` headers from a 600-second window, answers 429
with ``retry-after`` once the window's quota is spent, and logs every request
so that tests and benchmarks can count them.  Built on the standard library's
``http.server``: a test server needs nothing more, and the demo must run
without extra dependencies.
"""

from __future__ import annotations

import base64
import json
import math
import random
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from scraper.fake_reddit.forest import Forest
from scraper.sources.reddit import RedditSettings

WINDOW_SECONDS = 600
SHUTDOWN_POLL = 0.01
CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"  # noqa: S105 - the fake server's own test credential

_TREE = re.compile(r"^(?:/r/[^/]+)?/comments/([a-z0-9]+)(?:/([^/]*)(?:/([a-z0-9]+))?)?/?(?:\.json)?$")
_SEARCH = re.compile(r"^/r/([^/]+)/search/?(?:\.json)?$")


@dataclass
class RateLimit:
    """A quota per window (600 s on Reddit), as Reddit's headers describe it."""

    quota: int = 1000
    window: float = WINDOW_SECONDS
    clock: Callable[[], float] = time.monotonic
    used: int = 0
    started: float = -1.0

    def take(self) -> tuple[bool, dict[str, str]]:
        """Spend one request; return whether it is allowed and the headers to send."""
        now = self.clock()
        if self.started < 0:
            self.started = now
        if now - self.started >= self.window:
            self.started, self.used = now, 0
        reset = max(1, int(self.window - (now - self.started)))
        if self.used >= self.quota:
            return False, {"retry-after": str(reset)}
        self.used += 1
        return True, {
            "x-ratelimit-remaining": f"{float(self.quota - self.used):.1f}",
            "x-ratelimit-used": str(self.used),
            "x-ratelimit-reset": str(reset),
        }


#: The body of a ``"shape"`` fault: Reddit's error envelope, with no ``data``.
SHAPE_FAULT_BODY = json.dumps(
    {"json": {"errors": [["RATELIMIT", "you are doing that too much. try again in 1 minute.", "ratelimit"]]}}
).encode()


@dataclass
class Faults:
    """Faults to inject into API answers (never into the token endpoint).

    ``rate`` of the answers fail, each with one of ``kinds``: ``"500"``/``"502"``/``"503"``
    (empty body), ``"cut"`` (the connection closes mid-body), ``"malformed"`` (a
    200 with broken JSON), ``"shape"`` (a 200 with JSON of another shape: an error
    envelope ``{"json": {"errors": [["RATELIMIT", ...]]}}``) or ``"slow"``
    (``slow_seconds`` before answering).
    Which answers fail depends on ``pattern`` (all drawn from ``seed``):

    - ``"bernoulli"``: each answer fails with probability ``rate`` (so a run may
      see more or fewer than ``rate`` of its answers fail);
    - ``"blocks"``: exactly ``rate`` of the answers: of each block of ``1/rate``
      answers one fails, at a random place, of a random kind;
    - ``"even"``: exactly ``rate`` of the answers, evenly: the tenth, twentieth, …
      at ``rate=0.1``, the kinds taken in turn.

    Two kinds of 429 bursts:

    - ``throttle_429=(n, seconds)``, Reddit's own: after the n-th API answer the
      server is over its limit for ``seconds``; every request in that time gets
      429 with ``retry-after`` saying how long is left (whole seconds, rounded up).
      A client that honours ``retry-after`` sees one 429; one that retries sooner
      sees more.
    - ``burst_429=(n, k)``: the k API requests after the n-th get 429 whatever
      the client does (``retry_after`` as given, or none), to test the waiting.
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = ("500", "503", "cut", "malformed")
    slow_seconds: float = 0.0
    pattern: str = "bernoulli"
    burst_429: tuple[int, int] | None = None
    throttle_429: tuple[int, float] | None = None
    retry_after: str | None = "1"
    seed: int = 0
    _random: random.Random = field(init=False, repr=False)
    _seen: int = field(default=0, init=False)
    _owed: float = field(default=0.0, init=False)
    _turn: int = field(default=0, init=False)
    _block: list[bool] = field(default_factory=list, init=False)
    _throttled_until: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.pattern not in ("bernoulli", "blocks", "even"):
            raise ValueError(f"unknown fault pattern {self.pattern!r}: use bernoulli, blocks or even")
        self._random = random.Random(self.seed)  # noqa: S311 - reproducible faults

    def draw(self, now: float = 0.0) -> tuple[str | None, str | None]:
        """The fault for the next API answer, if any, and the ``retry-after`` to send with a 429."""
        self._seen += 1
        if self.throttle_429:
            after, seconds = self.throttle_429
            if self._throttled_until is None and self._seen > after:
                self._throttled_until = now + seconds
            if self._throttled_until is not None and now < self._throttled_until:
                return "429", str(max(1, math.ceil(self._throttled_until - now)))
        if self.burst_429 and self.burst_429[0] < self._seen <= self.burst_429[0] + self.burst_429[1]:
            return "429", self.retry_after
        if not self.rate:
            return None, None
        if self.pattern == "even":
            self._owed += self.rate
            if self._owed >= 1 - 1e-9:
                self._owed -= 1
                self._turn += 1
                return self.kinds[(self._turn - 1) % len(self.kinds)], None
            return None, None
        if self.pattern == "blocks":
            if not self._block:
                size = max(1, round(1 / self.rate))
                self._block = [False] * size
                self._block[self._random.randrange(size)] = True
            if self._block.pop(0):
                return self._random.choice(self.kinds), None
            return None, None
        if self._random.random() < self.rate:
            return self._random.choice(self.kinds), None
        return None, None


@dataclass
class Logged:
    """One request the fake Reddit answered."""

    method: str
    path: str
    params: dict[str, str]
    form: dict[str, str]
    status: int
    fault: str | None = None


class FakeReddit:
    """The HTTP server around a :class:`Forest`, on 127.0.0.1."""

    def __init__(
        self,
        forest: Forest,
        *,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        quota: int = 1000,
        tree_limit_cap: int = 500,
        morechildren_budget: int = 100,
        max_depth: int = 10,
        listing_cap: int = 1000,
        port: int = 0,
        faults: Faults | None = None,
        honest_headers: bool = True,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        morechildren_max_ids: int | None = None,
    ) -> None:
        self.forest = forest
        self.client_id = client_id
        self.client_secret = client_secret
        self.clock = clock
        self.rate = RateLimit(quota=quota, window=window, clock=clock)
        self.faults = faults or Faults()
        self.honest_headers = honest_headers
        self.morechildren_max_ids = morechildren_max_ids
        self.tree_limit_cap = tree_limit_cap
        self.morechildren_budget = morechildren_budget
        self.max_depth = max_depth
        self.listing_cap = listing_cap
        self.tokens: set[str] = set()
        self.log: list[Logged] = []
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, usable as both PRAW's ``oauth_url`` and ``reddit_url``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeReddit:
        """Serve in a background thread."""
        # serve_forever checks for shutdown every poll_interval (0.5 s by default): every test
        # would wait that long at its end.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL}, name="fake-reddit", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeReddit:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client_settings(self, **overrides: Any) -> RedditSettings:
        """Settings for a client of this server: its URL for both endpoints and its credentials."""
        values: dict[str, Any] = {
            "oauth_url": self.url,
            "reddit_url": self.url,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "user_agent": "python:fake-reddit-client:0 (talks to the fake Reddit)",
            **overrides,
        }
        return RedditSettings(**values)

    def count(self, path_fragment: str = "") -> int:
        """How many logged requests have ``path_fragment`` in their path."""
        return sum(1 for entry in self.log if path_fragment in entry.path)

    def count_status(self, status: int) -> int:
        """How many logged answers had ``status``."""
        return sum(1 for entry in self.log if entry.status == status)

    # -- answering ------------------------------------------------------------------
    def answer(
        self, method: str, path: str, params: dict[str, str], form: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes, str | None]:
        """Answer one request: status, headers, body, and the fault to act out (cut, slow)."""
        with self._lock:
            status, extra, body = self._answer(method, path, params, form, headers)
            fault = retry_after = None
            if not path.rstrip("/").endswith("/access_token") and status != 401:
                fault, retry_after = self.faults.draw(self.clock())
            if fault == "429":
                status, body = 429, b"<html><body><h1>whoa there, pardner!</h1></body></html>"
                extra = {"content-type": "text/html; charset=UTF-8"}
                if retry_after is not None:
                    extra["retry-after"] = retry_after
            elif fault in ("500", "502", "503"):
                status, extra, body = int(fault), {"content-type": "text/html"}, b""
            elif fault == "malformed":
                body = body[: max(1, len(body) // 2)]
            elif fault == "shape":  # valid JSON, not the endpoint's shape (WIRE-FORMAT §4: errors is normally [])
                body = SHAPE_FAULT_BODY
            if not self.honest_headers:
                extra = {k: v for k, v in extra.items() if not k.startswith("x-ratelimit")}
            self.log.append(Logged(method, path, params, form, status, fault))
            return status, extra, body, fault

    def _answer(
        self, method: str, path: str, params: dict[str, str], form: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        if path.rstrip("/") == "/api/v1/access_token" and method == "POST":
            return self._token(form, headers)
        auth = headers.get("authorization", "")
        if not (auth.lower().startswith("bearer ") and auth[7:] in self.tokens):
            return _json(
                401,
                {"message": "Unauthorized", "error": 401},
                {"www-authenticate": 'Bearer realm="reddit", error="invalid_token"'},
            )
        allowed, rate_headers = self.rate.take()
        if not allowed:
            body = b"<html><body><h1>whoa there, pardner!</h1></body></html>"
            return 429, {"content-type": "text/html; charset=UTF-8", **rate_headers}, body
        status, extra, body = self._api(method, path, params, form)
        return status, {**extra, **rate_headers}, body

    def _token(self, form: dict[str, str], headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        auth = headers.get("authorization", "")
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if auth != f"Basic {expected}":
            return _json(401, {"message": "Unauthorized", "error": 401})
        if form.get("grant_type") not in ("client_credentials", "password", "refresh_token"):
            return _json(200, {"error": "unsupported_grant_type"})
        token = secrets.token_urlsafe(16)
        self.tokens.add(token)
        return _json(200, {"access_token": token, "token_type": "bearer", "expires_in": 86400, "scope": "*"})

    def _api(
        self, method: str, path: str, params: dict[str, str], form: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        if (m := _SEARCH.match(path)) and method == "GET":
            return self._search(m.group(1), params)
        if (m := _TREE.match(path)) and method == "GET":
            link, comment = m.group(1), m.group(3)
            if link not in self.forest.threads:
                return _json(404, {"message": "Not Found", "error": 404})
            limit = min(int(params.get("limit", 200)), self.tree_limit_cap)
            thread = self.forest.threads[link]
            root = comment if comment and comment in thread.comments else None
            tree = self.forest.tree(
                link, limit=limit, sort=params.get("sort", "confidence"), root=root, max_depth=self.max_depth
            )
            return _json(200, tree)
        if path.rstrip("/") == "/api/morechildren" and method == "POST":
            link = form.get("link_id", "")[3:]
            if link not in self.forest.threads:
                return _json(403, {"message": "Forbidden", "error": 403})
            ids = [i for i in form.get("children", "").split(",") if i]
            if self.morechildren_max_ids is not None and len(ids) > self.morechildren_max_ids:
                return 413, {"content-type": "text/html"}, b"<html><body>413 Request Entity Too Large</body></html>"
            things = self.forest.more_children(
                link,
                ids,
                sort=form.get("sort", "confidence"),
                budget=self.morechildren_budget,
                max_depth=self.max_depth,
            )
            return _json(200, {"json": {"errors": [], "data": {"things": things}}})
        if path.rstrip("/") == "/api/info" and method == "GET":
            names = [n for n in params.get("id", "").split(",") if n][:100]
            things = [t for t in (self.forest.thing(n) for n in names) if t is not None]
            return _json(200, _page(things, None))
        return _json(404, {"message": "Not Found", "error": 404})

    def _search(self, subreddit: str, params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        name = subreddit.lower()
        if name in self.forest.private_subreddits:
            return _json(403, {"reason": "private", "message": "Forbidden", "error": 403})
        if name not in self.forest.subreddits:
            return _json(404, {"reason": "banned", "message": "Not Found", "error": 404})
        hits = self.forest.search(subreddit, params.get("q", ""), params.get("sort", "relevance"))
        hits = hits[: self.listing_cap]
        start = 0
        if after := params.get("after"):
            names = [h["name"] for h in hits]
            start = names.index(after) + 1 if after in names else len(hits)
        size = min(int(params.get("limit", 25)), 100)
        page = hits[start : start + size]
        more = start + size < len(hits)
        children = [{"kind": "t3", "data": s} for s in page]
        listing = _page(children, page[-1]["name"] if page and more else None)
        listing["data"]["facets"] = {}
        return _json(200, listing)


class _QuietServer(ThreadingHTTPServer):
    """A client that timed out and hung up is a fault we injected, not an error to print."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


def _page(children: list[dict[str, Any]], after: str | None) -> dict[str, Any]:
    return {
        "kind": "Listing",
        "data": {
            "after": after,
            "dist": len(children),
            "modhash": "",
            "geo_filter": "",
            "children": children,
            "before": None,
        },
    }


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    return status, {"content-type": "application/json; charset=UTF-8", **(headers or {})}, json.dumps(payload).encode()


def _handler_for(fake: FakeReddit) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes: without this, Nagle and delayed ACKs add 40 ms a request.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _serve(self, method: str) -> None:
            split = urlsplit(self.path)
            params = dict(parse_qsl(split.query, keep_blank_values=True))
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            form = dict(parse_qsl(raw.decode(), keep_blank_values=True)) if raw else {}
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, body, fault = fake.answer(method, split.path, params, form, headers)
            if fault == "slow":
                time.sleep(fake.faults.slow_seconds)
            self.send_response(status)
            for key, value in extra.items():
                self.send_header(key, value)
            self.send_header("content-length", str(len(body)))
            if headers.get("connection", "").lower() == "close":
                # Say so, as real servers do: otherwise the client pools a socket we are about to close
                # and its next request races our close (prawcore sends "Connection: close" for tokens).
                self.send_header("connection", "close")
            self.end_headers()
            if fault == "cut":  # promise the whole body, send half, hang up
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr
            return

    return Handler
