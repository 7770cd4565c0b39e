"""Every path that writes a version's tables encodes them the same way (scraper/store/encoding.py).

The streaming build (ingest, collect, refresh), a purge's rewrite and the dump path each write
Parquet; a file written by one must not differ in encoding from one written by another.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from scraper.ingest import ingest
from scraper.store.encoding import DISTINCT_COLUMNS
from scraper.store.purge import purge
from tests.test_ingest import sample_file, t1, tree


def encodings(path: Path) -> dict[str, tuple[str, set[str]]]:
    """Per column: the compression and the encodings of its first row group."""
    meta = pq.ParquetFile(path).metadata
    group = meta.row_group(0)
    out = {}
    for i in range(group.num_columns):
        column = group.column(i)
        out[column.path_in_schema] = (column.compression, set(column.encodings))
    return out


def check(path: Path) -> None:
    seen = encodings(path)
    assert seen, path
    for column, (compression, used) in seen.items():
        assert compression == "ZSTD", (path.name, column)
        top = column.split(".")[0]
        if top in {"created_utc", "retrieved_at", "edited", "archived_at"} and "DELTA_BINARY_PACKED" in used:
            continue
        if top in DISTINCT_COLUMNS:
            assert "RLE_DICTIONARY" not in used and "PLAIN_DICTIONARY" not in used, (path.name, column, used)
    stats = pq.ParquetFile(path).metadata.row_group(0).column(0).statistics
    assert stats is not None and stats.has_min_max


def test_ingest_and_purge_write_with_the_one_encoding(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    a = sample_file(tmp_path, "aaa", tree("aaa", [t1("a1", "t3_aaa"), t1("a2", "t1_a1", depth=1)]))
    assert ingest(folder, [a])["version"] == "v0001"
    for stem in ("submissions", "comments"):
        check(folder / "versions" / "v0001" / f"{stem}.parquet")
    timestamps = encodings(folder / "versions" / "v0001" / "comments.parquet")["created_utc"][1]
    assert "DELTA_BINARY_PACKED" in timestamps
    purge(folder, ["t1_a1"])
    for stem in ("submissions", "comments"):
        check(folder / "versions" / "v0001" / f"{stem}.parquet")
    assert (
        pq.read_table(folder / "versions" / "v0001" / "comments.parquet").column("status").to_pylist().count("purged")
        == 1
    )
