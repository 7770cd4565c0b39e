"""Dump lines from hand-made or converted files: bare `parent_id`s and flags spelled as text (review 2, F5).

Real dumps carry `t1_`/`t3_` prefixes and JSON booleans (ARCTIC-SHIFT-AND-DUMPS §3.3); files converted by
other tools may not. The dump path (DuckDB, :mod:`scraper.normalize.flat`) and the model path
(:func:`scraper.normalize.archive.wire_shape`) read them alike.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.dumps import ingest_dumps
from scraper.fake_arctic_shift.dumpfiles import write_zst
from scraper.normalize.archive import DriftError, archive_facts, wire_shape
from scraper.normalize.flat import Selection, normalize_block
from tests.conftest import examples, write_spec

TRUE = ["true", "True", "TRUE", "1", "yes", "Y", " true "]
FALSE = ["false", "False", "0", "no", "N", "", " false"]


def _block(objs: list[dict[str, Any]], kind: str) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    data = b"".join(json.dumps(o).encode() + b"\n" for o in objs)
    batch, quarantined, _ = normalize_block(data, 1, kind, source="dump:x", selection=Selection())
    rows = {r["id"]: r for r in batch.to_pylist()} if batch is not None else {}
    return rows, quarantined


_ID = st.text("0123456789abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=7)


_CASE = st.tuples(_ID, _ID, st.booleans(), st.booleans(), st.booleans())


@settings(max_examples=examples(3), deadline=None)
@given(cases=st.lists(_CASE, min_size=1, max_size=60))
def test_a_bare_parent_id_is_the_submission_when_it_is_the_threads_id(
    cases: list[tuple[str, str, bool, bool, bool]],
) -> None:
    """Thread and parent ids with and without prefix, one line each, read in one block."""
    comments, expected = [], {}
    for n, (link, other, top, link_prefix, parent_prefix) in enumerate(cases):
        parent = link if top or other == link else other
        fullname = f"t3_{parent}" if parent == link else f"t1_{parent}"
        cid = f"c{n}"
        expected[cid] = (fullname, f"t3_{link}")
        comments.append(
            {
                "id": cid,
                "link_id": f"t3_{link}" if link_prefix else link,
                "parent_id": fullname if parent_prefix else parent,
                "body": "b",
                "created_utc": 1_500_000_000,
                "subreddit": "MachineLearning",
            }
        )
    rows, quarantined = _block(comments, "t1")
    assert quarantined == []
    for comment in comments:
        fullname, link_id = expected[comment["id"]]
        row = rows[comment["id"]]
        assert (row["parent_id"], row["link_id"]) == (fullname, link_id)
        assert row["depth"] == (0 if fullname.startswith("t3_") else None)
        assert wire_shape(comment, "t1")["parent_id"] == fullname  # the model path alike


_FLAG_VALUE = st.one_of(st.sampled_from(TRUE + FALSE), st.text(max_size=6), st.booleans(), st.integers(0, 1))
_FLAGS = st.fixed_dictionaries({f: _FLAG_VALUE for f in ("over_18", "is_self", "stickied", "locked")})


def _meaning(value: Any) -> bool | None:
    if isinstance(value, str):
        text = value.strip(" ").lower()
        return True if text in ("true", "1", "yes", "y") else False if text in ("false", "0", "no", "n", "") else None
    return bool(value)


@settings(max_examples=examples(3), deadline=None)
@given(cases=st.lists(_FLAGS, min_size=1, max_size=60))
def test_flags_spelled_as_text_are_read_or_the_line_is_quarantined(cases: list[dict[str, Any]]) -> None:
    posts = [
        {"id": f"p{n}", "subreddit": "MachineLearning", "created_utc": 1_500_000_000, "title": "t", **values}
        for n, values in enumerate(cases)
    ]
    rows, quarantined = _block(posts, "t3")
    held = {q["line"]: q for q in quarantined}
    for n, (post, values) in enumerate(zip(posts, cases, strict=True)):
        wanted = {f: _meaning(v) for f, v in values.items()}
        if None in wanted.values():  # text that is no boolean: the line is quarantined, the field named
            assert post["id"] not in rows
            assert held[n + 1]["field"] in {f for f, v in wanted.items() if v is None}
            with pytest.raises(DriftError):
                wire_shape(post, "t3")
        else:
            assert {f: rows[post["id"]][f] for f in values} == wanted
            shaped = wire_shape(post, "t3")
            assert {f: bool(shaped[f]) for f in values} == wanted  # the model path alike
    assert len(rows) + len(quarantined) == len(posts)


def test_the_review_case_through_the_dumps_command(tmp_path: Path) -> None:
    """`over_18: "false"` and a bare parent id, through the whole dump path (fast reader, then the block path)."""
    spec = '[dataset]\nname = "x"\n\n[archive]\nsubreddits = ["MachineLearning"]\nafter = 2005-01-01\n'
    folder = write_spec(tmp_path / "ds", spec)
    post = {"id": "abc12", "subreddit": "MachineLearning", "created_utc": 1_500_000_000, "title": "t"}
    posts = [{**post, "over_18": "false"}, {**post, "id": "abc13", "over_18": "TRUE"}]
    comment = {"id": "c1", "link_id": "abc12", "parent_id": "abc12", "body": "top", "created_utc": 1_500_000_100}
    reply = {**comment, "id": "c2", "parent_id": "c1"}
    ingest_dumps(
        folder,
        [
            write_zst(tmp_path / "RS_2017-07.zst", posts),
            write_zst(tmp_path / "RC_2017-07.zst", [{**c, "subreddit": "MachineLearning"} for c in (comment, reply)]),
        ],
    )
    version = folder / "versions" / "v0001"
    subs = {r["id"]: r for r in pq.read_table(version / "submissions.parquet").to_pylist()}
    assert subs["abc12"]["over_18"] is False and subs["abc13"]["over_18"] is True
    comments = {r["id"]: r for r in pq.read_table(version / "comments.parquet").to_pylist()}
    assert comments["c1"]["parent_id"] == "t3_abc12" and comments["c2"]["parent_id"] == "t1_c1"


def test_lines_without_a_subreddit_belong_to_their_per_subreddit_file(tmp_path: Path) -> None:
    """Review 2, F7: `subreddit` is missing on ~0.1% of RS 2014-01…2017-12 (§3.3); a per-subreddit file names it."""
    spec = '[dataset]\nname = "x"\n\n[archive]\nsubreddits = ["MachineLearning"]\nafter = 2005-01-01\n'
    base = {"created_utc": 1_450_000_000, "title": "t", "selftext": "s", "author": "a"}
    nameless = [
        {**base, "id": "pmiss", "subreddit_id": "t5_2r3gv"},
        {**base, "id": "pnull", "subreddit": None},
        {**base, "id": "pempty", "subreddit": ""},
        {**base, "id": "pother", "subreddit": "datascience"},  # a line that names another subreddit: its own word
    ]
    files = [
        write_zst(tmp_path / "MachineLearning_submissions.zst", nameless),
        tmp_path / "r_machinelearning_posts.jsonl",
        write_zst(tmp_path / "RS_2015-12.zst", [{**base, "id": "pmonth"}]),  # a month of all Reddit: no way to tell
        write_zst(
            tmp_path / "MachineLearning_comments.zst",
            [{"id": "c1", "link_id": "t3_pmiss", "parent_id": "t3_pmiss", "body": "b", "created_utc": 1_450_000_100}],
        ),
    ]
    files[1].write_text(json.dumps({**base, "id": "pjsonl"}) + "\n")
    folder = write_spec(tmp_path / "ds", spec)
    manifest = ingest_dumps(folder, files)
    version = folder / "versions" / "v0001"
    subs = set(pq.read_table(version / "submissions.parquet")["id"].to_pylist())
    assert subs == {"pmiss", "pnull", "pempty", "pjsonl"}
    assert pq.read_table(version / "comments.parquet")["id"].to_pylist() == ["c1"]
    assert manifest["stats"]["not_kept"] == {"subreddit": 2}  # pother and pmonth, counted
    # comment files alone are kept by subreddit: the file's own for a comment naming none
    alone = write_spec(tmp_path / "alone", spec)
    comment = {"id": "c2", "link_id": "t3_x", "parent_id": "t3_x", "body": "b", "created_utc": 1_450_000_100}
    ingest_dumps(alone, [write_zst(tmp_path / "more" / "MachineLearning_comments.zst", [comment])])
    assert pq.read_table(alone / "versions" / "v0001" / "comments.parquet")["id"].to_pylist() == ["c2"]


_MARKED = st.fixed_dictionaries(
    {
        "text": st.sampled_from(["an answer", "[removed]", "[deleted]", ""]),
        "author": st.sampled_from(["user373", "[deleted]"]),
        "category": st.sampled_from([None, "", "moderator", "deleted", "author", "reddit"]),
        "meta": st.fixed_dictionaries(
            {},
            optional={
                "was_initially_deleted": st.booleans(),
                "was_deleted_later": st.booleans(),
                "removal_type": st.sampled_from(["deleted", "removed", "author"]),
                "retrieved_2nd_on": st.just(1_500_100_000),
            },
        ),
    }
)


@settings(max_examples=examples(20), deadline=None)
@given(cases=st.lists(_MARKED, min_size=1, max_size=30), kind=st.sampled_from(["t1", "t3"]))
def test_the_dump_path_judges_status_as_the_model_path_does(cases: list[dict[str, Any]], kind: str) -> None:
    """Arctic Shift's `_meta` flags with every marker text: the DuckDB reader and `archive_facts` agree on the
    status (adversarial review 6, F9: `was_initially_deleted` with a `[removed]` body was visible on one, removed
    on the other, so a `dumps` build did not validate)."""
    objs = []
    for n, case in enumerate(cases):
        obj: dict[str, Any] = {
            "id": f"x{n}",
            "created_utc": 1_500_000_000,
            "retrieved_on": 1_500_000_500,
            "subreddit": "MachineLearning",
            "author": case["author"],
            "_meta": case["meta"],
        }
        if kind == "t1":
            obj.update(link_id="t3_p", parent_id="t3_p", body=case["text"])
        else:
            obj.update(title="t", selftext=case["text"], removed_by_category=case["category"])
        objs.append(obj)
    rows, quarantined = _block(objs, kind)
    assert quarantined == []
    for obj in objs:
        assert rows[obj["id"]]["status"] == archive_facts(obj, kind).status.value, obj
