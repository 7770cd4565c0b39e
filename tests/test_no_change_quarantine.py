""" "No change" compares which things are quarantined, not how many (adversarial review 4, F5).

A build whose rows are the latest version's but which quarantined a thing the latest version's
quarantine file lacks is a change: it writes a version, so the new misfit is recorded. Things
are compared by fullname, or by their raw line where an entry has none (a dump's line).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.ingest import ingest
from scraper.store.changes import NoChange, unchanged_since
from scraper.store.snapshot import Dataset, table_path

DATE = "Mon, 06 Jul 2020 00:21:00 GMT"


def _thing(ident: str, body: str, score: Any) -> dict[str, Any]:
    data = {
        "id": ident,
        "name": f"t1_{ident}",
        "link_id": "t3_thr",
        "parent_id": "t3_thr",
        "body": body,
        "author": "alice",
        "created_utc": 1700000000.0,
        "subreddit": "test",
        "score": score,
    }
    return {"kind": "t1", "data": data}


def _answer(path: Path, misfits: list[str]) -> Path:
    """A recorded /api/info answer: one comment that fits, and a comment per misfit (a score "lots")."""
    children = [_thing("good", "kept text", 1)] + [_thing(m, f"misfit {m}", "lots") for m in misfits]
    record = {
        "request": {"method": "GET", "url": "https://oauth.reddit.com/api/info/"},
        "source": {"response_date_header": DATE},
        "response": {"status": 200, "json": {"kind": "Listing", "data": {"children": children}}},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record), encoding="utf-8")
    return path


def test_a_different_misfit_of_the_same_count_makes_a_version_that_records_it(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    ingest(folder, [_answer(tmp_path / "a.json", ["xxx"])])
    manifest = ingest(folder, [_answer(tmp_path / "b" / "a.json", ["yyy"])])  # was: "no change since v0001"
    assert manifest["version"] == "v0002"
    assert "misfit yyy" in (folder / "quarantine" / "v0002.jsonl").read_text(encoding="utf-8")
    with pytest.raises(NoChange, match="no change since v0002"):  # the same misfit read again: no change
        ingest(folder, [_answer(tmp_path / "c" / "a.json", ["yyy"])])
    with pytest.raises(NoChange, match="no change since v0002"):  # none quarantined: no change either
        ingest(folder, [_answer(tmp_path / "d" / "a.json", [])])


@pytest.fixture(scope="module")
def one_version() -> Iterator[Dataset]:
    """A dataset of one version (one comment, nothing quarantined), built once for the examples below."""
    with tempfile.TemporaryDirectory(prefix="nochange-q-") as tmp:
        folder = Path(tmp) / "ds"
        ingest(folder, [_answer(Path(tmp) / "a.json", [])])
        yield Dataset(folder)


def _entry(thing: str) -> dict[str, Any]:
    """A quarantine entry: ``n…`` a thing with a fullname (as a build writes), ``l…`` a dump's line (none)."""
    if thing.startswith("n"):
        return {"error": "not an integer", "field": "score", "name": f"t1_{thing}", "raw": {"id": thing}}
    return {"error": "not an integer", "field": "score", "line": 7, "raw": f'{{"id": "{thing}", "score": "lots"}}'}


THINGS = st.sets(st.sampled_from([f"{kind}{i}" for kind in "nl" for i in range(6)]), max_size=6)


@settings(max_examples=25, deadline=None)
@given(old=THINGS, new=THINGS)
def test_unchanged_only_when_every_quarantined_thing_is_in_the_latest_quarantine(
    one_version: Dataset, old: set[str], new: set[str]
) -> None:
    dataset = one_version
    latest = dataset.latest()
    assert latest is not None
    manifest = dataset.manifest(latest)
    kept = dataset.path / "quarantine" / f"{latest}.jsonl"
    kept.parent.mkdir(exist_ok=True)
    kept.write_text("".join(json.dumps(_entry(t)) + "\n" for t in sorted(old)), encoding="utf-8")
    tables = {stem: table_path(dataset.version_dir(latest), manifest, stem) for stem in ("submissions", "comments")}
    entries = [_entry(t) for t in sorted(new)]
    build_file = dataset.path / "new-quarantine.jsonl"  # as a build hands over its quarantine file
    build_file.write_text("".join(json.dumps(e) + "\n" for e in entries), encoding="utf-8")
    expected = latest if new <= old else None  # same members (or fewer): no change; any other, even at the same count
    for quarantined in (entries, build_file):
        found = unchanged_since(
            dataset,
            tables,
            spec_sha256=manifest.get("spec_sha256"),
            quarantined=quarantined,
            pseudonymization=manifest["pseudonymization"],
        )
        assert found == expected, (old, new, type(quarantined))
