"""Stage two of the streaming build: the newest sighting of each thing, its depth and provenance, as Parquet.

The sightings of stage one (:mod:`scraper.normalize.sightings`) are staged as
runs sorted by fullname; :mod:`scraper.normalize.runs` merges them, so every
sighting of a thing comes together, and per fullname the sighting with the
latest ``retrieved_at`` wins, a later one winning a tie (but a sighting that
shows a deletion Reddit cannot undo wins over newer ones that do not:
:func:`_gone_rank`; and one the models refuse only when none fits); the winners
are written sorted by fullname.  Then, one bounded batch at a time:

- **depth** comes from the parent chain over every winner, Reddit's own depth
  only where the chain is not held and Reddit's answer gave it absolutely (a
  permalink or context answer restarts depth at 0, WIRE-FORMAT §2); the chain
  is resolved by pointer jumping over integer arrays (O(log depth) passes), so
  no per-comment Python object is made; a parent loop leaves depth null;
- **found_by** of a thread is every query, seed or file that found it, and a
  comment carries its thread's; a row whose thread nobody found is labelled
  with its own source;
- the **thread filter** (the spec's, or "threads of the base version" for a
  refresh) drops threads and their comments, counted by reason;
- a sighting the models refused (quarantined) goes to the quarantine file when it
  ranks first among its thing's sightings; the thing keeps its newest sighting that
  fits (from the input or the base version), and only a thing none of whose
  sightings fits is left out of the table (:meth:`_Order.arrange`);
- the **row policies** (tombstones, pseudonyms) are applied column-wise.

Memory holds one batch of rows plus, per winner, a few integers and its key
(about 50 bytes a comment) — not the rows.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas import ARROW_SCHEMAS, Status
from scraper.normalize import runs
from scraper.normalize.harvest import Seen
from scraper.normalize.pseudonyms import TEXT_COLUMNS, Pseudonymizer
from scraper.normalize.repair import json_line
from scraper.normalize.status import GONE_RANK
from scraper.store.encoding import writer_options
from scraper.store.writers import parquet_writer, write_batch

#: Rows per batch of the final pass and per row group of the written tables (with runs.HELD_ROWS, the
#: final pass's memory: docs/PERFORMANCE.md, "Newest per fullname").
BATCH_ROWS = 32768

KeepThread = Callable[[Seen, list[str]], bool]


@dataclass
class MergeResult:
    """What stage two wrote and counted."""

    rows: dict[str, int] = field(default_factory=dict)
    status: Counter[str] = field(default_factory=Counter)
    quarantined: int = 0
    not_kept: Counter[str] = field(default_factory=Counter)
    tombstones: int = 0
    tombstones_added: int = 0
    created_min: datetime | None = None
    created_max: datetime | None = None
    retrieved_min: datetime | None = None
    retrieved_max: datetime | None = None
    fresh_rows: int = 0
    """Rows written whose newest sighting is from this build, not the base version."""

    def window(self) -> dict[str, datetime | None]:
        """The time window the card shows."""
        return {
            "created_min": self.created_min,
            "created_max": self.created_max,
            "retrieved_min": self.retrieved_min,
            "retrieved_max": self.retrieved_max,
        }


@dataclass(frozen=True)
class ArchiveOverlay:
    """How archive sightings (Arctic Shift answers) take part: a spec with an ``[archive]`` section.

    Reddit's newest sighting of a thing wins over any archive's; a thing only an archive
    holds is built from the archive's newest sighting.  Every row with an archive sighting
    carries that sighting's facts (``archive_status``, ``archived_at``, ``archive_flags``);
    a row built from the archive takes the archive's status, or ``unavailable`` (text
    withheld) when Reddit was asked for its thread and no longer serves it, unless
    ``text_when_gone`` (docs/ARCHIVES.md).
    """

    gone: frozenset[str] = frozenset()
    """Threads Reddit answered 403 or 404 for."""
    served: frozenset[str] = frozenset()
    """Threads whose comment tree Reddit's API served."""
    text_when_gone: bool = False


@dataclass
class _Overlay:
    """The archive's part in the final pass: the threads Reddit was asked for, and the column matched on."""

    column: str
    asked: pa.Array
    text_when_gone: bool


