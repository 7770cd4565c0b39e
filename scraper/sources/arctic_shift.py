"""The Arctic Shift API (httpx): archived posts and comments past Reddit's 1,000-item listings.

Every answer, failed ones included, is appended to the run's raw archive like
Reddit's (``origin: "arctic-shift"``), so ``ingest`` rebuilds a version from it.
The rules follow ``ARCTIC-SHIFT-AND-DUMPS.md`` §1 (summarised in docs/ARCHIVES.md):

- an answer is a failure when it carries an ``error`` key or ``data`` is null,
  whatever its HTTP status;
- throttling comes as HTTP 422 ``"Timeout. Maybe slow down a bit"``: back off
  (long waits, smaller ``limit``); 429 and 5xx and "Query timed out" likewise;
  400 is never retried;
- pacing follows ``X-RateLimit-Remaining`` / ``X-RateLimit-Reset`` (Reset in
  seconds, or an epoch when > 1e9), else "a couple of requests per second";
- searches always send ``sort=asc`` and integer epoch seconds; a page's end is an
  empty page, never a short one; ids go in batches of at most 500.

Paging walks ``created_utc`` (§1.5): the next page starts one second before the
last item seen, so items sharing that second are read again and de-duplicated
by id, whether the server treats ``after`` as inclusive or exclusive.
"""

from __future__ import annotations

import collections
import logging
import math
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from scraper import __version__, httpstop, tls
from scraper.cutoff import Cutoff
from scraper.errors import ArchiveError, BudgetExhausted, TransientError
from scraper.normalize.archive import epoch
from scraper.sources.pacing import Clock, RetryPolicy
from scraper.store.raw import RawArchive

log = logging.getLogger(__name__)

BASE_URL = "https://arctic-shift.photon-reddit.com"
POSTS_SEARCH = "/api/posts/search"
COMMENTS_SEARCH = "/api/comments/search"
COMMENTS_TREE = "/api/comments/tree"
POSTS_IDS = "/api/posts/ids"
COMMENTS_IDS = "/api/comments/ids"
ENDPOINTS = (POSTS_SEARCH, COMMENTS_SEARCH, COMMENTS_TREE, POSTS_IDS, COMMENTS_IDS)
ORIGIN = "arctic-shift"

PAGE_LIMIT = 100  # documented 1–100; "auto" is not a promise of 1000 (§1.1)
MIN_LIMIT = 10
IDS_MAX = 500
TREE_LIMIT = 9999  # "something like 9999 returns all comments"
#: ``start_depth``/``start_breadth`` of a tree request (documented: ≥0, default 4, meaning not documented): sent
#: high, as a client of the service does (99), so a small tree is not folded into ``more`` stubs at depth or
#: breadth 4; whatever still comes folded is fetched all the same (:func:`scraper.collect.archive.archive_comments`).
TREE_START = 99
KEPT_HEADERS = ("content-type", "date", "retry-after", "x-ratelimit-remaining", "x-ratelimit-reset")
#: Messages that mean "too fast or too heavy": retried with backoff and a smaller limit.
THROTTLE_MESSAGES = ("timeout", "slow down", "query timed out", "under maintenance")
DEFAULT_INTERVAL = 0.5  # "a couple of requests per second is fine"
#: The most an answer may hold, decompressed, as for Reddit's (``reddit.MAX_ANSWER_BYTES``): a page of
#: 100 items or a 500-id batch is a few MB at most; past this it is not an answer.
MAX_ANSWER_BYTES = 64 * 2**20


class AnswerTooLarge(Exception):
    """An answer longer than :data:`MAX_ANSWER_BYTES`; a failed request, retried like a network error."""


