"""Ids in Reddit's case on every path, and purge names an item in any case (adversarial review 4, F1).

A hand-made or converted file given to ``ingest`` may spell an id ``AbC12`` (``t1_AbC12``).  The
archive paths always lower-cased ASCII ids; the API/ingest path kept them as written, so the item
could be stored twice (``t1_AbC12`` from ingest, ``t1_abc12`` from a dump) and ``purge`` could not
name it (``t1_AbC12`` was refused, ``t1_abc12`` missed the row).  Now every path stores
``t1_abc12``; ``purge`` takes a fullname in any case and matches stored names case-blind, so a
version written before the change is purged too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from scraper.dumps import ingest_dumps
from scraper.fake_arctic_shift.dumpfiles import write_zst
from scraper.ingest import ingest
from scraper.normalize import harvest as harvest_module
from scraper.normalize import rows as rows_module
from scraper.normalize import sightings as sightings_module
from scraper.publish.validate import validate
from scraper.store.purge import PURGES_FILE, purge, scrub_record
from scraper.store.snapshot import Dataset
from tests.test_purge import every_byte

SECRET = "PLEASE-REMOVE-upper-case-7373"
MISFIT = "PLEASE-REMOVE-misfit-5151"
SPELLINGS = ["t1_AbC12", "t1_abc12", "T1_ABC12"]


def _comment(ident: str, body: str, **more: Any) -> dict[str, Any]:
    data = {"id": ident, "name": f"t1_{ident}", "link_id": "t3_Thr", "parent_id": "t3_Thr", "author": "alice"}
    return {"kind": "t1", "data": {**data, "body": body, "created_utc": 1.7e9, "subreddit": "test", **more}}


def _listing(path: Path, *things: dict[str, Any]) -> Path:
    thread = {"id": "Thr", "name": "t3_Thr", "title": "t", "selftext": "", "author": "op", "subreddit": "test"}
    children = [{"kind": "t3", "data": {**thread, "created_utc": 1.7e9}}, *things]
    path.write_text(json.dumps({"kind": "Listing", "data": {"children": children}}), encoding="utf-8")
    return path


def _rows(folder: Path, version: str) -> list[dict[str, Any]]:
    return pq.read_table(folder / "versions" / version / "comments.parquet").to_pylist()


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_an_upper_case_item_is_stored_in_reddits_case_and_purged_by_any_spelling(tmp_path: Path, spelling: str) -> None:
    folder = tmp_path / "ds"
    ingest(folder, [_listing(tmp_path / "info.json", _comment("AbC12", f"my {SECRET} text"))])
    (row,) = _rows(folder, "v0001")
    assert (row["name"], row["id"], row["link_id"], row["parent_id"]) == ("t1_abc12", "abc12", "t3_thr", "t3_thr")
    assert SECRET.encode() in every_byte(folder)
    entry = purge(folder, [spelling])
    assert entry["rows"] == {"v0001": 1} and entry["fullnames"] == ["t1_abc12"]
    assert SECRET.encode() not in every_byte(folder)
    assert [json.loads(line)["fullnames"] for line in (folder / PURGES_FILE).read_text().splitlines()] == [["t1_abc12"]]
    assert validate(folder).valid


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_version_written_before_ids_were_lowered_is_purged_by_any_spelling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    """v0001 as the old code wrote it: ``t1_AbC12`` in the table, a quarantined ``t1_XyZ9`` with its text."""
    folder = tmp_path / "ds"
    saved = _listing(
        tmp_path / "info.json",
        _comment("AbC12", f"my {SECRET} text"),
        _comment("XyZ9", f"my {MISFIT} text", score="lots"),  # quarantined: score is no number
    )
    with monkeypatch.context() as old_code:
        for module, names in (
            (sightings_module, ("lower_id", "lower_ids", "lowered_ids")),
            (rows_module, ("lower_id",)),
            (harvest_module, ("lower_id",)),
        ):
            for name in names:
                old_code.setattr(module, name, lambda value: value, raising=False)  # the old code has none
        ingest(folder, [saved])
    assert [r["name"] for r in _rows(folder, "v0001")] == ["t1_AbC12"]
    assert json.loads((folder / "quarantine" / "v0001.jsonl").read_text())["name"] == "t1_XyZ9"
    entry = purge(folder, [spelling, "T1_xyz9"])
    assert entry["rows"] == {"v0001": 1} and entry["quarantine_lines"] == 1
    data = every_byte(folder)
    assert SECRET.encode() not in data and MISFIT.encode() not in data
    # the same file ingested again by the current code: one row in Reddit's case, purged, no text anywhere
    ingest(folder, [saved], write_unchanged=True)
    assert [(r["name"], r["status"], r["body"]) for r in _rows(folder, "v0002")] == [("t1_abc12", "purged", "")]
    data = every_byte(folder)
    assert SECRET.encode() not in data and MISFIT.encode() not in data
    assert Dataset(folder).versions() == ["v0001", "v0002"]


def test_one_item_spelled_two_ways_is_one_row_on_every_path(tmp_path: Path) -> None:
    first = _listing(tmp_path / "a.json", _comment("AbC12", "first"))
    second = _listing(tmp_path / "b.json", _comment("abc12", "second", created_utc=1.7e9))
    ingest(tmp_path / "ingested", [first, second])
    assert [r["name"] for r in _rows(tmp_path / "ingested", "v0001")] == ["t1_abc12"]
    # the dump path stores the same item under the same name
    lines = [{**_comment(ident, "dumped")["data"], "created_utc": 1_700_000_000} for ident in ("AbC12", "abc12")]
    ingest_dumps(tmp_path / "dumped", [write_zst(tmp_path / "RC_2023-11.zst", lines)], keep_all=True)
    assert [r["name"] for r in _rows(tmp_path / "dumped", "v0001")] == ["t1_abc12"]


def test_the_raw_archive_loses_an_upper_case_items_text() -> None:
    """A raw response holding ``t1_AbC12`` (Reddit's answer as recorded, or a converted file) is scrubbed."""
    listing = {"kind": "Listing", "data": {"children": [_comment("AbC12", SECRET)]}}
    as_json: dict[str, Any] = {"url": "u", "status": 200, "json": json.loads(json.dumps(listing))}
    as_body: dict[str, Any] = {"url": "u", "status": 200, "body": json.dumps(listing)}
    assert scrub_record(as_json, {"t1_abc12"}) == 1 and SECRET not in json.dumps(as_json)
    assert scrub_record(as_body, {"t1_abc12"}) == 1 and SECRET not in json.dumps(as_body)
