"""The dump path's fast reader and its spans: DuckDB's NDJSON reader agrees with the block path line for line.

The fast reader (``normalize_file``) judges a whole span in one DuckDB pass; a span with anything
to quarantine goes back to the block path (``normalize_block``), which numbers lines, going on
after the rows already given. These tests hold the two to the same rows, quarantine and counts on
generated lines of every value type, cut spans at every byte, and check that a file cut into
spans for Dask workers gives the same version as one read whole.
"""

from __future__ import annotations

import errno
import json
import random
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any
from unittest import mock

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper import dumps
from scraper.dumps import Chunk, Rule, Span, filter_chunk, filter_span, ingest_dumps
from scraper.errors import InputError
from scraper.normalize import flat
from scraper.normalize.flat import Selection
from scraper.sources.dumps import blocks
from tests.conftest import examples, write_spec

# Values of every JSON type for each field: the era drift the schema reads, and values it refuses.
VALUES: dict[str, list[Any]] = {
    "id": ["abc", "AbC", "ünï", "", 5, None],
    "name": ["t1_abc", "", None, 7],
    "created_utc": [1_500_000_000, 1_500_000_000.7, "1500000000", "soon", None, True],
    "edited": [False, True, 1_500_000_100, 1.5e9, "1500000100", "0", "x", {}, None, 0, 1, "1", 1_499_999_999.5],
    "subreddit": ["MachineLearning", "other", "", None, 3],
    "author": ["alice", "[deleted]", None, 5],
    "author_fullname": ["t2_a", None, []],
    "author_flair_text": ["flair", None, False],
    "score": [5, -3, 5.0, 1.5, "5", "many", True, None, 99_999_999_999_999_999_999],
    "distinguished": ["moderator", None],
    "stickied": [True, False, 1, 0, "yes", "", [], {}, None],
    "locked": [False, None, [1]],
    "permalink": ["/r/x/comments/a/_/b/", "", None],
    "retrieved_on": [1_500_000_500, 1_500_000_500.5, "1500000500", None],
    "retrieved_utc": [1_600_000_000, None],
    "_meta": [
        {"was_deleted_later": True, "removal_type": "deleted", "retrieved_2nd_on": 1_600_000_000},
        {"was_deleted_later": True, "removal_type": "moderator"},
        {"was_initially_deleted": 1, "note": 'x "q"'},
        {"is_edited": True},
        "text",
        [1],
        None,
    ],
    "link_id": ["t3_abc", "abc", "t1_x", "", 5, None],
    "parent_id": ["t3_abc", "t1_abd", "abd", 5, None],
    "body": ["hello", "[deleted]", "[removed]", 'caf\u00e9 "q" \\ \n u/bob', "", 5, None],
    "is_submitter": [True, False, "x", None],
    "controversiality": [0, 1, 1.0, "1", None],
    "collapsed": [True, False, None, 1],
    "title": ["I quit ML", "stay", "", 5],
    "selftext": ["leaving", None, "[removed]", 1],
    "url": ["https://x", None, 1],
    "domain": ["self.x", None],
    "is_self": [True, False, 1, None],
    "num_comments": [3, 3.0, 2.5, "3", None],
    "upvote_ratio": [0.5, 1, "0.5", None],
    "over_18": [False, True, None],
    "link_flair_text": ["Discussion", None, 2],
    "removed_by_category": ["moderator", "deleted", "author", None, 4],
}
COMMENT = ["id", "name", "created_utc", "edited", "subreddit", "author", "author_fullname", "author_flair_text"]
COMMENT += ["score", "distinguished", "stickied", "locked", "permalink", "retrieved_on", "retrieved_utc", "_meta"]
COMMENT_ONLY = ["link_id", "parent_id", "body", "is_submitter", "controversiality", "collapsed"]
POST = [*COMMENT]
COMMENT += COMMENT_ONLY
POST += ["title", "selftext", "url", "domain", "is_self", "num_comments", "upvote_ratio", "over_18"]
POST += ["link_flair_text", "removed_by_category"]
GOOD: dict[str, Any] = {
    "id": "abc",
    "created_utc": 1_500_000_000,
    "subreddit": "MachineLearning",
    "link_id": "t3_abc",
    "parent_id": "t3_abc",
    "body": "b",
    "title": "I quit",
}
BROKEN = [b'{"id": "cut", "body": "x"', b"[1, 2]", b'"a string"', b"\xff\xfe not utf-8", b"", b"   ", b"{} x"]


