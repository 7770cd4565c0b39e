"""The fake Arctic Shift's HTTP face: posts and comments search, comment trees, id lookups.

Follows ARCTIC-SHIFT-AND-DUMPS.md §1 (the reference wins where this and it differ):

- success is ``{"data": [...]}`` with full archived objects (``_meta`` included);
  failure is ``{"data": null, "error": "..."}``;
- ``limit`` is 1–100 (``auto`` gives 100); anything else is a 400 with
  ``'limit' must be between 1 and 100``; ids lists hold at most 500;
- ``sort`` is ``asc`` or ``desc`` (by ``created_utc``); a request without it
  gets ``desc``, so a client that forgets it pages wrongly;
- ``after`` is exclusive and ``before`` exclusive (``after_inclusive=True``
  makes ``after`` inclusive: the reference does not say which is true);
- ``/api/comments/tree`` nests Reddit-style t1 things (``replies`` ``""`` or a
  Listing); past ``limit`` comments, past ``start_breadth`` replies of one parent
  or below ``start_depth`` levels (both default 4, as documented; what they do is
  not documented, so this is a model) the rest of a parent's replies go into a
  ``kind: "more"`` stub.  Its shape follows the reference's skeleton (§1.2,
  Reddit-style): ``children`` lists the hidden replies of that parent and ``count``
  counts them *and all their descendants*, which no stub lists (``more_rule =
  "reddit"``, the default); ``more_rule = "all"`` lists every hidden id, descendants
  included, with ``count == len(children)`` (the shape this fake had before);
- throttling is HTTP 422 ``"Timeout. Maybe slow down a bit"`` (every
  ``throttle_every``-th request, or queries with ``limit`` above ``heavy_limit``);
  ``error_200_every`` sends the error envelope with HTTP 200; ``tree_cap``
  caps a tree's comments whatever ``limit`` asks;
- every answer carries ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``.

Switchable misbehaviours, for tests of hostile or overloaded servers: ``page_cap``
answers at most that many items a page whatever ``limit`` asks (a server at its
capacity, §1.1 "limit=auto"); ``ignore_after`` answers as if ``after`` had not been
sent; ``ignore_sort`` answers newest first; ``extra_items`` adds items to every
successful answer of a path (an odd item: ``null``, a string, an object without
``id``); ``rate_remaining``/``rate_reset`` may be any header text (``"inf"``).

Requests are logged (path and parameters) so tests and benchmarks can count pages.
"""

from __future__ import annotations

import bisect
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from scraper.fake_arctic_shift.generate import ArchiveStore

THROTTLE = "Timeout. Maybe slow down a bit"
MAX_LIMIT = 100
MAX_IDS = 500


def _created(item: dict[str, Any]) -> int:
    return int(float(item["created_utc"]))


class _Index:
    """Items of one kind by a key (subreddit or link_id), sorted by (created_utc, id)."""

    def __init__(self, items: list[dict[str, Any]], key: str) -> None:
        self.groups: dict[str, tuple[list[int], list[dict[str, Any]]]] = {}
        grouped: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            value = str(item.get(key) or "").lower()
            grouped.setdefault(value, []).append(item)
        for value, group in grouped.items():
            group.sort(key=lambda x: (_created(x), int(x["id"], 36)))
            self.groups[value] = ([_created(x) for x in group], group)

    def window(self, value: str, after: int | None, before: int | None, *, after_inclusive: bool) -> list[Any]:
        times, group = self.groups.get(value.lower(), ([], []))
        lo = 0
        if after is not None:
            lo = bisect.bisect_left(times, after) if after_inclusive else bisect.bisect_right(times, after)
        hi = len(times) if before is None else bisect.bisect_left(times, before)
        return group[lo:hi]


