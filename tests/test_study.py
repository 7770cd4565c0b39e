"""The load API, and the README's worked example run as a test on a fresh demo snapshot."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

import scraper
from scraper.errors import SnapshotError

ROOT = Path(__file__).resolve().parents[1]


def test_load_gives_arrow_tables_and_conversions(demo: Path) -> None:
    snap = scraper.load(demo)
    assert snap.version == "v0001" and snap.comments.num_rows == 20 and snap.submissions.num_rows == 1
    assert len(snap.to_pandas("comments")) == 20
    assert snap.to_polars("submissions").height == 1
    assert snap.to_duckdb("comments").aggregate("count(*)").fetchall() == [(20,)]
    assert scraper.load(demo / "versions" / "v0001").version == "v0001"
    with pytest.raises(ValueError, match="no table"):
        snap.to_pandas("users")


def test_thread_tree_and_path_to_root(demo: Path) -> None:
    snap = scraper.load(demo)
    tree = snap.thread("11ryvao")
    assert tree["row"]["name"] == "t3_11ryvao"

    def count(node: dict) -> int:
        return len(node["replies"]) + sum(count(child) for child in node["replies"])

    assert count(tree) == 20
    path = snap.path_to_root("t1_jcaa03p")
    assert [r["name"] for r in path] == ["t1_jcaa03p", "t1_jcaa03b", "t1_jcaa03i", "t1_jcaa00e", "t3_11ryvao"]
    assert [r.get("depth") for r in path[:-1]] == [3, 2, 1, 0]


def test_other_major_schema_is_refused_with_the_reason(demo: Path, tmp_path: Path) -> None:
    import json
    import shutil

    copy = tmp_path / "v"
    shutil.copytree(demo / "versions" / "v0001", copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["schema_version"] = "9.0"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SnapshotError, match=r"schema 9\.0; this tool reads schema 1\.x"):
        scraper.load(copy)


def test_readme_worked_example_runs(demo: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- example: load -->\n```python\n(.*?)```", readme, re.DOTALL)
    assert block is not None
    code = block.group(1).replace('"build/demo/leaving-ml"', repr(str(demo)))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    printed = out.getvalue()
    assert "v0001 1 threads, 20 comments" in printed
    assert "To those of you who quit machine learning" in printed
    assert "answers to t1_" in printed
    assert printed.strip().endswith("t3_11ryvao")