def _lines(rng: random.Random, kind: str, count: int, odd: float, broken: float) -> bytes:
    fields = POST if kind == "t3" else COMMENT
    out = []
    for i in range(count):
        if rng.random() < broken:
            out.append(rng.choice(BROKEN))
            continue
        obj = {f: GOOD[f] for f in fields if f in GOOD}
        obj["id"] = f"i{i}"
        for f in fields:
            if rng.random() < odd:
                value = rng.choice(VALUES[f])
                if value is None and rng.random() < 0.5:
                    obj.pop(f, None)
                else:
                    obj[f] = value
        out.append(json.dumps(obj).encode())
    return b"\n".join(out) + b"\n"


def _by_blocks(path: Path, kind: str, rule: Rule) -> tuple[pa.Table | None, list[dict[str, Any]], Counter[str]]:
    batches, quarantined, counts = [], [], Counter[str]()
    for first, data in blocks(path):
        result = filter_chunk(Chunk(path.name, kind, first, data), rule)
        if result.batch is not None:
            batches.append(result.batch)
        quarantined += result.quarantined
        counts.update(result.counts)
    return (pa.Table.from_batches(batches) if batches else None), quarantined, counts


def _by_span(path: Path, kind: str, rule: Rule) -> tuple[pa.Table | None, list[dict[str, Any]], Counter[str]]:
    batches, quarantined, counts = [], [], Counter[str]()
    for result in filter_span(Span(path.name, kind, str(path)), rule):
        if result.batch is not None:
            batches.append(result.batch)
        quarantined += result.quarantined
        counts.update(result.counts)
    return (pa.Table.from_batches(batches) if batches else None), quarantined, counts


def _counts(counts: Counter[str]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if k == "lines" or k.startswith("filtered_")}


@settings(max_examples=examples(3), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["t1", "t3"]), broken=st.sampled_from([0.0, 0.02]))
def test_the_fast_reader_keeps_what_the_block_path_keeps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int, kind: str, broken: float
) -> None:
    """Every value type in every field: the same rows, quarantine and counts, fast or line by line."""
    monkeypatch.setattr(dumps, "FAST_BATCH_ROWS", 16)  # a fallback after batches already given
    rng = random.Random(seed)
    path = tmp_path / f"s{seed}_{kind}.jsonl"
    path.write_bytes(_lines(rng, kind, 80, odd=0.04 if broken else 0.015, broken=broken))
    links = frozenset({"t3_abc"}) if kind == "t1" and seed % 2 else None
    subreddits = ("machinelearning",) if seed % 3 == 0 else ()
    rule = Rule(Selection(subreddits=subreddits, include=("quit",) if kind == "t3" else (), links=links))
    fast, fast_q, fast_counts = _by_span(path, kind, rule)
    slow, slow_q, slow_counts = _by_blocks(path, kind, rule)
    assert (fast is None) == (slow is None)
    if fast is not None and slow is not None:
        assert fast.equals(slow)
    assert fast_q == slow_q
    assert _counts(fast_counts) == _counts(slow_counts)


def test_a_line_to_quarantine_after_many_good_ones_loses_and_repeats_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dumps, "FAST_BATCH_ROWS", 8)
    good = [json.dumps({**GOOD, "id": f"c{i}"}) for i in range(50)]
    bad = json.dumps({**GOOD, "id": "bad", "score": "many"})
    path = tmp_path / "x_comments.jsonl"
    path.write_text("\n".join([*good[:40], bad, *good[40:], '{"id": "cut"']) + "\n", encoding="utf-8")
    fast, quarantined, counts = _by_span(path, "t1", Rule())
    assert fast is not None and fast["id"].to_pylist() == [f"c{i}" for i in range(50)]
    assert [(q["line"], q["field"]) for q in quarantined] == [(41, "score"), (52, "line")]
    assert counts["lines"] == 52