def merge(
    staging: dict[str, list[Path]],
    workdir: Path,
    outputs: dict[str, Path],
    quarantine: Path,
    *,
    keep_thread: KeepThread | None = None,
    base_only: bool = False,
    pseudonymizer: Pseudonymizer | None = None,
    previously_visible: pa.Array | None = None,
    purged: frozenset[str] = frozenset(),
    archive: ArchiveOverlay | None = None,
    keep_facts: bool = False,
) -> MergeResult:
    """Reduce the staged sightings to one Parquet file per table (``outputs``) and a quarantine file.

    ``keep_facts``: base rows carry archive facts (a refresh of a dataset built with archive
    answers); a newer sighting of their thing keeps them.
    """
    result = MergeResult()
    order = _ARCHIVE_LAST if archive is not None else _NEWEST_FIRST
    # each merge of runs spills (past runs.MAX_RUNS) into a folder of its own
    winners = {
        stem: _winners(staging.get(stem), stem, order, spill=workdir / f"runs-{stem}-narrow") for stem in outputs
    }
    found = _found(staging.get("found"))
    threads = _threads(winners.get("submissions"), found, keep_thread=keep_thread, base_only=base_only, purged=purged)
    overlays = {stem: _overlay(stem, archive) for stem in outputs} if archive is not None else {}
    comment_winners = winners.pop("comments", None)
    depth = _depths(comment_winners) if comment_winners is not None else None
    del comment_winners, winners  # only the depths are needed from here on
    with quarantine.open("w", encoding="utf-8") as qfile:
        for stem, out in outputs.items():
            _final(
                stem,
                _sorted_sightings(
                    staging.get(stem),
                    order,
                    facts=archive is not None or keep_facts,
                    spill=workdir / f"runs-{stem}-whole",
                ),
                out,
                qfile,
                result,
                found=found,
                threads=threads,
                depth=depth,
                base_only=base_only,
                filtering=keep_thread is not None or base_only,
                pseudonymizer=pseudonymizer,
                previously_visible=previously_visible,
                purged=pa.array(sorted(purged), pa.string()),
                overlay=overlays.get(stem),
            )
        qfile.flush()
        os.fsync(qfile.fileno())
    return result


@dataclass(frozen=True)
class _Order:
    """Which sighting of a thing wins: with ``archive_last``, Reddit's newest before any archive's."""

    archive_last: bool

    def arrange(self, table: pa.Table) -> pa.Table:
        """``table`` sorted by key, each thing's winner first, with the column ``_refused``.

        The sightings of a thing rank newest first (a later one winning a tie; but a sighting
        showing a deletion Reddit cannot undo before any that does not, see :func:`_gone_rank`).
        The winner is the first that fits the models (``_qfield`` null), else the first; the
        others follow in rank order.  ``_refused`` is true on the first-ranked sighting when the
        models refused it: it goes to the quarantine file, whether it won (no sighting of its
        thing fits) or an older one did (adversarial review 4 F4: a refused newer sighting no
        longer takes the thing's row out of the version).  Null elsewhere.
        """
        keys: list[tuple[str, str]] = [("_key", "ascending")]
        sortable = table
        if self.archive_last:
            sortable = table.append_column("_arch_last", pc.fill_null(table["_arch"], False))
            keys.append(("_arch_last", "ascending"))
        sortable = sortable.append_column("_gone", _gone_rank(table))
        keys += [("_gone", "descending"), ("retrieved_at", "descending"), ("_seq", "descending")]
        order = pc.sort_indices(sortable, sort_keys=keys)
        refused = table["_qfield"]
        if refused.null_count == table.num_rows:  # the usual case: every sighting fits
            return _taken(table, order).append_column("_refused", pa.nulls(table.num_rows, pa.bool_()))
        order, first_refused = _good_first(table["_key"].take(order), pc.is_valid(refused).take(order), order)
        return _taken(table, order).append_column("_refused", first_refused)


def _taken(table: pa.Table, order: pa.Array) -> pa.Table:
    """``table.take(order)``; ``table`` itself when ``order`` keeps every row in place (no copy of the wide
    columns).  That is the usual case of the final pass: the runs of consecutive input files hold separate
    ranges of keys, so the rows gathered are mostly one run's, in its order, each thing seen once."""
    if len(order) == table.num_rows and np.array_equal(
        order.to_numpy(zero_copy_only=False), np.arange(len(order), dtype=np.uint64)
    ):
        return table
    return table.take(order)


