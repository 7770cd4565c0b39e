"""report and diff on Parquet files that match their manifest yet are not the table they stand for.

Each case re-signs the damaged file (manifest and index updated, as a tampered or
badly rebuilt copy would be), so the checksums pass and only the file's contents
can tell: not Parquet, cut short, another schema, the two tables swapped, a string
column holding bytes that are not UTF-8.  Every one is one ``error:`` line naming the
file and saying what to do, exit 1; older minor schema versions still read.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import ARROW_SCHEMAS, SCHEMA_VERSION
from schemas.upgrade import schema_at, version_tuple
from scraper.cli import main
from scraper.errors import EXIT_NEEDS_PERSON
from tests.conftest import examples
from tests.report_data import make_dataset
from tests.test_ingest import sample_file, t1, tree

#: String columns the report and the diff both read, per table (a bad value there must be found)
READ_TEXT = {"comments": ["body", "name", "link_id", "parent_id", "subreddit"], "submissions": ["title", "name"]}
NOT_UTF8 = [b"\xed\xa0\x80", b"\xff", b"\xc3", b"\xe2\x82", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80"]


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("odd") / "ds")


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset without pseudonyms, so that ingest runs without a key."""
    return make_dataset(tmp_path_factory.mktemp("plain") / "ds", pseudonymized=False)


def resign(dataset: Path, version: str) -> None:
    """Make ``version``'s manifest and the index agree with its files as they now are."""
    folder = dataset / "versions" / version
    manifest = json.loads((folder / "manifest.json").read_text())
    for name, info in manifest["files"].items():
        data = (folder / name).read_bytes()
        info.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    raw = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
    (folder / "manifest.json").write_bytes(raw)
    index = json.loads((dataset / "index.json").read_text())
    for entry in index["versions"]:
        if entry["version"] == version:
            entry["manifest_sha256"] = hashlib.sha256(raw).hexdigest()
    (dataset / "index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")


def other_schema(table: pa.Table, how: str, column: int) -> pa.Table:
    """``table`` in a schema that is not its own: a column dropped, retyped, added, or the version key gone."""
    i = column % table.num_columns
    field = table.schema.field(i)
    if how == "drop":
        return table.remove_column(i)
    if how == "retype":
        kind = pa.int64() if pa.types.is_string(field.type) else pa.string()
        return table.set_column(i, pa.field(field.name, kind), pa.nulls(table.num_rows, kind))
    if how == "extra":
        return table.append_column("extra_column", pa.array(range(table.num_rows), pa.int64()))
    return table.replace_schema_metadata({})  # no schema_version: not a file this tool wrote


@st.composite
def damage(draw: st.DrawFn) -> tuple[str, str, Any]:
    """(kind, table, how): one way for a version's file to be something other than its table."""
    kind = draw(st.sampled_from(["not parquet", "cut short", "other schema", "swapped", "not utf-8"]))
    stem = draw(st.sampled_from(["comments", "submissions"]))
    if kind == "not parquet":
        return kind, stem, draw(st.binary(max_size=300))
    if kind == "cut short":
        return kind, stem, draw(st.floats(0.0, 0.99))
    if kind == "other schema":
        return kind, stem, (draw(st.sampled_from(["drop", "retype", "extra", "unmarked"])), draw(st.integers(0, 40)))
    if kind == "not utf-8":
        column = draw(st.sampled_from(READ_TEXT[stem]))
        bad = draw(st.text(max_size=5)).encode() + draw(st.sampled_from(NOT_UTF8)) + draw(st.text(max_size=5)).encode()
        return kind, stem, (column, draw(st.integers(0, 10**6)), bad)
    return kind, stem, None


