"""A bounded fuzz run of the raw-response parser: Reddit-shaped payloads with hostile values.

Hypothesis builds what Reddit's answers look like (Listings, two-listing comment trees,
morechildren answers, things of every kind) and fills them with values of the wrong type,
lone surrogates, huge numbers, deep nesting and non-JSON bodies.  The parser (harvest and
row building) either reads them or raises an error of scraper.errors: nothing else.  Through
``ingest`` the same payloads give a documented exit code and never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.build import rows_from_records
from scraper.cli import main
from scraper.errors import ScraperError
from scraper.ingest import ingest
from scraper.publish.tree import publish
from scraper.study import load
from tests.conftest import examples
from tests.test_snapshot import tree_file

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
@settings(max_examples=examples(30), deadline=None)
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
@settings(max_examples=examples(8), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_ingest_answers_any_payload_in_one_line(tmp_path: Path, payload: Any) -> None:
    source = tmp_path / "response.json"
    source.write_text(json.dumps(payload), encoding="utf-8")
    result = CliRunner().invoke(main, ["ingest", str(tmp_path / "ds"), str(source)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 1), result.output


# -- manifests and index files: any mutation is read or refused in one line ------------------------------
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**65), max_value=2**65), st.text(max_size=8)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += _paths(child, (*prefix, i))
    return found


@st.composite
def mutated(draw: st.DrawFn, document: Any) -> Any:
    """``document`` with one value replaced by any JSON, or one key removed."""
    document = json.loads(json.dumps(document))
    path = draw(st.sampled_from(_paths(document)))
    if not path:
        return draw(JSON)
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if isinstance(parent, dict) and draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(JSON)
    return document


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("small")
    ingest(tmp / "ds", [tree_file(tmp, "aaa", 8, 1)])
    publish(tmp / "ds", tmp / "public", allow_identifiable=True)
    return tmp


@given(data=st.data())
@settings(max_examples=examples(15), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_mutated_manifest_is_read_or_refused(
    small: Path, tmp_path_factory: pytest.TempPathFactory, data: Any
) -> None:
    folder = tmp_path_factory.mktemp("m") / "ds"
    shutil.copytree(small / "ds", folder, ignore=shutil.ignore_patterns(".lock"))
    path = folder / "versions" / "v0001" / "manifest.json"
    path.write_text(json.dumps(data.draw(mutated(json.loads(path.read_text())))))
    for args in (["show", str(folder)], ["versions", str(folder)], ["validate", str(folder)]):
        result = CliRunner().invoke(main, args)
        assert isinstance(result.exception, SystemExit | None) and "Traceback" not in result.output
        assert result.exit_code in (0, 1), result.output
    with contextlib.suppress(ScraperError):  # loads, or refuses with one of our errors
        load(folder)


@given(data=st.data())
@settings(max_examples=examples(15), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_mutated_index_is_downloaded_or_refused(
    small: Path, tmp_path_factory: pytest.TempPathFactory, data: Any
) -> None:
    tmp = tmp_path_factory.mktemp("i")
    public = tmp / "public"
    shutil.copytree(small / "public", public)
    index = public / "index.json"
    index.write_text(json.dumps(data.draw(mutated(json.loads(index.read_text())))))
    result = CliRunner().invoke(main, ["download", str(public), "--to", str(tmp / "copy")])
    assert isinstance(result.exception, SystemExit | None) and "Traceback" not in result.output
    assert result.exit_code in (0, 1), result.output
    if result.exit_code == 0:  # what was installed verifies
        assert CliRunner().invoke(main, ["validate", str(tmp / "copy")]).exit_code == 0
    else:
        assert not (tmp / "copy" / "index.json").exists()
