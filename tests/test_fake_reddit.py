"""The fake Reddit cuts trees as the archived builder does (WIRE-FORMAT §4b), under both orphan rules."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from scraper.fake_reddit import FakeReddit, Forest
from scraper.fake_reddit.forest import _copy
from scraper.fake_reddit.generate import SHAPES, generate_shaped
from scraper.sources.reddit import RedditClient
from tests.conftest import settings_for

LINK = "fk1"


def comment(cid: str, parent: str, score: int, *, deleted: bool = False) -> dict[str, Any]:
    return {
        "id": cid,
        "name": f"t1_{cid}",
        "parent_id": parent,
        "link_id": f"t3_{LINK}",
        "author": "[deleted]" if deleted else "alice",
        "body": "[deleted]" if deleted else f"text of {cid}",
        "created_utc": 1_700_000_000.0,
        "score": score,
    }


def forest_with(comments: list[dict[str, Any]], orphans: str = "vanish") -> Forest:
    forest = Forest(orphans=orphans)
    submission = {"id": LINK, "name": f"t3_{LINK}", "title": "t", "subreddit": "sub", "created_utc": 1.0, "score": 1}
    forest.add_thread(submission, comments)
    return forest


def walk(things: list[Any]) -> tuple[set[str], list[dict[str, Any]]]:
    """The t1 ids and the stubs of an answer, nested or flat."""
    shown: set[str] = set()
    stubs: list[dict[str, Any]] = []
    stack = list(things)
    while stack:
        thing = stack.pop()
        if thing["kind"] == "t1":
            shown.add(thing["data"]["id"])
            replies = thing["data"].get("replies")
            if isinstance(replies, dict):
                stack.extend(replies["data"]["children"])
        elif thing["kind"] == "more":
            stubs.append(thing["data"])
    return shown, stubs


# p (score 100) has six replies: a deleted leaf "d1" that scores high (picked first), a deleted leaf "d2"
# that scores low (never picked), "k" with two replies, and three live leaves.
THREAD = [
    comment("p", f"t3_{LINK}", 100),
    comment("d1", "t1_p", 90, deleted=True),
    comment("k", "t1_p", 80),
    comment("k1", "t1_k", 1),
    comment("k2", "t1_k", 1),
    comment("l1", "t1_p", 70),
    comment("l2", "t1_p", 5),
    comment("l3", "t1_p", 4),
    comment("d2", "t1_p", 3, deleted=True),
]


def test_a_picked_deleted_leaf_spends_budget_and_is_listed_nowhere_an_unpicked_one_is_listed_and_counted() -> None:
    forest = forest_with(THREAD)
    shown, stubs = walk(forest.tree(LINK, limit=4, sort="confidence")[1]["data"]["children"])
    # budget 4: p, d1 (dropped), k, l1; k's replies and l2, l3, d2 hidden
    assert shown == {"p", "k", "l1"}
    stub_p = next(s for s in stubs if s["parent_id"] == "t1_p")
    assert sorted(stub_p["children"]) == ["d2", "l2", "l3"]  # d1 was picked and dropped: not listed
    # count: p's 8 descendants minus the picked children's subtrees (k: 3, l1: 1, d1: 1) -> 3, as the archived
    # CommentBuilder counts (every picked child is visible before the deleted leaves are dropped): exactly the
    # listed ids and what hides below them (nothing here)
    assert stub_p["count"] == 3 and stub_p["count"] - len(stub_p["children"]) == 0


def test_morechildren_spends_budget_on_deleted_leaves_and_returns_nothing_for_them() -> None:
    forest = forest_with(THREAD)
    # best first: d1 (90) takes the first unit of budget and is shown nowhere; l1 (70) the second
    shown, stubs = walk(forest.more_children(LINK, ["d1", "l1", "l2"], sort="confidence", budget=2))
    assert shown == {"l1"} and stubs == []
    shown, _ = walk(forest.more_children(LINK, ["d1", "l1", "l2"], sort="confidence", budget=3))
    assert shown == {"l1", "l2"}


@pytest.mark.parametrize("orphans", ["vanish", "stub"])
def test_requested_ids_that_miss_the_budget(orphans: str) -> None:
    forest = forest_with(THREAD, orphans)
    shown, stubs = walk(forest.more_children(LINK, ["k", "l2", "l3"], sort="confidence", budget=2))
    assert shown == {"k", "l2"}  # best first: k (80), then l2 (5) before k's replies (1)
    below_k = [s for s in stubs if s["parent_id"] == "t1_k"]
    assert [sorted(s["children"]) for s in below_k] == [["k1", "k2"]]  # a shown comment's hidden replies
    leftover = [s for s in stubs if s["parent_id"] == "t1_p"]
    if orphans == "vanish":  # the archived builder: a requested depth-1 id that did not fit vanishes
        assert leftover == []
    else:
        assert [s["children"] for s in leftover] == [["l3"]]


@pytest.mark.parametrize("orphans", ["vanish", "stub"])
def test_top_level_ids_that_miss_the_budget_come_back_in_a_stub_under_both_rules(orphans: str) -> None:
    forest = forest_with([comment(f"t{i}", f"t3_{LINK}", 50 - i) for i in range(5)], orphans)
    shown, stubs = walk(forest.more_children(LINK, [f"t{i}" for i in range(5)], sort="confidence", budget=2))
    assert shown == {"t0", "t1"}
    assert [sorted(s["children"]) for s in stubs] == [["t2", "t3", "t4"]] and stubs[0]["count"] == 3


def test_a_deleted_leaf_has_no_permalink_answer_but_info_shows_it() -> None:
    forest = forest_with(THREAD)
    assert forest.tree(LINK, limit=500, sort="confidence", root="d2")[1]["data"]["children"] == []
    with FakeReddit(forest, quota=10**9) as server:
        client = RedditClient(settings_for(server))
        listing = client.info(["t1_d2", "t1_l2"])
    things = {t["data"]["id"]: t["data"] for t in listing["data"]["children"]}
    assert things["d2"]["author"] == things["d2"]["body"] == "[deleted]" and things["l2"]["body"] == "text of l2"


def test_unknown_orphan_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="orphans"):
        Forest(orphans="sometimes")


@pytest.mark.parametrize("shape", SHAPES)
def test_generated_shapes_have_the_asked_shares(shape: str) -> None:
    submission, comments = generate_shaped("g1", 1000, shape=shape, seed=2)
    assert len(comments) == 1000 and submission["num_comments"] == 1000
    forest = forest_with([])
    forest.add_thread(submission, comments)
    deleted = forest.deleted_leaf_ids("g1")
    removed = sum(c["body"] == "[removed]" for c in comments)
    account = sum(c["author"] == "[deleted]" and c["body"] not in ("[deleted]", "[removed]") for c in comments)
    assert (len(deleted), removed, account) == (40, 15, 30)
    thread = forest.threads["g1"]
    top = sum(c["parent_id"].startswith("t3_") for c in comments)
    deepest = max(thread.depth(c["id"]) for c in comments)
    if shape == "ama":
        assert top >= 750
    if shape == "chains":
        assert deepest >= 30


def test_the_forest_copies_json_values_as_deepcopy_does() -> None:
    """The forest's answers share no mutable part with its comments (nor with what was added)."""
    value: Any = {"a": [1, {"b": [None, True, 2.5, "s"]}], "c": {"d": {}}, "e": (1, [2]), "f": "x"}
    copied = _copy(value)
    assert copied == copy.deepcopy(value) and type(copied["e"]) is tuple
    assert copied is not value and copied["a"] is not value["a"] and copied["a"][1]["b"] is not value["a"][1]["b"]
    assert copied["c"]["d"] is not value["c"]["d"] and copied["e"][1] is not value["e"][1]
    forest = forest_with([])
    comment = {
        "id": "c1",
        "name": "t1_c1",
        "parent_id": "t3_s1",
        "link_id": "t3_s1",
        "body": "b",
        "created_utc": 2.0,
        "extra": {"k": [1]},
    }
    submission = {"id": "s1", "name": "t3_s1", "subreddit": "x", "title": "t", "meta": {"k": [1]}}
    forest.add_thread(submission, [comment])
    comment["extra"]["k"].append(2)
    submission["meta"]["k"].append(2)
    shown = forest.tree("s1", limit=10, sort="new")
    data = shown[1]["data"]["children"][0]["data"]
    assert data["extra"] == {"k": [1]} and shown[0]["data"]["children"][0]["data"]["meta"] == {"k": [1]}
    data["extra"]["k"].append(3)
    assert forest.threads["s1"].comments["c1"]["extra"] == {"k": [1]}
