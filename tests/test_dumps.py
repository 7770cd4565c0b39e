"""Dump files: long-window zstd streamed, every era's drift, two-pass rebuild, quarantine, Dask equals local."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import zstandard

from schemas import Comment, Submission
from scraper.dumps import ingest_dumps
from scraper.errors import InputError
from scraper.fake_arctic_shift import generate
from scraper.fake_arctic_shift.dumpfiles import write_zst
from scraper.normalize.archive import wire_shape, with_archive
from scraper.normalize.flat import Selection, normalize_block
from scraper.normalize.harvest import Seen
from scraper.normalize.policy import tombstone
from scraper.normalize.rows import comment_row, submission_row
from scraper.sources.dumps import blocks, dump_kind
from scraper.spec import Filter
from tests.conftest import write_spec

SPEC = """
[dataset]
name = "dumps"

[filter]
include = ["quit", "leav", "burn", "switch"]

[archive]
subreddits = ["machinelearning"]
after = "2006-01-01"
before = "2026-01-01"
"""
RULE = Filter(include=["quit", "leav", "burn", "switch"])


@pytest.fixture(scope="module")
def store() -> Any:
    """Posts of every era from 2006 to 2025, in two subreddits (one in the spec)."""
    return generate(posts=120, seed=21, start=1_136_073_600, end=1_767_225_600, comments_per_post=(0, 6))


def _month_files(folder: Path, store: Any) -> list[Path]:
    return [write_zst(folder / "RS_2016-01.zst", store.posts), write_zst(folder / "RC_2016-01.zst", store.comments)]


def _kept(store: Any) -> set[str]:
    return {
        f"t3_{p['id']}"
        for p in store.posts
        if p["subreddit"].lower() == "machinelearning" and RULE.matches(p["title"], p.get("selftext") or "")
    }


def test_long_window_files_need_the_2gib_window(tmp_path: Path) -> None:
    path = write_zst(tmp_path / "RC_2010-01.zst", [{"id": "a"}])
    with path.open("rb") as handle, pytest.raises(zstandard.ZstdError, match="too much memory"):
        zstandard.ZstdDecompressor().stream_reader(handle).read()
    assert [data for _, data in blocks(path)] == [b'{"id":"a"}\n']


def test_blocks_cut_at_line_ends_and_count_lines(tmp_path: Path) -> None:
    lines = [{"id": str(i), "pad": "x" * (i % 50)} for i in range(3000)]
    path = write_zst(tmp_path / "RC_2010-01.zst", lines)
    seen = list(blocks(path, block=4096))
    assert len(seen) > 10
    joined = b"".join(data for _, data in seen).splitlines()
    assert [json.loads(x)["id"] for x in joined] == [str(i) for i in range(3000)]
    assert [first for first, _ in seen][:2] == [1, 1 + seen[0][1].count(b"\n")]


@pytest.mark.parametrize(
    ("name", "kind", "sub"),
    [
        ("RS_2016-01.zst", "t3", None),
        ("RC_2023-11.zst", "t1", None),
        ("MachineLearning_submissions.zst", "t3", "MachineLearning"),
        ("data_science_comments.zst", "t1", "data_science"),
        ("r_datascience_posts.jsonl", "t3", "datascience"),
    ],
)
def test_dump_names(name: str, kind: str, sub: str | None) -> None:
    assert dump_kind(name) == (kind, sub)


def test_an_unknown_name_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a dump file name"):
        ingest_dumps(tmp_path / "ds", [tmp_path / "stuff.zst"])


def test_two_pass_rebuild_keeps_exactly_the_threads_of_the_rule(tmp_path: Path, store: Any) -> None:
    folder = write_spec(tmp_path / "ds", SPEC)
    files = _month_files(tmp_path / "in", store)
    manifest = ingest_dumps(folder, files)
    subs = pq.read_table(folder / "versions" / "v0001" / "submissions.parquet")
    comments = pq.read_table(folder / "versions" / "v0001" / "comments.parquet")
    kept = _kept(store)
    assert kept and set(subs["name"].to_pylist()) == kept
    assert set(comments["name"].to_pylist()) == {f"t1_{c['id']}" for c in store.comments if c["link_id"] in kept}
    assert manifest["stats"]["quarantined"] == 0  # every era's drift read without loss
    assert [f["name"] for f in manifest["source"]["files"]] == ["RS_2016-01.zst", "RC_2016-01.zst"]
    for entry, path in zip(manifest["source"]["files"], files, strict=True):
        assert entry["size"] == path.stat().st_size
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert set(subs["source"].to_pylist()) == {"dump:RS_2016-01.zst"}
    assert manifest["stats"]["not_kept"]["subreddit"] > 0 and manifest["stats"]["not_kept"]["keyword"] > 0


def test_thread_ids_match_exactly_not_by_prefix(tmp_path: Path) -> None:
    folder = write_spec(tmp_path / "ds", SPEC)
    post = {"id": "abc12", "subreddit": "MachineLearning", "created_utc": 1_500_000_000, "title": "I quit"}
    comments = [
        {"id": "c1", "link_id": "t3_abc12", "parent_id": "t3_abc12", "body": "x", "created_utc": 1_500_000_100},
        {"id": "c2", "link_id": "t3_abc123", "parent_id": "t3_abc123", "body": "y", "created_utc": 1_500_000_100},
    ]
    files = [write_zst(tmp_path / "RS_2017-07.zst", [post]), write_zst(tmp_path / "RC_2017-07.zst", comments)]
    ingest_dumps(folder, files)
    names = pq.read_table(folder / "versions" / "v0001" / "comments.parquet")["name"].to_pylist()
    assert names == ["t1_c1"]


def test_bad_lines_are_quarantined_and_counted_never_fatal(tmp_path: Path) -> None:
    folder = write_spec(tmp_path / "ds", SPEC)
    good = {"id": "p1", "subreddit": "MachineLearning", "created_utc": "1500000000", "title": "leaving ML"}
    lines: list[dict[str, Any] | bytes] = [
        b'{"id": "p0", "subreddit": "MachineLearning", "title": "quit"',  # cut
        b"\xff\xfe not utf-8",
        b"[1, 2, 3]",
        {"id": "p2", "subreddit": "MachineLearning", "created_utc": 1_500_000_000, "title": "quit", "score": "many"},
        {"id": "p3", "subreddit": "MachineLearning", "created_utc": "soon", "title": "quit"},
        good,
    ]
    manifest = ingest_dumps(folder, [write_zst(tmp_path / "MachineLearning_submissions.zst", lines)])
    assert manifest["stats"]["quarantined"] == 5 and manifest["stats"]["submissions"] == 1
    quarantine = [json.loads(x) for x in (folder / "quarantine" / "v0001.jsonl").read_text().splitlines()]
    assert [(q["line"], q["field"]) for q in quarantine] == [
        (1, "line"),
        (2, "line"),
        (3, "line"),
        (4, "score"),
        (5, "created_utc"),
    ]
    assert all(q["file"] == "MachineLearning_submissions.zst" for q in quarantine)


def test_a_run_that_quarantines_every_line_still_writes_its_quarantine(tmp_path: Path) -> None:
    folder = write_spec(tmp_path / "ds", SPEC)
    lines: list[dict[str, Any] | bytes] = [b'{"id": "p0", "subreddit": "MachineLearning"', b"[1, 2]"]
    with pytest.raises(InputError, match=r"nothing kept .*2 quarantined, written to .*unkept-") as caught:
        ingest_dumps(folder, [write_zst(tmp_path / "MachineLearning_submissions.zst", lines)])
    written = sorted((folder / "quarantine").glob("unkept-*.jsonl"))
    assert len(written) == 1 and str(written[0]) in str(caught.value)
    entries = [json.loads(x) for x in written[0].read_text().splitlines()]
    assert [(q["line"], q["field"], q["file"]) for q in entries] == [
        (1, "line", "MachineLearning_submissions.zst"),
        (2, "line", "MachineLearning_submissions.zst"),
    ]
    assert not (folder / "versions").exists() or not any((folder / "versions").iterdir())


@pytest.mark.parametrize("cut", [False, True])  # True: a bad line sends the file through the block path
@pytest.mark.parametrize("packed", [False, True])
def test_a_byte_order_mark_opening_a_file_or_a_line_is_not_data(tmp_path: Path, packed: bool, cut: bool) -> None:
    folder = write_spec(tmp_path / "ds", SPEC)
    post = {"subreddit": "MachineLearning", "created_utc": 1_500_000_000, "title": "leaving ML"}
    bom = "\ufeff".encode()
    lines = [bom + json.dumps({**post, "id": "p1"}).encode(), json.dumps({**post, "id": "p2"}).encode()]
    lines.append(bom + json.dumps({**post, "id": "p3"}).encode())  # files joined: a mark opening a later line
    if cut:
        lines.append(b'{"id": "p4", "subreddit": "MachineLearning"')
    if packed:
        path = write_zst(tmp_path / "MachineLearning_submissions.zst", lines)
    else:
        path = tmp_path / "MachineLearning_submissions.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
    manifest = ingest_dumps(folder, [path])
    names = pq.read_table(folder / "versions" / "v0001" / "submissions.parquet")["name"].to_pylist()
    assert names == ["t3_p1", "t3_p2", "t3_p3"]
    assert manifest["stats"]["quarantined"] == (1 if cut else 0)


def test_a_truncated_file_keeps_what_decoded_and_says_so(tmp_path: Path, store: Any) -> None:
    folder = write_spec(tmp_path / "ds", SPEC)
    many = generate(posts=3000, seed=5, comments_per_post=(0, 0), subreddits=("MachineLearning",))
    path = write_zst(tmp_path / "RS_2016-01.zst", many.posts)
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 3 // 4])
    manifest = ingest_dumps(folder, [path])
    assert 0 < manifest["stats"]["lines"] < 3000 and manifest["stats"]["submissions"] > 0
    assert any("zstd stream broken" in p and "RS_2016-01.zst" in p for p in manifest["stats"]["problems"])


def test_nothing_kept_writes_no_version(tmp_path: Path) -> None:
    folder = write_spec(tmp_path / "ds", SPEC)
    path = write_zst(tmp_path / "RS_2016-01.zst", [{"id": "x", "subreddit": "other", "created_utc": 1}])
    with pytest.raises(InputError, match="nothing kept"):
        ingest_dumps(folder, [path])
    assert not (folder / "versions").exists() or not any((folder / "versions").iterdir())


def _model_values(obj: dict[str, Any], kind: str, source: str) -> dict[str, Any]:
    """The row the model path (scraper/normalize/rows.py) builds for an archive line seen only in the archive."""
    data = wire_shape(obj, kind)
    received = datetime(2030, 1, 1, tzinfo=UTC)
    seen = Seen(data, received, source, False)
    found = [f"archive:r/{data['subreddit']}"]
    row: Submission | Comment
    if kind == "t3":
        row = with_archive(
            submission_row(seen, found), seen, from_archive=True, reddit_asked=False, text_when_gone=False
        )
    else:
        depth = 0 if str(data["parent_id"]).startswith("t3_") else None
        row = with_archive(
            comment_row(seen, found, depth), seen, from_archive=True, reddit_asked=False, text_when_gone=False
        )
    return tombstone(row).model_dump(mode="json", exclude={"retrieved_at"})


def _flat_rows(objs: list[dict[str, Any]], kind: str, source: str) -> dict[str, dict[str, Any]]:
    data = b"".join(json.dumps(o).encode() + b"\n" for o in objs)
    batch, quarantined, _ = normalize_block(data, 1, kind, source=source, selection=Selection())
    assert quarantined == [] and batch is not None
    rows = {}
    for row in batch.to_pylist():
        for key in ("created_utc", "edited", "archived_at"):
            if row[key] is not None:
                row[key] = row[key].isoformat().replace("+00:00", "Z")
        row.pop("retrieved_at")
        rows[row["name"]] = row
    return rows


def test_the_flat_builder_writes_what_the_model_path_writes(store: Any) -> None:
    """No model object per row on the dump path, yet the same values as the models build, in every era."""
    for objs, kind in ((store.posts, "t3"), (store.comments, "t1")):
        flat = _flat_rows(objs, kind, "dump:x")
        assert len(flat) == len(objs)
        for obj in objs:
            model = _model_values(obj, kind, "dump:x")
            model["status"] = str(model["status"])
            assert flat[model["name"]] == model, obj["id"]


def test_dask_engine_writes_the_same_version(tmp_path: Path, store: Any, dask_client: Any) -> None:
    files = _month_files(tmp_path / "in", store)
    local = write_spec(tmp_path / "local", SPEC)
    on_dask = write_spec(tmp_path / "dask", SPEC)
    a = ingest_dumps(local, files)
    b = ingest_dumps(on_dask, files, engine="dask", client=dask_client)
    assert b["stats"]["engine"] == "dask" and a["stats"]["engine"] == "local"
    assert {k: v["sha256"] for k, v in a["files"].items()} == {k: v["sha256"] for k, v in b["files"].items()}
    assert a["stats"]["submissions"] == b["stats"]["submissions"] > 0


def test_a_pattern_re2_cannot_run_is_run_as_python_runs_it(tmp_path: Path) -> None:
    """Look-behind was refused by the dump reader (RE2); the rule is Python's on every path now (review 7, F2)."""
    folder = write_spec(
        tmp_path / "ds", SPEC.replace('include = ["quit", "leav", "burn", "switch"]', "include = ['(?<=x)quit']")
    )
    post = {"subreddit": "machinelearning", "created_utc": 1_500_000_000}
    posts = [{**post, "id": "p1", "title": "xquit"}, {**post, "id": "p2", "title": "quit"}]
    ingest_dumps(folder, [write_zst(tmp_path / "RS_2017-07.zst", posts)])
    kept = pq.read_table(folder / "versions" / "v0001" / "submissions.parquet")["id"].to_pylist()
    assert kept == ["p1"]