def _good_first(keys: Any, bad: Any, order: pa.Array) -> tuple[pa.Array, pa.Array]:
    """``order`` (ranked, by key) with each key's first good sighting moved to the front of its key's rows.

    ``keys`` and ``bad`` (refused by the models) are in ``order``'s order.  Also returns, in the
    new order, ``_refused``: true on each key's first-ranked sighting when it is bad.
    """
    n = len(order)
    keys = keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys
    refused = (bad.combine_chunks() if isinstance(bad, pa.ChunkedArray) else bad).to_numpy(zero_copy_only=False)
    opens = np.ones(n, dtype=bool)
    if n > 1:
        opens[1:] = pc.not_equal(keys.slice(1), keys.slice(0, n - 1)).to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(opens)
    group = np.cumsum(opens) - 1
    ends = np.append(starts[1:], n)
    winner = starts.copy()
    good = np.flatnonzero(~refused)
    lead_bad = refused[starts]
    if good.size and lead_bad.any():
        first_good = np.searchsorted(good, starts)  # the first good position at or after each key's start
        found = first_good < good.size
        at = np.where(found, good[np.minimum(first_good, good.size - 1)], n)
        moved = lead_bad & found & (at < ends)
        winner[moved] = at[moved]
    later = np.ones(n, dtype=np.int64)
    later[winner] = 0
    permutation = np.argsort(group * 2 + later, kind="stable")
    marked = np.zeros(n, dtype=bool)
    marked[starts] = lead_bad
    first_refused = pa.array(marked[permutation], pa.bool_(), mask=~marked[permutation])
    return order.take(pa.array(permutation)), first_refused


def _gone_rank(table: pa.Table) -> pa.Array:
    """Each sighting's :data:`~scraper.normalize.status.GONE_RANK` (fa, adversarial review 3 F6).

    An author's deletion (rank 2) and an account's (rank 1) cannot be undone on Reddit, so a sighting
    showing one wins over every sighting of the thing with a lower rank, however much newer: a later
    answer that still shows the text is a stale copy (a refresh's tree refetch served from a cache
    after ``/api/info`` showed ``[deleted]``).  Among sightings of one rank the newest wins, as before.
    An archive's sighting ranks 0: its own facts decide (docs/ARCHIVES.md).

    A removal ranks with the account's deletion when some sighting of Reddit's shows the thing's
    account deleted (adversarial review 7 F5): once the account is gone, the thing can still be
    removed and approved again, so among those two the newest decides, and only a sighting still
    showing the author is stale.  The sightings of a thing are all in ``table`` (the merge holds
    whole keys).
    """
    status = table["status"]
    from_archive = pc.fill_null(table["_arch"], False)
    rank = pa.repeat(pa.scalar(0, pa.int8()), table.num_rows)
    for value, gone in GONE_RANK.items():
        rank = pc.if_else(pc.fill_null(pc.equal(status, value), False), pa.scalar(gone, pa.int8()), rank)
    account_gone = pc.and_(pc.fill_null(pc.equal(status, Status.ACCOUNT_DELETED.value), False), pc.invert(from_archive))
    if pc.any(account_gone).as_py():
        keys = pc.unique(table["_key"].filter(account_gone))
        removed_after = pc.and_(
            pc.fill_null(pc.equal(status, Status.REMOVED.value), False), pc.is_in(table["_key"], value_set=keys)
        )
        rank = pc.if_else(removed_after, pa.scalar(GONE_RANK[Status.ACCOUNT_DELETED.value], pa.int8()), rank)
    return pc.if_else(from_archive, pa.scalar(0, pa.int8()), rank)


#: The newest sighting wins (after the deletions Reddit cannot undo), a later one winning a tie ...
_NEWEST_FIRST = _Order(archive_last=False)
#: ... and with archive answers, Reddit's newest before any archive's.
_ARCHIVE_LAST = _Order(archive_last=True)
#: The columns depth and the thread filter need of each winner, by table.
_NARROW = {
    "comments": ["_parent", "_rdepth"],
    "submissions": ["title", "selftext", "source", "retrieved_at"],
}
#: Texts of the winners read one by one (the thread filter), left in the merge's chunks.
_TEXTS = frozenset({"title", "selftext"})
#: What decides the winner, and the facts a base sighting gives (see :func:`_winners`).
_ORDER_COLUMNS = ["_key", "retrieved_at", "_seq", "_arch", "_pre", "_rdepth", "status", "_qfield"]
#: An archive's facts about a thing, taken from its newest sighting that carries them.
_FACTS = ("archive_status", "archived_at", "archive_flags")


