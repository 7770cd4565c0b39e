"""Stage one of the streaming build: every thing seen, one row per sighting, written in bounded batches.

A *sighting* is one submission or comment as one response showed it.  Records
(the raw archive's, ingest's) are read by their shape as Reddit gives each
endpoint (WIRE-FORMAT §1–§4, §10): a comment tree is an array of two Listings,
morechildren is ``{"json": {"data": {"things"}}}``, search and info are one
Listing; things are chosen by ``kind``, never by which keys are present.

Each sighting becomes a row of the schema's columns (depth and ``found_by``
are left to the merge, which sees every sighting) plus bookkeeping columns:
the de-duplication key, a sequence number (a later sighting wins a tie), the
thread, the parent and Reddit's own depth where it can be trusted, and the
verdict of validation (a quarantined sighting carries its field, error and raw
JSON).  Rows are buffered up to ``batch_rows`` and written as one row group of
a staging Parquet file, so memory does not grow with the input.

Two ways in, one result (``tests/test_fastpath.py``):

- the fast path decodes a response with msgspec into :mod:`scraper.normalize.wire`
  (only the fields the rows need, strictly typed) and builds Arrow columns
  from the values, with no per-row model or dict;
- the model path, taken by any document the fast path refuses, builds each
  thing through the Pydantic models (``submission_row``/``comment_row``), so
  validation, conversion and quarantine are the models' own.
"""

from __future__ import annotations

import gc
import json
import math
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import ValidationError

from schemas import ARROW_SCHEMAS, Status
from scraper.errors import InputError, arrow_too_large, first_line
from scraper.normalize import runs, wire
from scraper.normalize.archive import (
    ARCHIVE_ORIGIN,
    ArchiveFacts,
    answer_items,
    answer_label,
    archive_facts,
    archive_kind,
    seed_finds,
    shaped_items,
    undated_answer_time,
)
from scraper.normalize.harvest import THREAD_PATH, Seen, search_label
from scraper.normalize.ids import lower_id, lower_ids, lowered_ids
from scraper.normalize.repair import json_line, repair_fields, repair_text
from scraper.normalize.rows import FieldError, comment_row, newest_time, submission_row, undated_time
from scraper.normalize.status import AUTHOR_CATEGORIES, DELETED, REMOVED_MARKERS, marked_status
from scraper.store import writers

STEMS = {"t3": "submissions", "t1": "comments"}
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

#: Bookkeeping columns of a staging row, after the schema's own.
EXTRA_FIELDS = [
    pa.field("_key", pa.string()),
    pa.field("_seq", pa.int64()),
    pa.field("_link", pa.string()),
    pa.field("_parent", pa.string()),
    pa.field("_rdepth", pa.int64()),
    pa.field("_pre", pa.bool_()),
    pa.field("_qfield", pa.string()),
    pa.field("_qerror", pa.string()),
    pa.field("_qraw", pa.string()),
    pa.field("_arch", pa.bool_()),
]


#: Reasons in ``stats.not_kept`` for entries of a children list (a Listing's, a comment's replies',
#: a morechildren answer's things) that are no thing to keep.  Only the model path meets them: the
#: fast path's wire types hold t1, t3 and more alone, so a document with any other entry goes there.
NOT_OBJECTS = "things that are not JSON objects"
OTHER_KINDS = "things of a kind not read in their list (a t3 among replies, a t5, no kind)"


def staging_schema(stem: str) -> pa.Schema:
    """The schema's columns, all nullable (a quarantined sighting has none), and the bookkeeping columns."""
    own = [pa.field(f.name, f.type, nullable=True) for f in ARROW_SCHEMAS[stem]]
    return pa.schema(own + EXTRA_FIELDS)


STAGING = {stem: staging_schema(stem) for stem in STEMS.values()}
FOUND_SCHEMA = pa.schema([pa.field("thread", pa.string()), pa.field("label", pa.string())])
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch of acyclic objects is made; restored in ``finally``.

    Decoding a batch makes hundreds of thousands of strings, tuples and lists, none in a
    cycle; each generation-0 collection would scan them all again, and the full collections
    it triggers rescan everything alive.  Reference counting frees them when the batch is
    written, so pausing the collector for the batch loses nothing.  It is resumed on exit,
    exceptions included, and left alone if the caller had already disabled it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


#: At most this many lines say what was skipped (the counts by reason are complete).
MAX_SKIPPED = 1000
#: Sequence numbers a part may use (see :meth:`Sightings.part`).
PART_SEQ = 2**40


class _Abort(Exception):
    """The fast path met a value it does not convert itself: the document takes the model path."""


@dataclass
class SightingStats:
    """What stage one saw besides the things themselves."""

    responses: int = 0
    stubs_seen: int = 0
    skipped: list[str] = field(default_factory=list)
    not_kept: Counter[str] = field(default_factory=Counter)
    repaired: Counter[str] = field(default_factory=Counter)
    sightings: Counter[str] = field(default_factory=Counter)
    gone: set[str] = field(default_factory=set)
    """Threads Reddit answered 403 or 404 for: what an archive holds of them is all that is left."""
    served: set[str] = field(default_factory=set)
    """Threads whose comment tree Reddit's API served: an archive comment missing there is gone from Reddit."""
    escaping: Counter[str] = field(default_factory=Counter)
    """Answers by how their strings were HTML-escaped (see :meth:`Sightings.add_document`)."""
    archived: int = 0
    """Sightings taken from archive answers."""


@dataclass
class _Segment:
    """Consecutive fast rows of one document: they share time, source and depth trust."""

    count: int
    seq: int
    seen_at: datetime
    source: str
    absolute: bool
    facts: list[ArchiveFacts] | None = None
    """An archive's segment: its facts about each thing, in row order."""


