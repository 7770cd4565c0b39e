"""Builds with archive answers stream, and give exactly what the per-row model path gives.

A spec with an ``[archive]`` section overlays Arctic Shift answers on Reddit's
(docs/ARCHIVES.md).  The streaming build (sightings → DuckDB merge) is held to the
in-memory reference (``build_version_in_memory``: one harvest, one model per row) on
generated mixes of the two sources: the same things seen by Reddit and by the archive
at tied and untied times, Reddit's 403/404 for a thread, the archive's deletion facts
of every era (``_meta``, text markers, ``removed_by_category``), drifting field types,
lines that cannot be read, seeds and subreddit labels, with and without the spec's
filter and ``text_when_gone``; and the files read by one or by several worker processes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.build import build_version, build_version_in_memory
from scraper.ingest import ingest
from scraper.normalize.policy import keep_rule
from scraper.spec import load_spec
from scraper.store.raw import RawArchive
from scraper.store.snapshot import Dataset
from tests.conftest import examples, write_spec
from tests.test_fastpath import quarantine, tables

ARCTIC = "https://arctic-shift.example"
TIMES = ["2026-01-01T00:00:00+00:00", "2026-02-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00"]
THREADS = ["aa", "bb", "cc"]
COMMENTS = {f"c{i}": THREADS[i % 3] for i in range(7)}


def arctic(path: str, data: Any, *, when: str = TIMES[0], **extra: Any) -> dict[str, Any]:
    """A raw-archive record of an Arctic Shift answer at ``path`` holding ``data``."""
    return {
        "origin": "arctic-shift",
        "url": f"{ARCTIC}{path}",
        "status": 200,
        "received_at": when,
        "json": {"data": data},
        **extra,
    }


def spec_text(*, rule: bool, text_when_gone: bool) -> str:
    return f"""
[dataset]
name = "history"

[discovery]
subreddits = ["MachineLearning"]
{"[filter]" + chr(10) + 'include = ["quit"]' if rule else ""}