def _winners(staged: list[Path] | None, stem: str, order: _Order, *, spill: Path) -> pa.Table | None:
    """The columns depth and the thread filter need of each thing's winning sighting, sorted by key.

    Also, per thing: ``_in_base``, whether the base version holds it, and ``_base_depth``, the
    largest depth Reddit gave in a base sighting of it (null when none did).  The sorted
    sightings are streamed in batches and only the winners kept, so memory holds the winners
    and one batch, however many times each thing was seen.
    """
    if not staged:
        return None
    columns = list(dict.fromkeys([*_ORDER_COLUMNS, *_NARROW[stem]]))
    sightings = runs.ahead(
        runs.merged(staged, columns=columns, arrange=order.arrange, batch_rows=BATCH_ROWS, spill=spill)
    )
    kept: list[pa.RecordBatch] = []
    in_base: list[np.ndarray] = []  # per key, in key order: held by the base
    deepest: list[np.ndarray] = []  # the base's largest depth (valid where ``counted``)
    counted: list[np.ndarray] = []
    last_key: str | None = None
    for batch in sightings:
        n = batch.num_rows
        if n == 0:
            continue
        keys = batch.column("_key")
        rest = pc.not_equal(keys.slice(1), keys.slice(0, n - 1)) if n > 1 else pa.array([], pa.bool_())
        first = pa.concat_arrays([pa.array([last_key is None or keys[0].as_py() != last_key]), rest])
        last_key = keys[-1].as_py()
        starts = np.flatnonzero(first.to_numpy(zero_copy_only=False))
        pre = pc.fill_null(batch.column("_pre"), False).to_numpy(zero_copy_only=False)
        depth = batch.column("_rdepth")
        valid = pre & pc.is_valid(depth).to_numpy(zero_copy_only=False)
        values = np.where(valid, pc.fill_null(depth, 0).to_numpy(zero_copy_only=False), _NO_DEPTH)
        if not starts.size or starts[0]:  # the batch opens with the previous batch's last key
            head = slice(0, starts[0] if starts.size else n)
            in_base[-1][-1] |= pre[head].any()
            deepest[-1][-1] = max(deepest[-1][-1], values[head].max())
            counted[-1][-1] |= valid[head].any()
        if starts.size:
            in_base.append(np.logical_or.reduceat(pre, starts))
            deepest.append(np.maximum.reduceat(values, starts))
            counted.append(np.logical_or.reduceat(valid, starts))
            kept.append(_filtered(batch, first).select(["_key", *_NARROW[stem]]))
    if not kept:
        return None
    winners = pa.Table.from_batches(kept)
    # one chunk a column (the depth pass indexes them), but not the texts the thread filter reads one by one:
    # a submission's selftexts together may pass the 2 GiB a string array holds (adversarial review 4 F2)
    winners = pa.table(
        {
            name: column if name in _TEXTS else column.combine_chunks()
            for name, column in zip(winners.column_names, winners.columns, strict=True)
        }
    )
    has_depth = np.concatenate(counted)
    return winners.append_column("_in_base", pa.array(np.concatenate(in_base))).append_column(
        "_base_depth", pa.array(np.concatenate(deepest), pa.int64(), mask=~has_depth)
    )


_NO_DEPTH = np.iinfo(np.int64).min


def _overlay(stem: str, archive: ArchiveOverlay) -> _Overlay:
    """The threads asked of Reddit, by the column ``stem``'s rows are matched on.

    A thread was asked of Reddit when Reddit answered 403/404 for it; for comments also when
    Reddit served its comment tree (its comments that Reddit no longer shows are gone there).
    A submission seen only in a listing (search) does not count: its comments were not asked for.
    """
    if stem == "submissions":
        return _Overlay("_key", pa.array(sorted(archive.gone), pa.string()), archive.text_when_gone)
    return _Overlay("_link", pa.array(sorted(archive.gone | archive.served), pa.string()), archive.text_when_gone)


def _sorted_sightings(
    staged: list[Path] | None, order: _Order, *, facts: bool, spill: Path
) -> Iterator[pa.RecordBatch]:
    """Every sighting, sorted by key and newest first, streamed in batches (the runs merged, :mod:`.runs`).

    With ``facts`` (archive answers, or base rows that carry them), each sighting carries its
    thing's archive facts, from the thing's newest sighting that carries them (an archive
    answer's, or a base row's).
    """
    if not staged:
        return
    arrange = order.arrange if not facts else (lambda table: order.arrange(_with_facts(table)))
    yield from runs.ahead(runs.merged(staged, columns=None, arrange=arrange, batch_rows=BATCH_ROWS, spill=spill))


