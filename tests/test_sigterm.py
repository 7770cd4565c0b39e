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
from scraper.errors import EXIT_TERMINATED, Terminated, interrupt_exit_code
from scraper.fake_reddit import FakeReddit
from tests import forked
from tests.conftest import hold_answers_after, write_spec
from tests.test_resilience import SPEC, collected_rows, forest_of, table_rows
from tests.test_watch import fake_env

SIZES = (150, 30)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    return collected_rows(tmp_path_factory.mktemp("whole"), *SIZES)


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


# -- two SIGTERMs at each moment of a real process's life (a stop, sent twice as systemd and schedulers do) --
STOPPED_AT = r"""
import os, signal, sys, time, runpy

moment, *args = sys.argv[1:]


SIGNALS = [getattr(signal, "SIG" + name) for name in os.environ.get("STOP_SIGNALS", "TERM,TERM").split(",")]


def stop():  # a stop from outside, sent twice in a row (SIGTERM twice, or mixed with Ctrl-C's SIGINT)
    for number in SIGNALS:
        os.kill(os.getpid(), number)


import scraper.cli as cli
import scraper.engine as engine

if moment == "starting":  # the command line is starting: nothing read yet
    real_run = cli.run

    def run():
        stop()
        real_run()

    cli.run = run
elif moment == "parsing":  # it reads its arguments: the command's body (and its --summary) not started
    real_parse = cli.DatasetCommand.parse_args

    def parse_args(self, ctx, arguments):
        stop()
        return real_parse(self, ctx, arguments)

    cli.DatasetCommand.parse_args = parse_args
elif moment == "running":  # the first span's rows are in
    real_map = engine.LocalEngine.map

    def each(self, task, items, shared):
        for n, result in enumerate(real_map(self, task, items, shared)):
            if n == 0:
                stop()
            yield result

    engine.LocalEngine.map = each
elif moment == "summary":  # the run is done: its summary is being written
    real_write = cli.write_summary

    def write_summary(path, summary):
        stop()
        return real_write(path, summary)

    cli.write_summary = write_summary
sys.argv = ["-m", *args]
try:
    runpy.run_module("scraper", run_name="__main__", alter_sys=True)
finally:
    if moment == "exiting":  # the command ended (its line and summary out); the process is still exiting
        stop()
        time.sleep(0.05)
"""


@pytest.fixture(scope="module")
def dump_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from scraper.fake_arctic_shift import generate
    from scraper.fake_arctic_shift.dumpfiles import write_zst

    store = generate(posts=40, seed=5, start=1_136_073_600, end=1_767_225_600, comments_per_post=(0, 3))
    return write_zst(tmp_path_factory.mktemp("dumps") / "RS_2016-01.zst", store.posts)


@pytest.mark.parametrize("moment", ["starting", "parsing", "running", "summary", "exiting"])
def test_two_sigterms_at_any_moment_of_a_dumps_run_leave_its_line_summary_and_exit_code(
    tmp_path: Path, dump_file: Path, moment: str
) -> None:
    """Two SIGTERMs at once, at each moment of a real ``python -m scraper dumps`` process: the run ends as
    a SIGTERM in its body ends it (its one line, its summary, 143) or, once it has ended, as it ended.

    Before, two quick SIGTERMs could end it with status 143 and neither line nor summary: SIGTERM was at
    its default (fatal) until the command line had started ("starting") and again once it was done
    ("exiting"); one while it read its arguments stopped it before its summary existed ("parsing"); one
    while a finished run's summary was written stopped the write ("summary")."""
    from tests.test_dump_spans import SPEC as DUMP_SPEC

    folder = write_spec(tmp_path / "ds", DUMP_SPEC)
    summary = tmp_path / "summary.json"
    args = ("dumps", str(folder), str(dump_file), "--summary", str(summary))
    proc = forked.Forked(forked.script(STOPPED_AT, moment, *args), env=dict(os.environ), stderr=forked.PIPE)
    _, stderr = proc.communicate(timeout=60)
    assert stderr is not None and "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    written = json.loads(summary.read_text()) if summary.exists() else None
    if moment in ("summary", "exiting"):  # it had ended: a stop now changes nothing
        assert proc.returncode == 0, (proc.returncode, stderr)
        assert written is not None and written["exit_code"] == 0 and written["version"] == "v0001", written
        assert lines[-1].startswith(f"wrote {folder / 'versions' / 'v0001'}"), stderr
        return
    assert proc.returncode == EXIT_TERMINATED, (proc.returncode, stderr)
    assert lines[-1] == "terminated (SIGTERM): everything fetched so far is kept; run the same command to continue."
    assert written is not None and written["exit_code"] == 143 and written["error"] == "terminated", written
    assert not (folder / "versions").exists()


