"""Gather the things of many raw responses, by the shape Reddit gives each endpoint.

A *record* is what the raw archive stores: the request (method, url, params,
form), the response (status, headers, body text) and the collector's context.
Each response is read by its shape (WIRE-FORMAT §1–§4, §10): a comment tree is
an array of two Listings, morechildren is ``{"json": {"data": {"things"}}}``,
search and info are one Listing.  Things are chosen by ``kind``, never by which
keys are present.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from schemas import Status
from scraper.errors import InputError
from scraper.normalize.archive import ARCHIVE_ORIGIN, archive_kind, harvest_archive_answer
from scraper.normalize.ids import lower_id
from scraper.normalize.status import GONE_RANK, gone_rank, marked_status
from scraper.sources.endpoints import SEARCH, TOKEN, endpoint_of, subtree_comment

THREAD_PATH = re.compile(r"/comments/([a-z0-9]+)/?$", re.IGNORECASE)


@dataclass
class Seen:
    """One thing as one response showed it."""

    data: dict[str, Any]
    retrieved_at: datetime
    source: str
    depth_is_absolute: bool


@dataclass
class Harvest:
    """Every t3 and t1 seen, the latest sighting of each, and who found which thread."""

    submissions: dict[str, Seen] = field(default_factory=dict)
    comments: dict[str, Seen] = field(default_factory=dict)
    found_by: dict[str, set[str]] = field(default_factory=dict)
    archived_submissions: dict[str, Seen] = field(default_factory=dict)
    """Archive sightings (Arctic Shift), kept apart: Reddit's own answer wins where both exist."""
    archived_comments: dict[str, Seen] = field(default_factory=dict)
    reddit_gone: set[str] = field(default_factory=set)
    served_trees: set[str] = field(default_factory=set)
    """Threads whose comment tree Reddit's API served."""
    """Threads Reddit answered 403/404 for: their archive copies are what is left."""
    stubs_seen: int = 0
    responses: int = 0
    skipped: list[str] = field(default_factory=list)
    fitting: dict[str, Seen] = field(default_factory=dict)
    """Per thing, the sighting of Reddit's that would be kept if only those the models take counted."""
    fitting_archived: dict[str, Seen] = field(default_factory=dict)
    """The same among the archive's sightings (adversarial review 4 F4: the newest that fits wins)."""
    account_gone: set[str] = field(default_factory=set)
    """Things a sighting showed with their account deleted: a removal of one ranks with that deletion."""
    _removals: dict[tuple[str, str], tuple[Seen, int]] = field(default_factory=dict, repr=False)
    """Per thing (in ``comments``/``submissions``, and among those that fit), its newest removal and when it came."""
    _arrived: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)
    """When each kept sighting came (its number among all), which settles ties as arrival order does."""
    _arrivals: int = 0

    def _rank(self, name: str, data: dict[str, Any], kind: str) -> int:
        """:func:`~scraper.normalize.status.gone_rank`, a removal ranking with the account's deletion once a
        sighting showed the thing's account deleted (as the merge does, adversarial review 7 F5)."""
        rank = gone_rank(data, kind)
        if rank == 0 and name in self.account_gone and marked_status(data, kind) == Status.REMOVED:
            return GONE_RANK[Status.ACCOUNT_DELETED.value]
        return rank

    def add(self, kind: str, data: dict[str, Any], seen_at: datetime, source: str, absolute: bool) -> None:
        """Keep the newest sighting of a thing; but one showing a deletion Reddit cannot undo wins over every
        sighting of a lower :data:`~scraper.normalize.status.GONE_RANK`, however much newer (as the merge does)."""
        if not isinstance(data, dict) or "id" not in data:
            return
        name = data.get("name") if isinstance(data.get("name"), str) and data.get("name") else None
        name = lower_id(name or f"{kind}_{data['id']}")  # a name that is not a string (a list, an object) is not a key
        # ids in Reddit's case (normalize/ids.py); the data stays as seen (a quarantined thing's raw JSON)
        table = self.submissions if kind == "t3" else self.comments
        old = table.get(name)
        status = marked_status(data, kind)
        account_now_gone = status == Status.ACCOUNT_DELETED and name not in self.account_gone
        if status == Status.ACCOUNT_DELETED:
            self.account_gone.add(name)
        self._arrivals += 1
        rank = self._rank(name, data, kind)
        if old is None or (rank, seen_at) >= (self._rank(name, old.data, kind), old.retrieved_at):
            absolute = absolute or (old.depth_is_absolute if old and "depth" not in data else False)
            table[name] = Seen(data, seen_at, source, absolute)
            self._arrived[(kind, name)] = self._arrivals
        seen = Seen(data, seen_at, source, absolute)
        good = self.fitting.get(name)
        fitting: bool | None = None  # whether the models take it: asked only where it matters
        if good is None or (rank, seen_at) >= (self._rank(name, good.data, kind), good.retrieved_at):
            fitting = fits(kind, seen)
            if fitting:
                self.fitting[name] = seen
                self._arrived[("fit", name)] = self._arrivals
        if status == Status.REMOVED:  # the newest removal, which ranks higher once the account is seen gone
            if fitting is None:
                fitting = fits(kind, seen)
            for slot, taken in ((kind, True), ("fit", fitting)):
                best = self._removals.get((slot, name))
                if taken and (best is None or seen_at >= best[0].retrieved_at):
                    self._removals[(slot, name)] = (seen, self._arrivals)
        if account_now_gone:  # a removal set aside when it ranked lower may win now (adversarial review 7 F5)
            for slot, kept in ((kind, table), ("fit", self.fitting)):
                removal, current = self._removals.get((slot, name)), kept.get(name)
                if removal is None or current is None:
                    continue
                here = (self._rank(name, removal[0].data, kind), removal[0].retrieved_at, removal[1])
                if here > (self._rank(name, current.data, kind), current.retrieved_at, self._arrived[(slot, name)]):
                    kept[name] = removal[0]
                    self._arrived[(slot, name)] = removal[1]
        if kind == "t3" and source.startswith("file:"):
            self.find(name, source)

    def find(self, thread: str, label: str) -> None:
        """Note that ``label`` (a query or seed) found ``thread``."""
        self.found_by.setdefault(lower_id(thread), set()).add(label)