def _with_facts(table: pa.Table) -> pa.Table:
    """Each row with its thing's archive facts (``table`` holds every sighting of the things it holds)."""
    carries = pc.is_valid(table["archive_status"])
    where: pa.Array = pa.nulls(table.num_rows, pa.int32())
    newest = table.schema.empty_table().select(["_key", *_FACTS])
    if pc.any(carries).as_py():
        facts = table.filter(carries).select(["_key", "retrieved_at", "_seq", *_FACTS])
        facts = facts.take(
            pc.sort_indices(facts, [("_key", "ascending"), ("retrieved_at", "descending"), ("_seq", "descending")])
        )
        keys = facts["_key"].combine_chunks()
        n = len(keys)
        first = pa.concat_arrays([pa.array([True]), pc.not_equal(keys.slice(1), keys.slice(0, n - 1))])
        newest = facts.filter(first)
        where = pc.index_in(table["_key"], value_set=newest["_key"].combine_chunks())
    for name in _FACTS:
        table = table.set_column(table.schema.get_field_index(name), name, newest[name].take(where))
    return table


def _found(staged: list[Path] | None) -> pa.Table:
    """Every thread and the labels that found it, each once and sorted (one row per thread found).

    The staged rows are (thread, label) pairs, one per finding: a few per thread, not per comment.
    """
    empty = pa.table({"thread": pa.array([], pa.string()), "labels": pa.array([], pa.list_(pa.string()))})
    if not staged:
        return empty
    table = pa.concat_tables(pq.ParquetFile(path).read(columns=["thread", "label"]) for path in staged)
    pairs = table.filter(pc.and_(pc.is_valid(table["thread"]), pc.is_valid(table["label"])))
    pairs = pairs.group_by(["thread", "label"], use_threads=False).aggregate([])  # each pair once
    pairs = pairs.take(pc.sort_indices(pairs, [("thread", "ascending"), ("label", "ascending")]))
    threads = pairs["thread"].combine_chunks()
    n = len(threads)
    if n == 0:
        return empty
    new = pa.concat_arrays([pa.array([True]), pc.not_equal(threads.slice(1), threads.slice(0, n - 1))])
    starts = np.flatnonzero(new.to_numpy(zero_copy_only=False))
    offsets = pa.array(np.append(starts, n), pa.int32())
    labels = pa.ListArray.from_arrays(offsets, pairs["label"].combine_chunks())
    return pa.table({"thread": threads.take(pa.array(starts)), "labels": labels})


@dataclass
class _Threads:
    """The threads a version holds (all when ``kept`` is None) and the ones that were seen at all."""

    kept: pa.Array | None
    seen: pa.Array


def _threads(
    table: pa.Table | None,
    found: pa.Table,
    *,
    keep_thread: KeepThread | None,
    base_only: bool,
    purged: frozenset[str] = frozenset(),
) -> _Threads:
    """The threads kept: those the base holds, purged ones (their title is gone, not their place), and the filter's."""
    if table is None:
        empty = pa.array([], pa.string())
        return _Threads(empty if (keep_thread or base_only) else None, empty)
    seen = table["_key"].combine_chunks()
    if base_only:
        return _Threads(seen.filter(table["_in_base"].combine_chunks()), seen)
    if keep_thread is None:
        return _Threads(None, seen)
    labels = _labels_for(seen, found, table["source"].combine_chunks())
    kept: list[str] = []
    held = table["_in_base"].to_pylist()
    for i, (key, title, selftext) in enumerate(
        zip(seen.to_pylist(), table["title"].to_pylist(), table["selftext"].to_pylist(), strict=True)
    ):
        data = {"title": title, "selftext": selftext}
        probe = Seen(data, table["retrieved_at"][i].as_py(), "", False)
        # a thread the base version holds stays; so does a purged one, whose blanked title the filter cannot read
        if held[i] or key in purged or keep_thread(probe, labels[i].as_py()):
            kept.append(key)
    return _Threads(pa.array(kept, pa.string()), seen)


def _labels_for(threads: pa.Array, found: pa.Table, sources: pa.Array) -> pa.Array:
    """found_by of each row: its thread's labels, or its own source when nobody found the thread."""
    where = pc.index_in(threads, value_set=found["thread"].combine_chunks())
    labels = found["labels"].combine_chunks().take(where)
    own = pa.ListArray.from_arrays(pa.array(range(len(sources) + 1), pa.int32()), sources)
    return pc.if_else(pc.is_null(labels), own, labels)