@pytest.mark.parametrize("moment", ["starting", "parsing", "running", "summary"])
@pytest.mark.parametrize("signals", ["TERM,INT", "INT,TERM", "INT,INT"])
def test_a_stop_mixed_with_ctrl_c_ends_as_its_first_signal_says_and_the_summary_agrees(
    tmp_path: Path, dump_file: Path, moment: str, signals: str
) -> None:
    """SIGINT is held as SIGTERM is (adversarial review 6, F4): the first of two quick signals decides (143
    terminated, or 130 interrupted), the second is ignored, the summary records the same code, and a Ctrl-C
    while the command line starts is no traceback; once the run has ended, neither changes how it ended."""
    from tests.test_dump_spans import SPEC as DUMP_SPEC

    folder = write_spec(tmp_path / "ds", DUMP_SPEC)
    summary = tmp_path / "summary.json"
    args = ("dumps", str(folder), str(dump_file), "--summary", str(summary))
    env = {**os.environ, "STOP_SIGNALS": signals}
    proc = forked.Forked(forked.script(STOPPED_AT, moment, *args), env=env, stderr=forked.PIPE)
    _, stderr = proc.communicate(timeout=60)
    assert stderr is not None and "Traceback" not in stderr, stderr
    written = json.loads(summary.read_text()) if summary.exists() else None
    if moment == "summary":
        assert proc.returncode == 0 and written is not None and written["exit_code"] == 0, (proc.returncode, stderr)
        return
    first = signals.split(",")[0]
    code = EXIT_TERMINATED if first == "TERM" else 130
    assert proc.returncode == code, (proc.returncode, stderr)
    assert stderr.strip().splitlines()[-1].startswith("terminated" if first == "TERM" else "interrupted"), stderr
    assert written is not None and written["exit_code"] == code, written
    assert not (folder / "versions").exists()


LATE_STOP = r'''
import os, runpy, signal, sys


class StopAtTheEnd:
    """Sends SIGTERM while the interpreter finalizes its modules (after it put back its signals' defaults)."""

    def __del__(self, kill=os.kill, pid=os.getpid(), number=signal.SIGTERM):
        kill(pid, number)
        kill(pid, number)


keeper = StopAtTheEnd()
sys.argv = ["-m", "--version"]
runpy.run_module("scraper", run_name="__main__", alter_sys=True)
'''


def test_a_sigterm_while_the_interpreter_finalizes_keeps_the_exit_status() -> None:
    """A fresh interpreter (not a fork: the finalization is the interpreter's own): a stop landing after the
    command line ended, while Python tears its modules down, no longer kills the process (status -15, a
    shell's 143) in place of the status the command ended with."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", LATE_STOP], capture_output=True, text=True, timeout=60, env=dict(os.environ), check=False
    )
    assert done.returncode == 0, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr


CTRL_C_IN_EXEC = r"""
import runpy, sys

import scraper.publish.validate


def validate(*args, **kwargs):  # Ctrl-C lands in code run from a string (a dataclass made by an import)
    exec("import os, signal\nos.kill(os.getpid(), signal.SIGINT)\nfor _ in range(10**8): pass")


