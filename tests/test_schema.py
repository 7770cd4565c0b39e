"""The models are the single source of truth: the Arrow schema and JSON Schema files must follow them."""

from __future__ import annotations

import json
import typing

import pyarrow as pa
import pytest

from schemas import ARROW_SCHEMAS, MODELS, SCHEMA_VERSION, Comment, Submission
from schemas.jsonschema import json_schema_path, json_schema_text

REQUIRED = {
    "name",
    "id",
    "subreddit",
    "link_id",
    "parent_id",
    "depth",
    "author",
    "author_fullname",
    "title",
    "selftext",
    "body",
    "created_utc",
    "edited",
    "score",
    "num_comments",
    "upvote_ratio",
    "distinguished",
    "stickied",
    "locked",
    "is_submitter",
    "permalink",
    "url",
    "link_flair_text",
    "author_flair_text",
    "status",
    "retrieved_at",
    "source",
    "found_by",
}


@pytest.mark.parametrize("stem", sorted(MODELS))
def test_committed_json_schema_matches_the_models(stem: str) -> None:
    committed = json_schema_path(stem).read_text(encoding="utf-8")
    assert committed == json_schema_text(stem), "run `python -m schemas` and commit the result"


@pytest.mark.parametrize("stem", sorted(MODELS))
def test_arrow_schema_follows_every_field(stem: str) -> None:
    model, schema = MODELS[stem], ARROW_SCHEMAS[stem]
    assert schema.names == list(model.model_fields)
    for name, info in model.model_fields.items():
        optional = type(None) in typing.get_args(info.annotation)
        assert schema.field(name).nullable == optional, name
    assert schema.metadata[b"schema_version"] == SCHEMA_VERSION.encode()


def test_types_of_key_columns() -> None:
    comments = ARROW_SCHEMAS["comments"]
    assert comments.field("created_utc").type == pa.timestamp("us", tz="UTC")
    assert comments.field("edited").type == pa.timestamp("us", tz="UTC")
    assert comments.field("depth").type == pa.int64()
    assert comments.field("found_by").type == pa.list_(pa.field("item", pa.string(), nullable=False))
    assert ARROW_SCHEMAS["submissions"].field("upvote_ratio").type == pa.float64()


def test_required_fields_are_all_present() -> None:
    fields = set(Submission.model_fields) | set(Comment.model_fields)
    assert fields >= REQUIRED


def test_json_schema_lists_status_values() -> None:
    doc = json.loads(json_schema_text("comments"))
    statuses = ["visible", "deleted", "removed", "account_deleted", "purged", "unavailable"]
    assert doc["$defs"]["Status"]["enum"] == statuses


def test_naive_datetimes_are_refused() -> None:
    from datetime import datetime

    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="created_utc"):
        Comment.model_validate({**_comment(), "created_utc": datetime(2020, 1, 1)})  # noqa: DTZ001


def _comment() -> dict[str, object]:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    return {
        "name": "t1_a",
        "id": "a",
        "subreddit": "s",
        "subreddit_id": None,
        "author": None,
        "author_fullname": None,
        "author_flair_text": None,
        "created_utc": now,
        "edited": None,
        "score": 1,
        "distinguished": None,
        "stickied": False,
        "locked": False,
        "permalink": None,
        "status": "visible",
        "retrieved_at": now,
        "source": "x",
        "found_by": [],
        "link_id": "t3_b",
        "parent_id": "t3_b",
        "depth": 0,
        "body": "",
        "is_submitter": False,
        "controversiality": 0,
        "collapsed": None,
    }
