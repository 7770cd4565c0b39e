"""Pseudonyms: stable with one key, different with another, mentions replaced, key never written."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from scraper.cli import main
from scraper.errors import ConfigError, SnapshotError
from scraper.ingest import ingest
from scraper.normalize.pseudonyms import Pseudonymizer
from scraper.publish.tree import publish
from tests.conftest import write_spec

KEY = "first-key-0123456789abcdef"
OTHER = "other-key-0123456789abcdef"
SPEC = """
[dataset]
name = "pseud"
[pseudonymize]
enabled = true
key_env = "PSEUD_KEY"
"""


def tree_json(tmp_path: Path) -> Path:
    sub = {
        "kind": "t3",
        "data": {
            "id": "abc",
            "name": "t3_abc",
            "title": "ask u/alice",
            "selftext": "hi /u/Bob",
            "author": "carol",
            "author_fullname": "t2_carol",
            "subreddit": "s",
            "created_utc": 1.6e9,
            "edited": False,
            "score": 1,
        },
    }
    c1 = {
        "kind": "t1",
        "data": {
            "id": "c1",
            "name": "t1_c1",
            "parent_id": "t3_abc",
            "link_id": "t3_abc",
            "author": "alice",
            "author_fullname": "t2_alice",
            "subreddit": "s",
            "body": "thanks u/carol and u/bob!",
            "created_utc": 1.6e9 + 60,
            "edited": False,
            "score": 2,
            "replies": "",
        },
    }
    path = tmp_path / "tree.json"
    path.write_text(
        json.dumps([{"kind": "Listing", "data": {"children": [sub]}}, {"kind": "Listing", "data": {"children": [c1]}}])
    )
    return path


def rows(folder: Path, version: str = "v0001") -> tuple[dict, dict]:
    base = folder / "versions" / version
    return (
        pq.read_table(base / "submissions.parquet").to_pylist()[0],
        pq.read_table(base / "comments.parquet").to_pylist()[0],
    )


def collect_with(tmp_path: Path, name: str, key: str, monkeypatch: pytest.MonkeyPatch) -> tuple[dict, dict]:
    monkeypatch.setenv("PSEUD_KEY", key)
    folder = write_spec(tmp_path / name, SPEC)
    ingest(folder, [tree_json(tmp_path)])
    return rows(folder)


def test_authors_ids_and_mentions_are_replaced_consistently(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sub, com = collect_with(tmp_path, "a", KEY, monkeypatch)
    p = Pseudonymizer(KEY.encode())
    assert sub["author"] == p.name("carol") and sub["author_fullname"] == p.account("t2_carol")
    assert com["author"] == p.name("alice") and com["author"].startswith("u_") and len(com["author"]) == 18
    assert sub["title"] == f"ask u/{p.name('alice')}" and sub["selftext"] == f"hi /u/{p.name('bob')}"
    assert com["body"] == f"thanks u/{sub['author']} and u/{p.name('bob')}!"
    assert "alice" not in json.dumps([sub, com], default=str) and "carol" not in json.dumps([sub, com], default=str)


def test_stable_across_runs_with_one_key_and_different_with_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = collect_with(tmp_path, "a", KEY, monkeypatch)
    again = collect_with(tmp_path, "b", KEY, monkeypatch)
    other = collect_with(tmp_path, "c", OTHER, monkeypatch)
    assert first[1]["author"] == again[1]["author"] and first[1]["body"] == again[1]["body"]
    assert other[1]["author"] != first[1]["author"]


def test_manifest_says_how_never_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    collect_with(tmp_path, "a", KEY, monkeypatch)
    folder = tmp_path / "a"
    manifest = json.loads((folder / "versions/v0001/manifest.json").read_text())
    entry = manifest["pseudonymization"]
    assert entry["pseudonymized"] is True and "HMAC-SHA256" in entry["method"]
    assert entry["key_fingerprint"] == Pseudonymizer(KEY.encode()).fingerprint
    for path in folder.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes()


def test_missing_key_stops_before_anything_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PSEUD_KEY", raising=False)
    folder = write_spec(tmp_path / "a", SPEC)
    with pytest.raises(ConfigError, match="no key was found"):
        ingest(folder, [tree_json(tmp_path)])
    assert sorted(p.name for p in folder.iterdir()) == ["dataset.toml"]
    result = CliRunner().invoke(main, ["collect", "--dataset", str(folder)])
    assert result.exit_code == 2 and "PSEUD_KEY" in result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["dataset.toml"]


def test_wrong_key_stops_before_anything_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    collect_with(tmp_path, "a", KEY, monkeypatch)
    monkeypatch.setenv("PSEUD_KEY", OTHER)
    with pytest.raises(ConfigError, match="key differs"):
        ingest(tmp_path / "a", [tree_json(tmp_path)])
    assert [p.name for p in (tmp_path / "a" / "versions").iterdir()] == ["v0001"]


def test_key_file_inside_the_dataset_is_refused(tmp_path: Path) -> None:
    folder = write_spec(tmp_path / "a", SPEC.replace('key_env = "PSEUD_KEY"', f'key_file = "{tmp_path}/a/key"'))
    (folder / "key").write_text(KEY)
    with pytest.raises(ConfigError, match="inside the dataset folder"):
        ingest(folder, [tree_json(tmp_path)])


def test_publish_wants_pseudonyms_unless_told(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    collect_with(tmp_path, "a", KEY, monkeypatch)
    assert publish(tmp_path / "a", tmp_path / "pub-a")["copied"] == ["v0001"]
    plain = tmp_path / "plain"
    ingest(plain, [tree_json(tmp_path)])
    with pytest.raises(SnapshotError, match="--identifiable"):
        publish(plain, tmp_path / "pub-plain")
    assert publish(plain, tmp_path / "pub-plain", allow_identifiable=True)["copied"] == ["v0001"]