def test_a_clean_span_is_read_by_duckdb_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The block path is the exception: a span with nothing to quarantine never reaches it."""
    calls = []
    real = flat.normalize_block
    monkeypatch.setattr(dumps, "normalize_block", lambda *a, **k: calls.append(1) or real(*a, **k))
    path = tmp_path / "x_comments.jsonl"
    path.write_text("".join(json.dumps({**GOOD, "id": f"c{i}"}) + "\n" for i in range(30)), encoding="utf-8")
    fast, quarantined, counts = _by_span(path, "t1", Rule())
    assert fast is not None and fast.num_rows == 30 and quarantined == [] and counts["lines"] == 30
    assert calls == []


@settings(max_examples=examples(60), deadline=None)
@given(
    lines=st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), min_size=0, max_size=30),
    last_newline=st.booleans(),
    padding=st.sampled_from([0, 700]),  # lines before them: ranges that start past a memory page
    cuts=st.lists(st.integers(0, 9000), max_size=6),
    kernel=st.booleans(),
    piece=st.sampled_from([3, 4096, 1 << 20]),
)
def test_byte_ranges_give_every_line_to_exactly_one_span(
    lines: list[bytes], last_newline: bool, padding: int, cuts: list[int], kernel: bool, piece: int
) -> None:
    """Each range's copy holds the lines that start in it, whole, and its newline count is right,
    whether the kernel copies the bytes (``os.copy_file_range``) or this process does."""
    lines = [b"%09d" % i for i in range(padding)] + lines
    data = b"\n".join(lines) + (b"\n" if last_newline and lines else b"")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f.jsonl"
        path.write_bytes(data)
        points = sorted({0, *(c for c in cuts if c < len(data))})
        ranges = [(a, b) for a, b in zip(points, [*points[1:], None], strict=True)]
        copies, counts = [], []
        refuse = OSError(errno.EXDEV, "cross-device")
        with (
            mock.patch.object(dumps.os, "copy_file_range", side_effect=refuse) if not kernel else nullcontext(),
            mock.patch.object(dumps, "COUNT_PIECE", piece),
        ):
            for i, (a, b) in enumerate(ranges):
                with path.open("rb") as source:
                    counts.append(dumps._copy_range(source, a, b, Path(folder) / f"{i}.part"))
                copies.append((Path(folder) / f"{i}.part").read_bytes())
        assert b"".join(copies) == data
        assert counts == [c.count(b"\n") for c in copies]
        filled = [c for c in copies if c]
        assert all(c.endswith(b"\n") for c in filled[:-1])  # whole lines (the last may end without one)


SPEC = """
[dataset]
name = "dumps"

