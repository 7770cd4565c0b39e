"""Archive lines straight to Arrow columns, checked against the schema, with no model object per row.

The dump path (scraper/dumps.py) reads millions of lines; building a Pydantic
object per row would cost more than everything else together.  Here a line
becomes a plain ``dict`` of column values by the same rules as the row
builder (:mod:`scraper.normalize.rows`: statuses from Reddit's markers, the
archive's deletion facts, tombstones, pseudonyms), and every value is checked
against the Arrow schema derived from the models before it enters a batch:
a value of the wrong type quarantines its line, named, instead of failing the
batch.  Tests hold this builder to the model path on generated lines.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from schemas import ARROW_SCHEMAS, Status
from scraper.normalize.archive import DELETED, archive_facts, archive_label, wire_shape
from scraper.normalize.pseudonyms import Pseudonymizer

STEMS = {"t3": "submissions", "t1": "comments"}
_INT64 = 2**63


class RowError(ValueError):
    """A line whose value does not fit a column, naming the column."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _micros(seconds: int | float) -> int:
    return round(float(seconds) * 1_000_000)


def _check_for(field: pa.Field) -> Callable[[Any], Any]:
    """A function that returns a value fit for ``field`` (or raises :class:`RowError`)."""
    name, kind, nullable = field.name, field.type, field.nullable

    def fail(value: Any) -> RowError:
        return RowError(name, f"{name}: {value!r} is not a {kind}")

    if pa.types.is_string(kind):

        def check(value: Any) -> Any:
            if isinstance(value, str) or (value is None and nullable):
                return value
            raise fail(value)
    elif pa.types.is_integer(kind):

        def check(value: Any) -> Any:
            if value is None and nullable:
                return None
            if isinstance(value, int) and not isinstance(value, bool) and -_INT64 <= value < _INT64:
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise fail(value)
    elif pa.types.is_floating(kind):

        def check(value: Any) -> Any:
            if value is None and nullable:
                return None
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
            raise fail(value)
    elif pa.types.is_boolean(kind):

        def check(value: Any) -> Any:
            if isinstance(value, bool) or (value is None and nullable):
                return value
            raise fail(value)
    elif pa.types.is_timestamp(kind):

        def check(value: Any) -> Any:
            if value is None and nullable:
                return None
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            raise fail(value)
    elif pa.types.is_list(kind):

        def check(value: Any) -> Any:
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return value
            raise fail(value)
    else:  # pragma: no cover - a new column type needs a checker here
        raise TypeError(f"no checker for {kind}")
    return check


CHECKS: dict[str, list[tuple[str, Callable[[Any], Any]]]] = {
    stem: [(f.name, _check_for(f)) for f in schema] for stem, schema in ARROW_SCHEMAS.items()
}


def _epoch_or_none(value: Any) -> int | None:
    if value is None or value is False:
        return None
    return _micros(value)


def archive_row(
    obj: dict[str, Any],
    kind: str,
    *,
    source: str,
    pseudonymizer: Pseudonymizer | None = None,
) -> dict[str, Any]:
    """The column values of one archive line (a t3 or t1), checked; :class:`RowError` when one does not fit.

    Timestamps are epoch microseconds.  ``depth`` is 0 for top-level comments and
    null otherwise (a streamed file does not hold the parent chain).  The row's
    status is the archive's (there is no newer Reddit answer in a dump), and
    rows not visible are tombstones (no text, no author), as everywhere.
    """
    try:
        data = wire_shape(obj, kind)
    except ValueError as exc:
        raise RowError(getattr(exc, "field", "?"), str(exc)) from None
    facts = archive_facts(data, kind)
    status = facts.status  # as for a row built from the archive in scraper/normalize/archive.py
    edited = data.get("edited")
    author = data.get("author")
    created = int(data["created_utc"])
    archived = facts.archived_at
    archived_micros = _micros(archived.timestamp()) if archived is not None else None
    subreddit = data.get("subreddit")
    row: dict[str, Any] = {
        "name": data["name"],
        "id": data["id"],
        "subreddit": subreddit,
        "subreddit_id": data.get("subreddit_id"),
        "author": None if author == DELETED else author,
        "author_fullname": data.get("author_fullname"),
        "author_flair_text": data.get("author_flair_text"),
        "created_utc": _micros(created),
        "edited": None if edited is True else _epoch_or_none(edited),
        "is_edited": bool(edited),
        "score": data.get("score"),
        "distinguished": data.get("distinguished"),
        "stickied": bool(data.get("stickied", False)),
        "locked": bool(data.get("locked", False)),
        "permalink": data.get("permalink"),
        "status": status.value,
        "retrieved_at": archived_micros if archived_micros is not None else _micros(created),
        "source": source,
        "found_by": [archive_label(subreddit)] if subreddit else [source],
        "archived_at": archived_micros,
        "archive_status": facts.status.value,
        "archive_flags": facts.flags,
    }
    if kind == "t3":
        row.update(
            title=data.get("title"),
            selftext=data.get("selftext", "") if data.get("selftext") is not None else "",
            url=data.get("url"),
            domain=data.get("domain"),
            is_self=bool(data.get("is_self", False)),
            num_comments=data.get("num_comments"),
            upvote_ratio=data.get("upvote_ratio"),
            over_18=bool(data.get("over_18", False)),
            link_flair_text=data.get("link_flair_text"),
            removed_by_category=data.get("removed_by_category"),
        )
    else:
        parent = data.get("parent_id")
        row.update(
            link_id=data.get("link_id"),
            parent_id=parent,
            depth=0 if isinstance(parent, str) and parent.startswith("t3_") else None,
            body=data.get("body"),
            is_submitter=bool(data.get("is_submitter", False)),
            controversiality=data.get("controversiality"),
            collapsed=data.get("collapsed"),
        )
    if status is not Status.VISIBLE:
        _tombstone(row, kind)
    elif pseudonymizer is not None:
        _pseudonymize(row, kind, pseudonymizer)
    return {name: check(row.get(name)) for name, check in CHECKS[STEMS[kind]]}


def _tombstone(row: dict[str, Any], kind: str) -> None:
    """Mirror of :func:`scraper.normalize.policy.tombstone` on a column dict."""
    prefix = f"/r/{row['subreddit']}" if row["subreddit"] else ""
    row.update(author=None, author_fullname=None, author_flair_text=None)
    if kind == "t3":
        row.update(title="", selftext="", url=None, permalink=f"{prefix}/comments/{row['id']}/")
    else:
        link = str(row.get("link_id") or "")[3:]
        row.update(body="", permalink=f"{prefix}/comments/{link}/_/{row['id']}/")


def _pseudonymize(row: dict[str, Any], kind: str, pseudonymizer: Pseudonymizer) -> None:
    """Mirror of :meth:`Pseudonymizer.row` on a column dict."""
    if row["author"]:
        row["author"] = pseudonymizer.name(row["author"])
    if row["author_fullname"]:
        row["author_fullname"] = pseudonymizer.account(row["author_fullname"])
    for key in ("title", "selftext") if kind == "t3" else ("body",):
        if isinstance(row.get(key), str):
            row[key] = pseudonymizer.text(row[key])


def batch(stem: str, rows: list[dict[str, Any]]) -> pa.RecordBatch:
    """A record batch in the table's schema from checked column dicts."""
    schema = ARROW_SCHEMAS[stem]
    arrays = []
    for field in schema:
        values = [r[field.name] for r in rows]
        if pa.types.is_timestamp(field.type):
            arrays.append(pa.array(values, type=pa.int64()).cast(field.type))
        else:
            arrays.append(pa.array(values, type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