class Sightings:
    """Stage one: takes records, documents or single things; writes staging Parquet in batches."""

    def __init__(self, workdir: Path, *, batch_rows: int = 32768, archive: bool = False) -> None:
        self.workdir = workdir
        self.batch_rows = batch_rows
        self.archive = archive
        """Read Arctic Shift answers (a spec with an ``[archive]`` section); otherwise they are counted, not kept."""
        self.stats = SightingStats()
        self.seq = 0
        self._fast: dict[str, list[tuple[Any, ...]]] = {"t1": [], "t3": []}
        self._segments: dict[str, list[_Segment]] = {"t1": [], "t3": []}
        self._slow: dict[str, list[dict[str, Any]]] = {"t1": [], "t3": []}
        self._found: list[tuple[str, str]] = []
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._runs: dict[str, list[pa.RecordBatch]] = {}  # a table's sightings not yet written as a run
        self.files: dict[str, list[Path]] = {}
        self._parts = 0
        self._undated = False
        """An undated document is being read through the models (see :meth:`_undated_model_document`)."""
        self._newest: datetime | None = None

    # ---- ways in -------------------------------------------------------------------------------

    def add_records(self, records: Iterable[dict[str, Any]]) -> None:
        """Read raw records (the archive's, or ingest's) into sightings."""
        for record in records:
            self.add_record(record)

    def add_record(self, record: Any, *, decoded: Any = None) -> bool:
        """One raw record: request, response status and body (text or parsed), collector context.

        ``decoded`` is the body already decoded into :data:`wire.Tree` (a caller that decoded
        the whole file in one pass); when it does not fit the fast path, nothing is taken and
        False is returned, so the caller can give the record again with its body.
        """
        if not isinstance(record, dict):
            self._skip("records that are not JSON objects", "record", detail="not a JSON object")
            return True
        url = str(record.get("url") or "")
        label = str(record.get("label") or url)
        if url.rstrip("/").endswith("/access_token"):
            return True  # the collector's own authentication, not data
        if "event" in record:
            return True  # a collector checkpoint, not a response
        try:
            status = int(record.get("status") or 200)
        except (TypeError, ValueError):
            self._skip("records whose status is not a number", label, detail="status is not a number")
            return True
        if record.get("origin") == ARCHIVE_ORIGIN or archive_kind(url):
            if not self.archive:
                self.stats.not_kept["archive answers (Arctic Shift; built by collect with an [archive] section)"] += 1
            elif status == 200:
                self._archive_answer(record, url)
            return True  # a failed archive answer was retried when collected: nothing to read
        if status in (403, 404) and (match := THREAD_PATH.search(url)):
            self.stats.gone.add(f"t3_{match.group(1).lower()}")
        if status != 200:
            self._note(f"{label}: HTTP {status}")
            self.stats.not_kept[f"HTTP {status} responses"] += 1
            return True
        params = record.get("params")
        context = record.get("context")
        body = record["json"] if "json" in record else record.get("body")
        if body is None:
            body = ""
        return self.add_document(
            body,
            url=url,
            params=params if isinstance(params, dict) else {},
            seen_at=parse_time(record.get("received_at")),
            source=str(record.get("origin") or "reddit-api"),
            context=context if isinstance(context, dict) else {},
            label=label,
            decoded=decoded,
            escaping=str(record.get("escaping") or ""),
        )

    def add_document(
        self,
        body: bytes | str | Any,
        *,
        url: str,
        params: dict[str, Any],
        seen_at: datetime | None,
        source: str,
        context: dict[str, Any] | None = None,
        label: str = "",
        strict: bool = False,
        decoded: Any = None,
        escaping: str = "",
    ) -> bool:
        """One response body (JSON text or parsed) seen at ``seen_at``; False only for a ``decoded`` misfit.

        ``seen_at`` None: when the answer arrived is not known (a plain saved body, a recorded
        answer without a usable Date header); its sightings are dated the earliest moment it can
        have been fetched, the newest ``created_utc`` or edit time of the things it shows
        (:func:`~scraper.normalize.rows.undated_time`), so that any sighting dated later wins.
        Text that is not JSON is counted and skipped, or with ``strict`` (a file the user
        gave) raises :class:`~scraper.errors.InputError` naming ``label``.  ``decoded``: see
        :meth:`add_record`.  ``escaping``: how the answer's strings were HTML-escaped, counted in
        ``stats.escaping`` (``unescaped``: recorded without ``raw_json=1``, unescaped by ingest;
        ``unknown``: a plain body, which does not say).
        """
        source = repair_text(source, self.stats.repaired, "source")
        context = context or {}
        if escaping:
            self.stats.escaping[escaping] += 1
        with collector_paused():
            if self._fast_document(body, url, params, seen_at, source, context, decoded):
                self.stats.responses += 1
                self._maybe_flush()
                return True
            if decoded is not None:
                return False
            if isinstance(body, bytes | str):
                try:
                    parsed = json.loads(body)
                except RecursionError:
                    if strict:
                        raise InputError(f"{label}: JSON nested too deeply to be a Reddit response") from None
                    self._skip("responses nested too deeply to read", label, detail="nested too deeply")
                    return True
                except ValueError as exc:
                    if strict:
                        raise InputError(
                            f"{label}: not JSON ({exc}); give Reddit API responses saved as JSON"
                        ) from None
                    self._skip("response bodies that are not JSON", label, detail="malformed JSON")
                    return True
            else:
                parsed = body
            if seen_at is None:
                kept = self._undated_model_document(parsed, url, params, source, context, label)
            else:
                kept = self._model_document(parsed, url, params, seen_at, source, context, label)
            if kept:
                self.stats.responses += 1
            self._maybe_flush()
            return True

    def _undated_model_document(
        self, body: Any, url: str, params: dict[str, Any], source: str, context: dict[str, Any], label: str
    ) -> bool:
        """An undated document through the models: its rows held unwritten until the newest time its things
        show is known, then dated by it (:func:`~scraper.normalize.rows.undated_time`)."""
        start = {kind: len(rows) for kind, rows in self._slow.items()}
        self._newest = None
        self._undated = True
        try:
            kept = self._model_document(body, url, params, _EPOCH, source, context, label)
        finally:
            self._undated = False
        when = undated_time(self._newest)
        for kind, rows in self._slow.items():
            for row in rows[start[kind] :]:
                row["retrieved_at"] = when
        return kept

    def add_things(
        self,
        things: Iterable[bytes | str | dict[str, Any]],
        *,
        kind: str,
        seen_at: datetime,
        source: str,
        depth_is_absolute: bool = False,
    ) -> None:
        """Single things of one ``kind`` (``t1``/``t3``), each a JSON object's text or a dict of its fields.

        The way in for archive dumps, one wire object per line.
        """
        if kind not in STEMS:
            raise ValueError(f"kind must be t1 or t3, not {kind!r}")
        source = repair_text(source, self.stats.repaired, "source")
        decoder = wire.T1_DECODER if kind == "t1" else wire.T3_DECODER
        struct = wire.T1Data if kind == "t1" else wire.T3Data
        self._start_document(seen_at, source)
        with collector_paused():
            for item in things:
                try:
                    data = wire.decode(item, decoder, struct)
                    self._emit(kind, data, absolute=depth_is_absolute)
                except (*wire.NotFast, _Abort):
                    parsed: Any = item
                    if isinstance(item, bytes | str):
                        try:
                            parsed = json.loads(item)
                        except (ValueError, RecursionError):
                            self._skip("lines that are not JSON", source, detail="a line that is not JSON")
                            continue
                    self._model_thing(kind, parsed, seen_at, source, absolute=depth_is_absolute)
                    continue
                if len(self._fast[kind]) >= self.batch_rows:
                    self.flush()

    def add_rows(self, stem: str, table: pa.Table) -> None:
        """Rows of an earlier version, to be merged with what is seen now (a newer sighting wins)."""
        for batch in table.to_batches(max_chunksize=self.batch_rows):
            n = batch.num_rows
            columns: dict[str, pa.Array] = {name: batch.column(name) for name in batch.schema.names}
            for field_name in ("id", "name", "link_id", "parent_id"):  # a version written before ids were lowered
                if field_name in columns:
                    columns[field_name] = lower_ids(columns[field_name])
            names = columns["name"]
            extra = {
                "_key": names,
                "_seq": pa.array(range(self.seq, self.seq + n), pa.int64()),
                "_link": columns["link_id"] if stem == "comments" else names,
                "_parent": columns["parent_id"] if stem == "comments" else pa.nulls(n, pa.string()),
                "_rdepth": columns["depth"] if stem == "comments" else pa.nulls(n, pa.int64()),
                "_pre": pa.array([True] * n, pa.bool_()),
            }
            self.seq += n
            self._write(stem, _batch(stem, {**columns, **extra}, n))
            if stem == "submissions":
                for name, labels in zip(names.to_pylist(), columns["found_by"].to_pylist(), strict=True):
                    self._found.extend((name, label) for label in labels or [])

    # ---- the fast path -----------------------------------------------------------------------------

    def _fast_document(
        self,
        body: Any,
        url: str,
        params: dict[str, Any],
        seen_at: datetime | None,
        source: str,
        context: dict[str, Any],
        decoded: Any = None,
    ) -> bool:
        """Take a document through the fast path; False (nothing kept) when it does not fit."""
        try:
            doc, shape = (decoded, "tree") if decoded is not None else _fast_decode(body)
        except (*wire.NotFast, _Abort, ValueError):
            return False
        start = {kind: len(rows) for kind, rows in self._fast.items()}
        seq, stubs, found = self.seq, self.stats.stubs_seen, len(self._found)
        try:
            self._fast_walk(doc, shape, url, params, _EPOCH if seen_at is None else seen_at, source, context)
        except _Abort:
            for kind, rows in self._fast.items():
                del rows[start[kind] :]
                while self._segments[kind] and self._segments[kind][-1].seq >= seq:
                    self._segments[kind].pop()
            self.seq, self.stats.stubs_seen = seq, stubs
            del self._found[found:]
            return False
        if seen_at is None:  # undated: its segments (all of this document's own) dated by what it shows
            newest = max(
                (_newest_epoch(kind, rows[start[kind] :]) for kind, rows in self._fast.items()),
                key=lambda t: -math.inf if t is None else t,
            )
            when = undated_time(None if newest is None else datetime.fromtimestamp(newest, tz=UTC))
            for segments in self._segments.values():
                for segment in segments:
                    if segment.seq >= seq:
                        segment.seen_at = when
        return True

    def _fast_walk(
        self,
        doc: Any,
        shape: str,
        url: str,
        params: dict[str, Any],
        seen_at: datetime,
        source: str,
        context: dict[str, Any],
    ) -> None:
        self._start_document(seen_at, source)
        if shape == "tree":
            head, comments = doc
            for thing in head.data.children or ():
                self._emit_thing(thing, absolute=False)
                if source == "reddit-api" and type(thing) is wire.T3Thing:
                    self.stats.served.add(lower_id(thing.data.name or f"t3_{thing.data.id}"))
            top = comments.data.children or ()
            relative = (
                "/_/" in url
                or "context" in params
                or any(type(t) is wire.T1Thing and t.data.parent_id.startswith("t1_") for t in top)
            )
            self._emit_comments(top, absolute=not relative)
            found = context.get("found_by")
            children = head.data.children
            if found and children and type(children[0]) is wire.T3Thing and isinstance(children[0].data.name, str):
                if not isinstance(found, list | tuple):
                    raise _Abort
                self._found.extend((children[0].data.name, self._label(str(label))) for label in found)
        elif shape == "more":
            for thing in (doc.json.data.things if doc.json.data else None) or ():
                self._emit_thing(thing, absolute=True)
        else:
            search = _search_label(url, params)
            search = self._label(search) if search else None
            for thing in doc.data.children or ():
                self._emit_thing(thing, absolute=False)
                if search and type(thing) is wire.T3Thing:
                    if not isinstance(thing.data.name, str):
                        raise _Abort
                    self._found.append((thing.data.name, search))

    def _emit_comments(self, top: Any, *, absolute: bool) -> None:
        """A tree's comments, depth first, into one segment: :meth:`_emit` inlined (the hot loop of a build)."""
        seen_at, source, _ = self._doc
        segment = self._current["t1"]
        if segment is None or segment.absolute != absolute or segment.seq + segment.count != self.seq:
            segment = _Segment(0, self.seq, seen_at, source, absolute)
        rows = self._fast["t1"]
        before = len(rows)
        astuple = msgspec.structs.astuple
        comment, listing = wire.T1Thing, wire.T1Listing
        stubs = 0
        stack = list(top)
        while stack:
            thing = stack.pop()
            if type(thing) is comment:
                data = thing.data
                rows.append(astuple(data))
                replies = data.replies
                if type(replies) is listing:
                    stack.extend(replies.data.children or ())
            else:
                stubs += 1
        count = len(rows) - before
        self.stats.stubs_seen += stubs
        if count:
            if segment is not self._current["t1"]:
                self._segments["t1"].append(segment)
                self._current["t1"] = segment
            segment.count += count
            self.seq += count

    def _start_document(self, seen_at: datetime, source: str) -> None:
        self._doc = (seen_at, source, source.startswith("file:"))
        self._current: dict[str, _Segment | None] = {"t1": None, "t3": None}

    def _emit_thing(self, thing: Any, *, absolute: bool) -> None:
        kind_type = type(thing)
        if kind_type is wire.MoreThing:
            self.stats.stubs_seen += 1
            return
        self._emit("t1" if kind_type is wire.T1Thing else "t3", thing.data, absolute=absolute)

    def _emit(self, kind: str, data: Any, *, absolute: bool, facts: ArchiveFacts | None = None) -> None:
        """Append one decoded thing to the fast buffer, in the document's current segment.

        ``facts``: an archive's item, with the archive's facts about it.
        """
        seen_at, source, from_file = self._doc
        segment = self._current[kind]
        if (
            segment is None
            or segment.absolute != absolute
            or segment.seq + segment.count != self.seq
            or (segment.facts is None) != (facts is None)
        ):
            segment = _Segment(0, self.seq, seen_at, source, absolute, None if facts is None else [])
            self._segments[kind].append(segment)
            self._current[kind] = segment
        if facts is not None and segment.facts is not None:
            segment.facts.append(facts)
            self.stats.archived += 1
        self._fast[kind].append(msgspec.structs.astuple(data))
        segment.count += 1
        self.seq += 1
        if kind == "t3" and from_file:
            self._found.append((data.name or f"t3_{data.id}", source))

    # ---- archive answers ---------------------------------------------------------------------------

    def _archive_answer(self, record: dict[str, Any], url: str) -> None:
        """One Arctic Shift answer: each item an archive sighting, ranked below every Reddit sighting.

        Items are made Reddit-shaped (:func:`~scraper.normalize.archive.wire_shape`) and built
        through the models; the archive's deletion facts go in the archive columns, and the
        merge decides the row's status from them (docs/ARCHIVES.md).
        """
        kind = archive_kind(url)
        if "json" in record:
            body = record["json"]
        else:
            try:
                body = json.loads(record.get("body") or "")
            except (ValueError, RecursionError):
                body = None
        items = answer_items(body)
        if kind is None or items is None:
            return  # a failed answer (422, error envelope): retried when collected, nothing to read
        self.stats.responses += 1
        label = answer_label(record.get("params"), kind)
        seen_at = parse_time(record.get("received_at")) or undated_answer_time(items, kind)
        struct = wire.T1Data if kind == "t1" else wire.T3Data
        self._start_document(seen_at, ARCHIVE_ORIGIN)
        with collector_paused():
            for data in shaped_items(items, kind):
                try:  # the fast path, where every field has the type the models take as it is
                    fast = msgspec.convert(data, struct, strict=True)
                except wire.NotFast:
                    self._model_thing(kind, data, seen_at, ARCHIVE_ORIGIN, absolute=False, archived=True)
                else:
                    facts = archive_facts(data, kind)
                    if facts.flags:  # a note may hold a lone surrogate, as any archived text
                        flags = [repair_text(flag, self.stats.repaired, "archive_flags") for flag in facts.flags]
                        facts = ArchiveFacts(facts.status, facts.archived_at, flags)
                    self._emit(kind, fast, absolute=False, facts=facts)
                if label is not None:
                    self._found.append((self._name(kind, data), self._label(label)))
                self._maybe_flush()
        self._found.extend(
            (thread, self._label(seed)) for thread, seed in seed_finds(items, kind, record.get("context"))
        )

    def _name(self, kind: str, data: dict[str, Any]) -> str:
        """The key :meth:`_model_thing` gives a thing."""
        value = data.get("name") or f"{kind}_{data['id']}"
        key = lower_id(value) if isinstance(value, str) else json.dumps(value, default=str)
        return repair_text(key, self.stats.repaired, "name")

    # ---- the model path ----------------------------------------------------------------------------

    def _model_document(
        self,
        body: Any,
        url: str,
        params: dict[str, Any],
        seen_at: datetime,
        source: str,
        context: dict[str, Any],
        label: str,
    ) -> bool:
        if isinstance(body, list) and len(body) == 2 and all(_is_listing(x) for x in body):
            for thing in _children(body[0]):
                self._model_any(thing, seen_at, source, absolute=False)
                data = thing.get("data") if isinstance(thing, dict) else None
                if source == "reddit-api" and isinstance(data, dict) and thing.get("kind") == "t3" and "id" in data:
                    self.stats.served.add(self._name("t3", data))
            top = _children(body[1])
            relative = (
                "/_/" in url
                or "context" in params
                or any(
                    isinstance(t, dict)
                    and t.get("kind") == "t1"
                    and isinstance(t.get("data"), dict)
                    and str(t["data"].get("parent_id", "")).startswith("t1_")
                    for t in top
                )
            )
            stack = list(top)
            while stack:
                thing = stack.pop()
                if not isinstance(thing, dict):  # null, 5, "x" in a children list: counted, never lost (F12)
                    self.stats.not_kept[NOT_OBJECTS] += 1
                    continue
                if thing.get("kind") == "t1":
                    data = thing.get("data") or {}
                    if isinstance(data, dict):
                        data = dict(data)
                        replies = data.pop("replies", "")
                        if _is_listing(replies):
                            stack.extend(_children(replies))
                    self._model_any({"kind": "t1", "data": data}, seen_at, source, absolute=not relative)
                elif thing.get("kind") == "more":
                    self.stats.stubs_seen += 1
                else:
                    self.stats.not_kept[OTHER_KINDS] += 1
            found = context.get("found_by")
            head = _children(body[0])
            if found and head and isinstance(head[0], dict) and isinstance(head[0].get("data"), dict):
                name = head[0]["data"].get("name")
                if isinstance(name, str):
                    labels = found if isinstance(found, list) else [found]
                    name = repair_text(name, self.stats.repaired, "name")
                    self._found.extend((name, self._label(str(x))) for x in labels)
            return True
        if isinstance(body, dict) and isinstance(body.get("json"), dict):
            data = body["json"].get("data")
            things = data.get("things") if isinstance(data, dict) else None
            for thing in things if isinstance(things, list) else []:
                self._model_any(thing, seen_at, source, absolute=True)
            return True
        if _is_listing(body):
            search = _search_label(url, params)
            search = self._label(search) if search else None
            for thing in _children(body):
                self._model_any(thing, seen_at, source, absolute=False)
                if search and isinstance(thing, dict) and thing.get("kind") == "t3":
                    data = thing.get("data")
                    name = data.get("name") if isinstance(data, dict) else None
                    if isinstance(name, str):
                        self._found.append((repair_text(name, self.stats.repaired, "name"), search))
            return True
        self._skip(
            "responses that are not a comment tree, a morechildren answer or a Listing",
            label,
            detail="not a Reddit API response this tool reads (a comment tree, a morechildren answer or a Listing)",
        )
        return False

    def _model_any(self, thing: Any, seen_at: datetime, source: str, *, absolute: bool) -> None:
        if not isinstance(thing, dict):
            self.stats.not_kept[NOT_OBJECTS] += 1
            return
        kind = thing.get("kind")
        if kind in ("t1", "t3"):
            self._model_thing(str(kind), thing.get("data") or {}, seen_at, source, absolute=absolute)
        elif kind == "more":
            self.stats.stubs_seen += 1
        else:
            self.stats.not_kept[OTHER_KINDS] += 1

    def _model_thing(
        self, kind: str, data: Any, seen_at: datetime, source: str, *, absolute: bool, archived: bool = False
    ) -> None:
        """One thing through the models: a row, or a quarantined sighting naming the field at fault.

        ``archived``: an archive's item, which carries the archive's facts about it.
        """
        if not isinstance(data, dict) or "id" not in data:
            self.stats.not_kept["things without an id"] += 1
            return
        fixed = lowered_ids(repair_fields(data, self.stats.repaired))  # ids in Reddit's case (F1)
        if self._undated:
            when = newest_time(fixed)
            if when is not None and (self._newest is None or when > self._newest):
                self._newest = when
        key = self._name(kind, fixed)
        if kind == "t3" and source.startswith("file:"):
            self._found.append((key, source))
        seen = Seen(fixed, seen_at, source, absolute)
        link = key if kind == "t3" else repair_text(str(fixed.get("link_id") or ""), self.stats.repaired, "link_id")
        if kind == "t1" and link and "_" not in link:  # an archive's bare thread id, as its shaped sightings have it
            link = f"t3_{link}"
        parent = repair_text(str(fixed.get("parent_id") or ""), self.stats.repaired, "parent_id")
        reddit_depth = fixed.get("depth")
        rdepth = int(reddit_depth) if absolute and isinstance(reddit_depth, int) else None  # bool is an int there too
        if rdepth is not None and not INT64_MIN <= rdepth <= INT64_MAX:
            rdepth = None
        row: dict[str, Any]
        try:
            model = submission_row(seen, []) if kind == "t3" else comment_row(seen, [], None)
            row = model.model_dump(mode="python")
            for name, value in row.items():
                if isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
                    raise FieldError(name, f"{value} does not fit a 64-bit integer")
            row.pop("depth", None)
            row.pop("found_by")
            row["status"] = str(row["status"])
        except (ValidationError, ValueError, TypeError) as exc:
            where, message = _quarantine_reason(exc)
            marked = marked_status(fixed, kind)
            row = {
                "retrieved_at": seen_at,
                "source": source,
                "status": None if marked is None else marked.value,  # its markers still rank it in the merge (F6)
                "_qfield": where,
                "_qerror": message,
                "_qraw": json_line(data),
            }
            if kind == "t3":  # the thread filter reads title and selftext even of a quarantined thread
                for text in ("title", "selftext"):
                    value = fixed.get(text)
                    row[text] = value if isinstance(value, str) else None
        row.update(_key=key, _seq=self.seq, _link=link, _parent=parent, _rdepth=rdepth, _pre=False)
        if archived:
            facts = archive_facts(data, kind)
            row.update(
                archive_status=str(facts.status),
                archived_at=facts.archived_at,
                archive_flags=[repair_text(f, self.stats.repaired, "archive_flags") for f in facts.flags],
                _arch=True,
            )
            self.stats.archived += 1
        self.seq += 1
        self._slow[kind].append(row)
        if len(self._slow[kind]) >= self.batch_rows and not self._undated:  # an undated document's rows: dated first
            self.flush()

    def _label(self, label: str) -> str:
        return repair_text(label, self.stats.repaired, "found_by")

    def _skip(self, reason: str, label: str, *, detail: str) -> None:
        self.stats.not_kept[reason] += 1
        self._note(f"{label}: {detail}")

    def _note(self, line: str) -> None:
        if len(self.stats.skipped) < MAX_SKIPPED:
            self.stats.skipped.append(line)

    # ---- writing ---------------------------------------------------------------------------------

    def _maybe_flush(self) -> None:
        if any(len(rows) >= self.batch_rows for rows in self._fast.values()):
            self.flush()

    def flush(self) -> None:
        """Write what is buffered as row groups of the staging files."""
        for kind, stem in STEMS.items():
            if self._fast[kind]:
                for rows, segments in _by_text(kind, self._fast[kind], self._segments[kind]):
                    try:
                        batch = _fast_batch(kind, rows, segments, self.stats.repaired)
                    except pa.ArrowException as exc:
                        if not arrow_too_large(exc):
                            raise
                        raise _too_large(kind, _fast_items(kind, rows, segments), exc) from None
                    self._write(stem, batch)
                self.stats.sightings[stem] += len(self._fast[kind])
            self._fast[kind] = []
            self._segments[kind] = []
            if hasattr(self, "_current"):
                self._current[kind] = None  # a document cut by this flush goes on in a new segment
            if self._slow[kind]:
                try:
                    batch = pa.RecordBatch.from_pylist(self._slow[kind], schema=STAGING[stem])
                except pa.ArrowException as exc:
                    if not arrow_too_large(exc):
                        raise
                    raise _too_large(kind, [(row, str(row.get("source"))) for row in self._slow[kind]], exc) from None
                self._write(stem, batch)
                self.stats.sightings[stem] += len(self._slow[kind])
            self._slow[kind] = []
        if self._found:
            threads, labels = zip(*self._found, strict=True)
            found = {"thread": [lower_id(t) for t in threads], "label": labels}
            self._write("found", _batch_of(FOUND_SCHEMA, found, len(threads), None))  # labels counted when made
            self._found = []

    def _write(self, stem: str, batch: pa.RecordBatch) -> None:
        if stem in STAGING:  # a table's sightings: buffered, then written sorted as one run
            self._runs.setdefault(stem, []).append(batch)
            held = self._runs[stem]
            if sum(b.num_rows for b in held) >= runs.RUN_ROWS or sum(b.nbytes for b in held) >= runs.RUN_BYTES:
                self._write_run(stem)
            return
        writer = self._writers.get(stem)
        if writer is None:
            path = self.workdir / f"{stem}.staging.parquet"
            # no dictionary: staging strings are mostly unique, and DuckDB reads plain pages faster
            writer = pq.ParquetWriter(
                path, batch.schema, compression="lz4", use_dictionary=False, write_statistics=False
            )
            self._writers[stem] = writer
            self.files.setdefault(stem, []).append(path)
        writers.write_batch(writer, self.workdir / f"{stem}.staging.parquet", batch)

    def _write_run(self, stem: str) -> None:
        batches = self._runs.pop(stem, [])
        if not batches:
            return
        paths = self.files.setdefault(stem, [])
        path = self.workdir / f"{stem}.run-{len(paths):05d}.arrow"
        runs.write_run(path, pa.Table.from_batches(batches))
        paths.append(path)

    def close(self) -> dict[str, list[Path]]:
        """Flush and close the staging files; return them by stem (``submissions``, ``comments``, ``found``).

        A table's staging files are sorted runs (:mod:`scraper.normalize.runs`).
        """
        try:
            self.flush()
            for stem in list(self._runs):
                self._write_run(stem)
            for stem, writer in list(self._writers.items()):
                del self._writers[stem]
                writers.close(writer, self.workdir / f"{stem}.staging.parquet")
        except BaseException:
            self.discard()  # a full disk: no writer left open for the garbage collector to close at exit
            raise
        return {stem: list(paths) for stem, paths in self.files.items()}

    def discard(self) -> None:
        """Give up what is not yet written (a failed or abandoned build): every writer closed, never raising."""
        for writer in self._writers.values():
            writers.abandon(writer)
        self._writers = {}
        self._runs = {}

    # ---- parts read elsewhere ------------------------------------------------------------------------

    def part(self, index: int) -> tuple[Path, int]:
        """The work folder and first sequence number of part ``index`` (a worker's own :class:`Sightings`).

        Parts are numbered in input order; each numbers its sightings from ``index`` × 2⁴⁰ on,
        past everything seen here before, so a later input still wins every tie.
        """
        return self.workdir / f"part-{index:06d}", self.seq + index * PART_SEQ

    def absorb(self, results: Sequence[tuple[dict[str, list[Path]], SightingStats]]) -> None:
        """Take over the staging files and counts of parts ``0..len(results)-1``, given in input order."""
        self.flush()
        for files, stats in results:
            for stem, paths in files.items():
                self.files.setdefault(stem, []).extend(paths)
            self.stats.responses += stats.responses
            self.stats.stubs_seen += stats.stubs_seen
            for line in stats.skipped:
                self._note(line)
            self.stats.not_kept.update(stats.not_kept)
            self.stats.repaired.update(stats.repaired)
            self.stats.sightings.update(stats.sightings)
            self.stats.gone.update(stats.gone)
            self.stats.served.update(stats.served)
            self.stats.escaping.update(stats.escaping)
            self.stats.archived += stats.archived
        self.seq += len(results) * PART_SEQ


