"""Conformance: every real recorded response in ../shared/reddit/samples normalizes correctly.

The oracle is the raw JSON itself, walked independently of the code under test,
and the per-file ``stats`` computed when the samples were extracted.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from scraper.errors import InputError
from scraper.ingest import ingest
from tests.conftest import SAMPLES

SAMPLE_NAMES = sorted(p.name for p in SAMPLES.glob("*.json")) if SAMPLES.is_dir() else []
ERRORS_AND_TOKENS = {
    "error_404_json_reason.json",
    "error_429_html_retry_after.json",
    "token_client_credentials_scoped_2021.json",
    "token_invalid_grant_200.json",
}


def walk(value: Any, kind: str) -> list[dict[str, Any]]:
    """Every thing of ``kind`` anywhere in a JSON value."""
    found = []
    if isinstance(value, dict):
        if value.get("kind") == kind and isinstance(value.get("data"), dict):
            found.append(value["data"])
        for item in value.values():
            found.extend(walk(item, kind))
    elif isinstance(value, list):
        for item in value:
            found.extend(walk(item, kind))
    return found


def ingest_one(
    tmp_path: Path, samples: Path, name: str
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    manifest = ingest(tmp_path / "ds", [samples / name])
    folder = tmp_path / "ds" / "versions" / manifest["version"]
    comments = pq.read_table(folder / "comments.parquet").to_pylist()
    submissions = pq.read_table(folder / "submissions.parquet").to_pylist()
    return manifest, submissions, comments


@pytest.mark.skipif(not SAMPLE_NAMES, reason="../shared/reddit/samples is not present")
@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_normalizes(tmp_path: Path, samples: Path, name: str) -> None:
    doc = json.loads((samples / name).read_text(encoding="utf-8"))
    stats = doc["stats"]
    body = doc["response"].get("json")
    raw_t1 = walk(body, "t1")
    raw_t3 = walk(body, "t3")
    if name in ERRORS_AND_TOKENS or not (raw_t1 or raw_t3):
        # nothing usable: exit 1, no version, and the reason counted in the message
        with pytest.raises(InputError, match="nothing usable in the input"):
            ingest(tmp_path / "ds", [samples / name])
        assert not (tmp_path / "ds" / "versions").exists()
        return
    _, submissions, comments = ingest_one(tmp_path, samples, name)

    # ids and parents: one row per raw thing, with Reddit's own links
    assert len(comments) == len({d["id"] for d in raw_t1}) == stats.get("t1", 0)
    assert len(submissions) == len({d["id"] for d in raw_t3})
    by_name = {row["name"]: row for row in comments}
    for data in raw_t1:
        row = by_name[f"t1_{data['id']}"]
        assert row["id"] == data["id"]
        assert row["parent_id"] == data["parent_id"]
        assert row["link_id"] == data["link_id"]
        assert row["created_utc"] == datetime.fromtimestamp(data["created_utc"], tz=UTC)
        # tombstones keep no text (WIRE-FORMAT §7 markers, and the deletion policy)
        assert row["body"] == (data["body"] if row["status"] == "visible" else "")
    for data in raw_t3:
        row = next(r for r in submissions if r["id"] == data["id"])
        assert row["title"] == (data["title"] if row["status"] == "visible" else "")
        assert row["created_utc"] == datetime.fromtimestamp(data["created_utc"], tz=UTC)

    # statuses from the markers
    status = Counter(row["status"] for row in comments)
    assert status["deleted"] == stats.get("body_deleted", 0)
    assert status["removed"] == stats.get("body_removed", 0)
    assert status["account_deleted"] == stats.get("author_deleted", 0) - status["deleted"] - status["removed"]
    assert sum(row["edited"] is not None for row in comments) == stats.get("edited", 0)

    # depth: from the chain in whole trees; absolute in morechildren; unknown where the chain is cut
    depths = [row["depth"] for row in comments if row["depth"] is not None]
    if name.startswith("comments_") and "_/" not in doc["request"]["url"]:
        assert max(depths) == stats["maxdepth"]
        assert all(row["depth"] is not None for row in comments)
    if name.startswith("morechildren_") and comments:
        assert max(depths) == stats["maxdepth"]
        assert {row["depth"] for row in comments} == {d["depth"] for d in raw_t1}
    for row in comments:  # wherever a depth is given, it agrees with the parent's
        parent = by_name.get(row["parent_id"])
        if row["parent_id"].startswith("t3_"):
            assert row["depth"] == 0
        elif parent is not None and parent["depth"] is not None:
            assert row["depth"] == parent["depth"] + 1


def test_continue_target_keeps_relative_depth_out(tmp_path: Path, samples: Path) -> None:
    # The /_/{comment} form restarts depth at 0 at a comment whose parent is not in the answer.
    _, _, comments = ingest_one(tmp_path, samples, "comments_3hahrw_2020_continue_thread_target_cu5v5h7.json")
    root = next(r for r in comments if r["id"] == "cu5v5h7")
    assert root["parent_id"].startswith("t1_") and root["depth"] is None
    assert root["status"] == "deleted" and root["edited"] is not None


def test_deleted_parent_with_replies_is_kept(tmp_path: Path, samples: Path) -> None:
    _, _, comments = ingest_one(tmp_path, samples, "comments_gx8r8z_2020_deleted_removed_stickied.json")
    by_id = {r["id"]: r for r in comments}
    assert by_id["fwxxs5d"]["status"] == "deleted"
    assert any(r["parent_id"] == "t1_fwxxs5d" for r in comments)
    assert by_id["fx1jgsp"]["status"] == "removed"
    stickied = [r for r in comments if r["stickied"]]
    assert stickied and stickied[0]["distinguished"] == "moderator"


def test_account_deleted_text_kept(tmp_path: Path, samples: Path) -> None:
    _, _, comments = ingest_one(tmp_path, samples, "comments_98vj9e_2020_context_sort_new_limit4.json")
    row = next(r for r in comments if r["id"] == "e7q58bn")
    assert row["status"] == "account_deleted" and row["author"] is None
    assert row["body"] == "" and row["permalink"] == "/r/redditdev/comments/98vj9e/_/e7q58bn/"  # a tombstone


def test_search_sample_labels_its_query(tmp_path: Path, samples: Path) -> None:
    _, submissions, _ = ingest_one(tmp_path, samples, "search_r_all_2020.json")
    assert len(submissions) == 31
    assert all("search:r/all:praw oauth search" in row["found_by"] for row in submissions)
    assert sum(row["edited"] is not None for row in submissions) == 13


def test_all_samples_in_one_version(tmp_path: Path, samples: Path) -> None:
    manifest = ingest(tmp_path / "all", sorted(samples.glob("*.json")))
    assert manifest["stats"]["quarantined"] == 0
    assert manifest["files"]["comments.parquet"]["rows"] == manifest["stats"]["comments"] > 200
