"""Expansion on tree shapes built apart from its rules (``HELD_OUT_SHAPES``), small and tiny, under both
orphan rules of the fake Reddit; and on the real recorded answers whose counts disagree with their trees.

Checked on every generated tree: every comment held with its parent (or a user-deleted leaf no answer
announced), every announced deleted leaf kept as a tombstone, nothing unresolved, the requests spent on
vanished ids within ``ceil(vanished / 100) + 1``, and no permalink asked for an id ``/api/info`` showed to be
a deleted leaf.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.collect.expand import Expansion, _exhausted, expand_thread
from scraper.fake_reddit import Forest
from scraper.fake_reddit.forest import ORPHAN_RULES
from scraper.fake_reddit.generate import HELD_OUT_SHAPES, SHAPES, generate_shaped
from tests.conftest import examples, load_sample

LINK = "hs1"


class Logged:
    """The fake forest answered in-process; every request and every id a stub listed are kept."""

    def __init__(self, forest: Forest) -> None:
        self.forest = forest
        self.permalinks: list[str] = []
        self.announced: set[str] = set()
        self.deleted_by_info: set[str] = set()
        self.deleted_before_permalink: set[str] = set()

    def _listed(self, value: Any) -> None:
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                if item.get("kind") == "more":
                    self.announced.update(item["data"]["children"])
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)

    def comment_tree(self, link: str, *, comment: str | None = None, sort: str = "", limit: int = 0) -> list[Any]:
        if comment:
            self.permalinks.append(comment)
            if comment in self.deleted_by_info:
                self.deleted_before_permalink.add(comment)
        body = self.forest.tree(link, limit=500, sort="confidence", root=comment)
        self._listed(body)
        return body

    def more_children(self, link_fullname: str, ids: list[str], *, sort: str = "") -> list[Any]:
        things = self.forest.more_children(link_fullname[3:], ids, sort="confidence")
        self._listed(things)
        return things

    def info(self, fullnames: list[str]) -> dict[str, Any]:
        things = [t for t in (self.forest.thing(n) for n in fullnames) if t is not None]
        thread = self.forest.threads[LINK]
        for thing in things:
            cid = thing["data"]["id"]
            if thing["data"]["body"] == "[deleted]" and not thread.children.get(f"t1_{cid}"):
                self.deleted_by_info.add(cid)
        return {"kind": "Listing", "data": {"children": things}}


def expand_shape(shape: str, size: int, seed: int, orphans: str) -> None:
    forest = Forest(seed=seed, orphans=orphans)
    submission, comments = generate_shaped(LINK, size, shape=shape, seed=seed)
    forest.add_thread(submission, comments, keep_count=True)
    thread = forest.threads[LINK]
    client = Logged(forest)
    expansion = Expansion(LINK)
    result = expand_thread(client, LINK, expansion=expansion)
    assert result.complete, result.unresolved
    assert result.num_comments == submission["num_comments"]  # Reddit's figure, even where it disagrees
    held = set(expansion.depth)
    for cid in held:
        parent = expansion.parent[cid]
        assert (f"t1_{parent}" if parent else f"t3_{LINK}") == thread.comments[cid]["parent_id"], cid
        assert expansion.depth[cid] == thread.depth(cid)
    deleted = forest.deleted_leaf_ids(LINK)
    missing = set(thread.comments) - held
    assert missing <= deleted, sorted(missing - deleted)[:5]  # only deleted leaves ...
    assert not missing & client.announced  # ... that no answer listed: every announced one is a tombstone
    assert expansion.deleted == deleted & held
    assert result.on_vanished <= math.ceil(result.vanished / 100) + 1, (result.on_vanished, result.vanished)
    assert not client.deleted_before_permalink  # no permalink for an id info showed to be a deleted leaf
    assert result.requests["comments"] >= 1


@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shape=st.sampled_from(HELD_OUT_SHAPES + SHAPES),
    size=st.integers(1, 320),
    seed=st.integers(0, 10_000),
    orphans=st.sampled_from(ORPHAN_RULES),
)
def test_every_generated_shape_is_expanded_completely_within_the_vanished_cost(
    shape: str, size: int, seed: int, orphans: str
) -> None:
    expand_shape(shape, size, seed, orphans)


@pytest.mark.parametrize("size", [1, 2, 7, 50])
@pytest.mark.parametrize("shape", HELD_OUT_SHAPES)
def test_tiny_threads_of_every_held_out_shape(shape: str, size: int) -> None:
    expand_shape(shape, size, size, "vanish")


@pytest.mark.parametrize("orphans", ORPHAN_RULES)
@pytest.mark.parametrize(("shape", "size"), [("wide", 2500), ("deleted", 1000)])
def test_a_wide_or_deleted_heavy_thread_keeps_the_vanished_cost_within_its_cap(
    shape: str, size: int, orphans: str
) -> None:
    """One comment with 1,875 direct replies (or 15% deleted leaves, deleted parents with live replies):
    every morechildren answer is full, drops deleted leaves and may cut ids, so an id it left out rides in a
    call packed with room, whose answer tells, instead of being asked again and again (wide 2,500 seed 1
    cost 3 requests against a cap of 2 before)."""
    expand_shape(shape, size, 1, orphans)


@pytest.mark.parametrize(
    ("name", "link", "sort"),
    [
        ("comments_fjn0j9_2020_medium.json", "fjn0j9", "confidence"),  # num_comments 168, 114 shown, no stub
        ("comments_gx8r8z_2020_deleted_removed_stickied.json", "gx8r8z", "confidence"),  # num_comments 6, 8 shown
    ],
)
def test_a_real_tree_without_stubs_ends_after_one_request_whatever_num_comments_says(
    name: str, link: str, sort: str
) -> None:
    answer = load_sample(name)["response"]["json"]

    class Once:
        def comment_tree(self, link: str, *, comment: str | None = None, sort: str = "", limit: int = 0) -> Any:
            assert comment is None
            return answer

        def more_children(self, link_fullname: str, ids: list[str], *, sort: str = "") -> list[Any]:
            raise AssertionError("no stub, nothing to ask")

        def info(self, fullnames: list[str]) -> dict[str, Any]:
            raise AssertionError("no stub, nothing to ask")

    result = expand_thread(Once(), link, sort=sort)
    shown = load_sample(name)["stats"]["t1"]
    assert result.complete and result.held == shown and sum(result.requests.values()) == 1
    assert result.num_comments == answer[0]["data"]["children"][0]["data"]["num_comments"] != shown


def test_the_real_stub_of_six_ids_counting_31_goes_to_one_morechildren_call() -> None:
    """98vj9e: six ids hiding 25 comments below them, one level under the permalink's comment: fewer than a
    morechildren answer serves, so not the parent's permalink, and not /api/info (not leaves)."""
    sample = load_sample("comments_98vj9e_2020_context_sort_new_limit4.json")
    stub = sample["response"]["json"][1]["data"]["children"][0]["data"]["replies"]["data"]["children"][-1]["data"]
    asked: list[tuple[str, list[str]]] = []

    class Client:
        def comment_tree(self, link: str, *, comment: str | None = None, sort: str = "", limit: int = 0) -> Any:
            asked.append(("comments", [comment or ""]))
            return sample["response"]["json"]

        def more_children(self, link_fullname: str, ids: list[str], *, sort: str = "") -> list[Any]:
            asked.append(("morechildren", ids))
            return []

        def info(self, fullnames: list[str]) -> dict[str, Any]:
            asked.append(("info", fullnames))
            return {"kind": "Listing", "data": {"children": []}}

    expansion = Expansion("98vj9e", "new")
    expansion.step(Client())
    expansion.step(Client())
    assert asked[1] == ("morechildren", sorted(stub["children"])) or (
        asked[1][0] == "morechildren" and set(asked[1][1]) == set(stub["children"])
    )


def test_an_answer_is_taken_for_full_by_what_it_may_have_dropped_below_what_it_showed() -> None:
    """90 ids left out of an answer that showed nothing spent 90 of the 100 (none dropped below); 80 shown
    and one left out is full on a thread where a fifth of the comments are deleted leaves, not where few are."""
    assert not _exhausted(0, 90) and _exhausted(0, 100)
    assert not _exhausted(80, 1, 0.04) and _exhausted(80, 1, 0.2) and _exhausted(90, 0, 0.0)
