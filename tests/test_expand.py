"""Tree expansion edge cases, with a scripted client that answers exactly as told."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from scraper.collect import expand
from scraper.collect.expand import BUDGET, GROUP_MAX_HELD, ROOT_MAX, Expansion, expand_thread
from scraper.errors import TooManyIds


def t1(cid: str, parent: str, replies: list[dict[str, Any]] | None = None, depth: int = 0) -> dict[str, Any]:
    listing: Any = {"kind": "Listing", "data": {"children": replies}} if replies else ""
    return {
        "kind": "t1",
        "data": {
            "id": cid,
            "name": f"t1_{cid}",
            "parent_id": parent,
            "link_id": "t3_L",
            "depth": depth,
            "replies": listing,
        },
    }


def more(parent: str, ids: list[str], count: int | None = None) -> dict[str, Any]:
    return {
        "kind": "more",
        "data": {
            "id": ids[0],
            "name": f"t1_{ids[0]}",
            "parent_id": parent,
            # Reddit's count includes descendants; by default say each id has one reply (not a leaf).
            "count": count if count is not None else 2 * len(ids),
            "children": ids,
        },
    }


def cont(parent: str) -> dict[str, Any]:
    return {"kind": "more", "data": {"id": "_", "name": "t1__", "parent_id": parent, "count": 0, "children": []}}


def tree(top: list[dict[str, Any]]) -> list[Any]:
    sub = {"kind": "t3", "data": {"id": "L", "name": "t3_L", "num_comments": 99}}
    return [{"kind": "Listing", "data": {"children": [sub]}}, {"kind": "Listing", "data": {"children": top}}]


class Scripted:
    """Answers comment_tree and more_children from functions; records every call."""

    def __init__(
        self,
        first: list[Any],
        more_answer: Callable[[list[str]], list[Any]],
        subtree: Callable[[str], list[Any]] | None = None,
    ) -> None:
        self.first, self.more_answer = first, more_answer
        self.subtree = subtree or (lambda c: tree([]))
        self.info_answer: Callable[[str], dict[str, Any] | None] = lambda name: None
        self.calls: list[tuple[str, Any]] = []

    def comment_tree(self, link: str, *, comment: str | None = None, sort: str = "", limit: int = 0) -> list[Any]:
        self.calls.append(("tree", comment))
        return self.first if comment is None else self.subtree(comment)

    def more_children(self, link_fullname: str, ids: list[str], *, sort: str = "") -> list[Any]:
        self.calls.append(("more", list(ids)))
        return self.more_answer(ids)

    def info(self, fullnames: list[str]) -> dict[str, Any]:
        self.calls.append(("info", list(fullnames)))
        found = [thing for thing in map(self.info_answer, fullnames) if thing]
        return {"kind": "Listing", "data": {"children": found}}


def test_ids_of_several_stubs_at_one_depth_share_a_call() -> None:
    first = tree(
        [
            t1("a", "t3_L", [more("t1_a", ["a1", "a2"])]),
            t1("b", "t3_L", [more("t1_b", ["b1"])]),
            more("t3_L", ["c", "d"]),
        ]
    )
    a1, a2, b1 = t1("a1", "t1_a", depth=1), t1("a2", "t1_a", depth=1), t1("b1", "t1_b", depth=1)
    answers = {
        "c": [t1("c", "t3_L")],
        "d": [t1("d", "t3_L")],
        "a": [t1("a", "t3_L"), a1, a2],
        "b": [t1("b", "t3_L"), b1],
    }
    client = Scripted(first, lambda ids: [thing for i in ids for thing in answers[i]])
    result = expand_thread(client, "L")
    assert result.complete and result.held == 7
    # Reddit serves the ids of one depth a call, with their subtrees: the depth-0 ids, and the held depth-0
    # comments whose answers bring the depth-1 stubs below them, in one call
    assert client.calls == [("tree", None), ("more", ["c", "d", "a", "b"])]


def test_ids_of_several_stubs_at_one_depth_share_a_call_when_there_is_no_room() -> None:
    shown = [t1(f"s{i}", "t1_a", depth=1) for i in range(100)]
    first = tree(
        [
            t1("a", "t3_L", [*shown, more("t1_a", ["a1", "a2"])]),
            t1("b", "t3_L", [more("t1_b", ["b1"])]),
            more("t3_L", ["c", "d"]),
        ]
    )
    answers = {
        "c": t1("c", "t3_L"),
        "d": t1("d", "t3_L"),
        "a1": t1("a1", "t1_a", depth=1),
        "a2": t1("a2", "t1_a", depth=1),
        "b": t1("b", "t3_L"),
        "b1": t1("b1", "t1_b", depth=1),
    }
    client = Scripted(first, lambda ids: [answers[i] for i in ids] + ([answers["b1"]] if "b" in ids else []))
    result = expand_thread(client, "L")
    assert result.complete and result.held == 107
    # a's 100 shown replies leave no room to ask a again: its stub waits for the call of depth 1
    assert client.calls == [("tree", None), ("more", ["c", "d", "b"]), ("more", ["a1", "a2"])]


def test_nested_stubs_and_continue_inside_morechildren_are_followed() -> None:
    first = tree([t1("a", "t3_L"), more("t3_L", ["b"])])

    def more_answer(ids: list[str]) -> list[Any]:
        if ids == ["b"]:
            return [t1("b", "t3_L"), t1("b1", "t1_b", depth=1), more("t1_b1", ["b2"]), cont("t1_b1")]
        return [t1("b2", "t1_b1", depth=2)]

    def subtree(comment: str) -> list[Any]:
        return tree([t1("b1", "t1_b", [t1("deep", "t1_b1", depth=1)])])

    client = Scripted(first, more_answer, subtree)
    expansion = Expansion("L")
    result = expand_thread(client, "L", expansion=expansion)
    assert result.complete and result.held == 5
    assert ("tree", "b1") in client.calls
    assert expansion.depth["deep"] == 2 and expansion.depth["b2"] == 2


def test_vanished_ids_are_classified_through_info_never_by_permalink_on_a_guess() -> None:
    # b is a user-deleted leaf (info shows [deleted]), c a live comment morechildren dropped, d gone.
    first = tree([t1("p", "t3_L", [more("t1_p", ["a", "b", "c", "d"], count=6)])])
    client = Scripted(
        first,
        lambda ids: (
            [t1("a", "t1_p", depth=1)]
            if "a" in ids
            else [t1("c", "t1_p", depth=1), t1("c1", "t1_c", depth=2)]
            if ids == ["c"]
            else []
        ),
    )
    gone = {"kind": "t1", "data": {**t1("b", "t1_p")["data"], "author": "[deleted]", "body": "[deleted]"}}
    client.info_answer = lambda name: {"t1_b": gone, "t1_c": t1("c", "t1_p")}.get(name)
    expansion = Expansion("L")
    result = expand_thread(client, "L", expansion=expansion)
    assert [kind for kind, _ in client.calls] == ["tree", "more", "info", "more"]
    assert client.calls[2] == ("info", ["t1_b", "t1_c", "t1_d"])  # one call classifies all three
    assert client.calls[3] == ("more", ["c"])  # the live one's replies, asked again alone
    assert result.held == 5 and expansion.deleted == {"b"} and result.deleted_leaves == 1
    assert result.unresolved == {"d": "announced by a stub, returned neither by morechildren nor /api/info"}
    assert result.vanished == 3 and expansion.depth["c1"] == 2
    assert not any(kind == "tree" and arg in ("b", "c", "d") for kind, arg in client.calls)


def test_empty_results_end_the_loop_with_every_id_unresolved() -> None:
    first = tree([more("t3_L", [f"x{i}" for i in range(5)])])
    client = Scripted(first, lambda ids: [])
    result = expand_thread(client, "L")
    assert result.held == 0 and len(result.unresolved) == 5
    assert [kind for kind, _ in client.calls] == ["tree", "more", "info"]


def test_ids_left_for_a_new_stub_are_not_counted_as_dropped() -> None:
    first = tree([more("t3_L", ["a", "b", "c"])])

    def more_answer(ids: list[str]) -> list[Any]:  # answers one id a call, the rest in a new stub
        head, rest = ids[0], ids[1:]
        return [t1(head, "t3_L")] + ([more("t3_L", rest)] if rest else [])

    client = Scripted(first, more_answer)
    result = expand_thread(client, "L")
    assert result.complete and result.held == 3
    assert all(kind == "more" for kind, _ in client.calls[1:])


@pytest.mark.parametrize("limit", [1, 7, 40])
def test_too_long_id_lists_are_split_until_accepted(limit: int) -> None:
    ids = [f"i{n}" for n in range(90)]
    first = tree([more("t3_L", ids)])

    def more_answer(asked: list[str]) -> list[Any]:
        if len(asked) > limit:
            raise TooManyIds("413")
        return [t1(i, "t3_L") for i in asked]

    client = Scripted(first, more_answer)
    result = expand_thread(client, "L")
    assert result.complete and result.held == 90
    asked = [list(c[1]) for c in client.calls if c[0] == "more"]
    accepted = [batch for batch in asked if len(batch) <= limit]
    refused = [batch for batch in asked if len(batch) > limit]
    # every id accepted exactly once, in batches the server takes; each refusal was split, not dropped
    assert sorted(i for batch in accepted for i in batch) == sorted(ids)
    assert all(0 < len(batch) <= limit for batch in accepted)
    assert (len(refused) > 0) == (limit < 90)
    assert all(set(batch) <= {i for later in accepted for i in later} for batch in refused)


def test_a_big_subtree_behind_one_id_goes_through_its_permalink() -> None:
    # A stub's count does not say whether its comments lie in a chain past depth 10 (which no answer shows
    # past depth 9) or in a wide subtree; either way the id's permalink shows as much as a morechildren call
    # for it (ten levels below it, up to ~500 comments, against depth 9 and ~100), for the same request.
    first = tree([t1("a", "t3_L", [more("t1_a", ["big"], count=ROOT_MAX + 1)])])
    kids = [t1(f"k{i}", "t1_big", depth=1) for i in range(65)]
    client = Scripted(first, lambda ids: [], subtree=lambda c: tree([t1("big", "t1_a", kids)]) if c == "big" else [])
    result = expand_thread(client, "L")
    assert result.complete and result.held == 2 + 65
    assert client.calls == [("tree", None), ("tree", "big")]


def test_a_stub_more_than_one_morechildren_answer_goes_through_its_parents_permalink() -> None:
    # five ids hiding 115 comments (at most 3 per id and level above depth 10 could show: 135)
    ids = ["b", "c", "d", "e", "f"]
    first = tree([t1("a", "t3_L", [t1("x", "t1_a", depth=1), more("t1_a", ids, count=BUDGET + 20)])])
    answer = tree([t1("a", "t3_L", [t1("b", "t1_a", [t1("b1", "t1_b")]), *(t1(i, "t1_a") for i in ids[1:])])])
    client = Scripted(first, lambda ids: [], subtree=lambda c: answer if c == "a" else tree([]))
    result = expand_thread(client, "L")
    assert result.complete and result.held == 8
    assert client.calls == [("tree", None), ("tree", "a")]  # one request for 120, not two morechildren


def test_continue_stub_whose_permalink_fails_is_unresolved_not_looped() -> None:
    first = tree([t1("a", "t3_L", [cont("t1_a")])])
    client = Scripted(first, lambda ids: [], subtree=lambda c: tree([t1("other", "t3_L", [cont("t1_other")])]))
    result = expand_thread(client, "L")
    assert result.unresolved == {"continue:a": "the subtree's permalink did not return its comment"}
    assert len(client.calls) == 2


def test_replay_of_archived_answers_resumes_without_asking_again() -> None:
    first = tree([t1("a", "t3_L"), more("t3_L", ["b", "c"])])
    answers = {"b": t1("b", "t3_L"), "c": t1("c", "t3_L")}
    client = Scripted(
        first, lambda ids: [answers[ids[0]], more("t3_L", ids[1:])] if len(ids) > 1 else [answers[ids[0]]]
    )
    expansion = Expansion("L")
    expansion.replay({"url": "https://oauth.reddit.com/comments/L/", "status": 200}, first)
    expansion.replay(
        {"url": "https://oauth.reddit.com/api/morechildren/", "status": 200, "form": {"children": "b,c"}},
        {"json": {"data": {"things": [answers["b"], more("t3_L", ["c"])]}}},
    )
    result = expand_thread(client, "L", expansion=expansion)
    assert result.complete and result.held == 3
    assert client.calls == [("more", ["c"])]


def test_stubs_of_known_leaves_at_several_depths_share_one_info_call() -> None:
    # count == len(children): each stub announces leaves; three depths would be three morechildren calls.
    first = tree(
        [
            t1("a", "t3_L", [t1("a1", "t1_a", [more("t1_a1", ["x3", "x4"], count=2)], depth=1)]),
            t1("b", "t3_L", [more("t1_b", ["x1", "x2"], count=2)]),
            more("t3_L", ["x0"], count=1),
        ]
    )
    parents = {"x0": "t3_L", "x1": "t1_b", "x2": "t1_b", "x3": "t1_a1", "x4": "t1_a1"}
    client = Scripted(first, lambda ids: [])
    client.info_answer = lambda name: t1(name[3:], parents[name[3:]]) if name[3:] in parents else None
    expansion = Expansion("L")
    result = expand_thread(client, "L", expansion=expansion)
    assert result.complete and result.held == 8
    assert [kind for kind, _ in client.calls] == ["tree", "info"]
    assert sorted(client.calls[1][1]) == ["t1_x0", "t1_x1", "t1_x2", "t1_x3", "t1_x4"]
    assert result.requests == {"comments": 1, "info": 1}
    assert [expansion.depth[c] for c in ("x0", "x1", "x3")] == [0, 1, 2]  # from the parents held, not the answer


def test_a_leaf_morechildren_keeps_dropping_is_asked_through_info_not_its_permalink() -> None:
    # "b" and "c" hide replies (count 4), so morechildren is the right call; "l1", "l2" are leaves it drops.
    first = tree([more("t3_L", ["b", "c"], count=4), t1("p", "t3_L", [more("t1_p", ["l1", "l2"], count=2)])])

    def more_answer(ids: list[str]) -> list[Any]:
        if "b" in ids:
            return [t1("b", "t3_L"), t1("b1", "t1_b", depth=1), t1("c", "t3_L"), t1("c1", "t1_c", depth=1)]
        return []

    client = Scripted(first, more_answer)
    client.info_answer = lambda name: t1("l1", "t1_p") if name == "t1_l1" else None
    result = expand_thread(client, "L")
    assert result.held == 6
    assert [kind for kind, _ in client.calls] == ["tree", "more", "info"]
    assert result.unresolved == {"l2": "announced by a stub, returned neither by morechildren nor /api/info"}


def test_replayed_info_answers_are_not_asked_again() -> None:
    first = tree([t1("p", "t3_L", [more("t1_p", ["l1", "l2"], count=2)])])
    client = Scripted(first, lambda ids: [])
    expansion = Expansion("L")
    expansion.replay({"url": "https://oauth.reddit.com/comments/L/", "status": 200}, first)
    expansion.replay(
        {"url": "https://oauth.reddit.com/api/info/", "status": 200, "params": {"id": "t1_l1,t1_l2"}},
        {"kind": "Listing", "data": {"children": [t1("l1", "t1_p"), t1("l2", "t1_p")]}},
    )
    result = expand_thread(client, "L", expansion=expansion)
    assert result.complete and result.held == 3 and client.calls == []


def chain(ids: list[str], parent: str, end: list[dict[str, Any]]) -> dict[str, Any]:
    """Comments each replying to the one before, ``end`` below the last."""
    node = t1(ids[-1], f"t1_{ids[-2]}" if len(ids) > 1 else parent, end, depth=len(ids) - 1)
    for n in range(len(ids) - 2, -1, -1):
        node = t1(ids[n], f"t1_{ids[n - 1]}" if n else parent, [node], depth=n)
    return node


def two_continues() -> list[Any]:
    """Depth 0-5 shared ("r0".."r5"), then two branches to depth 9, each with a continue stub."""
    left = chain([f"a{n}" for n in range(6, 10)], "t1_r5", [cont("t1_a9")])
    right = chain([f"b{n}" for n in range(6, 10)], "t1_r5", [cont("t1_b9")])
    shared = chain([f"r{n}" for n in range(6)], "t3_L", [])
    node = shared
    while node["data"]["replies"]:
        node = node["data"]["replies"]["data"]["children"][0]
    node["data"]["replies"] = {"kind": "Listing", "data": {"children": [left, right]}}
    return tree([shared])


def test_continue_parents_below_one_ancestor_share_its_permalink() -> None:
    def subtree(comment: str) -> list[Any]:
        assert comment == "r5"  # a9 and b9 are 4 levels below r5: r5's answer shows both with replies
        return tree(
            [
                t1(
                    "r5",
                    "t1_r4",
                    [
                        chain(["a6", "a7", "a8", "a9", "a10"], "t1_r5", []),
                        chain(["b6", "b7", "b8", "b9", "b10", "b11"], "t1_r5", []),
                    ],
                )
            ]
        )

    client = Scripted(two_continues(), lambda ids: [], subtree)
    expansion = Expansion("L")
    result = expand_thread(client, "L", expansion=expansion)
    assert result.complete and result.held == 6 + 8 + 3
    assert client.calls == [("tree", None), ("tree", "r5")]
    assert expansion.depth["b11"] == 11 and expansion.continued == {"a9", "b9"}


def test_an_ancestor_that_fails_is_not_asked_again_its_continue_parents_go_one_by_one() -> None:
    def subtree(comment: str) -> list[Any]:
        if comment == "r5":
            return tree([t1("zz", "t3_L")])  # Reddit ignored the comment: the whole thread, not r5
        return tree([t1(comment, "t1_x", [t1(f"{comment}-reply", f"t1_{comment}")])])

    client = Scripted(two_continues(), lambda ids: [], subtree)
    result = expand_thread(client, "L")
    assert result.complete and result.held == 6 + 8 + 2
    assert client.calls == [("tree", None), ("tree", "r5"), ("tree", "a9"), ("tree", "b9")]


def test_stubs_at_depth_ten_or_more_skip_morechildren() -> None:
    first = tree([chain([f"a{n}" for n in range(10)], "t3_L", [cont("t1_a9")])])

    def subtree(comment: str) -> list[Any]:
        if comment == "a9":  # depth restarts at 0: the stub below a10 hides "m" at absolute depth 11
            return tree([t1("a9", "t1_a8", [t1("a10", "t1_a9", [more("t1_a10", ["m"], count=3)], depth=1)])])
        if comment == "a10":  # the stub's parent: its answer shows m and eight levels below
            return tree([t1("a10", "t1_a9", [t1("m", "t1_a10", [t1("m1", "t1_m", [t1("m2", "t1_m1")])])])])
        return tree([])

    client = Scripted(first, lambda ids: [], subtree)
    expansion = Expansion("L")
    result = expand_thread(client, "L", expansion=expansion)
    assert result.complete and expansion.depth["m2"] == 13
    assert client.calls == [("tree", None), ("tree", "a9"), ("tree", "a10")]


def test_a_stub_announced_again_and_again_without_progress_is_not_looped_on() -> None:
    first = tree([more("t3_L", ["a", "b"])])
    client = Scripted(first, lambda ids: [more("t3_L", ids)])  # never serves, always re-announces
    result = expand_thread(client, "L")
    assert set(result.unresolved) == {"a", "b"}
    assert [kind for kind, _ in client.calls] == ["tree", "more", "more", "info"]


def test_a_replayed_shared_ancestor_answer_settles_its_continue_parents() -> None:
    answer = tree([t1("r5", "t1_r4", [chain(["a6", "a7", "a8", "a9", "a10"], "t1_r5", [])])])
    client = Scripted(two_continues(), lambda ids: [], lambda c: tree([t1(c, "t1_x", [t1("b10", "t1_b9")])]))
    expansion = Expansion("L")
    expansion.replay({"url": "https://oauth.reddit.com/comments/L/", "status": 200}, two_continues())
    expansion.replay({"url": "https://oauth.reddit.com/comments/L/_/r5/", "status": 200}, answer)
    result = expand_thread(client, "L", expansion=expansion)
    # a9's replies came with r5's answer (replayed, not asked again); b9 was not in it: its own permalink.
    assert result.complete and expansion.depth["a10"] == 10 and expansion.depth["b10"] == 10
    assert client.calls == [("tree", "b9")]


def test_an_ancestor_with_too_big_a_subtree_is_not_shared() -> None:
    # r5 also holds GROUP_MAX_HELD leaves: its answer might not show a9 and b9, so each goes alone.
    first = two_continues()
    node = first[1]["data"]["children"][0]
    while node["data"]["id"] != "r5":
        node = node["data"]["replies"]["data"]["children"][0]
    node["data"]["replies"]["data"]["children"] += [t1(f"leaf{n}", "t1_r5", depth=6) for n in range(GROUP_MAX_HELD)]
    client = Scripted(first, lambda ids: [], lambda c: tree([t1(c, "t1_x", [t1(f"{c}-reply", f"t1_{c}")])]))
    result = expand_thread(client, "L")
    assert result.complete
    assert client.calls == [("tree", None), ("tree", "a9"), ("tree", "b9")]


def test_ids_an_exhausted_answer_cut_are_asked_again_with_fewer_siblings_before_any_info_call() -> None:
    # p shows 400 leaves (too many to refetch through its permalink) and a stub of four ids hiding 95
    # comments: one morechildren call. Its answer spends the budget on "a" and its 88 replies, so "b",
    # "c", "d" vanish (the archived builder makes no stub for them); each has one reply. The budget may
    # have cut them, so they ride in the next call of their depth, which shows them: no info call.
    shown = [t1(f"s{i}", "t1_p", depth=1) for i in range(400)]
    first = tree([t1("p", "t3_L", [*shown, more("t1_p", ["a", "b", "c", "d"], count=95)])])
    replies = [t1(f"a{i}", "t1_a", depth=2) for i in range(88)]

    def more_answer(ids: list[str]) -> list[Any]:
        if "a" in ids:
            return [t1("a", "t1_p", depth=1), *replies]
        return [t1(i, "t1_p", depth=1) for i in ids] + [t1(f"{i}1", f"t1_{i}", depth=2) for i in ids]

    client = Scripted(first, more_answer)
    gone = {"kind": "t1", "data": {**t1("d", "t1_p")["data"], "author": "[deleted]", "body": "[deleted]"}}
    client.info_answer = lambda name: gone if name == "t1_d" else t1(name[3:], "t1_p")
    expansion = Expansion("L")
    result = expand_thread(client, "L", expansion=expansion)
    assert result.complete, result.unresolved
    assert [kind for kind, _ in client.calls] == ["tree", "more", "more"]
    assert sorted(client.calls[2][1]) == ["b", "c", "d"]
    assert {"b1", "c1", "d1"} <= set(expansion.depth) and result.held == 1 + 400 + 1 + 88 + 3 + 3
    assert expansion.deleted == set()  # d had a reply: not a deleted leaf


def test_a_deleted_id_the_stub_count_leaves_no_reply_is_settled_without_asking_again() -> None:
    shown = [t1(f"s{i}", "t1_p", depth=1) for i in range(400)]
    first = tree([t1("p", "t3_L", [*shown, more("t1_p", ["a", "d"], count=92)])])
    replies = [t1(f"a{i}", "t1_a", depth=2) for i in range(90)]
    client = Scripted(first, lambda ids: [t1("a", "t1_p", depth=1), *replies] if "a" in ids else [])
    gone = {"kind": "t1", "data": {**t1("d", "t1_p")["data"], "author": "[deleted]", "body": "[deleted]"}}
    client.info_answer = lambda name: gone if name == "t1_d" else None
    expansion = Expansion("L")
    result = expand_thread(client, "L", expansion=expansion)
    # a and its 90 replies and d make up the stub's 92: d has no reply, a deleted leaf
    assert [kind for kind, _ in client.calls] == ["tree", "more", "info"]
    assert result.complete and expansion.deleted == {"d"} and result.deleted_leaves == 1


def test_an_id_dropped_twice_by_answers_the_budget_did_not_cut_is_a_deleted_leaf_info_settles() -> None:
    # "a" and its 90 replies spend the first answer's budget; "d" and "x" are missing and the stub's
    # count leaves room for replies below them, so both ride in the next call of their depth. That
    # answer, far from the budget, shows x and its reply and still not d: d was picked and dropped, a
    # deleted leaf for certain, which /api/info settles as a tombstone, with no request of its own.
    shown = [t1(f"s{i}", "t1_p", depth=1) for i in range(400)]
    first = tree([t1("p", "t3_L", [*shown, more("t1_p", ["a", "d", "x"], count=95)])])
    replies = [t1(f"a{i}", "t1_a", depth=2) for i in range(90)]

    def more_answer(ids: list[str]) -> list[Any]:
        if "a" in ids:
            return [t1("a", "t1_p", depth=1), *replies]
        return [t1("x", "t1_p", depth=1), t1("x1", "t1_x", depth=2)] if "x" in ids else []

    client = Scripted(first, more_answer)
    gone = {"kind": "t1", "data": {**t1("d", "t1_p")["data"], "author": "[deleted]", "body": "[deleted]"}}
    client.info_answer = lambda name: gone if name == "t1_d" else None
    expansion = Expansion("L")
    result = expand_thread(client, "L", expansion=expansion)
    assert [kind for kind, _ in client.calls] == ["tree", "more", "more", "info"]
    assert sorted(client.calls[2][1]) == ["d", "x"] and client.calls[3][1] == ["t1_d"]
    assert result.complete and expansion.deleted == {"d"} and result.held == 1 + 400 + 91 + 2 + 1
    assert result.vanished == 2 and result.on_vanished <= math.ceil(result.vanished / 100) + 1


def cut_twice_client() -> Scripted:
    """p shows 400 leaves and a stub of six ids: c1, c2, c3 with 98 replies each (one fills an answer's
    budget), c4, c5 with one reply, and b, a user-deleted leaf ranked last by the builder, so every
    answer that has a big id in it cuts b (the archived builder makes no stub for ids it cuts).  The
    count also holds a deleted leaf below c1 that the builder drops unannounced, so the count alone
    cannot tell whether b has a reply."""
    shown = [t1(f"s{i}", "t1_p", depth=1) for i in range(400)]
    ids = ["b", "c1", "c2", "c3", "c4", "c5"]
    replies = {"c1": 98, "c2": 98, "c3": 98, "c4": 1, "c5": 1}
    first = tree([t1("p", "t3_L", [*shown, more("t1_p", ids, count=2 + sum(1 + n for n in replies.values()))])])

    def more_answer(asked: list[str]) -> list[Any]:
        things: list[Any] = []
        spent = 0
        for cid in sorted(asked, key=lambda c: (c == "b", c)):  # best first; b last
            cost = 1 + replies.get(cid, 0)
            if spent + cost > BUDGET:
                break  # the budget is spent: this id and the rest are cut
            spent += cost
            if cid != "b":  # b spends budget and is shown nowhere
                things += [t1(cid, "t1_p", depth=1)]
                things += [t1(f"{cid}r{i}", f"t1_{cid}", depth=2) for i in range(replies[cid])]
        return things

    client = Scripted(first, more_answer)
    gone = {"kind": "t1", "data": {**t1("b", "t1_p")["data"], "author": "[deleted]", "body": "[deleted]"}}
    client.info_answer = lambda name: gone if name == "t1_b" else None
    return client


def test_an_id_cut_twice_rides_again_while_ids_of_its_depth_never_asked_wait() -> None:
    # b is cut by the first two answers; ids of its depth never asked (c4, c5) still wait, so b rides in
    # their calls, asked-again ids first, rather than going to /api/info as "cut or deleted?": the answer
    # that shows c4 and c5 is far from the budget and still leaves b out, so b is a dropped deleted leaf
    # for certain, settled by the info call alone.
    client = cut_twice_client()
    expansion = Expansion("L")
    result = expand_thread(client, "L", expansion=expansion)
    assert result.complete, result.unresolved
    asks = [ids for kind, ids in client.calls if kind == "more"]
    assert asks == [["b", "c1", "c2"], ["b", "c2", "c3"], ["b", "c3", "c4"], ["b", "c4", "c5"]]
    assert [kind for kind, _ in client.calls] == ["tree", "more", "more", "more", "more", "info"]
    assert expansion.deleted == {"b"} and result.held == 1 + 400 + 1 + 3 * 99 + 2 * 2


def test_without_riding_again_the_cut_id_costs_a_lone_call_at_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    # The same thread when an id goes to /api/info after two cuts (the rule before): info shows b
    # [deleted] without saying whether it has replies, so its replies are asked in a call of its own.
    monkeypatch.setattr(expand, "CUT_TRIES", expand.MORECHILDREN_TRIES)
    client = cut_twice_client()
    expansion = Expansion("L")
    result = expand_thread(client, "L", expansion=expansion)
    assert result.complete and expansion.deleted == {"b"}
    assert [kind for kind, _ in client.calls] == ["tree", "more", "more", "more", "more", "info", "more"]
    assert client.calls[-1] == ("more", ["b"])
