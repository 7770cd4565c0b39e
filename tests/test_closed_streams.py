"""A command started without stdout or stderr, or told to write its summary to a FIFO nobody reads yet
(adversarial review 6, F1 and F2): real processes, real descriptors, real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scraper.ingest import ingest
from tests.test_snapshot import tree_file

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("closed")
    ingest(tmp / "ds", [tree_file(tmp, "cl", 12, 4)])
    return tmp / "ds"


def scraper(args: list[str], shell_tail: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``python -m scraper ARGS`` run by bash with ``shell_tail`` (``>&-``, ``2>&-``) and the rest captured."""
    line = " ".join([sys.executable, "-m", "scraper", *args]) + " " + shell_tail
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(["bash", "-c", line], capture_output=True, text=True, env=env, cwd=tmp_path, check=False)


@pytest.mark.parametrize("closed", ["stdout", "stderr"])
@pytest.mark.parametrize("command", [["versions"], ["show"], ["validate"], ["--help"]])
def test_a_closed_stream_keeps_the_runs_own_exit_code_and_no_traceback(
    dataset: Path, tmp_path: Path, closed: str, command: list[str]
) -> None:
    summary = ["--summary", str(tmp_path / "s.json")] if command == ["validate"] else []
    args = command if command == ["--help"] else [*command, str(dataset), *summary]
    result = scraper(args, ">&-" if closed == "stdout" else "2>&-", tmp_path)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr and "Error" not in result.stdout + result.stderr
    if summary:
        assert json.loads((tmp_path / "s.json").read_text())["exit_code"] == 0
    if closed == "stderr" and command == ["versions"]:
        assert "v0001" in result.stdout  # what the command prints for people still arrives where it is read


def test_a_file_opened_after_a_closed_stdout_never_takes_its_descriptor(dataset: Path, tmp_path: Path) -> None:
    """With descriptor 1 free, the first file opened would take it, and the table printed for people would land
    in that file: the command's own writes (the summary here) hold only their own bytes."""
    result = scraper(["validate", str(dataset), "--summary", str(tmp_path / "s.json")], ">&-", tmp_path)
    assert result.returncode == 0
    json.loads((tmp_path / "s.json").read_text())  # whole JSON: no table mixed into it


def test_a_stop_while_the_summary_waits_for_a_fifos_reader_ends_with_the_runs_status(
    dataset: Path, tmp_path: Path
) -> None:
    """The summary goes last; a FIFO nobody reads yet is waited for, as the shell's ``>`` waits, but a stop
    ends the wait: the run's own status, the summary not written, one line saying so."""
    fifo = tmp_path / "summary.fifo"
    os.mkfifo(fifo)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out, err = tmp_path / "out", tmp_path / "err"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "scraper", "validate", str(dataset), "--summary", str(fifo)],
            stdout=stdout,
            stderr=stderr,
            env=env,
        )
    try:
        deadline = time.monotonic() + 60
        while "valid" not in err.read_text() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # the verdict is printed: then the summary waits for a reader
        time.sleep(0.2)
        assert proc.poll() is None, "the command should be waiting for the FIFO's reader"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    said = err.read_text()
    assert proc.returncode == 0, said  # the run was valid: a stop while its summary waits does not change that
    assert "summary not written" in said and "Traceback" not in said
