"""Arctic Shift servers that misbehave: odd headers, pages cut short, `after` or `sort` ignored, odd items.

Each case ends in what was asked (every item once, or its second recorded as a possible gap) or in one
:class:`ArchiveError` line naming the walk; never an endless walk, a repeated item or an internal error.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scraper.collect.run import collect
from scraper.errors import ArchiveError
from scraper.fake_arctic_shift import FakeArcticShift, generate
from scraper.fake_arctic_shift.generate import ArchiveStore
from scraper.fake_reddit.clock import SimulatedClock
from scraper.sources.arctic_shift import ArchivePacer, ArcticShiftClient, TimeWalk
from scraper.sources.reddit import RedditSettings
from tests.conftest import examples, write_spec
from tests.test_archive_collect import _Clock, no_credentials  # noqa: F401 - a fixture
from tests.test_arctic_shift import _fetcher, _store


def _times(steps: list[int]) -> list[int]:
    times, t = [], 1_000_000
    for step in steps:
        t += step
        times.append(t)
    return times


# F1: any X-RateLimit-* header value ------------------------------------------------------------------------------

_HEADER_TEXT = st.one_of(
    st.sampled_from(["inf", "-inf", "nan", "1e400", "-1e400", "Infinity", "0", "-3", "1e9", "2e9", "", " 5 ", "5, 6"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.text(max_size=12),
)


@settings(max_examples=examples(100), deadline=None)
@given(remaining=st.none() | _HEADER_TEXT, reset=st.none() | _HEADER_TEXT, wall=st.floats(0, 4e9))
@example(remaining="inf", reset="60", wall=0.0)
@example(remaining="1e400", reset="nan", wall=0.0)
def test_any_rate_limit_header_paces_within_bounds(remaining: str | None, reset: str | None, wall: float) -> None:
    """Whatever the headers say, the next request waits a finite time from 0 to an hour; unusable ones: the default."""
    headers = {k: v for k, v in (("x-ratelimit-remaining", remaining), ("x-ratelimit-reset", reset)) if v is not None}
    clock = SimulatedClock(0.0)
    pacer = ArchivePacer(clock)
    pacer.update(headers, wall)
    delay = pacer.next_at - clock.now()
    assert math.isfinite(delay) and 0.0 <= delay <= 3600.0
    usable = remaining is not None and reset is not None
    try:
        usable = usable and math.isfinite(float(str(remaining))) and math.isfinite(float(str(reset)))
    except ValueError:
        usable = False
    if not usable:
        assert delay == pacer.interval
    pacer.wait()  # sleeps that finite time, no error


@pytest.mark.parametrize("value", ["inf", "1e400", "nan"])
def test_an_infinite_rate_limit_header_over_http_is_paced_by_default(value: str) -> None:
    clock = SimulatedClock()
    with (
        FakeArcticShift(generate(posts=5), rate_remaining=value) as fake,
        ArcticShiftClient(fake.url, clock=clock) as client,
    ):
        client.search_posts("MachineLearning", 0, 2_000_000_000)
        client.search_posts("MachineLearning", 0, 2_000_000_000)
    assert clock.sleeps == [0.5]  # two a second, as without the headers


# F2: pages cut short by the server's capacity ---------------------------------------------------------------------


@settings(max_examples=examples(80), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(st.sampled_from([0, 0, 0, 1, 2, 5]), min_size=1, max_size=150),
    inclusive=st.booleans(),
    limit=st.integers(min_value=5, max_value=30),
    cap=st.integers(min_value=1, max_value=40),
)
@example(steps=[0] * 9 + [1], inclusive=False, limit=20, cap=6)  # a busy second past the capacity, page not full
@example(steps=[0] * 9 + [1], inclusive=True, limit=20, cap=6)
def test_every_item_is_found_or_its_second_is_a_recorded_gap(
    steps: list[int], inclusive: bool, limit: int, cap: int
) -> None:
    """A server answering at most `cap` rows a page: nothing is missed silently, no item twice, no false gap."""
    times = _times(steps)
    fake = FakeArcticShift(_store(times), after_inclusive=inclusive, page_cap=cap)
    walk = TimeWalk(1_000_000, times[-1] + 1, page_size=limit)
    found = [r["id"] for r in walk.walk(_fetcher(fake, "s", limit))]
    assert len(found) == len(set(found))
    per_second = {t: times.count(t) for t in times}
    missed = {p["created_utc"] for p in fake.store.posts if p["id"] not in set(found)}
    # every missed item's second is recorded, but the last second of the data when no page before it showed the
    # capacity (a short page and then nothing: an honest server's end looks the same)
    assert missed <= set(walk.gaps) | ({times[-1]} if getattr(walk, "capacity", None) is None else set())
    page = min(limit, cap)
    assert all(per_second.get(g, 0) >= page for g in walk.gaps)  # a gap is a second at least one page long
    assert walk.pages <= 2 * len(times) + 4


def test_a_short_page_that_was_the_end_is_no_gap() -> None:
    """The last second of the data fills a short page: the next (empty) page says it was the end."""
    for inclusive in (False, True):
        fake = FakeArcticShift(_store([10, 11, 12, 12, 12]), after_inclusive=inclusive, page_cap=3)
        walk = TimeWalk(0, 100, page_size=10)
        assert len(list(walk.walk(_fetcher(fake, "s", 10)))) == 5
        assert walk.gaps == [] and walk.done


def test_a_short_page_resolved_after_a_resume_still_records_its_gap() -> None:
    fake = FakeArcticShift(_store([50] * 8 + [60, 61]), page_cap=5)
    walk = TimeWalk(0, 100, page_size=10)
    fetch = _fetcher(fake, "s", 10)
    walk.step(fetch)
    walk.step(fetch)
    resumed = TimeWalk.from_state(walk.state())
    list(resumed.walk(fetch))
    assert resumed.gaps == [50] and resumed.capacity == 5


# F4: a server that ignores `after` or `sort`, or repeats pages ----------------------------------------------------


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(st.sampled_from([0, 1, 3, 100]), min_size=1, max_size=120),
    misbehaviour=st.sampled_from(["ignore_after", "ignore_sort", "both"]),
    inclusive=st.booleans(),
    limit=st.integers(min_value=2, max_value=30),
)
def test_a_server_ignoring_after_or_sort_ends_the_walk_in_one_line(
    steps: list[int], misbehaviour: str, inclusive: bool, limit: int
) -> None:
    times = _times(steps)
    fake = FakeArcticShift(
        _store(times),
        after_inclusive=inclusive,
        ignore_after=misbehaviour != "ignore_sort",
        ignore_sort=misbehaviour != "ignore_after",
    )
    walk = TimeWalk(1_000_000, times[-1] + 1, page_size=limit)
    found: list[str] = []
    fetch = _fetcher(fake, "s", limit)
    try:
        while not walk.done:
            found += [r["id"] for r in walk.step(fetch)]
            assert walk.pages <= len(times) + 3, "the walk does not end"
    except ArchiveError as exc:
        assert "does not honour" in str(exc) or "oldest first" in str(exc)
        assert "\n" not in str(exc)
    assert len(found) == len(set(found))  # never the same item twice


_ROW = st.fixed_dictionaries({"id": st.text("abc123", min_size=1, max_size=3), "created_utc": st.integers(0, 30)})


@settings(max_examples=examples(80), deadline=None)
@given(page=st.lists(st.one_of(_ROW, st.none(), st.text(max_size=3), st.integers()), min_size=1, max_size=40))
def test_a_server_answering_one_page_to_every_request_ends_the_walk(page: list[Any]) -> None:
    """Any fixed answer, repeated whatever is asked: the walk ends within a few pages, each item at most once."""
    walk = TimeWalk(0, 40, page_size=10)
    found: list[str] = []

    def fetch(after: int, before: int) -> list[Any]:
        return [dict(r) if isinstance(r, dict) else r for r in page]

    try:
        while not walk.done:
            found += [str(r["id"]) for r in walk.step(fetch)]
            assert walk.pages <= 45, "the walk does not end"
    except ArchiveError as exc:
        assert "\n" not in str(exc)
    assert len(found) == len(set(found))


def test_server_ignoring_after_over_http_stops_at_the_second_page() -> None:
    store = generate(posts=250, seed=3, subreddits=("MachineLearning",), comments_per_post=(0, 0))
    with (
        FakeArcticShift(store, ignore_after=True) as fake,
        ArcticShiftClient(fake.url, clock=SimulatedClock()) as client,
    ):
        walk = TimeWalk(1_325_376_000, 1_735_689_600)
        with pytest.raises(ArchiveError, match="does not honour `after`"):
            list(walk.walk(lambda a, b: client.search_posts("MachineLearning", a, b), "posts of r/MachineLearning"))
    assert walk.pages == 2 and len(fake.requests) == 2


# F3, F6: collect over HTTP: odd items in the seeds' answer, a big thread's comment walk with a busy second ----------


def _spec(url: str, seeds: str, extra: str = "") -> str:
    return f"""
