"""A version's Parquet files checked as the tables they stand for, before a query and after a failed one.

A file can match its manifest's sha256 and still not be what a query expects:
a re-signed copy, another program's Parquet, ``comments.parquet`` and
``submissions.parquet`` swapped, a string column holding bytes that are not
UTF-8.  :func:`checked_schema` reads a file's footer (no data) and refuses it
unless its schema is the table's, as some minor version of this schema wrote it
(:func:`schemas.upgrade.schema_problems`, the test ``validate`` reports).  What
only a scan finds (a damaged page, invalid UTF-8, which DuckDB checks as it
reads) is named by :func:`scan_error`, which finds the file that fails to read.
Both raise :class:`~scraper.errors.IntegrityError`: the data is damaged, not
the tool.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from schemas import ARROW_SCHEMAS
from schemas.upgrade import schema_problems
from scraper import duck
from scraper.errors import (
    IntegrityError,
    ScraperError,
    StorageError,
    first_line,
    from_exception,
    os_errno,
    storage_error,
)
from scraper.store.snapshot import RESTORE, read_manifest, table_files

#: DuckDB's errors that mean "this data cannot be read" (its base class is what its Parquet reader
#: raises for a damaged page); the others (binder, parser, catalog) are a query's bug.
DATA_ERRORS = (duckdb.InvalidInputException, duckdb.ConversionException)
#: How DuckDB's IOException begins when a damaged offset or length points past a file's end (every other
#: IOException is the disk's or the system's).
SHORT_READ = "IO Error: Could not read enough bytes from file"
#: What pyarrow raises for a file that is not readable Parquet.  It decodes a footer's column names
#: as UTF-8 in Python, so a damaged name raises ``UnicodeDecodeError``, not an Arrow error.
PARQUET_ERRORS = (pa.ArrowException, UnicodeDecodeError)


def checked_schema(path: Path, stem: str) -> pa.Schema:
    """The schema of ``path``, refused unless the file holds table ``stem`` in a schema this tool reads."""
    try:
        schema: pa.Schema = pq.read_schema(path)
    except (*PARQUET_ERRORS, OSError) as exc:
        raise read_error(exc, path) from None
    problems = schema_problems(stem, schema)
    if problems:
        other = next((t for t in ARROW_SCHEMAS if t != stem and not schema_problems(t, schema)), None)
        why = f"it holds the {other} table: files swapped?" if other else "; ".join(problems[:3])
        raise IntegrityError(f"{path} is not the {stem} table this tool reads ({why}); {RESTORE}")
    return schema


def read_table(path: Path) -> pa.Table:
    """The whole file as an Arrow table; a file that does not read is refused by name."""
    try:
        return pq.read_table(path)
    except (*PARQUET_ERRORS, OSError) as exc:
        raise read_error(exc, path) from None


def read_error(exc: Exception, path: Path) -> ScraperError:
    """The error for pyarrow failing to read ``path``: the system's (an errno) or the bytes'.

    pyarrow raises a plain ``OSError`` with no errno for some damaged files (a page header that
    does not deserialize): that is the data, exit 1, not the disk.
    """
    if isinstance(exc, OSError) and os_errno(exc) is not None:
        return storage_error(exc, path)
    return IntegrityError(f"{path} is not readable Parquet ({first_line(exc)}); {RESTORE}")


def is_data_error(exc: BaseException) -> bool:
    """Whether a DuckDB error stands for unreadable data (not for a query this tool got wrong)."""
    if isinstance(exc, duckdb.IOException):  # a page or footer that claims bytes past the file's end: the data
        return str(exc).startswith(SHORT_READ)
    return type(exc) is duckdb.Error or isinstance(exc, DATA_ERRORS)


def scan_error(exc: BaseException, folders: list[Path]) -> ScraperError:
    """The error for a failed DuckDB scan of the version ``folders``' Parquet files.

    A data error names the first file that does not read whole (each is scanned again,
    every column, on this error path only); any other error passes to
    :func:`~scraper.errors.from_exception` (a bug, or the disk).
    """
    if not is_data_error(exc):
        return from_exception(exc, where=", ".join(map(str, folders)))
    for folder in folders:
        for path in _table_files(folder):
            if problem := _unreadable(path):
                return IntegrityError(f"{path} is damaged: {problem}; {RESTORE}")
    where = " or ".join(str(f) for f in folders)
    return IntegrityError(f"a Parquet file of {where} is damaged ({first_line(exc)}); {RESTORE}")


def _table_files(folder: Path) -> list[Path]:
    """The version's table files as its manifest maps them (by their usual names without a usable one)."""
    try:
        manifest = read_manifest(folder / "manifest.json")
    except (IntegrityError, StorageError):
        return [folder / f"{stem}.parquet" for stem in ARROW_SCHEMAS]
    return [folder / name for name in table_files(manifest).values()]


def _unreadable(path: Path) -> str | None:
    """Why ``path`` does not read whole in DuckDB (every column of every row), or None."""
    con = duck.connect()
    try:
        literal = "'" + str(path).replace("'", "''") + "'"
        con.execute(f"SELECT count(hash(t)) FROM read_parquet({literal}) t").fetchall()  # noqa: S608
    except duckdb.Error as exc:
        return first_line(exc)
    finally:
        con.close()
    return None
