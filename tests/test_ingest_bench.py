"""bench/ingest_bench.py at a tiny size: real-format trees, both sides on the same comments, the same rows."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("ingest_bench", ROOT / "bench" / "ingest_bench.py")
assert spec is not None and spec.loader is not None
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_generated_trees_and_both_sides_agree(tmp_path: Path) -> None:
    files, ndjson = bench.generate(tmp_path / "data", 250, 100)
    assert len(files) == 3 and len(ndjson.read_text().splitlines()) == 250
    doc = json.loads(files[0].read_text())
    top = doc["response"]["json"][1]["data"]["children"][0]["data"]
    assert len(top) == 66  # the comment field set of Reddit's answers
    per_comment = sum(p.stat().st_size for p in files) / 250
    assert 1200 < per_comment < 3000
    ours = bench.measure_ours(tmp_path / "data", tmp_path / "ours")
    ref = bench.measure_duckdb(tmp_path / "data", tmp_path / "ref")
    assert ours["rows"] == ref["rows"] == 250
