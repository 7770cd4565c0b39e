"""Refresh against the fake Reddit: edits, scores, deletions, removals, deleted accounts, new comments."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from scraper.cli import main
from scraper.collect.refresh import refresh
from scraper.collect.run import collect
from scraper.fake_reddit import FakeReddit, Forest
from scraper.fake_reddit.generate import generate_thread
from scraper.publish.diff import diff_versions
from scraper.publish.validate import validate
from tests.conftest import latest_manifest, settings_for, write_spec

SPEC = """
[dataset]
name = "refresh"
[discovery]
subreddits = ["MachineLearning"]
queries = ["quit"]
"""


def table(folder: Path, version: str, stem: str) -> dict[str, dict]:
    rows = pq.read_table(folder / "versions" / version / f"{stem}.parquet").to_pylist()
    return {r["name"]: r for r in rows}


@pytest.fixture(scope="module")
def world_once(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Forest]:
    """Reddit (two threads) and a dataset collected from it, made once a module (read only)."""
    forest = Forest()
    for n in range(2):
        sub, comments = generate_thread(f"r{n}", 120, seed=n, title=f"Why I quit ML ({n})", deleted_rate=0)
        forest.add_thread(sub, comments)
    folder = write_spec(tmp_path_factory.mktemp("world") / "ds", SPEC)
    with FakeReddit(forest, quota=10**9) as server:
        collect(folder, settings_for(server))
    return folder, forest


@pytest.fixture
def world(world_once: tuple[Path, Forest], tmp_path: Path) -> tuple[Path, Forest]:
    """A copy of the collected dataset and of Reddit for one test (tests change both)."""
    folder = tmp_path / "ds"
    shutil.copytree(world_once[0], folder, symlinks=True)
    return folder, copy.deepcopy(world_once[1])


def test_refresh_updates_tombstones_and_adds(world: tuple[Path, Forest]) -> None:
    folder, forest = world
    before = table(folder, "v0001", "comments")
    t0 = forest.threads["r0"]
    ids = sorted(t0.comments)
    edited, deleted, removed, gone, scored = ids[1], ids[2], ids[3], ids[4], ids[5]
    t0.comments[edited].update(body="edited text", edited=t0.comments[edited]["created_utc"] + 100)
    t0.comments[deleted].update(author="[deleted]", body="[deleted]")
    t0.comments[removed].update(author="[deleted]", body="[removed]")
    t0.comments[gone].update(author="[deleted]")  # account deleted, text kept by Reddit
    t0.comments.get(gone).pop("author_fullname", None)
    t0.comments[scored]["score"] = 9999
    new = dict(
        t0.comments[ids[0]],
        id="newone",
        name="t1_newone",
        parent_id=f"t1_{ids[0]}",
        body="late answer",
        created_utc=t0.comments[ids[0]]["created_utc"] + 10**5,
    )
    t0.add_comment(new)
    t0.submission["num_comments"] = len(t0.comments)
    with FakeReddit(forest, quota=10**9) as server:
        report = refresh(folder, settings_for(server))
        assert server.count("/api/info") == 3  # 242 fullnames, 100 a request
        assert server.count("/comments/r0") >= 1 and server.count("/comments/r1") == 0
    assert report.version == "v0002" and [t.link for t in report.refetched] == ["r0"]
    after = table(folder, "v0002", "comments")
    assert after[f"t1_{edited}"]["body"] == "edited text" and after[f"t1_{edited}"]["edited"] is not None
    assert after[f"t1_{scored}"]["score"] == 9999
    for cid, status in ((deleted, "deleted"), (removed, "removed"), (gone, "account_deleted")):
        row = after[f"t1_{cid}"]
        assert (row["status"], row["body"], row["author"]) == (status, "", None)
        assert row["parent_id"] == before[f"t1_{cid}"]["parent_id"] and row["depth"] == before[f"t1_{cid}"]["depth"]
    assert after["t1_newone"]["body"] == "late answer" and after["t1_newone"]["depth"] == 1
    assert after["t1_newone"]["found_by"] == before[f"t1_{ids[0]}"]["found_by"]
    assert len(after) == len(before) + 1
    manifest = json.loads((folder / "versions/v0002/manifest.json").read_text())
    assert manifest["tombstones"] == {"total": 3, "added": 3} and manifest["parent"] == "v0001"
    assert manifest["source"]["kind"] == "refresh" and manifest["stats"]["not_returned"] == 0
    assert validate(folder).valid
    result = diff_versions(folder, "v0001", "v0002", ignore=frozenset({"score"}))
    comments = result.tables["comments"]
    assert comments.added == ["t1_newone"]
    assert sorted(comments.tombstoned) == sorted(f"t1_{c}" for c in (deleted, removed, gone))
    assert list(comments.changed) == [f"t1_{edited}"]


def test_refresh_cli(world: tuple[Path, Forest]) -> None:
    folder, forest = world
    with FakeReddit(forest, quota=10**9) as server:
        env = {
            "SCRAPER_OAUTH_URL": server.url,
            "SCRAPER_REDDIT_URL": server.url,
            "praw_client_id": "fake-client-id",
            "praw_client_secret": "fake-client-secret",
            "praw_user_agent": "python:tests:0 (refresh)",
        }
        result = CliRunner().invoke(main, ["refresh", "--dataset", str(folder), "--json", "--write-unchanged"], env=env)
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["version"] == "v0002" and summary["checked"] == 242 and summary["threads_refetched"] == []


def _rows_without_times(folder: Path, version: str) -> dict[str, list[dict]]:
    out = {}
    for stem in ("submissions", "comments"):
        rows = pq.read_table(folder / "versions" / version / f"{stem}.parquet").to_pylist()
        out[stem] = [{k: v for k, v in r.items() if k != "retrieved_at"} for r in rows]
    return out


def _mutate(forest: Forest) -> None:
    for thread in forest.threads.values():
        ids = sorted(thread.comments)
        thread.comments[ids[3]].update(author="[deleted]", body="[deleted]")
        for n, cid in enumerate(ids[10:40]):
            new = dict(
                thread.comments[cid],
                id=f"{cid}x",
                name=f"t1_{cid}x",
                parent_id=f"t1_{cid}",
                body=f"new {n}",
                created_utc=thread.comments[cid]["created_utc"] + 10**6,
            )
            thread.add_comment(new)
        thread.submission["num_comments"] = len(thread.comments)


def test_refresh_stopped_by_its_budget_resumes_to_the_same_version(tmp_path: Path) -> None:
    def world(name: str) -> tuple[Path, Forest]:
        forest = Forest()
        for n in range(2):
            sub, comments = generate_thread(f"r{n}", 300, seed=n, title=f"Why I quit ML ({n})", deleted_rate=0)
            forest.add_thread(sub, comments)
        folder = write_spec(tmp_path / name / "ds", SPEC)
        with FakeReddit(forest, quota=10**9) as server:
            collect(folder, settings_for(server))
        _mutate(forest)
        return folder, forest

    reference, forest = world("reference")
    with FakeReddit(forest, quota=10**9) as server:
        refresh(reference, settings_for(server))
    stopped, forest = world("stopped")
    from scraper.errors import BudgetExhausted

    with FakeReddit(forest, quota=10**9) as server:
        stops = 0
        while True:
            try:
                refresh(stopped, settings_for(server), max_requests=3)
                break
            except BudgetExhausted:
                stops += 1
        info_calls = server.count("/api/info")
    assert stops >= 3
    assert info_calls == 7  # 602 fullnames, 100 a request: none asked twice across the stops
    assert sorted(p.name for p in (stopped / "versions").iterdir()) == ["v0001", "v0002"]
    assert _rows_without_times(stopped, "v0002") == _rows_without_times(reference, "v0002")
    assert latest_manifest(stopped) == latest_manifest(reference)
    assert not (stopped / ".refresh.json").exists()
