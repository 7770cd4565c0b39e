"""Snapshots: write-once versions, checksummed manifests, the index, crashes, and readers."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from schemas import ARROW_SCHEMAS, SCHEMA_VERSION
from scraper.errors import SnapshotError
from scraper.fake_reddit import Forest
from scraper.fake_reddit.generate import generate_thread
from scraper.ingest import ingest
from scraper.store.snapshot import Dataset, rows_to_table, sha256_file
from tests import forked

ROOT = Path(__file__).resolve().parents[1]


def tree_file(tmp_path: Path, link: str, size: int, seed: int) -> Path:
    """A whole comment tree as Reddit would answer it, saved as a JSON file."""
    forest = Forest()
    submission, comments = generate_thread(link, size, seed=seed, deep_chains=0, deleted_rate=0)
    forest.add_thread(submission, comments)
    path = tmp_path / f"{link}.json"
    path.write_text(json.dumps(forest.tree(link, limit=500, sort="confidence")), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def two_versions_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two ingested versions, built once a module (read only: tests get a copy)."""
    tmp_path = tmp_path_factory.mktemp("two-versions")
    folder = tmp_path / "ds"
    ingest(folder, [tree_file(tmp_path, "aaa", 20, 1)])
    ingest(folder, [tree_file(tmp_path, "bbb", 114, 2)], replace=True)
    return folder


@pytest.fixture
def two_versions(two_versions_once: Path, tmp_path: Path) -> Path:
    """A copy of the two versions for one test (several write a version, tamper or kill a writer)."""
    folder = tmp_path / "ds"
    shutil.copytree(two_versions_once, folder, symlinks=True)
    return folder


def test_manifest_checksums_rows_and_bytes_match_the_files(two_versions: Path) -> None:
    dataset = Dataset(two_versions)
    assert dataset.versions() == ["v0001", "v0002"]
    manifest = dataset.manifest("v0002")
    assert manifest["parent"] == "v0001" and manifest["schema_version"] == SCHEMA_VERSION
    assert manifest["tool"]["name"] == "reddit-research-dataset" and manifest["created_at"].endswith("+00:00")
    for name, info in manifest["files"].items():
        path = two_versions / "versions" / "v0002" / name
        assert sha256_file(path) == info["sha256"]
        assert path.stat().st_size == info["bytes"]
        assert pq.ParquetFile(path).metadata.num_rows == info["rows"]
        assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"


def test_index_lists_versions_and_latest_with_manifest_hashes(two_versions: Path) -> None:
    index = json.loads((two_versions / "index.json").read_text())
    assert index["latest"] == "v0002"
    assert [v["version"] for v in index["versions"]] == ["v0001", "v0002"]
    for entry in index["versions"]:
        assert sha256_file(two_versions / entry["manifest"]) == entry["manifest_sha256"]


def test_an_existing_version_is_never_rewritten(two_versions: Path) -> None:
    dataset = Dataset(two_versions)
    before = sha256_file(two_versions / "versions" / "v0001" / "comments.parquet")
    tables = {stem: rows_to_table(stem, []) for stem in ARROW_SCHEMAS}
    with pytest.raises(SnapshotError, match="never rewritten"):
        dataset.write_version(tables, spec_sha256=None, source={}, stats={}, version="v0001")
    assert sha256_file(two_versions / "versions" / "v0001" / "comments.parquet") == before


def test_files_carry_the_models_schema(two_versions: Path) -> None:
    for stem, schema in ARROW_SCHEMAS.items():
        file_schema = pq.read_schema(two_versions / "versions" / "v0001" / f"{stem}.parquet")
        assert file_schema.equals(schema)
        assert file_schema.metadata[b"schema_version"] == SCHEMA_VERSION.encode()