def _depths(table: pa.Table) -> pa.Array:
    """Depth of every comment winner, in key order (see the module's docstring)."""
    keys = table["_key"].combine_chunks()
    parents = table["_parent"].combine_chunks()
    n = len(keys)
    held = pc.index_in(parents, value_set=keys)
    top = pc.fill_null(pc.starts_with(parents, "t3_"), False).to_numpy(zero_copy_only=False)
    ptr = pc.fill_null(held, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    given = pc.coalesce(table["_rdepth"].combine_chunks(), table["_base_depth"].combine_chunks())
    value = pc.fill_null(given, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    known = pc.is_valid(given).to_numpy(zero_copy_only=False).copy()
    resolved = top | (ptr < 0)
    value[top] = 0
    known[top] = True
    ptr[resolved] = -1
    offset = np.ones(n, dtype=np.int64)
    # Pointer jumping: each round, a comment whose pointer reaches a resolved one is resolved,
    # the others double the distance their pointer covers. A loop never resolves.
    for _ in range(max(1, int(n).bit_length() + 1)):
        pending = np.flatnonzero(~resolved)
        if pending.size == 0:
            break
        target = ptr[pending]
        done = resolved[target]
        finish, carry = pending[done], pending[~done]
        value[finish] = value[target[done]] + offset[finish]
        known[finish] = known[target[done]]
        resolved[finish] = True
        carry_target = target[~done]
        offset[carry] += offset[carry_target]
        ptr[carry] = ptr[carry_target]
    known &= resolved
    return pa.array(value, pa.int64(), mask=~known)


def _final(
    stem: str,
    sightings: Iterator[pa.RecordBatch],
    out: Path,
    qfile: Any,
    result: MergeResult,
    *,
    found: pa.Table,
    threads: _Threads,
    depth: pa.Array | None,
    base_only: bool,
    filtering: bool,
    pseudonymizer: Pseudonymizer | None,
    previously_visible: pa.Array | None,
    purged: pa.Array,
    overlay: _Overlay | None = None,
) -> None:
    schema = ARROW_SCHEMAS[stem]
    rows = 0
    offset = 0
    with (
        parquet_writer(out, schema, **writer_options(stem)) as parquet,
        _Overlapped(parquet, out) as writer,
    ):
        last_key: str | None = None
        for batch in sightings:
            refused = batch.column("_refused")
            if refused.null_count < batch.num_rows:  # refused sightings (winners or not) go to the quarantine file
                _quarantine(qfile, batch.filter(refused), result, threads, filtering, base_only, purged)
            table = pa.Table.from_batches([_newest(batch, last_key)])
            if batch.num_rows:
                last_key = batch.column("_key")[-1].as_py()
            n = table.num_rows
            if n == 0:
                continue
            link = table["_link"].combine_chunks()
            if stem == "comments" and depth is not None:
                table = table.set_column(table.schema.get_field_index("depth"), "depth", depth.slice(offset, n))
            offset += n
            if overlay is not None:
                table = _with_archive(table, overlay)
            quarantined = pc.is_valid(table["_qfield"])  # a winner is refused only when no sighting of it fits
            keep = pa.array([True] * n)
            if filtering and threads.kept is not None:
                in_kept = pc.is_in(link, value_set=threads.kept)
                if stem == "comments":
                    in_input = pc.is_in(link, value_set=threads.seen)
                    gone = pc.invert(in_kept)
                    no_thread = pc.sum(pc.and_(gone, pc.invert(in_input))).as_py() or 0
                    if base_only:
                        result.not_kept["comments of threads the base version does not hold"] += (
                            pc.sum(gone).as_py() or 0
                        )
                    else:
                        result.not_kept["comments whose submission is not in the input"] += no_thread
                        result.not_kept["comments of threads the spec's filter leaves out"] += (
                            pc.sum(gone).as_py() or 0
                        ) - no_thread
                else:
                    reason = (
                        "submissions the base version does not hold"
                        if base_only
                        else "submissions the spec's filter leaves out"
                    )
                    result.not_kept[reason] += pc.sum(pc.invert(in_kept)).as_py() or 0
                keep = in_kept
            if len(purged):  # a purged thing leaves no text: its quarantine entry goes, its row is a tombstone
                hit = pc.is_in(table["_key"], value_set=purged)
                status = pc.if_else(hit, pa.scalar(Status.PURGED.value), table["status"])
                table = table.set_column(table.schema.get_field_index("status"), "status", status)
            table = _filtered(table, pc.and_(keep, pc.invert(quarantined)))
            if table.num_rows == 0:
                continue
            labels = _labels_for(table["_link"].combine_chunks(), found, table["source"].combine_chunks())
            table = table.set_column(table.schema.get_field_index("found_by"), "found_by", labels)
            flags = table["archive_flags"]
            if flags.null_count:
                empty = pa.array([[]] * table.num_rows, flags.type)
                flags = pc.if_else(pc.is_null(flags), empty, flags)
                table = table.set_column(table.schema.get_field_index("archive_flags"), "archive_flags", flags)
            table = _tombstones(stem, table)
            if pseudonymizer is not None:
                table = _pseudonyms(stem, table, pseudonymizer)
            _count(table, result, previously_visible)
            final = table.select(schema.names).cast(schema)
            writer.write(final)
            rows += final.num_rows
    result.rows[stem] = rows


class _Overlapped:
    """Writes each row group on one background thread while the next batch is made.

    Compressing and writing a row group releases the interpreter, as DuckDB's sort does, so
    the two overlap.  At most one write is pending (memory: one more batch); its error is
    raised at the next write or on leaving the block, and leaving always waits for it.
    """

    def __init__(self, writer: pq.ParquetWriter, path: Path) -> None:
        self.writer = writer
        self.path = path
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-writer")
        self.pending: Future[None] | None = None

    def __enter__(self) -> _Overlapped:
        return self

    def write(self, table: pa.Table) -> None:
        self._wait()
        self.pending = self.thread.submit(write_batch, self.writer, self.path, table, row_group_size=BATCH_ROWS)

    def _wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def __exit__(self, *exc: object) -> None:
        try:
            self._wait()
        finally:
            self.thread.shutdown(wait=True)


def _newest(batch: pa.RecordBatch, last_key: str | None) -> pa.RecordBatch:
    """The first sighting of each key in a batch sorted by key, newest first (the previous batch's last key given)."""
    n = batch.num_rows
    if n == 0:
        return batch
    keys = batch.column("_key")
    first = pa.array([last_key is None or keys[0].as_py() != last_key])
    rest = pc.not_equal(keys.slice(1), keys.slice(0, n - 1)) if n > 1 else pa.array([], pa.bool_())
    return _filtered(batch, pa.concat_arrays([first, rest]))


def _filtered(rows: Any, mask: pa.Array) -> Any:
    """``rows`` (a batch or table) where ``mask``; ``rows`` itself when it keeps them all (no copy of wide columns)."""
    return rows if mask.null_count == 0 and pc.all(mask).as_py() else rows.filter(mask)


def _with_archive(table: pa.Table, overlay: _Overlay) -> pa.Table:
    """A row built from the archive gets its status from the archive's facts (already joined to it)."""
    from_archive = pc.fill_null(table["_arch"], False)
    if not pc.any(from_archive).as_py():
        return table
    archived = table["archive_status"]
    if not overlay.text_when_gone:
        withheld = pc.is_in(table[overlay.column], value_set=overlay.asked)
        archived = pc.if_else(withheld, pa.scalar(Status.UNAVAILABLE.value), archived)
    status = pc.if_else(from_archive, archived, table["status"])
    return table.set_column(table.schema.get_field_index("status"), "status", status)


def _quarantine(
    qfile: Any,
    batch: pa.RecordBatch,
    result: MergeResult,
    threads: _Threads,
    filtering: bool,
    base_only: bool,
    purged: pa.Array,
) -> None:
    """Write the refused sightings ``batch`` to the quarantine file, but not those of threads the filter leaves
    out (except in a refresh, ``base_only``) nor of purged things (a purged thing leaves no text)."""
    table = pa.Table.from_batches([batch])
    keep = pa.array([True] * table.num_rows)
    if filtering and threads.kept is not None and not base_only:
        keep = pc.is_in(table["_link"], value_set=threads.kept)
    if len(purged):
        keep = pc.and_(keep, pc.invert(pc.is_in(table["_key"], value_set=purged)))
    if pc.any(keep).as_py():
        _write_quarantine(qfile, table.filter(keep), result)


def _write_quarantine(qfile: Any, table: pa.Table, result: MergeResult) -> None:
    for key, where, error, raw in zip(
        table["_key"].to_pylist(),
        table["_qfield"].to_pylist(),
        table["_qerror"].to_pylist(),
        table["_qraw"].to_pylist(),
        strict=True,
    ):
        head = json_line({"error": error, "field": where, "name": key})  # sorted keys; "raw" sorts last
        qfile.write(f'{head[:-1]}, "raw": {raw}}}\n')
        result.quarantined += 1


def _tombstones(stem: str, table: pa.Table) -> pa.Table:
    """Rows not visible lose their text, author and the permalink's slug (see ``policy.tombstone``)."""
    gone = pc.fill_null(pc.not_equal(table["status"], Status.VISIBLE.value), False)
    if not pc.any(gone).as_py():
        return table
    dead = table.filter(gone)  # only the tombstones go through Python (a few percent of the rows)
    slugless = []
    for sub, ident, link in zip(
        dead["subreddit"].to_pylist(),
        dead["id"].to_pylist(),
        dead["link_id"].to_pylist() if stem == "comments" else [None] * dead.num_rows,
        strict=True,
    ):
        if stem == "submissions":
            slugless.append(f"{_prefix(sub)}/comments/{ident}/")
        else:
            slugless.append(f"{_prefix(sub)}/comments/{link[3:]}/_/{ident}/")
    permalink = pc.replace_with_mask(
        table["permalink"].combine_chunks(),
        gone.combine_chunks() if isinstance(gone, pa.ChunkedArray) else gone,
        pa.array(slugless, pa.string()),
    )
    emptied: dict[str, Any] = {"author": None, "author_fullname": None, "author_flair_text": None}
    emptied.update({"title": "", "selftext": "", "url": None} if stem == "submissions" else {"body": ""})
    for name, value in emptied.items():
        column = table[name]
        replacement = pa.scalar(value, column.type)
        table = table.set_column(table.schema.get_field_index(name), name, pc.if_else(gone, replacement, column))
    return table.set_column(table.schema.get_field_index("permalink"), "permalink", permalink)


def _prefix(subreddit: str | None) -> str:
    return f"/r/{subreddit}" if subreddit else ""  # /comments/<id>/ resolves without it (policy._slugless)


def _pseudonyms(stem: str, table: pa.Table, pseudonymizer: Pseudonymizer) -> pa.Table:
    """Authors, accounts and names pointing at users (mentions, profile links) replaced, except in rows of the base
    version (already done)."""
    fresh = pc.invert(table["_pre"]).to_pylist()

    def mapped(name: str, fn: Callable[[str], str]) -> None:
        nonlocal table
        values = table[name].to_pylist()
        out = [fn(v) if (v and new) else v for v, new in zip(values, fresh, strict=True)]
        table = table.set_column(table.schema.get_field_index(name), name, pa.array(out, pa.string()))

    mapped("author", pseudonymizer.name)
    mapped("author_fullname", pseudonymizer.account)
    for name in TEXT_COLUMNS[stem]:  # titles, selftexts, link URLs, bodies: every name that points at a user
        values = table[name].to_pylist()
        out = [pseudonymizer.text(v) if new and v is not None else v for v, new in zip(values, fresh, strict=True)]
        table = table.set_column(table.schema.get_field_index(name), name, pa.array(out, pa.string()))
    return table


def _count(table: pa.Table, result: MergeResult, previously_visible: pa.Array | None) -> None:
    status = table["status"]
    for entry in pc.value_counts(status).to_pylist():
        result.status[str(entry["values"])] += int(entry["counts"])
    gone = pc.not_equal(status, Status.VISIBLE.value)
    result.tombstones += pc.sum(gone).as_py() or 0
    if previously_visible is not None and len(previously_visible):
        was = pc.is_in(table["name"], value_set=previously_visible)
        result.tombstones_added += pc.sum(pc.and_(gone, was)).as_py() or 0
    result.fresh_rows += pc.sum(pc.invert(table["_pre"])).as_py() or 0
    for column, low, high in (
        ("created_utc", "created_min", "created_max"),
        ("retrieved_at", "retrieved_min", "retrieved_max"),
    ):
        bounds = pc.min_max(table[column]).as_py()
        if bounds["min"] is not None:
            current = getattr(result, low)
            setattr(result, low, bounds["min"] if current is None else min(current, bounds["min"]))
            current = getattr(result, high)
            setattr(result, high, bounds["max"] if current is None else max(current, bounds["max"]))
