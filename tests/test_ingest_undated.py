"""An answer with no known arrival time is dated by what it shows, never "now" (adversarial review 7, F1).

A plain saved body, or a recorded interaction / cassette without a usable Date header,
gets as ``retrieved_at`` the earliest moment it can have been fetched: the newest
``created_utc`` or edit time of any thing in it.  So any sighting dated after that wins
the merge, and an old copy never brings back text Reddit has since removed.  The fast
path (msgspec columns) and the model path agree (the fast path switched off here too;
``tests/test_fastpath.py`` holds both to the in-memory reference for undated bodies).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.errors import InputError
from scraper.ingest import ingest
from scraper.normalize import sightings as sightings_module
from scraper.store.changes import NoChange
from scraper.store.snapshot import Dataset
from tests.conftest import SAMPLES, examples

GX8R8Z = SAMPLES / "comments_gx8r8z_2020_deleted_removed_stickied.json"


@contextmanager
def model_path(on: bool) -> Iterator[None]:
    """Every document through the models (the fast path switched off) when ``on``."""
    with pytest.MonkeyPatch.context() as patch:
        if on:
            patch.setattr(sightings_module.Sightings, "_fast_document", lambda *a, **k: False)
        yield


def latest_rows(folder: Path, stem: str) -> dict[str, dict[str, Any]]:
    latest = Dataset(folder).latest()
    assert latest is not None
    return {r["name"]: r for r in pq.read_table(folder / "versions" / latest / f"{stem}.parquet").to_pylist()}


def newest_shown(body: Any) -> float:
    """The newest created_utc / edited time of every t1 and t3 in a parsed answer (edited only when a time)."""
    newest = 0.0
    stack = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("kind") in ("t1", "t3") and isinstance(node.get("data"), dict):
                data = node["data"]
                newest = max(newest, float(data["created_utc"]))
                edited = data.get("edited")
                if not isinstance(edited, bool) and isinstance(edited, int | float):
                    newest = max(newest, float(edited))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return newest


@pytest.mark.skipif(not GX8R8Z.is_file(), reason="../shared/reddit/samples is not present")
@pytest.mark.parametrize("models", [False, True], ids=["fast", "models"])
def test_an_old_plain_body_does_not_bring_back_a_comment_removed_since(tmp_path: Path, models: bool) -> None:
    """The review's repro: a 2026 answer shows t1_fx1bybl removed; the July 2020 tree saved as a plain
    body must not replace it (it was dated "now" and republished the removed text)."""
    base = json.loads(GX8R8Z.read_text(encoding="utf-8"))
    later = copy.deepcopy(base)
    comment = later["response"]["json"][1]["data"]["children"][2]["data"]["replies"]["data"]["children"][1]["data"]
    assert comment["name"] == "t1_fx1bybl"
    comment.update(author="[deleted]", body="[removed]")
    comment.pop("author_fullname")
    later["source"]["response_date_header"] = later["response"]["headers"]["date"] = "Tue, 01 Dec 2026 00:00:00 GMT"
    (tmp_path / "later.json").write_text(json.dumps(later), encoding="utf-8")
    plain = tmp_path / "old_2020_body.json"
    plain.write_text(json.dumps(base["response"]["json"]), encoding="utf-8")
    folder = tmp_path / "ds"
    with model_path(models):
        ingest(folder, [tmp_path / "later.json"])
        with pytest.raises(InputError, match="nothing newer than v0001"):
            ingest(folder, [plain])
        row = latest_rows(folder, "comments")["t1_fx1bybl"]
        assert (row["status"], row["body"]) == ("removed", "")
        assert row["retrieved_at"] == datetime(2026, 12, 1, tzinfo=UTC)
        # alone, the plain body is dated by the newest time it shows: July 2020, not today
        alone = ingest(tmp_path / "alone", [plain])
    expected = datetime.fromtimestamp(newest_shown(base["response"]["json"]), tz=UTC)
    assert expected.year == 2020
    got = {
        r["retrieved_at"]
        for stem in ("submissions", "comments")
        for r in latest_rows(tmp_path / "alone", stem).values()
    }
    assert got == {expected}, alone["version"]


@pytest.mark.parametrize("models", [False, True], ids=["fast", "models"])
@pytest.mark.parametrize("how", ["plain", "no date", "bad date", "cassette"])
def test_every_undated_way_in_is_dated_by_what_it_shows(tmp_path: Path, models: bool, how: str) -> None:
    body = [
        {"kind": "Listing", "data": {"children": [thing("t3", "abc", 1_500_000_000, title="t")]}},
        {"kind": "Listing", "data": {"children": [
            thing("t1", "c1", 1_500_000_100, edited=1_600_000_000.5),
            thing("t1", "c2", 1_550_000_000, edited=True),
            thing("t1", "c3", 1_500_000_200, edited=1),  # an archive's "true": no time
        ]}},
    ]  # fmt: skip
    url = "https://oauth.reddit.com/comments/abc/?raw_json=1"
    path = tmp_path / "answer.json"
    if how == "plain":
        doc: Any = body
    elif how == "cassette":
        response = {"status": {"code": 200}, "headers": {}, "body": {"string": json.dumps(body)}}
        doc = {"interactions": [{"request": {"method": "GET", "uri": url}, "response": response}]}
    else:
        headers = {"date": "not a date"} if how == "bad date" else {}
        doc = {"request": {"method": "GET", "url": url}, "response": {"status": 200, "headers": headers, "json": body}}
    path.write_text(json.dumps(doc), encoding="utf-8")
    with model_path(models):
        ingest(tmp_path / "ds", [path])
    rows = [*latest_rows(tmp_path / "ds", "submissions").values(), *latest_rows(tmp_path / "ds", "comments").values()]
    assert {r["retrieved_at"] for r in rows} == {datetime.fromtimestamp(1_600_000_000.5, tz=UTC)}


def test_an_answer_showing_no_time_ranks_below_every_dated_sighting(tmp_path: Path) -> None:
    """No thing in it has a usable time: the models refuse them all, and the refused sightings rank last."""
    dated = tmp_path / "dated.json"
    good = thing("t1", "c1", 1_500_000_000, body="kept")
    dated.write_text(
        json.dumps(
            {
                "request": {"method": "GET", "url": "https://oauth.reddit.com/api/info/?id=t1_c1&raw_json=1"},
                "response": {
                    "status": 200,
                    "headers": {"date": "Tue, 01 Dec 2026 00:00:00 GMT"},
                    "json": listing(good),
                },
            }
        ),
        encoding="utf-8",
    )
    timeless = thing("t1", "c1", 0, body="refused")
    del timeless["data"]["created_utc"]
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(listing(timeless)), encoding="utf-8")
    manifest = ingest(tmp_path / "ds", [dated, plain])
    assert latest_rows(tmp_path / "ds", "comments")["t1_c1"]["body"] == "kept"
    assert manifest["stats"]["quarantined"] == 0  # ranked below the dated sighting, so never the one reported


def thing(kind: str, ident: str, created: float, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"id": ident, "name": f"{kind}_{ident}", "created_utc": created, "subreddit": "sub"}
    if kind == "t1":
        data.update(link_id="t3_abc", parent_id="t3_abc", body=f"body {ident}", author="a", replies="")
    data.update(extra)
    return {"kind": kind, "data": data}


def listing(*things: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "Listing", "data": {"children": list(things)}}


# ---- dated vs undated sightings of one item, in any order ------------------------------------------

BASE = 1_600_000_000  # the comment's created_utc


@st.composite
def sightings(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Sightings of t1_c1: each dated (a Date header) or undated (a plain body, which may also show a newer
    sibling), with an edit time or not; each shows its own body text."""
    count = draw(st.integers(2, 4))
    out = []
    for i in range(count):
        edited = draw(st.one_of(st.just(False), st.just(True), st.integers(1, 10**6).map(lambda d: BASE + d)))
        sibling = draw(st.one_of(st.none(), st.integers(-(10**6), 10**6).map(lambda d: BASE + d)))
        date = draw(st.one_of(st.none(), st.integers(0, 2 * 10**6).map(lambda d: BASE + d)))
        out.append({"body": f"v{i}", "edited": edited, "sibling": sibling, "date": date})
    return out