[archive]
url = "{ARCTIC}"
subreddits = ["MachineLearning"]
after = "2012-01-01"
before = "2025-01-01"
text_when_gone = {"true" if text_when_gone else "false"}
"""


TEXT = st.sampled_from(["why I quit ML", "still here", "[deleted]", "[removed]", "", "quit \u00e9t\u00e9"])
AUTHOR = st.sampled_from(["alice", "bob", "[deleted]", None])
CREATED = st.sampled_from([1_400_000_000, 1_400_000_000.5, "1400000100", "1.4e9", "soon", None])
EDITED = st.sampled_from([False, True, 1_400_000_500, 1_400_000_500.25, None])
META = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "was_deleted_later": st.booleans(),
            "was_initially_deleted": st.booleans(),
            "removal_type": st.sampled_from(["deleted", "author", "moderator", "reddit"]),
            "retrieved_2nd_on": st.sampled_from([1_600_000_000, 1_400_000_100]),
            "note": st.sampled_from(["re-fetched"]),
        },
    ),
)


@st.composite
def archive_post(draw: st.DrawFn, ident: str) -> dict[str, Any]:
    post: dict[str, Any] = {"id": ident, "subreddit": "MachineLearning", "title": draw(TEXT)}
    post["created_utc"] = draw(CREATED)
    for key, strategy in (
        ("selftext", TEXT),
        ("author", AUTHOR),
        ("edited", EDITED),
        ("removed_by_category", st.sampled_from([None, "deleted", "moderator"])),
        ("retrieved_on", st.sampled_from([1_400_000_050, 1_700_000_000])),
        ("_meta", META),
        ("score", st.integers(-5, 50)),
    ):
        if draw(st.booleans()):
            post[key] = draw(strategy)
    return post


@st.composite
def archive_comment(draw: st.DrawFn, ident: str) -> dict[str, Any]:
    thread = COMMENTS[ident]
    parent = draw(st.sampled_from([thread, *[c for c, t in COMMENTS.items() if t == thread and c < ident]]))
    comment: dict[str, Any] = {
        "id": ident,
        "link_id": draw(st.sampled_from([f"t3_{thread}", thread])),  # the dumps' unprefixed era too
        "parent_id": f"t3_{parent}" if parent == thread else f"t1_{parent}",
        "body": draw(TEXT),
        "subreddit": "MachineLearning",
        "created_utc": draw(CREATED),
    }
    for key, strategy in (
        ("author", AUTHOR),
        ("edited", EDITED),
        ("retrieved_on", st.sampled_from([1_400_000_050, 1_700_000_000])),
        ("_meta", META),
        ("score", st.integers(-5, 50)),
    ):
        if draw(st.booleans()):
            comment[key] = draw(strategy)
    return comment


def reddit_post(ident: str, title: str, author: str | None) -> dict[str, Any]:
    return {
        "kind": "t3",
        "data": {
            "id": ident,
            "name": f"t3_{ident}",
            "title": title,
            "selftext": "",
            "author": author,
            "subreddit": "MachineLearning",
            "created_utc": 1_400_000_000.0,
            "permalink": f"/r/MachineLearning/comments/{ident}/t/",
        },
    }


def reddit_comment(ident: str, body: str, author: str | None) -> dict[str, Any]:
    thread = COMMENTS[ident]
    return {
        "kind": "t1",
        "data": {
            "id": ident,
            "name": f"t1_{ident}",
            "link_id": f"t3_{thread}",
            "parent_id": f"t3_{thread}",
            "body": body,
            "author": author,
            "subreddit": "MachineLearning",
            "created_utc": 1_400_000_001.0,
            "replies": "",
        },
    }


@st.composite
def records(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Raw-archive records of one collection with an archive: Reddit's answers and Arctic Shift's, interleaved."""
    out: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 10))):
        when = draw(st.sampled_from(TIMES))
        source = draw(st.sampled_from(["posts", "comments", "tree", "ids", "reddit", "gone", "failed", "search"]))
        if source == "posts":
            posts = [draw(archive_post(t)) for t in draw(st.lists(st.sampled_from(THREADS), max_size=3))]
            params = {"subreddit": "MachineLearning"} if draw(st.booleans()) else {}
            url = f"{ARCTIC}/api/posts/search"
            out.append({"origin": "arctic-shift", "url": url, "params": params, "json": {"data": posts}})
        elif source == "ids":
            posts = [draw(archive_post(t)) for t in draw(st.lists(st.sampled_from(THREADS), max_size=2))]
            seeds = draw(st.lists(st.sampled_from(THREADS), max_size=2))
            out.append(
                {
                    "origin": "arctic-shift",
                    "url": f"{ARCTIC}/api/posts/ids",
                    "params": {"ids": ",".join(seeds)},
                    "context": {"seeds": seeds},
                    "json": {"data": posts},
                }
            )
        elif source == "comments":
            items = [draw(archive_comment(c)) for c in draw(st.lists(st.sampled_from(sorted(COMMENTS)), max_size=4))]
            out.append({"origin": "arctic-shift", "url": f"{ARCTIC}/api/comments/search", "json": {"data": items}})
        elif source == "tree":
            items = [draw(archive_comment(c)) for c in draw(st.lists(st.sampled_from(sorted(COMMENTS)), max_size=3))]
            nested = [{"kind": "t1", "data": {**item, "replies": ""}} for item in items]
            if len(nested) > 1:  # one reply nested in another, as the tree endpoint answers
                nested[0]["data"]["replies"] = {"kind": "Listing", "data": {"children": [nested.pop()]}}
            out.append({"origin": "arctic-shift", "url": f"{ARCTIC}/api/comments/tree", "json": {"data": nested}})
        elif source == "failed":
            out.append({"origin": "arctic-shift", "url": f"{ARCTIC}/api/posts/search", "json": {"error": "timeout"}})
        elif source == "search":  # Reddit's search listing: the submission seen, its comments not asked for
            thread = draw(st.sampled_from(THREADS))
            listing = {"kind": "Listing", "data": {"children": [reddit_post(thread, draw(TEXT), draw(AUTHOR))]}}
            out.append(
                {
                    "origin": "reddit-api",
                    "url": "https://oauth.reddit.com/r/MachineLearning/search",
                    "params": {"q": "quit", "restrict_sr": "1"},
                    "json": listing,
                }
            )
        elif source == "gone":
            thread = draw(st.sampled_from(THREADS))
            status = draw(st.sampled_from([403, 404]))
            out.append({"url": f"https://oauth.reddit.com/comments/{thread}/", "status": status, "body": "{}"})
        else:
            thread = draw(st.sampled_from(THREADS))
            head = reddit_post(thread, draw(TEXT), draw(AUTHOR))
            kids = [
                reddit_comment(c, draw(TEXT), draw(AUTHOR))
                for c in draw(st.lists(st.sampled_from([c for c, t in COMMENTS.items() if t == thread]), max_size=3))
            ]
            body = [{"kind": "Listing", "data": {"children": [head]}}, {"kind": "Listing", "data": {"children": kids}}]
            out.append(
                {
                    "origin": "reddit-api",
                    "url": f"https://oauth.reddit.com/comments/{thread}/",
                    "params": {},
                    "json": body,
                    "context": {"found_by": ["seed:" + thread]},
                }
            )
        out[-1].setdefault("status", 200)
        out[-1]["received_at"] = when
    return out


