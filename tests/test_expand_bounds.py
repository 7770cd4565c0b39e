"""The benchmark's lower bounds on comment-tree requests, and the facts of Reddit's builder they rest on.

A permalink shows its comment and nine levels below it (WIRE-FORMAT §2–§4b; the archived builder's
``PermalinkCommentOrderer`` with ``max_depth`` 10, the comments page's ``depth`` only lowering it and
``context`` only moving the top up), morechildren shows nothing at depth 10 or more, and a client can
only ask for a comment whose id an earlier answer gave it: so each permalink shows at most nine new
levels, and the known-root bound ``1 + W9`` holds for every client.  Our expansion never goes below it,
meets it on a bare chain, and stays within 1.5x the morechildren bound, under both orphan rules.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.collect.expand import Expansion, expand_thread
from scraper.fake_reddit import Forest
from scraper.fake_reddit.forest import ORPHAN_RULES
from tests.conftest import examples
from tests.test_expand_trees import Direct

ROOT = Path(__file__).resolve().parents[1]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("expand_bench", ROOT / "bench" / "expand_bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _bench()
LINK = BENCH.LINK


def chain_forest(length: int, orphans: str, *, branches: tuple[tuple[int, int], ...] = ()) -> Forest:
    """A thread with one reply chain of ``length`` comments, plus chains of ``n`` replies at chain depth ``d``."""
    comments: list[dict[str, Any]] = []

    def add(parent: str) -> str:
        cid = f"c{len(comments)}"
        comments.append(
            {
                "id": cid,
                "name": f"t1_{cid}",
                "parent_id": parent,
                "link_id": f"t3_{LINK}",
                "author": "alice",
                "body": f"text {cid}",
                "created_utc": 1_700_000_000.0 + len(comments),
                "score": 1,
            }
        )
        return f"t1_{cid}"

    parent, spine = f"t3_{LINK}", []
    for _ in range(length):
        parent = add(parent)
        spine.append(parent)
    for depth, size in branches:
        if depth < len(spine):
            parent = spine[depth]
            for _ in range(size):
                parent = add(parent)
    forest = Forest(orphans=orphans)
    submission = {"id": LINK, "name": f"t3_{LINK}", "title": "t", "subreddit": "sub", "created_utc": 1.0, "score": 1}
    forest.add_thread(submission, comments)
    return forest


def expand(forest: Forest) -> tuple[Expansion, int]:
    expansion = Expansion(LINK)
    result = expand_thread(Direct(forest, with_endpoint=True), LINK, expansion=expansion)
    assert result.complete, result.unresolved
    thread = forest.threads[LINK]
    for cid in expansion.depth:  # held with its parent; only never-announced deleted leaves missing
        parent = expansion.parent[cid]
        assert (f"t1_{parent}" if parent else f"t3_{LINK}") == thread.comments[cid]["parent_id"]
    assert set(thread.comments) - set(expansion.depth) <= forest.deleted_leaf_ids(LINK)
    return expansion, sum(result.requests.values())


def test_a_permalink_shows_its_comment_and_nine_levels_and_morechildren_nothing_deeper() -> None:
    forest = chain_forest(40, "vanish")
    answer = forest.tree(LINK, limit=500, sort="confidence", root="c12")
    shown, node = [], answer[1]["data"]["children"][0]
    while node["kind"] == "t1":
        shown.append(node["data"]["id"])
        kids = node["data"]["replies"]["data"]["children"] if node["data"]["replies"] else []
        node = kids[0] if kids else {"kind": "end"}
    assert shown == [f"c{i}" for i in range(12, 22)]  # ten levels: the comment and nine below
    assert node == {"kind": "more", "data": node["data"]} and node["data"]["children"] == []  # continue stub
    assert forest.more_children(LINK, ["c10", "c25"], sort="confidence") == []  # depth 10 and more: nothing


@pytest.mark.parametrize("orphans", ORPHAN_RULES)
@settings(max_examples=examples(15), deadline=None)
@given(length=st.integers(1, 120))
def test_a_bare_chain_costs_exactly_the_known_root_bound(orphans: str, length: int) -> None:
    forest = chain_forest(length, orphans)
    bounds = BENCH.bounds(forest)
    _, requests = expand(forest)
    assert bounds["W9"] == max(0, math.ceil((length - 10) / 9))  # nine new levels a permalink
    assert bounds["W"] == max(0, math.ceil((length - 10) / 10))  # the ten-level windows
    assert requests == bounds["known_root"] == 1 + bounds["W9"]
    assert bounds["any_client"] <= bounds["known_root"] <= bounds["one_tree"]


@pytest.mark.parametrize("orphans", ORPHAN_RULES)
@settings(max_examples=examples(10), deadline=None)
@given(
    length=st.integers(10, 80),
    branches=st.lists(st.tuples(st.integers(0, 60), st.integers(1, 40)), max_size=4).map(tuple),
)
def test_branching_chains_never_beat_the_bounds_and_stay_within_the_targets_bound(
    orphans: str, length: int, branches: tuple[tuple[int, int], ...]
) -> None:
    forest = chain_forest(length, orphans, branches=branches)
    bounds = BENCH.bounds(forest)
    _, requests = expand(forest)
    assert bounds["one_tree"] <= requests <= 1.5 * bounds["morechildren"]
    assert bounds["W"] <= bounds["W9"]


@pytest.mark.parametrize(("length", "leaves"), [(40, 700), (95, 1200), (12, 100)])
def test_the_windows_bound_adds_what_the_shallow_comments_outside_deep_subtrees_cost(length: int, leaves: int) -> None:
    # a chain from a top-level comment, and top-level leaves: the chain's permalinks (W9) can show nothing
    # of the leaves, which come from the tree answer (500) and 100 a morechildren or /api/info call
    chain = [f"c{i}" for i in range(length)]
    tops = [f"t{i}" for i in range(leaves)]
    depth = {**{c: i for i, c in enumerate(chain)}, **{t: 0 for t in tops}}
    parent = {**{c: (chain[i - 1] if i else "") for i, c in enumerate(chain)}, **{t: "" for t in tops}}
    kids = {**{c: chain[i + 1 : i + 2] for i, c in enumerate(chain)}, **{t: [] for t in tops}}
    tree = BENCH.Tree(depth, parent, kids)
    w9 = max(0, math.ceil((length - 10) / 9))
    shallow = leaves + min(length, 10)
    assert tree.windows(10, root_known=True) == w9
    assert tree.windows_bound() == 1 + w9 + math.ceil(max(0, shallow - 500 - min(length, 10)) / 100)


@pytest.mark.parametrize("orphans", ORPHAN_RULES)
def test_on_generated_chain_trees_ours_sits_between_the_bounds(orphans: str) -> None:
    forest = BENCH.make_forest("chains", 900, 4, orphans)
    bounds = BENCH.bounds(forest)
    _, requests = expand(forest)
    assert bounds["known_root"] <= bounds["one_tree"] <= requests <= 1.5 * bounds["morechildren"]


def test_the_reach_flags_follow_the_bounds() -> None:
    lb = {"known_root": 30, "one_tree": 40}
    assert BENCH.praw_reach(lb, 200) == {
        "known_root_bound_vs_praw": 0.15,
        "one_tree_bound_vs_praw": 0.2,
        "praw_target_reachable": True,
        "praw_target_reachable_one_tree": True,
    }
    assert BENCH.praw_reach(lb, 150)["praw_target_reachable_one_tree"] is False
    assert BENCH.praw_reach(lb, 100)["praw_target_reachable"] is False


def test_the_held_out_table_is_the_committed_held_out_results() -> None:
    """docs/PERFORMANCE.md's held-out table shows ``bench/expand_results_heldout.json``, rendered."""
    results = json.loads((ROOT / "bench" / "expand_results_heldout.json").read_text(encoding="utf-8"))
    doc = (ROOT / "docs" / "PERFORMANCE.md").read_text(encoding="utf-8")
    start, end = BENCH.markers("held-out")
    assert doc.split(start, 1)[1].split(end, 1)[0].strip() == BENCH.render_table(results)
    for row in results:  # what the doc's prose claims of every held-out row
        ours = row["ours"]
        assert ours["accounted"] and ours["correct_parents"] == ours["held"] and ours["unresolved"] == 0
        assert row["bounds"]["one_tree"] <= ours["total"]


