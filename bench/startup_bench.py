"""What a command costs before and after the suite-time changes of issue 9, as ratios in one script.

    python bench/startup_bench.py [ROUNDS]

1. A command-line process without pandas (``scraper.cli.run``, scraper/startup.py) against the
   same command through ``scraper.cli.main`` alone (pyarrow then imports pandas on its first
   conversion): ``demo`` into a fresh folder, ROUNDS times each, alternating; CPU (user + sys)
   of each child from ``getrusage``.
2. The card's missing context of a small version (300 comments, Parquet files):
   ``missing_context`` (which counts a small version in Arrow) against DuckDB's joins
   (``missing_in_duckdb``, what it did for every version before), in this process, 200 times each.

Both sides run in the same script on the same machine at the same time, so the ratio holds
on a busy machine where the absolute times do not.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = "import sys; from scraper.cli import {entry}; sys.argv = ['scraper', 'demo', sys.argv[1]]; {entry}()"


def child_cpu(entry: str, folder: Path) -> float:
    """CPU seconds of one ``demo`` run in a fresh interpreter through ``entry``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [sys.executable, "-c", SCRIPT.format(entry=entry), str(folder)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def cli(rounds: int) -> tuple[float, float]:
    totals = {"main": 0.0, "run": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(rounds):
            for entry in ("main", "run"):
                totals[entry] += child_cpu(entry, Path(tmp) / f"{entry}-{n}" / "leaving-ml")
    return totals["main"] / rounds, totals["run"] / rounds


def card(repeat: int) -> tuple[float, float]:
    from scraper.publish.card import missing_context, missing_in_duckdb

    n = 300
    comments = pa.table(
        {
            "name": [f"t1_{i}" for i in range(n)],
            "link_id": ["t3_a" if i % 3 else "t3_b" for i in range(n)],
            "parent_id": [f"t1_{i - 1}" if i % 5 else "t3_a" for i in range(n)],
        }
    )
    submissions = pa.table({"name": ["t3_a"]})
    with tempfile.TemporaryDirectory() as tmp:
        paths = Path(tmp) / "s.parquet", Path(tmp) / "c.parquet"
        pq.write_table(submissions, paths[0])
        pq.write_table(comments, paths[1])

        def duckdb_side() -> object:
            return missing_in_duckdb(*paths)

        def arrow_side() -> object:  # what the builder calls: the size check, then Arrow
            return missing_context(*paths)

        assert duckdb_side() == arrow_side()
        spent = {}
        for name, side in (("duckdb", duckdb_side), ("arrow", arrow_side)):
            start = time.process_time()
            for _ in range(repeat):
                side()
            spent[name] = (time.process_time() - start) / repeat
    return spent["duckdb"], spent["arrow"]


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with_pandas, without = cli(rounds)
    print(f"demo, CPU a run: main {with_pandas:.2f} s, run {without:.2f} s, ratio {without / with_pandas:.2f}")
    duck_ms, arrow_ms = card(200)
    print(
        f"missing context, 300 comments: duckdb {duck_ms * 1e3:.1f} ms, arrow {arrow_ms * 1e3:.1f} ms, "
        f"ratio {arrow_ms / duck_ms:.2f}"
    )


if __name__ == "__main__":
    main()