scraper.publish.validate.validate = validate
sys.argv = ["-m", "validate", *sys.argv[1:]]
runpy.run_module("scraper", run_name="__main__", alter_sys=True)
"""


def test_a_ctrl_c_caught_in_code_run_from_a_string_exits_130_not_killed_by_sigint(tmp_path: Path) -> None:
    """A fresh interpreter: CPython marks a ``KeyboardInterrupt`` leaving ``exec`` of text as unhandled even
    when the command catches it, and at exit killed itself with SIGINT (status -2, systemd's status=2/INT)
    after the line "interrupted" and a summary that said 130 (adversarial review 10, item 3)."""
    import subprocess
    import sys

    (tmp_path / "ds").mkdir()
    (tmp_path / "ctrl_c_in_exec.py").write_text(CTRL_C_IN_EXEC)  # run with -m: only there does CPython check the mark
    summary = tmp_path / "summary.json"
    path = os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH", "")) if p)
    done = subprocess.run(
        [sys.executable, "-m", "ctrl_c_in_exec", str(tmp_path / "ds"), "--summary", str(summary)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": path},
        check=False,
    )
    assert done.returncode == 130, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("interrupted"), done.stderr
    assert json.loads(summary.read_text())["exit_code"] == 130


def test_the_error_boundary_never_imports_duckdb() -> None:
    """A Ctrl-C that cut DuckDB's import short leaves it half made; the boundary importing it again to
    ask whether the error was a stopped query aborted the process (nanobind "refusing to add duplicate
    key"): no line, no summary (adversarial review 10, item 3)."""
    import subprocess
    import sys

    probe = (
        "import sys, scraper.cli as c\n"
        "assert 'duckdb' not in sys.modules\n"
        "assert c.interrupted_query(RuntimeError('Query interrupted'))\n"
        "assert not c.interrupted_query(KeyboardInterrupt())\n"
        "assert 'duckdb' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


SWALLOWED = r"""
import os, runpy, signal, sys, weakref

import scraper.engine as engine

where, name, *args = sys.argv[1:]
SIGNAL = getattr(signal, "SIG" + name)


def stop_where_python_swallows_it():
    os.kill(os.getpid(), SIGNAL)
    for _ in range(10**8):  # the handler raises in here; Python prints "Exception ignored" and goes on
        pass


def replaced():  # a library's own error in the stop's place, keeping nothing of it (pydantic-core's SchemaError)
    lost = False
    try:
        stop_where_python_swallows_it()
    except KeyboardInterrupt:
        lost = True
    if lost:
        raise RuntimeError('Error building "function-after" validator')


class Dropped:
    def __del__(self):
        stop_where_python_swallows_it()


class Target:
    pass


real_map = engine.LocalEngine.map


def each(self, task, items, shared):  # the signal lands when the first span's rows are in
    for n, result in enumerate(real_map(self, task, items, shared)):
        if n == 0:
            if where == "finalizer":
                Dropped()
            elif where == "replaced":
                replaced()
            else:
                target = Target()
                keep = weakref.ref(target, lambda ref: stop_where_python_swallows_it())
                del target
        yield result


engine.LocalEngine.map = each
sys.argv = ["-m", *args]
runpy.run_module("scraper", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize("where", ["finalizer", "weakref-callback", "replaced"])
@pytest.mark.parametrize("name", ["TERM", "INT"])
def test_a_stop_python_swallowed_still_stops_the_command_with_nothing_written(
    tmp_path: Path, dump_file: Path, where: str, name: str
) -> None:
    """The handler raises where the signal lands; in a finalizer or a weakref callback (logging's fork
    handler, the import lock's callback in the review) Python only prints "Exception ignored" and goes
    on. The run then wrote its version and exited 0, later signals ignored (adversarial review 10, item
    2). Now the stop is raised again at the body's next safe point: its exit code, line and summary,
    no version, and nothing printed about the lost one. A library's error raised in its place ("replaced")
    ends the run as the stop says too, not as an internal error (70)."""
    from tests.test_dump_spans import SPEC as DUMP_SPEC

    folder = write_spec(tmp_path / "ds", DUMP_SPEC)
    summary = tmp_path / "summary.json"
    args = ("dumps", str(folder), str(dump_file), "--summary", str(summary))
    proc = forked.Forked(forked.script(SWALLOWED, where, name, *args), env=dict(os.environ), stderr=forked.PIPE)
    _, stderr = proc.communicate(timeout=60)
    code, word = (EXIT_TERMINATED, "terminated") if name == "TERM" else (130, "interrupted")
    assert proc.returncode == code, (proc.returncode, stderr)
    assert stderr is not None and "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert stderr.strip().splitlines()[-1].startswith(word), stderr
    written = json.loads(summary.read_text())
    assert written["exit_code"] == code and written["error"] == word, written
    assert not (folder / "versions").exists()
