"""Turn harvested wire data into schema rows: statuses, timestamps, depth, provenance.

A thing that does not fit the schema is not dropped in silence: it becomes a
:class:`Quarantined` entry naming its fullname and the field at fault, with its
raw JSON, and the rest of the run goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from schemas import Comment, Submission
from scraper.normalize.archive import with_archive
from scraper.normalize.harvest import Harvest, Seen
from scraper.normalize.ids import lower_id
from scraper.normalize.policy import tombstone
from scraper.normalize.status import DELETED, thing_status


@dataclass(frozen=True)
class Quarantined:
    """A thing that did not fit the schema, kept with its raw JSON."""

    name: str
    field: str
    error: str
    raw: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        """The quarantine file's line for this thing."""
        return {"name": self.name, "field": self.field, "error": self.error, "raw": self.raw}


@dataclass
class RowSet:
    """The rows of one snapshot, sorted by fullname, and what was quarantined."""

    submissions: list[Submission] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)


class FieldError(ValueError):
    """A wire value that cannot be converted, naming its field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _utc(data: dict[str, Any], key: str, default: Any = None) -> datetime | None:
    value = data.get(key, default)
    if value is None or value is False:
        return None
    if value is True:  # must not become 1970-01-01T00:00:01
        raise FieldError(key, "true is not a time (expected epoch seconds)")
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise FieldError(key, f"{value!r} is not epoch seconds") from None


def _edited(data: dict[str, Any]) -> tuple[datetime | None, bool]:
    """``(edit time, edited?)``: Reddit sends false, an epoch, or ``true`` for items edited
    before about 2012, when no edit time was stored (WIRE-FORMAT §8; archives 2006-2012).

    Archives also send ``0`` for false, and an integer for true (``1``): an "edit time"
    before the item was created is no edit time, so it reads as edited, time unknown.
    """
    value = data.get("edited", False)
    if value is True:
        return None, True
    when = _utc(data, "edited", False)
    if when is None or when == _EPOCH_ZERO:
        return None, False
    try:
        created = _utc(data, "created_utc")
    except FieldError:  # the row is quarantined for its created_utc, not for this
        created = None
    if created is not None and when < created:
        return None, True
    return when, True


_EPOCH_ZERO = datetime.fromtimestamp(0, tz=UTC)


def newest_time(data: dict[str, Any]) -> datetime | None:
    """The newest time a thing shows, as its row would read it: its ``created_utc`` or its edit time.

    None when it shows neither (or neither is a time, or both are past now: a garbled or hostile time in
    the future would date the whole answer after every real sighting, adversarial review 8 F1).  An answer
    cannot have been fetched before the newest time of what it shows: :func:`undated_time` takes the newest of these.
    """
    try:
        created = _utc(data, "created_utc")
    except FieldError:
        created = None
    try:
        edited, _ = _edited(data)
    except FieldError:
        edited = None
    now = datetime.now(UTC)  # a time past now is no time: nothing can have been fetched in the future
    times = [t for t in (created, edited) if t is not None and t <= now]
    return max(times) if times else None


#: ``retrieved_at`` of an answer with no time of its own that shows no time either (every thing in it lacks a
#: usable ``created_utc``, so the models refuse them all): it only ranks those refused sightings, below every
#: dated one (docs/OPERATIONS.md, "Ingest").
NO_TIME = _EPOCH_ZERO


def undated_time(newest: datetime | None) -> datetime:
    """``retrieved_at`` of an answer whose arrival is not known (a plain saved body, a recorded answer without
    a usable Date header): the earliest moment it can have been fetched, the newest ``created_utc`` or edit
    time of the things it shows (``newest``); :data:`NO_TIME` when it shows none."""
    return NO_TIME if newest is None else newest


def _common(data: dict[str, Any], kind: str, seen: Seen, found_by: list[str]) -> dict[str, Any]:
    author = data.get("author")
    edited, is_edited = _edited(data)
    return {
        "name": lower_id(data.get("name") or f"{kind}_{data.get('id')}"),  # ids in Reddit's case (normalize/ids.py)
        "id": lower_id(data.get("id")),
        "subreddit": data.get("subreddit"),
        "subreddit_id": data.get("subreddit_id"),
        "author": None if author == DELETED else author,
        "author_fullname": data.get("author_fullname"),
        "author_flair_text": data.get("author_flair_text"),
        "created_utc": _utc(data, "created_utc"),
        "edited": edited,
        "is_edited": is_edited,
        "score": data.get("score"),
        "distinguished": data.get("distinguished"),
        "stickied": bool(data.get("stickied", False)),
        "locked": bool(data.get("locked", False)),
        "permalink": data.get("permalink"),
        "status": thing_status(data, kind),
        "retrieved_at": seen.retrieved_at,
        "source": seen.source,
        "found_by": sorted(found_by),
    }


def submission_row(seen: Seen, found_by: list[str]) -> Submission:
    """One submission row from its wire data."""
    data = seen.data
    return Submission(
        **_common(data, "t3", seen, found_by),
        title=data.get("title"),
        selftext=data.get("selftext", ""),
        url=data.get("url"),
        domain=data.get("domain"),
        is_self=bool(data.get("is_self", False)),
        num_comments=data.get("num_comments"),
        upvote_ratio=data.get("upvote_ratio"),
        over_18=bool(data.get("over_18", False)),
        link_flair_text=data.get("link_flair_text"),
        removed_by_category=data.get("removed_by_category"),
    )


def comment_row(seen: Seen, found_by: list[str], depth: int | None) -> Comment:
    """One comment row from its wire data and its computed depth."""
    data = seen.data
    return Comment(
        **_common(data, "t1", seen, found_by),
        link_id=lower_id(data.get("link_id")),
        parent_id=lower_id(data.get("parent_id")),
        depth=depth,
        body=data.get("body"),
        is_submitter=bool(data.get("is_submitter", False)),
        controversiality=data.get("controversiality"),
        collapsed=data.get("collapsed"),
    )


def _depths(comments: dict[str, Seen]) -> dict[str, int | None]:
    """Depth from the parent chain; Reddit's own depth only where the chain is not held."""
    memo: dict[str, int | None] = {}
    for start in comments:
        chain: list[str] = []
        on_chain: set[str] = set()
        name: str | None = start
        base: int | None = None
        while name is not None and name not in memo:
            seen = comments.get(name)
            if seen is None or name in on_chain:  # a parent loop: no depth, as in the streaming build
                name = None
                break
            chain.append(name)
            on_chain.add(name)
            parent = lower_id(str(seen.data.get("parent_id") or ""))
            if parent.startswith("t3_"):
                base, name = -1, None
            elif parent in comments:
                name = parent
            else:
                reddit_depth = seen.data.get("depth")
                if seen.depth_is_absolute and isinstance(reddit_depth, int):
                    base = reddit_depth - 1
                name = None
                break
        if name is not None and name in memo:
            base = memo[name]
        for item in reversed(chain):
            base = None if base is None else base + 1
            memo[item] = base
    return memo


