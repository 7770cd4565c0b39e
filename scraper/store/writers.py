"""Parquet writers that give up cleanly when a write fails (a full disk, a read-only folder).

``pyarrow.parquet.ParquetWriter`` marks itself closed only once ``close()`` succeeds.  When a
write or the close fails (``ENOSPC`` while flushing a row group or the footer), the writer stays
"open", and its ``__del__`` closes it again when the garbage collector gets to it, often at
interpreter exit, where a second failure prints ``Exception ignored in ParquetWriter.__del__``
and a traceback after the command's one error line.  ``pq.write_table`` has the same hole (its
writer is made inside).  Here every failed write or close:

- gives the writer up (:func:`abandon`): closed as far as it closes, never raising, and marked
  closed so nothing retries at exit; the half-written file is the caller's work file, removed
  with its folder;
- raises :class:`~scraper.errors.StorageError` naming the file being *written* (never a file
  the same step was reading) with what to do: free space and run the same command again.

pyarrow offers no "discard" for a writer; hence these few lines.

The merge's sorted runs (:mod:`scraper.normalize.runs`) are Arrow IPC files, not Parquet:
they are written once and read once or twice by this tool, within one command, so
Parquet's encoding and compression only cost time (a 1M-comment ingest spent about a
fifth of its CPU on them).  :func:`ipc_writer` gives them the same clean failure.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq

from scraper.errors import storage_error


def abandon(writer: pq.ParquetWriter) -> None:
    """Give up ``writer`` (its file will not be used): close what closes, never raise, leave nothing for ``__del__``."""
    with contextlib.suppress(Exception):
        writer.close()
    writer.is_open = False
    handle = getattr(writer, "file_handle", None)
    if handle is not None:
        with contextlib.suppress(Exception):
            handle.close()


def close(writer: pq.ParquetWriter, path: Path) -> None:
    """Close ``writer`` (writing the footer of ``path``); a failure gives it up and names ``path``."""
    try:
        writer.close()
    except OSError as exc:
        abandon(writer)
        raise storage_error(exc, path) from None


def write_batch(writer: pq.ParquetWriter, path: Path, batch: pa.RecordBatch | pa.Table, **kwargs: Any) -> None:
    """``writer.write(batch)``; a failure gives the writer up and names ``path``."""
    try:
        writer.write(batch, **kwargs)
    except OSError as exc:
        abandon(writer)
        raise storage_error(exc, path) from None


@contextmanager
def parquet_writer(path: Path, schema: pa.Schema, **options: Any) -> Iterator[pq.ParquetWriter]:
    """A ``ParquetWriter`` on ``path``, closed at the end; given up (never left open) if anything fails."""
    try:
        writer = pq.ParquetWriter(path, schema, **options)
    except OSError as exc:
        raise storage_error(exc, path) from None
    try:
        yield writer
    except BaseException:
        abandon(writer)
        raise
    close(writer, path)


def write_table(table: pa.Table, path: Path, *, row_group_size: int | None = None, **options: Any) -> None:
    """``pq.write_table`` whose failure leaves no writer open and names ``path``."""
    with parquet_writer(path, table.schema, **options) as writer:
        write_batch(writer, path, table, row_group_size=row_group_size)


@contextmanager
def ipc_writer(path: Path, schema: pa.Schema) -> Iterator[pyarrow.ipc.RecordBatchFileWriter]:
    """An Arrow IPC file writer on ``path`` (uncompressed), closed at the end; any failure to write names ``path``.

    A failed write or close gives the writer up (its file closed as far as it closes; the writer
    holds no ``__del__`` that writes again); the half-written file is the caller's work file,
    removed with its folder.
    """
    try:
        writer = pyarrow.ipc.new_file(str(path), schema)
    except OSError as exc:
        raise storage_error(exc, path) from None
    try:
        yield writer
        writer.close()
    except BaseException as exc:
        with contextlib.suppress(Exception):
            writer.close()
        if isinstance(exc, OSError):
            raise storage_error(exc, path) from None
        raise


def write_ipc(table: pa.Table, path: Path, *, batch_rows: int) -> None:
    """``table`` as the Arrow IPC file ``path``, in record batches of at most ``batch_rows`` rows."""
    with ipc_writer(path, table.schema) as writer:
        writer.write_table(table, max_chunksize=batch_rows)
