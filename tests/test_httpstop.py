"""A Ctrl-C or SIGTERM never leaves an HTTP client waiting for ever on its pool's lock (adversarial review 10, item 1).

httpcore's pool lock is a plain ``threading.Lock`` taken in ``with`` blocks: a stop raised just after
``acquire()`` (inside ``__enter__``) left it taken by the stopping thread, and ``Client.close()`` on the
way out waited on it for ever (gdb: ``_synchronization.py:268 self._lock.acquire()`` under
``ArcticShiftClient.__exit__``); later signals are ignored while a command stops, so only SIGKILL ended it.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from scraper import httpstop
from scraper.publish.download import HttpFetcher
from scraper.sources.arctic_shift import ArcticShiftClient
from tests import forked
from tests.conftest import write_spec


def leave_the_pool_lock_taken(client: httpx.Client) -> None:
    """What a stop landing just after httpcore's ``acquire()`` leaves: the lock taken, never released."""
    client._transport._pool._optional_thread_lock.__enter__()  # type: ignore[attr-defined]


def ends_within(seconds: float, body: Any) -> bool:
    """Whether ``body`` returns within ``seconds`` (run in a daemon thread: on the old code it never does)."""
    done = threading.Event()

    def run() -> None:
        try:
            body()
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()
    return done.wait(seconds)


@pytest.mark.parametrize("make", ["arctic-shift", "download"])
def test_a_pool_lock_the_stopping_thread_left_taken_does_not_block_the_way_out(make: str) -> None:
    def stopped() -> None:
        if make == "arctic-shift":
            with pytest.raises(KeyboardInterrupt), ArcticShiftClient("http://127.0.0.1:9") as client:
                leave_the_pool_lock_taken(client._http)
                raise KeyboardInterrupt
        else:
            fetcher = HttpFetcher("http://127.0.0.1:9/")
            leave_the_pool_lock_taken(fetcher.client)
            fetcher.client.close()  # the same thread: the lock is taken again at once

    assert ends_within(5, stopped)


def test_a_close_on_the_way_out_of_a_stop_gives_up_after_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pool this tool could not harden (another httpcore; a lock another thread left taken): the close on
    the way out of a stop gives up after ``CLOSE_ON_STOP_S``; outside a stop it closes as always."""
    monkeypatch.setattr(httpstop, "CLOSE_ON_STOP_S", 0.05)
    client = httpx.Client()
    guard = client._transport._pool._optional_thread_lock  # type: ignore[attr-defined]
    guard._lock = threading.Lock()  # not reentrant: as httpcore's own
    guard._lock.acquire()
    started = time.monotonic()
    httpstop.close(client, KeyboardInterrupt())
    assert time.monotonic() - started < 1
    guard._lock.release()
    httpstop.close(client, None)
    assert client.is_closed


STOPPED_IN_THE_POOL = r"""
import os, runpy, signal, sys

import scraper.sources.arctic_shift as arctic_shift

name, *args = sys.argv[1:]


def fetch(self, path, params):  # the stop lands just after httpcore took its pool's lock
    self._http._transport._pool._optional_thread_lock.__enter__()
    os.kill(os.getpid(), getattr(signal, "SIG" + name))
    for _ in range(10**8):
        pass


arctic_shift.ArcticShiftClient._fetch = fetch
sys.argv = ["-m", *args]
runpy.run_module("scraper", run_name="__main__", alter_sys=True)
"""

SPEC = """
[dataset]
name = "history"
[discovery]
subreddits = ["MachineLearning"]
queries = ["quit"]
[filter]
include = ["quit"]
[archive]
after = 2015-01-01
before = 2015-01-02
"""


@pytest.mark.parametrize("name", ["INT", "TERM"])
def test_a_stop_while_the_pool_lock_is_taken_ends_an_archive_collect_with_its_exit_code(
    tmp_path: Path, name: str
) -> None:
    """A real ``collect --archive-only`` process: a stop landing while httpcore holds its pool's lock ends
    it with its line, its summary and 130 or 143, at once (it waited on the lock for ever)."""
    folder = write_spec(tmp_path / "ds", SPEC)
    summary = tmp_path / "summary.json"
    args = ("collect", str(folder), "--archive-only", "--archive-url", "http://127.0.0.1:9", "--summary", str(summary))
    env = {k: v for k, v in os.environ.items() if not k.startswith("praw_")}
    proc = forked.Forked(forked.script(STOPPED_IN_THE_POOL, name, *args), env=env, cwd=tmp_path, stderr=forked.PIPE)
    try:
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
    code, word = (143, "terminated") if name == "TERM" else (130, "interrupted")
    assert proc.returncode == code, (proc.returncode, stderr)
    assert stderr is not None and "Traceback" not in stderr and stderr.strip().splitlines()[-1].startswith(word)
    assert json.loads(summary.read_text())["exit_code"] == code
