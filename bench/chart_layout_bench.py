"""The report's charts laid out as dicts (``charts._layout``) against plotly's update methods.

    python bench/chart_layout_bench.py [ROUNDS]

The test suite writes dozens of reports of small datasets, where laying out the charts was a
third of a report's CPU (docs/RELIABILITY.md, "Suite time"). In one process, alternating, ROUNDS
times (default 5): the twelve charts of the report tests' dataset (``tests/report_data.py``) laid
out by ``charts._layout`` (the layout merged as dicts, the figure made again) and by plotly's
``update_layout``/``update_xaxes``/``update_yaxes`` (as before). CPU time (``time.process_time``)
per layout of the twelve and the ratio of the medians.
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
    from scraper.report import charts
    from scraper.report import figures as fig_mod
    from scraper.spec import load_spec
    from scraper.study import locate
    from tests.report_data import make_dataset

    work = Path(tempfile.mkdtemp(prefix="chart-layout-"))
    try:
        dataset = make_dataset(work / "report", pseudonymized=False)
        folder, manifest = locate(dataset, "latest")
        con = fig_mod.connect(folder)
        spec = load_spec(dataset)[0]
        figures = fig_mod.compute(con, manifest, spec.report.taxonomy, pseudonymized=False)
        con.close()

        def lay_out() -> None:
            for build_charts in (charts.coverage, charts.shape, charts.answers):
                build_charts(figures)

        layout = charts._layout  # noqa: SLF001
        results: dict[str, list[float]] = {"charts dicts": [], "charts plotly": []}
        lay_out()
        for _ in range(rounds):
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
        "charts ratio (dicts / plotly)": round(medians["charts dicts"] / medians["charts plotly"], 2),
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5), indent=2))
