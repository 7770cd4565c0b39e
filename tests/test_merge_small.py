"""A small build sorted in Arrow (``scraper/normalize/merge_small.py``) writes what DuckDB's sort writes.

The same staged sightings (real staging files, from generated Reddit answers read at several
times under several labels, with bad values to quarantine, and a base version's rows) are merged
twice, once through DuckDB (``SMALL_ROWS`` at 0) and once through Arrow, with a thread filter,
refresh's base-only rule, purges, pseudonyms and earlier visible names drawn: the written
tables (schema and rows, in order), the quarantine file and every count must be equal.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.build import VersionBuilder
from scraper.ingest import read_file
from scraper.normalize import merge as merge_module
from scraper.normalize import merge_small
from scraper.normalize.harvest import Seen
from scraper.normalize.pseudonyms import Pseudonymizer
from scraper.store.snapshot import Dataset
from tests.conftest import examples
from tests.test_fastpath import EPOCH, STRING, t1_data

DATES = ["Tue, 01 Dec 2026 12:00:00 GMT", "Wed, 02 Dec 2026 08:00:00 GMT"]
THREADS = ["aaa", "bbb"]


@st.composite
def answers(draw: st.DrawFn) -> list[Any]:
    """A comment tree answer of one of two threads: its submission, and comments that may quarantine."""
    thread = draw(st.sampled_from(THREADS))
    things = []
    for i in range(draw(st.integers(0, 5))):
        cid = f"{thread[0]}{draw(st.integers(0, 4))}"
        parent = f"t3_{thread}" if i == 0 or draw(st.booleans()) else f"t1_{thread[0]}{draw(st.integers(0, 4))}"
        data = draw(t1_data(cid, parent))
        data["link_id"] = f"t3_{thread}"
        data["replies"] = ""
        things.append({"kind": "t1", "data": data})
    title = draw(st.sampled_from(["quit ML", "staying", "[deleted]"]))
    submission: dict[str, Any] = {"id": thread, "name": f"t3_{thread}", "title": title, "created_utc": draw(EPOCH)}
    for key in ("selftext", "author", "subreddit"):
        if draw(st.booleans()):
            submission[key] = draw(STRING)
    return [
        {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": submission}]}},
        {"kind": "Listing", "data": {"children": things}},
    ]


def _file(folder: Path, name: str, body: Any, date: str) -> Path:
    thread = body[0]["data"]["children"][0]["data"]["id"]
    doc = {
        "request": {"method": "GET", "url": f"https://oauth.reddit.com/comments/{thread}/"},
        "response": {"status": 200, "headers": {"date": date}, "json": body},
    }
    path = folder / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _merged(builder: VersionBuilder, out: Path, options: dict[str, Any]) -> tuple[Any, ...]:
    out.mkdir()
    outputs = {stem: out / f"{stem}.parquet" for stem in ("submissions", "comments")}
    result = merge_module.merge(builder.staged(), out, outputs, out / "quarantine.jsonl", **options)
    tables = {stem: pq.read_table(path) for stem, path in outputs.items()}
    return tables, (out / "quarantine.jsonl").read_text(encoding="utf-8"), dataclasses.asdict(result)


def _keep(seen: Seen, labels: list[str]) -> bool:
    return "quit" in str(seen.data.get("title")) or "f1.json" in labels


@settings(max_examples=examples(8), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    base=st.lists(st.tuples(answers(), st.sampled_from(DATES)), max_size=2),
    new=st.lists(st.tuples(answers(), st.sampled_from(DATES)), min_size=1, max_size=4),
    rule=st.sampled_from(["none", "filter", "base_only"]),
    purged=st.sets(st.sampled_from(["t3_aaa", "t1_a0", "t1_b1", "t1_a3"])),
    pseudonyms=st.booleans(),
    visible=st.sets(st.sampled_from(["t1_a0", "t1_a1", "t1_b0", "t3_bbb"])),
)
def test_arrow_and_duckdb_sorts_write_the_same_version(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    base: list[tuple[Any, str]],
    new: list[tuple[Any, str]],
    rule: str,
    purged: set[str],
    pseudonyms: bool,
    visible: set[str],
) -> None:
    tmp = tmp_path_factory.mktemp("small")
    dataset = Dataset(tmp / "ds")
    version = None
    if base:
        with VersionBuilder(dataset) as first:
            for i, (body, date) in enumerate(base):
                read_file(_file(tmp, f"b{i}.json", body, date), first.sightings)
            try:
                version = first.write(spec_sha256=None, source={"kind": "test"}, stats={})["version"]
            except Exception:  # noqa: BLE001 - nothing usable in the base's answers: no base then
                version = None
    options: dict[str, Any] = {
        "keep_thread": _keep if rule == "filter" else None,
        "base_only": rule == "base_only" and version is not None,
        "pseudonymizer": Pseudonymizer(b"k" * 32) if pseudonyms else None,
        "previously_visible": pa.array(sorted(visible), pa.string()),
        "purged": frozenset(purged),
    }
    with VersionBuilder(dataset, base=version) as builder:
        for i, (body, date) in enumerate(new):
            read_file(_file(tmp, f"f{i}.json", body, date), builder.sightings)
        with monkeypatch.context() as patch:
            patch.setattr(merge_small, "SMALL_ROWS", 20_000)  # the thorough profile sets it to 0
            small = merge_small.fits(builder.staged(), merge_module._NEWEST_FIRST.sort, facts=False, most=10**6)
            assert small is not None  # the Arrow path takes this build
            arrow = _merged(builder, tmp / "arrow", options)
            patch.setattr(merge_small, "SMALL_ROWS", 0)
            duck = _merged(builder, tmp / "duckdb", options)
    for stem in ("submissions", "comments"):
        assert arrow[0][stem].schema.equals(duck[0][stem].schema, check_metadata=True), stem
        assert arrow[0][stem].to_pylist() == duck[0][stem].to_pylist(), stem
    assert arrow[1] == duck[1]
    assert arrow[2] == duck[2]


def test_a_build_it_cannot_take_goes_to_duckdb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """More sightings than SMALL_ROWS (or than a key range), the archive facts' join, or a NULL key."""
    monkeypatch.setattr(merge_small, "SMALL_ROWS", 20_000)
    staged = tmp_path / "c.parquet"
    pq.write_table(pa.table({"_key": ["t1_a", "t1_b", None]}), staged)
    found = tmp_path / "f.parquet"
    pq.write_table(pa.table({"thread": ["t3_a"], "label": ["x"]}), found)
    order = merge_module._NEWEST_FIRST.sort
    assert merge_small.fits({"found": [found]}, order, facts=False, most=10) is not None
    assert merge_small.fits({"comments": [staged]}, order, facts=False, most=10) is None  # NULL key
    assert merge_small.fits({"found": [found]}, order, facts=True, most=10) is None
    assert merge_small.fits({"found": [found]}, order, facts=False, most=0) is None
    assert merge_small.fits({"found": [found]}, "retrieved_at ASC", facts=False, most=10) is None
    assert merge_small.fits({"found": [found, staged]}, order, facts=False, most=10) is None  # schemas differ