[archive]
subreddits = ["machinelearning"]
after = "2006-01-01"
before = "2026-01-01"
"""


def test_a_file_cut_into_spans_writes_what_one_read_whole_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dask_client: Any
) -> None:
    """Workers (or this process) read byte ranges of the file themselves; lines are numbered across the ranges."""
    monkeypatch.setattr(dumps, "SPAN_MIN", 1)
    monkeypatch.setattr(dumps, "SPAN_MAX", 7_000)
    monkeypatch.setattr(dumps, "ROW_GROUP", 64)
    whole = write_spec(tmp_path / "whole", SPEC)
    rng = random.Random(7)
    path = tmp_path / "MachineLearning_comments.jsonl"
    lines = _lines(rng, "t1", 150, odd=0.005, broken=0.0).splitlines()
    lines[20:20] = [BROKEN[0]]  # a cut line in the first span
    lines[120:120] = [json.dumps({**GOOD, "id": "late", "score": "many"}).encode(), b"[1]"]  # and in a later one
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert path.stat().st_size > 2 * 7_000
    local = write_spec(tmp_path / "local", SPEC)
    on_dask = write_spec(tmp_path / "dask", SPEC)
    one = ingest_dumps(whole, [path])
    monkeypatch.setattr(dumps, "LOCAL_SPAN_MAX", 11_000)  # in-process spans too
    a = ingest_dumps(local, [path])
    b = ingest_dumps(on_dask, [path], engine="dask", client=dask_client)
    files = {k: v["sha256"] for k, v in one["files"].items()}
    assert {k: v["sha256"] for k, v in a["files"].items()} == files
    assert {k: v["sha256"] for k, v in b["files"].items()} == files
    quarantine = (whole / "quarantine" / "v0001.jsonl").read_text()
    assert quarantine == (local / "quarantine" / "v0001.jsonl").read_text()
    assert quarantine == (on_dask / "quarantine" / "v0001.jsonl").read_text()
    raw_lines = path.read_bytes().split(b"\n")
    for entry in map(json.loads, quarantine.splitlines()):  # each entry names its own line
        assert raw_lines[entry["line"] - 1].decode("utf-8", "replace")[:200] == entry["raw"][:200]
    comments = pq.ParquetFile(whole / "versions" / "v0001" / "comments.parquet")
    sizes = [comments.metadata.row_group(i).num_rows for i in range(comments.metadata.num_row_groups)]
    assert sizes[:-1] == [64] * (len(sizes) - 1) and 0 < sizes[-1] <= 64
    assert b["stats"]["lines"] == a["stats"]["lines"] and a["stats"]["quarantined"] >= 3


def test_a_path_with_glob_characters_is_read_as_itself(tmp_path: Path) -> None:
    """DuckDB takes ``g[1]/x`` as a pattern that matches ``g1/x``: the reader must read the file it was given."""
    (tmp_path / "g[1]").mkdir()
    (tmp_path / "g1").mkdir()
    wanted = tmp_path / "g[1]" / "x_comments.jsonl"
    wanted.write_text(json.dumps({**GOOD, "id": "wanted"}) + "\n", encoding="utf-8")
    (tmp_path / "g1" / "x_comments.jsonl").write_text(json.dumps({**GOOD, "id": "other"}) + "\n", encoding="utf-8")
    table, quarantined, _ = _by_span(wanted, "t1", Rule())
    assert table is not None and table["id"].to_pylist() == ["wanted"] and quarantined == []


def test_a_worker_that_cannot_see_the_file_says_what_to_do(tmp_path: Path) -> None:
    from scraper.errors import InputError

    span = Span("x_comments.jsonl", "t1", str(tmp_path / "elsewhere" / "x_comments.jsonl"), 0, 100)
    with pytest.raises(InputError, match="filesystem every worker sees"):
        list(filter_span(span, Rule()))


# Values of every other JSON type for the fields the fast reader takes at their usual type only.
OFF_TYPE: dict[str, list[Any]] = {
    "string": [12, -1.5, 1e3, 0, True, False, {"a": "b"}, {}, [1], []],
    "int": ["12", "x", "", 1.5, 1.0, 1e3, -0.0, True, False, {"a": 1}, [1], 99_999_999_999_999_999_999],
    "bool": [1, 0, 1.5, "true", "false", "", {}, [], {"a": True}],
}
# Every era's usual values (../shared/archives drift tables), including the fields that drift.
ERA_VALUES: dict[str, list[Any]] = {
    "created_utc": [1_500_000_000, 1_500_000_000.0, "1500000000", 1_500_000_000.5],
    "edited": [False, True, 1_500_000_100, 1_500_000_100.25, "1500000100"],
    "name": ["t1_x", None],
    "author_fullname": ["t2_a", None],
    "author_flair_text": ["flair", None],
    "distinguished": ["moderator", None],
    "permalink": ["/r/MachineLearning/comments/abc/_/x/", None],
    "score": [5, -3, 0, None],
    "retrieved_on": [1_500_000_500, None],
    "retrieved_utc": [1_600_000_000, None],
    "stickied": [True, False],
    "locked": [False, None],
    "controversiality": [0, 1],
    "collapsed": [True, False, None],
    "is_submitter": [True, False],
    "_meta": [
        {"was_deleted_later": True, "removal_type": "deleted", "retrieved_2nd_on": 1_600_000_000},
        {"was_initially_deleted": True, "note": "x"},
        None,
    ],
    "body": ["b", "[deleted]", "12", "true", "{}", "[1]", 'caf\u00e9 "q" \\ u/x'],
    "author": ["alice", "[deleted]", "1234"],
}


def _fast_flags(tmp_path: Path, kind: str, lines: list[dict[str, Any]]) -> list[str | None]:
    path = tmp_path / f"flags_{kind}.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    con = flat._connection(1)
    sql, params = flat._sql(kind, Selection(), fast=True)
    result = con.sql(sql, params={**params, "path": str(path), "source": "dump:x"}).to_arrow_table()
    return list(result["err"].to_pylist())


@pytest.mark.parametrize("kind", ["t1", "t3"])
def test_the_fast_reader_never_takes_a_value_of_another_type_silently(tmp_path: Path, kind: str) -> None:
    """DuckDB reads a number into VARCHAR as its text, "12" into BIGINT as 12, 1 into BOOLEAN as true:
    a field read at its usual type only flags every value of another JSON type, so the span goes to
    the block path (which quarantines or reads it by its own type) instead of being changed."""
    base = {**GOOD, "id": "abc"}
    usual = {
        **{f: "string" for f in flat._STRINGS},
        **{f: "int" for f in flat._FAST_INTS},
        **{f: "bool" for f in flat._FAST_BOOLS},
    }
    fields = [f for f in (POST if kind == "t3" else COMMENT) if f in usual]
    lines = [{**base, field: value} for field in fields for value in OFF_TYPE[usual[field]]]
    assert len(lines) > 100
    flags = _fast_flags(tmp_path, kind, lines)
    assert [line for line, flag in zip(lines, flags, strict=True) if flag is None] == []


def test_every_era_s_lines_are_read_by_duckdb_alone_and_agree_with_the_block_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drift the archives really hold (string or float times, edited as bool or epoch, missing names,
    ``_meta``, bodies that look like numbers) never sends a span to the block path, and reads the same."""
    calls = []
    real = flat.normalize_block
    monkeypatch.setattr(dumps, "normalize_block", lambda *a, **k: calls.append(1) or real(*a, **k))
    rng = random.Random(5)
    lines = []
    for i in range(200):
        line = {**GOOD, "id": f"c{i}", "subreddit_id": "t5_x"}
        for field, values in ERA_VALUES.items():
            value = rng.choice(values)
            if value is None and rng.random() < 0.5:
                continue  # missing rather than null
            line[field] = value
        lines.append(line)
    path = tmp_path / "x_comments.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    assert all(flag is None for flag in _fast_flags(tmp_path, "t1", lines))
    fast, quarantined, counts = _by_span(path, "t1", Rule())
    assert calls == [] and quarantined == [] and counts["lines"] == 200
    slow, slow_q, _ = _by_blocks(path, "t1", Rule())
    assert fast is not None and slow is not None and fast.equals(slow) and slow_q == []


