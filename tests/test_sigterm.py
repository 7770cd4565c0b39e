"""SIGTERM (systemctl stop, a scheduler's timeout) stops a run as Ctrl-C does: summary written, exit 143 (adv3 F12)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scraper.cli import main
from scraper.collect.run import collect
from scraper.errors import EXIT_TERMINATED, Terminated, interrupt_exit_code
from scraper.fake_reddit import FakeReddit
from tests import forked
from tests.conftest import hold_answers_after, settings_for, write_spec
from tests.test_resilience import QUICK, SPEC, forest_of, table_rows
from tests.test_watch import fake_env

SIZES = (150, 30)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    folder = write_spec(tmp_path_factory.mktemp("whole") / "ds", SPEC)
    with FakeReddit(forest_of(*SIZES), quota=10**9) as server:
        collect(folder, settings_for(server), retry=QUICK)
    return table_rows(folder)


def test_sigterm_writes_the_summary_exits_143_and_the_rerun_equals_an_uninterrupted_run(
    tmp_path: Path, uninterrupted: dict[str, list[dict[str, Any]]]
) -> None:
    folder = write_spec(tmp_path / "ds", SPEC)
    summary = tmp_path / "last-run.json"
    summary.write_text(json.dumps({"exit_code": 0, "version": "v0009"}))  # the previous run's success
    with FakeReddit(forest_of(*SIZES), quota=10**9) as server:
        after = 4
        sent = hold_answers_after(server, after)  # the signal lands mid-collection
        env = {**os.environ, **fake_env(server)}
        args = ("collect", str(folder), "--deadline", "50m", "--summary", str(summary))
        proc = forked.Forked(forked.cli(*args), env=env, stderr=forked.PIPE)
        deadline = time.monotonic() + 60
        while len(server.log) < after and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        proc.send_signal(signal.SIGTERM)
        sent.set()
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == EXIT_TERMINATED == 143, stderr
        assert "Traceback" not in stderr
        lines = stderr.strip().splitlines()
        assert lines[-1] == "terminated (SIGTERM): everything fetched so far is kept; run the same command to continue."
        written = json.loads(summary.read_text())
        assert written["exit_code"] == 143 and written["error"] == "terminated" and "finished_at" in written
        assert "version" not in written
        assert not (folder / "versions").exists()
        result = CliRunner().invoke(main, ["collect", str(folder)], env=fake_env(server), catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
    assert table_rows(folder) == uninterrupted
    assert len(list((folder / "raw").glob("*.jsonl.gz"))) == 1  # the same run, continued


def test_the_exit_code_of_an_interrupt_follows_its_cause() -> None:
    assert interrupt_exit_code(KeyboardInterrupt()) == 130
    assert interrupt_exit_code(Terminated()) == 143
    try:
        try:
            raise Terminated
        except KeyboardInterrupt as exc:
            raise RuntimeError("click's Abort, or a query stopped") from exc
    except RuntimeError as abort:
        assert interrupt_exit_code(abort) == 143
    before = signal.getsignal(signal.SIGTERM)
    assert CliRunner().invoke(main, ["versions", "--help"]).exit_code == 0
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is the command's only


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_that_duckdb_reports_as_its_own_error_exits_as_the_signal_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: int
) -> None:
    """DuckDB runs Python's signal handlers inside a query and raises its own "Query interrupted" in
    place of the handler's exception, keeping nothing of it (adv4 F7): the real handler runs here on a
    real signal, then the command raises what DuckDB raises. A SIGTERM exits 143 with "terminated" in
    the summary (was 130, and the summary said 70 "a bug"); a Ctrl-C exits 130 (was 70 in commands
    without their own error handling, such as ``validate``)."""

    def query_stopped_by_a_signal(*args: Any, **kwargs: Any) -> None:
        handled = False
        try:
            os.kill(os.getpid(), signum)
            time.sleep(5)  # the handler raises first
        except KeyboardInterrupt:  # Terminated is one
            handled = True
        assert handled
        raise RuntimeError("Query interrupted")  # raised afresh, as DuckDB does: no cause, no context

    monkeypatch.setattr("scraper.publish.validate.validate", query_stopped_by_a_signal)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        (tmp_path / "ds").mkdir()
        summary = tmp_path / "summary.json"
        result = CliRunner().invoke(main, ["validate", str(tmp_path / "ds"), "--summary", str(summary)])
    finally:
        signal.signal(signal.SIGINT, previous)
    code, word = (143, "terminated") if signum == signal.SIGTERM else (130, "interrupted")
    assert result.exit_code == code, result.output
    assert "internal error" not in result.output and result.stderr.strip().splitlines()[-1].startswith(word)
    written = json.loads(summary.read_text())
    assert written["exit_code"] == code and written["error"] == word, written


def test_sigterm_during_a_real_duckdb_query_exits_143_with_its_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same with a real query in a real process: whether DuckDB stops the query (its error in place
    of ours) or the handler runs when the query is done, the run ends as a SIGTERM: 143, "terminated"."""
    import duckdb

    started = tmp_path / "query-started"

    def long_query(*args: Any, **kwargs: Any) -> None:
        con = duckdb.connect()
        started.touch()
        con.sql("SELECT count(*) FROM range(400000000) t(x) WHERE x % 7 = 3").fetchall()
        time.sleep(30)  # a query DuckDB did not stop: the handler runs here

    monkeypatch.setattr("scraper.publish.validate.validate", long_query)
    (tmp_path / "ds").mkdir()
    summary = tmp_path / "summary.json"
    args = ("validate", str(tmp_path / "ds"), "--summary", str(summary))
    proc = forked.Forked(forked.cli(*args), env=dict(os.environ), stderr=forked.PIPE)
    deadline = time.monotonic() + 30
    while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.05)  # inside the query
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    assert stderr.strip().splitlines()[-1].startswith("terminated"), stderr
    written = json.loads(summary.read_text())
    assert written["exit_code"] == 143 and written["error"] == "terminated", written
