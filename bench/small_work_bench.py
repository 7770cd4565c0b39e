"""What a small version costs to build, and a report's charts to lay out, each against its reference path.

    python bench/small_work_bench.py [ROUNDS]

The test suite builds hundreds of versions of a few dozen rows and writes dozens of reports;
their fixed costs were most of its CPU (docs/RELIABILITY.md, "Suite time").  In one process,
alternating, ROUNDS times (default 5):

- an ``ingest`` of a 40-comment tree into a new dataset, with the merge's readings sorted in Arrow
  (``scraper/normalize/merge_small.py``) and with ``SMALL_ROWS = 0`` (every reading a DuckDB
  statement, as before);
- the report's 12 charts of a small dataset laid out by ``charts._layout`` (layout merged as
  dicts) and by plotly's ``update_layout``/``update_xaxes``/``update_yaxes`` (as before).

CPU time (``time.process_time``) per operation and the ratio of the medians.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _tree_file(folder: Path) -> Path:
    comments = [
        {
            "kind": "t1",
            "data": {
                "id": f"c{i:03d}",
                "name": f"t1_c{i:03d}",
                "link_id": "t3_abc",
                "parent_id": "t3_abc" if i % 3 == 0 else f"t1_c{i - 1:03d}",
                "body": f"comment {i}",
                "author": f"user{i % 7}",
                "created_utc": 1.6e9 + i,
                "subreddit": "MachineLearning",
                "replies": "",
            },
        }
        for i in range(40)
    ]
    post = {
        "id": "abc",
        "name": "t3_abc",
        "title": "why I quit ML",
        "created_utc": 1.6e9,
        "subreddit": "MachineLearning",
    }
    body = [
        {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": post}]}},
        {"kind": "Listing", "data": {"children": comments}},
    ]
    doc = {
        "request": {"method": "GET", "url": "https://oauth.reddit.com/comments/abc/"},
        "response": {"status": 200, "headers": {"date": "Tue, 01 Dec 2026 12:00:00 GMT"}, "json": body},
    }
    path = folder / "tree.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _cpu(work: Callable[[], Any], repeat: int) -> float:
    start = time.process_time()
    for _ in range(repeat):
        work()
    return (time.process_time() - start) / repeat


def _reference_layout(fig: Any, *, height: int = 320, **extra: Any) -> Any:
    from scraper.report import charts

    fig.update_layout(**{**charts._LAYOUT, "height": height, **extra})  # noqa: SLF001
    fig.update_xaxes(**charts._AXES)  # noqa: SLF001
    fig.update_yaxes(**charts._AXES)  # noqa: SLF001
    for axis in (fig.layout.xaxis, fig.layout.yaxis):
        if axis.type == "log":
            axis.dtick = 1
    return fig


def main(rounds: int) -> dict[str, Any]:
    from scraper.ingest import ingest
    from scraper.normalize import merge_small
    from scraper.report import charts
    from scraper.report import figures as fig_mod
    from scraper.spec import load_spec
    from scraper.study import locate
    from tests.report_data import make_dataset

    work = Path(tempfile.mkdtemp(prefix="small-work-"))
    try:
        tree = _tree_file(work)
        count = iter(range(10**9))

        def build() -> None:
            ingest(work / f"ds{next(count)}", [tree])

        dataset = make_dataset(work / "report", pseudonymized=False)
        folder, manifest = locate(dataset, "latest")
        con = fig_mod.connect(folder)
        spec = load_spec(dataset)[0]
        figures = fig_mod.compute(con, manifest, spec.report.taxonomy, pseudonymized=False)
        con.close()

        def lay_out() -> None:
            for build_charts in (charts.coverage, charts.shape, charts.answers):
                build_charts(figures)

        default = merge_small.SMALL_ROWS
        layout = charts._layout  # noqa: SLF001
        results: dict[str, list[float]] = {
            "build arrow": [],
            "build duckdb": [],
            "charts dicts": [],
            "charts plotly": [],
        }
        build()
        lay_out()
        for _ in range(rounds):
            merge_small.SMALL_ROWS = default
            results["build arrow"].append(_cpu(build, 10))
            merge_small.SMALL_ROWS = 0
            results["build duckdb"].append(_cpu(build, 10))
            merge_small.SMALL_ROWS = default
            charts._layout = layout  # noqa: SLF001
            results["charts dicts"].append(_cpu(lay_out, 5))
            charts._layout = _reference_layout  # noqa: SLF001
            results["charts plotly"].append(_cpu(lay_out, 5))
            charts._layout = layout  # noqa: SLF001
    finally:
        shutil.rmtree(work, ignore_errors=True)
    medians = {k: statistics.median(v) * 1000 for k, v in results.items()}
    return {
        "rounds": rounds,
        "ms_cpu_median": {k: round(v, 1) for k, v in medians.items()},
        "build ratio (arrow / duckdb)": round(medians["build arrow"] / medians["build duckdb"], 2),
        "charts ratio (dicts / plotly)": round(medians["charts dicts"] / medians["charts plotly"], 2),
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5), indent=2))
