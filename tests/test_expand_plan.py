"""Which request the expansion makes next, from what the stubs of an answer say (issue 11: "plan from what the
stub says"; docs/PERFORMANCE.md "Comment trees").

Each case hands the expansion one crafted tree answer and checks its next request: a big known subtree's
permalink even when it does not fit one answer, a lone id's permalink instead of a morechildren call for it,
the first of few ids averaging more than a tree answer through its permalink, and leaves queued for
/api/info riding in the room of a morechildren call of their depth.
"""

from __future__ import annotations

from typing import Any

from scraper.collect.expand import Expansion

LINK = "pl1"


def comment(cid: str, parent: str, depth: int, replies: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "kind": "t1",
        "data": {
            "id": cid,
            "name": f"t1_{cid}",
            "parent_id": parent,
            "depth": depth,
            "body": "text",
            "author": "someone",
            "replies": {"kind": "Listing", "data": {"children": replies or []}} if replies else "",
        },
    }


def stub(parent: str, depth: int, ids: list[str], count: int) -> dict[str, Any]:
    return {
        "kind": "more",
        "data": {
            "id": ids[0],
            "name": f"t1_{ids[0]}",
            "parent_id": parent,
            "depth": depth,
            "count": count,
            "children": ids,
        },
    }


def thread(*things: dict[str, Any]) -> list[Any]:
    submission = {"kind": "t3", "data": {"id": LINK, "name": f"t3_{LINK}", "num_comments": 5000}}
    return [
        {"kind": "Listing", "data": {"children": [submission]}},
        {"kind": "Listing", "data": {"children": list(things)}},
    ]


class Scripted:
    """Answers the thread with ``tree`` and records every later request without answering it."""

    def __init__(self, tree: list[Any]) -> None:
        self.tree = tree
        self.asked: list[tuple[str, Any]] = []

    def comment_tree(self, link: str, *, comment: str | None = None, sort: str = "", limit: int = 0) -> list[Any]:
        if comment is None:
            return self.tree
        self.asked.append(("permalink", comment))
        return thread()

    def more_children(self, link_fullname: str, ids: list[str], *, sort: str = "") -> list[Any]:
        self.asked.append(("morechildren", list(ids)))
        return []

    def info(self, fullnames: list[str]) -> dict[str, Any]:
        self.asked.append(("info", list(fullnames)))
        return {"kind": "Listing", "data": {"children": []}}


def next_request(tree: list[Any]) -> tuple[str, Any]:
    client = Scripted(tree)
    expansion = Expansion(LINK)
    expansion.step(client)  # the thread
    expansion.step(client)
    assert client.asked, "the second step made no request"
    return client.asked[0]


def test_a_held_comment_whose_hidden_replies_outgrow_one_answer_gets_its_permalink() -> None:
    """700 replies hidden below a comment shown alone: more than one tree answer holds (450 of its 500 are
    taken as room), so the old rule (a permalink only for a subtree that fits) asked 100 ids at a time,
    seven calls of 100; its permalink shows ~500 of them at once and the rest follow by morechildren."""
    ids = [f"r{i}" for i in range(700)]
    tree = thread(comment("big", f"t3_{LINK}", 0, [stub("t1_big", 1, ids, 700)]))
    assert next_request(tree) == ("permalink", "big")


def test_a_stub_hiding_less_than_two_answers_below_a_big_comment_still_goes_to_morechildren() -> None:
    """The permalink of a comment whose held subtree fills most of a tree answer brings little new: 150 ids
    (counting 300) hidden below a comment with 420 shown replies stay with morechildren."""
    shown = [comment(f"s{i}", "t1_big", 1) for i in range(420)]
    ids = [f"r{i}" for i in range(150)]
    tree = thread(comment("big", f"t3_{LINK}", 0, [*shown, stub("t1_big", 1, ids, 300)]))
    kind, _ = next_request(tree)
    assert kind == "morechildren"


def test_one_id_hiding_more_than_a_morechildren_answer_goes_to_its_permalink() -> None:
    """A top-level stub listing one id that counts 150 comments: a morechildren call would show at most 100 of
    its subtree down to depth 9; its permalink shows up to 500, ten levels below it, for the same request.
    One counting 60 keeps its morechildren call (the same answer either way)."""
    tree = thread(comment("a", f"t3_{LINK}", 0), stub(f"t3_{LINK}", 0, ["lone"], 150))
    assert next_request(tree) == ("permalink", "lone")
    tree = thread(comment("a", f"t3_{LINK}", 0), stub(f"t3_{LINK}", 0, ["lone"], 60))
    assert next_request(tree) == ("morechildren", ["lone"])


def test_a_lone_leaf_is_not_asked_by_permalink() -> None:
    """An id whose stub counts only itself is a leaf: /api/info (it may be a deleted leaf, whose permalink
    shows nothing)."""
    tree = thread(comment("a", f"t3_{LINK}", 0), stub(f"t3_{LINK}", 0, ["leaf"], 1))
    assert next_request(tree) == ("info", ["t1_leaf"])


def test_few_ids_averaging_more_than_a_tree_answer_start_with_the_first_ones_permalink() -> None:
    """Three ids counting 1,500 comments (500 each, more than one tree answer shows): the first id's
    permalink; three ids counting 300 (100 each) share a morechildren call."""
    big = thread(comment("a", f"t3_{LINK}", 0), stub(f"t3_{LINK}", 0, ["x1", "x2", "x3"], 1500))
    kind, asked = next_request(big)
    assert kind == "permalink" and asked in {"x1", "x2", "x3"}
    small = thread(comment("a", f"t3_{LINK}", 0), stub(f"t3_{LINK}", 0, ["x1", "x2", "x3"], 300))
    kind, asked = next_request(small)
    assert kind == "morechildren" and set(asked) == {"x1", "x2", "x3"}


def test_leaves_queued_for_info_ride_in_the_room_of_a_morechildren_call_of_their_depth() -> None:
    """Below one comment five ids counting 10 (a morechildren call that fills a tenth of its budget); below
    another, two leaves (count 2): they ride in that call, which shows them if live (a user-deleted one
    shows nothing and goes on to /api/info), instead of waiting for an info call; a leaf of another depth
    does not (morechildren serves only the shallowest depth asked)."""
    ids = [f"q{i}" for i in range(5)]
    tree = thread(
        comment("a", f"t3_{LINK}", 0, [stub("t1_a", 1, ids, 10)]),
        comment(
            "b",
            f"t3_{LINK}",
            0,
            [stub("t1_b", 1, ["l1", "l2"], 2), comment("c", "t1_b", 1, [stub("t1_c", 2, ["deep"], 1)])],
        ),
    )
    kind, asked = next_request(tree)
    assert kind == "morechildren"
    assert set(asked) >= {*ids, "l1", "l2"} and "deep" not in asked
