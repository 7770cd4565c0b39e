"""docs/PERFORMANCE.md "Reading and diff" shows exactly the committed data-path benchmark's figures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_reading_and_diff_table_is_the_committed_results() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import datapath_table
    finally:
        sys.path.remove(str(ROOT / "bench"))
    results = json.loads((ROOT / "bench" / "datapath_results.json").read_text(encoding="utf-8"))
    doc = (ROOT / "docs" / "PERFORMANCE.md").read_text(encoding="utf-8")
    section = doc.split("## Reading and diff", 1)[1].split("\n## ", 1)[0]
    assert datapath_table.render(results) in section
    assert results["command"] in section
    assert [s["comments"] for s in results["sizes"]] == [200_000, 1_000_000]
