"""A loop of parents (``a`` the parent of ``b``, ``b`` of ``a``): kept as the input says, named by validate,
never walked for ever (adversarial review 5, F3).

Reddit's comments form trees; a loop comes only from a damaged or edited input.  The build keeps
its comments without a depth (both builds agree, ``tests/test_fastpath.py``); ``validate`` fails the
version naming them; ``Snapshot.path_to_root`` stops where the chain comes back.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.cli import main
from scraper.ingest import ingest
from scraper.publish.validate import _check_loops, validate
from scraper.study import load
from tests.conftest import examples
from tests.test_snapshot import tree_file

LOOP_CHECK = "parent chains end (no loops)"


def _looping(parents: dict[str, str]) -> set[str]:
    """The comments whose chain of parents never ends (on a loop, or leading into one), the slow way."""
    out = set()
    for start in parents:
        seen, name = set(), start
        while name in parents and name not in seen:
            seen.add(name)
            name = parents[name]
        if name in parents:  # came back to a name already on this chain
            out.add(start)
    return out


@settings(max_examples=examples(80), deadline=None)
@given(
    targets=st.lists(st.one_of(st.integers(0, 11), st.sampled_from(["t3_x", "t1_gone"])), min_size=1, max_size=12),
    depths=st.booleans(),
)
def test_the_loop_check_names_exactly_the_comments_whose_chain_never_ends(
    tmp_path_factory: pytest.TempPathFactory, targets: list[int | str], depths: bool
) -> None:
    names = [f"t1_{i:02d}" for i in range(len(targets))]
    parents = {n: (names[t % len(names)] if isinstance(t, int) else t) for n, t in zip(names, targets, strict=True)}
    path = tmp_path_factory.mktemp("loops") / "comments.parquet"
    depth = [None] * len(names) if not depths else [None, *range(1, len(names))]
    pq.write_table(
        pa.table({"name": names, "parent_id": list(parents.values()), "depth": pa.array(depth, pa.int64())}), path
    )
    check = _check_loops("v0001", path)
    want = _looping(parents)
    assert (check.status, check.count) == (("fail", len(want)) if want else ("ok", 0))
    assert set(check.examples) <= want
    if want:  # the examples are on the loops themselves (a chain into a loop is not a loop)
        assert all(name in _on_loops(parents) for name in check.examples)


def _on_loops(parents: dict[str, str]) -> set[str]:
    on = set()
    for start in parents:
        name, steps = parents.get(start), 0
        while name in parents and name != start and steps <= len(parents):
            name, steps = parents[name], steps + 1
        if name == start:
            on.add(start)
    return on


def test_every_comment_with_a_depth_skips_the_walk(tmp_path: Path) -> None:
    path = tmp_path / "comments.parquet"
    pq.write_table(pa.table({"name": ["t1_a"], "parent_id": ["t3_x"], "depth": pa.array([0], pa.int64())}), path)
    check = _check_loops("v0001", path)
    assert check.status == "ok" and "depth" in check.detail


def test_an_input_with_a_loop_is_kept_named_by_validate_and_walked_once(tmp_path: Path) -> None:
    source = tree_file(tmp_path, "lp", 12, 3)
    doc = json.loads(source.read_text())
    top = [c for c in doc[1]["data"]["children"] if c["kind"] == "t1"]
    a, b = top[0]["data"], top[1]["data"]
    a["parent_id"], b["parent_id"] = b["name"], a["name"]  # each the other's parent
    source.write_text(json.dumps(doc))
    folder = tmp_path / "ds"
    ingest(folder, [source])
    snapshot = load(folder)
    rows = {r["name"]: r for r in snapshot.comments.to_pylist()}
    assert rows[a["name"]]["parent_id"] == b["name"] and rows[a["name"]]["depth"] is None  # as the input says
    path = snapshot.path_to_root(a["name"])
    assert [r["name"] for r in path] == [a["name"], b["name"]]  # each once, then it stops
    report = validate(folder)
    (loop,) = [c for c in report.checks if c.name == LOOP_CHECK]
    assert loop.status == "fail" and sorted(loop.examples) == sorted([a["name"], b["name"]])
    assert not report.valid
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code == 1 and "Traceback" not in result.output