def test_files_open_in_pandas_polars_and_duckdb(two_versions: Path) -> None:
    import polars as pl  # here, not at the top: 0.7 s to import, on the one xdist worker that runs this test

    folder = two_versions / "versions" / "v0002"
    frame = pd.read_parquet(folder / "comments.parquet")
    assert len(frame) == 114 and str(frame["created_utc"].dt.tz) == "UTC"
    lazy = pl.read_parquet(folder / "comments.parquet")
    assert lazy.height == 114 and lazy.schema["found_by"] == pl.List(pl.String)
    top_level = int((frame["parent_id"] == "t3_bbb").sum())
    count = duckdb.sql(f"select count(*) from '{folder}/comments.parquet' where depth = 0").fetchall()
    assert count == [(top_level,)] and top_level > 10
    joined = duckdb.sql(
        f"select s.title, count(*) from '{folder}/comments.parquet' c "
        f"join '{folder}/submissions.parquet' s on c.link_id = s.name group by 1"
    ).fetchall()
    assert joined[0][1] == 114


def test_files_open_in_spark(two_versions: Path) -> None:
    pyspark = pytest.importorskip("pyspark.sql")
    spark = pyspark.SparkSession.builder.master("local[1]").appName("t").getOrCreate()
    try:
        frame = spark.read.parquet(str(two_versions / "versions" / "v0002" / "comments.parquet"))
        assert frame.count() == 114
    finally:
        spark.stop()


KILLER = """
import sys, time
import pyarrow.parquet as pq
from pathlib import Path
from scraper.ingest import ingest
import scraper.store.snapshot as snap
real = snap.sha256_file
def slow(where, **kw):  # the version's first table is in place in .staging, being checksummed
    if ".staging" not in str(where):
        return real(where, **kw)
    print("WROTE", where, flush=True)
    time.sleep(60)
snap.sha256_file = slow
ingest(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]], replace=True)
"""


def test_kill_while_writing_leaves_earlier_versions_intact_and_next_run_works(
    two_versions: Path, tmp_path: Path
) -> None:
    index_before = (two_versions / "index.json").read_bytes()
    sample = str(tree_file(tmp_path, "ccc", 31, 3))
    proc = forked.Forked(forked.script(KILLER, str(two_versions), sample), stdout=forked.PIPE)  # a real process
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("WROTE") and ".staging" in line
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert Dataset(two_versions).versions() == ["v0001", "v0002"]
    assert (two_versions / "index.json").read_bytes() == index_before
    assert any((two_versions / ".staging").iterdir())
    manifest = ingest(two_versions, [Path(sample)], replace=True)
    assert manifest["version"] == "v0003" and manifest["stats"]["comments"] == 31
    assert not (two_versions / ".staging").exists()  # the leftover cleaned, and the folder left empty removed


def test_unknown_version_is_a_clear_error(two_versions: Path) -> None:
    with pytest.raises(SnapshotError, match=r"no version 'v0009' \(versions: v0001, v0002\)"):
        Dataset(two_versions).manifest("v0009")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ('[dataset]\nname = "leaving-ml"\n', "leaving-ml"),  # the spec's name, whatever the folder
        ("", "folder-name"),  # no spec: the folder's
        ("[dataset\nname = ", "folder-name"),  # a broken spec is its loader's to refuse, not the name's
        ("[dataset]\nname = 3\n", "folder-name"),
        ('dataset = "x"\n', "folder-name"),
    ],
)
def test_a_dataset_is_named_by_its_spec_and_its_versions_say_so(tmp_path: Path, spec: str, expected: str) -> None:
    folder = tmp_path / "folder-name"
    folder.mkdir()
    if spec:
        (folder / "dataset.toml").write_text(spec, encoding="utf-8")
    dataset = Dataset(folder)
    assert dataset.name == expected
    if expected == "leaving-ml":
        manifest = dataset.write_version(
            {"submissions": rows_to_table("submissions", []), "comments": rows_to_table("comments", [])},
            spec_sha256=None,
            source={"kind": "test"},
            stats={},
        )
        assert manifest["dataset"] == "leaving-ml" and dataset.index()["dataset"] == "leaving-ml"
