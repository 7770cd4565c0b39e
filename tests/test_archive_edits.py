"""``_meta.is_edited`` reaches the ``is_edited`` column on every path (adversarial review 7, F6).

ARCTIC-SHIFT-AND-DUMPS §2: ``edited`` is not a merged field (it keeps the first fetch's ``false``),
while ``_meta.is_edited`` says the text changed between the two fetches.  docs/SCHEMA.md defines
``is_edited`` as "edited at least once", so such a row is edited, time unknown (``edited`` null),
as a bare ``true`` reads.  The dump path (DuckDB SQL) and the model path (``wire_shape`` → rows)
agree, and the API's answers (streaming and in-memory builds) give the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from tests.test_archive_streaming import arctic, build_both
from tests.test_dumps import _flat_rows, _model_values

CREATED = 1_735_689_600
EDITED = st.sampled_from([False, None, 0, 0.0, "0", True, 1, CREATED + 100, CREATED + 100.5, str(CREATED + 100)])
META_EDITED = st.sampled_from([True, False, 1, 0, "yes", "", None, [], [1]])


@settings(max_examples=examples(25), deadline=None)
@given(
    kind=st.sampled_from(["t1", "t3"]),
    cases=st.lists(st.tuples(EDITED, st.one_of(st.none(), META_EDITED), st.booleans()), min_size=1, max_size=20),
)
def test_meta_is_edited_on_the_dump_and_the_model_path(kind: str, cases: list[tuple[Any, Any, bool]]) -> None:
    objs = []
    for n, (edited, meta_edited, with_meta) in enumerate(cases):
        obj: dict[str, Any] = {
            "id": f"x{n}",
            "created_utc": CREATED,
            "edited": edited,
            "subreddit": "MachineLearning",
            "subreddit_id": "t5_2r3gv",
            "author": "alice",
            "score": 12,
            "retrieved_on": CREATED + 10,
        }
        if with_meta:
            obj["_meta"] = {"retrieved_2nd_on": CREATED + 36 * 3600}
            if meta_edited is not None:
                obj["_meta"]["is_edited"] = meta_edited
        if edited is None:
            del obj["edited"]
        if kind == "t1":
            obj.update(link_id="t3_p", parent_id="t3_p", body="first-seen text")
        else:
            obj.update(title="t", selftext="first-seen text")
        objs.append(obj)
    flat = _flat_rows(objs, kind, "dump:x")
    for obj in objs:
        model = _model_values(obj, kind, "dump:x")
        model["status"] = str(model["status"])
        assert flat[model["name"]] == model, obj
        edited = obj.get("edited")
        marked = bool(edited) and edited != "0"
        changed = bool((obj.get("_meta") or {}).get("is_edited"))
        assert model["is_edited"] is (marked or changed), obj
        if changed and not marked:
            assert model["edited"] is None  # the time of the change is not known


def test_the_review_case_through_an_api_answer_on_both_builds(tmp_path: Path) -> None:
    """The API's answer (reference §2 says the API matches the dumps): streamed and in-memory builds alike."""
    line = {
        "id": "k1abcde",
        "created_utc": CREATED,
        "edited": False,
        "subreddit": "MachineLearning",
        "author": "alice",
        "body": "first-seen text",
        "link_id": "t3_aa",
        "parent_id": "t3_aa",
        "score": 12,
        "retrieved_on": CREATED + 10,
        "_meta": {"retrieved_2nd_on": CREATED + 36 * 3600, "is_edited": True},
    }
    post = {"id": "aa", "created_utc": CREATED, "subreddit": "MachineLearning", "title": "quit", "author": "bob"}
    batch = [arctic("/api/posts/ids", [post]), arctic("/api/comments/search", [line])]
    build_both(tmp_path, batch, rule=False, text_when_gone=False)
    for folder in ("reference", "streamed"):
        rows = pq.read_table(tmp_path / folder / "versions" / "v0001" / "comments.parquet").to_pylist()
        assert [(r["id"], r["is_edited"], r["edited"]) for r in rows] == [("k1abcde", True, None)], folder
