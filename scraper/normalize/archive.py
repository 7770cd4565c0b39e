"""Archive objects (Arctic Shift answers, dump lines) made Reddit-shaped, and their deletion facts.

Archive objects are Reddit things as Pushshift or Arctic Shift captured them,
with the field drift of every era (ARCTIC-SHIFT-AND-DUMPS.md §3.3, summarised in
docs/ARCHIVES.md): ``created_utc`` as an int, a float or a string; ``edited``
false, an int, a float or a bare ``true``; ``name``, ``permalink`` and
``author_fullname`` missing for whole eras; ``link_id`` always prefixed, ids
compared case-blind.  :func:`wire_shape` fixes these so that the one row builder
reads archive objects like Reddit's own answers; nothing else is changed, so
real data is never dropped for fitting the schema badly.

:func:`archive_facts` maps the archive's deletion facts (``_meta`` since
2023-11, text markers before) onto our statuses, first match wins (§2):

====================================================  ================  =================
condition                                             archive_status    observed at
====================================================  ================  =================
``was_deleted_later``, removal_type deleted/author    deleted           retrieved_2nd_on
``was_deleted_later``, any other removal_type         removed           retrieved_2nd_on
``was_initially_deleted`` (the markers still decide)  visible           retrieved_2nd_on
text ``[deleted]`` (author too)                       deleted           retrieved_on
text ``[removed]`` (or                                removed/deleted   retrieved_on
``[ Removed by Reddit ]``); post's removed_by_category
author ``[deleted]``, text intact                     account_deleted   retrieved_on
otherwise                                             visible           the later fetch
====================================================  ================  =================
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from schemas import Comment, Status, Submission
from scraper.normalize.status import REMOVED_MARKERS

if TYPE_CHECKING:
    from scraper.normalize.harvest import Harvest, Seen

RowT = TypeVar("RowT", Submission, Comment)

DELETED = "[deleted]"
REMOVED = "[removed]"
AUTHOR_REMOVALS = frozenset({"deleted", "author"})
#: A score is provisional when the archive's last fetch came sooner than this after creation.  The
#: reference (§1.4) has every item fetched at creation and again ~36 h later, when scores and
#: ``num_comments`` are no longer "1 or 0"; its pitfall 1 says "~2 days", which would flag the normal
#: ~36 h re-fetch of every item from 2023-11 on.  24 h lies between the two fetches: a first-fetch
#: value (seconds to minutes after creation: RS 2023-08…10, RS_2024-03, a line never re-fetched) is
#: flagged; the normal re-fetch, even 12 h early, is not.
MATURE_SECONDS = 24 * 3600
#: Months of posts whose archived scores and ``num_comments`` are first-fetch values (reference pitfall 1:
#: mean ``num_comments`` ≈0.23 in RS 2023-08…10; RS_2024-03 mostly ``no_2nd_retrieval``).
FIRST_FETCH_MONTHS = frozenset({"2023-08", "2023-09", "2023-10", "2024-03"})


class DriftError(ValueError):
    """An archive object that cannot be read as a thing, naming the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def epoch(value: Any) -> int | None:
    """Integer epoch seconds from ``created_utc`` as an int, a float or a string; None if unusable."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None


def _edited(value: Any) -> Any:
    """``edited`` as Reddit sends it: false, true or epoch seconds (archives add ints, floats, strings, 0)."""
    if value is None or value is False or value == 0:
        return False
    if value is True:
        return True  # edited before edit times were stored: the row says is_edited with no time
    seconds = epoch(value)
    if seconds is None:
        raise DriftError("edited", f"{value!r} is neither false, true nor epoch seconds")
    return float(value) if not isinstance(value, str) else float(seconds)


def _prefixed(value: Any, prefix: str) -> Any:
    """A fullname from an id or a fullname, in Reddit's case (base-36 ids compare as numbers, §3.3)."""
    if isinstance(value, str) and value.isascii():
        value = value.lower()
    if isinstance(value, str) and value and not value.startswith(("t1_", "t3_")):
        return f"{prefix}{value}"
    return value


