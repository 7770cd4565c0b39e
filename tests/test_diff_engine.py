"""The engine diff gives exactly what the per-row Python diff gave, on generated version pairs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.reference_old import reference_diff
from schemas import ARROW_SCHEMAS, SCHEMA_VERSION
from schemas.upgrade import schema_at, version_tuple
from scraper.publish.diff import diff_versions
from scraper.store.snapshot import sha256_file
from tests.conftest import examples
from tests.test_diff import com, sub

T1 = datetime(2024, 3, 1, tzinfo=UTC)
STATUSES = ["visible", "deleted", "removed", "account_deleted"]
OLDER = [v for v in ("1.0", "1.1", "1.2") if version_tuple(v) < version_tuple(SCHEMA_VERSION)]


def write_raw_version(folder: Path, version: str, tables: dict[str, pa.Table]) -> None:
    """A version folder written as it is (columns in any order, some missing), with a true manifest."""
    target = folder / "versions" / version
    target.mkdir(parents=True)
    files = {}
    for stem, table in tables.items():
        path = target / f"{stem}.parquet"
        pq.write_table(table, path, compression="zstd")
        files[path.name] = {
            "table": stem,
            "rows": table.num_rows,
            "bytes": path.stat().st_size,
            "sha256": sha256_file(path),
        }
    manifest = {"format": "reddit-research-dataset/manifest/1", "version": version, "schema_version": SCHEMA_VERSION}
    (target / "manifest.json").write_text(json.dumps({**manifest, "files": files}))


# One edit to a row: the column and a new value drawn for it.
EDITS: dict[str, Any] = {
    "score": st.integers(-5, 50),
    "body": st.text(max_size=20),
    "edited": st.sampled_from([None, T1, T1 + timedelta(seconds=1)]),
    "author": st.sampled_from([None, "u", "v"]),
    "status": st.sampled_from(STATUSES),
    "found_by": st.lists(st.sampled_from(["seed:a", "search:x", "archive"]), max_size=3),
    "retrieved_at": st.just(T1),  # volatile: never a difference
    "source": st.just("file:x"),  # volatile
    "depth": st.integers(0, 3),
    "collapsed": st.booleans(),
}


@st.composite
def version_pairs(draw: Any) -> tuple[dict[str, pa.Table], dict[str, pa.Table], frozenset[str]]:
    ids = draw(st.lists(st.text("abc123", min_size=1, max_size=3), min_size=0, max_size=14, unique=True))
    old_status = {i: draw(st.sampled_from(STATUSES)) for i in ids}
    old = [com(i, status=old_status[i], body="" if old_status[i] != "visible" else f"b {i}") for i in ids]
    kept = [i for i in ids if draw(st.booleans()) or draw(st.booleans())]  # about 3/4 stay
    new_ids = draw(st.lists(st.text("xyz789", min_size=1, max_size=3), max_size=5, unique=True))
    new = []
    for i in [*kept, *new_ids]:
        edits = draw(st.dictionaries(st.sampled_from(sorted(EDITS)), st.none(), max_size=3))
        values = {c: draw(EDITS[c]) for c in edits}
        base = {"status": old_status.get(i, "visible")}
        new.append(com(i, **{**base, **values}))
    draw(st.randoms()).shuffle(new)  # row order never matters
    subs_a = [sub()]
    subs_b = [sub(score=draw(st.integers(0, 9)), status=draw(st.sampled_from(STATUSES)))] if draw(st.booleans()) else []
    tables_a = {"submissions": _table("submissions", subs_a), "comments": _table("comments", old)}
    tables_b = {"submissions": _table("submissions", subs_b), "comments": _table("comments", new)}
    for tables in (tables_a, tables_b):
        for stem, table in tables.items():
            if draw(st.booleans()):  # columns in another order
                order = draw(st.permutations(table.column_names))
                tables[stem] = table.select(order)
            if draw(st.integers(0, 4)) == 0:  # a file of an older minor version: the columns added since missing
                written = draw(st.sampled_from(OLDER))
                kept = schema_at(stem, written).names
                tables[stem] = tables[stem].select([c for c in tables[stem].column_names if c in kept])
                metadata = {**(tables[stem].schema.metadata or {}), b"schema_version": written.encode()}
                tables[stem] = tables[stem].replace_schema_metadata(metadata)
    ignore = frozenset(draw(st.lists(st.sampled_from(["score", "status", "body", "author"]), max_size=2)))
    return tables_a, tables_b, ignore


def _table(stem: str, rows: list[Any]) -> pa.Table:
    return pa.Table.from_pylist([r.model_dump(mode="python") for r in rows], schema=ARROW_SCHEMAS[stem])


@settings(max_examples=examples(12), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pair=version_pairs())
def test_engine_diff_equals_the_row_by_row_diff(tmp_path_factory: Any, pair: Any) -> None:
    tables_a, tables_b, ignore = pair
    folder = tmp_path_factory.mktemp("pair")
    write_raw_version(folder, "v0001", tables_a)
    write_raw_version(folder, "v0002", tables_b)
    ours = diff_versions(folder, "v0001", "v0002", ignore=ignore)
    reference = reference_diff(folder, "v0001", "v0002", ignore=ignore)
    assert ours.as_json() == reference.as_json()
    for name, table in ours.tables.items():  # and in the same order, item by item
        assert list(table.changed.items()) == list(reference.tables[name].changed.items())


def test_duplicate_fullnames_keep_the_last_row_as_before(tmp_path: Path) -> None:
    a = {"submissions": _table("submissions", [sub()]), "comments": _table("comments", [com("c1"), com("c1", score=9)])}
    b = {"submissions": _table("submissions", [sub()]), "comments": _table("comments", [com("c1", score=9)])}
    write_raw_version(tmp_path, "v0001", a)
    write_raw_version(tmp_path, "v0002", b)
    ours = diff_versions(tmp_path, "v0001", "v0002")
    assert ours.as_json() == reference_diff(tmp_path, "v0001", "v0002").as_json()
    assert ours.summary()["comments"] == {"added": 0, "removed": 0, "tombstoned": 0, "changed": 0}


def test_everything_ignored_but_the_key_still_finds_adds_and_removes(tmp_path: Path) -> None:
    a = {"submissions": _table("submissions", [sub()]), "comments": _table("comments", [com("c1")])}
    b = {"submissions": _table("submissions", [sub(name="t3_b", score=3)]), "comments": a["comments"]}
    write_raw_version(tmp_path, "v0001", a)
    write_raw_version(tmp_path, "v0002", b)
    ignore = (frozenset(ARROW_SCHEMAS["submissions"].names) | frozenset(ARROW_SCHEMAS["comments"].names)) - {"name"}
    ours = diff_versions(tmp_path, "v0001", "v0002", ignore=ignore)
    assert ours.as_json() == reference_diff(tmp_path, "v0001", "v0002", ignore=ignore).as_json()
    assert ours.tables["submissions"].added == ["t3_b"] and ours.tables["submissions"].removed == ["t3_a"]