[dataset]
name = "hostile"

[discovery]
seeds = [{seeds}]

[archive]
url = "{url}"
subreddits = ["MachineLearning"]
after = "2012-01-01"
before = "2025-01-01"
{extra}
"""


_ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.fixed_dictionaries({"title": st.text(max_size=5)}),  # no id
    st.fixed_dictionaries({"id": st.one_of(st.none(), st.integers(), st.text(max_size=6), st.lists(st.none()))}),
)


@settings(max_examples=examples(2), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=st.lists(_ODD, max_size=12))
@pytest.mark.usefixtures("no_credentials")
def test_odd_items_in_the_seeds_answer_are_skipped_and_counted(tmp_path: Path, drawn: list[Any]) -> None:
    odd = [None, "abc", {"title": "no id here"}, *drawn]  # the review's three, and drawn ones
    store = generate(posts=6, seed=3, subreddits=("MachineLearning", "datascience"), comments_per_post=(0, 2))
    seed = next(p["id"] for p in store.posts if p["subreddit"] == "datascience")  # not walked: fetched by id
    folder = tmp_path / f"ds{len(list(tmp_path.iterdir()))}"
    with FakeArcticShift(store, extra_items={"/api/posts/ids": odd}) as fake:
        folder = write_spec(folder, _spec(fake.url, f'"{seed}"'))
        report = collect(folder, RedditSettings(), clock=_Clock())
    assert report.version == "v0001"
    names = set(pq.read_table(folder / "versions" / "v0001" / "submissions.parquet")["name"].to_pylist())
    assert f"t3_{seed}" in names
    assert report.archive is not None
    valid = sum(1 for o in odd if isinstance(o, dict) and isinstance(o.get("id"), str) and o["id"].isalnum())
    assert report.archive.get("odd_items", 0) >= len(odd) - valid


@pytest.mark.usefixtures("no_credentials")
def test_a_big_threads_comment_walk_records_its_gaps(tmp_path: Path) -> None:
    store = generate(posts=3, seed=8, subreddits=("MachineLearning",), comments_per_post=(0, 0))
    post = store.posts[0]
    t = int(float(post["created_utc"])) + 3600
    for i in range(35):  # 30 in one second, then 5 later
        store.comments.append(
            {
                **{"id": f"zz{i:04d}", "link_id": f"t3_{post['id']}", "parent_id": f"t3_{post['id']}"},
                **{"body": f"c{i}", "author": "u", "created_utc": t + 10 * (i >= 30), "subreddit": "MachineLearning"},
            }
        )
    post["num_comments"] = 35
    with FakeArcticShift(store, page_cap=20) as fake:  # pages of 20: a second of 30 comments cannot be read whole
        folder = write_spec(tmp_path / "ds", _spec(fake.url, "", "tree_max = 10"))
        report = collect(folder, RedditSettings(), clock=_Clock())
        assert report.archive is not None and report.archive["gaps"] == {f"t3_{post['id']}": [t]}
        manifest = json.loads((folder / "versions" / "v0001" / "manifest.json").read_text())
        assert manifest["stats"]["archive"]["gaps"] == {f"t3_{post['id']}": [t]}
        names = set(pq.read_table(folder / "versions" / "v0001" / "comments.parquet")["name"].to_pylist())
        assert len(names) == 25  # the 20 of the first page, and the 5 later: what a page can hold, no more


def test_gaps_of_threads_walked_in_an_earlier_part_of_the_run_are_kept(tmp_path: Path) -> None:
    """A resumed run reads the big threads' gaps (and odd items) back from their ``archive-thread`` events."""
    from scraper.collect.archive import discover_in_archive
    from scraper.spec import load_spec
    from scraper.store.raw import RawArchive

    events = [
        {"event": "archive-thread", "link": "abc", "comments": 130, "gaps": [1_400_000_000], "odd": 2},
        {"event": "archive-thread", "link": "def", "comments": 3},
    ]
    with FakeArcticShift(ArchiveStore()) as fake, ArcticShiftClient(fake.url, clock=SimulatedClock()) as client:
        spec, _ = load_spec(write_spec(tmp_path / "ds", _spec(fake.url, "")))
        with RawArchive(tmp_path / "raw.jsonl.gz") as archive:
            report = discover_in_archive(client, spec, archive, events)
    summary = report.as_json()
    assert summary["gaps"] == {"t3_abc": [1_400_000_000]} and summary["odd_items"] == 2