def _read_body(response: httpx.Response, limit: int) -> None:
    """Read a streamed response's body, refusing one past ``limit`` bytes; ``.content`` then holds it."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes(chunk_size=1 << 16):  # decompressed: what is counted is what is held
        size += len(chunk)
        if size > limit:
            raise AnswerTooLarge(f"an answer longer than {limit:,} bytes, which no Arctic Shift answer is")
        chunks.append(chunk)
    response._content = b"".join(chunks)  # noqa: SLF001 - what httpx's own ``read()`` keeps


@dataclass
class ArchivePacer:
    """Waits between requests from ``X-RateLimit-*``; without them, ``interval`` seconds."""

    clock: Clock = field(default_factory=Clock)
    interval: float = DEFAULT_INTERVAL
    next_at: float = 0.0
    waited: float = 0.0

    def wait(self) -> None:
        """Sleep until the next request may go."""
        delay = self.next_at - self.clock.now()
        if delay > 0:
            self.waited += delay
            self.clock.sleep(delay)

    def update(self, headers: Mapping[str, str], wall_now: float) -> None:
        """Schedule the next request from an answer's headers (Reset: seconds, or an epoch if > 1e9)."""
        now = self.clock.now()
        try:
            remaining = float(headers["x-ratelimit-remaining"])
            reset = float(headers["x-ratelimit-reset"])
        except (KeyError, ValueError):
            remaining = reset = math.nan
        if not (math.isfinite(remaining) and math.isfinite(reset)):  # absent, not a number, inf, nan: the default
            self.next_at = now + self.interval
            return
        if reset > 1e9:
            reset = reset - wall_now
        reset = min(max(reset, 0.0), 3600.0)
        if remaining <= 0:
            self.next_at = now + max(reset, 1.0)
        else:
            self.next_at = now + min(self.interval, reset / (remaining + 1))

    def hold(self, seconds: float) -> None:
        """Make the next request wait at least ``seconds``."""
        self.next_at = max(self.next_at, self.clock.now() + seconds)


#: 422 "Timeout" cleared after minutes, not seconds, in the one report we have (§1.3).
THROTTLE_RETRY = RetryPolicy(max_retries=6, base=15.0, cap=300.0)


