"""Where the test suite's CPU goes: a pytest plugin that charges each test its CPU time.

    python -m pytest -q -p bench.suite_cpu                # writes .suite-cpu/<worker>.json
    python bench/suite_cpu.py [.suite-cpu] [40]           # totals by file, the 40 costliest tests

Around each test (setup, call and teardown) it reads ``getrusage`` of the process and
of its waited-for children (subprocesses and forks the test joined): user + sys,
before and after. Each xdist worker writes its own file at the end of the session.
Threads of the process (fake servers, DuckDB's workers) count for the test that runs
while they work; a process nobody waits for (Chromium under chromedriver) does not.
Written by hand: pytest's ``--durations`` reports wall time only, and on a shared
machine wall time says more about the other users than about the suite.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

OUT = Path(os.environ.get("SUITE_CPU_DIR", ".suite-cpu"))
_rows: list[tuple[str, float, float, float]] = []


def _cpu() -> tuple[float, float]:
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    before, start = _cpu(), time.perf_counter()
    yield
    after = _cpu()
    _rows.append((item.nodeid, after[0] - before[0], after[1] - before[1], time.perf_counter() - start))


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _rows:
        return
    OUT.mkdir(exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    (OUT / f"{worker}.json").write_text(json.dumps(_rows), encoding="utf-8")


def report(folder: Path, top: int) -> str:
    """Totals (self, children), CPU by test file, and the ``top`` costliest tests."""
    rows: list[Any] = []
    for path in sorted(folder.glob("*.json")):
        rows += json.loads(path.read_text(encoding="utf-8"))
    own, children = sum(r[1] for r in rows), sum(r[2] for r in rows)
    lines = [f"{len(rows)} tests: {own + children:.1f} s of CPU ({own:.1f} s in pytest, {children:.1f} s in children)"]
    by_file: Counter[str] = Counter()
    for row in rows:
        by_file[row[0].split("::")[0]] += row[1] + row[2]
    lines += [f"{cpu:7.1f} s  {name}" for name, cpu in by_file.most_common(20)]
    lines.append(f"{'self':>7} {'child':>7} {'wall':>7}  test")
    rows.sort(key=lambda r: -(r[1] + r[2]))
    lines += [f"{r[1]:7.2f} {r[2]:7.2f} {r[3]:7.2f}  {r[0]}" for r in rows[:top]]
    return "\n".join(lines)


if __name__ == "__main__":
    args = sys.argv[1:]
    print(report(Path(args[0]) if args else OUT, int(args[1]) if len(args) > 1 else 40))
