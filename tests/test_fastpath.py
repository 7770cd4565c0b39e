"""The streaming build gives exactly what the per-row model path gives: rows, types, order, quarantine.

The reference is the in-memory path (``scraper.build.build_version_in_memory``: a
harvest of every record, one Pydantic model per row, ``Table.from_pylist``), kept
in the library as this reference.  The streaming build is run twice:
as it is (msgspec fast path where a document fits) and with the fast path switched
off (every thing through the models), so both of its ways in are held to the
reference, on the real samples and on generated wire values, bad ones included.
"""

from __future__ import annotations

import gc
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.build import VersionBuilder, build_version_in_memory
from scraper.ingest import read_file
from scraper.normalize import runs
from scraper.normalize import sightings as sightings_module
from scraper.normalize.sightings import collector_paused
from scraper.store.snapshot import Dataset
from tests.conftest import SAMPLES, examples

SAMPLE_NAMES = sorted(p.name for p in SAMPLES.glob("*.json")) if SAMPLES.is_dir() else []


class RecordList:
    """Collects the records of the input files, for the in-memory path."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def add_record(self, record: Any) -> None:
        if isinstance(record, dict):
            self.records.append(record)

    def add_document(
        self,
        body: Any,
        *,
        url: str,
        params: dict[str, Any],
        seen_at: datetime | None,
        source: str,
        label: str = "",
        strict: bool = False,
        escaping: str = "",
    ) -> None:
        del strict, escaping  # the in-memory harvest refuses a file's malformed JSON itself, and counts no escaping
        record: dict[str, Any] = {"origin": source, "label": label, "url": url, "params": params, "status": 200}
        record["received_at"] = None if seen_at is None else seen_at.isoformat()
        if isinstance(body, bytes | str):
            record["body"] = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        else:
            record["json"] = body
        self.records.append(record)


def streamed(folder: Path, files: list[Path]) -> dict[str, Any]:
    with VersionBuilder(Dataset(folder)) as builder:
        for path in files:
            read_file(path, builder.sightings)
        return builder.write(spec_sha256=None, source={"kind": "test"}, stats={})


def reference(folder: Path, files: list[Path]) -> dict[str, Any]:
    sink = RecordList()
    for path in files:
        read_file(path, sink)
    return build_version_in_memory(Dataset(folder), sink.records, spec_sha256=None, source={"kind": "test"})


def tables(folder: Path, manifest: dict[str, Any]) -> dict[str, pa.Table]:
    version = folder / "versions" / manifest["version"]
    return {stem: pq.read_table(version / f"{stem}.parquet") for stem in ("submissions", "comments")}


def quarantine(folder: Path, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    path = folder / "quarantine" / f"{manifest['version']}.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]


def assert_same(tmp: Path, files: list[Path], monkeypatch: pytest.MonkeyPatch) -> dict[str, pa.Table]:
    ref_manifest = reference(tmp / "reference", files)
    ref = tables(tmp / "reference", ref_manifest)
    fast_manifest = streamed(tmp / "fast", files)
    with monkeypatch.context() as patch:  # every document through the models
        patch.setattr(sightings_module.Sightings, "_fast_document", lambda *a, **k: False)
        slow_manifest = streamed(tmp / "slow", files)
    for folder, manifest in ((tmp / "fast", fast_manifest), (tmp / "slow", slow_manifest)):
        got = tables(folder, manifest)
        for stem in ("submissions", "comments"):
            assert got[stem].schema.equals(ref[stem].schema, check_metadata=True), stem
            assert got[stem].to_pylist() == ref[stem].to_pylist(), stem
        assert quarantine(folder, manifest) == quarantine(tmp / "reference", ref_manifest)
        for key in ("submissions", "comments", "status", "quarantined", "responses", "stubs_seen"):
            assert manifest["stats"][key] == ref_manifest["stats"][key], key
        assert manifest["tombstones"] == ref_manifest["tombstones"]
    assert fast_manifest["stats"]["not_kept"] == slow_manifest["stats"]["not_kept"]  # the reference counts none
    return ref


@pytest.mark.skipif(not SAMPLE_NAMES, reason="../shared/reddit/samples is not present")
def test_real_samples_give_the_reference_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kinds = ("comments_", "morechildren_", "listing_", "search_", "info_")
    files = [SAMPLES / n for n in SAMPLE_NAMES if n.startswith(kinds)]
    ref = assert_same(tmp_path, files, monkeypatch)
    assert ref["comments"].num_rows > 200 and ref["submissions"].num_rows > 20


@pytest.mark.skipif(not SAMPLE_NAMES, reason="../shared/reddit/samples is not present")
@pytest.mark.parametrize("name", [n for n in SAMPLE_NAMES if n.startswith(("comments_", "morechildren_"))])
def test_each_real_tree_gives_the_reference_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    ref = assert_same(tmp_path, [SAMPLES / name], monkeypatch)
    assert set(ref) == {"submissions", "comments"}


# ---- generated wire values, bad ones included -------------------------------------------------

TEXTS = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=8)
ANY_SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(-1e6, 1e6, allow_nan=False), TEXTS
)
STRING = st.one_of(TEXTS, TEXTS, st.sampled_from(["[deleted]", "[removed]", "moderator", "author"]), ANY_SCALAR)
EPOCH = st.one_of(
    st.floats(1e9, 2e9, allow_nan=False),
    st.integers(1_000_000_000, 2_000_000_000),
    st.floats(-1e13, 1e13, allow_nan=False),
    ANY_SCALAR,
)
FLAG = st.one_of(st.booleans(), ANY_SCALAR)
#: A moderator's view (WIRE-FORMAT §5): mostly false, sometimes a removal, sometimes a value the fast path refuses.
MOD_FLAGS = st.one_of(st.just(False), st.booleans(), ANY_SCALAR)
BANNED = st.one_of(st.none(), st.booleans(), st.sampled_from(["a_moderator", ""]), ANY_SCALAR)
NUMBER = st.one_of(st.integers(-(2**40), 2**40), ANY_SCALAR)


@st.composite
def spelled(draw: st.DrawFn, value: str) -> str:
    """An id or fullname as a hand-made or converted file may spell it: Reddit's lower case, or not
    (adversarial review 4, F1: every path stores it in Reddit's case)."""
    how = draw(st.sampled_from(["as is", "as is", "upper", "first upper", "id upper"]))
    if how == "upper":
        return value.upper()
    if how == "first upper":
        return value[:1].upper() + value[1:]
    if how == "id upper" and "_" in value:
        prefix, ident = value.split("_", 1)
        return f"{prefix}_{ident.upper()}"
    return value


@st.composite
def t1_data(draw: st.DrawFn, cid: str, parent: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        **{"id": draw(spelled(cid)), "name": draw(spelled(f"t1_{cid}"))},
        **{"link_id": draw(spelled("t3_abc")), "parent_id": draw(spelled(parent))},
    }
    for key in ("author", "author_fullname", "author_flair_text", "subreddit", "subreddit_id", "permalink", "body"):
        if draw(st.booleans()):
            data[key] = draw(STRING)
    for key in ("distinguished",):
        if draw(st.booleans()):
            data[key] = draw(STRING)
    for key, strategy in (
        ("created_utc", EPOCH),
        ("edited", st.one_of(st.sampled_from([False, True, 0, 1]), EPOCH)),
        ("score", NUMBER),
        ("controversiality", NUMBER),
        ("depth", NUMBER),
        ("stickied", FLAG),
        ("locked", FLAG),
        ("is_submitter", FLAG),
        ("collapsed", FLAG),
        ("removed", MOD_FLAGS),
        ("spam", MOD_FLAGS),
        ("banned_by", BANNED),
    ):
        if draw(st.integers(0, 3)):
            data[key] = draw(strategy)
    return data


@st.composite
def trees(draw: st.DrawFn) -> list[Any]:
    count = draw(st.integers(1, 6))
    things: list[dict[str, Any]] = []
    for i in range(count):
        parent = "t3_abc" if i == 0 or draw(st.booleans()) else f"t1_c{draw(st.integers(0, i - 1))}"
        data = draw(t1_data(f"c{i}", parent))
        data["replies"] = ""
        things.append({"kind": "t1", "data": data})
    submission: dict[str, Any] = {"id": draw(spelled("abc")), "name": draw(spelled("t3_abc"))}
    submission.update(title=draw(STRING), created_utc=draw(EPOCH))
    for key in ("selftext", "author", "url", "removed_by_category", "subreddit"):
        if draw(st.booleans()):
            submission[key] = draw(STRING)
    for key, strategy in (
        *(("num_comments", NUMBER), ("upvote_ratio", NUMBER), ("is_self", FLAG), ("over_18", FLAG)),
        *(("removed", MOD_FLAGS), ("spam", MOD_FLAGS), ("banned_by", BANNED)),
    ):
        if draw(st.booleans()):
            submission[key] = draw(strategy)
    return [
        {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": submission}]}},
        {"kind": "Listing", "data": {"children": things}},
    ]


def as_sample(tmp: Path, name: str, body: Any) -> Path:
    doc = {
        "request": {"method": "GET", "url": "https://oauth.reddit.com/comments/abc/"},
        "response": {"status": 200, "headers": {"date": "Tue, 01 Dec 2026 12:00:00 GMT"}, "json": body},
    }
    path = tmp / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@settings(max_examples=examples(8), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=trees())
def test_generated_wire_values_give_the_reference_rows_and_quarantine(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, body: list[Any]
) -> None:
    tmp = tmp_path_factory.mktemp("gen")
    files = [as_sample(tmp, "tree.json", body)]
    ref_manifest = reference(tmp / "reference", files)
    ref = tables(tmp / "reference", ref_manifest)
    fast_manifest = streamed(tmp / "fast", files)
    got = tables(tmp / "fast", fast_manifest)
    for stem in ("submissions", "comments"):
        assert got[stem].to_pylist() == ref[stem].to_pylist()
        assert got[stem].schema.equals(ref[stem].schema)
        for column in ("id", "name", "link_id", "parent_id"):  # Reddit's case, whatever the file's (F1)
            if column in got[stem].column_names:
                assert all(v is None or v == v.lower() for v in got[stem][column].to_pylist()), (stem, column)
    assert quarantine(tmp / "fast", fast_manifest) == quarantine(tmp / "reference", ref_manifest)
    assert all(q["name"] == q["name"].lower() for q in quarantine(tmp / "fast", fast_manifest))


@settings(max_examples=examples(8), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=trees(), form=st.sampled_from(["plain", "no date"]))
def test_undated_answers_are_dated_alike_on_every_path(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, body: list[Any], form: str
) -> None:
    """An answer with no arrival time (a plain body; a recorded one without a Date) is dated by the newest time
    its things show, the same on the fast path, the model path and the in-memory reference (review 7, F1)."""
    tmp = tmp_path_factory.mktemp("undated")
    path = tmp / "tree.json"
    if form == "plain":
        path.write_text(json.dumps(body), encoding="utf-8")
    else:
        request = {"method": "GET", "url": "https://oauth.reddit.com/comments/abc/?raw_json=1"}
        path.write_text(json.dumps({"request": request, "response": {"status": 200, "json": body}}), encoding="utf-8")
    ref = assert_same(tmp, [path], monkeypatch)
    times = {when for stem in ("submissions", "comments") for when in ref[stem]["retrieved_at"].to_pylist()}
    assert len(times) <= 1  # one answer, one time: the newest any of its things shows
    assert all(abs(when - datetime.now(UTC)) > timedelta(minutes=1) for when in times)  # not "now"


def test_the_collector_is_paused_only_inside_and_restored(tmp_path: Path) -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
    files = [as_sample(tmp_path, "t.json", [{"kind": "Listing", "data": {"children": []}}] * 2)]
    with pytest.raises(Exception, match="nothing usable"):
        from scraper.ingest import ingest

        ingest(tmp_path / "ds", files)
    assert gc.isenabled()


def test_many_short_runs_give_the_same_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sightings staged in many short runs, merged in more than one pass, give the tables one run gives."""
    from scraper.normalize import runs

    comments = [{"kind": "t1", "data": {**_T1, "id": f"c{i:03d}", "name": f"t1_c{i:03d}"}} for i in range(40)]
    body = [{"kind": "Listing", "data": {"children": []}}, {"kind": "Listing", "data": {"children": comments}}]
    files = [as_sample(tmp_path, "tree.json", body)]
    whole = tables(tmp_path / "whole", streamed(tmp_path / "whole", files))
    monkeypatch.setattr(runs, "RUN_ROWS", 7)
    monkeypatch.setattr(runs, "GROUP_ROWS", 3)
    monkeypatch.setattr(runs, "MAX_RUNS", 2)
    ranged = tables(tmp_path / "ranged", streamed(tmp_path / "ranged", files))
    for stem in ("submissions", "comments"):
        assert ranged[stem].to_pylist() == whole[stem].to_pylist()
    assert whole["comments"].num_rows == 40


_T1 = {"link_id": "t3_abc", "parent_id": "t3_abc", "body": "b", "created_utc": 1.6e9, "subreddit": "s"}


@settings(max_examples=examples(15), deadline=None)
@given(count=st.integers(1, 40), batch_rows=st.integers(1, 9), bad=st.sets(st.integers(0, 39), max_size=5))
def test_single_things_past_the_batch_size_are_all_staged_in_order(count: int, batch_rows: int, bad: set[int]) -> None:
    """``add_things`` (the dump path) cut by flushes mid-call: every line staged once, in order."""
    import tempfile
    from datetime import UTC, datetime

    from scraper.normalize.sightings import Sightings

    lines = [
        json.dumps(
            {
                "id": f"c{i}",
                "created_utc": "x" if i in bad else 1e9,
                "body": "b",
                "link_id": "t3_a",
                "parent_id": "t3_a",
            }
        )
        for i in range(count)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        sightings = Sightings(Path(tmp), batch_rows=batch_rows)
        sightings.add_things(lines, kind="t1", seen_at=datetime(2026, 1, 1, tzinfo=UTC), source="file:RC_x")
        staged = pa.concat_tables(runs.read_run(path) for path in sightings.close()["comments"])
    rows = sorted(zip(staged["_seq"].to_pylist(), staged["_key"].to_pylist(), strict=True))
    assert [key for _, key in rows] == [f"t1_c{i}" for i in range(count)]
    assert [seq for seq, _ in rows] == list(range(count))
    quarantined = {
        key for key, field in zip(staged["_key"].to_pylist(), staged["_qfield"].to_pylist(), strict=True) if field
    }
    assert quarantined == {f"t1_c{i}" for i in bad if i < count}


MARKER = st.sampled_from([None, "", "[deleted]", "[removed]", "author", "deleted", "moderator", "reddit", "text"])
#: A moderator's flags as the fast decoder takes them (WIRE-FORMAT §5): ``removed``, ``spam``, ``banned_by``.
MOD_FLAG = st.sampled_from([None, False, True])
BANNED_BY = st.sampled_from([None, False, True, "", "a_moderator"])


@settings(max_examples=examples(50), deadline=None)
@given(
    kind=st.sampled_from(["t1", "t3"]),
    rows=st.lists(st.tuples(MARKER, MARKER, MARKER, MOD_FLAG, MOD_FLAG, BANNED_BY), min_size=1, max_size=30),
)
def test_column_statuses_are_the_status_rule(kind: str, rows: list[tuple[Any, ...]]) -> None:
    """The fast path's status column (Arrow compute) gives :func:`status_of` row by row, moderator flags included."""
    from scraper.normalize.sightings import _moderated, _statuses
    from scraper.normalize.status import thing_status

    text, author, category = (pa.array(list(column), pa.string()) for column in list(zip(*rows, strict=True))[:3])
    removed, spam, banned = (list(column) for column in list(zip(*rows, strict=True))[3:])
    status, gone = _statuses(text, author, category if kind == "t3" else None, _moderated(removed, spam, banned))
    text_field = "body" if kind == "t1" else "selftext"
    want = [
        str(
            thing_status(
                {text_field: t, "author": a, "removed_by_category": c if kind == "t3" else None}
                | {"removed": r, "spam": s, "banned_by": b},
                kind,
            )
        )
        for t, a, c, r, s, b in rows
    ]
    assert status.to_pylist() == want
    assert gone.to_pylist() == [a == "[deleted]" for _, a, *_ in rows]


JUNK = st.sampled_from([None, 5, "x", 1.5, True, [], ["t1"], {}, {"kind": "t5", "data": {"id": "z"}}, {"data": {}}])
NOT_OBJECT = "things that are not JSON objects"
OTHER_KIND = "things of a kind not read in their list (a t3 among replies, a t5, no kind)"


@settings(max_examples=examples(10), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=trees(), data=st.data())
def test_junk_in_children_lists_is_counted_on_both_paths(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, body: list[Any], data: st.DataObject
) -> None:
    """F12 (adversarial review 5): ``null``, ``5``, ``"x"`` (and things of no kind read there) in a
    comment's replies or a tree's lists were dropped without a count; the README promises every
    thing not kept is counted by reason.  Both build paths count each one, and give the same rows."""
    comments = body[1]["data"]["children"]
    junk: list[Any] = []
    for thing in comments:  # a replies Listing under some comments, holding junk and nothing else
        if data.draw(st.booleans()):
            extra = data.draw(st.lists(JUNK, min_size=1, max_size=3))
            thing["data"]["replies"] = {"kind": "Listing", "data": {"children": extra}}
            junk.extend(extra)
    top = data.draw(st.lists(JUNK, max_size=2))
    comments.extend(top)
    junk.extend(top)
    expected = {
        NOT_OBJECT: sum(not isinstance(j, dict) for j in junk),
        OTHER_KIND: sum(isinstance(j, dict) for j in junk),
    }
    tmp = tmp_path_factory.mktemp("junk")
    files = [as_sample(tmp, "tree.json", body)]
    fast = streamed(tmp / "fast", files)
    with monkeypatch.context() as patch:
        patch.setattr(sightings_module.Sightings, "_fast_document", lambda *a, **k: False)
        slow = streamed(tmp / "slow", files)
    for manifest in (fast, slow):
        counted = manifest["stats"]["not_kept"]
        assert {reason: counted.get(reason, 0) for reason in expected} == expected, counted
    assert fast["stats"]["not_kept"] == slow["stats"]["not_kept"]
    for stem in ("submissions", "comments"):
        assert tables(tmp / "fast", fast)[stem].to_pylist() == tables(tmp / "slow", slow)[stem].to_pylist()