def test_the_held_out_shapes_table_is_the_committed_results_and_every_row_is_complete() -> None:
    """docs/PERFORMANCE.md's held-out-shapes table shows ``bench/expand_results_heldout_shapes.json``, and what
    its prose claims of every row holds: complete, right parents, vanished cost within cap, exact faults."""
    _check_named_table("expand_results_heldout_shapes.json", "held-out-shapes")


def test_the_unseen_seeds_table_is_the_committed_results_and_every_row_is_complete() -> None:
    """docs/PERFORMANCE.md's unseen-seeds table (trees of every shape at sizes and a seed no rule was written
    on) shows ``bench/expand_results_unseen.json``; every row complete, right parents, within the
    vanished-cost cap and the morechildren bound, exact faults, as its prose says."""
    results, doc, end = _check_named_table("expand_results_unseen.json", "unseen")
    for row in results:
        # a row missing 0.25x PRAW is out of reach for a one-tree client, or named in the prose
        if row["ratio_vs_praw"] > BENCH.TARGETS["vs_praw"] and row["praw_target_reachable_one_tree"]:
            named = f"{row['shape']} {row['size']:,} seed {row['seed']}"
            assert named in " ".join(doc.split(end, 1)[1].strip().split("\n\n", 1)[0].split()), named


def _check_named_table(results_file: str, table: str) -> tuple[list[dict[str, Any]], str, str]:
    """The doc's named table is the committed results file's, and every row is complete: right parents,
    within the vanished-cost cap and the morechildren bound, exact faults. Gives the results, the doc and
    the table's end marker."""
    results = json.loads((ROOT / "bench" / results_file).read_text(encoding="utf-8"))
    doc = (ROOT / "docs" / "PERFORMANCE.md").read_text(encoding="utf-8")
    start, end = BENCH.markers(table)
    assert doc.split(start, 1)[1].split(end, 1)[0].strip() == BENCH.render_table(results)
    for row in results:
        ours, faults = row["ours"], row["faults"]
        assert ours["accounted"] and ours["correct_parents"] == ours["held"] and ours["unresolved"] == 0
        assert ours["on_vanished"] <= ours["on_vanished_cap"] and row["ratio_vs_morechildren_bound"] <= 1.5
        assert faults["identical"] and faults["extra_requests"] == faults["injected_failures"] + faults["bursts_429"]
    return results, doc, end