def test_a_value_of_an_unusual_type_is_read_by_duckdb_typing_every_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `score` of 5.0 or a `stickied` of 1 fits the schema: the span is read again by DuckDB with every
    value typed by itself (not line by line), going on after the rows already given."""
    monkeypatch.setattr(dumps, "FAST_BATCH_ROWS", 8)
    readings: list[bool] = []
    blocks_read = []
    real_file, real_block = flat.normalize_file, flat.normalize_block
    monkeypatch.setattr(dumps, "normalize_file", lambda *a, **k: readings.append(k["usual"]) or real_file(*a, **k))
    monkeypatch.setattr(dumps, "normalize_block", lambda *a, **k: blocks_read.append(1) or real_block(*a, **k))
    lines = [{**GOOD, "id": f"c{i}"} for i in range(60)]
    lines[41]["score"] = 5.0
    lines[50]["stickied"] = 1
    path = tmp_path / "x_comments.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    fast, quarantined, counts = _by_span(path, "t1", Rule())
    assert readings == [True, False] and blocks_read == []
    assert fast is not None and fast["id"].to_pylist() == [f"c{i}" for i in range(60)]
    assert fast["score"][41].as_py() == 5 and fast["stickied"][50].as_py() is True
    assert quarantined == [] and counts["lines"] == 60
    slow, slow_q, slow_counts = _by_blocks(path, "t1", Rule())
    assert slow is not None and fast.equals(slow) and slow_q == [] and _counts(counts) == _counts(slow_counts)
    # a line to quarantine as well: the block path ends it (DuckDB may stop on the cut line before or
    # after it meets the unusual values), nothing lost or repeated
    path.write_text(path.read_text() + '{"id": "cut"\n', encoding="utf-8")
    fast, quarantined, counts = _by_span(path, "t1", Rule())
    assert blocks_read
    assert fast is not None and fast["id"].to_pylist() == [f"c{i}" for i in range(60)]
    assert [q["line"] for q in quarantined] == [61] and counts["lines"] == 61


def test_a_failed_row_group_write_is_raised_with_no_write_left_running() -> None:
    """Row groups queue for the writer thread; a write that fails (a full disk) is raised, not lost."""
    calls: list[int] = []

    class Writer:
        def write_table(self, table: pa.Table, row_group_size: int) -> None:
            calls.append(table.num_rows)
            if len(calls) == 2:
                raise OSError(errno.ENOSPC, "No space left on device")

    batch = pa.record_batch({"a": list(range(10))})
    with pytest.raises(OSError, match="No space left"), dumps._RowGroups(Writer(), size=4) as rows:  # type: ignore[arg-type]
        for _ in range(5):
            rows.add(batch)
        rows.close()
    assert len(calls) >= 2 and all(c % 4 == 0 for c in calls[:2]) and sum(calls) <= 50


def test_the_local_engine_reads_one_item_ahead_and_keeps_the_order() -> None:
    """While a task runs, the next item is taken (a .zst span decompressed), never more than one ahead."""
    from scraper.engine import LocalEngine

    taken: list[int] = []
    done: list[int] = []

    def items() -> Iterator[int]:
        for i in range(5):
            taken.append(i)
            yield i

    def task(item: int, shared: int) -> int:
        assert len(taken) <= item + 2  # this item and at most the next
        done.append(item)
        return item * shared

    assert list(LocalEngine().map(task, items(), 10)) == [0, 10, 20, 30, 40]
    assert done == [0, 1, 2, 3, 4]

    def broken() -> Iterator[int]:
        yield 1
        raise InputError("x.zst: zstd stream broken after line 3")

    results = LocalEngine().map(lambda item, shared: item * shared, broken(), 1)
    assert next(results) == 1
    with pytest.raises(InputError, match="broken"):
        next(results)


def test_a_reading_stopped_midway_lets_the_next_use_its_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The fast reader stopped after batches were given (a line to quarantine) while a log record still
    holds the exception: the block path then queries the same DuckDB connection, which must be free."""
    caplog.set_level("INFO", logger="scraper.dumps")  # records keep the exception, its frame and the reader
    monkeypatch.setattr(dumps, "FAST_BATCH_ROWS", 4)
    good = [json.dumps({**GOOD, "id": f"c{i}"}) for i in range(3000)]
    path = tmp_path / "x_comments.jsonl"
    bad = json.dumps({**GOOD, "id": "bad", "score": "many"})  # stops the reading while its result is open
    path.write_text("\n".join([*good[:20], bad, *good[20:]]) + "\n", encoding="utf-8")
    fast, quarantined, _ = _by_span(path, "t1", Rule())
    assert fast is not None and fast.num_rows == 3000 and [q["line"] for q in quarantined] == [21]


