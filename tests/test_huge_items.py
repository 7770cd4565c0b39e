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
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.cli import main
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


# -- one huge item: the error names it (fullname, field, size, file) and what to do ------------------------------
#: Texts longer than this stand for one past Arrow's 2 GiB here (a real one takes gigabytes and minutes).
HUGE = 40_000


def _arrow_refusing_huge_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    """``pa.array`` raising what it raises for a string value past 2 GiB, for a text past :data:`HUGE` characters."""
    real = pa.array

    def array(values: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(values, list | tuple) and any(isinstance(v, str) and len(v) > HUGE for v in values):
            raise pa.ArrowCapacityError("array cannot contain more than 2147483646 bytes, have 2147483650")
        return real(values, *args, **kwargs)

    monkeypatch.setattr(pa, "array", array)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    files=st.integers(1, 3),
    at=st.integers(0, 2),
    position=st.integers(0, 4),
    field=st.sampled_from(["body", "selftext"]),
)
def test_the_error_for_a_huge_item_names_it_and_its_file(
    tmp_path_factory: pytest.TempPathFactory, files: int, at: int, position: int, field: str
) -> None:
    """Before, the line named the dataset ("DS: more text in one place than Arrow holds; give the input in
    smaller parts"), leaving the user to find which of many files, and which item, to look at."""
    folder = tmp_path_factory.mktemp("huge")
    at = min(at, files - 1)
    paths = []
    for number in range(files):
        link = f"l{number}"
        comments = [t1(f"{link}c{i}", f"t3_{link}", link=link, body=f"text {i}") for i in range(5)]
        sub: dict[str, Any] = {"selftext": f"post {number}"}
        if number == at and field == "body":
            comments[position]["data"]["body"] = "w" * (HUGE + 1 + position)
        elif number == at:
            sub["selftext"] = "é" * (HUGE + 1)
        paths.append(sample_file(folder, link, tree(link, comments, **sub)))
    huge = f"t1_l{at}c{position}" if field == "body" else f"t3_l{at}"
    size = HUGE + 1 + position if field == "body" else 2 * (HUGE + 1)  # bytes: é is two
    with pytest.MonkeyPatch.context() as patch:
        _arrow_refusing_huge_texts(patch)
        result = CliRunner().invoke(main, ["ingest", str(folder / "ds"), *map(str, paths)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    line = errors[0]
    assert f"{huge} in {paths[at].name}: its {field} is {size:,} bytes" in line, line
    assert f"remove the item from {paths[at].name}" in line and "run the same command again" in line, line
    assert "damaged" not in line
    assert not (folder / "ds" / "versions").exists() or not any((folder / "ds" / "versions").iterdir())


def test_a_huge_item_from_reddits_answers_is_named_with_what_to_do() -> None:
    exc = pa.ArrowCapacityError("array cannot contain more than 2147483646 bytes, have 2147483650")
    items = [({"name": "t1_small", "body": "x"}, "reddit-api"), ({"id": "big", "body": "y" * 50}, "reddit-api")]
    message = str(sightings._too_large("t1", items, exc))
    assert message.startswith("t1_big from reddit-api: its body is 50 bytes") and "\n" not in message
    assert "purge t1_big (--allow-missing)" in message
