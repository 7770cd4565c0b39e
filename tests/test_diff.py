"""diff between hand-made versions: added, removed, tombstoned, changed, ignored columns."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from schemas import Comment, Submission
from scraper.cli import main
from scraper.publish.diff import content_hash, diff_versions
from scraper.store.snapshot import Dataset, rows_to_table

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def sub(**kw: Any) -> Submission:
    base: dict[str, Any] = dict(
        name="t3_a",
        id="a",
        subreddit="s",
        subreddit_id="t5_s",
        author="op",
        author_fullname="t2_op",
        author_flair_text=None,
        created_utc=T0,
        edited=None,
        score=5,
        distinguished=None,
        stickied=False,
        locked=False,
        permalink="/r/s/comments/a/x/",
        status="visible",
        retrieved_at=T0,
        source="reddit-api",
        found_by=["seed:a"],
        title="t",
        selftext="s",
        url=None,
        domain=None,
        is_self=True,
        num_comments=3,
        upvote_ratio=0.9,
        over_18=False,
        link_flair_text=None,
        removed_by_category=None,
    )
    base.update(kw)
    return Submission(**base)


def com(cid: str, **kw: Any) -> Comment:
    base: dict[str, Any] = dict(
        name=f"t1_{cid}",
        id=cid,
        subreddit="s",
        subreddit_id="t5_s",
        author="u",
        author_fullname="t2_u",
        author_flair_text=None,
        created_utc=T0,
        edited=None,
        score=1,
        distinguished=None,
        stickied=False,
        locked=False,
        permalink=None,
        status="visible",
        retrieved_at=T0,
        source="reddit-api",
        found_by=["seed:a"],
        link_id="t3_a",
        parent_id="t3_a",
        depth=0,
        body=f"body {cid}",
        is_submitter=False,
        controversiality=0,
        collapsed=False,
    )
    base.update(kw)
    return Comment(**base)


def write(folder: Path, subs: list[Submission], comments: list[Comment]) -> str:
    manifest = Dataset(folder).write_version(
        {"submissions": rows_to_table("submissions", subs), "comments": rows_to_table("comments", comments)},
        spec_sha256=None,
        source={"kind": "test"},
        stats={},
    )
    return str(manifest["version"])


@pytest.fixture(scope="module")
def versions_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two hand-made versions, written once a module (read only: tests get a copy)."""
    folder = tmp_path_factory.mktemp("versions") / "ds"
    write(folder, [sub()], [com("c1"), com("c2"), com("c3"), com("c4")])
    later = datetime(2024, 2, 1, tzinfo=UTC)
    write(
        folder,
        [sub(score=9, retrieved_at=later)],
        [
            com("c1", retrieved_at=later, source="file:x"),  # only volatile fields changed
            com("c2", score=7, body="edited", edited=later),  # changed
            com("c3", status="deleted", body="", author=None, author_fullname=None),  # tombstoned
            com("c5"),  # added; c4 removed
        ],
    )
    return folder


@pytest.fixture
def versions(versions_once: Path, tmp_path: Path) -> Path:
    """A copy of the two versions for one test (some purge, publish or write next to them)."""
    folder = tmp_path / "ds"
    shutil.copytree(versions_once, folder, symlinks=True)
    return folder


def test_diff_kinds_and_columns(versions: Path) -> None:
    result = diff_versions(versions, "v0001", "v0002")
    c = result.tables["comments"]
    assert c.added == ["t1_c5"] and c.removed == ["t1_c4"] and c.tombstoned == ["t1_c3"]
    assert c.changed == {"t1_c2": ["edited", "is_edited", "score", "body"]}
    assert result.tables["submissions"].changed == {"t3_a": ["score"]}
    assert result.summary()["comments"] == {"added": 1, "removed": 1, "tombstoned": 1, "changed": 1}


def test_ignored_columns_are_left_out(versions: Path) -> None:
    result = diff_versions(versions, "v0001", "v0002", ignore=frozenset({"score"}))
    assert result.tables["submissions"].changed == {}
    assert result.tables["comments"].changed == {"t1_c2": ["edited", "is_edited", "body"]}


def test_content_hash_is_canonical() -> None:
    row = com("c1").model_dump()
    columns = sorted(row)
    assert content_hash(row, columns) == content_hash(dict(reversed(list(row.items()))), columns)
    assert content_hash(row, columns) != content_hash({**row, "score": 2}, columns)


def test_cli_diff_json_and_summary(versions: Path) -> None:
    result = CliRunner().invoke(main, ["diff", str(versions), "v0001", "v0002", "--json", "--ignore", "score"])
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert payload["summary"]["submissions"]["changed"] == 0 and payload["ignored"] == ["score"]
    assert payload["tables"]["comments"]["changed_columns"] == {"edited": 1, "is_edited": 1, "body": 1}
    human = CliRunner().invoke(main, ["diff", "--dataset", str(versions), "v0001", "v0002", "--ignore", "score"])
    assert human.exit_code == 0 and "comments tombstoned: t1_c3" in human.stdout  # data on stdout
    missing = CliRunner().invoke(main, ["diff", str(versions), "v0001", "v0007"])
    assert missing.exit_code == 1 and "no version 'v0007'" in missing.stderr


def test_diff_across_major_schema_versions_says_why(versions: Path) -> None:
    path = versions / "versions" / "v0002" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["schema_version"] = "2.0"
    path.write_text(json.dumps(manifest))
    with pytest.raises(Exception, match=r"schema 2\.0; this tool reads schema 1\.x"):
        diff_versions(versions, "v0001", "v0002")


def test_the_same_rows_with_columns_and_rows_in_another_order_are_no_change(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from scraper.store.snapshot import sha256_file

    folder = tmp_path / "ds"
    write(folder, [sub()], [com("c1"), com("c2"), com("c3")])
    write(folder, [sub()], [com("c1"), com("c2", score=4), com("c3")])
    vdir = folder / "versions" / "v0002"
    manifest = json.loads((vdir / "manifest.json").read_text())
    for stem in ("submissions", "comments"):  # columns reversed, rows reversed: the same content
        path = vdir / f"{stem}.parquet"
        table = pq.read_table(path)
        table = table.select(list(reversed(table.column_names))).take(list(reversed(range(table.num_rows))))
        pq.write_table(table, path)
        manifest["files"][path.name].update(bytes=path.stat().st_size, sha256=sha256_file(path))
    (vdir / "manifest.json").write_text(json.dumps(manifest))
    Dataset(folder).write_index()
    result = diff_versions(folder, "v0001", "v0002")
    assert result.tables["submissions"].changed == {} and result.tables["comments"].changed == {"t1_c2": ["score"]}
    assert result.summary() == {
        "submissions": {"added": 0, "removed": 0, "tombstoned": 0, "changed": 0},
        "comments": {"added": 0, "removed": 0, "tombstoned": 0, "changed": 1},
    }