def apply(folder: Path, kind: str, stem: str, how: Any) -> list[Path]:
    """Damage ``folder``'s ``stem`` file; the files that are now not their table."""
    path = folder / f"{stem}.parquet"
    if kind == "not parquet":
        path.write_bytes(how)
    elif kind == "cut short":
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * how)])
    elif kind == "other schema":
        pq.write_table(other_schema(pq.read_table(path), *how), path)
    elif kind == "swapped":
        other = folder / ("submissions.parquet" if stem == "comments" else "comments.parquet")
        data = path.read_bytes()
        path.write_bytes(other.read_bytes())
        other.write_bytes(data)
        return [path, other]
    else:
        column, row, bad = how
        table = pq.read_table(path)
        i = table.schema.get_field_index(column)
        values = [(v or "").encode() for v in table.column(i).to_pylist()]
        values[row % len(values)] = bad
        table = table.set_column(i, table.schema.field(i), pa.array(values, pa.binary()).view(pa.string()))
        pq.write_table(table, path)
    return [path]


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def assert_refused(result: Result, files: list[Path]) -> None:
    assert result.exit_code == EXIT_NEEDS_PERSON, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert any(str(f) in lines[0] for f in files), lines[0]
    assert "validate" in lines[0] and "internal error" not in lines[0]


@settings(max_examples=examples(8), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=damage())
def test_report_and_diff_refuse_a_signed_file_that_is_not_its_table(
    clean: Path, tmp_path: Path, case: tuple[str, str, Any]
) -> None:
    kind, stem, how = case
    dataset = tmp_path / "ds"
    shutil.rmtree(dataset, ignore_errors=True)
    shutil.copytree(clean, dataset)
    files = apply(dataset / "versions" / "v0002", kind, stem, how)
    resign(dataset, "v0002")
    out = tmp_path / "report.html"
    assert_refused(run("report", str(dataset), "--out", str(out)), files)
    assert not out.exists()
    assert_refused(run("report", str(dataset), "--version", "v0001", "--against", "v0002", "--out", str(out)), files)
    assert_refused(run("diff", str(dataset), "v0001", "v0002"), files)