@dataclass
class FakeArcticShift:
    """A fake Arctic Shift API on 127.0.0.1 serving an :class:`ArchiveStore`."""

    store: ArchiveStore
    after_inclusive: bool = False
    throttle_every: int = 0
    error_200_every: int = 0
    heavy_limit: int | None = None
    tree_cap: int | None = None
    rate_remaining: int | str = 1000
    rate_reset: str = "60"
    page_cap: int | None = None
    ignore_after: bool = False
    ignore_sort: bool = False
    #: "reddit": a stub lists the hidden replies, its count includes their descendants; "all": every hidden id
    more_rule: str = "reddit"
    extra_items: dict[str, list[Any]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_sub = _Index(self.store.posts, "subreddit")
        self._by_link = _Index(self.store.comments, "link_id")
        self._posts = {p["id"]: p for p in self.store.posts}
        self._comments = {c["id"]: c for c in self.store.comments}

    # lifecycle --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT``."""
        assert self._server is not None, "start the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeArcticShift:
        """Serve in a background thread."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                split = urlsplit(self.path)
                params = dict(parse_qsl(split.query, keep_blank_values=True))
                status, body = fake.answer(split.path, params)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("X-RateLimit-Remaining", str(fake.rate_remaining))
                self.send_header("X-RateLimit-Reset", fake.rate_reset)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeArcticShift:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def count(self, path: str) -> int:
        """Requests made to one endpoint path."""
        return sum(1 for p, _ in self.requests if p == path)

    # answers ----------------------------------------------------------------------------------

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """The status and JSON body for one request."""
        with self._lock:
            self.requests.append((path, params))
            number = len(self.requests)
        if self.throttle_every and number % self.throttle_every == 0:
            return 422, {"data": None, "error": THROTTLE}
        if self.error_200_every and number % self.error_200_every == 0:
            return 200, {"data": None, "error": "Query timed out"}
        return self._answer(path, params)

    def _served(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        try:
            if path == "/api/posts/search":
                return 200, {"data": self._search(self._by_sub, params.get("subreddit", ""), params)}
            if path == "/api/comments/search":
                link = params.get("link_id", "")
                link = link if link.startswith("t3_") else f"t3_{link}"
                return 200, {"data": self._search(self._by_link, link, params)}
            if path == "/api/comments/tree":
                return 200, {"data": self._tree(params)}
            if path in ("/api/posts/ids", "/api/comments/ids"):
                table = self._posts if path == "/api/posts/ids" else self._comments
                return 200, {"data": self._ids(table, params)}
        except _Refused as exc:
            return exc.status, {"data": None, "error": str(exc)}
        return 404, {"data": None, "error": f"Not found: {path}"}

    def _answer(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        status, body = self._served(path, params)
        if status == 200 and path in self.extra_items:
            body = {**body, "data": [*body["data"], *self.extra_items[path]]}
        return status, body

    def _limit(self, params: dict[str, str], default: int = 25, top: int = MAX_LIMIT) -> int:
        raw = params.get("limit", str(default))
        if raw == "auto":
            return MAX_LIMIT
        try:
            limit = int(raw)
        except ValueError:
            raise _Refused(400, f"'limit' must be between 1 and {top}") from None
        if not 1 <= limit <= top:
            raise _Refused(400, f"'limit' must be between 1 and {top}")
        if self.heavy_limit is not None and limit > self.heavy_limit:
            raise _Refused(422, THROTTLE)
        return limit

    @staticmethod
    def _depth(params: dict[str, str], key: str) -> int:
        """``start_depth``/``start_breadth``: an integer ≥ 0, 4 when absent (documented)."""
        raw = params.get(key, "4")
        try:
            value = int(raw)
        except ValueError:
            raise _Refused(400, f"'{key}' must be an integer >= 0") from None
        if value < 0:
            raise _Refused(400, f"'{key}' must be an integer >= 0")
        return value

    @staticmethod
    def _time(params: dict[str, str], key: str) -> int | None:
        raw = params.get(key)
        if raw in (None, ""):
            return None
        try:
            value = int(float(raw))
        except ValueError:
            raise _Refused(400, f"Invalid date for '{key}'") from None
        return value // 1000 if value > 10**11 else value  # epoch milliseconds are accepted too

    def _search(self, index: _Index, value: str, params: dict[str, str]) -> list[Any]:
        limit = self._limit(params)
        if params.get("sort", "desc") not in ("asc", "desc"):
            raise _Refused(400, "'sort' must be asc or desc")
        value = value.removeprefix("r/")
        after = None if self.ignore_after else self._time(params, "after")
        items = index.window(value, after, self._time(params, "before"), after_inclusive=self.after_inclusive)
        if self.page_cap is not None:
            limit = min(limit, self.page_cap)
        if self.ignore_sort or params.get("sort", "desc") == "desc":
            return list(reversed(items))[:limit]
        return items[:limit]

    def _ids(self, table: dict[str, dict[str, Any]], params: dict[str, str]) -> list[Any]:
        ids = [i.strip().removeprefix("t1_").removeprefix("t3_") for i in params.get("ids", "").split(",") if i.strip()]
        if len(ids) > MAX_IDS:
            raise _Refused(400, f"At most {MAX_IDS} ids")
        return [table[i] for i in ids if i in table]

    def _tree(self, params: dict[str, str]) -> list[Any]:
        link = params.get("link_id", "")
        if not link:
            raise _Refused(400, "'link_id' is required")
        link = link if link.startswith("t3_") else f"t3_{link}"
        limit = self._limit(params, default=50, top=25000)
        if self.tree_cap is not None:
            limit = min(limit, self.tree_cap)  # the service's own limits bite
        _, comments = self._by_link.groups.get(link.lower(), ([], []))
        children: dict[str, list[dict[str, Any]]] = {}
        for comment in comments:
            children.setdefault(str(comment.get("parent_id")), []).append(comment)
        budget = [limit]
        depth_max = self._depth(params, "start_depth")
        breadth_max = self._depth(params, "start_breadth")

        def hidden(items: list[dict[str, Any]]) -> list[str]:
            out: list[str] = []
            stack = list(items)
            while stack:
                item = stack.pop()
                out.append(item["id"])
                stack.extend(children.get(f"t1_{item['id']}", []))
            return out

        def level(parent: str, depth: int) -> list[Any]:
            things: list[Any] = []
            kids = children.get(parent, [])
            for index, kid in enumerate(kids):
                if budget[0] <= 0 or index >= breadth_max or depth >= depth_max:
                    ids = hidden(kids[index:])
                    listed = ids if self.more_rule == "all" else [k["id"] for k in kids[index:]]
                    things.append({"kind": "more", "data": {"count": len(ids), "children": listed}})
                    break
                budget[0] -= 1
                below = level(f"t1_{kid['id']}", depth + 1)
                data = dict(kid)
                data["replies"] = {"kind": "Listing", "data": {"children": below}} if below else ""
                things.append({"kind": "t1", "data": data})
            return things

        return level(link, 0)


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
