"""An answer that never ends (a broken proxy, a hostile server) is refused at a bound, not held in memory.

The requestor reads each body itself, streamed, and stops past ``MAX_ANSWER_BYTES``: the call
fails like a network error (retried, then exit 75's TransientError), and the connection is
dropped, so the server sees its client go.  Real answers of every size still read whole.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from scraper.errors import TransientError
from scraper.fake_reddit.clock import SimulatedClock
from scraper.sources import reddit
from scraper.sources.pacing import RetryPolicy
from scraper.sources.reddit import RedditClient, RedditSettings

TOKEN = {"access_token": "t", "token_type": "bearer", "expires_in": 86400, "scope": "*"}


class Endless:
    """127.0.0.1: a token, then an answer of ``size`` bytes of JSON, or one that never ends (``size`` None)."""

    def __init__(self, size: int | None) -> None:
        self.sent = 0
        self.dropped = threading.Event()
        endless = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                body = json.dumps(TOKEN).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                # one request per connection: a GET never races this handler closing a kept-alive one
                self.send_header("connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "application/json")
                if size is not None:  # a real, long answer: a listing padded with spaces
                    body = b'{"kind": "Listing", "data": {"children": []' + b" " * size + b"}}"
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_header("connection", "close")  # no length: the body ends when the socket does
                self.end_headers()
                chunk = b"[" + b" " * 65535
                try:
                    while endless.sent < 1 << 30:
                        self.wfile.write(chunk)
                        endless.sent += len(chunk)
                except OSError:
                    endless.dropped.set()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Endless:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def client(self) -> RedditClient:
        settings = RedditSettings(
            oauth_url=self.url, reddit_url=self.url, client_id="id", client_secret="s", user_agent="python:t:0 (t)"
        )
        return RedditClient(settings, clock=SimulatedClock(), retry=RetryPolicy(max_retries=1, base=0.01, cap=0.01))


@pytest.fixture
def small_bound(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setattr(reddit, "MAX_ANSWER_BYTES", 1 << 20)
    yield 1 << 20


def test_an_answer_that_never_ends_fails_at_the_bound_and_is_retried(small_bound: int) -> None:
    with Endless(None) as server:
        client = server.client()
        with pytest.raises(TransientError, match=r"AnswerTooLarge from GET .*/api/info/, 2 attempts"):
            client.info(["t1_x"])
        assert server.dropped.wait(5), "the client kept the connection"
    assert client.faults["AnswerTooLarge"] == 2
    assert server.sent < 2 * 8 * small_bound  # two attempts, each cut near the bound (socket buffers aside)


def test_a_long_real_answer_under_the_bound_reads_whole(small_bound: int) -> None:
    with Endless(small_bound - 100) as server:
        answer = server.client().info(["t1_x"])
    assert answer == {"kind": "Listing", "data": {"children": []}}