#: The schema's flags an archive line may spell as text (hand-made or converted files; real dumps send JSON booleans).
FLAGS = ("stickied", "locked", "is_self", "over_18", "is_submitter")
#: Booleans as text, in the spelling the Arctic Shift API reads them (reference §1.1), case-blind; "" is false.
_TRUE = frozenset({"true", "1", "yes", "y"})
_FALSE = frozenset({"false", "0", "no", "n", ""})


def _flag(field: str, value: Any) -> Any:
    """A flag given as text (``"false"``) as a boolean; other values as they are (the row builder reads them)."""
    if not isinstance(value, str):
        return value
    text = value.strip(" ").lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise DriftError(field, f"{value!r} is not a boolean (true/false, 1/0, yes/no)")


def _parent(parent: Any, link: Any) -> Any:
    """``parent_id`` as a fullname: a bare id equal to the thread's id is the submission (``t3_``), else a comment."""
    bare = isinstance(parent, str) and parent and not parent.startswith(("t1_", "t3_"))
    if bare and isinstance(link, str) and parent.lower() == link.lower().removeprefix("t3_"):
        return _prefixed(parent, "t3_")
    return _prefixed(parent, "t1_")


def wire_shape(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    """A copy of an archive object shaped like Reddit's answer for a ``kind`` (t1 or t3) thing."""
    if not isinstance(obj.get("id"), str) or not obj["id"]:
        raise DriftError("id", "no id: an archive line must carry the thing's base-36 id")
    data = dict(obj)
    thing_id = data["id"].lower() if data["id"].isascii() else data["id"]
    data["id"] = thing_id
    created = epoch(data.get("created_utc"))
    if created is None:
        raise DriftError("created_utc", f"{obj.get('created_utc')!r} is not epoch seconds")
    data["created_utc"] = created
    data["edited"] = _edited(data.get("edited", False))
    meta = data.get("_meta")
    if not data["edited"] and isinstance(meta, dict) and meta.get("is_edited"):
        # ``edited`` is no merged field (reference §2: it keeps the first fetch's false); ``_meta.is_edited``
        # says the text changed between the two fetches: edited, time unknown, as a bare ``true`` reads
        data["edited"] = True
    data["name"] = f"{kind}_{thing_id}"  # keyed on prefix + id (§7): name is missing in whole eras, or differs
    for flag in FLAGS:
        if flag in data:
            data[flag] = _flag(flag, data[flag])
    subreddit = data.get("subreddit")
    if kind == "t1":
        data["parent_id"] = _parent(data.get("parent_id"), data.get("link_id"))
        data["link_id"] = _prefixed(data.get("link_id"), "t3_")
        if not data.get("permalink") and isinstance(data.get("link_id"), str) and subreddit:
            data["permalink"] = f"/r/{subreddit}/comments/{data['link_id'][3:]}/_/{thing_id}/"
    elif not data.get("permalink") and subreddit:
        data["permalink"] = f"/r/{subreddit}/comments/{thing_id}/"
    return data


@dataclass(frozen=True)
class ArchiveFacts:
    """What an archive says about an item's state, and when it last looked."""

    status: Status
    archived_at: datetime | None
    flags: list[str] = field(default_factory=list)

    def columns(self) -> dict[str, Any]:
        """The row's archive columns."""
        return {"archive_status": self.status, "archived_at": self.archived_at, "archive_flags": list(self.flags)}


def _when(value: Any) -> datetime | None:
    seconds = epoch(value)
    if seconds is None or seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def archive_facts(obj: dict[str, Any], kind: str) -> ArchiveFacts:
    """Map an archive object's deletion facts onto our statuses (table in the module docstring)."""
    raw_meta = obj.get("_meta")
    meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    first = _when(obj.get("retrieved_on")) or _when(obj.get("retrieved_utc"))
    second = _when(meta.get("retrieved_2nd_on"))
    flags: list[str] = []
    removal = meta.get("removal_type")
    for key in ("was_deleted_later", "was_initially_deleted", "is_edited"):
        if meta.get(key):
            flags.append(key)
    if removal:
        flags.append(f"removal_type:{removal}")
    if meta.get("note"):
        flags.append(f"note:{meta['note']}")
    latest = max((t for t in (first, second) if t is not None), default=None)
    created = epoch(obj.get("created_utc"))
    if created is not None and (latest is None or latest.timestamp() - created < MATURE_SECONDS):
        flags.append("score_provisional")
    text = obj.get("body") if kind == "t1" else obj.get("selftext")
    author_gone = obj.get("author") == DELETED
    category = obj.get("removed_by_category") if kind == "t3" else None
    if meta.get("was_deleted_later"):
        deleted = str(removal or "") in AUTHOR_REMOVALS
        return ArchiveFacts(Status.DELETED if deleted else Status.REMOVED, second or latest, flags)
    # Back at the second fetch: visible, as the reference maps it, when the text is back too.  The
    # reference also says body/selftext/author keep the first-seen version; where they still hold
    # a marker, the markers decide (a visible row with "[deleted]" text would contradict itself).
    when = (second or latest) if meta.get("was_initially_deleted") else None
    if text == DELETED and (author_gone or kind == "t3"):
        return ArchiveFacts(Status.DELETED, when or first or latest, flags)
    if text in REMOVED_MARKERS or (category and category not in AUTHOR_REMOVALS):
        return ArchiveFacts(Status.REMOVED, when or first or latest, flags)
    if category in AUTHOR_REMOVALS:
        return ArchiveFacts(Status.DELETED, when or first or latest, flags)
    if author_gone:
        return ArchiveFacts(Status.ACCOUNT_DELETED, when or first or latest, flags)
    return ArchiveFacts(Status.VISIBLE, when or latest, flags)


def counts_settled(post: dict[str, Any]) -> bool:
    """Whether an archived post's ``num_comments`` may be believed: False for a first-fetch value.

    That is a post of :data:`FIRST_FETCH_MONTHS`, one whose ``_meta`` says ``no_2nd_retrieval``,
    or one whose last known fetch came less than :data:`MATURE_SECONDS` after its creation.  A
    post with no fetch time at all (some Pushshift eras) is believed, as before.
    """
    created = epoch(post.get("created_utc"))
    if created is None:
        return True
    if datetime.fromtimestamp(min(max(created, 0), 2**33), tz=UTC).strftime("%Y-%m") in FIRST_FETCH_MONTHS:
        return False
    raw_meta = post.get("_meta")
    meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    if meta.get("note") == "no_2nd_retrieval":
        return False
    fetched = [t for t in (_when(post.get(k)) for k in ("retrieved_on", "retrieved_utc")) if t is not None]
    fetched += [t for t in (_when(meta.get("retrieved_2nd_on")),) if t is not None]
    return not fetched or max(fetched).timestamp() - created >= MATURE_SECONDS


# Raw records of Arctic Shift answers -------------------------------------------------------------

ARCHIVE_ORIGIN = "arctic-shift"
_POST_PATHS = ("/api/posts/search", "/api/posts/ids")
_COMMENT_PATHS = ("/api/comments/search", "/api/comments/ids", "/api/comments/tree")


def archive_kind(url: str) -> str | None:
    """``t3`` or ``t1`` for the URL of an Arctic Shift endpoint this tool reads; None otherwise."""
    path = url.split("?", 1)[0].rstrip("/")
    if path.endswith(_POST_PATHS):
        return "t3"
    if path.endswith(_COMMENT_PATHS):
        return "t1"
    return None


def archive_label(subreddit: str) -> str:
    """The provenance label of a thread found by enumerating a subreddit in the archive."""
    return f"archive:r/{subreddit}"


def flatten_tree(things: list[Any]) -> list[dict[str, Any]]:
    """The comments of a ``/api/comments/tree`` answer, ``replies`` removed; ``more`` stubs skipped."""
    comments: list[dict[str, Any]] = []
    stack = list(things)
    while stack:
        thing = stack.pop()
        if not isinstance(thing, dict):
            continue
        data = thing.get("data")
        if thing.get("kind") == "t1" and isinstance(data, dict):
            replies = data.get("replies")
            comments.append({k: v for k, v in data.items() if k != "replies"})
            inner = replies.get("data") if isinstance(replies, dict) else None
            children = inner.get("children") if isinstance(inner, dict) else None
            if isinstance(children, list):  # anything else holds no comment to read
                stack.extend(children)
        elif "kind" not in thing and "id" in thing:
            comments.append(thing)  # a flat item, as the search endpoints send
    return comments


def answer_items(body: Any) -> list[dict[str, Any]] | None:
    """The items of an Arctic Shift answer body; None when it is a failure (``error`` or null ``data``)."""
    if not isinstance(body, dict) or body.get("error") is not None or not isinstance(body.get("data"), list):
        return None
    return flatten_tree(body["data"])


def shaped_items(items: list[Any], kind: str) -> Iterator[dict[str, Any]]:
    """The things of an answer Reddit-shaped; one that cannot be is given as it is (its row build names the field)."""
    for item in items:
        if not isinstance(item, dict) or not item.get("id"):
            continue
        try:
            yield wire_shape(item, kind)
        except DriftError:
            yield dict(item)  # kept as it is: building its row fails and quarantines it, named


def answer_label(params: Any, kind: str) -> str | None:
    """The provenance label of an answer's posts: the subreddit it enumerated, if any."""
    if kind == "t3" and isinstance(params, dict) and params.get("subreddit"):
        return archive_label(str(params["subreddit"]))
    return None


def seed_finds(items: list[Any], kind: str, context: Any) -> list[tuple[str, str]]:
    """Seeds hydrated through ``/api/posts/ids``: each post labelled by its own seed."""
    seeds = context.get("seeds") if isinstance(context, dict) else None
    if kind != "t3" or not seeds:
        return []
    wanted = {str(seed) for seed in seeds}
    found = []
    for item in items:
        ident = str(item.get("id") or "").lower() if isinstance(item, dict) else ""
        if ident and ident in wanted:
            found.append((f"t3_{ident}", f"seed:{ident}"))
    return found


def undated_answer_time(items: list[Any], kind: str) -> datetime:
    """``retrieved_at`` of an archive answer whose record does not say when it arrived: the newest time its
    items show (:func:`~scraper.normalize.rows.undated_time`)."""
    from scraper.normalize.rows import newest_time, undated_time

    times = [t for t in map(newest_time, shaped_items(items, kind)) if t is not None]
    return undated_time(max(times) if times else None)


def harvest_archive_answer(harvest: Harvest, record: dict[str, Any], body: Any, seen_at: datetime | None) -> None:
    """Take in one archived Arctic Shift answer: its items become archive sightings (Reddit's stay apart).

    ``seen_at`` None: the record does not say when it arrived (:func:`undated_answer_time`).
    """
    from scraper.normalize.harvest import Seen, fits

    url = str(record.get("url") or "")
    kind = archive_kind(url)
    items = answer_items(body)
    if kind is None or items is None:
        return  # a failed answer (422, error envelope): retried when collected, nothing to read
    if seen_at is None:
        seen_at = undated_answer_time(items, kind)
    harvest.responses += 1
    label = answer_label(record.get("params"), kind)
    table = harvest.archived_submissions if kind == "t3" else harvest.archived_comments
    for data in shaped_items(items, kind):
        name = str(data.get("name") or f"{kind}_{data['id']}")
        old = table.get(name)
        if old is None or seen_at >= old.retrieved_at:
            table[name] = Seen(data, seen_at, ARCHIVE_ORIGIN, False)
        good = harvest.fitting_archived.get(name)
        if (good is None or seen_at >= good.retrieved_at) and fits(kind, Seen(data, seen_at, ARCHIVE_ORIGIN, False)):
            harvest.fitting_archived[name] = Seen(data, seen_at, ARCHIVE_ORIGIN, False)
        if label is not None:
            harvest.find(name, label)
    for thread, seed in seed_finds(items, kind, record.get("context")):
        harvest.find(thread, seed)


def with_archive(
    row: RowT, archived: Seen | None, *, from_archive: bool, reddit_asked: bool, text_when_gone: bool
) -> RowT:
    """A row with its archive columns; for a row built from the archive, its status by the archive's facts.

    An item Reddit was asked for and no longer serves is ``unavailable`` (so its
    text is withheld) unless the spec allows archive text (``text_when_gone``).
    """
    if archived is None:
        return row
    kind = "t3" if isinstance(row, Submission) else "t1"
    facts = archive_facts(archived.data, kind)
    update: dict[str, Any] = facts.columns()
    if from_archive:
        update["status"] = Status.UNAVAILABLE if reddit_asked and not text_when_gone else facts.status
    return row.model_copy(update=update)
