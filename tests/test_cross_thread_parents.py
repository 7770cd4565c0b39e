"""A reply whose parent is a comment held in another thread: kept as the input says, named by validate,
and ``path_to_root`` never leaves the reply's thread (adversarial review 5, F6).

Reddit's ``parent_id`` names a comment of the same thread; one of another thread comes only from a
damaged or edited input.  A parent not held at all is an orphan (archives really have them: a
warning under a share); only a parent that is held, in another thread, is this error.
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
from scraper.publish.validate import EXAMPLES, _check_rows, validate
from scraper.study import load
from tests.conftest import examples
from tests.test_snapshot import tree_file

CHECK = "a reply's parent is in its own thread"


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three real-shaped threads ingested once (read only)."""
    tmp = tmp_path_factory.mktemp("threads")
    folder = tmp / "ds"
    ingest(folder, [tree_file(tmp, link, 15, seed) for seed, link in enumerate(["xa", "xb", "xc"])])
    return folder / "versions" / "v0001"


@settings(max_examples=examples(60), deadline=None)
@given(data=st.data())
def test_the_check_counts_exactly_the_replies_whose_held_parent_is_in_another_thread(
    held: Path, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    table = pq.read_table(held / "comments.parquet")
    names, links = table["name"].to_pylist(), table["link_id"].to_pylist()
    parents = table["parent_id"].to_pylist()
    changed = data.draw(st.dictionaries(st.integers(0, len(names) - 1), st.integers(-2, len(names) - 1), max_size=8))
    for row, to in changed.items():  # another comment (any thread), a parent not held, or the row's own link
        parents[row] = names[to] if to >= 0 else ("t1_notheld" if to == -1 else links[row])
    field = table.schema.field("parent_id")
    table = table.set_column(table.schema.get_field_index("parent_id"), field, pa.array(parents, field.type))
    path = tmp_path_factory.mktemp("xt") / "comments.parquet"
    pq.write_table(table, path)
    thread_of = dict(zip(names, links, strict=True))
    want = {n for n, p, link in zip(names, parents, links, strict=True) if p in thread_of and thread_of[p] != link}
    (check,) = [c for c in _check_rows("v0001", held / "submissions.parquet", path, 0.05) if c.name == CHECK]
    assert (check.status, check.count) == (("fail", len(want)) if want else ("ok", 0))
    assert set(check.examples) <= want and len(check.examples) == min(len(want), EXAMPLES)


def test_an_ingested_reply_to_another_thread_is_kept_named_and_not_walked_into(tmp_path: Path) -> None:
    a_file, b_file = tree_file(tmp_path, "ta", 12, 3), tree_file(tmp_path, "tb", 12, 4)
    b_comment = next(c["data"]["name"] for c in json.loads(b_file.read_text())[1]["data"]["children"])
    doc = json.loads(a_file.read_text())
    top = next(c["data"] for c in doc[1]["data"]["children"] if c["kind"] == "t1")
    top["parent_id"] = b_comment  # a comment of thread ta names one of tb as its parent
    a_file.write_text(json.dumps(doc))
    folder = tmp_path / "ds"
    ingest(folder, [a_file, b_file])
    snapshot = load(folder)
    row = snapshot.row(top["name"])
    assert (row["link_id"], row["parent_id"]) == ("t3_ta", b_comment)  # kept as the input says
    assert [r["name"] for r in snapshot.path_to_root(top["name"])] == [top["name"]]  # stops in its own thread
    reply = next((r for r in snapshot.comments.to_pylist() if r["parent_id"] == top["name"]), None)
    if reply is not None:
        assert [r["name"] for r in snapshot.path_to_root(reply["name"])] == [reply["name"], top["name"]]
    report = validate(folder)
    (check,) = [c for c in report.checks if c.name == CHECK]
    assert (check.status, check.count, check.examples) == ("fail", 1, [top["name"]])
    assert not report.valid
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code == 1 and "Traceback" not in result.output


def test_an_orphan_is_not_this_error(tmp_path: Path) -> None:
    a_file = tree_file(tmp_path, "oa", 12, 5)
    doc = json.loads(a_file.read_text())
    top = next(c["data"] for c in doc[1]["data"]["children"] if c["kind"] == "t1")
    top["parent_id"] = "t1_zzzzzzz"  # a parent not held at all, as archives have: an orphan, warned about
    a_file.write_text(json.dumps(doc))
    folder = tmp_path / "ds"
    ingest(folder, [a_file])
    (check,) = [c for c in validate(folder).checks if c.name == CHECK]
    assert check.status == "ok"
    assert [r["name"] for r in load(folder).path_to_root(top["name"])] == [top["name"]]