def _fast_decode(body: Any) -> tuple[Any, str]:
    if isinstance(body, bytes | str):
        head = body.lstrip()[:1]
        if head in (b"[", "["):
            return wire.TREE_DECODER.decode(body), "tree"
        if head not in (b"{", "{"):
            raise _Abort
        try:
            return wire.LISTING_DECODER.decode(body), "listing"
        except wire.NotFast:
            return wire.MORE_DECODER.decode(body), "more"
    if isinstance(body, list):
        return msgspec.convert(body, wire.Tree, strict=True), "tree"
    if isinstance(body, dict):
        if "json" in body:
            return msgspec.convert(body, wire.MoreChildren, strict=True), "more"
        return msgspec.convert(body, wire.Listing, strict=True), "listing"
    raise _Abort


#: Characters of text (bodies, selftexts, titles) in one batch of fast rows at most: 4 bytes a character at
#: worst, well inside the 2 GiB an Arrow string array holds (adversarial review 4 F2: 50 MiB selftexts).
BATCH_TEXT = 128 << 20


def _by_text(
    kind: str, rows: list[tuple[Any, ...]], segments: list[_Segment]
) -> Iterator[tuple[list[tuple[Any, ...]], list[_Segment]]]:
    """``rows`` and their segments, in consecutive pieces of at most :data:`BATCH_TEXT` characters of text."""
    fields = wire.T1_FIELDS if kind == "t1" else wire.T3_FIELDS
    texts = [fields.index("body")] if kind == "t1" else [fields.index("selftext"), fields.index("title")]
    sizes = [sum(map(len, map(itemgetter(i), rows))) for i in texts]  # strict decoding: always str
    if sum(sizes) <= BATCH_TEXT:  # the usual case: one batch
        yield rows, segments
        return
    start, held = 0, 0
    for end, row in enumerate(rows):
        size = sum(len(row[i]) for i in texts)
        if end > start and held + size > BATCH_TEXT:
            yield rows[start:end], _segments_of(segments, start, end)
            start, held = end, 0
        held += size
    yield rows[start:], _segments_of(segments, start, len(rows))