def sighting_time(s: dict[str, Any]) -> int:
    """When a sighting counts as made: its Date, or (undated) the newest time its answer shows."""
    if s["date"] is not None:
        return int(s["date"])
    times = [BASE]
    if not isinstance(s["edited"], bool):
        times.append(s["edited"])
    if s["sibling"] is not None:
        times.append(s["sibling"])
    return max(times)


def write_sighting(folder: Path, index: int, s: dict[str, Any]) -> Path:
    things = [thing("t1", "c1", BASE, body=s["body"], edited=s["edited"])]
    if s["sibling"] is not None:
        things.append(thing("t1", "c2", s["sibling"]))
    path = folder / f"s{index}.json"
    if s["date"] is None:
        doc: Any = listing(*things)
    else:
        date = format_datetime(datetime.fromtimestamp(s["date"], tz=UTC), usegmt=True)
        doc = {
            "request": {"method": "GET", "url": "https://oauth.reddit.com/api/info/?id=t1_c1&raw_json=1"},
            "response": {"status": 200, "headers": {"date": date}, "json": listing(*things)},
        }
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@settings(max_examples=examples(12), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seen=sightings(), models=st.booleans(), together=st.booleans())
def test_an_undated_answer_never_overrides_a_sighting_dated_after_what_it_shows(
    tmp_path_factory: pytest.TempPathFactory, seen: list[dict[str, Any]], models: bool, together: bool
) -> None:
    """Ingested one file at a time (each merged into the latest version) or all at once: the row is the
    sighting made last, an undated one counting as made at the newest time it shows (a later file wins a tie)."""
    tmp = tmp_path_factory.mktemp("undated")
    files = [write_sighting(tmp, i, s) for i, s in enumerate(seen)]
    folder = tmp / "ds"
    with model_path(models):
        if together:
            ingest(folder, files)
        else:
            for path in files:
                try:
                    ingest(folder, [path])
                except InputError as exc:  # an older sighting replaces nothing: no version
                    assert "nothing newer" in str(exc)
                except NoChange:
                    pass
    winner = max(range(len(seen)), key=lambda i: (sighting_time(seen[i]), i))
    row = latest_rows(folder, "comments")["t1_c1"]
    assert row["body"] == seen[winner]["body"]
    assert row["retrieved_at"] == datetime.fromtimestamp(sighting_time(seen[winner]), tz=UTC)
    for s in seen:  # the property itself: no undated answer outranks a sighting dated after what it shows
        if s["date"] is None and any(o["date"] is not None and o["date"] > sighting_time(s) for o in seen):
            assert row["body"] != s["body"]
