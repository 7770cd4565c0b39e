"""Collection end to end against the fake Reddit on 127.0.0.1: discovery, complete trees, problems."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from scraper.collect.expand import expand_thread
from scraper.collect.run import collect
from scraper.errors import AuthError, ConfigError, SubredditUnavailable
from scraper.fake_reddit import FakeReddit, Forest
from scraper.fake_reddit.generate import generate_thread
from scraper.sources.reddit import RedditClient, RedditSettings
from scraper.store.raw import read_records
from tests.conftest import SMALL_SPEC, settings_for, write_spec

LEAVING_ML = Path(__file__).resolve().parents[1] / "datasets" / "leaving-ml" / "dataset.toml"


def read_version(folder: Path, version: str) -> tuple[list[dict], list[dict]]:
    base = folder / "versions" / version
    return (
        pq.read_table(base / "submissions.parquet").to_pylist(),
        pq.read_table(base / "comments.parquet").to_pylist(),
    )


def test_collect_leaving_ml_spec_is_complete(
    tmp_path: Path, fake_reddit: FakeReddit, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAVING_ML_PSEUDONYM_KEY", "a-test-key-of-enough-length")
    folder = write_spec(tmp_path / "leaving-ml", LEAVING_ML.read_text(encoding="utf-8"))
    report = collect(folder, settings_for(fake_reddit), archive=False)  # live only; the archive: test_archive_collect
    assert report.version == "v0001" and report.problems == []
    submissions, comments = read_version(folder, "v0001")
    thread = fake_reddit.forest.threads["11ryvao"]
    assert {c["id"] for c in comments} == set(thread.comments)
    for row in comments:  # every parent as the server holds it, and depth from the chain
        assert row["parent_id"] == thread.comments[row["id"]]["parent_id"]
        assert row["depth"] == thread.depth(row["id"])
    (sub,) = submissions
    assert "seed:11ryvao" in sub["found_by"]
    assert 'search:r/MachineLearning:"quit machine learning"' in sub["found_by"]
    assert all(c["found_by"] == sub["found_by"] for c in comments)
    # the small cut limits forced load-more and continue-this-thread stubs
    assert fake_reddit.count("/api/morechildren") >= 2
    assert fake_reddit.count("/comments/11ryvao/_/") >= 1
    assert report.requests["comments"] == fake_reddit.count("/comments/")


@pytest.mark.parametrize(("size", "vanish"), [(300, 0.0), (1500, 0.3)])
def test_generated_tree_complete_even_when_reddit_drops_ids(size: int, vanish: float) -> None:
    forest = Forest(seed=7, vanish_rate=vanish)
    submission, comments = generate_thread("gen1", size, seed=3, chain_length=24)
    forest.add_thread(submission, comments)
    with FakeReddit(forest, quota=10**9) as server:
        client = RedditClient(settings_for(server))
        result = expand_thread(client, "gen1")
        assert result.complete, result.unresolved
        assert result.held == len(forest.visible_ids("gen1")) + result.deleted_leaves  # deleted leaves: WIRE §4b
        assert max(forest.threads["gen1"].depth(c) for c in forest.visible_ids("gen1")) >= 20


def test_filter_drops_irrelevant_search_hits_before_fetching(tmp_path: Path) -> None:
    forest = Forest()
    keep, keep_c = generate_thread("keep1", 5, seed=1, title="Why I quit machine learning")
    drop, drop_c = generate_thread("drop1", 5, seed=2, title="Machine learning homework help")
    forest.add_thread(keep, keep_c)
    forest.add_thread(drop, drop_c)
    spec = SMALL_SPEC.replace('"quit machine learning"', "machine learning") + '\n[filter]\ninclude = ["\\\\bquit"]\n'
    folder = write_spec(tmp_path / "f", spec)
    with FakeReddit(forest, quota=10**9) as server:
        report = collect(folder, settings_for(server))
        assert server.count("/comments/drop1") == 0
    submissions, comments = read_version(folder, report.version or "")
    assert [s["id"] for s in submissions] == ["keep1"]
    assert {c["link_id"] for c in comments} == {"t3_keep1"}
    assert report.filtered_out == 1


def test_search_pages_with_after_until_the_end(tmp_path: Path) -> None:
    forest = Forest()
    for i in range(250):
        sub, _ = generate_thread(f"p{i:03d}", 0, seed=i, title=f"I quit machine learning, part {i}")
        forest.add_thread(sub, [])
    folder = write_spec(tmp_path / "pages", SMALL_SPEC)
    with FakeReddit(forest, quota=10**9) as server:
        report = collect(folder, settings_for(server))
        assert server.count("/search") == 3
    submissions, _ = read_version(folder, report.version or "")
    assert len(submissions) == 250


def test_unavailable_subreddits_and_deleted_seed_are_reported_and_the_rest_kept(
    tmp_path: Path, demo_forest: Forest
) -> None:
    demo_forest.private_subreddits.add("secretsub")
    spec = SMALL_SPEC.replace('["MachineLearning"]', '["secretsub", "nosuchsub", "MachineLearning"]').replace(
        "seeds = []", 'seeds = ["zzzzzz"]'
    )
    folder = write_spec(tmp_path / "p", spec)
    with FakeReddit(demo_forest, quota=10**9) as server:
        report = collect(folder, settings_for(server))
    assert len(report.problems) == 3
    assert any("r/secretsub" in p and "private" in p for p in report.problems)
    assert any("r/nosuchsub" in p and "unknown" in p for p in report.problems)
    assert any("t3_zzzzzz" in p and "deleted or never existed" in p for p in report.problems)
    _, comments = read_version(folder, "v0001")
    assert len(comments) == 20


def test_private_subreddit_error_names_it(demo_forest: Forest) -> None:
    demo_forest.private_subreddits.add("secretsub")
    with FakeReddit(demo_forest) as server:
        client = RedditClient(settings_for(server))
        with pytest.raises(SubredditUnavailable, match=r"r/secretsub cannot be searched: private"):
            client.search("secretsub", "x", sort="new", time_filter="all")


def test_missing_credentials_is_a_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("praw_client_id", "praw_client_secret", "praw_site"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # no praw.ini here
    with pytest.raises(ConfigError, match="praw_client_id"):
        RedditClient(RedditSettings(oauth_url="http://127.0.0.1:9", reddit_url="http://127.0.0.1:9"))


def test_wrong_credentials_is_an_auth_error(fake_reddit: FakeReddit) -> None:
    client = RedditClient(settings_for(fake_reddit, client_secret="wrong-secret"))
    with pytest.raises(AuthError, match="credentials"):
        client.info(["t3_11ryvao"])


def test_secrets_never_reach_the_archive_or_the_snapshot(tmp_path: Path, fake_reddit: FakeReddit) -> None:
    folder = write_spec(tmp_path / "s", SMALL_SPEC)
    collect(folder, settings_for(fake_reddit))
    (token,) = fake_reddit.tokens
    everything = b""
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            everything += gzip.decompress(data) if path.suffix == ".gz" else data
    assert token.encode() not in everything
    assert b"fake-client-secret" not in everything
    assert b"<ACCESS_TOKEN>" in everything  # the token response is archived, masked
    records = [r for r in read_records(next((folder / "raw").glob("*.jsonl.gz"))) if "event" not in r]
    assert all("authorization" not in {k.lower() for k in r["headers"]} for r in records)


def test_archive_keeps_every_response_with_its_request(tmp_path: Path, fake_reddit: FakeReddit) -> None:
    folder = write_spec(tmp_path / "a", SMALL_SPEC)
    collect(folder, settings_for(fake_reddit))
    records = [r for r in read_records(next((folder / "raw").glob("*.jsonl.gz"))) if "event" not in r]
    assert len(records) == len(fake_reddit.log)  # the token request included
    posts = [r for r in records if r["url"].endswith("/api/morechildren/")]
    assert posts and all(r["form"]["link_id"] == "t3_11ryvao" and r["method"] == "POST" for r in posts)
    assert all(r["params"].get("raw_json") == "1" for r in records if "access_token" not in r["url"])


def test_ingest_of_the_raw_archive_rebuilds_the_same_version(tmp_path: Path) -> None:
    forest = Forest(seed=3, vanish_rate=0.1)
    for n, title in enumerate(["Why I quit machine learning", "Machine learning homework help"]):
        submission, comments = generate_thread(f"rb{n}", 300, seed=n, title=title)
        forest.add_thread(submission, comments)
    spec = SMALL_SPEC.replace('"quit machine learning"', "machine learning") + '\n[filter]\ninclude = ["quit"]\n'
    folder = write_spec(tmp_path / "ds", spec)
    with FakeReddit(forest, quota=10**9) as server:
        collect(folder, settings_for(server))
    from scraper.ingest import ingest
    from scraper.store.changes import NoChange

    raw = sorted((folder / "raw").glob("*.jsonl.gz"))
    with pytest.raises(NoChange, match="no change since v0001"):  # what v0001 holds: no second copy of it
        ingest(folder, raw)  # no network: the fake Reddit is gone
    manifest = ingest(folder, raw, write_unchanged=True)
    assert manifest["version"] == "v0002"
    for stem in ("submissions", "comments"):
        first = pq.read_table(folder / "versions" / "v0001" / f"{stem}.parquet")
        again = pq.read_table(folder / "versions" / "v0002" / f"{stem}.parquet")
        assert again.equals(first), stem


def test_a_thread_made_private_mid_expansion_is_a_problem_not_the_end_of_the_run(tmp_path: Path) -> None:
    forest = Forest()
    for n in range(2):
        submission, comments = generate_thread(f"pv{n}", 800, seed=n, title=f"I quit machine learning {n}")
        forest.add_thread(submission, comments)

    class PrivateAfterFirstLook(FakeReddit):
        def _api(self, method: str, path: str, params: dict, form: dict) -> tuple:
            if path.startswith("/api/morechildren") and form.get("link_id") == "t3_pv0":
                return 403, {"content-type": "application/json"}, b'{"reason": "private", "error": 403}'
            return super()._api(method, path, params, form)

    folder = write_spec(tmp_path / "ds", SMALL_SPEC)
    with PrivateAfterFirstLook(forest, quota=10**9) as server:
        report = collect(folder, settings_for(server))
    assert len(report.problems) == 1 and "t3_pv0" in report.problems[0] and "private" in report.problems[0]
    _, comments = read_version(folder, report.version or "")
    assert {c["link_id"] for c in comments} == {"t3_pv0", "t3_pv1"}  # what pv0 gave before is kept
    assert sum(c["link_id"] == "t3_pv1" for c in comments) == len(forest.visible_ids("pv1"))