def fits(kind: str, seen: Seen) -> bool:
    """Whether the models take this sighting (else it is quarantined when it ranks first)."""
    from pydantic import ValidationError

    from scraper.normalize.rows import comment_row, submission_row

    try:
        submission_row(seen, []) if kind == "t3" else comment_row(seen, [], None)
    except (ValidationError, ValueError, TypeError):
        return False
    return True


def harvest_records(records: Iterable[dict[str, Any]], harvest: Harvest | None = None) -> Harvest:
    """Read the things out of raw records into a :class:`Harvest`."""
    harvest = harvest or Harvest()
    for record in records:
        _harvest_one(harvest, record)
    return harvest


def _parse_time(value: str | None) -> datetime | None:
    """When a response arrived, from its record; None when the record does not say (see :func:`_undated`)."""
    if value:
        try:
            parsed = datetime.fromisoformat(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    return None


@dataclass
class _Clock(Harvest):
    """A harvest that keeps only the newest time the things of an answer show (see :func:`_undated`)."""

    newest: datetime | None = None

    def add(self, kind: str, data: dict[str, Any], seen_at: datetime, source: str, absolute: bool) -> None:
        from scraper.normalize.rows import newest_time

        if isinstance(data, dict) and "id" in data:
            when = newest_time(data)
            if when is not None and (self.newest is None or when > self.newest):
                self.newest = when


def _harvest_one(harvest: Harvest, record: dict[str, Any]) -> None:
    url = str(record.get("url") or "")
    label = record.get("label") or url
    endpoint = endpoint_of(record)
    if endpoint == TOKEN:
        return
    status = int(record.get("status") or 200)
    if record.get("origin") == ARCHIVE_ORIGIN or archive_kind(url):
        if status == 200 and "event" not in record:
            harvest_archive_answer(harvest, record, _body_or_none(record), _parse_time(record.get("received_at")))
        return
    if status in (403, 404) and (match := THREAD_PATH.search(url)):
        harvest.reddit_gone.add(f"t3_{match.group(1).lower()}")
    if status != 200:
        harvest.skipped.append(f"{label}: HTTP {status}")
        return
    if "event" in record:
        return  # a collector checkpoint, not a response
    body = record.get("json")
    if body is None:
        try:
            body = json.loads(record.get("body") or "")
        except (ValueError, RecursionError):  # not JSON, or nested past any Reddit answer
            if str(record.get("origin") or "").startswith("file:"):
                raise InputError(f"{label}: the response body is not JSON") from None
            harvest.skipped.append(f"{label}: malformed JSON (retried when collected)")
            return
    seen_at = _parse_time(record.get("received_at"))
    source = str(record.get("origin") or "reddit-api")
    params = record.get("params") or {}
    context = record.get("context") or {}
    if seen_at is None:  # a plain saved body, an answer without a Date: dated by what it shows
        from scraper.normalize.rows import undated_time

        clock = _Clock()
        _harvest_body(clock, body, url, label, endpoint, params, _UNKNOWN, source, context)
        seen_at = undated_time(clock.newest)
    harvest.responses += 1
    _harvest_body(harvest, body, url, label, endpoint, params, seen_at, source, context)


#: A placeholder time, while an undated answer's things are read for the times they show.
_UNKNOWN = datetime(1970, 1, 1, tzinfo=UTC)


def _harvest_body(
    harvest: Harvest,
    body: Any,
    url: str,
    label: Any,
    endpoint: Any,
    params: dict[str, Any],
    seen_at: datetime,
    source: str,
    context: dict[str, Any],
) -> None:
    if isinstance(body, list) and len(body) == 2 and all(_is_listing(x) for x in body):
        _harvest_tree(harvest, body, url, params, seen_at, source, context)
    elif isinstance(body, dict) and isinstance(body.get("json"), dict):
        things = ((body["json"].get("data") or {}).get("things")) or []
        for thing in things:
            _add_thing(harvest, thing, seen_at, source, absolute=True)
    elif _is_listing(body):
        children = body["data"].get("children") or []
        search = _search_label(url, params) if endpoint == SEARCH else None
        for thing in children:
            _add_thing(harvest, thing, seen_at, source, absolute=False)
            data = thing.get("data") if isinstance(thing, dict) else None
            if search and isinstance(data, dict) and thing.get("kind") == "t3" and isinstance(data.get("name"), str):
                harvest.find(data["name"], search)
    else:
        raise InputError(
            f"{label}: not a Reddit API response this tool reads "
            "(expected a comment tree, a morechildren answer or a Listing)"
        )
    if context.get("found_by") and isinstance(body, list) and body[0]["data"].get("children"):
        t3 = body[0]["data"]["children"][0]["data"]
        for found in context["found_by"]:
            harvest.find(t3["name"], found)


def _body_or_none(record: dict[str, Any]) -> Any:
    if "json" in record:
        return record["json"]
    try:
        return json.loads(record.get("body") or "")
    except (ValueError, RecursionError):
        return None


def _is_listing(value: Any) -> bool:
    return isinstance(value, dict) and value.get("kind") == "Listing" and isinstance(value.get("data"), dict)


def search_label(subreddit: str, query: str) -> str:
    """The provenance label of a search: the same whether read from a spec or from a raw record."""
    return f"search:r/{subreddit}:{query}"


def _search_label(url: str, params: dict[str, Any]) -> str | None:
    if "q" not in params:
        return None
    parts = url.split("/r/", 1)
    return search_label(parts[1].split("/", 1)[0] if len(parts) == 2 else "all", str(params["q"]))


def _add_thing(harvest: Harvest, thing: Any, seen_at: datetime, source: str, *, absolute: bool) -> None:
    if not isinstance(thing, dict):
        return
    kind = thing.get("kind")
    if kind in ("t1", "t3"):
        harvest.add(kind, thing.get("data") or {}, seen_at, source, absolute)
    elif kind == "more":
        harvest.stubs_seen += 1


def _harvest_tree(
    harvest: Harvest,
    body: list[Any],
    url: str,
    params: dict[str, Any],
    seen_at: datetime,
    source: str,
    context: dict[str, Any],
) -> None:
    for thing in body[0]["data"].get("children") or []:
        _add_thing(harvest, thing, seen_at, source, absolute=False)
        data = thing.get("data") if isinstance(thing, dict) else None
        if source == "reddit-api" and isinstance(data, dict) and thing.get("kind") == "t3" and data.get("id"):
            harvest.served_trees.add(str(lower_id(data.get("name") or f"t3_{data['id']}")))
    top = body[1]["data"].get("children") or []
    # The permalink and context forms restart depth at 0 (WIRE-FORMAT §2): trust
    # Reddit's depth only in a whole-thread answer.
    relative = (
        subtree_comment(url) is not None
        or "context" in params
        or any(
            isinstance(t, dict) and t.get("kind") == "t1" and str(t["data"].get("parent_id", "")).startswith("t1_")
            for t in top
        )
    )
    stack = list(top)
    while stack:
        thing = stack.pop()
        if not isinstance(thing, dict):
            continue
        if thing.get("kind") == "t1":
            data = dict(thing.get("data") or {})
            replies = data.pop("replies", "")
            _add_thing(harvest, {"kind": "t1", "data": data}, seen_at, source, absolute=not relative)
            if _is_listing(replies):
                stack.extend(replies["data"].get("children") or [])
        elif thing.get("kind") == "more":
            harvest.stubs_seen += 1