#: Bytes one text value holds at most: an Arrow ``string`` array's (32-bit offsets), which a Parquet file's
#: string column is read into.
ARROW_STRING_BYTES = (1 << 31) - 2


def _too_large(kind: str, items: list[tuple[dict[str, Any], str]], exc: BaseException) -> InputError:
    """The error for a batch of things Arrow refused as more text than it holds: it names the thing with
    the largest text value (its fullname, the field, its size and the file it came from) and what to do."""
    texts = (
        (len(value.encode("utf-8", "surrogatepass")), key, data, source)
        for data, source in items
        for key, value in data.items()
        if isinstance(value, str)
    )
    size, field_name, data, source = max(texts, key=itemgetter(0), default=(0, "text", {}, "?"))
    name = data.get("name") or f"{kind}_{data.get('id')}"
    if size > ARROW_STRING_BYTES:
        why = f"more than one text value can hold ({ARROW_STRING_BYTES:,} bytes, Arrow's limit)"
    else:  # several large texts together (first_line(exc) says how much)
        why = f"the largest of texts that together pass what Arrow holds ({first_line(exc)})"
    if source.startswith(("file:", "dump:")):  # a file given to ingest or dumps
        where = source.partition(":")[2]
        return InputError(
            f"{name} in {where}: its {field_name} is {size:,} bytes, {why}; "
            f"remove the item from {where} (or cut its {field_name}) and run the same command again"
        )
    return InputError(  # Reddit's answers (a collect, a refresh, a rebuild from the raw archive)
        f"{name} from {source}: its {field_name} is {size:,} bytes, {why}; nothing was written. "
        f"Report it; purge {name} (--allow-missing) keeps it out of the next runs"
    )


