"""Adversarial review 8 (on review 7's fixes): each finding, on every path it touches."""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from scraper.dumps import ingest_dumps
from scraper.errors import InputError
from scraper.fake_arctic_shift.dumpfiles import write_zst
from scraper.ingest import ingest
from scraper.normalize.keywords import prefilter
from scraper.spec import Filter, thread_id
from scraper.store.snapshot import Dataset
from tests.conftest import SAMPLES, write_spec
from tests.test_ingest_escaping import recorded
from tests.test_ingest_undated import latest_rows, model_path

GX8R8Z = SAMPLES / "comments_gx8r8z_2020_deleted_removed_stickied.json"
YEAR_2100 = 4_102_444_800


@pytest.mark.skipif(not GX8R8Z.is_file(), reason="../shared/reddit/samples is not present")
@pytest.mark.parametrize("models", [False, True], ids=["fast", "models"])
def test_a_time_past_now_does_not_date_an_undated_answer(tmp_path: Path, models: bool) -> None:
    """F1: one thing 'created' in 2100 in an old plain body no longer dates the body after a 2026 removal."""
    base = json.loads(GX8R8Z.read_text(encoding="utf-8"))
    later = copy.deepcopy(base)
    comment = later["response"]["json"][1]["data"]["children"][2]["data"]["replies"]["data"]["children"][1]["data"]
    comment.update(author="[deleted]", body="[removed]")
    comment.pop("author_fullname")
    later["source"]["response_date_header"] = later["response"]["headers"]["date"] = "Tue, 01 Dec 2026 00:00:00 GMT"
    (tmp_path / "later.json").write_text(json.dumps(later), encoding="utf-8")
    old = copy.deepcopy(base["response"]["json"])
    extra = copy.deepcopy(old[1]["data"]["children"][0])
    extra["data"].update(id="zzzzzz", name="t1_zzzzzz", created_utc=YEAR_2100, replies="")
    old[1]["data"]["children"].append(extra)
    (tmp_path / "old.json").write_text(json.dumps(old), encoding="utf-8")
    folder = tmp_path / "ds"
    with model_path(models):
        ingest(folder, [tmp_path / "later.json"])
        with contextlib.suppress(InputError):  # "nothing newer than v0001", or a version: both keep the removal
            ingest(folder, [tmp_path / "old.json"])
    row = latest_rows(folder, "comments")["t1_fx1bybl"]
    assert (row["status"], row["body"]) == ("removed", "")
    assert row["retrieved_at"].year == 2026


def test_a_pattern_re2_cannot_compile_gets_no_prefilter_and_dumps_judges_in_python(tmp_path: Path) -> None:
    """F2: nested counted repeats past RE2's 1,000 are Python's to judge, not an internal error."""
    pattern = r"(?:\w{1,30}\s+){0,40}burnout"
    assert prefilter((pattern,)) is None
    spec = (
        '[dataset]\nname = "f"\n\n[discovery]\nsubreddits = ["datascience"]\n\n'
        f"[filter]\ninclude = [{json.dumps(pattern)}]\n\n[archive]\nafter = 2015-01-01\nbefore = 2020-01-01\n"
    )
    folder = write_spec(tmp_path / "ds", spec)
    titles = ["total burnout at work", "nothing here"]
    line = {"created_utc": 1_500_000_000, "subreddit": "datascience", "author": "a", "selftext": "", "is_self": False}
    posts = [{**line, "id": f"aaaa{i}", "title": t, "retrieved_on": 1_500_100_000} for i, t in enumerate(titles)]
    ingest_dumps(folder, [write_zst(tmp_path / "RS_2017-07.zst", posts)])
    kept = [r["title"] for r in pq.read_table(folder / "versions" / "v0001" / "submissions.parquet").to_pylist()]
    assert kept == [t for t in titles if Filter(include=[pattern]).matches(t, "")] == ["total burnout at work"]


@pytest.mark.parametrize("form", ["sample", "cassette"])
def test_an_archive_answer_is_not_unescaped_for_want_of_raw_json(tmp_path: Path, form: str) -> None:
    """F3: raw_json is Reddit's; Arctic Shift's answers keep their text as the raw archive's reading does."""
    body = "AT&amp;T &lt;3"
    item = {
        "id": "abc123", "created_utc": 1_600_000_000, "subreddit": "sub", "author": "u", "body": body,
        "link_id": "t3_xyz", "parent_id": "t3_xyz", "score": 3, "retrieved_on": 1_600_500_000,
    }  # fmt: skip
    archive = "[archive]\nafter = 2015-01-01\nbefore = 2021-01-01\ntext_when_gone = true\n"
    write_spec(tmp_path / "ds", '[dataset]\nname = "x"\n\n[discovery]\nsubreddits = ["sub"]\n\n' + archive)
    url = "https://arctic-shift.photon-reddit.com/api/comments/ids?ids=abc123"
    post = {
        "id": "xyz",
        "created_utc": 1_600_000_000,
        "subreddit": "sub",
        "author": "u",
        "title": "Q&amp;A",
        "selftext": "",
    }
    posts = "https://arctic-shift.photon-reddit.com/api/posts/ids?ids=xyz"
    files = [
        recorded(tmp_path / "as2.json", {"data": [{**post, "score": 1, "retrieved_on": 1_600_500_000}]}, posts, form),
        recorded(tmp_path / "as.json", {"data": [item]}, url, form),
    ]
    manifest = ingest(tmp_path / "ds", files)
    table = pq.read_table(tmp_path / "ds" / "versions" / Dataset(tmp_path / "ds").latest() / "comments.parquet")
    assert [r["body"] for r in table.to_pylist()] == [body]
    assert "unescaped" not in (manifest.get("stats", {}).get("escaping") or {})


@pytest.mark.parametrize(
    "url",
    [
        "https://imgur.com/gallery/AbC12xY",
        "https://www.flickr.com/photos/x/gallery/72157",
        "https://example.com/reddit.com/gallery/abc",
    ],
)
def test_only_reddits_gallery_links_are_threads(url: str) -> None:
    """F4: another site's gallery id is no Reddit thread."""
    with pytest.raises(ValueError, match="neither a thread id"):
        thread_id(url)
    assert thread_id("https://new.reddit.com/gallery/11RYVAO") == "11ryvao"