def build_both(tmp: Path, batch: list[dict[str, Any]], *, rule: bool, text_when_gone: bool) -> None:
    for name in ("reference", "streamed"):
        write_spec(tmp / name, spec_text(rule=rule, text_when_gone=text_when_gone))
    spec, _ = load_spec(tmp / "reference")
    ref = build_version_in_memory(
        Dataset(tmp / "reference"),
        batch,
        spec_sha256=None,
        source={"kind": "t"},
        keep_thread=keep_rule(spec),
        spec=spec,
    )
    got = build_version(
        Dataset(tmp / "streamed"), batch, spec_sha256=None, source={"kind": "t"}, keep_thread=keep_rule(spec), spec=spec
    )
    assert_same(tmp, ref, got)


def assert_same(tmp: Path, ref: dict[str, Any], got: dict[str, Any], folder: str = "streamed") -> None:
    want, have = tables(tmp / "reference", ref), tables(tmp / folder, got)
    for stem in ("submissions", "comments"):
        assert have[stem].schema.equals(want[stem].schema, check_metadata=True), stem
        assert have[stem].to_pylist() == want[stem].to_pylist(), stem
    assert quarantine(tmp / folder, got) == quarantine(tmp / "reference", ref)
    for key in ("submissions", "comments", "status", "quarantined", "responses"):
        assert got["stats"][key] == ref["stats"][key], key
    assert got["tombstones"] == ref["tombstones"]


@settings(max_examples=examples(8), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=records(), rule=st.booleans(), text_when_gone=st.booleans())
def test_generated_mixes_of_reddit_and_archive_give_the_reference_rows(
    tmp_path_factory: pytest.TempPathFactory, batch: list[dict[str, Any]], rule: bool, text_when_gone: bool
) -> None:
    build_both(tmp_path_factory.mktemp("mix"), batch, rule=rule, text_when_gone=text_when_gone)


