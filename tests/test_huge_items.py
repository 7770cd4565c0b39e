"""Huge texts (adversarial review 4 F2): a build whose strings pass what one Arrow array holds.

An Arrow ``string`` array holds 2 GiB (32-bit offsets).  Stage one cuts its runs by bytes as well
as rows, the merge sorts a gathering of more than :data:`runs.COMBINE_BYTES` as ``large_string``
and cuts it back, and its batches end by their strings' bytes too.  The bounds are set small here,
so that texts of a few kilobytes take the paths 50 MiB selftexts take; the version must be the one
built with the bounds as shipped.  A real 2 GiB input takes minutes and gigabytes: not run here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scraper.errors import InputError, IntegrityError, from_exception
from scraper.ingest import ingest
from scraper.normalize import runs, sightings
from tests.test_ingest import sample_file, t1, tree


def _files(folder: Path) -> list[Path]:
    files = []
    for day in range(1, 4):  # every thing seen three times, on three days, with texts of a few kilobytes
        date = f"Tue, 0{day} Dec 2026 12:00:00 GMT"
        for link in ("aaa", "bbb", "ccc"):
            comments = [t1(f"{link}{i}", f"t3_{link}", link=link, body=f"{day}{i}" * (300 + 50 * i)) for i in range(6)]
            sub = {"selftext": f"{link}{day}" * 900, "title": f"title {link} {day}"}
            part = folder / f"d{day}"
            part.mkdir(exist_ok=True)
            files.append(sample_file(part, link, tree(link, comments, **sub), date=date))
    return files


def _tables(folder: Path, version: str) -> dict[str, Any]:
    return {
        stem: pq.read_table(folder / "versions" / version / f"{stem}.parquet") for stem in ("submissions", "comments")
    }


def test_a_build_past_the_byte_bounds_is_the_build_within_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = _files(tmp_path)
    plain = ingest(tmp_path / "plain", files)
    large: list[int] = []
    arranged = runs._arranged_large

    def spy(table: pa.Table, arrange: Any) -> pa.Table:
        large.append(table.num_rows)
        return arranged(table, arrange)

    written: list[int] = []
    write_run = runs.write_run
    monkeypatch.setattr(runs, "write_run", lambda path, table: (written.append(table.num_rows), write_run(path, table)))
    cut: list[int] = []
    segments_of = sightings._segments_of
    monkeypatch.setattr(sightings, "_segments_of", lambda s, a, b: (cut.append(b - a), segments_of(s, a, b))[1])
    monkeypatch.setattr(runs, "_arranged_large", spy)
    monkeypatch.setattr(runs, "RUN_BYTES", 8_000)
    monkeypatch.setattr(runs, "COMBINE_BYTES", 6_000)
    monkeypatch.setattr(runs, "BATCH_BYTES", 10_000)
    monkeypatch.setattr(sightings, "BATCH_TEXT", 3_000)
    bounded = ingest(tmp_path / "bounded", files)
    assert large and len(cut) > 6 and len(written) > 6  # the large_string paths ran; texts and runs cut by bytes
    want, got = _tables(tmp_path / "plain", plain["version"]), _tables(tmp_path / "bounded", bounded["version"])
    for stem in want:
        assert got[stem].to_pylist() == want[stem].to_pylist()
        assert got[stem].schema == want[stem].schema
    rows_groups = pq.ParquetFile(tmp_path / "bounded" / "versions" / bounded["version"] / "comments.parquet")
    assert rows_groups.metadata.num_row_groups > 1  # batches cut by bytes: row groups of a few rows
    assert len(list((tmp_path / "bounded").rglob("*.parquet"))) == len(list((tmp_path / "plain").rglob("*.parquet")))
    assert plain["stats"]["comments"] == bounded["stats"]["comments"] == 18


@pytest.mark.parametrize(
    "exc",
    [
        pa.ArrowCapacityError("array cannot contain more than 2147483646 bytes, have 2200000000"),
        pa.ArrowInvalid("offset overflow while concatenating arrays, consider casting input from `string` to"),
        pa.ArrowInvalid("Failed casting from large_string to string: input array too large"),
    ],
)
def test_an_arrow_size_limit_is_no_damaged_dataset(exc: Exception) -> None:
    """Before, every Arrow error at the boundary read "dshuge is damaged ... restore the version" (exit 1)."""
    error = from_exception(exc, where="dshuge")
    assert isinstance(error, InputError) and not isinstance(error, IntegrityError)
    assert "damaged" not in str(error) and "smaller parts" in str(error) and "\n" not in str(error)
    assert error.exit_code == 1
