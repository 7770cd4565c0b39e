"""Hostile (not real) values in Reddit's comment-tree answers: Reddit's answer is at fault, never this tool.

A ``more`` stub whose ``count`` or ``depth`` is not a number is planned as a stub of unknown size (its ids
asked, none lost), never an internal error (exit 70); an answer nested too deeply to parse is a bad answer,
retried and then "try again later" naming the thread, never "not a file this tool wrote" about the dataset.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.collect.expand import expand_thread
from scraper.errors import TransientError
from scraper.fake_reddit.forest import Forest
from scraper.fake_reddit.server import FakeReddit
from scraper.sources.pacing import RetryPolicy
from scraper.sources.reddit import RedditClient
from tests.conftest import examples, settings_for

JUNK = st.one_of(
    st.text(alphabet="xyz many,-", max_size=6).filter(lambda s: not _numeric(s)),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.just(10**400),
)


def _numeric(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _tree(stub: dict[str, Any]) -> list[Any]:
    top = {"kind": "t1", "data": {"id": "c1", "name": "t1_c1", "parent_id": "t3_ab", "link_id": "t3_ab", "depth": 0}}
    post = {"kind": "t3", "data": {"id": "ab", "name": "t3_ab", "num_comments": 4}}
    return [
        {"kind": "Listing", "data": {"children": [post]}},
        {"kind": "Listing", "data": {"children": [top, {"kind": "more", "data": stub}]}},
    ]


@settings(max_examples=examples(30), deadline=None)
@given(count=JUNK, depth=st.one_of(st.none(), st.integers(0, 3), JUNK))
def test_a_stub_whose_count_or_depth_is_not_a_number_is_asked_for_not_an_internal_error(count: Any, depth: Any) -> None:
    stub = {"count": count, "depth": depth, "id": "c2", "name": "t1_c2", "parent_id": "t3_ab", "children": ["c2", "c3"]}
    asked: list[str] = []
    hidden = {"c2": "t3_ab", "c3": "t3_ab"}

    def thing(cid: str) -> dict[str, Any]:
        return {"kind": "t1", "data": {"id": cid, "name": f"t1_{cid}", "parent_id": hidden[cid], "link_id": "t3_ab"}}

    class Client:
        def comment_tree(self, link: str, *, comment: str | None = None, sort: str = "", limit: int = 0) -> Any:
            asked.append(f"comments {comment or ''}")
            return _tree(stub) if comment is None else [_tree(stub)[0], {"kind": "Listing", "data": {"children": []}}]

        def more_children(self, link_fullname: str, ids: list[str], *, sort: str = "") -> list[Any]:
            asked.append("morechildren")
            return [thing(cid) for cid in ids]

        def info(self, fullnames: list[str]) -> dict[str, Any]:
            asked.append("info")
            return {"kind": "Listing", "data": {"children": [thing(f[3:]) for f in fullnames]}}

    result = expand_thread(Client(), "ab")
    assert result.held == 3 and result.complete, (asked, result.unresolved)
    # Unknown size: the ids may have replies, so not settled by /api/info alone as leaves would be.
    assert "morechildren" in asked or any(a.startswith("comments c") for a in asked), asked


class _NoWait:
    def now(self) -> float:
        return 0.0

    def sleep(self, seconds: float) -> None:
        pass


DEEP = b"[" * 200_000 + b"]" * 200_000


def _deep_server(forest: Forest, times: int) -> FakeReddit:
    """A fake Reddit whose first ``times`` comment-tree answers are a 200,000-deep JSON array."""
    server = FakeReddit(forest, quota=10**9)
    answer = server._answer
    served = [0]

    def deep(method: str, path: str, *rest: Any) -> tuple[int, dict[str, str], bytes]:
        status, headers, body = answer(method, path, *rest)
        if path.startswith("/comments/") and served[0] < times:
            served[0] += 1
            return 200, {**headers, "content-type": "application/json"}, DEEP
        return status, headers, body

    server._answer = deep  # type: ignore[method-assign]
    return server


def test_an_answer_nested_too_deeply_is_a_bad_answer_retried(demo_forest: Forest) -> None:
    with _deep_server(demo_forest, times=1) as server:
        client = RedditClient(settings_for(server), clock=_NoWait(), retry=RetryPolicy(max_retries=2))  # type: ignore[arg-type]
        tree = client.comment_tree("11ryvao")
    assert tree[0]["data"]["children"][0]["data"]["id"] == "11ryvao"
    assert client.faults["JSON nested too deeply"] == 1


def test_an_answer_always_nested_too_deeply_is_try_again_later_naming_the_thread(demo_forest: Forest) -> None:
    with _deep_server(demo_forest, times=10**6) as server:
        client = RedditClient(settings_for(server), clock=_NoWait(), retry=RetryPolicy(max_retries=2))  # type: ignore[arg-type]
        with pytest.raises(TransientError) as caught:
            client.comment_tree("11ryvao")
    message = str(caught.value)
    assert caught.value.exit_code == 75 and "t3_11ryvao" in message and "nested too deeply" in message
    assert "not a file this tool wrote" not in message and "\n" not in message
    json.dumps(message)  # one plain line