def test_reddit_wins_over_a_newer_archive_sighting_and_the_archive_facts_ride_along(tmp_path: Path) -> None:
    """One known case, asserted on its values (the generated test compares the two paths only)."""
    later_archive = {
        "origin": "arctic-shift",
        "url": f"{ARCTIC}/api/comments/search",
        "status": 200,
        "received_at": TIMES[2],
        "json": {
            "data": [
                {
                    "id": "c0",
                    "link_id": "t3_aa",
                    "parent_id": "t3_aa",
                    "body": "archived text",
                    "author": "alice",
                    "created_utc": 1_400_000_001,
                    "retrieved_on": 1_400_000_050,
                    "_meta": {
                        "was_deleted_later": True,
                        "removal_type": "moderator",
                        "retrieved_2nd_on": 1_600_000_000,
                    },
                },
                {
                    "id": "c3",
                    "link_id": "t3_aa",
                    "parent_id": "t3_aa",
                    "body": "only here",
                    "created_utc": 1_400_000_002,
                },
            ]
        },
    }
    reddit = {
        "origin": "reddit-api",
        "url": "https://oauth.reddit.com/comments/aa/",
        "status": 200,
        "received_at": TIMES[0],
        "json": [
            {"kind": "Listing", "data": {"children": [reddit_post("aa", "why I quit", "bob")]}},
            {"kind": "Listing", "data": {"children": [reddit_comment("c0", "reddit text", "alice")]}},
        ],
    }
    for text_when_gone in (False, True):
        folder = tmp_path / f"gone-text-{text_when_gone}"
        write_spec(folder, spec_text(rule=False, text_when_gone=text_when_gone))
        spec, _ = load_spec(folder)
        manifest = build_version(
            Dataset(folder), [later_archive, reddit], spec_sha256=None, source={"kind": "t"}, spec=spec
        )
        rows = {r["name"]: r for r in tables(folder, manifest)["comments"].to_pylist()}
        assert rows["t1_c0"]["body"] == "reddit text" and rows["t1_c0"]["status"] == "visible"
        assert rows["t1_c0"]["archive_status"] == "removed"
        assert "was_deleted_later" in rows["t1_c0"]["archive_flags"]
        # c3: only the archive has it, and Reddit served its thread without it: withheld, unless allowed
        if text_when_gone:
            assert rows["t1_c3"]["status"] == "visible" and rows["t1_c3"]["body"] == "only here"
        else:
            assert rows["t1_c3"]["status"] == "unavailable" and rows["t1_c3"]["body"] == ""
        assert rows["t1_c3"]["archive_status"] == "visible"


def test_ingest_of_a_raw_archive_with_archive_answers_streams_on_workers(tmp_path: Path) -> None:
    """ingest of raw archives (one per run) with an [archive] spec: the same rows on 1 and on 3 workers."""
    rng_batches = [_fixed_batch(i) for i in range(4)]  # fixed content: the worker split is what varies
    files = []
    for i, batch in enumerate(rng_batches):
        path = tmp_path / f"run{i}.jsonl.gz"
        with RawArchive(path) as raw:
            for record in batch:
                raw.append(record)
        files.append(path)
    every = [record for batch in rng_batches for record in batch]
    write_spec(tmp_path / "reference", spec_text(rule=False, text_when_gone=False))
    spec, _ = load_spec(tmp_path / "reference")
    ref = build_version_in_memory(
        Dataset(tmp_path / "reference"),
        every,
        spec_sha256=None,
        source={"kind": "t"},
        keep_thread=keep_rule(spec),
        spec=spec,
    )
    for workers in (1, 3):
        folder = f"w{workers}"
        write_spec(tmp_path / folder, spec_text(rule=False, text_when_gone=False))
        got = ingest(tmp_path / folder, files, replace=True, workers=workers)
        assert got["source"]["mode"] == "replace"
        assert_same(tmp_path, ref, got, folder)
        assert json.loads((tmp_path / folder / "versions" / got["version"] / "manifest.json").read_text())


def _fixed_batch(i: int) -> list[dict[str, Any]]:
    thread = THREADS[i % 3]
    when = TIMES[i % 3]
    return [
        {
            "origin": "arctic-shift",
            "url": f"{ARCTIC}/api/posts/search",
            "params": {"subreddit": "MachineLearning"},
            "status": 200,
            "received_at": when,
            "json": {"data": [{"id": thread, "title": f"quit {i}", "created_utc": 1_400_000_000 + i}]},
        },
        {
            "origin": "arctic-shift",
            "url": f"{ARCTIC}/api/comments/search",
            "status": 200,
            "received_at": when,
            "json": {
                "data": [
                    {"id": c, "link_id": thread, "parent_id": thread, "body": f"b{i}", "created_utc": 1_400_000_001}
                    for c, t in COMMENTS.items()
                    if t == thread
                ]
            },
        },
        {
            "url": f"https://oauth.reddit.com/comments/{THREADS[(i + 1) % 3]}/",
            "status": 404,
            "received_at": when,
            "body": "{}",
        },
    ]


ODD = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=3),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)


