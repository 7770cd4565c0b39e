"""validate: good versions pass; each kind of breakage fails its own check, with exit codes."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import ARROW_SCHEMAS, SCHEMA_VERSION
from schemas.upgrade import schema_problems
from scraper.cli import main
from scraper.collect.run import collect
from scraper.fake_reddit import FakeReddit, Forest
from scraper.fake_reddit.generate import generate_thread
from scraper.publish.validate import validate
from scraper.store.snapshot import Dataset, sha256_file
from tests.conftest import settings_for, write_spec

SPEC = """
[dataset]
name = "valid"
[discovery]
subreddits = ["MachineLearning"]
queries = ["quit"]
"""


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = write_spec(tmp_path_factory.mktemp("good") / "ds", SPEC)
    forest = Forest()
    for n in range(3):
        sub, comments = generate_thread(f"g{n}", 150, seed=n, title=f"I quit, part {n}", deleted_rate=0.1)
        forest.add_thread(sub, comments)
    with FakeReddit(forest, quota=10**9) as server:
        collect(folder, settings_for(server))
    return folder


@pytest.fixture
def copy(good: Path, tmp_path: Path) -> Path:
    target = tmp_path / "ds"
    shutil.copytree(good, target, ignore=shutil.ignore_patterns("raw", ".lock"))
    return target


def version_dir(folder: Path) -> Path:
    return folder / "versions" / "v0001"


def rewrite(folder: Path, stem: str, table: pa.Table) -> None:
    """Replace a file and update manifest and index to match, so only the data is wrong."""
    vdir = version_dir(folder)
    path = vdir / f"{stem}.parquet"
    pq.write_table(table, path, compression="zstd")
    manifest = json.loads((vdir / "manifest.json").read_text())
    manifest["files"][path.name].update(rows=table.num_rows, bytes=path.stat().st_size, sha256=sha256_file(path))
    manifest["stats"][stem] = table.num_rows
    (vdir / "manifest.json").write_text(json.dumps(manifest))
    Dataset(folder).write_index()


def comments(folder: Path) -> pa.Table:
    return pq.read_table(version_dir(folder) / "comments.parquet")


def failed(folder: Path, **kwargs: Any) -> dict[str, Any]:
    report = validate(folder, **kwargs)
    return {c.name: c for c in report.checks if c.status != "ok"}


def test_good_dataset_is_valid(good: Path) -> None:
    report = validate(good)
    assert report.valid and {c.status for c in report.checks} == {"ok"}
    # index, schema version, the manifest's facts, card, 2 files x 2, 10 row checks, loops, 3 lineage checks
    assert len(report.checks) == 22
    assert validate(version_dir(good)).valid  # a version folder alone


def test_wrong_type(copy: Path) -> None:
    table = comments(copy)
    idx = table.schema.get_field_index("score")
    rewrite(copy, "comments", table.set_column(idx, "score", pc.cast(table["score"], pa.string())))
    bad = failed(copy)
    assert list(bad) == ["comments: schema", "rows"] and "score: string != int64" in bad["comments: schema"].detail


def test_missing_column(copy: Path) -> None:
    rewrite(copy, "comments", comments(copy).drop_columns(["depth"]))
    assert "missing depth" in failed(copy)["comments: schema"].detail


def test_a_dropped_column_is_named_before_type_changes(copy: Path) -> None:
    """A pandas write-back makes every string a large_string: the dropped column still leads the detail."""
    table = comments(copy).drop_columns(["depth"])
    wide = pa.schema(
        [f.with_type(pa.large_string()) if f.type == pa.string() else f for f in table.schema],
        metadata=table.schema.metadata,
    )
    rewrite(copy, "comments", table.cast(wide).append_column("__index_level_0__", pa.array(range(table.num_rows))))
    detail = failed(copy)["comments: schema"].detail
    assert detail.startswith("missing depth; unexpected __index_level_0__; "), detail
    assert "large_string != string" in detail


@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_schema_problems_name_missing_and_extra_columns_first(data: st.DataObject) -> None:
    """Whatever columns are dropped, added and retyped: the missing ones, then the extra ones, then the rest."""
    stem = data.draw(st.sampled_from(sorted(ARROW_SCHEMAS)))
    expected = ARROW_SCHEMAS[stem]
    names = expected.names
    dropped = data.draw(st.sets(st.sampled_from(names), max_size=len(names) - 1))
    retyped = data.draw(st.sets(st.sampled_from(names)))
    extra = data.draw(st.lists(st.from_regex(r"x_[a-z]{1,6}", fullmatch=True), unique=True, max_size=3))
    fields = [
        f.with_type(pa.large_string() if f.type != pa.large_string() else pa.string()) if f.name in retyped else f
        for f in expected
        if f.name not in dropped
    ]
    actual = pa.schema([*fields, *(pa.field(n, pa.int8()) for n in extra)], metadata=expected.metadata)
    problems = schema_problems(stem, actual)
    head = [f"missing {n}" for n in names if n in dropped] + [f"unexpected {n}" for n in extra]
    assert problems[: len(head)] == head
    assert len(problems) == len(head) + len(retyped - dropped)


def test_edited_file_bytes(copy: Path) -> None:
    path = version_dir(copy) / "comments.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert "sha256 differs" in failed(copy)["comments: sha256, bytes, rows"].detail


def test_edited_manifest(copy: Path) -> None:
    path = version_dir(copy) / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["files"]["comments.parquet"]["rows"] += 1
    path.write_text(json.dumps(manifest))
    bad = failed(copy)
    assert bad["index"].examples == ["v0001"]
    rows = manifest["files"]["comments.parquet"]["rows"]
    assert bad["comments: sha256, bytes, rows"].detail == f"rows {rows - 1} != {rows}"


def test_a_file_grown_by_bytes_names_both_sizes_and_the_checksum(copy: Path) -> None:
    path = version_dir(copy) / "comments.parquet"
    manifest = json.loads((version_dir(copy) / "manifest.json").read_text())["files"]["comments.parquet"]
    path.write_bytes(b"\0" * 5 + path.read_bytes())  # five bytes more, and so another checksum
    report = validate(copy)
    check = next(c for c in report.checks if c.name == "comments: sha256, bytes, rows")
    assert (check.version, check.status, report.valid) == ("v0001", "fail", False)  # a failure, of that version
    assert check.detail.startswith(f"bytes {manifest['bytes'] + 5} != {manifest['bytes']}; sha256 differs")
    assert check.count >= 2


def test_duplicate_ids(copy: Path) -> None:
    table = comments(copy)
    rewrite(copy, "comments", pa.concat_tables([table, table.slice(0, 3)]))
    bad = failed(copy)
    assert bad["unique fullnames"].count == 3 and len(bad["unique fullnames"].examples) == 3


def test_orphan_parents_warn_under_the_threshold_and_fail_over_it(copy: Path) -> None:
    table = comments(copy)
    nested = pc.starts_with(table["parent_id"], "t1_")
    first_nested = [i for i, n in enumerate(nested.to_pylist()) if n][:2]
    parents = table["parent_id"].to_pylist()
    for i in first_nested:
        parents[i] = "t1_gone"
    idx = table.schema.get_field_index("parent_id")
    field = table.schema.field("parent_id")
    rewrite(copy, "comments", table.set_column(idx, field, pa.array(parents, pa.string())))
    check = failed(copy)["parent_id has its parent"]
    assert check.status == "warn" and check.count == 2
    assert validate(copy).valid
    assert failed(copy, orphan_warn_share=0.0)["parent_id has its parent"].status == "fail"


def test_text_in_a_tombstone(copy: Path) -> None:
    table = comments(copy)
    statuses = table["status"].to_pylist()
    visible = statuses.index("visible")
    statuses[visible] = "deleted"
    idx = table.schema.get_field_index("status")
    rewrite(copy, "comments", table.set_column(idx, table.schema.field("status"), pa.array(statuses, pa.string())))
    check = failed(copy)["status agrees with content"]
    assert check.status == "fail" and check.examples == [table["name"][visible].as_py()]


def test_wrong_depth_and_missing_submission(copy: Path) -> None:
    table = comments(copy)
    depth = pc.add(table["depth"], 1)
    rewrite(
        copy, "comments", table.set_column(table.schema.get_field_index("depth"), table.schema.field("depth"), depth)
    )
    subs = pq.read_table(version_dir(copy) / "submissions.parquet")
    rewrite(copy, "submissions", subs.slice(1))
    bad = failed(copy)
    assert "depth is parent's depth + 1" in bad
    dropped = subs["name"][0].as_py()
    expected = sum(1 for link in table["link_id"].to_pylist() if link == dropped)
    assert bad["comment link_id has its submission"].count == expected > 100


def test_timestamps_out_of_bounds(copy: Path) -> None:
    table = comments(copy)
    idx = table.schema.get_field_index("created_utc")
    late = pc.add(table["retrieved_at"], pa.scalar(2 * 86_400 * 10**6, pa.duration("us")))
    rewrite(copy, "comments", table.set_column(idx, table.schema.field("created_utc"), late))
    assert failed(copy)["timestamps within bounds"].count == table.num_rows


def test_a_line_dated_before_reddit_existed_is_reported_not_refused(copy: Path) -> None:
    """The dumps carry such lines (RC_2025-01 has one dated 2001): the version stays valid, with a warning
    that counts and names them."""
    from datetime import UTC, datetime

    table = comments(copy)
    name = set_cell(copy, "comments", "created_utc", 2, datetime(2001, 9, 9, 1, 46, 39, tzinfo=UTC))
    report = validate(copy)
    bad = {c.name: c for c in report.checks if c.status != "ok"}
    assert set(bad) == {"created after Reddit's founding (2005-06)"}
    check = bad["created after Reddit's founding (2005-06)"]
    assert (check.status, check.count, check.examples) == ("warn", 1, [name]) and report.valid
    assert table.num_rows == comments(copy).num_rows


def test_cli_exit_codes_json_and_step_summary(good: Path, copy: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    ok = CliRunner().invoke(main, ["validate", str(good), "--json"], env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert ok.exit_code == 0 and json.loads(ok.stdout)["valid"] is True
    assert "| v0001 | unique fullnames | ✅ ok |" in summary.read_text()
    (version_dir(copy) / "comments.parquet").write_bytes(b"PAR1 not really")
    assert CliRunner().invoke(main, ["validate", str(copy)]).exit_code == 1
    missing = CliRunner().invoke(main, ["validate", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "no such folder" in missing.stderr


def test_version_card_is_generated_and_checked(copy: Path) -> None:
    card = (version_dir(copy) / "README.md").read_text()
    assert card.startswith("---\nlicense: other\n")
    assert "configs:\n- config_name: comments\n  data_files: comments.parquet" in card
    assert "size_categories:\n- n<1K" in card
    for section in (
        "## Sources and collection",
        "## Completeness",
        "## Deletions and pseudonymization",
        "## Terms of use",
        "r/MachineLearning",
        "`quit`",
        f"Schema version {SCHEMA_VERSION}",
    ):
        assert section in card
    assert "not to train" in card or "Do not use them to train" in card
    (version_dir(copy) / "README.md").write_text(card + "tampered\n")
    assert failed(copy)["card: sha256, bytes"].status == "fail"


def test_a_comment_that_is_its_own_parent_fails(copy: Path) -> None:
    table = comments(copy)
    names = table.column("name").to_pylist()
    parents = table.column("parent_id").to_pylist()
    parents[-1] = names[-1]
    field = table.schema.field("parent_id")
    column = pa.array(parents, type=field.type)
    rewrite(copy, "comments", table.set_column(table.schema.get_field_index("parent_id"), field, column))
    bad = failed(copy)
    assert bad["no comment is its own parent"].examples == [names[-1]]


def test_a_version_folder_without_its_manifest_fails(copy: Path) -> None:
    headless = copy / "versions" / "v0002"
    shutil.copytree(version_dir(copy), headless)
    (headless / "manifest.json").unlink()
    bad = failed(copy)
    assert bad["every version folder has its manifest"].examples == ["v0002"]
    result = CliRunner().invoke(main, ["validate", str(copy)])
    assert result.exit_code == 1 and "Traceback" not in result.output


def test_a_manifest_naming_another_version_fails(copy: Path) -> None:
    path = version_dir(copy) / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["version"] = "v0007"
    path.write_text(json.dumps(manifest))
    bad = failed(copy)
    assert "names version 'v0007', not v0001" in bad["manifest"].detail


def set_cell(folder: Path, stem: str, column: str, row: int, value: Any) -> str:
    """Change one cell of a version's file (manifest and index updated); return the row's name."""
    path = version_dir(folder) / f"{stem}.parquet"
    table = pq.read_table(path)
    values = table[column].to_pylist()
    values[row] = value
    idx = table.schema.get_field_index(column)
    field = table.schema.field(column)
    rewrite(folder, stem, table.set_column(idx, field, pa.array(values, field.type)))
    return str(table["name"][row].as_py())


def test_a_top_level_comment_whose_parent_is_another_thread_fails_its_check(copy: Path) -> None:
    table = comments(copy)
    row = next(i for i, p in enumerate(table["parent_id"].to_pylist()) if p.startswith("t3_"))
    other = next(
        s
        for s in pq.read_table(version_dir(copy) / "submissions.parquet")["name"].to_pylist()
        if s != table["link_id"][row].as_py()
    )
    name = set_cell(copy, "comments", "parent_id", row, other)
    bad = failed(copy)
    assert set(bad) == {"parent_id of top-level comments is their link"}
    assert (
        bad["parent_id of top-level comments is their link"].count,
        bad["parent_id of top-level comments is their link"].examples,
    ) == (1, [name])


def test_edited_before_created_fails_the_timestamp_check(copy: Path) -> None:
    from datetime import timedelta

    table = comments(copy)
    row = 3
    name = set_cell(copy, "comments", "edited", row, table["created_utc"][row].as_py() - timedelta(seconds=1))
    bad = failed(copy)
    assert set(bad) == {"timestamps within bounds"}
    assert (bad["timestamps within bounds"].count, bad["timestamps within bounds"].examples) == (1, [name])


def test_a_visible_comment_without_an_author_fails_the_status_check(copy: Path) -> None:
    table = comments(copy)
    row = table["status"].to_pylist().index("visible")
    name = set_cell(copy, "comments", "author", row, None)
    bad = failed(copy)
    assert set(bad) == {"status agrees with content"}
    assert (bad["status agrees with content"].count, bad["status agrees with content"].examples) == (1, [name])


def _tree_file(path: Path, bodies: list[tuple[str, str]]) -> Path:
    """A recorded comment-tree interaction: one thread, top-level comments with (author, body)."""
    link = "zz1"
    children = [
        {
            "kind": "t1",
            "data": {
                "id": f"c{i}",
                "name": f"t1_c{i}",
                "parent_id": f"t3_{link}",
                "link_id": f"t3_{link}",
                "author": author,
                "body": body,
                "subreddit": "MachineLearning",
                "created_utc": 1_600_000_000.0 + i,
                "edited": False,
                "score": 1,
                "depth": 0,
                "replies": "",
            },
        }
        for i, (author, body) in enumerate(bodies)
    ]
    submission = {"id": link, "name": f"t3_{link}", "title": "Leaving ML", "selftext": "", "author": "op"}
    submission.update(subreddit="MachineLearning", created_utc=1_600_000_000.0, num_comments=len(children))
    doc = {
        "request": {"method": "GET", "url": f"https://oauth.reddit.com/comments/{link}/?raw_json=1"},
        "response": {
            "status": 200,
            "headers": {"date": "Tue, 01 Dec 2026 12:00:00 GMT"},
            "json": [
                {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": submission}]}},
                {"kind": "Listing", "data": {"after": None, "children": children}},
            ],
        },
    }
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_a_live_author_who_wrote_deleted_over_a_comment_is_visible_and_valid(tmp_path: Path) -> None:
    """Users overwrite their comments with the text "[deleted]": the author decides (WIRE-FORMAT §7), and the
    dataset holding such a comment passes validate (it failed "status agrees with content" before)."""
    from scraper.ingest import ingest

    source = _tree_file(
        tmp_path / "tree.json",
        [("alice", "[deleted]"), ("[deleted]", "[deleted]"), ("[deleted]", "[removed]"), ("bob", "hello")],
    )
    folder = tmp_path / "ds"
    ingest(folder, [source])
    table = pq.read_table(version_dir(folder) / "comments.parquet").sort_by("name")
    rows = {r["name"]: (r["status"], r["author"], r["body"]) for r in table.to_pylist()}
    assert rows == {
        "t1_c0": ("visible", "alice", "[deleted]"),
        "t1_c1": ("deleted", None, ""),
        "t1_c2": ("removed", None, ""),
        "t1_c3": ("visible", "bob", "hello"),
    }
    report = validate(folder)
    assert report.valid and {c.status for c in report.checks} == {"ok"}, [
        (c.name, c.detail) for c in report.checks if c.status != "ok"
    ]


@pytest.mark.parametrize(("author", "body"), [(None, "[deleted]"), ("carol", "[removed]"), (None, "text")])
def test_a_visible_comment_that_its_markers_say_is_gone_fails_the_status_check(
    copy: Path, author: str | None, body: str
) -> None:
    table = comments(copy)
    row = table["status"].to_pylist().index("visible")
    set_cell(copy, "comments", "author", row, author)
    name = set_cell(copy, "comments", "body", row, body)
    bad = failed(copy)
    assert set(bad) == {"status agrees with content"}
    assert (bad["status agrees with content"].count, bad["status agrees with content"].examples) == (1, [name])


@pytest.mark.parametrize(
    ("column", "value", "check"),
    [
        ("created_utc", datetime(2099, 1, 1, tzinfo=UTC), "timestamps within bounds"),
        ("selftext", "[deleted]", "status agrees with content"),
    ],
)
def test_a_damaged_submission_fails_its_check_with_its_name(copy: Path, column: str, value: Any, check: str) -> None:
    """The submission checks are counted with the comment checks of the same name, and named in the examples."""
    if column == "selftext":
        set_cell(copy, "submissions", "author", 0, None)  # a visible thread with no author and a gone marker
    name = set_cell(copy, "submissions", column, 0, value)
    bad = failed(copy)
    assert set(bad) == {check}
    assert (bad[check].count, bad[check].examples) == (1, [name])


MANIFEST_LIES: dict[str, tuple[Any, str, str]] = {
    # what is set, the check that fails, what its detail says (adversarial review 5, F2)
    "parent": ("v0001", "each parent is an earlier version", "v0001 (parent v0001)"),
    "format": ("something-else/9", "manifest: format, created_at, stats", "format 'something-else/9' is not"),
    "created_at": ("not a time", "manifest: format, created_at, stats", "created_at 'not a time' is not a time"),
    "future": ("9999-01-01T00:00:00+00:00", "manifest: format, created_at, stats", "is in the future"),
    "stats": (5, "manifest: format, created_at, stats", "stats.comments 5 != the"),
}


@pytest.mark.parametrize("lie", sorted(MANIFEST_LIES))
def test_a_lone_version_whose_manifest_lies_about_itself_fails(copy: Path, lie: str) -> None:
    """Re-signed in index.json, so only the manifest's own facts are wrong: validate still fails, naming them."""
    value, check, says = MANIFEST_LIES[lie]
    path = version_dir(copy) / "manifest.json"
    manifest = json.loads(path.read_text())
    if lie == "stats":
        manifest["stats"]["comments"] = value
    else:
        manifest["created_at" if lie == "future" else lie] = value
    path.write_text(json.dumps(manifest))
    Dataset(copy).write_index()
    bad = failed(copy)
    assert list(bad) == [check], bad
    assert says in (bad[check].detail + " " + " ".join(bad[check].examples)), bad[check]
    result = CliRunner().invoke(main, ["validate", str(copy)])
    assert result.exit_code == 1 and "Traceback" not in result.output


@pytest.mark.parametrize("marker", ["[removed]", "[ Removed by Reddit ]"])
def test_a_visible_submission_showing_a_removal_marker_fails_the_status_check(copy: Path, marker: str) -> None:
    """status_of: a removal marker removes, whoever the author (adversarial review 8 F5)."""
    table = pq.read_table(version_dir(copy) / "submissions.parquet")
    row = table["status"].to_pylist().index("visible")
    name = set_cell(copy, "submissions", "selftext", row, marker)
    bad = failed(copy)
    assert set(bad) == {"status agrees with content"}
    assert (bad["status agrees with content"].count, bad["status agrees with content"].examples) == (1, [name])