@settings(max_examples=examples(2), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), batch=st.sampled_from([3, 8, 13]), filtered=st.booleans())
def test_the_version_does_not_depend_on_how_batches_meet_row_groups(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, seed: int, batch: int, filtered: bool
) -> None:
    """A batch of exactly a row group's rows is written as it comes; others are put together: the same bytes.

    The default reader batch is the row group (all rows kept: no copy); filtered rows, odd values
    (the reading by every value's own type) and lines to quarantine (the block path) make batches
    of other sizes, and other batch sizes the same file again.
    """
    monkeypatch.setattr(dumps, "ROW_GROUP", 8)
    rng = random.Random(seed)
    folder = tmp_path_factory.mktemp("groups")
    path = folder / "MachineLearning_comments.jsonl"
    path.write_bytes(_lines(rng, "t1", 60, odd=0.02, broken=0.02 if seed % 2 else 0.0))
    versions = []
    for rows in (8, batch):
        monkeypatch.setattr(dumps, "FAST_BATCH_ROWS", rows)
        target = write_spec(folder / f"ds{rows}", SPEC) if filtered else folder / f"ds{rows}"
        versions.append(ingest_dumps(target, [path], write_unchanged=True, keep_all=not filtered))
    first, second = ({k: v["sha256"] for k, v in m["files"].items()} for m in versions)
    assert first == second
    assert versions[0]["stats"] == versions[1]["stats"]
    comments = pq.ParquetFile(folder / "ds8" / "versions" / "v0001" / "comments.parquet")
    sizes = [comments.metadata.row_group(i).num_rows for i in range(comments.metadata.num_row_groups)]
    assert sizes[:-1] == [8] * (len(sizes) - 1) and 0 < sizes[-1] <= 8


