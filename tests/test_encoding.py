"""Every path that writes a version's tables encodes them the same way (scraper/store/encoding.py).

The streaming build (ingest, collect, refresh), a purge's rewrite and the dump path each write
Parquet; a file written by one must not differ in encoding from one written by another.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from scraper.ingest import ingest
from scraper.store.encoding import DISTINCT_COLUMNS
from scraper.store.purge import purge
from tests.test_ingest import sample_file, t1, tree

ROOT = Path(__file__).resolve().parents[1]


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


def test_the_encoding_bench_writes_the_same_values_both_ways(tmp_path: Path, capsys: Any) -> None:
    """bench/encoding_bench.py at a tiny size: both settings write, read back equal, and are reported."""
    folder = tmp_path / "ds"
    ingest(folder, [sample_file(tmp_path, "aaa", tree("aaa", [t1(f"c{i}", "t3_aaa") for i in range(50)]))])
    spec = importlib.util.spec_from_file_location("encoding_bench", ROOT / "bench" / "encoding_bench.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.argv", ["encoding_bench", str(folder / "versions" / "v0001" / "comments.parquet")])
        bench.main()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and all("rows        50" in line for line in lines), lines
    assert [line.split()[0] for line in lines] == ["pyarrow", "scraper.store.encoding"] * 2
