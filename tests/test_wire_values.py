"""Every value Reddit or its archives send for a field is kept as a row, never quarantined.

The value classes come from WIRE-FORMAT §5-§8 (live API, 2016-2026 recordings) and the era drift
table of ARCTIC-SHIFT-AND-DUMPS §3.3 (monthly dumps 2005-2026): ``edited`` false / epoch float /
epoch int / bare ``true``; ``created_utc`` float / int / digit string; ``score`` null; ``author``,
``subreddit``, ``name``, ``permalink`` or ``author_fullname`` missing; negative ``num_comments``.
Also: a version written under schema 1.1 (before ``is_edited``) still loads, diffs and validates.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import ARROW_SCHEMAS, SCHEMA_VERSION, Comment, Submission
from schemas.upgrade import schema_at, upgrade_table
from scraper.normalize import build_rows, harvest_records
from scraper.publish.diff import diff_versions
from scraper.publish.validate import validate
from scraper.store.snapshot import Dataset, rows_to_table, sha256_file
from scraper.study import load
from tests.conftest import examples

EPOCHS = st.integers(min_value=1_134_000_000, max_value=1_790_000_000)  # 2005-12 .. 2026-09


def _time(draw: st.DrawFn) -> Any:
    """created_utc: float (live API), int (dumps), or a digit string (RC 2007-11..2015-11)."""
    epoch = draw(EPOCHS)
    return draw(st.sampled_from([float(epoch), epoch, str(epoch)]))


def _edited(draw: st.DrawFn, created: int) -> Any:
    """edited: false, an epoch after creation as float or int, or a bare true (before ~2012);
    in old dumps also 0 (false) and an integer for true (1, or any "time" before the creation)."""
    later = created + draw(st.integers(min_value=1, max_value=10**7))
    earlier = draw(st.integers(min_value=1, max_value=created - 1))
    return draw(st.sampled_from([False, True, float(later), later, float(later) + 0.5, 0, 1, earlier]))


@st.composite
def things(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["t1", "t3"]))
    ident = draw(st.from_regex(r"[a-zA-Z0-9]{4,7}", fullmatch=True))  # upper case from a converted file (F1)
    created = _time(draw)
    data: dict[str, Any] = {
        "id": ident,
        "created_utc": created,
        "edited": _edited(draw, int(float(created))),
        "score": draw(st.one_of(st.none(), st.integers(-500, 50_000))),
        "subreddit": "MachineLearning",
        "subreddit_id": draw(st.sampled_from(["t5_2r3gv", None])),
        "author": draw(st.sampled_from(["alice", "[deleted]"])),
        "author_fullname": "t2_abc",
        "name": f"{kind}_{draw(st.sampled_from([ident, ident.lower(), ident.upper()]))}",
        "permalink": f"/r/MachineLearning/comments/lnk/x/{ident}/",
        "retrieved_on": 1_700_000_000,  # archive extras are ignored, not errors
    }
    if kind == "t1":
        data.update(link_id="t3_lnk", parent_id="t3_lnk", body=draw(st.sampled_from(["hi", "[deleted]", "[removed]"])))
        data["controversiality"] = draw(st.sampled_from([0, 1]))
    else:
        data.update(
            title="a title",
            selftext=draw(st.sampled_from(["", "text", "[deleted]", "[removed]"])),
            num_comments=draw(st.integers(-117, 5_000)),  # negative in RS 2011-2015
            is_self=True,
        )
    # keys missing in whole eras or on a share of lines (ARCTIC-SHIFT-AND-DUMPS §3.3)
    droppable = ["name", "permalink", "author_fullname", "subreddit_id", "edited"]
    if kind == "t3":
        droppable += ["author", "subreddit"]  # RS 2011-2013, RS 2014-2017
    for key in draw(st.sets(st.sampled_from(droppable))):
        data.pop(key, None)
    if data.get("author") == "[deleted]":
        data.pop("author_fullname", None)  # WIRE-FORMAT §5: missing, not null
    return {"kind": kind, "data": data}


def _record(children: list[dict[str, Any]]) -> dict[str, Any]:
    listing = {"kind": "Listing", "data": {"after": None, "children": children}}
    return {"url": "", "params": {}, "status": 200, "json": listing, "origin": "file:archive.json"}


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(things(), min_size=1, max_size=12, unique_by=lambda t: (t["kind"], t["data"]["id"].lower())))
def test_every_value_class_gives_a_row(sample: list[dict[str, Any]]) -> None:
    rows = build_rows(harvest_records([_record(sample)]))
    assert rows.quarantined == []
    built: dict[str, Submission | Comment] = {r.name: r for r in [*rows.submissions, *rows.comments]}
    assert len(built) == len(sample)
    for thing in sample:
        data = thing["data"]
        row = built[f"{thing['kind']}_{data['id'].lower()}"]  # ids in Reddit's case on every path (F1)
        assert row.id == data["id"].lower()
        edited = data.get("edited", False)
        not_edited = edited is False or (edited is not True and edited == 0)
        assert row.is_edited is not not_edited
        if edited is True or not_edited or float(edited) < float(data["created_utc"]):
            assert row.edited is None
        else:
            assert row.edited == datetime.fromtimestamp(float(edited), tz=UTC)
        assert row.created_utc == datetime.fromtimestamp(float(data["created_utc"]), tz=UTC)
        assert row.subreddit == data.get("subreddit")
    # and the rows fit the Arrow schema as they are (nullability included)
    rows_to_table("submissions", rows.submissions)
    rows_to_table("comments", rows.comments)


def test_old_edited_true_thread_keeps_submission_and_comments(tmp_path: Path) -> None:
    """n49rw (2011, recorded 2016): edited: true on the submission and 13 comments (WIRE-FORMAT §8)."""
    t3 = {"kind": "t3", "data": {"id": "n49rw", "title": "t", "selftext": "s", "author": "op", "subreddit": "x"}}
    t3["data"].update(created_utc=1_324_000_000.0, edited=True, num_comments=13, is_self=True)
    comments = [
        {
            "kind": "t1",
            "data": {
                "id": f"c{i}",
                "link_id": "t3_n49rw",
                "parent_id": "t3_n49rw",
                "author": "a",
                "body": "b",
                "subreddit": "x",
                "created_utc": 1_324_000_100.0 + i,
                "edited": True,
            },
        }
        for i in range(13)
    ]
    tree = [{"kind": "Listing", "data": {"children": [t3]}}, {"kind": "Listing", "data": {"children": comments}}]
    record = {"url": "https://oauth.reddit.com/comments/n49rw/", "params": {}, "status": 200, "json": tree}
    rows = build_rows(harvest_records([record]))
    assert rows.quarantined == [] and len(rows.submissions) == 1 and len(rows.comments) == 13
    assert all(r.is_edited and r.edited is None for r in [*rows.submissions, *rows.comments])
    folder = tmp_path / "ds"
    Dataset(folder).write_version(
        {
            "submissions": rows_to_table("submissions", rows.submissions),
            "comments": rows_to_table("comments", rows.comments),
        },
        spec_sha256=None,
        source={"kind": "test"},
        stats={},
    )
    report = validate(folder)
    assert report.valid, [c for c in report.checks if c.status == "fail"]


# -- a version written under schema 1.1 -------------------------------------------------------


def _rewrite_as_1_1(folder: Path, version: str) -> None:
    """Turn a current version into exactly what the 1.1 tool wrote: no is_edited, subreddit not null."""
    vdir = folder / "versions" / version
    manifest = json.loads((vdir / "manifest.json").read_text(encoding="utf-8"))
    for name, info in manifest["files"].items():
        path = vdir / name
        old = schema_at(info["table"], "1.1")
        fields = [f.with_nullable(False) if f.name == "subreddit" else f for f in old]
        schema = pa.schema(fields, metadata={**(old.metadata or {}), b"schema_version": b"1.1"})
        table = pq.read_table(path).select(schema.names).cast(schema)
        pq.write_table(table, path, compression="zstd")
        info.update(bytes=path.stat().st_size, sha256=sha256_file(path))
    manifest["schema_version"] = "1.1"
    (vdir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    Dataset(folder).write_index()


def _comment(cid: str, **kw: Any) -> Comment:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    base: dict[str, Any] = dict(
        name=f"t1_{cid}",
        id=cid,
        subreddit="s",
        subreddit_id="t5_s",
        author="u",
        author_fullname="t2_u",
        author_flair_text=None,
        created_utc=t0,
        edited=None,
        score=1,
        distinguished=None,
        stickied=False,
        locked=False,
        permalink=None,
        status="visible",
        retrieved_at=t0,
        source="reddit-api",
        found_by=["seed:a"],
        link_id="t3_a",
        parent_id="t3_a",
        depth=0,
        body="b",
        is_submitter=False,
        controversiality=0,
        collapsed=False,
    )
    base.update(kw)
    return Comment(**base)


def _submission() -> Submission:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    return Submission(
        **{
            k: v
            for k, v in _comment("x").model_dump().items()
            if k in Submission.model_fields and k not in ("name", "id")
        },
        name="t3_a",
        id="a",
        title="t",
        selftext="s",
        url=None,
        domain=None,
        is_self=True,
        num_comments=2,
        upvote_ratio=None,
        over_18=False,
        link_flair_text=None,
        removed_by_category=None,
    ).model_copy(update={"created_utc": t0})


def test_a_1_1_version_loads_diffs_and_validates(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    edited_at = datetime(2024, 1, 2, tzinfo=UTC)
    first = [_comment("c1"), _comment("c2", edited=edited_at)]
    for comments in (first, [*first, _comment("c3", edited=None, is_edited=True)]):
        Dataset(folder).write_version(
            {
                "submissions": rows_to_table("submissions", [_submission()]),
                "comments": rows_to_table("comments", comments),
            },
            spec_sha256=None,
            source={"kind": "test"},
            stats={},
        )
    _rewrite_as_1_1(folder, "v0001")
    assert "is_edited" not in pq.read_schema(folder / "versions/v0001/comments.parquet").names

    old = load(folder, "v0001")
    assert old.comments.schema.equals(ARROW_SCHEMAS["comments"], check_metadata=False)
    assert dict(zip(old.comments["id"].to_pylist(), old.comments["is_edited"].to_pylist(), strict=True)) == {
        "c1": False,
        "c2": True,
    }
    assert old.manifest["schema_version"] == "1.1" and SCHEMA_VERSION != "1.1"

    result = diff_versions(folder, "v0001", "v0002")
    comments = result.tables["comments"]
    assert comments.added == ["t1_c3"] and comments.changed == {} and comments.columns_added == []

    report = validate(folder)
    assert report.valid, [c for c in report.checks if c.status == "fail"]
    # a 1.1 file may not lack a column 1.1 had
    path = folder / "versions/v0001/comments.parquet"
    pq.write_table(pq.read_table(path).drop_columns(["score"]), path)
    assert not validate(folder).valid


def test_upgrade_is_identity_on_current_tables() -> None:
    table = rows_to_table("comments", [_comment("c1")])
    assert upgrade_table("comments", table) is table


# -- edited as the archives send it: 0 for false, an integer for true --------------------------

CREATED = 1_300_000_000
#: (edited as sent, the edit time kept, is_edited): 0 is false; 1 (true as an integer, old dumps)
#: and any other "time" before the creation are no edit time, so: edited, time unknown.
EDITED_CLASSES: list[tuple[Any, int | None, bool]] = [
    (False, None, False),
    (0, None, False),
    (True, None, True),
    (1, None, True),
    (CREATED - 1, None, True),
    (CREATED, CREATED, True),
    (CREATED + 60, CREATED + 60, True),
    (float(CREATED + 60), CREATED + 60, True),
]


def _edited_tree() -> list[dict[str, Any]]:
    t3 = {"kind": "t3", "data": {"id": "lnk", "name": "t3_lnk", "title": "t", "author": "op", "subreddit": "x"}}
    t3["data"].update(created_utc=float(CREATED - 100), is_self=True, selftext="s", num_comments=len(EDITED_CLASSES))
    comments = [
        {
            "kind": "t1",
            "data": {
                "id": f"e{i}",
                "name": f"t1_e{i}",
                "link_id": "t3_lnk",
                "parent_id": "t3_lnk",
                "author": "a",
                "body": "b",
                "subreddit": "x",
                "created_utc": float(CREATED),
                "edited": edited,
            },
        }
        for i, (edited, _, _) in enumerate(EDITED_CLASSES)
    ]
    return [{"kind": "Listing", "data": {"children": [t3]}}, {"kind": "Listing", "data": {"children": comments}}]


def _expected() -> dict[str, tuple[datetime | None, bool]]:
    return {
        f"t1_e{i}": (None if when is None else datetime.fromtimestamp(when, tz=UTC), flag)
        for i, (_, when, flag) in enumerate(EDITED_CLASSES)
    }


def test_archive_edited_values_mean_the_same_on_every_path(tmp_path: Path) -> None:
    from scraper.dumps import ingest_dumps
    from scraper.fake_arctic_shift.dumpfiles import write_zst
    from scraper.ingest import ingest

    tree = _edited_tree()
    # the model path (one row at a time)
    rows = build_rows(harvest_records([{"url": "", "params": {}, "status": 200, "json": tree, "origin": "file:x"}]))
    assert rows.quarantined == []
    assert {r.name: (r.edited, r.is_edited) for r in rows.comments} == _expected()
    # the streaming ingest (column-wise fast path)
    sample = tmp_path / "tree.json"
    sample.write_text(
        json.dumps(
            {"request": {"method": "GET", "url": "https://oauth.reddit.com/comments/lnk/"}, "response": {"json": tree}}
        ),
        encoding="utf-8",
    )
    ingest(tmp_path / "ingested", [sample])
    # the dumps path (DuckDB)
    things = [tree[0]["data"]["children"][0]["data"]], [c["data"] for c in tree[1]["data"]["children"]]
    files = [write_zst(tmp_path / "RS_2011-03.zst", things[0]), write_zst(tmp_path / "RC_2011-03.zst", things[1])]
    ingest_dumps(tmp_path / "dumped", files, keep_all=True)  # no spec: every line
    for folder in (tmp_path / "ingested", tmp_path / "dumped"):
        table = pq.read_table(folder / "versions" / "v0001" / "comments.parquet")
        got = {r["name"]: (r["edited"], r["is_edited"]) for r in table.to_pylist()}
        assert got == _expected(), folder.name
        report = validate(folder)
        assert report.valid, [c for c in report.checks if c.status == "fail"]
