"""The "Reading and diff" table of docs/PERFORMANCE.md, rendered from bench/datapath_results.json.

    python bench/datapath_table.py [bench/datapath_results.json]

tests/test_performance_docs.py checks that the document holds exactly this table, so the
figures there are always the committed benchmark's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "datapath_results.json"


def _s(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _side(side: dict[str, Any], per_s: float | None = None) -> str:
    rate = f", {per_s / 1000:,.0f}k rows/s" if per_s else ""
    return f"{_s(side['seconds'])}, {side['peak_rss_mb']:,.0f} MB{rate}"


def render(results: dict[str, Any]) -> str:
    """The markdown table (and its one-line footnote on linearity)."""
    lines = [
        "| step | comments | ours | reference | ours / reference | target |",
        "|---|---|---|---|---|---|",
    ]
    for size in results["sizes"]:
        n = f"{size['comments']:,}"
        a, d, lk, v = size["archive_read"], size["diff"], size["lookups"], size["validate"]
        archive = f"{n} ({size['archive']['records']:,} records, {size['archive']['bytes'] / 1e6:.0f} MB)"
        lines.append(
            f"| raw-archive read | {archive} | {_side(a['ours'], a['comments_per_s']['ours'])} | "
            f"`gzip.open` + `json.loads`: {_side(a['reference'], a['comments_per_s']['reference'])} | "
            f"{a['ratio']:.2f}× | ≤ 2× |"
        )
        if "build" in size:
            b = size["build"]
            lines.append(
                f"| build from the archive (`ingest raw/…`; rows/s) | {n} | "
                f"{_side(b['ours'], b['rows_per_s']['ours'])} | DuckDB `read_json` of the same comments → Parquet: "
                f"{_side(b['reference'], b['rows_per_s']['reference'])} | {b['ratio_rows_per_s']:.2f}× | "
                "≥ 0.5×, ≤ 1 GB |"
            )
        lines.append(
            f"| `diff` of two versions | {n} | {_side(d['ours'], d['rows_per_s']['ours'])} | "
            f"DuckDB full outer join + row hash: {_side(d['reference'], d['rows_per_s']['reference'])} | "
            f"{d['ratio']:.2f}× | ≤ 3×, ≤ 1 GB |"
        )
        if "old" in d:
            lines.append(f"| `diff`, before (per-row Python) | {n} | {_side(d['old'])} | | | |")
        lines.append(
            f"| first `Snapshot.row` | {n} | {_s(lk['row_seconds'])} | "
            f"a pyarrow filter on `name`: {_s(lk['reference_filter_seconds'])} | | ≤ 100 ms |"
        )
        lines.append(
            f"| first `path_to_root` (depth {lk['path_length'] - 2}) | {n} | "
            f"{_s(lk['path_to_root_first_call_seconds'])} | | | ≤ 100 ms |"
        )
        lines.append(
            f"| first `thread` (1,000 comments) | {n} | {_s(lk['thread_first_call_seconds'])} | | | ≤ 100 ms |"
        )
        if "old" in lk:
            before = _s(lk["old"]["old_row_seconds"])
            lines.append(f"| first `Snapshot.row`, before (whole table as dicts) | {n} | {before} | | | |")
        lines.append(
            f"| `validate` | {n} | {_side(v['ours'])} | one DuckDB scan: {_side(v['reference'])} | "
            f"{v['ratio']:.2f}× | ≤ 1.5× |"
        )
    table = "\n".join(lines)
    if "archive_read_linearity" in results:
        small, large = results["sizes"][0]["comments"], results["sizes"][-1]["comments"]
        table += (
            f"\n\nRaw-archive read time per comment at {large:,} over that at {small:,}: "
            f"{results['archive_read_linearity']:.2f} (1.00 is linear; below 1, fixed costs spread)."
        )
    return table


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS
    print(render(json.loads(path.read_text(encoding="utf-8"))))
