"""Replay recorded collection runs with vcrpy (pytest-recording, ``record_mode="none"``).

The cassettes come from ``tests/record_cassettes.py``; each test asserts that
its cassette played back whole, and a test fails on a cassette no test uses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from scraper.collect.run import collect
from scraper.sources.reddit import RedditSettings
from tests.cassette_setup import vcr_kwargs
from tests.conftest import write_spec

CASSETTES = Path(__file__).resolve().parent / "cassettes"
CLIENT = "<CLIENT_ID>"
CLIENT_SECRET = "<CLIENT_SECRET>"
CASSETTE_SPECS = {
    "test_replay_collect_seed_and_search": """
[dataset]
name = "replay"
[discovery]
subreddits = ["MachineLearning"]
queries = ['"quit machine learning"']
seeds = ["11ryvao"]
""",
    "test_replay_collect_with_problems": """
[dataset]
name = "replay-problems"
[discovery]
subreddits = ["secretsub", "nosuchsub"]
queries = ["machine learning"]
seeds = ["11ryvao", "zzzzzz"]
""",
}


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {"record_mode": "none", **vcr_kwargs()}


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES)


def replay_settings() -> RedditSettings:
    # Reddit's default endpoints: the cassette answers, nothing leaves the machine.
    return RedditSettings(client_id=CLIENT, client_secret=CLIENT_SECRET, user_agent="python:cassettes:0 (replay)")


@pytest.mark.vcr
def test_replay_collect_seed_and_search(tmp_path: Path, vcr: Any) -> None:
    folder = write_spec(tmp_path / "ds", CASSETTE_SPECS["test_replay_collect_seed_and_search"])
    report = collect(folder, replay_settings())
    assert vcr.all_played and vcr.play_count == len(vcr)
    assert report.problems == []
    comments = pq.read_table(folder / "versions" / "v0001" / "comments.parquet").to_pylist()
    assert len(comments) == 20
    assert {c["status"] for c in comments} == {"visible", "deleted", "removed"}
    assert report.requests["morechildren"] >= 2


@pytest.mark.vcr
def test_replay_collect_with_problems(tmp_path: Path, vcr: Any) -> None:
    folder = write_spec(tmp_path / "ds", CASSETTE_SPECS["test_replay_collect_with_problems"])
    report = collect(folder, replay_settings())
    assert vcr.all_played
    assert len(report.problems) == 3
    submissions = pq.read_table(folder / "versions" / "v0001" / "submissions.parquet").to_pylist()
    assert [s["id"] for s in submissions] == ["11ryvao"]


def test_cassettes_hold_no_secrets_and_reddit_hosts_only() -> None:
    for path in sorted(CASSETTES.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        for interaction in doc["interactions"]:
            request, response = interaction["request"], interaction["response"]
            assert request["uri"].startswith(("https://oauth.reddit.com/", "https://www.reddit.com/"))
            for value in request["headers"].get("Authorization", []):
                assert value == "<AUTHORIZATION>"
            body = response["body"]["string"]
            if "access_token" in request["uri"]:
                assert json.loads(body)["access_token"] == "<ACCESS_TOKEN>"


def test_every_cassette_is_used_by_a_test() -> None:
    names = {p.stem for p in CASSETTES.glob("*.json")}
    assert names == set(CASSETTE_SPECS)
    assert all(name in globals() for name in names)
