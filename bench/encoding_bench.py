"""Parquet settings of a version file: pyarrow's defaults against ``scraper.store.encoding``, same batches.

    python bench/encoding_bench.py DATASET/versions/v0001/comments.parquet [--rounds 2]

Reads the table, then writes it in the final pass's batches (``BATCH_ROWS`` rows a row group)
with each setting in turn, on this thread, and prints the thread's CPU seconds, wall seconds
and the file's size; the values read back are compared with the input.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from scraper.normalize.merge import BATCH_ROWS
from scraper.store.encoding import writer_options


def write(table: pa.Table, out: Path, options: dict[str, Any]) -> tuple[float, float, int]:
    """Thread CPU seconds, wall seconds and bytes of writing ``table`` with ``options``."""
    cpu, wall = time.thread_time(), time.perf_counter()
    with pq.ParquetWriter(out, table.schema, **options) as writer:
        for batch in table.to_batches(max_chunksize=BATCH_ROWS):
            writer.write_table(pa.Table.from_batches([batch]), row_group_size=BATCH_ROWS)
    return time.thread_time() - cpu, time.perf_counter() - wall, out.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", type=Path, help="a version's comments.parquet or submissions.parquet")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    stem = args.table.stem
    table = pq.read_table(args.table)
    settings = {
        "pyarrow defaults": {"compression": "zstd", "write_statistics": True},
        "scraper.store.encoding": writer_options(stem),
    }
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{stem}.parquet"
        for _ in range(args.rounds):
            for name, options in settings.items():
                cpu, wall, size = write(table, out, options)
                assert pq.read_table(out).equals(table), name  # the same values, only the encoding differs
                size_mb = size / 2**20
                print(f"{name:24} rows {table.num_rows:>9}  cpu {cpu:6.2f} s  wall {wall:6.2f} s  {size_mb:7.1f} MB")


if __name__ == "__main__":
    main()
