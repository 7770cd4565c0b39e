"""A hostile Arctic Shift (dripping its answer, or never ending it) meets the run's bounds (adv4 F3).

Real sockets on 127.0.0.1, as for Reddit's client (tests/test_deadline_drip.py,
tests/test_reddit_answer_size.py): a server that sends a byte every 50 ms (inside the header
block or the body) stops the run at its ``--deadline`` with exit 75, not after the hours the
drip would take; an answer past the bound (64 MiB; 1 MiB here) is refused while it streams and
retried like a failing server, then exit 75 naming the server, never held in memory whole.
Bounds are generous (deadline + a few seconds): a bound, not a measure of speed.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from scraper.cli import main
from scraper.errors import EXIT_NEEDS_PERSON, EXIT_TRY_LATER, BudgetExhausted, TransientError, from_exception
from scraper.fake_reddit.clock import SimulatedClock
from scraper.sources import arctic_shift
from scraper.sources.arctic_shift import ArcticShiftClient
from scraper.sources.pacing import RetryPolicy
from tests.conftest import write_spec
from tests.raw_server import RawServer
from tests.test_archive_collect import _spec

TICK = 0.05
#: a real answer (an empty page) with room for a drip inside: 20 s at TICK, so old code fails rather than hangs
DRIP_BODY = b'{"data": [' + b" " * 400 + b"]}"


class Hostile(RawServer):
    """A server on 127.0.0.1 answering every request one way: ``drip-headers`` (a header block that
    drips), ``drip-body`` (a body announced whole that drips), ``endless`` (a body without a length,
    ``total`` bytes as fast as the socket takes them) or ``long`` (a real answer ``total`` bytes long)."""

    def __init__(self, mode: str, total: int = 0) -> None:
        super().__init__()
        self.mode = mode
        self.total = total
        self.dropped = threading.Event()
        self.sent = 0

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                self.requests += 1
                if self.mode == "drip-headers":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Drip: ")
                    self._drip(conn, b"x" * 200 + b"\r\ncontent-length: 12\r\n\r\n" + b'{"data": []}')
                elif self.mode == "drip-body":
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
                        % len(DRIP_BODY)
                    )
                    self._drip(conn, DRIP_BODY)
                elif self.mode == "endless":
                    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n"
                    conn.sendall(head + b'{"data": ["')
                    chunk = b"x" * 65536
                    while self.sent < self.total and not self.stop.is_set():
                        conn.sendall(chunk)
                        self.sent += len(chunk)
                else:  # long: a real page, padded with spaces
                    body = b'{"data": [' + b" " * self.total + b"]}"
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                        % (len(body), body)
                    )
            except OSError:
                self.dropped.set()

    def _drip(self, conn: socket.socket, data: bytes) -> None:
        for byte in data:
            if self.stop.wait(TICK):
                return
            conn.sendall(bytes([byte]))


@pytest.fixture(params=["drip-headers", "drip-body"])
def dripping(request: pytest.FixtureRequest) -> Iterator[Hostile]:
    with Hostile(request.param) as server:
        yield server


@pytest.fixture
def small_bound(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(arctic_shift, "MAX_ANSWER_BYTES", 1 << 20, raising=False)  # raising: the old code had none
    return 1 << 20


def _no_reddit_env() -> dict[str, str | None]:
    return {k: None for k in os.environ if k.startswith("praw_")}


def test_a_dripping_arctic_shift_meets_the_clients_deadline(dripping: Hostile) -> None:
    with ArcticShiftClient(dripping.url, timeout=5) as client:
        started = time.monotonic()  # once the client is built (its TLS context can take a while on a busy machine)
        client.deadline = started + 0.5
        with pytest.raises(BudgetExhausted, match="deadline reached during a request to Arctic Shift for posts of r/x"):
            client.search_posts("x", 0, 100)
    assert time.monotonic() - started < 5  # the drip takes 20 s; the read timeout (5 s) never fires
    assert dripping.requests == 1  # not retried


def test_collect_against_a_dripping_arctic_shift_exits_75_at_its_deadline(tmp_path: Path) -> None:
    with Hostile("drip-body") as server:
        folder = write_spec(tmp_path / "ds", _spec(server.url))
        started = time.monotonic()
        result = CliRunner().invoke(
            main,
            ["collect", str(folder), "--archive-only", "--deadline", "2s", "--max-retries", "0"],
            env=_no_reddit_env(),
        )
        took = time.monotonic() - started
    assert took < 10, result.stderr  # the drip takes 20 s
    assert result.exit_code == EXIT_TRY_LATER, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "deadline reached while Arctic Shift was still answering" in errors[0], errors
    assert not (folder / "versions").exists()


def test_an_answer_that_never_ends_fails_at_the_bound_and_is_retried(small_bound: int) -> None:
    with Hostile("endless", total=64 * small_bound) as server:
        retry = RetryPolicy(max_retries=1, base=0.01, cap=0.01)
        with ArcticShiftClient(server.url, clock=SimulatedClock(), retry=retry) as client:
            with pytest.raises(
                TransientError, match=r"AnswerTooLarge from http://127\.0\.0\.1:\d+/api/posts/search, 2 attempts"
            ):
                client.search_posts("x", 0, 100)
            assert client.faults["AnswerTooLarge"] == 2
        assert server.dropped.wait(5), "the client kept the connection"
        assert server.requests == 2
        assert server.sent < 2 * 8 * small_bound  # each attempt cut near the bound (socket buffers aside)


def test_collect_against_an_endless_arctic_shift_exits_75_naming_the_server(tmp_path: Path, small_bound: int) -> None:
    with Hostile("endless", total=8 * small_bound) as server:
        folder = write_spec(tmp_path / "ds", _spec(server.url))
        result = CliRunner().invoke(
            main, ["collect", str(folder), "--archive-only", "--max-retries", "0"], env=_no_reddit_env()
        )
    assert result.exit_code == EXIT_TRY_LATER, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, errors
    assert f"AnswerTooLarge from {server.url}/api/posts/search" in errors[0]
    assert "too large to read in memory" not in errors[0]


def test_a_long_real_answer_under_the_bound_reads_whole(small_bound: int) -> None:
    with Hostile("long", total=small_bound - 100) as server, ArcticShiftClient(server.url) as client:
        assert client.search_posts("x", 0, 100) == []


def test_running_out_of_memory_does_not_blame_the_dataset() -> None:
    error = from_exception(MemoryError(), where="datasets/ds")
    assert error.exit_code == EXIT_NEEDS_PERSON
    assert "ran out of memory while working on datasets/ds" in str(error)
    assert "too large" not in str(error)