def _fast_items(kind: str, rows: list[tuple[Any, ...]], segments: list[_Segment]) -> list[tuple[dict[str, Any], str]]:
    """Each fast row as its fields by name, with the source it came from (for naming it in an error)."""
    fields = wire.T1_FIELDS if kind == "t1" else wire.T3_FIELDS
    sources = [segment.source for segment in segments for _ in range(segment.count)]
    return [(dict(zip(fields, row, strict=True)), source) for row, source in zip(rows, sources, strict=True)]


def _segments_of(segments: list[_Segment], start: int, end: int) -> list[_Segment]:
    """The segments of rows ``start`` to ``end`` (segments count the rows in order)."""
    out, at = [], 0
    for segment in segments:
        low, high = max(start, at), min(end, at + segment.count)
        if low < high:
            facts = None if segment.facts is None else segment.facts[low - at : high - at]
            skip = low - at
            out.append(
                _Segment(high - low, segment.seq + skip, segment.seen_at, segment.source, segment.absolute, facts)
            )
        at += segment.count
    return out


def _fast_batch(
    kind: str, rows: list[tuple[Any, ...]], segments: list[_Segment], repaired: Counter[str]
) -> pa.RecordBatch:
    """Arrow columns straight from the decoded values of one batch of things."""
    fields = wire.T1_FIELDS if kind == "t1" else wire.T3_FIELDS
    values = dict(zip(fields, zip(*rows, strict=True), strict=True))
    n = len(rows)
    names = lower_ids(
        _strings(
            [name or f"{kind}_{ident}" for name, ident in zip(values["name"], values["id"], strict=True)],
            repaired,
            "name",
        )
    )  # converted once: it is the key and, for a submission, the thread too; ids in Reddit's case (F1)
    seen = [s for s in segments if s.count]
    seq: list[int] = []
    retrieved: list[int] = []  # microseconds: pyarrow converts a datetime object ~100x slower than an int
    sources: list[pa.Array] = []
    absolute: list[bool] = []
    facts: list[ArchiveFacts | None] = []
    for s in seen:
        seq.extend(range(s.seq, s.seq + s.count))
        retrieved.extend([(s.seen_at - _EPOCH) // _MICRO] * s.count)
        sources.append(pa.repeat(pa.scalar(s.source, pa.string()), s.count))
        absolute.extend([s.absolute] * s.count)
        facts.extend(s.facts if s.facts is not None else [None] * s.count)
    text_field = "body" if kind == "t1" else "selftext"
    text = _strings(values[text_field], repaired, text_field)
    author = _strings(values["author"], repaired, "author")
    category = _strings(values["removed_by_category"], repaired, "removed_by_category") if kind == "t3" else None
    moderated = _moderated(values["removed"], values["spam"], values["banned_by"])
    status, author_gone = _statuses(text, author, category, moderated)
    created = _timestamps(values["created_utc"])
    edited, is_edited = _edits(values["edited"], created)
    columns: dict[str, Any] = {
        "name": names,
        "id": lower_ids(pa.array(values["id"], pa.string())),
        "subreddit": values["subreddit"],
        "subreddit_id": values["subreddit_id"],
        "author": pc.if_else(author_gone, pa.scalar(None, pa.string()), author),
        "author_fullname": values["author_fullname"],
        "author_flair_text": values["author_flair_text"],
        "created_utc": created,
        "edited": edited,
        "is_edited": is_edited,
        "score": values["score"],
        "distinguished": values["distinguished"],
        "stickied": [v is True for v in values["stickied"]],
        "locked": [v is True for v in values["locked"]],
        "permalink": values["permalink"],
        "status": status,
        "retrieved_at": pa.array(retrieved, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "source": pa.concat_arrays(sources) if sources else pa.array([], pa.string()),
        "_key": names,
        "_seq": seq,
        "_pre": pa.array([False] * n, pa.bool_()),
    }
    if any(f is not None for f in facts):
        columns.update(
            archive_status=[None if f is None else str(f.status) for f in facts],
            archived_at=[None if f is None else f.archived_at for f in facts],
            archive_flags=[None if f is None else list(f.flags) for f in facts],
            _arch=[f is not None for f in facts],
        )
    if kind == "t1":
        link = lower_ids(_strings(values["link_id"], repaired, "link_id"))
        parent = lower_ids(_strings(values["parent_id"], repaired, "parent_id"))
        columns.update(
            link_id=link,
            parent_id=parent,
            body=text,
            is_submitter=[v is True for v in values["is_submitter"]],
            controversiality=values["controversiality"],
            collapsed=values["collapsed"],
            _link=link,
            _parent=parent,
            _rdepth=[d if a and type(d) is int else None for d, a in zip(values["depth"], absolute, strict=True)],
        )
    else:
        columns.update(
            title=values["title"],
            selftext=text,
            url=values["url"],
            domain=values["domain"],
            is_self=[v is True for v in values["is_self"]],
            num_comments=values["num_comments"],
            upvote_ratio=values["upvote_ratio"],
            over_18=[v is True for v in values["over_18"]],
            link_flair_text=values["link_flair_text"],
            removed_by_category=category,
            _link=names,
        )
    return _batch(STEMS[kind], columns, n, repaired)


def _edits(values: Sequence[bool | float | None], created: pa.Array) -> tuple[pa.Array, list[bool]]:
    """``edited`` and ``is_edited`` columns, as :func:`scraper.normalize.rows._edited` makes them.

    ``true`` and an epoch before the item's creation (archives send ``1`` for true): edited,
    time unknown; ``false``, null and ``0``: not edited.
    """
    times = [None if e is None or e is True or e is False or e == 0 else e for e in values]
    edited = _timestamps(times)
    is_edited = [not (e is None or e is False or (e is not True and e == 0)) for e in values]
    early = pc.fill_null(pc.less(edited, created), False)
    if pc.any(early).as_py():
        edited = pc.if_else(early, pa.scalar(None, edited.type), edited)
    return edited, is_edited


def _strings(values: Sequence[str | None], repaired: Counter[str], name: str) -> pa.Array:
    """A string column; a lone surrogate (msgspec lets some through) becomes U+FFFD, counted under ``name``."""
    try:
        return pa.array(values, pa.string())
    except (UnicodeEncodeError, pa.ArrowInvalid):
        return pa.array([None if v is None else repair_text(v, repaired, name) for v in values], pa.string())


def _moderated(
    removed: Sequence[bool | None], spam: Sequence[bool | None], banned_by: Sequence[str | bool | None]
) -> pa.Array | None:
    """:func:`~scraper.normalize.status.moderator_removed` of each thing; None when no thing has a moderator's flags.

    (fa, adversarial review 3 F1: a moderator's view of a removed or spam-filtered thing.)
    """
    n = len(removed)
    if removed.count(None) == n and spam.count(None) == n and banned_by.count(None) == n:
        return None  # not a moderator's view: the usual case, no Python loop
    flags = [
        r is True or s is True or (b is not None and b is not False and b != "")
        for r, s, b in zip(removed, spam, banned_by, strict=True)
    ]
    return pa.array(flags, pa.bool_())


def _statuses(
    text: pa.Array, author: pa.Array, category: pa.Array | None, moderated: pa.Array | None = None
) -> tuple[pa.Array, pa.Array]:
    """:func:`~scraper.normalize.status.status_of` on columns (``category`` only for submissions; ``moderated``:
    :func:`_moderated`), and author gone."""
    gone = pc.fill_null(pc.equal(author, DELETED), False)
    removed = pc.fill_null(pc.is_in(text, value_set=pa.array(REMOVED_MARKERS, pa.string())), False)
    if moderated is not None:
        removed = pc.or_(removed, moderated)
    deleted = pc.and_(pc.fill_null(pc.equal(text, DELETED), False), gone)
    if category is not None:
        by_author = pc.fill_null(pc.is_in(category, value_set=pa.array(sorted(AUTHOR_CATEGORIES))), False)
        given = pc.fill_null(pc.not_equal(category, ""), False)  # "" is no category, as in status_of
        removed = pc.or_(removed, pc.and_(given, pc.invert(by_author)))
        deleted = pc.or_(deleted, by_author)
    status = pc.if_else(
        removed,
        Status.REMOVED.value,
        pc.if_else(deleted, Status.DELETED.value, pc.if_else(gone, Status.ACCOUNT_DELETED.value, Status.VISIBLE.value)),
    )
    return status, gone


def _batch(stem: str, columns: dict[str, Any], n: int, repaired: Counter[str] | None = None) -> pa.RecordBatch:
    return _batch_of(STAGING[stem], columns, n, repaired)


def _batch_of(schema: pa.Schema, columns: dict[str, Any], n: int, repaired: Counter[str] | None) -> pa.RecordBatch:
    """A record batch of ``schema`` from Arrow arrays or Python values; unstorable strings repaired."""
    arrays = []
    for f in schema:
        value = columns.get(f.name)
        if value is None:
            arrays.append(pa.nulls(n, f.type))
        elif isinstance(value, pa.Array | pa.ChunkedArray):
            arrays.append(value if value.type == f.type else value.cast(f.type))
        else:
            try:
                arrays.append(pa.array(value, f.type))
            except (UnicodeEncodeError, pa.ArrowInvalid):
                if f.type != pa.string():
                    raise
                # a lone surrogate (msgspec lets some through): U+FFFD, counted once per schema field
                counts = repaired if (repaired is not None and not f.name.startswith("_")) else Counter()
                arrays.append(pa.array([None if v is None else repair_text(v, counts, f.name) for v in value], f.type))
    return pa.RecordBatch.from_arrays(
        [a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in arrays], schema=schema
    )


def _timestamps(values: Iterable[float | None]) -> pa.Array:
    """Epoch seconds as UTC microseconds, rounded exactly as :meth:`datetime.fromtimestamp` rounds."""
    floats = pa.array(values, pa.float64())
    whole = pc.equal(pc.floor(floats), floats)
    if pc.all(pc.fill_null(whole, True)).as_py():
        seconds = pc.cast(floats, pa.int64())
        return pc.cast(pc.multiply_checked(seconds, 1_000_000), pa.timestamp("us", tz="UTC"))
    exact = [
        None if v is None else datetime.fromtimestamp(v, tz=UTC) - _EPOCH for v in floats.to_pylist()
    ]  # fractional seconds: Python's own rounding
    micros = [None if d is None else d // _MICRO for d in exact]
    return pa.array(micros, pa.int64()).cast(pa.timestamp("us", tz="UTC"))


_MICRO = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - _EPOCH


def parse_time(value: Any) -> datetime | None:
    """When a response arrived, from its record; None when the record does not say (an undated answer,
    see :meth:`Sightings.add_document`)."""
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
            parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
            parsed.astimezone(UTC)
            return parsed
        except (ValueError, OverflowError):
            pass
    return None


def _newest_epoch(kind: str, rows: Sequence[tuple[Any, ...]]) -> float | None:
    """The newest ``created_utc`` or edit time of fast rows, in epoch seconds, as the rows read them
    (:func:`_edits`: an edit time before the creation, ``true``, ``false`` and ``0`` are no time), as
    :func:`~scraper.normalize.rows.newest_time` does: a time past now counts as none (adversarial review 8 F1)."""
    fields = wire.T1_FIELDS if kind == "t1" else wire.T3_FIELDS
    created_at, edited_at = fields.index("created_utc"), fields.index("edited")
    newest: float | None = None
    now = time.time()  # a time past now is no time: nothing can have been fetched in the future
    for row in rows:
        created, edited = row[created_at], row[edited_at]
        if created is not None and created <= now and (newest is None or created > newest):
            newest = created
        real_edit = edited is not None and edited is not True and edited is not False and edited != 0
        if (
            real_edit
            and (created is None or edited > created)
            and edited <= now
            and (newest is None or edited > newest)
        ):
            newest = edited
    return newest


def _is_listing(value: Any) -> bool:
    return isinstance(value, dict) and value.get("kind") == "Listing" and isinstance(value.get("data"), dict)


def _children(listing: dict[str, Any]) -> list[Any]:
    children = listing["data"].get("children")
    return children if isinstance(children, list) else []


def _search_label(url: str, params: dict[str, Any]) -> str | None:
    if "/search" not in url or "q" not in params:
        return None
    parts = url.split("/r/", 1)
    return search_label(parts[1].split("/", 1)[0] if len(parts) == 2 else "all", str(params["q"]))


def _quarantine_reason(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return ".".join(str(p) for p in first["loc"]) or "?", first["msg"]
    return str(getattr(exc, "field", "?")), str(exc)


__all__ = ["STAGING", "STEMS", "SightingStats", "Sightings", "Status", "collector_paused", "parse_time"]