def test_files_of_the_oldest_minor_version_still_report_and_diff(clean: Path, tmp_path: Path) -> None:
    old = "1.0"  # every column added since is missing: the widest upgrade
    assert version_tuple(old) < version_tuple(SCHEMA_VERSION)
    dataset = tmp_path / "ds"
    shutil.copytree(clean, dataset)
    folder = dataset / "versions" / "v0001"
    for stem in ARROW_SCHEMAS:
        schema = schema_at(stem, old)
        table = pq.read_table(folder / f"{stem}.parquet").select(schema.names)
        metadata = {**(schema.metadata or {}), b"schema_version": old.encode()}
        pq.write_table(table.cast(schema.with_metadata(metadata)), folder / f"{stem}.parquet")
    resign(dataset, "v0001")
    out = tmp_path / "report.html"
    result = run("report", str(dataset), "--version", "v0001", "--out", str(out))
    assert result.exit_code == 0 and out.is_file(), result.output
    result = run("diff", str(dataset), "v0001", "v0002", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["comments"]["removed"] == 1


def assert_one_line_or_ok(result: Result, what: str) -> None:
    """Exit 0, or exit 1 with one ``error:`` line: never a traceback, never an internal error."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (what, result.exception)
    assert result.exit_code in (0, EXIT_NEEDS_PERSON), (what, result.output)
    if result.exit_code:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), (what, result.stderr)
        assert "internal error" not in lines[0], (what, lines[0])


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stem=st.sampled_from(["comments", "submissions"]), where=st.floats(0.0, 1.0), bits=st.integers(1, 255))
def test_a_flipped_byte_anywhere_fails_validate_and_is_never_a_traceback(
    plain: Path, tmp_path: Path, stem: str, where: float, bits: int
) -> None:
    """Bytes damaged anywhere (pages, footer, column names in the footer): validate fails it by
    name; once re-signed (the checksums agree again) every reader refuses it in one line or reads it.
    """
    dataset = tmp_path / "ds"
    shutil.rmtree(dataset, ignore_errors=True)
    shutil.copytree(plain, dataset)
    path = dataset / "versions" / "v0002" / f"{stem}.parquet"
    data = bytearray(path.read_bytes())
    data[min(int(len(data) * where), len(data) - 1)] ^= bits
    path.write_bytes(bytes(data))
    result = run("validate", str(dataset))
    assert result.exit_code == EXIT_NEEDS_PERSON, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output and f"{stem}: sha256, bytes, rows" in result.output, result.output
    resign(dataset, "v0002")
    out = tmp_path / "report.html"
    again = run("validate", str(dataset))  # the checksums agree: what the bytes hold decides, in its report
    assert again.exception is None or isinstance(again.exception, SystemExit), again.exception
    assert again.exit_code in (0, EXIT_NEEDS_PERSON) and "Traceback" not in again.output, again.output
    for args in (
        ("report", str(dataset), "--out", str(out)),
        ("diff", str(dataset), "v0001", "v0002"),
        ("show", str(dataset)),
        ("ingest", str(dataset), str(sample_file(tmp_path, "zzz", tree("zzz", [t1("z1", "t3_zzz", link="zzz")])))),
        ("purge", str(dataset), "t1_nothing", "--allow-missing"),
    ):
        assert_one_line_or_ok(run(*args), args[0])


@pytest.mark.parametrize("stem", ["comments", "submissions"])
def test_a_base_version_with_a_damaged_column_name_is_refused_by_name_when_built_on(
    plain: Path, tmp_path: Path, stem: str
) -> None:
    """A column name damaged in the footer of the version a build starts from (``created_utc`` read as
    ``created^utc``, re-signed so the checksums agree): ``ingest`` and ``purge`` name the file in one
    line, exit 1, instead of failing on a cast deep in the merge (exit 70, "a bug")."""
    dataset = tmp_path / "ds"
    shutil.copytree(plain, dataset)
    path = dataset / "versions" / "v0002" / f"{stem}.parquet"
    table = pq.read_table(path)
    renamed = table.rename_columns(["created^utc" if n == "created_utc" else n for n in table.column_names])
    pq.write_table(renamed.replace_schema_metadata(table.schema.metadata), path)
    resign(dataset, "v0002")
    tree_file = sample_file(tmp_path, "zzz", tree("zzz", [t1("z1", "t3_zzz", link="zzz")]))
    for args in (("ingest", str(dataset), str(tree_file)), ("purge", str(dataset), "t1_nothing", "--allow-missing")):
        result = run(*args)
        assert_refused(result, [path])
        assert f"is not the {stem} table" in result.stderr, result.stderr


def test_a_short_read_in_duckdb_is_the_data_and_other_io_errors_are_not(plain: Path, tmp_path: Path) -> None:
    """DuckDB reports a damaged page or footer that points past the file's end as an IOException ("Could
    not read enough bytes"): that is the data (exit 1, the damaged file named, restore it), as
    ``test_a_flipped_byte_anywhere…`` met with a flipped length byte under ``report`` (was exit 70); an
    IOException of any other kind stays the system's."""
    import duckdb

    from scraper.errors import IntegrityError
    from scraper.store.tablefile import SHORT_READ, is_data_error, scan_error

    short = duckdb.IOException(f'{SHORT_READ} "x.parquet": 4 bytes requested, 0 read')
    assert is_data_error(short)
    dataset = tmp_path / "ds"
    shutil.copytree(plain, dataset)
    path = dataset / "versions" / "v0002" / "comments.parquet"
    path.write_bytes(path.read_bytes()[:-64] + b"PAR1")  # the footer's length now points nowhere
    error = scan_error(short, [dataset / "versions" / "v0002"])
    assert isinstance(error, IntegrityError) and str(path) in str(error), error
    assert not is_data_error(duckdb.IOException("IO Error: Cannot open file: Permission denied"))
