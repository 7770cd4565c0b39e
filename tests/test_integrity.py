"""What is stored stays true: one run one version, purges stay purged, refresh counts from the archive."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from scraper.collect.refresh import REFRESH_STATE, refresh
from scraper.collect.run import RUN_STATE, collect
from scraper.errors import IntegrityError
from scraper.fake_reddit import FakeReddit, Forest
from scraper.fake_reddit.generate import generate_thread
from scraper.ingest import ingest
from scraper.publish.validate import validate
from scraper.store.purge import PURGES_FILE, purge, purged_fullnames
from scraper.store.snapshot import Dataset
from tests.conftest import settings_for, write_spec
from tests.test_purge import every_byte

SECRET = "PLEASE-REMOVE-my-words-4242"
SECRET_TITLE = "PRIVATE-thread-title-9191"
SPEC = """
[dataset]
name = "integrity"
[discovery]
subreddits = ["MachineLearning"]
queries = ["quit"]
"""


def world(tmp_path: Path) -> tuple[Forest, Path, str, str]:
    """Two threads; a comment of the first and the whole second submission hold secrets."""
    forest = Forest()
    sub, comments = generate_thread("p0", 60, seed=4, title="I quit ML", deleted_rate=0)
    target = [c for c in comments if c["parent_id"] == sub["name"]][1]  # in the first page of the tree
    target["body"] = f"some text {SECRET} more text"
    forest.add_thread(sub, comments)
    sub2, comments2 = generate_thread("p1", 20, seed=5, title=f"I quit ML {SECRET_TITLE}", deleted_rate=0)
    sub2["selftext"] = f"{SECRET_TITLE} body"
    forest.add_thread(sub2, comments2)
    return forest, write_spec(tmp_path / "ds", SPEC), target["name"], sub2["name"]


def rows(folder: Path, version: str, stem: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in pq.read_table(folder / "versions" / version / f"{stem}.parquet").to_pylist()}


# -- purges stay purged -----------------------------------------------------------------
def test_a_purge_stays_purged_through_refresh_rebuild_and_recollect(tmp_path: Path) -> None:
    forest, folder, comment, submission = world(tmp_path)
    with FakeReddit(forest, quota=10**9) as server:
        collect(folder, settings_for(server))
        assert SECRET.encode() in every_byte(folder) and SECRET_TITLE.encode() in every_byte(folder)
        purge(folder, [comment, submission])
        assert SECRET.encode() not in every_byte(folder)
        # Reddit still shows both items; the thread moved, so refresh fetches its tree again
        forest.threads["p0"].submission["num_comments"] += 1
        refresh(folder, settings_for(server))
        assert every_byte(folder).count(SECRET.encode()) == 0
        ingest(folder, sorted((folder / "raw").glob("*.jsonl.gz")), write_unchanged=True)  # rebuild from the archive
        # a new run: everything asked again (it finds what v0003 holds: written only when asked)
        collect(folder, settings_for(server), write_unchanged=True)
    data = every_byte(folder)
    assert SECRET.encode() not in data and SECRET_TITLE.encode() not in data
    versions = Dataset(folder).versions()
    assert versions == ["v0001", "v0002", "v0003", "v0004"]
    for version in versions:
        com = rows(folder, version, "comments")[comment]
        sub = rows(folder, version, "submissions")[submission]
        assert (com["status"], com["body"], com["author"]) == ("purged", "", None), version
        assert (sub["status"], sub["title"], sub["selftext"], sub["author"]) == ("purged", "", "", None), version
        assert Dataset(folder).manifest(version)["stats"]["status"]["purged"] == 2
        # everything else of the thread is still there
        assert len(rows(folder, version, "comments")) == 80
    report = validate(folder)
    assert report.valid, [c for c in report.checks if c.status == "fail"]


def test_ingest_of_saved_responses_applies_the_purge_list(tmp_path: Path) -> None:
    forest, folder, comment, _ = world(tmp_path)
    with FakeReddit(forest, quota=10**9) as server:
        collect(folder, settings_for(server))
    purge(folder, [comment])
    # the thread as a researcher recorded it from Reddit after the collect, before the purge (dated, so it
    # is newer than the collect: a plain body is dated by what it shows and would replace nothing)
    saved = tmp_path / "tree.json"
    date = format_datetime(datetime.now(UTC) + timedelta(minutes=1), usegmt=True)
    response = {"status": 200, "headers": {"date": date}, "json": forest.tree("p0", limit=500, sort="confidence")}
    request = {"method": "GET", "url": "https://oauth.reddit.com/comments/p0/?raw_json=1"}
    saved.write_text(json.dumps({"request": request, "response": response}))
    ingest(folder, [saved])
    assert SECRET.encode() not in every_byte(folder)
    assert rows(folder, "v0002", "comments")[comment]["status"] == "purged"


def test_a_damaged_purge_log_stops_the_writer_instead_of_forgetting(tmp_path: Path) -> None:
    forest, folder, comment, _ = world(tmp_path)
    with FakeReddit(forest, quota=10**9) as server:
        collect(folder, settings_for(server))
        purge(folder, [comment])
        assert purged_fullnames(folder) == frozenset({comment})
        log = folder / PURGES_FILE
        log.write_text(log.read_text() + '{"at": "x", "fullnames": ["t1_ok", 3]}\n')
        with pytest.raises(IntegrityError, match=r"purges.jsonl line 2"):
            refresh(folder, settings_for(server))
    assert Dataset(folder).versions() == ["v0001"]


def test_purging_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    forest, folder, comment, _ = world(tmp_path)
    with FakeReddit(forest, quota=10**9) as server:
        collect(folder, settings_for(server))
    first = purge(folder, [comment])
    snapshot = {p: p.read_bytes() for p in (folder / "versions").rglob("*") if p.is_file()}
    second = purge(folder, [comment])
    assert first["rows"] == {"v0001": 1} and second["rows"] == {"v0001": 0}
    assert sum(second["raw_things"].values()) == 0
    assert {p: p.read_bytes() for p in (folder / "versions").rglob("*") if p.is_file()} == snapshot
    assert [e["fullnames"] for e in map(json.loads, (folder / PURGES_FILE).read_text().splitlines())] == [
        [comment],
        [comment],
    ]


# -- one run, one version -----------------------------------------------------------------
def test_a_run_killed_after_its_version_was_placed_does_not_make_a_second(tmp_path: Path) -> None:
    forest, folder, _, _ = world(tmp_path)
    with FakeReddit(forest, quota=10**9) as server:
        first = collect(folder, settings_for(server))
        # the state a kill between placing v0001 and removing .run.json leaves behind
        state = {"run": first.run_id, "spec_sha256": first.manifest["spec_sha256"], "started_at": "x"}
        (folder / RUN_STATE).write_text(json.dumps(state))
        (folder / "index.json").unlink()
        server.log.clear()
        again = collect(folder, settings_for(server))
        assert server.log == []  # nothing asked
    assert again.resumed and again.version == "v0001" and again.run_id == first.run_id
    assert Dataset(folder).versions() == ["v0001"] and not (folder / RUN_STATE).exists()
    assert json.loads((folder / "index.json").read_text())["latest"] == "v0001"
    assert again.as_json()["threads"] == first.as_json()["threads"] == 2


def test_a_refresh_killed_after_its_version_was_placed_does_not_make_a_second(tmp_path: Path) -> None:
    forest, folder, _, _ = world(tmp_path)
    with FakeReddit(forest, quota=10**9) as server:
        collect(folder, settings_for(server))
        first = refresh(folder, settings_for(server), write_unchanged=True)
        (folder / REFRESH_STATE).write_text(json.dumps({"run": first.run_id, "base": "v0001", "spec_sha256": "x"}))
        server.log.clear()
        again = refresh(folder, settings_for(server))
        assert server.log == []
    assert (again.version, again.base, again.run_id) == ("v0002", "v0001", first.run_id)
    assert again.checked == first.checked == 82
    assert Dataset(folder).versions() == ["v0001", "v0002"] and not (folder / REFRESH_STATE).exists()


# -- an interrupted refresh equals an uninterrupted one --------------------------------------
def test_refresh_request_counts_come_from_the_archive(tmp_path: Path) -> None:
    forest, folder, _, _ = world(tmp_path)
    with FakeReddit(forest, quota=10**9) as server:
        collect(folder, settings_for(server))
        forest.threads["p0"].submission["num_comments"] += 1
        server.log.clear()
        report = refresh(folder, settings_for(server))
        sent = {
            "info": server.count("/api/info"),
            "comments": server.count("/comments/p0"),
        }
        assert server.count("access_token") == 1  # a process's token fetch is not counted
    stats = report.manifest["stats"]["requests"]
    assert stats == {k: v for k, v in sent.items() if v}, (stats, sent)


# -- purges reach published copies ------------------------------------------------------------
def test_a_purge_reaches_the_published_tree_and_every_downloaded_copy(tmp_path: Path) -> None:
    from scraper.errors import IntegrityError as Refused
    from scraper.publish.download import download
    from scraper.publish.tree import publish
    from tests.test_download import TreeServer

    forest, folder, comment, submission = world(tmp_path)
    with FakeReddit(forest, quota=10**9) as server:
        collect(folder, settings_for(server))
        forest.threads["p0"].submission["num_comments"] += 1
        refresh(folder, settings_for(server))
    public, copy, old_copy = tmp_path / "public", tmp_path / "copy", tmp_path / "old-copy"
    publish(folder, public, allow_identifiable=True)
    with TreeServer(public) as web:
        download(web.url, copy)  # v0002 over HTTP
        download(web.url, copy, version="v0001")
        download(str(public), old_copy, version="v0001")  # a copy that only holds v0001, from the folder
        assert SECRET.encode() in every_byte(public) and SECRET.encode() in every_byte(copy)

        purge(folder, [comment, submission])
        result = publish(folder, public, allow_identifiable=True)
        assert (result["copied"], result["purged"]) == ([], ["v0001", "v0002"])
        assert SECRET.encode() not in every_byte(public) and SECRET_TITLE.encode() not in every_byte(public)
        assert purged_fullnames(public) == {comment, submission}
        for version in ("v0001", "v0002"):  # exactly the purged versions, byte for byte the source's
            for name in ("manifest.json", "comments.parquet", "submissions.parquet", "README.md"):
                assert (public / "versions" / version / name).read_bytes() == (
                    folder / "versions" / version / name
                ).read_bytes()
        assert validate(public).valid
        assert not (public / ".staging").exists()

        again = download(web.url, copy)  # the next download from the source brings the purge
        assert again["replaced"] and again["purged"] == ["v0002", "v0001"]
    assert download(str(public), old_copy, version="v0001")["purged"] == ["v0001"]
    for target in (copy, old_copy):
        data = every_byte(target)
        assert SECRET.encode() not in data and SECRET_TITLE.encode() not in data, target
        assert purged_fullnames(target) == {comment, submission}
        assert validate(target).valid
        assert not (target / ".download").exists()
    assert rows(copy, "v0002", "comments")[comment]["status"] == "purged"
    # anything but a purge is still refused
    manifest = folder / "versions" / "v0002" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"stats"', '"extra": 1, "stats"', 1))
    Dataset(folder).write_index()
    with pytest.raises(Refused, match="never rewritten"):
        publish(folder, public, allow_identifiable=True)


def test_replace_dir_swaps_a_folder_whole(tmp_path: Path) -> None:
    from scraper.store.snapshot import replace_dir

    old, new = tmp_path / "v0001", tmp_path / ".staging"
    old.mkdir()
    new.mkdir()
    (old / "a").write_text("old")
    (old / "gone").write_text("old")
    (new / "a").write_text("new")
    replace_dir(new, old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v0001"]
    assert sorted(p.name for p in old.iterdir()) == ["a"] and (old / "a").read_text() == "new"


def test_dump_files_apply_the_purge_list(tmp_path: Path) -> None:
    from scraper.dumps import ingest_dumps
    from scraper.fake_arctic_shift.dumpfiles import write_zst

    folder = write_spec(tmp_path / "ds", '[dataset]\nname = "d"\n[archive]\nsubreddits = ["machinelearning"]\n')
    post = {
        "id": "abc12",
        "subreddit": "MachineLearning",
        "created_utc": 1_500_000_000,
        "title": "I quit",
        "selftext": SECRET_TITLE,
        "author": "op",
    }
    comments = [
        {
            "id": "c1",
            "link_id": "t3_abc12",
            "parent_id": "t3_abc12",
            "body": SECRET,
            "author": "a",
            "created_utc": 1_500_000_100,
            "subreddit": "MachineLearning",
        },
        {
            "id": "c2",
            "link_id": "t3_abc12",
            "parent_id": "t3_abc12",
            "body": "kept",
            "author": "b",
            "created_utc": 1_500_000_100,
            "subreddit": "MachineLearning",
        },
        {"id": "c3", "link_id": "t3_abc12", "parent_id": "t3_abc12", "body": SECRET, "created_utc": "not a time"},
    ]
    files = [write_zst(tmp_path / "RS_2017-07.zst", [post]), write_zst(tmp_path / "RC_2017-07.zst", comments)]
    (folder / PURGES_FILE).write_text(json.dumps({"at": "x", "fullnames": ["t1_c1", "t3_abc12", "t1_c3"]}) + "\n")
    ingest_dumps(folder, files)
    subs, coms = rows(folder, "v0001", "submissions"), rows(folder, "v0001", "comments")
    assert (subs["t3_abc12"]["status"], subs["t3_abc12"]["selftext"], subs["t3_abc12"]["author"]) == (
        "purged",
        "",
        None,
    )
    assert (coms["t1_c1"]["status"], coms["t1_c1"]["body"]) == ("purged", "")
    assert (coms["t1_c2"]["status"], coms["t1_c2"]["body"]) == ("visible", "kept")
    assert set(coms) == {"t1_c1", "t1_c2"}  # the purged line that did not fit is not quarantined with its text
    data = every_byte(folder)
    assert SECRET.encode() not in data and SECRET_TITLE.encode() not in data


def test_is_purge_of_accepts_a_purge_and_nothing_else() -> None:
    from scraper.store.purge import is_purge_of

    old: dict[str, Any] = {
        "version": "v0001",
        "files": {"comments.parquet": {"table": "comments", "rows": 3, "bytes": 10, "sha256": "a" * 64}},
        "card": {"name": "README.md", "bytes": 5, "sha256": "b" * 64},
        "stats": {"comments": 3, "status": {"visible": 3}},
    }
    purged = json.loads(json.dumps(old))
    purged["purges"] = [{"at": "t", "items": 1}]
    purged["files"]["comments.parquet"].update(bytes=11, sha256="c" * 64)
    purged["card"].update(bytes=6, sha256="d" * 64)
    purged["stats"]["status"] = {"visible": 2, "purged": 1}
    assert is_purge_of(purged, old)
    assert not is_purge_of(old, old) and not is_purge_of(purged, purged)  # no new purge
    assert not is_purge_of(old, purged)
    for change in (
        lambda m: m["files"]["comments.parquet"].update(rows=4),
        lambda m: m["stats"].update(comments=4),
        lambda m: m.update(version="v0002"),
        lambda m: m["card"].update(name="CARD.md"),
        lambda m: m["files"].update({"extra.parquet": {"table": "x"}}),
    ):
        other = json.loads(json.dumps(purged))
        change(other)
        assert not is_purge_of(other, old), other
    twice = json.loads(json.dumps(purged))
    twice["purges"].append({"at": "u", "items": 1})
    assert is_purge_of(twice, purged) and is_purge_of(twice, old)
    # manifests of older versions may lack a card, status counts or sizes: compared all the same
    bare_old = {"version": "v0001", "files": {"c.parquet": {"table": "comments", "rows": 1}}, "stats": {}}
    bare_new = {**json.loads(json.dumps(bare_old)), "purges": [{"at": "t", "items": 1}]}
    assert is_purge_of(bare_new, bare_old)


def test_apply_purges_turns_exactly_the_purged_rows_into_tombstones() -> None:
    from schemas import Comment, Submission
    from scraper.normalize.rows import Quarantined, RowSet
    from scraper.store.purge import apply_purges
    from tests.test_diff import com, sub

    rows = RowSet(
        [sub(), sub(name="t3_b", id="b", permalink="/r/s/comments/b/x/")],
        [com("c1", author="a1", body=SECRET), com("c2"), com("c3", status="deleted", body="", author=None)],
        [Quarantined("t1_c9", "body", "bad", {"body": SECRET}), Quarantined("t1_c8", "body", "bad", {})],
    )
    assert apply_purges(rows, frozenset()) == 0
    # c3 is a tombstone already: it becomes purged, but only its status changes
    assert apply_purges(rows, frozenset({"t1_c1", "t3_b", "t1_c3", "t1_c9"})) == 4
    by_name: dict[str, Submission | Comment] = {r.name: r for r in [*rows.submissions, *rows.comments]}
    assert [r.name for r in rows.comments] == ["t1_c1", "t1_c2", "t1_c3"]
    assert {n: str(r.status) for n, r in by_name.items()} == {
        "t3_a": "visible",
        "t3_b": "purged",
        "t1_c1": "purged",
        "t1_c2": "visible",
        "t1_c3": "purged",
    }
    c1 = by_name["t1_c1"]
    assert isinstance(c1, Comment) and (c1.body, c1.author, c1.parent_id) == ("", None, "t3_a")
    b = by_name["t3_b"]
    assert isinstance(b, Submission)
    assert (b.title, b.selftext, b.author, b.permalink) == ("", "", None, "/r/s/comments/b/")
    assert [q.name for q in rows.quarantined] == ["t1_c8"]
    assert apply_purges(rows, frozenset({"t1_c1", "t3_b", "t1_c3"})) == 0  # a second pass changes nothing


def test_the_version_a_run_became_is_found_past_damaged_foreign_and_sourceless_manifests(tmp_path: Path) -> None:
    """Only the version whose own manifest names the run: newer versions with a damaged manifest, a manifest
    copied from another version or one without a source are passed over, and another run finds nothing."""
    sha = "0" * 64

    def place(version: str, manifest: dict[str, Any] | str) -> None:
        folder = tmp_path / "ds" / "versions" / version
        folder.mkdir(parents=True)
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        (folder / "manifest.json").write_text(text, encoding="utf-8")

    files = {"comments.parquet": {"table": "comments", "rows": 0, "bytes": 0, "sha256": sha}}
    placed = {"version": "v0001", "files": files, "source": {"runs": ["run-a"]}}
    place("v0001", placed)
    place("v0002", {"version": "v0002", "files": files})  # no source at all (an ingest of files, say)
    place("v0003", placed)  # v0001's manifest copied into another folder: it does not name v0003
    place("v0004", "{not json")
    dataset = Dataset(tmp_path / "ds")
    assert dataset.versions() == ["v0001", "v0002", "v0003", "v0004"]
    assert dataset.version_of_run("run-a") == "v0001"
    assert dataset.version_of_run("run-b") is None
