"""A rerun or refresh that finds nothing new writes no version (issue 14), unless asked to."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from scraper.cli import main
from scraper.collect.refresh import refresh
from scraper.collect.run import RUN_STATE, collect
from scraper.fake_reddit import FakeReddit, Forest
from scraper.fake_reddit.generate import generate_thread
from scraper.store.snapshot import Dataset
from tests.conftest import settings_for, write_spec

SPEC = """
[dataset]
name = "nochange"
[discovery]
subreddits = ["MachineLearning"]
queries = ["quit"]
"""


@pytest.fixture
def forest() -> Forest:
    forest = Forest()
    sub, comments = generate_thread("nc0", 25, seed=3, title="Why I quit ML", deleted_rate=0)
    forest.add_thread(sub, comments)
    return forest


def _env(server: FakeReddit) -> dict[str, str]:
    return {
        "SCRAPER_OAUTH_URL": server.url,
        "SCRAPER_REDDIT_URL": server.url,
        "praw_client_id": "fake-client-id",
        "praw_client_secret": "fake-client-secret",
        "praw_user_agent": "python:tests:0 (no change)",
    }


def _cli(server: FakeReddit, *args: str) -> tuple[int, str, dict]:
    summary = Path(args[1]).parent / "summary.json"
    result = CliRunner().invoke(main, [*args, "--summary", str(summary)], env=_env(server))
    return result.exit_code, result.stderr, json.loads(summary.read_text(encoding="utf-8"))


def test_collect_again_without_change_writes_nothing_until_the_data_changes(tmp_path: Path, forest: Forest) -> None:
    folder = write_spec(tmp_path / "ds", SPEC)
    with FakeReddit(forest, quota=10**9) as server:
        code, _, summary = _cli(server, "collect", str(folder))
        assert (code, summary["version"], summary["version_written"]) == (0, "v0001", True)
        code, stderr, summary = _cli(server, "collect", str(folder))
    assert code == 0, stderr
    assert "no change since v0001; nothing written" in stderr
    assert summary["version"] is None and summary["version_written"] is False
    assert summary["unchanged_since"] == "v0001" and summary["exit_code"] == 0
    assert Dataset(folder).versions() == ["v0001"]
    assert not (folder / RUN_STATE).exists() and not any((folder / ".staging").glob("*"))
    assert not (folder / "quarantine").exists()
    # the next run starts afresh: an edit served by Reddit is a change
    thread = forest.threads["nc0"]
    cid = sorted(thread.comments)[2]
    thread.comments[cid].update(body="edited later", edited=thread.comments[cid]["created_utc"] + 60)
    with FakeReddit(forest, quota=10**9) as server:
        report = collect(folder, settings_for(server))
        assert report.version == "v0002" and report.unchanged_since is None
        again = collect(folder, settings_for(server))
        assert again.version is None and again.unchanged_since == "v0002"
        code, stderr, summary = _cli(server, "collect", str(folder), "--write-unchanged")
    assert (code, summary["version"], summary["version_written"]) == (0, "v0003", True), stderr
    assert Dataset(folder).versions() == ["v0001", "v0002", "v0003"]
    # five runs of one process, most within one second: each its own raw archive, none reading another's
    assert len(list((folder / "raw").glob("*.jsonl.gz"))) == 5


def test_refresh_without_change_writes_nothing_unless_asked(tmp_path: Path, forest: Forest) -> None:
    folder = write_spec(tmp_path / "ds", SPEC)
    with FakeReddit(forest, quota=10**9) as server:
        collect(folder, settings_for(server))
        report = refresh(folder, settings_for(server))
        assert report.version is None and report.unchanged_since == "v0001" and report.checked == 26
        assert Dataset(folder).versions() == ["v0001"] and not (folder / ".refresh.json").exists()
        code, stderr, summary = _cli(server, "refresh", str(folder))
        assert code == 0 and "no change since v0001; nothing written" in stderr
        assert summary["version_written"] is False and Dataset(folder).versions() == ["v0001"]
        forest.threads["nc0"].submission["score"] += 5  # a score moved: a change
        assert refresh(folder, settings_for(server)).version == "v0002"
        code, _, summary = _cli(server, "refresh", str(folder), "--write-unchanged")
    assert (code, summary["version"]) == (0, "v0003")
    assert Dataset(folder).versions() == ["v0001", "v0002", "v0003"]
