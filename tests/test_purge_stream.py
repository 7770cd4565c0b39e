"""purge streams a version's tables: the same bytes as the whole-table rewrite, never the whole table held.

The rewrite used to read each table whole (``read_table``) and make every row a model before
writing one file; a version larger than memory could not be purged.  Now it reads
``READ_ROWS`` rows at a time and writes row groups of ``GROUP_ROWS`` (pyarrow's default for a
whole table), so the file it writes is the one the whole-table rewrite wrote, byte for byte.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import Comment, Submission
from scraper.errors import IntegrityError
from scraper.publish.validate import validate
from scraper.store import purge as purge_module
from scraper.store.encoding import writer_options
from scraper.store.purge import purge, purge_rows
from scraper.store.snapshot import Dataset, rows_to_table, sha256_file
from scraper.store.writers import write_table
from tests.test_diff import com, sub


def _old_rewrite(
    path: Path, out: Path, stem: str, names: set[str], row_group_size: int | None = None
) -> tuple[int, set[str]]:
    """The rewrite as it was: the table read whole, every row a model, one ``write_table``."""
    model: Any = Submission if stem == "submissions" else Comment
    rows = [model.model_validate(r) for r in pq.read_table(path).to_pylist()]
    kept, hits = purge_rows(rows, names)
    if hits:
        write_table(rows_to_table(stem, kept), out, row_group_size=row_group_size, **writer_options(stem))
    return hits, {new.name for old, new in zip(rows, kept, strict=True) if new != old}


def _dataset(folder: Path, comments: int, purged_already: set[int]) -> Path:
    """A version of one thread and ``comments`` comments (some already purged tombstones), varied text."""
    rows = [
        com(
            f"c{i}",
            body="" if i in purged_already else f"comment {i} " + "x" * (i % 37),
            status="purged" if i in purged_already else "visible",
            author=None if i in purged_already else f"user{i % 5}",
            score=i * 7 % 13,
        )
        for i in range(comments)
    ]
    Dataset(folder).write_version(
        {"submissions": rows_to_table("submissions", [sub()]), "comments": rows_to_table("comments", rows)},
        spec_sha256=None,
        source={"kind": "test"},
        stats={"status": {}},  # recounted by the purge
    )
    return folder


@st.composite
def cases(draw: st.DrawFn) -> tuple[int, set[int], set[int], int, int]:
    n = draw(st.integers(1, 120))
    targets = draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=6))
    already = draw(st.sets(st.integers(0, n - 1), max_size=4))
    return n, targets, already, draw(st.integers(1, 40)), draw(st.integers(1, 50))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=cases())
def test_a_streamed_purge_writes_the_bytes_the_whole_table_rewrite_wrote(
    case: tuple[int, set[int], set[int], int, int], tmp_path_factory: pytest.TempPathFactory
) -> None:
    n, targets, already, read_rows, group_rows = case
    names = {f"t1_c{i}" for i in targets}
    folder = _dataset(tmp_path_factory.mktemp("ds") / "ds", n, already)
    source = folder / "versions" / "v0001" / "comments.parquet"
    old_default, old_small = folder / "old-default.parquet", folder / "old-small.parquet"
    expected, expected_names = _old_rewrite(source, old_default, "comments", names)
    _old_rewrite(source, old_small, "comments", names, row_group_size=group_rows)
    with pytest.MonkeyPatch.context() as patch:
        # pyarrow's row-group size, read in small batches: the bytes of the whole-table rewrite
        patch.setattr(purge_module, "READ_ROWS", read_rows, raising=False)
        new, hit_names = folder / "new.parquet", set[str]()
        assert purge_module._purge_rows(source, new, "comments", names, hit_names) == expected
        assert new.exists() == old_default.exists()
        if expected:
            assert new.read_bytes() == old_default.read_bytes()
            assert hit_names == expected_names
            new.unlink()
        # small row groups: the same groups (and bytes) as a whole-table write with that row-group size
        patch.setattr(purge_module, "GROUP_ROWS", group_rows, raising=False)
        assert purge_module._purge_rows(source, new, "comments", names, set()) == expected
        if expected:
            assert new.read_bytes() == old_small.read_bytes()
            layout = [
                pq.ParquetFile(new).metadata.row_group(g).num_rows for g in range(pq.ParquetFile(new).num_row_groups)
            ]
            assert layout == [min(group_rows, n - at) for at in range(0, n, group_rows)]
    shutil.rmtree(folder)


def test_purge_never_holds_more_than_a_batch_of_rows_nor_a_row_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _dataset(tmp_path / "ds", 200, set())
    monkeypatch.setattr(purge_module, "READ_ROWS", 16, raising=False)
    monkeypatch.setattr(purge_module, "GROUP_ROWS", 48, raising=False)
    made: list[int] = []  # rows turned into a table at once (each a model first)
    written: list[int] = []  # rows handed to the Parquet writer at once

    def counting_rows_to_table(stem: str, rows: Any) -> pa.Table:
        made.append(len(rows))
        return rows_to_table(stem, rows)

    def counting_write(writer: Any, path: Path, table: Any, **kwargs: Any) -> None:
        written.append(table.num_rows)
        writer.write(table, **kwargs)

    real_write_table = purge_module.__dict__.get("write_table")

    def counting_write_table(table: pa.Table, path: Path, **kwargs: Any) -> None:
        written.append(table.num_rows)
        assert real_write_table is not None
        real_write_table(table, path, **kwargs)

    monkeypatch.setattr(purge_module, "rows_to_table", counting_rows_to_table)
    monkeypatch.setattr(purge_module, "write_batch", counting_write, raising=False)
    monkeypatch.setattr(purge_module, "write_table", counting_write_table, raising=False)
    entry = purge(folder, ["t1_c150"])
    assert entry["rows"] == {"v0001": 1}
    assert made and max(made) <= 16, made
    assert written and max(written) <= 48 and sum(written) >= 200, written
    stored = folder / "versions" / "v0001" / "comments.parquet"
    file = pq.ParquetFile(stored)
    assert [file.metadata.row_group(g).num_rows for g in range(file.num_row_groups)] == [48, 48, 48, 48, 8]
    row = next(r for r in pq.read_table(stored).to_pylist() if r["name"] == "t1_c150")
    assert (row["status"], row["body"], row["author"]) == ("purged", "", None)
    manifest = Dataset(folder).manifest("v0001")
    assert manifest["files"]["comments.parquet"]["sha256"] == sha256_file(stored)
    statuses = pq.read_table(folder / "versions" / "v0001" / "submissions.parquet", columns=["status"])["status"]
    counts = Counter(pq.read_table(stored, columns=["status"])["status"].to_pylist() + statuses.to_pylist())
    assert manifest["stats"]["status"] == dict(sorted(counts.items())) and counts["purged"] == 1
    assert validate(folder).valid


def test_a_row_no_model_takes_past_the_first_batch_stops_the_purge_and_leaves_the_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "ds"
    table = rows_to_table("comments", [com(f"c{i}") for i in range(60)])
    status = table["status"].to_pylist()
    status[45] = "bogus"  # in the third batch of 16, after two batches are written
    field = table.schema.field("status")
    table = table.set_column(table.schema.get_field_index("status"), field, pa.array(status, field.type))
    Dataset(folder).write_version(
        {"submissions": rows_to_table("submissions", [sub()]), "comments": table},
        spec_sha256=None,
        source={"kind": "test"},
        stats={},
    )
    before = (folder / "versions" / "v0001" / "comments.parquet").read_bytes()
    monkeypatch.setattr(purge_module, "READ_ROWS", 16)
    with pytest.raises(IntegrityError, match=r"comments\.parquet holds a row that is not a comment"):
        purge(folder, ["t1_c3"])
    assert (folder / "versions" / "v0001" / "comments.parquet").read_bytes() == before
    assert not (folder / ".staging").exists()
