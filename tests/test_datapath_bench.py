"""The data-path benchmark runs end to end on a tiny input, every side checked against its reference."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_tiny_run_writes_every_figure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import datapath_bench

    out = tmp_path / "results.json"
    args = ["--comments", "1000", "2000", "--old-max", "1000", "--repeat", "1", "--in-process", "--out", str(out)]
    assert datapath_bench.main(args) == 0
    results = json.loads(out.read_text())
    small, large = results["sizes"]
    assert (small["comments"], large["comments"]) == (1000, 2000)
    assert large["archive"]["records"] == 20 and large["archive"]["fields_per_comment"] >= 40
    for size in (small, large):
        assert size["archive_read"]["ours"]["records"] == size["archive_read"]["reference"]["records"]
        assert size["build"]["ours"]["rows"] == size["build"]["reference"]["rows"] == size["comments"]
        assert size["build"]["ratio_rows_per_s"] > 0
        assert size["diff"]["ratio"] > 0 and size["validate"]["ours"]["valid"]
        comments = size["diff"]["ours"]["summary"]["comments"]
        assert comments["added"] > 0 and comments["removed"] > 0 and comments["changed"] > 0
        assert size["lookups"]["path_length"] == size["versions"]["deep_depth"] + 2
    assert small["diff"]["old"]["summary"] == small["diff"]["ours"]["summary"] and "old" not in large["diff"]
    assert results["archive_read_linearity"] > 0
    assert sys.modules["datapath_bench"].IN_PROCESS
