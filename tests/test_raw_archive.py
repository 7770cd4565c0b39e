"""The raw archive reader: only a torn last record is cut; other damage names file and offset, changes nothing."""

from __future__ import annotations

import gzip
import json
import logging
import random
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.errors import IntegrityError, RawArchiveDamaged
from scraper.store.raw import _BUFFER, _MAGIC, ArchiveScan, RawArchive, read_records, scan_archive
from tests.conftest import examples

# Header bytes gzip does not protect: MTIME (4-7), XFL (8), OS (9).  A flip there changes no record.
UNCHECKED_HEADER = range(4, 10)
FTEXT = 0x01  # FLG bit 0 is a hint only: flipping it alone changes nothing either

records_strategy = st.lists(
    st.fixed_dictionaries(
        {"seq": st.integers(0, 10**6), "body": st.text(max_size=300)},
        optional={"endpoint": st.sampled_from(["comments", "morechildren", "info"]), "event": st.just("thread")},
    ),
    min_size=1,
    max_size=12,
)


def write_archive(path: Path, records: list[dict[str, Any]]) -> list[int]:
    """Write ``records`` through RawArchive; return each member's start offset plus the file's end."""
    bounds = [0]
    with RawArchive(path) as archive:
        for record in records:
            archive.append(record)
            bounds.append(path.stat().st_size)
    return bounds


def expected(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"v": 1, **r} for r in records]


