"""Ingest: merge into the latest version, --replace, what is not kept is counted, bad input is one line.

Also: values Parquet cannot store (lone UTF-16 surrogates) in any string field are
repaired to U+FFFD and counted, and the version is written (issue 10, item 1).
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.cli import main
from scraper.errors import InputError
from scraper.ingest import ingest
from tests.conftest import examples

STRING_FIELDS_T1 = ["author", "author_fullname", "author_flair_text", "subreddit", "subreddit_id", "permalink", "body"]
STRING_FIELDS_T3 = ["title", "selftext", "url", "domain", "link_flair_text", "author", "subreddit"]


def t1(cid: str, parent: str, link: str = "aaa", **extra: Any) -> dict[str, Any]:
    data = {
        "id": cid,
        "name": f"t1_{cid}",
        "parent_id": parent,
        "link_id": f"t3_{link}",
        "author": "alice",
        "author_fullname": "t2_alice",
        "body": f"body {cid}",
        "subreddit": "sub",
        "subreddit_id": "t5_x",
        "permalink": f"/r/sub/comments/{link}/x/{cid}/",
        "created_utc": 1593984652.0,
        "edited": False,
        "score": 3,
        "depth": 0,
        "replies": "",
    }
    data.update(extra)
    return {"kind": "t1", "data": data}


def t3(link: str = "aaa", **extra: Any) -> dict[str, Any]:
    data = {
        "id": link,
        "name": f"t3_{link}",
        "title": "a title",
        "selftext": "text",
        "author": "op",
        "subreddit": "sub",
        "created_utc": 1594424685.0,
        "num_comments": 2,
    }
    data.update(extra)
    return {"kind": "t3", "data": data}


def tree(link: str, comments: list[dict[str, Any]], **sub: Any) -> list[Any]:
    return [
        {"kind": "Listing", "data": {"children": [t3(link, **sub)]}},
        {"kind": "Listing", "data": {"children": comments}},
    ]


def sample_file(folder: Path, name: str, body: Any, date: str = "Tue, 01 Dec 2026 12:00:00 GMT") -> Path:
    doc = {
        "request": {"method": "GET", "url": f"https://oauth.reddit.com/comments/{name}/"},
        "response": {"status": 200, "headers": {"date": date}, "json": body},
    }
    path = folder / f"{name}.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def rows(folder: Path, version: str, stem: str) -> list[dict[str, Any]]:
    return pq.read_table(folder / "versions" / version / f"{stem}.parquet").to_pylist()


def test_a_second_ingest_adds_to_the_latest_version_and_replace_starts_afresh(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    a = sample_file(tmp_path, "aaa", tree("aaa", [t1("a1", "t3_aaa"), t1("a2", "t1_a1", depth=1)]))
    b = sample_file(tmp_path, "bbb", tree("bbb", [t1("b1", "t3_bbb", link="bbb")]))
    assert ingest(folder, [a])["version"] == "v0001"
    second = ingest(folder, [b])
    assert second["parent"] == "v0001" and second["source"]["mode"] == "merge"
    names = {r["name"] for r in rows(folder, "v0002", "comments")}
    assert names == {"t1_a1", "t1_a2", "t1_b1"}
    assert {r["name"] for r in rows(folder, "v0002", "submissions")} == {"t3_aaa", "t3_bbb"}
    by_name = {r["name"]: r for r in rows(folder, "v0002", "comments")}
    assert by_name["t1_a2"]["depth"] == 1 and by_name["t1_a1"]["found_by"] == ["file:aaa.json"]
    third = ingest(folder, [b], replace=True)
    assert third["source"]["mode"] == "replace"
    assert {r["name"] for r in rows(folder, third["version"], "comments")} == {"t1_b1"}


def test_the_newest_sighting_wins_and_provenance_is_kept(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    old = sample_file(tmp_path, "aaa", tree("aaa", [t1("a1", "t3_aaa", score=1)]))
    ingest(folder, [old])
    newer = tmp_path / "newer"
    newer.mkdir()
    new = sample_file(newer, "aaa", tree("aaa", [t1("a1", "t3_aaa", score=9)]), date="Wed, 02 Dec 2026 12:00:00 GMT")
    os.rename(new, newer / "again.json")
    ingest(folder, [newer / "again.json"])
    (row,) = rows(folder, "v0002", "comments")
    assert row["score"] == 9 and row["found_by"] == ["file:aaa.json", "file:again.json"]
    older = sample_file(
        tmp_path, "bbb", tree("aaa", [t1("a1", "t3_aaa", score=5)]), date="Mon, 30 Nov 2026 12:00:00 GMT"
    )
    with pytest.raises(InputError, match="nothing newer than v0002"):  # an older sighting replaces nothing
        ingest(folder, [older])
    assert [r["score"] for r in rows(folder, "v0002", "comments")] == [9]


def test_a_newer_sighting_the_models_refuse_keeps_the_things_good_row_and_is_quarantined(tmp_path: Path) -> None:
    """adversarial review 4 F4: the newest sighting that fits wins; a refused newer one goes to quarantine only."""
    folder = tmp_path / "ds"
    good = [t1("abc", "t3_aaa", score=5, body="original"), t1("def", "t3_aaa")]
    old = sample_file(tmp_path, "aaa", tree("aaa", good))
    ingest(folder, [old])
    newer = tmp_path / "newer"
    newer.mkdir()
    day2 = "Wed, 02 Dec 2026 12:00:00 GMT"
    bad = tree("aaa", [t1("abc", "t3_aaa", score="lots", body="edited"), t1("def", "t3_aaa"), t1("ghi", "t1_abc")])
    second = ingest(folder, [sample_file(newer, "aaa", bad, date=day2)])
    assert second["version"] == "v0002" and second["stats"]["quarantined"] == 1
    by_name = {r["name"]: r for r in rows(folder, "v0002", "comments")}
    assert set(by_name) == {"t1_abc", "t1_def", "t1_ghi"}
    assert by_name["t1_abc"]["body"] == "original" and by_name["t1_abc"]["score"] == 5
    assert by_name["t1_ghi"]["depth"] == 1  # its parent's row is held: the depth pass agrees on the winner
    (line,) = (folder / "quarantine" / "v0002.jsonl").read_text(encoding="utf-8").splitlines()
    entry = json.loads(line)
    assert entry["name"] == "t1_abc" and entry["field"] == "score" and entry["raw"]["body"] == "edited"
    # within one input too: an older good sighting and a newer refused one of a thing never seen before
    fresh = tmp_path / "fresh"
    first = sample_file(tmp_path, "one", tree("bbb", [t1("b1", "t3_bbb", link="bbb", score=7)]))
    later = sample_file(newer, "two", tree("bbb", [t1("b1", "t3_bbb", link="bbb", score="x")]), date=day2)
    manifest = ingest(fresh, [first, later])
    assert [r["score"] for r in rows(fresh, manifest["version"], "comments")] == [7]
    assert manifest["stats"]["quarantined"] == 1


def test_comments_whose_submission_is_missing_are_counted_when_a_spec_filters(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "dataset.toml").write_text(
        '[dataset]\nname = "x"\n[discovery]\nsubreddits = ["sub"]\nqueries = ["a"]\n', encoding="utf-8"
    )
    orphans = [t1("o1", "t3_zzz", link="zzz"), t1("o2", "t3_zzz", link="zzz")]
    listing = {"kind": "Listing", "data": {"children": orphans}}
    files = [sample_file(tmp_path, "aaa", tree("aaa", [t1("a1", "t3_aaa")])), sample_file(tmp_path, "info", listing)]
    manifest = ingest(folder, files)
    assert manifest["stats"]["comments"] == 1
    assert manifest["stats"]["not_kept"]["comments whose submission is not in the input"] == 2


def test_nothing_usable_writes_no_version_and_says_why(tmp_path: Path) -> None:
    token = tmp_path / "token.json"
    token.write_text(
        json.dumps(
            {
                "request": {"method": "POST", "url": "https://www.reddit.com/api/v1/access_token"},
                "response": {"status": 200, "json": {"access_token": "<ACCESS_TOKEN>"}},
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="nothing usable"):
        ingest(tmp_path / "ds", [token])
    assert not (tmp_path / "ds" / "versions").exists()


def _deep(tmp: Path) -> Path:
    path = tmp / "deep.json"
    path.write_text("[" * 10_000 + "]" * 10_000, encoding="utf-8")
    return path


def _deep_object(tmp: Path) -> Path:
    path = tmp / "deep-object.json"
    path.write_text('{"a":' * 10_000 + "1" + "}" * 10_000, encoding="utf-8")
    return path


def _cassette(tmp: Path) -> Path:
    path = tmp / "cassette.json"
    interactions = [
        5,
        {"request": 3, "response": []},
        {"request": {"uri": 5, "method": []}, "response": {"status": "x", "headers": 7, "body": 7}},
        {"request": {"uri": "https://oauth.reddit.com/comments/x/"}, "response": {"status": {"code": "200"}}},
    ]
    path.write_text(json.dumps({"interactions": interactions}), encoding="utf-8")
    return path


def _sample_wrong_types(tmp: Path) -> Path:
    path = tmp / "interaction.json"
    path.write_text(json.dumps({"request": {"url": 5, "query": 3}, "response": {"status": [], "json": 7}}))
    return path


def _archive_not_objects(tmp: Path) -> Path:
    path = tmp / "raw.jsonl.gz"
    with path.open("wb") as handle:
        for line in (b"[1, 2]\n", b'"text"\n', b"17\n", b"null\n"):
            handle.write(gzip.compress(line))
    return path


def _not_gzip(tmp: Path) -> Path:
    path = tmp / "plain.jsonl.gz"
    path.write_text('{"url": "x"}\n', encoding="utf-8")
    return path


def _gzip_garbage(tmp: Path) -> Path:
    path = tmp / "garbage.jsonl.gz"
    path.write_bytes(gzip.compress(os.urandom(4096)))
    return path


def _empty(tmp: Path) -> Path:
    path = tmp / "empty.json"
    path.write_bytes(b"")
    return path


def _empty_archive(tmp: Path) -> Path:
    path = tmp / "empty.jsonl.gz"
    path.write_bytes(b"")
    return path


def _symlink_loop(tmp: Path) -> Path:
    path = tmp / "loop.json"
    os.symlink(tmp / "loop2.json", path)
    os.symlink(path, tmp / "loop2.json")
    return path


def _not_utf8(tmp: Path) -> Path:
    path = tmp / "latin1.json"
    path.write_bytes(b'{"kind": "Listing", "data": {"children": [\xff]}}')
    return path


def _folder(tmp: Path) -> Path:
    path = tmp / "a-folder"
    path.mkdir()
    return path


BAD_INPUTS = [
    _deep,
    _deep_object,
    _cassette,
    _sample_wrong_types,
    _archive_not_objects,
    _not_gzip,
    _gzip_garbage,
    _empty,
    _empty_archive,
    _symlink_loop,
    _not_utf8,
    _folder,
]


@pytest.mark.parametrize("make", BAD_INPUTS, ids=[f.__name__.strip("_") for f in BAD_INPUTS])
def test_bad_input_is_one_line_exit_1_and_no_version(tmp_path: Path, make: Any) -> None:
    bad = make(tmp_path)
    result = CliRunner().invoke(main, ["ingest", str(tmp_path / "ds"), str(bad)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error:")
    assert not (tmp_path / "ds" / "versions").exists()


def test_a_bad_file_beside_a_good_one_stops_before_anything_is_written(tmp_path: Path) -> None:
    good = sample_file(tmp_path, "aaa", tree("aaa", [t1("a1", "t3_aaa")]))
    result = CliRunner().invoke(main, ["ingest", str(tmp_path / "ds"), str(good), str(_deep(tmp_path))])
    assert result.exit_code == 1 and "deep.json" in result.stderr
    assert not (tmp_path / "ds" / "versions").exists()


@settings(max_examples=examples(10), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(["t1", "t3"]),
    field=st.data(),
    surrogate=st.integers(0xD800, 0xDFFF),
    text=st.text(max_size=5),
)
def test_lone_surrogates_in_any_string_field_are_repaired_and_counted(
    tmp_path_factory: pytest.TempPathFactory, kind: str, field: Any, surrogate: int, text: str
) -> None:
    tmp = tmp_path_factory.mktemp("surrogate")
    name = field.draw(st.sampled_from(STRING_FIELDS_T1 if kind == "t1" else STRING_FIELDS_T3))
    bad = text + chr(surrogate) + text
    comment = t1("a1", "t3_aaa", **({name: bad} if kind == "t1" else {}))
    body = tree("aaa", [comment], **({name: bad} if kind == "t3" else {}))
    path = tmp / "tree.json"
    path.write_text(json.dumps({"request": {"url": "https://x/comments/aaa/"}, "response": {"json": body}}))
    manifest = ingest(tmp / "ds", [path])
    assert manifest["stats"]["repaired"] == {name: 1}
    stem = "comments" if kind == "t1" else "submissions"
    (row,) = rows(tmp / "ds", manifest["version"], stem)
    expected = text + "\ufffd" + text
    if row["status"] == "visible":
        assert row[name] == (None if name == "author" and expected == "[deleted]" else expected)


def test_a_surrogate_in_a_quarantined_thing_is_kept_escaped(tmp_path: Path) -> None:
    body = tree("aaa", [t1("a1", "t3_aaa", score="many", body="x\ud83d")])
    path = tmp_path / "tree.json"
    path.write_text(json.dumps({"request": {"url": "https://x/comments/aaa/"}, "response": {"json": body}}))
    manifest = ingest(tmp_path / "ds", [path])
    assert manifest["stats"]["quarantined"] == 1
    line = (tmp_path / "ds" / "quarantine" / f"{manifest['version']}.jsonl").read_text(encoding="utf-8")
    entry = json.loads(line)
    assert entry["field"] == "score" and entry["raw"]["body"] == "x\ud83d"  # exact, as \u escapes


def test_the_base_version_is_read_from_the_files_its_manifest_maps(tmp_path: Path) -> None:
    """A version whose tables are in files of other names (a downloaded copy may be): merged all the same."""
    folder = tmp_path / "ds"
    a = sample_file(tmp_path, "aaa", tree("aaa", [t1("a1", "t3_aaa"), t1("a2", "t1_a1", depth=1)]))
    b = sample_file(tmp_path, "bbb", tree("bbb", [t1("b1", "t3_bbb", link="bbb")]))
    ingest(folder, [a])
    vdir = folder / "versions" / "v0001"
    manifest = json.loads((vdir / "manifest.json").read_text(encoding="utf-8"))
    for stem in ("submissions", "comments"):
        (vdir / f"{stem}.parquet").rename(vdir / f"{stem}-2026.parquet")
        manifest["files"][f"{stem}-2026.parquet"] = manifest["files"].pop(f"{stem}.parquet")
    (vdir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (folder / "index.json").unlink()  # rebuilt from the manifests
    second = ingest(folder, [b])
    assert {r["name"] for r in rows(folder, second["version"], "comments")} == {"t1_a1", "t1_a2", "t1_b1"}
    assert second["tombstones"]["added"] == 0