# Texts of JSON values that are no strings, as they stand in a line: DuckDB's typed reader writes each
# into a VARCHAR column as its text (NaN and the infinities are literals its reader takes).
NOT_STRINGS = ["12", "-1.5", "1e3", "1E400", "123456789012345678901234567890", "-0", "true", "false"]
NOT_STRINGS += ['{"a": "b"}', "{}", "[1, 2]", "[]", "NaN", "Infinity", "-Infinity"]
# Strings whose text reads like one of those (real data: a body "100", an all-digit id or author).
LOOK_ALIKES = ["12", "-1.5", "1000.0", "1e3", "true", "false", "null", "[1,2]", "{}", '{"a":"b"}', "NaN", "-inf"]
LOOK_ALIKES += ["[deleted]", "0", "007", '"q"', " 12", "12 apples"]
BLANKS = [b"", b" ", b"\t", b"\r", b" \x0b\x0c "]


def _raw_line(fields: dict[str, str]) -> bytes:
    """A JSON object line from field → raw JSON text (so NaN, 1E400 and big numbers stand as written)."""
    return ("{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in fields.items()) + "}").encode()


def _readings(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bool, bool]]:
    """The fast readings ``filter_span`` asks for, as (usual, strings), recorded as they start."""
    readings: list[tuple[bool, bool]] = []
    real = flat.normalize_file
    monkeypatch.setattr(
        dumps,
        "normalize_file",
        lambda *a, **k: readings.append((k["usual"], k["strings"])) or real(*a, **k),
    )
    return readings


@settings(max_examples=examples(3), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.data(),
    kind=st.sampled_from(["t1", "t3"]),
    batch=st.sampled_from([4, 16, 64]),
    piece=st.sampled_from([7, 64, 1 << 20]),
)
def test_a_string_field_is_typed_by_duckdb_only_where_its_line_says_it_is_a_string(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    data: st.DataObject,
    kind: str,
    batch: int,
    piece: int,
) -> None:
    """The first reading types the string fields in DuckDB's reader, which writes a number or a boolean
    there as its text: a value that reads like such a text (a body "42", an id "12345") is checked on
    its line, so a string stays a string and the number 42 is never taken as "42". Whatever mix of look-alike
    strings, real values of another type and blank lines, the version equals the block path's (rows,
    quarantine, counts), and a span whose string fields all hold strings is read by the first reading alone."""
    monkeypatch.setattr(dumps, "FAST_BATCH_ROWS", batch)
    monkeypatch.setattr(flat._LineFinder, "PIECE", piece)
    readings = _readings(monkeypatch)
    strings = sorted(f for f in (POST if kind == "t3" else COMMENT) if f in flat._STRINGS)
    off = data.draw(st.booleans(), label="a string field holds another type")
    lines: list[bytes] = []
    for i in range(data.draw(st.integers(1, 40), label="lines")):
        if data.draw(st.integers(0, 9)) == 0:
            lines.append(data.draw(st.sampled_from(BLANKS)))
        fields = {f: json.dumps(v) for f, v in GOOD.items()}
        fields["id"] = json.dumps(f"i{i}")
        for field in data.draw(st.lists(st.sampled_from(strings), max_size=3, unique=True)):
            fields[field] = json.dumps(data.draw(st.sampled_from(LOOK_ALIKES)))
        if off and data.draw(st.integers(0, 3)) == 0:
            fields[data.draw(st.sampled_from(strings))] = data.draw(st.sampled_from(NOT_STRINGS))
        lines.append(_raw_line(fields))
    folder = tmp_path_factory.mktemp("strings")
    path = folder / f"x_{'submissions' if kind == 't3' else 'comments'}.jsonl"
    path.write_bytes(b"\n".join(lines) + data.draw(st.sampled_from([b"\n", b""])))
    fast, fast_q, fast_counts = _by_span(path, kind, Rule())
    slow, slow_q, slow_counts = _by_blocks(path, kind, Rule())
    assert (fast is None) == (slow is None)
    if fast is not None and slow is not None:
        assert fast.equals(slow)
    assert fast_q == slow_q
    assert _counts(fast_counts) == _counts(slow_counts)
    assert readings[0] == (True, True)
    if not fast_q:  # every value fits: nothing but look-alike strings, read by the first reading alone
        assert readings == [(True, True)]