def test_a_killed_runs_work_folder_is_removed_by_the_next(tmp_path: Path) -> None:
    folder = write_spec(tmp_path / "ds", SPEC)
    left = folder / ".dumps.999999"
    left.mkdir()
    (left / "submissions.parquet").write_bytes(b"half")
    post = {"id": "p1", "subreddit": "MachineLearning", "created_utc": 1_500_000_000, "title": "quit"}
    ingest_dumps(folder, [write_zst(tmp_path / "RS_2017-07.zst", [post])])
    assert not list(folder.glob(".dumps.*"))


def test_pseudonyms_on_the_dump_path_are_the_model_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from scraper.normalize.pseudonyms import Pseudonymizer

    key = "a-test-key-of-enough-length"
    monkeypatch.setenv("DUMPS_TEST_KEY", key)
    spec = SPEC + '\n[pseudonymize]\nenabled = true\nkey_env = "DUMPS_TEST_KEY"\n'
    folder = write_spec(tmp_path / "ds", spec)
    post = {"id": "p1", "subreddit": "MachineLearning", "created_utc": 1_500_000_000, "title": "quit, says u/Alice"}
    post |= {"author": "Bob", "author_fullname": "t2_bob", "selftext": "ask u/carol"}
    comments = [
        {"id": "c1", "link_id": "t3_p1", "parent_id": "t3_p1", "body": "hi u/Bob", "author": "Alice"},
        {"id": "c2", "link_id": "t3_p1", "parent_id": "t1_c1", "body": "no mention", "author": "Bob"},
    ]
    comments = [{**c, "created_utc": 1_500_000_100} for c in comments]
    manifest = ingest_dumps(
        folder, [write_zst(tmp_path / "RS_2017-07.zst", [post]), write_zst(tmp_path / "RC_2017-07.zst", comments)]
    )
    assert manifest["pseudonymization"]["pseudonymized"] is True
    p = Pseudonymizer(key.encode())
    sub = pq.read_table(folder / "versions" / "v0001" / "submissions.parquet").to_pylist()[0]
    assert (sub["author"], sub["author_fullname"]) == (p.name("Bob"), p.account("t2_bob"))
    assert (sub["title"], sub["selftext"]) == (p.text(post["title"]), p.text(post["selftext"]))
    rows = pq.read_table(folder / "versions" / "v0001" / "comments.parquet").to_pylist()
    assert [(r["author"], r["body"]) for r in rows] == [
        (p.name("Alice"), p.text("hi u/Bob")),
        (p.name("Bob"), "no mention"),
    ]