def test_round_trip_with_and_without_endpoint(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl.gz"
    records = [{"seq": 0, "url": "/comments/a"}, {"seq": 1, "endpoint": "comments", "body": "é\u2028x\n"}]
    write_archive(path, records)
    assert list(read_records(path)) == expected(records)
    scan = scan_archive(path)
    assert (scan.members, scan.length, scan.torn_at) == (2, path.stat().st_size, None)


def test_an_empty_file_holds_no_records(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl.gz"
    path.write_bytes(b"")
    assert list(read_records(path)) == []
    with RawArchive(path) as archive:
        archive.append({"seq": 1})
    assert list(read_records(path)) == [{"v": 1, "seq": 1}]


def test_old_silent_truncation_does_not_come_back(tmp_path: Path) -> None:
    """Issue 9 item 4: one flipped byte in record 3 of 10 left 2 records in silence (456 bytes -> 88)."""
    path = tmp_path / "run.jsonl.gz"
    bounds = write_archive(path, [{"seq": i, "body": f"record {i}"} for i in range(10)])
    damaged = bytearray(path.read_bytes())
    damaged[bounds[2] + 12] ^= 0x40  # inside record 3's deflate data
    path.write_bytes(bytes(damaged))
    with pytest.raises(RawArchiveDamaged, match=rf"run\.jsonl\.gz: raw archive damaged at byte {bounds[2]} ") as err:
        list(read_records(path))
    assert err.value.offset == bounds[2] and err.value.path == path and isinstance(err.value, IntegrityError)
    assert "\n" not in str(err.value)
    assert "bad gzip member" in str(err.value)  # what is wrong, and what to do about it
    assert "Restore the file from a backup, or move it aside" in str(err.value)
    with pytest.raises(RawArchiveDamaged):
        RawArchive(path)
    assert path.read_bytes() == bytes(damaged)  # reopening changed nothing


def test_a_torn_member_followed_by_whole_ones_is_damage(tmp_path: Path) -> None:
    """A tear that later appends buried (the old reopen cut everything after it) is named, not cut."""
    path = tmp_path / "run.jsonl.gz"
    records = [{"seq": i, "body": "x" * 50 * i} for i in range(6)]
    bounds = write_archive(path, records)
    data = path.read_bytes()
    buried = data[: bounds[3] - 7] + data[bounds[3] :]  # record 3 torn, records 4 and 5 after it
    path.write_bytes(buried)
    with pytest.raises(RawArchiveDamaged) as err:
        list(read_records(path))
    assert err.value.offset == bounds[2]
    with pytest.raises(RawArchiveDamaged):
        RawArchive(path)
    assert path.read_bytes() == buried


def test_a_record_that_is_not_json_is_damage(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl.gz"
    bounds = write_archive(path, [{"seq": 0}])
    with path.open("ab") as handle:
        handle.write(gzip.compress(b"{not json\n", mtime=0))
    with pytest.raises(RawArchiveDamaged, match=f"^{path}: raw archive damaged at byte {bounds[1]} .*not JSON"):
        list(read_records(path))
    path.write_bytes(path.read_bytes()[: bounds[1]] + gzip.compress(b'["a list"]\n', mtime=0))
    with pytest.raises(RawArchiveDamaged, match=f"^{path}: .* at byte {bounds[1]} .*not a JSON object") as err:
        list(read_records(path))
    assert (err.value.path, err.value.offset) == (path, bounds[1])


def test_a_member_of_many_lines_blank_ones_too_and_a_large_one_read_whole(tmp_path: Path) -> None:
    """Archives not written by RawArchive (ingest reads any gzip JSON lines): a member may hold many
    records and blank lines, and a member larger than the reader's feed slice comes out whole."""
    path = tmp_path / "run.jsonl.gz"
    large = {"seq": 2, "body": random.Random(1).randbytes(60_000).hex()}  # compresses to far over 16 KiB
    path.write_bytes(
        gzip.compress(b'{"seq": 0}\n\n  \n{"seq": 1}\n', mtime=0) + gzip.compress(json.dumps(large).encode(), mtime=0)
    )
    assert len(path.read_bytes()) > 2 * (1 << 14)
    assert list(read_records(path)) == [{"seq": 0}, {"seq": 1}, large]


def test_a_torn_tail_is_skipped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "run.jsonl.gz"
    bounds = write_archive(path, [{"seq": 0}, {"seq": 1}])
    path.write_bytes(path.read_bytes()[: bounds[2] - 3])
    with caplog.at_level(logging.WARNING, logger="scraper.store.raw"):
        assert list(read_records(path)) == [{"v": 1, "seq": 0}]
    assert f"{path}: torn last record at byte {bounds[1]} skipped" in caplog.text


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=records_strategy, data=st.data())
def test_torn_tail_anywhere_is_cut_exactly(tmp_path_factory: Any, records: list[dict[str, Any]], data: Any) -> None:
    path = tmp_path_factory.mktemp("torn") / "run.jsonl.gz"
    bounds = write_archive(path, records)
    cut = data.draw(st.integers(1, bounds[-1] - 1), label="cut")
    path.write_bytes(path.read_bytes()[:cut])
    whole = sum(1 for end in bounds[1:] if end <= cut)  # members that end before the cut
    assert list(read_records(path)) == expected(records[:whole])
    scan = scan_archive(path)
    torn = None if cut == bounds[whole] else bounds[whole]
    assert (scan.members, scan.torn_at, scan.length) == (whole, torn, bounds[whole] if torn is not None else cut)
    with RawArchive(path) as archive:  # reopening cuts the torn member only, then appends after it
        archive.append({"seq": -1})
    assert path.stat().st_size > bounds[whole]
    assert list(read_records(path)) == [*expected(records[:whole]), {"v": 1, "seq": -1}]


@settings(max_examples=examples(80), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=records_strategy.filter(lambda r: len(r) >= 2), data=st.data())
def test_a_flipped_byte_before_the_last_record_is_named_and_changes_nothing(
    tmp_path_factory: Any, records: list[dict[str, Any]], data: Any
) -> None:
    path = tmp_path_factory.mktemp("flip") / "run.jsonl.gz"
    bounds = write_archive(path, records)
    offset = data.draw(st.integers(0, bounds[-2] - 1), label="offset")  # anywhere but the last member
    mask = data.draw(st.integers(1, 255), label="mask")
    member = max(i for i, start in enumerate(bounds[:-1]) if start <= offset)
    damaged = bytearray(path.read_bytes())
    damaged[offset] ^= mask
    path.write_bytes(bytes(damaged))
    inside = offset - bounds[member]
    if inside in UNCHECKED_HEADER or (inside == 3 and mask == FTEXT):
        assert list(read_records(path)) == expected(records)  # gzip does not protect these bytes; no record differs
        return
    if offset == bounds[member + 1] - 9:  # the last deflate byte: its padding bits after the end of block are not
        try:  # protected either, so a flip there is damage, or nothing at all
            assert list(read_records(path)) == expected(records)
            return
        except RawArchiveDamaged as exc:
            assert exc.offset == bounds[member]
    with pytest.raises(RawArchiveDamaged) as err:
        list(read_records(path))
    assert err.value.offset == bounds[member]
    with pytest.raises(RawArchiveDamaged) as again:
        RawArchive(path)
    assert again.value.offset == bounds[member]
    assert path.read_bytes() == bytes(damaged)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=records_strategy, data=st.data())
def test_a_flipped_byte_in_the_last_record_never_loses_another(
    tmp_path_factory: Any, records: list[dict[str, Any]], data: Any
) -> None:
    """In the last member a flip is damage, or (if it leaves the member unfinished) looks like a tear of it alone."""
    path = tmp_path_factory.mktemp("last") / "run.jsonl.gz"
    bounds = write_archive(path, records)
    offset = data.draw(st.integers(bounds[-2], bounds[-1] - 1), label="offset")
    mask = data.draw(st.integers(1, 255), label="mask")
    damaged = bytearray(path.read_bytes())
    damaged[offset] ^= mask
    path.write_bytes(bytes(damaged))
    try:
        got = list(read_records(path))
    except RawArchiveDamaged as exc:
        assert exc.offset == bounds[-2]
        return
    assert got in (expected(records), expected(records[:-1]))
    if got == expected(records[:-1]):
        assert scan_archive(path).torn_at == bounds[-2]


def test_reader_matches_gzip_module_on_a_large_archive(tmp_path: Path) -> None:
    """Members larger than the feed slice and many small ones read the same as the stdlib's gzip."""
    path = tmp_path / "run.jsonl.gz"
    records = [{"seq": i, "body": zlib.compress(str(i).encode() * 4000).hex()} for i in range(40)]
    records += [{"seq": i} for i in range(500)]
    write_archive(path, records)
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        reference = [json.loads(line) for line in handle]
    assert list(read_records(path)) == reference == expected(records)


def test_ingest_of_a_damaged_archive_is_one_line_exit_1_and_no_version(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scraper.cli import main
    from tests.test_snapshot import tree_file

    path = tmp_path / "run.jsonl.gz"
    bounds = [0]
    with RawArchive(path) as archive:
        for link, seed in (("aaa", 1), ("bbb", 2)):
            body = tree_file(tmp_path, link, 15, seed).read_text(encoding="utf-8")
            url = f"https://oauth.reddit.com/comments/{link}"
            archive.append({"method": "GET", "url": url, "params": {}, "status": 200, "body": body})
            bounds.append(path.stat().st_size)
    good = CliRunner().invoke(main, ["ingest", str(tmp_path / "ds"), str(path)])
    assert good.exit_code == 0, good.output
    damaged = bytearray(path.read_bytes())
    damaged[bounds[0] + 200] ^= 0x10  # inside the first of two records
    path.write_bytes(bytes(damaged))
    bad = CliRunner().invoke(main, ["ingest", str(tmp_path / "ds"), str(path)])
    assert bad.exit_code == 1
    assert f"raw archive damaged at byte {bounds[0]} " in bad.stderr and "Traceback" not in bad.output
    assert len(bad.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in (tmp_path / "ds" / "versions").iterdir()) == ["v0001"]
    assert path.read_bytes() == bytes(damaged)


def stored_member(body: bytes) -> bytes:
    """A gzip member of stored (uncompressed) deflate blocks: cut short, it asks for more input, never errs."""
    member = gzip.compress(body, compresslevel=0, mtime=0)
    assert body[:100] in member  # stored: the bytes are there as they are
    return member


@pytest.mark.parametrize("cut", [1_000, _BUFFER - 1], ids=["short", "magic-across-the-read-blocks"])
def test_a_member_that_runs_into_a_whole_one_is_damage_and_the_same_without_it_a_torn_tail(
    tmp_path: Path, cut: int
) -> None:
    """A member cut short in the middle of the file reads on through the next member and ends with the
    file: that is damage (a whole member follows its start), never a torn tail.  The whole member is
    found wherever it starts: after gzip's magic bytes inside the cut member's data, before a torn
    member, and where its own magic straddles the reader's search blocks."""
    first = gzip.compress(b'{"seq": 0}\n', mtime=0)
    # stored data holding gzip's magic bytes: a false start that is not a member
    middle = stored_member(b'{"seq": 1, "body": "' + b"y" * 100 + _MAGIC + b"y" * (cut + 70_000) + b'"}\n')[:cut]
    last = gzip.compress(b'{"seq": 2}\n', mtime=0)
    torn = gzip.compress(b'{"seq": 3}\n', mtime=0)[:-4]
    path = tmp_path / "run.jsonl.gz"
    path.write_bytes(first + middle + last + torn)
    with pytest.raises(RawArchiveDamaged, match="runs past where the next one begins") as err:
        list(read_records(path))
    assert (err.value.path, err.value.offset) == (path, len(first))
    assert str(err.value).startswith(f"{path}: raw archive damaged at byte {len(first)} (a gzip member that runs")
    with pytest.raises(RawArchiveDamaged):
        scan_archive(path)
    with pytest.raises(RawArchiveDamaged):
        RawArchive(path)
    assert path.read_bytes() == first + middle + last + torn  # nothing changed
    path.write_bytes(first + middle)  # the same member last in the file: a torn tail, cut on reopening
    assert list(read_records(path)) == [{"seq": 0}]
    assert scan_archive(path) == ArchiveScan(1, len(first), len(first))


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)  # past 64 bits too
    | st.floats(allow_nan=True)  # NaN and infinities: Python's json writes and reads them
    | st.text(),  # lone surrogates included
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(JSON_VALUES, min_size=1, max_size=4))
def test_records_read_back_as_the_stdlib_reads_them(tmp_path_factory: Any, values: list[Any]) -> None:
    """The fast record decoder gives what ``json.loads`` gives, values it refuses included."""
    path = tmp_path_factory.mktemp("rt") / "raw.jsonl.gz"
    with RawArchive(path) as archive:
        for value in values:
            archive.append({"json": value})
    got = list(read_records(path))
    want = [json.loads(json.dumps({"v": 1, "json": value}, ensure_ascii=False)) for value in values]
    assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)
    assert [type(r["json"]) for r in got] == [type(r["json"]) for r in want]
