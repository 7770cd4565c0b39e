"""Dump builds are idempotent and whole: kill -9 at every durable step, duplicates across inputs,
a quarantine that is never lost, and a rerun that writes no second version."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scraper.dumps
from scraper.dumps import ingest_dumps
from scraper.fake_arctic_shift.dumpfiles import write_zst
from scraper.publish.validate import validate
from scraper.store import killpoints
from scraper.store.changes import NoChange
from tests.conftest import examples, write_spec
from tests.test_killmatrix import differences, forkserver, rows, same, state

__all__ = ["forkserver"]  # the fixture, shared with the kill matrix

SPEC = """
[dataset]
name = "dumps-rerun"

[archive]
subreddits = ["machinelearning"]
after = "2006-01-01"
"""


def post(ident: str, *, retrieved: int = 1_500_100_000, score: int = 1) -> dict[str, Any]:
    return {
        "id": ident,
        "subreddit": "MachineLearning",
        "created_utc": 1_500_000_000,
        "retrieved_on": retrieved,
        "title": f"leaving ML {ident}",
        "selftext": "",
        "author": "someone",
        "score": score,
    }


def inputs(folder: Path) -> tuple[Path, Path]:
    first = write_zst(folder / "RS_2017-06.zst", [post("p1"), post("p2")])
    second = write_zst(folder / "RS_2017-07.zst", [post("p3"), b"not json", post("p4"), post("p1", score=7)])
    return first, second


def child(folder: str, files: list[str], kill_at: int, trace: str | None) -> None:
    killpoints.reset(kill_at, trace)
    ingest_dumps(Path(folder), [Path(f) for f in files])


def spawn(ctx: Any, folder: Path, files: list[Path], kill_at: int = 0, trace: Path | None = None) -> int:
    proc = ctx.Process(
        target=child, args=(str(folder), [str(f) for f in files], kill_at, str(trace) if trace else None)
    )
    proc.start()
    proc.join(60)
    assert proc.exitcode is not None, "the run under test hung"
    return int(proc.exitcode)


def whole(folder: Path) -> dict[str, Any]:
    """``state`` plus every quarantine file's lines."""
    found = state(folder)
    found["quarantine"] = {p.name: p.read_text() for p in sorted((folder / "quarantine").glob("*.jsonl"))}
    return found


SHARDS = 2  # the kill points are shared out between tests, so the suite's two workers can split them