@settings(max_examples=examples(8), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    replies=st.one_of(
        ODD,
        st.fixed_dictionaries({"kind": st.just("Listing"), "data": ODD}),
        st.fixed_dictionaries({"kind": st.just("Listing"), "data": st.fixed_dictionaries({"children": ODD})}),
    )
)
def test_a_tree_answer_with_replies_of_any_shape_builds_the_comments_it_holds(
    tmp_path_factory: pytest.TempPathFactory, replies: Any
) -> None:
    """Arctic Shift's ``/api/comments/tree`` with ``replies`` that is not a Listing of children: no crash."""
    tmp = tmp_path_factory.mktemp("odd")
    good = {"id": "c1", "link_id": "t3_aa", "parent_id": "t3_aa", "body": "kept", "created_utc": 1_400_000_001}
    odd = {"id": "c2", "link_id": "t3_aa", "parent_id": "t3_aa", "body": "also", "created_utc": 1_400_000_002}
    post = {"id": "aa", "title": "why I quit", "created_utc": 1_400_000_000, "subreddit": "MachineLearning"}
    batch = [
        arctic("/api/posts/search", [post]),
        arctic("/api/comments/search", [good]),
        {
            "origin": "arctic-shift",
            "url": f"{ARCTIC}/api/comments/tree",
            "status": 200,
            "received_at": TIMES[0],
            "json": {"data": [{"kind": "t1", "data": {**odd, "replies": replies}}]},
        },
    ]
    build_both(tmp, batch, rule=False, text_when_gone=True)
    manifest = json.loads(next((tmp / "streamed" / "versions").glob("*/manifest.json")).read_text())
    rows = tables(tmp / "streamed", manifest)["comments"].to_pylist()
    assert {r["name"]: r["body"] for r in rows} == {"t1_c1": "kept", "t1_c2": "also"}


