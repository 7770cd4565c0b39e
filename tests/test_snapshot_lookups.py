"""Snapshot.row, thread and path_to_root from Arrow give exactly what the whole-table dict index gave."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.reference_old import DictIndex
from schemas import ARROW_SCHEMAS
from scraper.study import Snapshot
from tests.conftest import examples
from tests.test_diff import T0, com, sub


@st.composite
def forests(draw: Any) -> Snapshot:
    links = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True))
    subs = [sub(name=f"t3_{x}", id=x) for x in links]
    comments: list[Any] = []
    for i in range(draw(st.integers(0, 25))):
        link = draw(st.sampled_from(links))
        earlier = [c.name for c in comments if c.link_id == f"t3_{link}"]
        parent = draw(st.sampled_from([f"t3_{link}", *earlier[-5:], "t1_gone"]))  # gone: an orphan
        if comments and draw(st.integers(0, 9)) == 0:  # a stray: its link_id disagrees with its parent's thread
            parent = draw(st.sampled_from([c.name for c in comments]))
        minutes = draw(st.integers(0, 3))  # ties keep table order
        comments.append(
            com(f"c{i}", link_id=f"t3_{link}", parent_id=parent, created_utc=T0 + timedelta(minutes=minutes))
        )
    order = draw(st.permutations(range(len(comments))))
    rows = [comments[i].model_dump() for i in order]
    table = pa.Table.from_pylist(rows, schema=ARROW_SCHEMAS["comments"])
    subs_table = pa.Table.from_pylist([s.model_dump() for s in subs], schema=ARROW_SCHEMAS["submissions"])
    return Snapshot(Path("."), "v0001", {}, subs_table, table)


@settings(max_examples=examples(40), deadline=None)
@given(snap=forests())
def test_lookups_equal_the_dict_index(snap: Snapshot) -> None:
    reference = DictIndex(snap)
    for name in reference.rows:
        assert snap.row(name) == reference.rows[name]
    for link in snap.submissions.column("name").to_pylist():
        assert snap.thread(link) == reference.thread(link)
        assert snap.thread(link.removeprefix("t3_")) == reference.thread(link)
    for name in snap.comments.column("name").to_pylist():
        assert snap.path_to_root(name) == in_its_thread(reference.path_to_root(name))


def in_its_thread(path: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The old chain up to where it leaves its thread: ``path_to_root`` stops there (adversarial review 5, F6)."""
    link = path[0]["link_id"]
    for at, row in enumerate(path[1:], 1):
        if (row["link_id"] if row["name"].startswith("t1_") else row["name"]) != link:
            return path[:at]
    return path


def test_unknown_names_raise_key_error_naming_the_version() -> None:
    snap = Snapshot(
        Path("."),
        "v0003",
        {},
        pa.Table.from_pylist([sub().model_dump()], schema=ARROW_SCHEMAS["submissions"]),
        pa.Table.from_pylist([com("c1").model_dump()], schema=ARROW_SCHEMAS["comments"]),
    )
    for call in (snap.row, snap.path_to_root, snap.thread):
        with pytest.raises(KeyError, match=r"t[13]_zz is not in v0003"):
            call("t3_zz" if call == snap.thread else "t1_zz")
    assert snap.path_to_root("t1_c1") == [snap.row("t1_c1"), snap.row("t3_a")]