@pytest.fixture(scope="module")
def dump_matrix(forkserver: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A dataset holding v0001 (the base), then a traced uninterrupted build of v0002 on a copy (read only)."""
    tmp = tmp_path_factory.mktemp("dump-matrix")
    first, second = inputs(tmp / "in")
    base = write_spec(tmp / "base" / "ds", SPEC)
    ingest_dumps(base, [first])
    reference = tmp / "reference" / "ds"
    shutil.copytree(base, reference)
    trace = tmp / "trace"
    assert spawn(forkserver, reference, [second], trace=trace) == 0
    points = trace.read_text().splitlines()
    assert {"staged-file", "placed", "indexed"} <= set(points), points
    expected = whole(reference)
    assert expected["versions"] == ["v0001", "v0002"] and list(expected["quarantine"]) == ["v0002.jsonl"]
    index = [
        (v["version"], v["parent"], v["rows"]) for v in json.loads((reference / "index.json").read_text())["versions"]
    ]
    return {"base": base, "second": second, "points": points, "expected": expected, "index": index}


@pytest.mark.parametrize("part", range(SHARDS))
def test_kill_9_at_every_step_of_a_dump_build_then_rerun_equals_uninterrupted(
    tmp_path: Path, forkserver: Any, dump_matrix: dict[str, Any], part: int
) -> None:
    """A version and its quarantine are placed together, and a rerun after the version was placed
    writes no second one (the adversary's kill after "placed" left v0002 without its quarantine,
    and the rerun wrote v0003).  Each case starts from a copy of the same v0001."""
    points, expected, second = dump_matrix["points"], dump_matrix["expected"], dump_matrix["second"]
    cases = list(range(1, len(points) + 1))[part::SHARDS]
    assert cases
    for number in cases:
        folder = tmp_path / f"kill-{number}" / "ds"
        shutil.copytree(dump_matrix["base"], folder)
        assert spawn(forkserver, folder, [second], kill_at=number) == -9, points[number - 1]
        try:
            ingest_dumps(folder, [second])
        except NoChange:
            assert points[number - 1] in ("placed", "indexed"), points[number - 1]
        got = whole(folder)
        assert same(got, expected) and got["quarantine"] == expected["quarantine"], (
            number,
            points[number - 1],
            differences(rows(got), rows(expected)),
        )
        index = json.loads((folder / "index.json").read_text())
        assert [(v["version"], v["parent"], v["rows"]) for v in index["versions"]] == dump_matrix["index"]
        assert not list(folder.glob(".dumps.*"))


def test_a_rerun_of_the_same_files_writes_nothing_unless_asked(tmp_path: Path) -> None:
    first, _ = inputs(tmp_path / "in")
    folder = write_spec(tmp_path / "ds", SPEC)
    ingest_dumps(folder, [first])
    with pytest.raises(NoChange, match="no change since v0001"):
        ingest_dumps(folder, [first])
    assert ingest_dumps(folder, [first], write_unchanged=True)["version"] == "v0002"


def test_one_row_per_thing_the_newest_capture_then_the_later_line_wins(tmp_path: Path) -> None:
    """The same post in a month file and a per-subreddit file (or a file given twice) is one row."""
    month = write_zst(
        tmp_path / "RS_2017-07.zst",
        [post("p1", retrieved=1_500_200_000, score=5), post("p2"), post("p2", score=9), post("p3", score=1)],
    )
    per_sub = write_zst(
        tmp_path / "MachineLearning_submissions.zst",
        [post("p1", retrieved=1_500_100_000, score=99), post("p3", score=3), post("p4")],
    )
    folder = write_spec(tmp_path / "ds", SPEC)
    manifest = ingest_dumps(folder, [month, per_sub, month])
    table = pq.read_table(folder / "versions" / "v0001" / "submissions.parquet")
    got = {r["name"]: r["score"] for r in table.to_pylist()}
    # p1: the newer capture (5, from the month file) beats the later line; p2 and p3: the later line wins
    assert got == {"t3_p1": 5, "t3_p2": 9, "t3_p3": 1, "t3_p4": 1}
    assert table["name"].to_pylist() == ["t3_p4", "t3_p1", "t3_p2", "t3_p3"]  # each kept row in its input order
    assert manifest["stats"]["submissions"] == 4 and manifest["stats"]["not_kept"]["duplicate"] == 7
    report = validate(folder)
    assert report.valid and {c.status for c in report.checks} == {"ok"}


@settings(max_examples=examples(4), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    things=st.lists(st.tuples(st.integers(0, 12), st.integers(0, 3)), min_size=1, max_size=60),
    group=st.integers(1, 9),
)
def test_one_row_per_thing_across_row_groups_matches_a_plain_reading(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, things: list[tuple[int, int]], group: int
) -> None:
    """Repeats anywhere in a file of many row groups: the streamed rewrite keeps what a plain reading keeps.

    Row groups (and the batches of rows to drop) of a few rows, so repeats and the rows dropped fall
    on every side of a batch's edges.
    """
    monkeypatch.setattr(scraper.dumps, "ROW_GROUP", group)
    tmp_path = tmp_path_factory.mktemp("groups")
    lines = [post(f"p{thing}", retrieved=1_500_100_000 + capture, score=i) for i, (thing, capture) in enumerate(things)]
    newest: dict[str, tuple[int, int]] = {}  # name -> (capture, line) of the line kept
    for i, (thing, capture) in enumerate(things):
        newest[f"t3_p{thing}"] = max(newest.get(f"t3_p{thing}", (-1, -1)), (capture, i))
    expected = sorted((line, name) for name, (_capture, line) in newest.items())
    folder = write_spec(tmp_path / "ds", SPEC)
    manifest = ingest_dumps(folder, [write_zst(tmp_path / "RS_2017-07.zst", lines)])
    table = pq.read_table(folder / "versions" / "v0001" / "submissions.parquet")
    assert list(zip(table["score"].to_pylist(), table["name"].to_pylist(), strict=True)) == expected
    assert manifest["stats"]["not_kept"].get("duplicate", 0) == len(things) - len(newest)
    meta = pq.ParquetFile(folder / "versions" / "v0001" / "submissions.parquet").metadata
    sizes = [meta.row_group(k).num_rows for k in range(meta.num_row_groups)]
    assert all(size == group for size in sizes[:-1]) and 0 < sizes[-1] <= group


def test_a_version_from_comment_dumps_alone_is_valid_its_orphans_reported(tmp_path: Path) -> None:
    """The documented comments-only mode keeps comments by subreddit, without their threads: validate
    warns about the missing submissions (the manifest says why) instead of failing the version."""
    comments = [
        {
            "id": f"c{i}",
            "link_id": "t3_p1",
            "parent_id": "t3_p1",
            "subreddit": "MachineLearning",
            "created_utc": 1_500_000_000 + i,
            "body": "I left for a startup",
            "author": "someone",
        }
        for i in range(3)
    ]
    folder = write_spec(tmp_path / "ds", SPEC)
    manifest = ingest_dumps(folder, [write_zst(tmp_path / "RC_2017-07.zst", comments)])
    assert manifest["source"]["threads_from_submissions"] is False and manifest["stats"]["comments"] == 3
    report = validate(folder)
    bad = {c.name: c for c in report.checks if c.status != "ok"}
    assert set(bad) == {"comment link_id has its submission"} and report.valid
    assert (bad["comment link_id has its submission"].status, bad["comment link_id has its submission"].count) == (
        "warn",
        3,
    )


def test_duckdbs_own_interrupt_errors_are_ctrl_c_not_a_bug() -> None:
    """DuckDB takes SIGINT itself and raises its own error, not KeyboardInterrupt: the CLI exits 130 for it,
    not 70 ("a bug").  Streamed to Arrow, a SIGINT comes back as ``RuntimeError('Query interrupted')``
    (seen by the adversary; timing-dependent, so built here), otherwise as ``InterruptException``."""
    import threading

    import duckdb

    from scraper.cli import interrupted_query

    con = duckdb.connect()
    done = threading.Event()

    def interrupt() -> None:  # until the query has stopped: one sent before it starts does nothing
        while not done.wait(0.05):
            con.interrupt()

    threading.Thread(target=interrupt, daemon=True).start()
    try:
        with pytest.raises(duckdb.InterruptException) as caught:
            con.execute("select count(*) from (select md5(range::varchar) from range(1000000000))").fetchall()
    finally:
        done.set()
    assert interrupted_query(caught.value)
    assert interrupted_query(RuntimeError("Query interrupted"))
    assert not interrupted_query(duckdb.Error("Catalog Error: x")) and not interrupted_query(RuntimeError("boom"))


def test_a_comment_without_its_link_id_is_quarantined_also_when_threads_come_from_submissions(
    tmp_path: Path,
) -> None:
    """A line of a comment file that names no thread (a post that slipped into an RC file) cannot be matched
    to the kept threads: it is quarantined with its raw text, not counted as another thread's comment."""
    folder = write_spec(tmp_path / "ds", SPEC)
    comment = {"id": "c1", "link_id": "t3_p1", "parent_id": "t3_p1", "body": "hi", "created_utc": 1_500_000_100}
    stray = post("p9")  # no link_id, no parent_id
    other = {**comment, "id": "c2", "link_id": "t3_zz", "parent_id": "t3_zz"}
    manifest = ingest_dumps(
        folder,
        [
            write_zst(tmp_path / "RS_2017-07.zst", [post("p1")]),
            write_zst(tmp_path / "RC_2017-07.zst", [comment, stray, other]),
        ],
    )
    assert (manifest["stats"]["comments"], manifest["stats"]["quarantined"]) == (1, 1)
    assert manifest["stats"]["not_kept"] == {"thread": 1}
    (entry,) = [json.loads(line) for line in (folder / "quarantine" / "v0001.jsonl").read_text().splitlines()]
    assert entry["field"] == "link_id" and json.loads(entry["raw"])["id"] == "p9"


@pytest.mark.parametrize("address", ["tcp://127.0.0.1", "garbage", "http://head:8786"])
def test_a_scheduler_that_is_not_an_address_is_a_usage_error(tmp_path: Path, address: str) -> None:
    from click.testing import CliRunner

    from scraper.cli import main

    folder = write_spec(tmp_path / "ds", SPEC)
    path = write_zst(tmp_path / "RS_2017-07.zst", [post("p1")])
    result = CliRunner().invoke(main, ["dumps", str(folder), str(path), "--engine", "dask", "--scheduler", address])
    assert result.exit_code == 2, result.output
    assert "is not a scheduler address" in result.output and "tcp://HOST:PORT" in result.output
    assert not (folder / "versions").exists()


def test_a_damaged_input_file_writes_what_it_could_read_and_exits_1(tmp_path: Path) -> None:
    """A zstd stream cut short: the version holds the lines decoded before the break, the problem names the
    file, and the exit code tells a scheduler that a person should look (1), as for collect."""
    from click.testing import CliRunner

    from scraper.cli import main

    folder = write_spec(tmp_path / "ds", SPEC)
    path = write_zst(tmp_path / "RS_2017-07.zst", [post(f"p{i}") for i in range(3000)])
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 3 // 4])
    result = CliRunner().invoke(main, ["dumps", str(folder), str(path)])
    assert result.exit_code == 1, result.output
    assert "problem: " in result.output and "RS_2017-07.zst" in result.output
    assert 0 < pq.read_metadata(folder / "versions" / "v0001" / "submissions.parquet").num_rows < 3000


def test_a_full_temporary_folder_is_named_not_the_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A .zst span is written under TMPDIR: when that disk is full, the error says so (exit 74), and
    nothing is written to the dataset."""
    import errno

    from click.testing import CliRunner

    from scraper.cli import main

    real = Path.write_bytes

    def full(self: Path, data: Any) -> int:
        if self.name == "span.jsonl":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", full)
    folder = write_spec(tmp_path / "ds", SPEC)
    path = write_zst(tmp_path / "RS_2017-07.zst", [post("p1")])
    result = CliRunner().invoke(main, ["dumps", str(folder), str(path)])
    assert result.exit_code == 74, result.output
    assert "temporary folder for dump spans: TMPDIR" in result.output and "ENOSPC" in result.output
    assert not (folder / "versions").exists()


def test_a_lone_surrogate_in_a_dump_line_is_repaired_not_quarantined(tmp_path: Path) -> None:
    """Half an emoji (``"\\ud83d"``) is valid JSON that real dumps carry: the row is kept with U+FFFD in its
    place and the repair counted, as on the collected path; a whole pair is read as the emoji itself."""
    lines = [
        b'{"id":"p1","subreddit":"MachineLearning","created_utc":1500000000,"title":"quit \\ud83d ML",'
        b'"selftext":"bye \\ud83d\\ude00 and \\udc00","author":"a"}',
        b'{"id":"p2","subreddit":"MachineLearning","created_utc":1500000001,"title":"left \\ud83d\\ude00",'
        b'"selftext":"","author":"b"}',
        b'{"id":"p3","subreddit":"MachineLearning","created_utc":1500000002,"title":"fine","author":"c"}',
    ]
    folder = write_spec(tmp_path / "ds", SPEC)
    manifest = ingest_dumps(folder, [write_zst(tmp_path / "RS_2017-07.zst", lines)])
    assert (manifest["stats"]["submissions"], manifest["stats"]["quarantined"]) == (3, 0)
    assert manifest["stats"]["repaired"] == {"selftext": 1, "title": 1}
    rows = {r["name"]: r for r in pq.read_table(folder / "versions" / "v0001" / "submissions.parquet").to_pylist()}
    assert rows["t3_p1"]["title"] == "quit \ufffd ML" and rows["t3_p1"]["selftext"] == "bye \U0001f600 and \ufffd"
    assert rows["t3_p2"]["title"] == "left \U0001f600"
    assert validate(folder).valid


def test_kill_9_at_every_step_of_an_ingest_then_rerun_writes_no_second_version(tmp_path: Path, forkserver: Any) -> None:
    """The same promise on ``ingest``: killed after its version was placed, the rerun finds that version
    (no change) instead of writing an identical second one."""
    from scraper.ingest import ingest
    from tests.test_validate import _tree_file

    tree = _tree_file(tmp_path / "tree.json", [("alice", "hi"), ("bob", "yo"), ("[deleted]", "[removed]")])

    def run(folder: Path, kill_at: int = 0, trace: Path | None = None) -> int:
        proc = forkserver.Process(target=_ingest_child, args=(str(folder), str(tree), kill_at, str(trace or "")))
        proc.start()
        proc.join(60)
        assert proc.exitcode is not None
        return int(proc.exitcode)

    reference = tmp_path / "reference" / "ds"  # no spec: the manifest names the dataset by its folder
    trace = tmp_path / "trace"
    assert run(reference, trace=trace) == 0
    points = trace.read_text().splitlines()
    assert "placed" in points and "indexed" in points
    expected = whole(reference)
    for number in range(1, len(points) + 1):
        folder = tmp_path / f"kill-{number}" / "ds"
        assert run(folder, kill_at=number) == -9
        try:
            ingest(folder, [tree])
        except NoChange:
            assert points[number - 1] in ("placed", "indexed"), points[number - 1]
        got = whole(folder)
        assert same(got, expected), (number, points[number - 1], differences(rows(got), rows(expected)))


def _ingest_child(folder: str, tree: str, kill_at: int, trace: str) -> None:
    from scraper.ingest import ingest

    killpoints.reset(kill_at, trace or None)
    ingest(Path(folder), [Path(tree)])


@pytest.mark.parametrize("name", ["RS_2017-07.zst", "RC_2017-07.ndjson", "r_MachineLearning_posts.jsonl"])
def test_ingest_given_a_dump_file_points_at_dumps(tmp_path: Path, name: str) -> None:
    from scraper.errors import InputError
    from scraper.ingest import ingest

    path = tmp_path / name
    path.write_bytes(b'{"id":"p1"}\n')
    with pytest.raises(InputError, match=r"is a Reddit dump file .* python -m scraper dumps DATASET"):
        ingest(tmp_path / "ds", [path])
    assert not (tmp_path / "ds").exists()


def test_a_saved_response_named_like_a_dump_is_still_ingested(tmp_path: Path) -> None:
    """``<anything>_comments.json`` is also how people name a saved comment tree: JSON files are read as ever."""
    from scraper.ingest import ingest
    from tests.test_validate import _tree_file

    tree = _tree_file(tmp_path / "thread_comments.json", [("alice", "hi")])
    assert ingest(tmp_path / "ds", [tree])["stats"]["comments"] == 1
