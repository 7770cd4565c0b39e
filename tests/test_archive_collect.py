"""Collection with an [archive] section: history from a fake Arctic Shift, Reddit authoritative, ingest rebuilds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from scraper.collect.run import collect
from scraper.fake_arctic_shift import FakeArcticShift, generate
from scraper.fake_arctic_shift.generate import reddit_today
from scraper.fake_reddit import FakeReddit, Forest
from scraper.ingest import ingest
from scraper.normalize.archive import archive_facts
from scraper.sources.reddit import RedditSettings
from scraper.spec import Filter
from tests.conftest import settings_for, write_spec

RULE = Filter(include=["quit", "leav", "burn", "switch"])


def _spec(url: str, extra: str = "", seeds: str = "") -> str:
    return f"""
[dataset]
name = "history"

[discovery]
seeds = [{seeds}]

[filter]
include = ["quit", "leav", "burn", "switch"]

[archive]
url = "{url}"
subreddits = ["MachineLearning", "datascience"]
after = "2012-01-01"
before = "2025-01-01"
{extra}
"""


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("praw_client_id", "praw_client_secret", "praw_site", "praw_username", "praw_password"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no praw.ini around


def _table(folder: Path, stem: str, version: str = "v0001") -> Any:
    return pq.read_table(folder / "versions" / version / f"{stem}.parquet")


def _matching(store: Any) -> set[str]:
    return {
        f"t3_{p['id']}"
        for p in store.posts
        if p["subreddit"] in ("MachineLearning", "datascience") and RULE.matches(p["title"], p.get("selftext") or "")
    }


def test_archive_only_without_credentials_builds_a_version_and_ingest_rebuilds_it(
    tmp_path: Path, no_credentials: None
) -> None:
    store = generate(posts=40, seed=7, start=1_325_376_000, end=1_735_689_600)
    seed = next(p for p in store.posts if f"t3_{p['id']}" not in _matching(store))  # a seed the rule would drop
    with FakeArcticShift(store, throttle_every=7) as fake:
        folder = write_spec(tmp_path / "ds", _spec(fake.url, seeds=f'"{seed["id"]}"'))
        report = collect(folder, RedditSettings(), retry=None, clock=_Clock())
    assert fake.count("/api/posts/ids") >= 1
    assert report.version == "v0001"
    assert any("no Reddit credentials" in p for p in report.problems)
    subs, comments = _table(folder, "submissions"), _table(folder, "comments")
    kept = _matching(store) | {f"t3_{seed['id']}"}  # seeds are kept whatever the rule says
    assert set(subs["name"].to_pylist()) == kept
    seed_row = next(r for r in subs.to_pylist() if r["id"] == seed["id"])
    assert f"seed:{seed['id']}" in seed_row["found_by"]
    wanted = {f"t1_{c['id']}" for c in store.comments if c["link_id"] in kept}
    assert set(comments["name"].to_pylist()) == wanted  # every comment of every kept thread, trees and ids
    assert set(subs["source"].to_pylist()) == {"arctic-shift"}
    assert all(any(x.startswith(("archive:r/", "seed:")) for x in f) for f in subs["found_by"].to_pylist())
    raw = {c["id"]: c for c in store.comments}
    for row in comments.to_pylist():
        facts = archive_facts(raw[row["id"]], "t1")
        assert row["status"] == row["archive_status"] == facts.status.value
        if row["status"] != "visible":
            assert row["body"] == "" and row["author"] is None  # defaults respect deletions
        assert row["archived_at"] is not None
    assert report.archive is not None and report.archive["threads"] == len(kept)
    # ingest of the run's raw archive rebuilds the same rows
    rebuilt = write_spec(tmp_path / "rebuilt", (folder / "dataset.toml").read_text())  # the same keyword rule
    ingest(rebuilt, sorted((folder / "raw").glob("*.jsonl.gz")))
    for stem in ("submissions", "comments"):
        assert (
            _table(rebuilt, stem)
            .select(["name", "status", "body" if stem == "comments" else "title"])
            .equals(_table(folder, stem).select(["name", "status", "body" if stem == "comments" else "title"]))
        )


@pytest.mark.parametrize("text_when_gone", [False, True])
def test_reddit_is_authoritative_and_archive_fills_only_what_it_no_longer_serves(
    tmp_path: Path, text_when_gone: bool
) -> None:
    store = generate(posts=24, seed=11, comments_per_post=(2, 8), start=1_420_070_400, end=1_735_689_600)
    forest = Forest()
    gone = reddit_today(store, forest, gone_share=0.2, seed=1)
    extra = f"text_when_gone = {'true' if text_when_gone else 'false'}"
    with FakeArcticShift(store) as fake, FakeReddit(forest, quota=10**9) as reddit:
        folder = write_spec(tmp_path / "ds", _spec(fake.url, extra))
        report = collect(folder, settings_for(reddit), clock=_Clock())
    assert report.problems == []
    kept = _matching(store)
    assert {f"t3_{t.link}" for t in report.threads} == kept  # every archive thread re-read through Reddit
    comments = {r["name"]: r for r in _table(folder, "comments").to_pylist()}
    subs = _table(folder, "submissions").to_pylist()
    assert {r["source"] for r in subs} == {"reddit-api"}
    assert all(r["archive_status"] is not None and r["archived_at"] is not None for r in subs)
    raw = {f"t1_{c['id']}": c for c in store.comments}
    served = {f"t1_{cid}" for link in kept for cid in forest.visible_ids(link[3:])}
    gone_here = {n for n in raw if raw[n]["link_id"] in kept and n not in served}
    assert gone & gone_here
    assert gone_here, "the fixture must have comments Reddit no longer serves"
    for name, row in comments.items():
        if name in gone_here:
            assert row["source"] == "arctic-shift"
            facts = archive_facts(raw[name], "t1")
            if text_when_gone:
                assert row["status"] == facts.status.value
                if facts.status.value == "visible":
                    assert row["body"] == raw[name]["body"]
            else:
                assert row["status"] == "unavailable" and row["body"] == "" and row["author"] is None
        else:
            assert row["source"] == "reddit-api"  # Reddit's copy wins wherever Reddit serves the item


def test_a_killed_archive_walk_resumes_to_the_same_version(tmp_path: Path, no_credentials: None) -> None:
    from scraper.errors import BudgetExhausted
    from scraper.sources import arctic_shift

    store = generate(posts=60, seed=4)
    with FakeArcticShift(store) as fake:
        whole = write_spec(tmp_path / "whole", _spec(fake.url))
        collect(whole, RedditSettings(), clock=_Clock())
        cut = write_spec(tmp_path / "cut", _spec(fake.url))
        original = arctic_shift.ArcticShiftClient.__init__

        def limited(self: Any, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **{**kwargs, "max_requests": 5})

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(arctic_shift.ArcticShiftClient, "__init__", limited)
            with pytest.raises(BudgetExhausted):
                collect(cut, RedditSettings(), clock=_Clock())
        collect(cut, RedditSettings(), clock=_Clock())
    for stem in ("submissions", "comments"):
        a = _table(whole, stem).drop_columns(["retrieved_at"])
        b = _table(cut, stem).drop_columns(["retrieved_at"])
        assert a.equals(b)


class _Clock:
    """No real waits in tests."""

    t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds
