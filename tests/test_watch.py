"""Watching a run: INFO events for each step, retries that name what and how long, progress, Ctrl-C."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

from scraper.cli import main
from scraper.collect.expand import expand_thread
from scraper.fake_reddit import FakeReddit
from scraper.fake_reddit.clock import SimulatedClock
from scraper.fake_reddit.server import Faults
from scraper.sources.pacing import RetryPolicy
from scraper.sources.reddit import RedditClient
from scraper.watch import PeriodicProgress, RichProgress, RunState, emit, event_of
from tests import forked
from tests.conftest import hold_answers_after, settings_for, write_spec
from tests.test_resilience import SPEC, collected_rows, forest_of, table_rows

ROOT = Path(__file__).resolve().parents[1]


def fake_env(server: FakeReddit) -> dict[str, str]:
    return {
        "SCRAPER_OAUTH_URL": server.url,
        "SCRAPER_REDDIT_URL": server.url,
        "praw_client_id": "fake-client-id",
        "praw_client_secret": "fake-client-secret",
        "praw_user_agent": "python:tests:0 (watch)",
    }


def test_verbose_and_json_logs_show_every_step(tmp_path: Path) -> None:
    folder = write_spec(tmp_path / "ds", SPEC)
    log = tmp_path / "run.jsonl"
    with FakeReddit(forest_of(300, 40), quota=10**9) as server:
        result = CliRunner().invoke(
            main, ["-v", "--log-json", str(log), "collect", str(folder)], env=fake_env(server), catch_exceptions=False
        )
    assert result.exit_code == 0, result.stderr
    text = result.stderr
    assert "discovery: 1 search in 1 subreddit, 0 seeds" in text
    assert "search 1/1 r/MachineLearning quit machine learning page 1: 2 threads, 2 new" in text
    assert "thread t3_th0 (1/2) started" in text and "thread t3_th1 (2/2) started" in text
    assert "thread t3_th0 (1/2) done: " in text and " comments held, " in text
    assert f"wrote {folder / 'versions' / 'v0001'}: 2 submissions, " in text
    events = [json.loads(line) for line in log.read_text().splitlines()]
    by_name: dict[str, list[dict[str, Any]]] = {}
    for line in events:
        by_name.setdefault(line.get("event", ""), []).append(line["fields"] if "event" in line else line)
    assert {"discovery", "search-page", "discovered", "threads", "thread-start", "thread-done", "version"} <= set(
        by_name
    )
    done = {f["link"]: f for f in by_name["thread-done"]}
    manifest = json.loads((folder / "versions" / "v0001" / "manifest.json").read_text())
    held = {c["link"]: c["held"] for c in manifest["completeness"]}
    assert {link: f["held"] for link, f in done.items()} == held
    assert all(sum(f["requests"].values()) >= 1 for f in done.values())
    rows = {name: manifest["files"][f"{name}.parquet"]["rows"] for name in ("submissions", "comments")}
    path = str(folder / "versions" / "v0001")
    assert by_name["version"] == [{"dataset": manifest["dataset"], "version": "v0001", "path": path, **rows}]


def test_without_v_a_pipe_gets_periodic_progress_lines(tmp_path: Path) -> None:
    folder = write_spec(tmp_path / "ds", SPEC)
    with FakeReddit(forest_of(300, 40), quota=10**9) as server:
        env = {**fake_env(server), "SCRAPER_PROGRESS_EVERY": "0"}
        result = CliRunner().invoke(main, ["collect", str(folder)], env=env, catch_exceptions=False)
    assert result.exit_code == 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("progress: ")]
    assert "progress: searches 1/1 (2 threads found)" in lines
    assert any("threads 1/2" in line for line in lines)
    assert any(line.endswith("comments") and "t3_th0: " in line for line in lines)
    assert "INFO" not in result.stderr  # the lines themselves wait for -v


def test_periodic_progress_waits_its_interval() -> None:
    now = [0.0]
    out = io.StringIO()
    handler = PeriodicProgress(out, every=30, clock=lambda: now[0])
    logger = logging.getLogger("tests.watch.periodic")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        emit(logger, "threads", "x", total=3, finished=0)
        emit(logger, "thread-start", "x", link="a", index=1, total=3)
        for held in range(1, 100):
            now[0] += 1
            emit(logger, "thread-step", "x", link="a", held=held, stated=99, requests=held)
    finally:
        logger.removeHandler(handler)
    assert out.getvalue().splitlines() == [
        "progress: threads 0/3; t3_a: 30 of 99 comments",
        "progress: threads 0/3; t3_a: 60 of 99 comments",
        "progress: threads 0/3; t3_a: 90 of 99 comments",
    ]


def test_rich_progress_follows_discovery_threads_and_the_thread_inside() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    handler = RichProgress(console)
    logger = logging.getLogger("tests.watch.rich")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        emit(logger, "discovery", "x", searches=4, seeds=0)
        emit(logger, "search-page", "x", search=2, searches=4, subreddit="ml", found=7, last=True)
        emit(logger, "threads", "x", total=5, finished=1)
        emit(logger, "thread-start", "x", link="abc", index=2, total=5)
        emit(logger, "thread-step", "x", link="abc", held=250, stated=1000, requests=3)
        tasks = {t.description.split(" ")[0]: t for t in handler.progress.tasks}
        assert (tasks["searching"].completed, tasks["searching"].total) == (2, 4)
        assert (tasks["threads"].completed, tasks["threads"].total) == (1, 5)
        assert (tasks["t3_abc"].completed, tasks["t3_abc"].total) == (250, 1000)
        emit(logger, "thread-done", "x", link="abc", index=2, total=5, requests={"comments": 3})
        assert tasks["threads"].completed == 2
    finally:
        logger.removeHandler(handler)
        handler.close()


def test_run_state_line() -> None:
    state = RunState()
    assert state.line() == "progress: starting"
    state.fold("discovery", {"searches": 105})
    state.fold("search-page", {"search": 3, "found": 12, "last": True})
    assert state.line() == "progress: searches 3/105 (12 threads found)"


def test_retries_and_waits_name_the_url_and_how_long_they_keep_trying(caplog: pytest.LogCaptureFixture) -> None:
    clock = SimulatedClock()
    faults = Faults(rate=0.5, kinds=("503",), pattern="even", burst_429=(1, 1), retry_after="7")
    with FakeReddit(forest_of(400), quota=10**9, faults=faults, clock=clock.now) as server:
        client = RedditClient(settings_for(server), clock=clock, retry=RetryPolicy(max_retries=6))
        with caplog.at_level(logging.INFO, logger="scraper"):
            assert expand_thread(client, "th0").complete
    found = [(event_of(r), r.getMessage()) for r in caplog.records if event_of(r)]
    retries = [(e[1], message) for e, message in found if e and e[0] == "retry"]
    waits = [(e[1], message) for e, message in found if e and e[0] == "rate-limited"]
    assert retries and waits
    fields, message = retries[0]
    assert fields["url"].startswith(f"GET {server.url}/") or fields["url"].startswith(f"POST {server.url}/")
    assert "?" not in fields["url"] and fields["fault"] == "HTTP 503" and fields["max_retries"] == 6
    assert f"from {fields['url']} (" in message and "retry 1 of 6 in " in message
    assert "s more of retries before giving up" in message
    fields, message = waits[0]
    assert fields["wait"] == 7 and server.url in fields["url"] and "waiting 7 s as Reddit asks (wait 1 of 8)" in message


INTERRUPTED_RUNS = [4, 12]
SIZES = (600, 80)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    return collected_rows(tmp_path_factory.mktemp("whole"), *SIZES)


@pytest.mark.parametrize("after", INTERRUPTED_RUNS)
def test_ctrl_c_exits_130_and_the_rerun_equals_an_uninterrupted_run(
    tmp_path: Path, uninterrupted: dict[str, list[dict[str, Any]]], after: int
) -> None:
    """A real process gets a real SIGINT while it collects."""
    folder = write_spec(tmp_path / "ds", SPEC)
    summary = tmp_path / "summary.json"
    with FakeReddit(forest_of(*SIZES), quota=10**9) as server:
        sent = hold_answers_after(server, after)  # Ctrl-C lands mid-collection (it raced the run's end)
        env = {**os.environ, **fake_env(server)}
        # `python -m scraper collect` in a real process forked from this one (tests/forked.py); the child
        # takes Ctrl-C as from a terminal (KeyboardInterrupt) even where this process has SIGINT ignored
        # (a shell's background job: CI runners, nohup ... &)
        proc = forked.Forked(forked.cli("collect", str(folder), "--summary", str(summary)), env=env, stderr=forked.PIPE)
        deadline = time.monotonic() + 60
        while len(server.log) < after and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        proc.send_signal(signal.SIGINT)
        sent.set()
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 130, stderr
        assert "Traceback" not in stderr
        assert stderr.strip().splitlines()[-1].startswith("interrupted: everything fetched so far is kept")
        assert json.loads(summary.read_text())["exit_code"] == 130
        assert not (folder / "versions").exists()
        result = CliRunner().invoke(main, ["collect", str(folder)], env=fake_env(server), catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
    assert table_rows(folder) == uninterrupted
    assert len(list((folder / "raw").glob("*.jsonl.gz"))) == 1  # the same run, continued