class ArcticShiftClient:
    """The Arctic Shift calls a backfill makes: paced, retried, budgeted, every answer archived."""

    def __init__(
        self,
        base_url: str = BASE_URL,
        archive: RawArchive | None = None,
        *,
        run_id: str = "",
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        throttle_retry: RetryPolicy | None = None,
        max_requests: int | None = None,
        deadline: float | None = None,
        timeout: float = 60.0,
        user_agent: str | None = None,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.archive = archive
        self.run_id = run_id
        self.clock = clock or Clock()
        self.pacer = ArchivePacer(self.clock, interval=interval)
        self.retry = retry or RetryPolicy()
        self.throttle_retry = throttle_retry or THROTTLE_RETRY
        self.max_requests = max_requests
        self.deadline = deadline
        self.requests_by_endpoint: collections.Counter[str] = collections.Counter()
        self.faults: collections.Counter[str] = collections.Counter()
        self._tags: dict[str, Any] = {}
        #: the run's deadline holds inside a request too: a server dripping its answer meets it (adv4 F3)
        self.cutoff = Cutoff()
        self._http = httpstop.hardened(  # a stop never leaves its pool's lock waiting for ever (review 10, 1)
            httpx.Client(
                base_url=self.base_url,
                timeout=timeout,
                headers={"User-Agent": user_agent or f"reddit-research-dataset/{__version__} (research backfill)"},
                follow_redirects=True,
                verify=tls.context(),
            )
        )

    def close(self, exc: BaseException | None = None) -> None:
        """Close the HTTP connection pool (on the way out of a stop, ``exc``: within a bound)."""
        httpstop.close(self._http, exc)

    def __enter__(self) -> ArcticShiftClient:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        self.close(exc)

    @property
    def request_count(self) -> int:
        """Requests made so far, all endpoints."""
        return sum(self.requests_by_endpoint.values())

    @contextmanager
    def context(self, **tags: Any) -> Iterator[None]:
        """Tag the archived records of the requests made inside the block."""
        saved = dict(self._tags)
        self._tags.update(tags)
        try:
            yield
        finally:
            self._tags = saved

    def _check_budget(self) -> None:
        if self.max_requests is not None and self.request_count >= self.max_requests:
            raise BudgetExhausted(f"request budget of {self.max_requests} reached; run again to continue.")
        if self.deadline is not None and max(self.clock.now(), self.pacer.next_at) >= self.deadline:
            # the deadline has passed, or would pass while waiting for the next request (a long backoff)
            raise BudgetExhausted("deadline reached; run again to continue.")

    def get(self, path: str, params: dict[str, Any], *, item: str) -> list[Any]:
        """One call: the ``data`` list of its answer, after retries; :class:`ArchiveError` when refused."""
        params = dict(params)
        retries = throttles = 0
        while True:
            self._check_budget()
            self.pacer.wait()
            self.requests_by_endpoint[path.rsplit("/api/", 1)[-1]] += 1
            requested_at = datetime.now(UTC)
            url = f"{self.base_url}{path}"
            try:
                response = self._fetch(path, params)
            except (httpx.HTTPError, AnswerTooLarge) as exc:
                if self.cutoff.fired:
                    raise BudgetExhausted(
                        f"deadline reached during a request to Arctic Shift for {item} ({url}: the answer was "
                        "still coming); run again to continue."
                    ) from None
                log.debug("%s on %s from %s: %s", type(exc).__name__, item, url, exc)
                retries = self._backoff(retries, item, type(exc).__name__, self.retry, url)
                continue
            self._archive(path, params, response, requested_at)
            self.pacer.update(response.headers, datetime.now(UTC).timestamp())
            try:
                body = response.json()
            except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply to parse
                unreadable = "JSON nested too deeply" if isinstance(exc, RecursionError) else "not JSON"
                if response.status_code >= 500 or response.status_code in (200, 422, 429):
                    fault = f"HTTP {response.status_code}, {unreadable}"
                    retries = self._backoff(retries, item, fault, self.retry, url)
                    continue
                raise ArchiveError(
                    f"Arctic Shift refused {item} (HTTP {response.status_code}, {unreadable}); check the request."
                ) from None
            error = body.get("error") if isinstance(body, dict) else "not a JSON object"
            data = body.get("data") if isinstance(body, dict) else None
            if error is None and isinstance(data, list) and response.status_code < 400:
                return data
            message = str(error or f"HTTP {response.status_code} with data {type(data).__name__}")
            status = response.status_code
            if status == 400 or (status < 500 and status not in (200, 422, 429) and not _throttle(message)):
                raise ArchiveError(f"Arctic Shift refused {item}: {message} (HTTP {status}); check dataset.toml.")
            if status in (422, 429) or _throttle(message):
                throttles = self._backoff(throttles, item, f"HTTP {status} {message}", self.throttle_retry, url)
                if "limit" in params and isinstance(params["limit"], int):
                    params["limit"] = max(MIN_LIMIT, params["limit"] // 2)  # "reduce limit" (§1.3)
                continue
            retries = self._backoff(retries, item, f"HTTP {status} {message}", self.retry, url)

    def _fetch(self, path: str, params: dict[str, Any]) -> httpx.Response:
        """One GET, its body read whole: cut off at the deadline, refused past :data:`MAX_ANSWER_BYTES`.

        httpx's timeout is per read, so a server dripping a byte a second meets none: the sockets
        are shut down at the deadline (:class:`Cutoff`), and the caller, seeing ``cutoff.fired``,
        stops the run.  The body is streamed, so an answer that never ends is refused at the
        bound (:class:`AnswerTooLarge`), not held in memory until it runs out.
        """
        with (
            self.cutoff.within(self._seconds_left()),
            self._http.stream("GET", path, params=params, extensions={"trace": self.cutoff.trace}) as response,
        ):
            _read_body(response, MAX_ANSWER_BYTES)
        if self.cutoff.fired:  # an answer cut off can look whole (a body without a length ends at the close)
            raise httpx.ReadError("cut off at the deadline")
        return response

    def _seconds_left(self) -> float | None:
        """Real seconds to the deadline, for the cutoff; None without one, or on a clock that is not real
        time (a test's, which passes only when slept, says nothing of how long a real request may take)."""
        if self.deadline is None or not isinstance(self.clock, Clock):
            return None
        return self.deadline - self.clock.now()

    def _backoff(self, retries: int, item: str, fault: str, policy: RetryPolicy, url: str) -> int:
        self.faults[fault] += 1
        retries += 1
        if retries > policy.max_retries:
            raise TransientError(
                f"Arctic Shift kept failing on {item} ({fault} from {url}, {retries} attempts: "
                f"{policy.max_retries} retr{'y' if policy.max_retries == 1 else 'ies'}); run the same command later."
            )
        wait = policy.backoff(retries)
        log.warning("Arctic Shift: %s from %s on %s; retry %d in %.1f s", fault, url, item, retries, wait)
        self.pacer.hold(wait)
        return retries

    def _archive(self, path: str, params: dict[str, Any], response: httpx.Response, requested_at: datetime) -> None:
        if self.archive is None:
            return
        self.archive.append(
            {
                "run": self.run_id,
                "origin": ORIGIN,
                "requested_at": requested_at.isoformat(),
                "received_at": datetime.now(UTC).isoformat(),
                "method": "GET",
                "url": f"{self.base_url}{path}",
                "params": {k: str(v) for k, v in params.items()},
                "status": response.status_code,
                "headers": {k: response.headers[k] for k in KEPT_HEADERS if k in response.headers},
                "body": response.text,
                "context": dict(self._tags),
            }
        )

    # The endpoints -----------------------------------------------------------------------------

    def search_posts(self, subreddit: str, after: int, before: int, *, limit: int = PAGE_LIMIT) -> list[Any]:
        """One page of a subreddit's posts created in [after, before), oldest first."""
        params = {"subreddit": subreddit, "after": after, "before": before, "sort": "asc", "limit": limit}
        return self.get(POSTS_SEARCH, params, item=f"posts of r/{subreddit} after {after}")

    def search_comments(self, link_id: str, after: int, before: int, *, limit: int = PAGE_LIMIT) -> list[Any]:
        """One page of a thread's comments created in [after, before), oldest first."""
        params = {"link_id": link_id, "after": after, "before": before, "sort": "asc", "limit": limit}
        return self.get(COMMENTS_SEARCH, params, item=f"comments of {link_id} after {after}")

    def comment_tree(self, link_id: str, *, limit: int = TREE_LIMIT) -> list[Any]:
        """A thread's comments as a nested tree of t1 things and ``more`` stubs."""
        params = {"link_id": link_id, "limit": limit, "start_depth": TREE_START, "start_breadth": TREE_START}
        return self.get(COMMENTS_TREE, params, item=f"comment tree of {link_id}")

    def posts_by_id(self, ids: list[str]) -> list[Any]:
        """Posts by base-36 id, in batches of at most 500."""
        return self._by_ids(POSTS_IDS, ids, "posts")

    def comments_by_id(self, ids: list[str]) -> list[Any]:
        """Comments by base-36 id, in batches of at most 500."""
        return self._by_ids(COMMENTS_IDS, ids, "comments")

    def _by_ids(self, path: str, ids: list[str], what: str) -> list[Any]:
        found: list[Any] = []
        for start in range(0, len(ids), IDS_MAX):
            batch = ids[start : start + IDS_MAX]
            found.extend(self.get(path, {"ids": ",".join(batch)}, item=f"{len(batch)} {what} by id"))
        return found


def _throttle(message: str) -> bool:
    lowered = message.lower()
    return any(m in lowered for m in THROTTLE_MESSAGES)


#: A base-36 id, with or without its kind's prefix (``t1_``/``t3_``), as the archive's items carry them.
_ID = re.compile(r"(?:t[13]_)?[0-9a-z]+")


def item_id(item: Any) -> str | None:
    """An archive item's base-36 id (lower case, no prefix); None for anything that is not an object with one."""
    if not isinstance(item, dict):
        return None
    ident = item.get("id")
    if not isinstance(ident, str) or not ident.isascii() or not _ID.fullmatch(ident.lower()):
        return None
    return ident.lower().removeprefix("t1_").removeprefix("t3_")


@dataclass
class TimeWalk:
    """A walk over ``[start, end)`` by ``created_utc``, one page at a time, resumable from its state (§1.5).

    Each page asks for items after ``cursor``; the next page starts one second
    before the last item read (or at it, once the server has shown that
    ``after`` is inclusive by answering items of the second it was given), so
    the boundary second alone is read again and its items are de-duplicated by
    id (``seen`` holds only the ids of that second).  Every page that spans
    seconds thus splits what is left of the window at its last item.

    When a whole page lies inside one second (time cannot split it further), the
    walk moves past that second and records it in ``gaps`` as a possible gap: at
    once when the page was full (as many rows as asked, or as the server's
    capacity, once known), else as soon as a later page shows that the server
    holds items after that second (a short page is then the server's capacity,
    not the end: ``capacity`` learns its size).  An empty page is the only end
    signal.  Known limit: a short page inside the last second that holds items,
    with no page before it cut short, looks like an honest server's end (no gap).

    A server that does not honour the request ends the walk with
    :class:`ArchiveError`, never an endless walk: an item created before the
    ``after`` asked for (``after`` ignored), items not oldest first (``sort``
    ignored), or a page without one usable item.  Items that are not objects with
    a base-36 ``id`` and a ``created_utc`` are skipped and counted in ``odd``.
    """

    start: int
    end: int
    cursor: int | None = None
    seen: dict[str, int] = field(default_factory=dict)
    pages: int = 0
    rows: int = 0
    duplicates: int = 0
    done: bool = False
    gaps: list[int] = field(default_factory=list)
    page_size: int = PAGE_LIMIT
    after_inclusive: bool | None = None
    capacity: int | None = None
    #: the last short page's [last second, rows, 1 if it lay inside one second], until a later page says what it was
    short: list[int] | None = None
    odd: int = 0

    def __post_init__(self) -> None:
        if self.cursor is None:
            self.cursor = self.start - 1  # ``after`` may be exclusive: ask from one second early

    def step(self, fetch: Callable[[int, int], list[Any]], what: str = "items") -> list[dict[str, Any]]:
        """Ask for one page; return its items not seen before, inside [start, end).

        ``what`` names the walk in errors (``"posts of r/x"``).
        """
        assert self.cursor is not None
        if self.done or self.cursor >= self.end:
            self.done = True
            return []
        cursor = self.cursor
        rows = fetch(cursor, self.end)
        self.pages += 1
        if not rows:
            self.done = True  # a short page before this one was the end, not the server's capacity
            return []
        self.rows += len(rows)
        usable: list[tuple[int, str, dict[str, Any]]] = []
        for row in rows:
            key = item_id(row)
            created = epoch(row.get("created_utc")) if key is not None else None
            if key is None or created is None:
                self.odd += 1
                continue
            if created < cursor:
                raise ArchiveError(
                    f"Arctic Shift answered {what} created at {created}, before the after={cursor} it was asked for:"
                    " the server does not honour `after`, so the walk cannot go on (what was read is kept);"
                    " check the archive URL ([archive] url or --archive-url)."
                )
            if usable and created < usable[-1][0]:
                raise ArchiveError(
                    f"Arctic Shift answered {what} after={cursor} not oldest first (sort=asc):"
                    " the walk cannot go on (what was read is kept); check the archive URL."
                )
            usable.append((created, key, row))
        if not usable:
            raise ArchiveError(
                f"Arctic Shift answered {what} after={cursor} with {len(rows)} items, none an object with an id"
                " and a created_utc: the walk cannot go on (what was read is kept); check the archive URL."
            )
        if len(usable) < len(rows):
            skipped = len(rows) - len(usable)
            log.warning("Arctic Shift: %d items without an id or a creation time skipped in %s", skipped, what)
        if self.short is not None:  # what the short page before this one was
            second, count, inside = self.short
            if usable[-1][0] > second:  # the server holds items past it: that page was its capacity, not the end
                self.capacity = max(self.capacity or 0, count)
                if inside:
                    self._gap(second, what)
            self.short = None
        new: list[dict[str, Any]] = []
        last = cursor
        for created, key, row in usable:
            last = max(last, created)
            if created == cursor:
                self.after_inclusive = True  # the server answered the second we named: `after` includes it
            if key in self.seen:
                self.duplicates += 1
            elif self.start <= created < self.end:
                self.seen[key] = created
                new.append(row)
        full = len(rows) >= min(self.page_size, self.capacity or self.page_size)
        inside = usable[0][0] == last  # the whole page lies inside one second: time cannot split it
        if inside:
            if full:  # the rest of that second cannot be asked for
                self._gap(last, what)
            nxt = last + 1 if self.after_inclusive else last  # past that second
        else:
            # re-read the boundary second: for an exclusive `after` from the second before it, else from it
            nxt = (last if self.after_inclusive else last - 1) if new else last
        if not full:  # the end, or the server's capacity: the next page tells (``short``)
            self.short = [last, len(rows), int(inside)]
        self.cursor = max(nxt, cursor + 1)
        self.seen = {k: v for k, v in self.seen.items() if v >= self.cursor}
        return new

    def _gap(self, second: int, what: str) -> None:
        if second not in self.gaps[-2:]:
            self.gaps.append(second)
            log.warning("Arctic Shift: more %s at %d than one page holds; some may be missed", what, second)

    def walk(self, fetch: Callable[[int, int], list[Any]], what: str = "items") -> Iterator[dict[str, Any]]:
        """Every remaining item, page after page."""
        while not self.done:
            yield from self.step(fetch, what)

    def state(self) -> dict[str, Any]:
        """The walk's state as JSON, to checkpoint and resume."""
        return {
            "start": self.start,
            "end": self.end,
            "cursor": self.cursor,
            "seen": self.seen,
            "pages": self.pages,
            "rows": self.rows,
            "duplicates": self.duplicates,
            "done": self.done,
            "gaps": self.gaps,
            "page_size": self.page_size,
            "after_inclusive": self.after_inclusive,
            "capacity": self.capacity,
            "short": self.short,
            "odd": self.odd,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TimeWalk:
        """A walk continued from :meth:`state`."""
        return cls(**state)


def more_ids(tree: list[Any]) -> list[str]:
    """The ids held by the ``more`` stubs of a tree answer, at any depth."""
    return more_stubs(tree)[0]


def more_stubs(tree: list[Any]) -> tuple[list[str], int]:
    """The ids the ``more`` stubs of a tree answer list, and how many comments they hide in all.

    A stub is Reddit-style (reference §1.2): ``children`` lists ids loadable directly and
    ``count`` counts the comments hidden, their descendants included (``count >= len(children)``),
    so the ids alone may bring only part of what a stub hides.  A stub without a usable ``count``
    hides at least its listed ids.
    """
    found: list[str] = []
    hidden = 0
    stack = list(tree)
    while stack:
        thing = stack.pop()
        if not isinstance(thing, dict) or not isinstance(thing.get("data"), dict):
            continue
        if thing.get("kind") == "more":
            listed = thing["data"].get("children")
            ids = [str(c) for c in listed] if isinstance(listed, list) else []
            found.extend(ids)
            count = thing["data"].get("count")
            usable = isinstance(count, int) and not isinstance(count, bool) and 0 <= count < 2**31
            hidden += max(count if usable else 0, len(ids))
        else:
            replies = thing["data"].get("replies")
            inner = replies.get("data") if isinstance(replies, dict) else None
            children = inner.get("children") if isinstance(inner, dict) else None
            if isinstance(children, list):
                stack.extend(children)
    return found, hidden
