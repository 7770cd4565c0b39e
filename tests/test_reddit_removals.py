"""Admins' removals, ``[ Removed by Reddit ]``, are removals on every path (adversarial review 7, F9).

ARCTIC-SHIFT-AND-DUMPS §2 caveat 3: admin removals may read ``"[ Removed by Reddit ]"``; the status
rule knew only ``"[removed]"`` (WIRE-FORMAT §7), so such a comment was ``visible`` with its text kept.
The model path (:func:`status_of`, :func:`archive_facts`), the fast path's Arrow columns
(``sightings._statuses``) and the dump path's SQL (:mod:`scraper.normalize.flat`) must agree.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.normalize.archive import archive_facts
from scraper.normalize.sightings import _statuses
from scraper.normalize.status import REDDIT_REMOVED, thing_status
from tests.conftest import SAMPLES, examples
from tests.test_dump_flags import _block
from tests.test_dumps import _flat_rows, _model_values
from tests.test_fastpath import as_sample, reference, streamed, tables

TEXT = st.sampled_from([REDDIT_REMOVED, "[removed]", "[deleted]", "an answer", "[ Removed by Reddit", ""])
AUTHOR = st.sampled_from(["user373", "[deleted]"])
CATEGORY = st.sampled_from([None, "", "moderator", "reddit", "deleted"])


def test_the_review_case() -> None:
    comment = {"body": REDDIT_REMOVED, "author": "[deleted]"}
    assert thing_status(comment, "t1").value == "removed"
    assert thing_status({"selftext": REDDIT_REMOVED, "author": "someone"}, "t3").value == "removed"
    assert thing_status({"body": "[ Removed by Reddit", "author": "a"}, "t1").value == "visible"  # exact, as [removed]


@settings(max_examples=examples(40), deadline=None)
@given(kind=st.sampled_from(["t1", "t3"]), rows=st.lists(st.tuples(TEXT, AUTHOR, CATEGORY), min_size=1, max_size=30))
def test_the_fast_columns_and_the_status_rule_agree(kind: str, rows: list[tuple[Any, Any, Any]]) -> None:
    text, author, category = (pa.array(list(c), pa.string()) for c in zip(*rows, strict=True))
    status, _ = _statuses(text, author, category if kind == "t3" else None)
    field = "body" if kind == "t1" else "selftext"
    want = [
        thing_status({field: t, "author": a, "removed_by_category": c if kind == "t3" else None}, kind).value
        for t, a, c in rows
    ]
    assert status.to_pylist() == want
    assert all(s == "removed" for s, (t, _, _) in zip(want, rows, strict=True) if t == REDDIT_REMOVED)


@settings(max_examples=examples(20), deadline=None)
@given(kind=st.sampled_from(["t1", "t3"]), rows=st.lists(st.tuples(TEXT, AUTHOR, CATEGORY), min_size=1, max_size=20))
def test_the_dump_sql_and_the_model_path_agree(kind: str, rows: list[tuple[Any, Any, Any]]) -> None:
    """Archive lines with each text: the DuckDB reader, archive_facts and the row builder give one status,
    and a removed row keeps no text."""
    objs = []
    for n, (text, author, category) in enumerate(rows):
        obj: dict[str, Any] = {
            "id": f"x{n}",
            "created_utc": 1_500_000_000,
            "retrieved_on": 1_500_000_500,
            "subreddit": "MachineLearning",
            "subreddit_id": "t5_2r3gv",
            "author": author,
            "score": 1,
        }
        if kind == "t1":
            obj.update(link_id="t3_p", parent_id="t3_p", body=text)
        else:
            obj.update(title="t", selftext=text, removed_by_category=category)
        objs.append(obj)
    rows_sql, quarantined = _block(objs, kind)
    assert quarantined == []
    flat = _flat_rows(objs, kind, "dump:x")
    for obj in objs:
        model = _model_values(obj, kind, "dump:x")
        model["status"] = str(model["status"])
        assert flat[model["name"]] == model, obj
        assert rows_sql[obj["id"]]["status"] == archive_facts(obj, kind).status.value == model["status"], obj
        if (obj.get("body") if kind == "t1" else obj.get("selftext")) == REDDIT_REMOVED:
            assert model["status"] == "removed"
            assert model["body" if kind == "t1" else "selftext"] == ""


GX8R8Z = SAMPLES / "comments_gx8r8z_2020_deleted_removed_stickied.json"


@pytest.mark.skipif(not GX8R8Z.is_file(), reason="../shared/reddit/samples is not present")
def test_reddits_answer_with_an_admin_removal_on_the_fast_and_the_model_path(tmp_path: Path) -> None:
    tree = copy.deepcopy(json.loads(GX8R8Z.read_text(encoding="utf-8"))["response"]["json"])
    comment = tree[1]["data"]["children"][0]["data"]
    comment.update(body=REDDIT_REMOVED)
    files = [as_sample(tmp_path, "admin.json", tree)]
    ref = tables(tmp_path / "models", reference(tmp_path / "models", files))
    fast = tables(tmp_path / "fast", streamed(tmp_path / "fast", files))
    assert all(fast[stem].to_pylist() == ref[stem].to_pylist() for stem in ref)
    row = next(r for r in ref["comments"].to_pylist() if r["id"] == comment["id"])
    assert row["status"] == "removed" and row["body"] == "" and row["author"] is None
