"""Normalization: every marker case of WIRE-FORMAT.md, timestamps, depth, quarantine."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from schemas import Status
from scraper.normalize import build_rows, harvest_records, thing_status

NOW = "2026-11-28T12:00:00+00:00"


def t1(cid: str, parent: str, **extra: Any) -> dict[str, Any]:
    data = {
        "id": cid,
        "name": f"t1_{cid}",
        "parent_id": parent,
        "link_id": "t3_abc",
        "author": "alice",
        "author_fullname": "t2_alice",
        "body": f"body {cid}",
        "subreddit": "sub",
        "subreddit_id": "t5_x",
        "created_utc": 1593984652.0,
        "edited": False,
        "score": 3,
        "replies": "",
    }
    data.update(extra)
    return {"kind": "t1", "data": data}


def t3(**extra: Any) -> dict[str, Any]:
    data = {
        "id": "abc",
        "name": "t3_abc",
        "title": "a title",
        "selftext": "text",
        "author": "op",
        "author_fullname": "t2_op",
        "subreddit": "sub",
        "subreddit_id": "t5_x",
        "created_utc": 1594424685.0,
        "edited": 1594425000.5,
        "score": 10,
        "num_comments": 2,
        "is_self": True,
        "url": "https://x/",
        "removed_by_category": None,
    }
    data.update(extra)
    return {"kind": "t3", "data": data}


def listing(children: list[dict[str, Any]]) -> dict[str, Any]:
    return {"kind": "Listing", "data": {"after": None, "dist": None, "children": children}}


def record(body: Any, url: str = "https://oauth.reddit.com/comments/abc/", **extra: Any) -> dict[str, Any]:
    return {"url": url, "params": {}, "status": 200, "json": body, "received_at": NOW, "origin": "reddit-api", **extra}


# -- statuses: WIRE-FORMAT §7 -------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "fields", "expected"),
    [
        ("t1", {"author": "alice", "body": "hello"}, Status.VISIBLE),
        ("t1", {"author": "[deleted]", "body": "[deleted]"}, Status.DELETED),
        ("t1", {"author": "[deleted]", "body": "[removed]"}, Status.REMOVED),
        ("t1", {"author": "[deleted]", "body": "original text kept"}, Status.ACCOUNT_DELETED),
        ("t3", {"author": "op", "selftext": "hi", "removed_by_category": None}, Status.VISIBLE),
        ("t3", {"author": "op", "selftext": "[removed]", "removed_by_category": "moderator"}, Status.REMOVED),
        ("t3", {"author": "op", "selftext": "", "removed_by_category": "reddit"}, Status.REMOVED),
        ("t3", {"author": "op", "selftext": "", "removed_by_category": "automod_filtered"}, Status.REMOVED),
        ("t3", {"author": "[deleted]", "selftext": "[deleted]", "removed_by_category": "deleted"}, Status.DELETED),
        ("t3", {"author": "[deleted]", "selftext": "", "removed_by_category": "author"}, Status.DELETED),
        ("t3", {"author": "[deleted]", "selftext": "kept", "removed_by_category": None}, Status.ACCOUNT_DELETED),
    ],
)
def test_status_from_markers(kind: str, fields: dict[str, Any], expected: Status) -> None:
    assert thing_status(fields, kind) == expected


def test_deleted_author_becomes_null_and_missing_author_fullname_is_allowed() -> None:
    deleted = t1("c1", "t3_abc", author="[deleted]", body="[deleted]")
    del deleted["data"]["author_fullname"]  # WIRE-FORMAT §5: missing, not null
    rows = build_rows(harvest_records([record([listing([t3()]), listing([deleted])])]))
    (row,) = rows.comments
    assert row.author is None and row.author_fullname is None and row.status is Status.DELETED


def test_timestamps_are_aware_utc_and_edited_false_is_null() -> None:
    rows = build_rows(harvest_records([record([listing([t3()]), listing([t1("c1", "t3_abc")])])]))
    sub, com = rows.submissions[0], rows.comments[0]
    assert com.created_utc == datetime(2020, 7, 5, 21, 30, 52, tzinfo=UTC)
    assert com.edited is None
    assert sub.edited == datetime.fromtimestamp(1594425000.5, tz=UTC)
    assert sub.edited.tzinfo is UTC and sub.retrieved_at == datetime.fromisoformat(NOW)


def test_nested_replies_give_depth_from_the_parent_chain() -> None:
    child = t1("c2", "t1_c1")
    parent = t1("c1", "t3_abc", replies=listing([child]))
    rows = build_rows(harvest_records([record([listing([t3()]), listing([parent])])]))
    assert {r.id: r.depth for r in rows.comments} == {"c1": 0, "c2": 1}
    assert {r.id: r.parent_id for r in rows.comments} == {"c1": "t3_abc", "c2": "t1_c1"}


def test_permalink_form_depth_is_not_trusted_without_the_chain() -> None:
    # /comments/abc/_/c5 restarts depth at 0 at c5, whose parent we do not hold (WIRE-FORMAT §2).
    sub_root = t1("c5", "t1_c4", depth=0, replies=listing([t1("c6", "t1_c5", depth=1)]))
    rows = build_rows(
        harvest_records(
            [record([listing([t3()]), listing([sub_root])], url="https://oauth.reddit.com/comments/abc/_/c5/")]
        )
    )
    assert {r.id: r.depth for r in rows.comments} == {"c5": None, "c6": None}


def test_morechildren_depth_is_absolute_when_chain_missing() -> None:
    things = [t1("c7", "t1_c3", depth=4), t1("c8", "t1_c7", depth=5)]
    body = {"json": {"errors": [], "data": {"things": things}}}
    rows = build_rows(harvest_records([record(body, url="https://oauth.reddit.com/api/morechildren/")]))
    assert {r.id: r.depth for r in rows.comments} == {"c7": 4, "c8": 5}


def test_newest_sighting_wins() -> None:
    old = record([listing([t3()]), listing([t1("c1", "t3_abc", score=1)])], received_at="2026-01-01T00:00:00+00:00")
    new = record(
        {"kind": "Listing", "data": {"children": [t1("c1", "t3_abc", score=9)]}},
        url="https://oauth.reddit.com/api/info/",
        received_at="2026-02-01T00:00:00+00:00",
    )
    rows = build_rows(harvest_records([new, old]))
    assert rows.comments[0].score == 9


def test_bad_item_is_quarantined_with_its_name_and_field_and_the_rest_goes_on() -> None:
    bad_edit = t1("c1", "t3_abc", edited="yesterday")  # no era of Reddit or its archives sends this
    bad_score = t1("c2", "t3_abc", score="lots")
    good = t1("c3", "t3_abc")
    rows = build_rows(harvest_records([record([listing([t3()]), listing([bad_edit, bad_score, good])])]))
    assert [r.id for r in rows.comments] == ["c3"]
    quarantined = {q.name: q for q in rows.quarantined}
    assert set(quarantined) == {"t1_c1", "t1_c2"}
    assert quarantined["t1_c1"].field == "edited"
    assert quarantined["t1_c2"].field == "score"
    assert quarantined["t1_c2"].raw["score"] == "lots"


def test_search_listing_labels_found_by_and_comments_inherit_it() -> None:
    search = record(listing([t3()]), url="https://oauth.reddit.com/r/sub/search", params={"q": "quit ml"})
    tree = record([listing([t3()]), listing([t1("c1", "t3_abc")])], context={"found_by": ["seed:abc"]})
    rows = build_rows(harvest_records([search, tree]))
    assert rows.submissions[0].found_by == ["search:r/sub:quit ml", "seed:abc"]
    assert rows.comments[0].found_by == ["search:r/sub:quit ml", "seed:abc"]


def test_token_responses_and_errors_are_not_rows() -> None:
    token = record({"access_token": "<ACCESS_TOKEN>"}, url="https://www.reddit.com/api/v1/access_token")
    error = {**record(None), "status": 404, "json": {"message": "Not Found", "error": 404}}
    harvest = harvest_records([token, error])
    assert not harvest.submissions and not harvest.comments
    assert harvest.skipped == ["https://oauth.reddit.com/comments/abc/: HTTP 404"]


def test_tombstones_keep_structure_but_no_text() -> None:
    gone = t1(
        "c1",
        "t3_abc",
        author="[deleted]",
        body="my own words, account since deleted",
        permalink="/r/sub/comments/abc/a_title_slug/c1/",
    )
    child = t1("c2", "t1_c1")
    removed_post = t3(
        author="op",
        selftext="[removed]",
        removed_by_category="moderator",
        title="secret title",
        url="https://example.org/x",
        permalink="/r/sub/comments/abc/secret_title/",
    )
    rows = build_rows(harvest_records([record([listing([removed_post]), listing([gone, child])])]))
    sub = rows.submissions[0]
    assert (sub.status, sub.title, sub.selftext, sub.url, sub.author) == (Status.REMOVED, "", "", None, None)
    assert sub.permalink == "/r/sub/comments/abc/" and sub.score == 10
    c1 = next(r for r in rows.comments if r.id == "c1")
    assert (c1.status, c1.body, c1.author, c1.author_fullname) == (Status.ACCOUNT_DELETED, "", None, None)
    assert c1.permalink == "/r/sub/comments/abc/_/c1/" and c1.parent_id == "t3_abc" and c1.depth == 0
    assert next(r for r in rows.comments if r.id == "c2").body == "body c2"
