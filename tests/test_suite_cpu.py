"""bench/suite_cpu.py charges each test the CPU of its process and of the children it waited for."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bench import suite_cpu


def _run(nodeid: str, work: Any) -> None:
    wrapper = suite_cpu.pytest_runtest_protocol(SimpleNamespace(nodeid=nodeid), None)
    next(wrapper)
    work()
    with pytest.raises(StopIteration):
        next(wrapper)


def _busy(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_each_test_gets_its_own_and_its_childrens_cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(suite_cpu, "OUT", tmp_path / "cpu")
    monkeypatch.setattr(suite_cpu, "_rows", [])
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw7")
    _run("tests/test_a.py::test_busy", lambda: _busy(0.05))
    child = "import time\nend = time.process_time() + 0.05\nwhile time.process_time() < end: pass"
    _run("tests/test_b.py::test_child", lambda: subprocess.run([sys.executable, "-c", child], check=True))
    suite_cpu.pytest_sessionfinish(SimpleNamespace())
    rows = json.loads((tmp_path / "cpu" / "gw7.json").read_text())
    busy, spawned = rows
    assert busy[0] == "tests/test_a.py::test_busy" and busy[1] >= 0.05 and busy[2] < 0.05
    assert spawned[0] == "tests/test_b.py::test_child" and spawned[2] >= 0.05
    text = suite_cpu.report(tmp_path / "cpu", 1)
    assert text.startswith("2 tests: ")
    files = [line.split()[-1] for line in text.splitlines()[1:3]]
    assert sorted(files) == ["tests/test_a.py", "tests/test_b.py"]
    assert text.splitlines()[-1].endswith(max(rows, key=lambda r: r[1] + r[2])[0])  # the costliest one, alone
