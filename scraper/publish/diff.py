"""Differences between two versions of a dataset, keyed by fullname.

Two rows of one item are the same when their canonical fields are, leaving out
volatile ones (``retrieved_at``, ``source``) and any the caller ignores (say
``score``); :func:`content_hash` is that identity as one sha256 over the
canonical JSON of a row.  An item is *added*, *removed*, *tombstoned* (visible
in A, deleted/removed/account gone in B) or *changed*, with the columns that
changed.  The comparison runs in DuckDB: content hashes of the compared columns,
one per column, joined by fullname there; only the differences come back to
Python.  Versions of the same major schema version compare in the current
schema (an older minor version's file is upgraded as :func:`scraper.load` reads
it); another major version is refused with the reason.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from schemas import ARROW_SCHEMAS
from schemas.upgrade import upgrade_table
from scraper import duck
from scraper.store.changes import VOLATILE  # one rule for "what changes on every run"
from scraper.store.snapshot import table_path
from scraper.store.tablefile import checked_schema, read_table, scan_error
from scraper.study import TABLES, locate

MEMORY_LIMIT = "512MB"  # DuckDB's own limit for a diff; the hash join of two 1M-comment versions fits


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def content_hash(row: dict[str, Any], columns: list[str]) -> str:
    """sha256 of the canonical JSON of ``row``'s ``columns``."""
    payload = {c: _canonical(row.get(c)) for c in columns}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class TableDiff:
    """The differences of one table."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    tombstoned: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)

    def column_counts(self) -> dict[str, int]:
        """How many changed items changed each column."""
        return dict(Counter(c for cols in self.changed.values() for c in cols).most_common())

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "added": self.added,
            "removed": self.removed,
            "tombstoned": self.tombstoned,
            "changed": [{"name": n, "columns": c} for n, c in self.changed.items()],
            "changed_columns": self.column_counts(),
            "columns_added": self.columns_added,
            "columns_removed": self.columns_removed,
        }


@dataclass
class VersionDiff:
    """The differences between versions ``a`` and ``b``."""

    a: str
    b: str
    ignored: list[str]
    tables: dict[str, TableDiff]

    def summary(self) -> dict[str, dict[str, int]]:
        """Counts per table."""
        return {
            name: {
                "added": len(t.added),
                "removed": len(t.removed),
                "tombstoned": len(t.tombstoned),
                "changed": len(t.changed),
            }
            for name, t in self.tables.items()
        }

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "a": self.a,
            "b": self.b,
            "ignored": self.ignored,
            "summary": self.summary(),
            "tables": {name: t.as_json() for name, t in self.tables.items()},
        }


def diff_versions(path: Path, a: str, b: str, *, ignore: frozenset[str] = frozenset()) -> VersionDiff:
    """Compare versions ``a`` and ``b`` of the dataset at ``path``.

    The comparison runs in DuckDB over the Parquet files: content hashes of the compared
    columns joined by fullname there, so only the items that differ (and the names of the
    columns that do) reach Python, and the join holds numbers, not the text.
    """
    folder_a, manifest_a = locate(path, a)
    folder_b, manifest_b = locate(path, b)
    # locate() has checked both versions' files against their manifests and refused any
    # version whose major schema differs from this tool's.  A file of an older minor version is
    # read in the current schema (schemas/upgrade.py), as load() reads it.
    tables = {}
    with _engine() as con:
        for name in TABLES:
            schema_a = _side_view(con, table_path(folder_a, manifest_a, name), name, "side_a")
            schema_b = _side_view(con, table_path(folder_b, manifest_b, name), name, "side_b")
            common = [c for c in schema_a.names if c in schema_b.names and c not in VOLATILE | ignore]
            result = TableDiff(
                columns_added=[c for c in schema_b.names if c not in schema_a.names],
                columns_removed=[c for c in schema_a.names if c not in schema_b.names],
            )
            try:
                _diff_table(con, common, result)
            except duckdb.Error as exc:  # a file that matched its manifest but does not read (bad UTF-8, a page)
                raise scan_error(exc, [folder_a, folder_b]) from None
            tables[name] = result
    return VersionDiff(manifest_a["version"], manifest_b["version"], sorted(ignore), tables)


@contextmanager
def _engine() -> Iterator[duckdb.DuckDBPyConnection]:
    """A private in-memory DuckDB connection, spilling to a temporary folder past its memory limit."""
    with tempfile.TemporaryDirectory(prefix="diff-") as spill:
        con = duck.connect(**{"memory_limit": MEMORY_LIMIT, "temp_directory": spill})
        try:
            con.execute("SET preserve_insertion_order = false")
            con.execute("SET enable_progress_bar = false")  # DuckDB draws it on stdout past 2 s: into --json output
            yield con
        finally:
            con.close()


def _side_view(con: duckdb.DuckDBPyConnection, file: Path, stem: str, view: str) -> pa.Schema:
    """Make ``view`` one version's file in DuckDB; return the schema it is compared in.

    A file in the current schema is scanned by DuckDB where it lies; one of an older minor
    version is upgraded in Arrow first (the rare case; it is held in memory).
    """
    schema = checked_schema(file, stem)  # its table, in a schema of this major version: or refused by name
    current = ARROW_SCHEMAS[stem]
    if schema.equals(current, check_metadata=False):
        try:  # DuckDB reads the whole footer here, pyarrow's schema check only part of it
            con.read_parquet(str(file), file_row_number=True).create_view(view)
        except duckdb.Error as exc:
            raise scan_error(exc, [file.parent]) from None
        return schema
    table = upgrade_table(stem, read_table(file))
    table = table.append_column("file_row_number", pa.array(range(table.num_rows), pa.int64()))
    con.from_arrow(table).create_view(view)
    return current


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _side(con: duckdb.DuckDBPyConnection, view: str, columns: list[str]) -> str:
    """SQL for one version's rows, one per fullname (the last one, as a dict keyed by name kept)."""
    select = ", ".join(_quote(c) for c in dict.fromkeys(["name", *columns]))
    [(duplicates,)] = con.execute(f"SELECT count(*) - count(DISTINCT name) FROM {view}").fetchall()  # noqa: S608
    if not duplicates:
        return f"SELECT {select} FROM {view}"  # noqa: S608 - quoted column names, no values
    return (
        f"SELECT {select} FROM {view} "  # noqa: S608 - quoted column names, no values
        "QUALIFY row_number() OVER (PARTITION BY name ORDER BY file_row_number DESC) = 1"
    )


