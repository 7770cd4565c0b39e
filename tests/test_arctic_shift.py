"""The Arctic Shift source: paging by time, errors as the reference describes them, trees, ids, archiving."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scraper.errors import ArchiveError, TransientError
from scraper.fake_arctic_shift import FakeArcticShift, generate
from scraper.fake_arctic_shift.generate import ArchiveStore
from scraper.normalize.archive import epoch, flatten_tree
from scraper.sources.arctic_shift import ArcticShiftClient, TimeWalk, more_ids
from scraper.sources.pacing import RetryPolicy
from scraper.store.raw import RawArchive, read_records
from tests.conftest import examples


class FakeClock:
    """Time that passes only when slept."""

    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def _store(times: list[int], sub: str = "s") -> ArchiveStore:
    posts = [{"id": f"p{i:05d}", "created_utc": t, "subreddit": sub, "title": "t"} for i, t in enumerate(sorted(times))]
    return ArchiveStore(posts=posts)


def _fetcher(fake: FakeArcticShift, sub: str, limit: int) -> Any:
    def fetch(after: int, before: int) -> list[Any]:
        params = {"subreddit": sub, "after": str(after), "before": str(before), "sort": "asc", "limit": str(limit)}
        status, body = fake.answer("/api/posts/search", params)
        assert status == 200
        return list(body["data"])

    return fetch


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    gaps=st.lists(st.integers(min_value=0, max_value=3), min_size=0, max_size=400),
    inclusive=st.booleans(),
    limit=st.integers(min_value=5, max_value=30),
)
@example(gaps=[0, 1, 0, 0, 0, 1], inclusive=True, limit=5)  # two boundary seconds filling a page: no false gap
def test_every_post_once_whatever_after_means(gaps: list[int], inclusive: bool, limit: int) -> None:
    """Items sharing seconds, pages of any size, `after` inclusive or exclusive: each item exactly once."""
    times, t = [], 1_000_000
    for gap in gaps:
        t += gap
        times.append(t)
    # never more items in one second than a page holds: that case is a recorded gap (below)
    per_second: dict[int, int] = {}
    capped = []
    for x in times:
        per_second[x] = per_second.get(x, 0) + 1
        if per_second[x] < limit:
            capped.append(x)
    times = capped
    fake = FakeArcticShift(_store(times), after_inclusive=inclusive)
    walk = TimeWalk(1_000_000, t + 1, page_size=limit)
    found = [r["id"] for r in walk.walk(_fetcher(fake, "s", limit))]
    assert sorted(found) == sorted(p["id"] for p in fake.store.posts)
    assert len(found) == len(set(found))
    assert walk.gaps == []
    minimum = -(-len(times) // limit) + 1  # full pages, then the empty page that ends the walk
    # each page re-reads its boundary second (overlap), so allow for that
    assert walk.pages <= minimum + len(times) // max(1, limit - limit // 2) + 2


def test_a_full_page_inside_one_second_is_a_recorded_gap_not_a_loop() -> None:
    fake = FakeArcticShift(_store([100] * 12 + [101, 102]))
    walk = TimeWalk(100, 200, page_size=5)
    found = [r["id"] for r in walk.walk(_fetcher(fake, "s", 5))]
    assert walk.gaps == [100] and walk.done
    assert {"p00012", "p00013"} <= set(found) and len(found) == len(set(found))


def test_window_start_and_end_are_respected() -> None:
    fake = FakeArcticShift(_store([99, 100, 150, 199, 200, 201]), after_inclusive=True)
    walk = TimeWalk(100, 200)
    assert [epoch(r["created_utc"]) for r in walk.walk(_fetcher(fake, "s", 100))] == [100, 150, 199]


def test_walk_resumes_from_its_state() -> None:
    fake = FakeArcticShift(_store(list(range(1000, 1100))))
    walk = TimeWalk(1000, 2000, page_size=10)
    fetch = _fetcher(fake, "s", 10)
    first = walk.step(fetch) + walk.step(fetch)
    resumed = TimeWalk.from_state(walk.state())
    rest = list(resumed.walk(fetch))
    ids = [r["id"] for r in first + rest]
    assert len(ids) == 100 == len(set(ids))


def test_many_posts_found_once_in_few_pages_over_http() -> None:
    """bench/archive_bench.py runs the same at 30,000 posts."""
    store = generate(subreddits=("big",), posts=5_000, comments_per_post=(0, 0), seed=3, same_second_share=0.02)
    with FakeArcticShift(store) as fake, ArcticShiftClient(fake.url, clock=FakeClock()) as client:
        walk = TimeWalk(1_325_376_000, 1_735_689_600)
        ids = [r["id"] for r in walk.walk(lambda a, b: client.search_posts("big", a, b))]
    assert len(ids) == 5_000 == len(set(ids))
    assert walk.pages <= 1.1 * 50  # the minimum: 5,000 posts at 100 a page


def test_throttle_422_and_errors_with_status_200_are_retried(tmp_path: Path) -> None:
    store = generate(posts=40, seed=1)
    clock = FakeClock()
    with (
        FakeArcticShift(store, throttle_every=3, error_200_every=5) as fake,
        RawArchive(tmp_path / "raw.jsonl.gz") as archive,
        ArcticShiftClient(fake.url, archive, clock=clock, retry=RetryPolicy(jitter=lambda: 0.5)) as client,
    ):
        walk = TimeWalk(1_325_376_000, 1_735_689_600, page_size=10)
        ids = [r["id"] for r in walk.walk(lambda a, b: client.search_posts("MachineLearning", a, b, limit=10))]
    expected = {p["id"] for p in store.posts if p["subreddit"] == "MachineLearning"}
    assert set(ids) == expected and len(ids) == len(expected)
    assert any(f.startswith("HTTP 422 Timeout") for f in client.faults)
    assert any("Query timed out" in f for f in client.faults)
    assert max(clock.slept) >= 15  # a 422 waits long, not a second
    records = list(read_records(tmp_path / "raw.jsonl.gz"))
    assert len(records) == len(fake.requests)  # every answer archived, failures too
    assert {r["status"] for r in records} == {200, 422}
    assert all(r["origin"] == "arctic-shift" and r["params"]["sort"] == "asc" for r in records)


def test_throttle_without_end_gives_up_with_a_clear_error() -> None:
    with (
        FakeArcticShift(generate(posts=5), throttle_every=1) as fake,
        ArcticShiftClient(fake.url, clock=FakeClock()) as client,
        pytest.raises(TransientError, match="kept failing on posts of r/x"),
    ):
        client.search_posts("x", 0, 10)


def test_a_400_is_not_retried() -> None:
    with (
        FakeArcticShift(generate(posts=5)) as fake,
        ArcticShiftClient(fake.url, clock=FakeClock()) as client,
        pytest.raises(ArchiveError, match="'limit' must be between 1 and 100"),
    ):
        client.search_posts("x", 0, 10, limit=500)
    assert len(fake.requests) == 1


def test_heavy_query_is_retried_with_a_smaller_limit() -> None:
    with (
        FakeArcticShift(generate(posts=30, seed=2), heavy_limit=30) as fake,
        ArcticShiftClient(fake.url, clock=FakeClock()) as client,
    ):
        rows = client.search_posts("MachineLearning", 0, 2_000_000_000, limit=100)
    assert rows and [p["limit"] for _, p in fake.requests] == ["100", "50", "25"]


def test_pacing_follows_rate_limit_headers() -> None:
    clock = FakeClock()
    with (
        FakeArcticShift(generate(posts=5), rate_remaining=0, rate_reset="7") as fake,
        ArcticShiftClient(fake.url, clock=clock) as client,
    ):
        client.search_posts("x", 0, 10)
        client.search_posts("x", 0, 10)
    assert clock.slept == [7.0]


def test_tree_with_more_stubs_and_ids_in_batches() -> None:
    """Stubs that list every hidden id (``more_rule="all"``): their ids alone bring the rest, ≤500 a call."""
    store = generate(posts=1, comments_per_post=(1200, 1200), seed=5)
    link = f"t3_{store.posts[0]['id']}"
    with (
        FakeArcticShift(store, tree_cap=100, more_rule="all") as fake,
        ArcticShiftClient(fake.url, clock=FakeClock()) as client,
    ):
        tree = client.comment_tree(link)
        shown = flatten_tree(tree)
        hidden = more_ids(tree)
        fetched = client.comments_by_id(hidden)
        id_calls = [p for path, p in fake.requests if path == "/api/comments/ids"]
    assert len(shown) == 100
    assert {c["id"] for c in shown} | {c["id"] for c in fetched} == {c["id"] for c in store.comments}
    assert all(len(p["ids"].split(",")) <= 500 for p in id_calls) and len(id_calls) == 3
