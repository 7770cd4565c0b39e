"""Stage two's sorted readings of a small build, in Arrow instead of DuckDB.

:func:`scraper.normalize.merge.merge` reads the staged sightings three ways, each a
DuckDB statement over the staging files: the narrow columns of every sighting sorted
by key with each thing's winner first (``_winners``), every sighting in that order
(``_sorted_sightings``), and the labels that found each thread (``_found``).  DuckDB
sorts and spills under a memory limit, which a large build needs; but planning and
starting a statement over Parquet costs 3-5 ms however few the rows, and a version of
a few hundred rows paid some 20 ms of its 50 ms build for them (the test suite builds
hundreds).  Up to :data:`SMALL_ROWS` sightings, :class:`Small` reads the staging files
into memory once and gives the same readings, sorted by ``pyarrow.compute``:

- the order is DuckDB's: ``_key`` ascending, then ``retrieved_at`` descending and
  ``_seq`` descending (the newest sighting first, a later one winning a tie), strings
  by their UTF-8 bytes as DuckDB compares them; none of the three is NULL here;
- the found labels are each thread's distinct labels, sorted.

Builds it cannot take go to DuckDB as before (:func:`fits`): more sightings than
:data:`SMALL_ROWS` or than one of merge's key ranges, archive answers or base rows
carrying archive facts (their order and the facts' join stay DuckDB's), an order it
does not know, a NULL in a sort key, thread or label (DuckDB's NULL rules for
``ORDER BY``, ``list`` and ``list_sort`` are not copied here), or staging files
whose schemas differ.
``tests/test_merge_small.py`` holds the two to the same written tables, quarantine
and counts over generated sightings; ``HYPOTHESIS_PROFILE=thorough`` runs the whole
suite with :data:`SMALL_ROWS` at 0, every build through DuckDB.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

#: Builds of at most this many staged sightings (all tables together) are sorted here.
SMALL_ROWS = 20_000

#: The ORDER BY of merge.py's readings (after ``_key``) that this module sorts by, as Arrow sort keys.
_ORDERS: dict[str, list[tuple[str, str, str]]] = {
    "retrieved_at DESC, _seq DESC": [("retrieved_at", "descending", "at_end"), ("_seq", "descending", "at_end")],
}


def fits(staging: dict[str, list[Path]], order: str, *, facts: bool, most: int) -> Small | None:
    """A :class:`Small` over ``staging`` when this build is one it takes, else None (DuckDB's).

    ``most``: merge's key-range size; a build that DuckDB would sort in several ranges is left to it.
    """
    if facts or order not in _ORDERS:
        return None
    try:
        rows = sum(pq.ParquetFile(path).metadata.num_rows for paths in staging.values() for path in paths)
        if rows > min(SMALL_ROWS, most):
            return None
        tables = {tuple(paths): _read(paths) for paths in staging.values() if paths}
    except (OSError, pa.ArrowException):
        return None  # DuckDB reads it, or reports it, as it always did
    for table in tables.values():
        keys = ("thread", "label") if "thread" in table.column_names else ("_key", "retrieved_at", "_seq")
        if any(table[name].null_count for name in keys):
            return None
    return Small(tables, _ORDERS[order])


def _read(paths: list[Path]) -> pa.Table:
    """The staging files of one table, in the order given (DuckDB's ``read_parquet`` of the list)."""
    tables = [pq.ParquetFile(path).read() for path in paths]
    if any(not t.schema.equals(tables[0].schema) for t in tables[1:]):
        raise pa.ArrowInvalid("staging files of one table differ in schema")
    return pa.concat_tables(tables).combine_chunks()


class Small:
    """The sorted readings of one small build's staging files (see the module docstring).

    Each method takes the staging files of one table, as merge.py's readers do.
    """

    def __init__(self, tables: dict[tuple[Path, ...], pa.Table], order: list[tuple[str, str, str]]) -> None:
        self._tables = tables
        self._order = order
        self._sorted: dict[tuple[Path, ...], pa.Table] = {}

    def _sorted_table(self, staged: list[Path]) -> pa.Table:
        key = tuple(staged)
        if key not in self._sorted:
            table = self._tables[key]
            indices = pc.sort_indices(table, sort_keys=[("_key", "ascending", "at_end"), *self._order])
            self._sorted[key] = table.take(indices)
        return self._sorted[key]

    def narrow(self, staged: list[Path], columns: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """``_NARROW_SORTED``: ``_key``, the given columns, ``_pre`` and ``_rdepth AS _pre_depth``, sorted."""
        table = self._sorted_table(staged)
        names = ["_key", *(c.strip() for c in columns.split(",")), "_pre"]
        narrow = table.select(names).append_column("_pre_depth", table["_rdepth"])
        return iter(narrow.to_batches(max_chunksize=batch_rows))

    def sorted_batches(self, staged: list[Path], batch_rows: int) -> Iterator[pa.RecordBatch]:
        """``_SORTED`` without bounds: every sighting, sorted."""
        return iter(self._sorted_table(staged).to_batches(max_chunksize=batch_rows))

    def found(self, staged: list[Path]) -> pa.Table:
        """``_FOUND``: every thread and its distinct labels, sorted."""
        table = self._tables[tuple(staged)]
        labels: dict[str, set[str]] = {}
        for thread, label in zip(table["thread"].to_pylist(), table["label"].to_pylist(), strict=True):
            labels.setdefault(thread, set()).add(label)
        threads = list(labels)
        return pa.table(
            {
                "thread": pa.array(threads, pa.string()),
                "labels": pa.array([sorted(labels[t]) for t in threads], pa.list_(pa.string())),
            }
        )

    def close(self) -> None:
        """Nothing to give back (the counterpart of closing DuckDB's connection)."""
        self._tables.clear()
        self._sorted.clear()