def _diff_table(con: duckdb.DuckDBPyConnection, common: list[str], result: TableDiff) -> None:
    """Fill ``result`` with the items that differ between views side_a and side_b on ``common`` columns.

    Each side becomes (fullname, status, one content hash per compared column), hashed by
    DuckDB, and the two are joined by fullname there: the join holds a few 8-byte numbers a
    row, not the text.  Only items added, removed or with some hash that differs come out,
    with the names of the columns whose hashes differ.  Equal hashes stand for equal values
    as the sha256 of the old per-row diff did; with DuckDB's 64-bit hash a changed column is
    taken for unchanged with odds of 2^-64.
    """
    compared = [c for c in common if c != "name"]
    hashes = ", ".join(f"hash({_quote(c)}) AS h{i}" for i, c in enumerate(compared))
    status = "status" if "status" in common else "NULL::VARCHAR AS status"
    select = f"name, {status}" + (f", {hashes}" if hashes else "")
    differs = [f"a.h{i} <> b.h{i}" for i in range(len(compared))]
    flags = ", ".join(f"CASE WHEN {d} THEN {_literal(c)} END" for d, c in zip(differs, compared, strict=True))
    # Issue 3's tombstone: visible in A and not in B; with status ignored there is none, as before.
    tombstone = "a.status = 'visible' AND b.status IS DISTINCT FROM 'visible'" if "status" in common else "false"
    rows = con.execute(
        f"""
        WITH a AS (SELECT {select} FROM ({_side(con, "side_a", common)})),
             b AS (SELECT {select} FROM ({_side(con, "side_b", common)}))
        SELECT
            coalesce(a.name, b.name) AS item,
            CASE WHEN a.name IS NULL THEN 'added' WHEN b.name IS NULL THEN 'removed'
                 WHEN {tombstone} THEN 'tombstoned' ELSE 'changed' END AS kind,
            list_filter([{flags or "NULL::VARCHAR"}], lambda x: x IS NOT NULL) AS columns
        FROM a FULL OUTER JOIN b ON a.name = b.name
        WHERE a.name IS NULL OR b.name IS NULL OR {" OR ".join(differs) or "false"}
        """  # noqa: S608 - built from quoted column names and literals of them, no values
    ).fetchall()
    changed: list[tuple[str, list[str]]] = []
    lists = {"added": result.added, "removed": result.removed, "tombstoned": result.tombstoned}
    for item, kind, columns in rows:
        if kind == "changed":
            changed.append((item, columns))
        else:
            lists[kind].append(item)
    for found in lists.values():
        found.sort()
    changed.sort()
    order = {c: i for i, c in enumerate(compared)}
    result.changed = {item: sorted(columns, key=order.__getitem__) for item, columns in changed}
