"""A bounded fuzz run of the raw-response parser: Reddit-shaped payloads with hostile values.

Hypothesis builds what Reddit's answers look like (Listings, two-listing comment trees,
morechildren answers, things of every kind) and fills them with values of the wrong type,
lone surrogates, huge numbers, deep nesting and non-JSON bodies.  The parser (harvest and
row building) either reads them or raises an error of scraper.errors: nothing else.  Through
``ingest`` the same payloads give a documented exit code and never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.build import rows_from_records
from scraper.cli import main
from scraper.errors import ScraperError

SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
TEXT = st.text(alphabet=st.one_of(st.characters(), SURROGATES), max_size=12)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8
)
IDS = st.one_of(st.from_regex(r"[a-z0-9]{1,7}", fullmatch=True), TEXT)
FIELDS = [
    "id", "name", "parent_id", "link_id", "author", "author_fullname", "body", "title", "selftext", "created_utc",
    "edited", "score", "num_comments", "depth", "permalink", "subreddit", "replies", "children", "count", "stickied",
]  # fmt: skip


@st.composite
def things(draw: st.DrawFn, depth: int = 0) -> Any:
    kind = draw(st.sampled_from(["t1", "t3", "more", "Listing", "t5", None]))
    data: dict[str, Any] = {}
    ident = draw(IDS)
    plausible = {
        "id": ident,
        "name": f"{kind}_{ident}",
        "parent_id": draw(st.sampled_from(["t3_abc", "t1_abc", f"t1_{ident}"])),
        "link_id": "t3_abc",
        "created_utc": draw(st.one_of(st.floats(1.2e9, 1.8e9), st.integers(1_200_000_000, 1_800_000_000))),
        "body": draw(TEXT),
    }
    for key in draw(st.lists(st.sampled_from(FIELDS), max_size=10, unique=True)):
        data[key] = plausible[key] if key in plausible and draw(st.booleans()) else draw(VALUES)
    if depth < 2 and draw(st.booleans()):
        data["replies"] = draw(listings(depth + 1))
    return {"kind": kind, "data": data} if draw(st.integers(0, 9)) else draw(VALUES)


@st.composite
def listings(draw: st.DrawFn, depth: int = 0) -> Any:
    children = draw(st.lists(things(depth), max_size=4))
    return {"kind": "Listing", "data": {"children": children, "after": draw(st.one_of(st.none(), TEXT))}}


PAYLOADS = st.one_of(
    listings(),
    st.tuples(listings(), listings()).map(list),
    st.builds(lambda ts: {"json": {"errors": [], "data": {"things": ts}}}, st.lists(things(), max_size=4)),
    VALUES,
)
URLS = st.sampled_from(
    [
        "https://oauth.reddit.com/comments/abc/",
        "https://oauth.reddit.com/comments/abc/_/def/",
        "https://oauth.reddit.com/r/MachineLearning/search",
        "https://oauth.reddit.com/api/info/",
        "https://oauth.reddit.com/api/morechildren/",
    ]
)


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    body = draw(st.one_of(PAYLOADS.map(json.dumps), TEXT, st.just("[" * 5000)))
    record: dict[str, Any] = {
        "url": draw(URLS),
        "status": draw(st.sampled_from([200, 200, 200, 404, 500])),
        "body": body,
    }
    if draw(st.booleans()):
        record["received_at"] = draw(st.one_of(st.just("2026-01-01T00:00:00+00:00"), TEXT))
    return record


@given(st.lists(records(), min_size=1, max_size=3))
@settings(max_examples=60, deadline=None)
def test_the_parser_reads_or_raises_one_of_our_errors(batch: list[dict[str, Any]]) -> None:
    try:
        rows, harvest = rows_from_records(batch)
    except ScraperError as exc:
        assert str(exc).strip() and "\n" not in str(exc).strip()
        return
    assert harvest.responses <= len(batch)
    for row in [*rows.submissions, *rows.comments]:
        assert row.name.startswith(("t1_", "t3_"))


@given(PAYLOADS)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_ingest_answers_any_payload_in_one_line(tmp_path: Path, payload: Any) -> None:
    source = tmp_path / "response.json"
    source.write_text(json.dumps(payload), encoding="utf-8")
    result = CliRunner().invoke(main, ["ingest", str(tmp_path / "ds"), str(source)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 1), result.output