@pytest.mark.parametrize("archive", [True, False])
def test_a_purged_thread_stays_a_tombstone_with_its_comments_when_rebuilt_under_a_filter(
    tmp_path: Path, archive: bool
) -> None:
    """purge blanks the title in the raw archive too; a rebuild's keyword filter must not then drop the thread."""
    from scraper.store.purge import purge

    folder = tmp_path / "ds"
    text = spec_text(rule=True, text_when_gone=False)
    write_spec(folder, text if archive else text.split("[archive]")[0])
    post = {"id": "aa", "title": "why I quit ML", "selftext": "long", "created_utc": 1_400_000_000, "author": "op"}
    coms = [
        {"id": f"c{i}", "link_id": "t3_aa", "parent_id": "t3_aa", "body": f"reply {i}", "created_utc": 1_400_000_001}
        for i in range(3)
    ]
    if archive:
        batch = [
            {
                "origin": "arctic-shift",
                "url": f"{ARCTIC}/api/posts/search",
                "params": {"subreddit": "MachineLearning"},
                "status": 200,
                "received_at": TIMES[0],
                "json": {"data": [{**post, "subreddit": "MachineLearning"}]},
            },
            arctic("/api/comments/search", coms),
        ]
    else:
        body = [
            {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": {**post, "name": "t3_aa"}}]}},
            {"kind": "Listing", "data": {"children": [{"kind": "t1", "data": {**c, "replies": ""}} for c in coms]}},
        ]
        batch = [
            {
                "origin": "reddit-api",
                "url": "https://oauth.reddit.com/comments/aa/",
                "status": 200,
                "received_at": TIMES[0],
                "json": body,
                "context": {"found_by": ["seed:aa"]},
            }
        ]
    raw = folder / "raw" / "run1.jsonl.gz"
    with RawArchive(raw) as archive_file:
        for record in batch:
            archive_file.append(record)
    ingest(folder, [raw], replace=True)
    purge(folder, ["t3_aa"])
    manifest = ingest(folder, [raw], replace=True, write_unchanged=True)  # the rebuild from the purged raw archive
    got = tables(folder, manifest)
    assert [(r["name"], r["status"], r["title"]) for r in got["submissions"].to_pylist()] == [("t3_aa", "purged", "")]
    assert sorted(r["name"] for r in got["comments"].to_pylist()) == ["t1_c0", "t1_c1", "t1_c2"]
    assert all(r["status"] == "visible" for r in got["comments"].to_pylist())


@settings(max_examples=examples(8), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    items=st.lists(
        st.tuples(TEXT, AUTHOR, META, st.sampled_from([None, "", "deleted", "moderator", "author"])),
        min_size=1,
        max_size=6,
    ),
    text_when_gone=st.booleans(),
)
def test_any_archive_deletion_facts_give_a_version_that_validates(
    tmp_path_factory: pytest.TempPathFactory, items: list[tuple[Any, Any, Any, Any]], text_when_gone: bool
) -> None:
    """Whatever the markers and ``_meta`` say, the rows agree with their status (validate passes)."""
    from scraper.publish.validate import validate

    folder = tmp_path_factory.mktemp("facts") / "ds"
    write_spec(folder, spec_text(rule=False, text_when_gone=text_when_gone))
    posts, comments = [], []
    for i, (text, author, meta, category) in enumerate(items):
        post = {"id": f"p{i}", "title": f"quit {i}", "selftext": text, "created_utc": 1_700_000_000, "author": author}
        comment = {
            "id": f"c{i}",
            "link_id": f"t3_p{i}",
            "parent_id": f"t3_p{i}",
            "body": text,
            # Reddit's shapes (WIRE-FORMAT §7): a comment's marker text comes with a [deleted] author
            "author": "[deleted]" if text in ("[deleted]", "[removed]") else (author or "someone"),
            "created_utc": 1_700_000_001,
            "retrieved_on": 1_700_000_100,
        }
        for thing in (post, comment):
            if meta is not None:
                thing["_meta"] = meta
        if category is not None:
            post["removed_by_category"] = category
        posts.append(post)
        comments.append(comment)
    batch = [
        arctic("/api/posts/search", posts),
        arctic("/api/comments/search", comments),
    ]
    spec, _ = load_spec(folder)
    manifest = build_version(Dataset(folder), batch, spec_sha256=None, source={"kind": "t"}, spec=spec)
    report = validate(folder / "versions" / manifest["version"])
    assert report.valid, report


def test_ingest_into_an_archive_dataset_with_a_version_needs_replace_and_writes_nothing_without(tmp_path: Path) -> None:
    """No silent replacement of everything collected: exit 1, one line naming --replace, no version.

    ``python -m scraper ingest`` in a real process forked from this one (tests/forked.py)."""
    from tests import forked

    folder = tmp_path / "ds"
    write_spec(folder, spec_text(rule=False, text_when_gone=False))
    raw = folder / "raw" / "run1.jsonl.gz"
    with RawArchive(raw) as archive_file:
        for record in _fixed_batch(0):
            archive_file.append(record)
    first = ingest(folder, [raw])  # an empty dataset: nothing to merge into, so it builds
    done = forked.run(forked.cli("ingest", str(folder), str(raw)))
    assert done.returncode == 1, done
    assert "--replace" in done.stderr and "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in (folder / "versions").iterdir() if p.is_dir()) == [first["version"]]
    again = ingest(folder, [raw], replace=True, write_unchanged=True)
    assert again["version"] != first["version"]


def test_a_refresh_keeps_the_archive_facts_of_the_rows_it_fetches_again(tmp_path: Path) -> None:
    """refresh builds on the base version (no archive answers): Reddit's newer sighting keeps the archive columns."""
    from scraper.build import VersionBuilder

    folder = tmp_path / "ds"
    write_spec(folder, spec_text(rule=False, text_when_gone=False))
    spec, _ = load_spec(folder)
    archived = {"_meta": {"was_deleted_later": True, "removal_type": "moderator", "retrieved_2nd_on": 1_600_000_000}}
    first = build_version(
        Dataset(folder),
        [
            {
                "origin": "arctic-shift",
                "url": f"{ARCTIC}/api/posts/search",
                "status": 200,
                "received_at": TIMES[0],
                "json": {"data": [{"id": "aa", "title": "quit", "created_utc": 1_400_000_000, **archived}]},
            },
            {
                "origin": "arctic-shift",
                "url": f"{ARCTIC}/api/comments/search",
                "status": 200,
                "received_at": TIMES[0],
                "json": {
                    "data": [
                        {
                            "id": "c0",
                            "link_id": "t3_aa",
                            "parent_id": "t3_aa",
                            "body": "b",
                            "created_utc": 1_400_000_001,
                            **archived,
                        }
                    ]
                },
            },
        ],
        spec_sha256=None,
        source={"kind": "t"},
        spec=spec,
    )
    before = {r["name"]: r for stem, t in tables(folder, first).items() for r in t.to_pylist()}
    refreshed = {
        "origin": "reddit-api",
        "url": "https://oauth.reddit.com/comments/aa/",
        "status": 200,
        "received_at": TIMES[1],
        "json": [
            {"kind": "Listing", "data": {"children": [reddit_post("aa", "quit", "op")]}},
            {"kind": "Listing", "data": {"children": [reddit_comment("c0", "now on Reddit", "alice")]}},
        ],
    }
    with VersionBuilder(Dataset(folder), base=first["version"], base_only=True) as builder:
        builder.sightings.add_records([refreshed])
        second = builder.write(spec_sha256=None, source={"kind": "refresh"}, stats={})
    after = {r["name"]: r for stem, t in tables(folder, second).items() for r in t.to_pylist()}
    assert after["t1_c0"]["body"] == "now on Reddit" and after["t1_c0"]["source"] == "reddit-api"
    for name in ("t3_aa", "t1_c0"):
        for column in ("archive_status", "archived_at", "archive_flags"):
            assert after[name][column] == before[name][column] and before[name][column], (name, column)


@pytest.mark.parametrize("tree_served", [False, True])
def test_archive_comments_are_withheld_only_when_reddit_served_their_tree(tmp_path: Path, tree_served: bool) -> None:
    """A submission seen only in a search listing does not mean Reddit was asked for its comments."""
    folder = tmp_path / "ds"
    write_spec(folder, spec_text(rule=False, text_when_gone=False))
    spec, _ = load_spec(folder)
    search = {
        "origin": "reddit-api",
        "url": "https://oauth.reddit.com/r/MachineLearning/search",
        "params": {"q": "quit"},
        "status": 200,
        "received_at": TIMES[1],
        "json": {"kind": "Listing", "data": {"children": [reddit_post("aa", "why I quit", "op")]}},
    }
    tree = {
        "origin": "reddit-api",
        "url": "https://oauth.reddit.com/comments/aa/",
        "status": 200 if tree_served else 500,
        "received_at": TIMES[1],
        "json": [
            {"kind": "Listing", "data": {"children": [reddit_post("aa", "why I quit", "op")]}},
            {"kind": "Listing", "data": {"children": []}},
        ],
    }
    comment = {
        "id": "c1",
        "link_id": "t3_aa",
        "parent_id": "t3_aa",
        "body": "archived text",
        "author": "u",
        "created_utc": 1_400_000_001,
    }
    archived = arctic("/api/comments/search", [comment])
    manifest = build_version(
        Dataset(folder), [search, tree, archived], spec_sha256=None, source={"kind": "t"}, spec=spec
    )
    (row,) = tables(folder, manifest)["comments"].to_pylist()
    if tree_served:
        assert (row["status"], row["body"]) == ("unavailable", "")
    else:
        assert (row["status"], row["body"]) == ("visible", "archived text")
    assert row["archive_status"] == "visible"


def test_archive_ids_in_any_case_join_reddits_things(tmp_path: Path) -> None:
    """Base-36 ids compare as numbers (reference §3.3): an archive's t3_AA is Reddit's t3_aa, its T1_C0 a parent."""
    from scraper.publish.validate import validate

    folder = tmp_path / "ds"
    write_spec(folder, spec_text(rule=False, text_when_gone=True))
    spec, _ = load_spec(folder)
    reddit = {
        "origin": "reddit-api",
        "url": "https://oauth.reddit.com/comments/aa/",
        "status": 200,
        "received_at": TIMES[1],
        "json": [
            {"kind": "Listing", "data": {"children": [reddit_post("aa", "why I quit", "op")]}},
            {"kind": "Listing", "data": {"children": [reddit_comment("c0", "top", "alice")]}},
        ],
    }
    archived = [
        {
            "origin": "arctic-shift",
            "url": f"{ARCTIC}/api/posts/search",
            "status": 200,
            "received_at": TIMES[0],
            "json": {"data": [{"id": "AA", "name": "t3_AA", "title": "why I quit", "created_utc": 1_400_000_000}]},
        },
        {
            "origin": "arctic-shift",
            "url": f"{ARCTIC}/api/comments/search",
            "status": 200,
            "received_at": TIMES[0],
            "json": {
                "data": [
                    {
                        "id": "C3",
                        "link_id": "T3_AA",
                        "parent_id": "T1_C0",
                        "body": "reply",
                        "author": "bob",
                        "created_utc": 1_400_000_005,
                    },
                    {
                        "id": "c4",
                        "link_id": "AA",
                        "parent_id": "c3",
                        "body": "deeper",
                        "author": "eve",
                        "created_utc": 1_400_000_006,
                    },
                ]
            },
        },
    ]
    manifest = build_version(Dataset(folder), [*archived, reddit], spec_sha256=None, source={"kind": "t"}, spec=spec)
    got = tables(folder, manifest)
    assert [r["name"] for r in got["submissions"].to_pylist()] == ["t3_aa"]
    rows = {r["name"]: r for r in got["comments"].to_pylist()}
    assert sorted(rows) == ["t1_c0", "t1_c3", "t1_c4"]
    assert (rows["t1_c3"]["link_id"], rows["t1_c3"]["parent_id"], rows["t1_c3"]["depth"]) == ("t3_aa", "t1_c0", 1)
    assert (rows["t1_c4"]["link_id"], rows["t1_c4"]["parent_id"], rows["t1_c4"]["depth"]) == ("t3_aa", "t1_c3", 2)
    assert validate(folder / "versions" / manifest["version"]).valid


def test_a_parent_loop_gives_no_depth_on_both_paths(tmp_path: Path) -> None:
    """Two archive comments naming each other as parent: depth null, streaming and reference alike (no hang)."""
    post = {"id": "aa", "title": "quit", "created_utc": 1_400_000_000}
    loop = [
        {"id": "c1", "link_id": "t3_aa", "parent_id": "t1_c2", "body": "a", "created_utc": 1_400_000_001},
        {"id": "c2", "link_id": "t3_aa", "parent_id": "t1_c1", "body": "b", "created_utc": 1_400_000_002},
        {"id": "c3", "link_id": "t3_aa", "parent_id": "t1_c2", "body": "c", "created_utc": 1_400_000_003},
    ]
    batch = [
        arctic("/api/posts/search", [post]),
        arctic("/api/comments/search", loop),
    ]
    build_both(tmp_path, batch, rule=False, text_when_gone=True)
    manifest = json.loads(next((tmp_path / "streamed" / "versions").glob("*/manifest.json")).read_text())
    assert [r["depth"] for r in tables(tmp_path / "streamed", manifest)["comments"].to_pylist()] == [None] * 3


def test_a_refused_sighting_with_a_bare_thread_id_is_quarantined_under_its_thread(tmp_path: Path) -> None:
    """Found by the generated mixes: one Arctic Shift answer holds comment c0 twice, refused (``created_utc``
    "soon", a bare ``link_id`` "aa": it cannot be shaped, so its id stays bare) and valid. Both builds keep
    the valid row and quarantine the refused sighting under thread t3_aa; the streaming build took the bare
    "aa" as a thread the filter leaves out and wrote no quarantine entry."""
    comment = {"id": "c0", "parent_id": "t3_aa", "body": "why I quit ML", "subreddit": "MachineLearning"}
    when = "2026-01-01T00:00:00+00:00"
    batch: list[dict[str, Any]] = [
        {
            "origin": "arctic-shift",
            "url": "https://arctic-shift.example/api/comments/search",
            "json": {
                "data": [
                    {**comment, "link_id": "aa", "created_utc": "soon"},
                    {**comment, "link_id": "t3_aa", "created_utc": 1_400_000_000},
                ]
            },
            "status": 200,
            "received_at": when,
        },
        {
            "origin": "arctic-shift",
            "url": "https://arctic-shift.example/api/posts/search",
            "params": {},
            "json": {
                "data": [
                    {"id": "aa", "subreddit": "MachineLearning", "title": "why I quit ML", "created_utc": 1_400_000_000}
                ]
            },
            "status": 200,
            "received_at": when,
        },
    ]
    build_both(tmp_path, batch, rule=False, text_when_gone=False)  # asserts the two builds equal
    lines = (tmp_path / "streamed" / "quarantine" / "v0001.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["name"] for line in lines] == ["t1_c0"]
