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