@pytest.mark.parametrize("kind", ["t1", "t3"])
def test_no_value_of_another_type_is_taken_as_a_string_by_the_typed_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Every string field, every kind of JSON value that is no string, each on its own line after good
    ones: the first reading gives way before it hands on that line's row, and each such line is
    quarantined with its field named, as the block path does."""
    monkeypatch.setattr(dumps, "FAST_BATCH_ROWS", 4)
    readings = _readings(monkeypatch)
    strings = [f for f in (POST if kind == "t3" else COMMENT) if f in flat._STRINGS]
    base = {f: json.dumps(v) for f, v in GOOD.items()}
    good = [_raw_line({**base, "id": f'"c{i}"'}) for i in range(6)]
    odd = [(field, value) for field in strings for value in NOT_STRINGS]
    path = tmp_path / f"x_{'submissions' if kind == 't3' else 'comments'}.jsonl"
    path.write_bytes(b"\n".join([*good, *(_raw_line({**base, "id": '"odd"', f: v}) for f, v in odd)]) + b"\n")
    rows, quarantined, _ = _by_span(path, kind, Rule())
    assert readings[:2] == [(True, True), (True, False)]
    assert rows is not None and rows["id"].to_pylist() == [f"c{i}" for i in range(6)]
    assert [q["line"] for q in quarantined] == list(range(7, 7 + len(odd)))
    named = [q["field"] for q in quarantined]
    assert named == [field for field, _ in odd]


@settings(max_examples=examples(40), deadline=None)
@given(
    lines=st.lists(
        st.one_of(
            st.sampled_from(BLANKS),
            st.binary(min_size=1, max_size=9).map(lambda b: b"{" + b.replace(b"\n", b"")),
        ),
        max_size=30,
    ),
    last_newline=st.booleans(),
    piece=st.sampled_from([1, 3, 16, 1 << 20]),
    pick=st.lists(st.integers(0, 40), max_size=6),
)
def test_the_line_finder_numbers_lines_as_duckdb_numbers_rows(
    lines: list[bytes], last_newline: bool, piece: int, pick: list[int]
) -> None:
    """Rows are the non-blank lines in order (DuckDB skips lines of whitespace only); lines cut by a piece's end."""
    rows = [line for line in lines if line.strip()]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f.jsonl"
        path.write_bytes(b"\n".join(lines) + (b"\n" if last_newline else b""))
        with mock.patch.object(flat._LineFinder, "PIECE", piece):
            finder = flat._LineFinder(str(path))
            places = sorted(set(pick))
            inside = [p for p in places if p < len(rows)]
            try:
                assert finder.lines(inside[: len(inside) // 2]) == [rows[p] for p in inside[: len(inside) // 2]]
                assert finder.lines(inside[len(inside) // 2 :]) == [rows[p] for p in inside[len(inside) // 2 :]]
                if len(inside) < len(places):
                    with pytest.raises(LookupError):
                        finder.lines(places[len(inside) :])
            finally:
                finder.close()


@settings(max_examples=examples(60), deadline=None)
@given(
    lines=st.lists(st.sampled_from([b"{}", b'{"a": 1}', b"x" * 9, b"", b" ", b"\t\r", b"\x0b\x0c"]), max_size=30),
    end=st.sampled_from([b"\n", b""]),
    piece=st.integers(1, 200),
    data=st.data(),
)
def test_the_line_finder_gives_every_asked_line_whatever_was_asked_before(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], end: bytes, piece: int, data: st.DataObject
) -> None:
    """``_LineFinder`` gives the non-blank line at each asked place, however the asks are grouped into calls
    and the file into pieces: a line after the last one a call asked for is still there for the next call;
    a place past the last line is a ``LookupError``."""
    path = tmp_path_factory.mktemp("finder") / "x.jsonl"
    path.write_bytes(b"\n".join(lines) + end)
    rows = [line for line in lines if line.strip()]
    places = data.draw(st.lists(st.integers(0, len(rows)), unique=True, max_size=8).map(sorted), label="places")
    cuts = sorted(data.draw(st.sets(st.integers(1, max(len(places) - 1, 1))), label="calls split at"))
    finder = flat._LineFinder(str(path))
    finder.PIECE = piece
    try:
        for ask in (places[a:b] for a, b in zip([0, *cuts], [*cuts, len(places)], strict=True)):
            if ask and ask[-1] >= len(rows):
                with pytest.raises(LookupError):
                    finder.lines(ask)
                return
            assert finder.lines(ask) == [rows[p] for p in ask]
    finally:
        finder.close()