def build_rows(
    harvest: Harvest,
    *,
    keep_thread: Callable[[Seen, list[str]], bool] | None = None,
    archive_text_when_gone: bool = False,
) -> RowSet:
    """Build the snapshot's rows from a harvest.

    ``keep_thread`` decides which submissions (and so which comments) belong to
    the snapshot; comments whose submission was not seen are kept unless a
    filter is given.  A row whose thread nobody searched for is labelled with
    its own source.  Reddit's sighting of an item wins over an archive's; an
    item seen only in an archive is built from it (docs/ARCHIVES.md).
    """
    rows = RowSet()
    kept: set[str] = set()
    served = harvest.served_trees  # a submission seen only in a listing: its comments were not asked for
    submissions, sub_from_archive, sub_refused = _winners(harvest, harvest.submissions, harvest.archived_submissions)
    for name, seen in sorted(submissions.items()):
        found = sorted(harvest.found_by.get(name, set())) or [seen.source]
        if keep_thread is not None and not keep_thread(seen, found):
            continue
        kept.add(name)
        if name in sub_refused:
            rows.quarantined.append(_quarantine(name, *sub_refused[name]))
        try:
            row = with_archive(
                submission_row(seen, found),
                harvest.archived_submissions.get(name),
                from_archive=name in sub_from_archive,
                reddit_asked=name in harvest.reddit_gone,
                text_when_gone=archive_text_when_gone,
            )
            rows.submissions.append(tombstone(row))
        except (ValidationError, ValueError, TypeError) as exc:
            rows.quarantined.append(_quarantine(name, seen, exc))
    comments, com_from_archive, com_refused = _winners(harvest, harvest.comments, harvest.archived_comments)
    depths = _depths(comments)
    for name, seen in sorted(comments.items()):
        link = lower_id(str(seen.data.get("link_id") or ""))
        if link and "_" not in link:  # an archive's bare thread id, as the streaming build reads it
            link = f"t3_{link}"
        if keep_thread is not None and link not in kept:
            continue
        if name in com_refused:
            rows.quarantined.append(_quarantine(name, *com_refused[name]))
        found = sorted(harvest.found_by.get(link, set())) or [seen.source]
        try:
            comment = with_archive(
                comment_row(seen, found, depths.get(name)),
                harvest.archived_comments.get(name),
                from_archive=name in com_from_archive,
                reddit_asked=link in served or link in harvest.reddit_gone,
                text_when_gone=archive_text_when_gone,
            )
            rows.comments.append(tombstone(comment))
        except (ValidationError, ValueError, TypeError) as exc:
            rows.quarantined.append(_quarantine(name, seen, exc))
    return rows


def _winners(
    harvest: Harvest, reddit: dict[str, Seen], archived: dict[str, Seen]
) -> tuple[dict[str, Seen], set[str], dict[str, tuple[Seen, Exception]]]:
    """Per thing, the sighting its row is built from: Reddit's newest that the models take, else the archive's,
    else the first-ranked (Reddit's newest, else the archive's: refused, quarantined).  Also the things built
    from the archive, and the refused first-ranked sightings of things built from another (adversarial review 4 F4).
    """
    chosen: dict[str, Seen] = {}
    from_archive: set[str] = set()
    refused: dict[str, tuple[Seen, Exception]] = {}
    for name in {*reddit, *archived}:
        first = reddit.get(name) or archived[name]
        try:
            submission_row(first, []) if name.startswith("t3_") else comment_row(first, [], None)
        except (ValidationError, ValueError, TypeError) as exc:
            good = harvest.fitting.get(name) if name in reddit else None
            archive_good = harvest.fitting_archived.get(name) if name in archived else None
            pick = good or archive_good
            if pick is not None:
                refused[name] = (first, exc)
                chosen[name] = pick
                if good is None:
                    from_archive.add(name)
                continue
        chosen[name] = first
        if name not in reddit:
            from_archive.add(name)
    return chosen, from_archive, refused


def _quarantine(name: str, seen: Seen, exc: Exception) -> Quarantined:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "?"
        return Quarantined(name, where, first["msg"], seen.data)
    return Quarantined(name, getattr(exc, "field", "?"), str(exc), seen.data)
