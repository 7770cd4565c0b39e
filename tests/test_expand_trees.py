"""Expansion on generated trees of every shape, under both orphan rules of the fake Reddit, and its replay.

The fake follows WIRE-FORMAT §4b: user-deleted leaves are announced in stubs, spend morechildren's
budget and come back only from /api/info; requested ids that miss the budget vanish ("vanish", the
archived builder) or come back in a stub ("stub").
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.collect import expand
from scraper.collect.expand import Expansion, expand_thread
from scraper.fake_reddit import FakeReddit, Forest
from scraper.fake_reddit.forest import ORPHAN_RULES
from scraper.fake_reddit.generate import SHAPES, generate_shaped
from scraper.sources import endpoints as ep
from scraper.sources.reddit import RedditClient
from scraper.store.raw import RawArchive, read_records
from tests.conftest import examples, settings_for

LINK = "tr1"


def forest_of(shape: str, size: int, seed: int, orphans: str) -> Forest:
    forest = Forest(seed=seed, orphans=orphans)
    submission, comments = generate_shaped(LINK, size, shape=shape, seed=seed)
    forest.add_thread(submission, comments)
    return forest


def announced(records: list[dict[str, Any]]) -> set[str]:
    """Every id a stub of an archived answer listed."""
    ids: set[str] = set()
    stack: list[Any] = [json.loads(r["body"]) for r in records if r.get("status") == 200 and r.get("body")]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if value.get("kind") == "more":
                ids.update(value["data"]["children"])
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return ids


@pytest.mark.parametrize("orphans", ORPHAN_RULES)
@pytest.mark.parametrize("shape", SHAPES)
def test_every_comment_held_with_its_parent_or_a_deleted_leaf_no_answer_announced(
    tmp_path: Path, shape: str, orphans: str
) -> None:
    forest = forest_of(shape, 700, 5, orphans)
    thread = forest.threads[LINK]
    archive_path = tmp_path / "raw.jsonl.gz"
    with FakeReddit(forest, quota=10**9) as server, RawArchive(archive_path) as archive:
        client = RedditClient(settings_for(server), archive)
        expansion = Expansion(LINK)
        result = expand_thread(client, LINK, expansion=expansion)
        log = list(server.log)
    records = list(read_records(archive_path))
    held = set(expansion.depth)
    deleted = forest.deleted_leaf_ids(LINK)
    assert result.complete, result.unresolved
    for cid in held:  # the correct parent and depth, deleted leaves' tombstones included
        parent = thread.comments[cid]["parent_id"]
        assert (f"t1_{expansion.parent[cid]}" if expansion.parent[cid] else f"t3_{LINK}") == parent
        assert expansion.depth[cid] == thread.depth(cid)
    missing = set(thread.comments) - held
    assert missing <= deleted and not missing & announced(records)  # never listed by any answer
    assert expansion.deleted == deleted & held and result.deleted_leaves == len(deleted & held)
    assert result.on_vanished <= math.ceil(result.vanished / 100) + 1
    permalinks = {ep.subtree_comment(e.path) for e in log}
    assert not permalinks & expansion.deleted  # never a permalink for a deleted leaf
    # one endpoint name in every archived record, the same the client counted
    counted = {name: n for name, n in client.requests_by_endpoint.items()}
    archived: dict[str, int] = {}
    for record in records:
        if record.get("endpoint") != ep.TOKEN:
            archived[record["endpoint"]] = archived.get(record["endpoint"], 0) + 1
    assert archived == counted and set(archived) <= {ep.COMMENTS, ep.MORECHILDREN, ep.INFO}


class Direct:
    """The fake forest answered in-process, each answer kept as a raw record (``endpoint`` or URL only)."""

    def __init__(self, forest: Forest, *, with_endpoint: bool) -> None:
        self.forest, self.with_endpoint = forest, with_endpoint
        self.records: list[tuple[dict[str, Any], Any]] = []

    def _keep(self, endpoint: str, record: dict[str, Any], body: Any) -> Any:
        if self.with_endpoint:
            record["endpoint"] = endpoint
        self.records.append(({**record, "status": 200}, json.loads(json.dumps(body))))
        return body

    def comment_tree(self, link: str, *, comment: str | None = None, sort: str = "", limit: int = 0) -> list[Any]:
        path = ep.COMMENT_SUBTREE.format(link=link, comment=comment) if comment else f"/comments/{link}/"
        body = self.forest.tree(link, limit=500, sort="confidence", root=comment)
        return list(self._keep(ep.COMMENTS, {"url": f"https://oauth.reddit.com{path}"}, body))

    def more_children(self, link_fullname: str, ids: list[str], *, sort: str = "") -> list[Any]:
        things = self.forest.more_children(link_fullname[3:], ids, sort="confidence")
        record = {"url": "https://oauth.reddit.com/api/morechildren/", "form": {"children": ",".join(ids)}}
        self._keep(ep.MORECHILDREN, record, {"json": {"errors": [], "data": {"things": things}}})
        return things

    def info(self, fullnames: list[str]) -> dict[str, Any]:
        things = [t for t in (self.forest.thing(n) for n in fullnames) if t is not None]
        record = {"url": "https://oauth.reddit.com/api/info/", "params": {"id": ",".join(fullnames)}}
        return dict(self._keep(ep.INFO, record, {"kind": "Listing", "data": {"children": things}}))


@settings(max_examples=examples(12), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shape=st.sampled_from(SHAPES),
    orphans=st.sampled_from(ORPHAN_RULES),
    seed=st.integers(0, 50),
    cut=st.floats(0.0, 1.0),
    with_endpoint=st.booleans(),
)
def test_a_replay_cut_anywhere_then_continued_asks_and_ends_exactly_as_an_uninterrupted_run(
    shape: str, orphans: str, seed: int, cut: float, with_endpoint: bool
) -> None:
    forest = forest_of(shape, 400, seed, orphans)
    whole = Direct(forest, with_endpoint=with_endpoint)
    reference = expand_thread(whole, LINK).as_json()
    k = int(cut * (len(whole.records) - 1))
    resumed = Expansion(LINK)
    for record, body in whole.records[:k]:
        resumed.replay(record, body)
    rest = Direct(forest, with_endpoint=with_endpoint)
    again = expand_thread(rest, LINK, expansion=resumed).as_json()
    assert [r for r, _ in rest.records] == [r for r, _ in whole.records[k:]]
    assert again == reference


@pytest.mark.parametrize(
    ("record", "endpoint"),
    [
        ({"url": "https://oauth.reddit.com/comments/info1x/"}, ep.COMMENTS),  # an id with "info" in it
        ({"url": "https://oauth.reddit.com/comments/abc/_/morec1/"}, ep.COMMENTS),
        ({"url": "https://oauth.reddit.com/r/search/search"}, ep.SEARCH),
        ({"url": "https://oauth.reddit.com/api/info/"}, ep.INFO),
        ({"url": "https://oauth.reddit.com/api/morechildren"}, ep.MORECHILDREN),
        ({"url": "https://www.reddit.com/api/v1/access_token"}, ep.TOKEN),
        ({"url": "https://oauth.reddit.com/r/sub/comments/"}, None),  # a subreddit's comment listing
        ({"url": "https://oauth.reddit.com/whatever", "endpoint": "info"}, ep.INFO),  # the field wins
    ],
)
def test_the_endpoint_of_a_record(record: dict[str, Any], endpoint: str | None) -> None:
    assert ep.endpoint_of(record) == endpoint


def test_subtree_comment_reads_only_the_permalink_form() -> None:
    assert ep.subtree_comment("https://oauth.reddit.com/comments/abc/_/def/") == "def"
    assert ep.subtree_comment("https://oauth.reddit.com/r/x/comments/abc/slug/def") == "def"
    assert ep.subtree_comment("https://oauth.reddit.com/comments/abc/") is None


class Watched(Expansion):
    """An expansion that checks, after every morechildren answer, the rule for ids an answer left out: one
    is classified through /api/info as "cut or deleted?" only once it was asked ``CUT_TRIES`` times or no id
    of its depth never asked waits (else it rides in a call of its depth made anyway)."""

    def on_more(self, batch: list[str], things: list[Any]) -> None:
        before = set(self.ambiguous)
        depths = {cid: self.pending[cid] for cid in batch if cid in self.pending}
        super().on_more(batch, things)
        for cid in batch:
            if cid in self.ambiguous - before and cid in depths:
                assert self.tries[cid] >= expand.CUT_TRIES or not self._fresh_at(depths[cid]), cid


@settings(max_examples=examples(6), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=st.sampled_from(SHAPES), orphans=st.sampled_from(ORPHAN_RULES), seed=st.integers(0, 10_000))
def test_ids_an_answer_left_out_ride_again_while_their_depth_has_ids_never_asked(
    shape: str, orphans: str, seed: int
) -> None:
    forest = forest_of(shape, 700, seed, orphans)
    expansion = Watched(LINK)
    result = expand_thread(Direct(forest, with_endpoint=True), LINK, expansion=expansion)
    assert result.complete, result.unresolved
    thread = forest.threads[LINK]
    assert set(thread.comments) - set(expansion.depth) <= forest.deleted_leaf_ids(LINK)
    for cid in expansion.depth:
        parent = expansion.parent[cid]
        assert (f"t1_{parent}" if parent else f"t3_{LINK}") == thread.comments[cid]["parent_id"]
