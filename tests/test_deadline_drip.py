"""Servers that drip (each byte well inside the read timeout) meet ``--deadline`` all the same (adv3 F5).

Real sockets on 127.0.0.1: the server sends a byte every 50 ms, inside the header block or the body,
and never ends; ``download`` and the Reddit client must give up at their deadline (0.5 s here), not
after the hours the drip would take.  Bounds are generous (deadline + a few seconds): a bound, not a
measure of speed.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from scraper.cli import main
from scraper.errors import EXIT_TRY_LATER, BudgetExhausted
from scraper.sources.reddit import RedditClient, RedditSettings
from tests.conftest import write_spec
from tests.raw_server import RawServer

TOKEN = json.dumps({"access_token": "drip-token", "token_type": "bearer", "expires_in": 3600, "scope": "*"}).encode()
BODY = json.dumps([{"kind": "Listing", "data": {"children": []}}] * 2).encode() * 50
TICK = 0.05


class Dripping(RawServer):
    """A server on 127.0.0.1: the token endpoint answers at once; every other request drips, in the
    header block (``where="headers"``) or in a body announced whole (``where="body"``)."""

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                head = conn.recv(65536)
                self.requests += 1
                if b"access_token" in head.split(b"\r\n", 1)[0]:
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
                        b"content-length: %d\r\n\r\n%s" % (len(TOKEN), TOKEN)
                    )
                    return
                if self.where == "headers":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Drip: ")
                    drip = b"x" * 100_000
                else:
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=UTF-8\r\n"
                        b"content-length: %d\r\n\r\n" % len(BODY)
                    )
                    drip = BODY
                for byte in drip:
                    if self.stop.wait(TICK):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                return


@pytest.fixture(params=["headers", "body"])
def dripping(request: pytest.FixtureRequest) -> Iterator[Dripping]:
    with Dripping(request.param) as server:
        yield server


def _settings(server: Dripping) -> RedditSettings:
    return RedditSettings(
        oauth_url=server.url,
        reddit_url=server.url,
        client_id="drip-id",
        client_secret="drip-secret",
        user_agent="python:tests:0 (drip)",
        timeout=5,
    )


def test_a_dripping_reddit_meets_the_clients_deadline(dripping: Dripping) -> None:
    started = time.monotonic()
    client = RedditClient(_settings(dripping), deadline=started + 0.5)
    with pytest.raises(BudgetExhausted, match="deadline reached during a request for thread t3_abc"):
        client.comment_tree("abc")
    assert time.monotonic() - started < 5  # the drip would take hours; the read timeout (5 s) never fires
    assert dripping.requests == 2  # the token, then the tree: not retried


def test_collect_against_a_dripping_reddit_exits_75_at_its_deadline(tmp_path: Path) -> None:
    folder = write_spec(tmp_path / "ds", '[dataset]\nname = "drip"\n[discovery]\nseeds = ["abc"]\n')
    with Dripping("body") as server:
        env = {
            "SCRAPER_OAUTH_URL": server.url,
            "SCRAPER_REDDIT_URL": server.url,
            "praw_client_id": "drip-id",
            "praw_client_secret": "drip-secret",
            "praw_user_agent": "python:tests:0 (drip)",
        }
        started = time.monotonic()
        result = CliRunner().invoke(main, ["collect", str(folder), "--deadline", "0.5s"], env=env)
    assert time.monotonic() - started < 5
    assert result.exit_code == EXIT_TRY_LATER, result.stderr
    assert "deadline reached during a request" in result.stderr and "Traceback" not in result.stderr
    assert not (folder / "versions").exists()


def test_download_meets_its_deadline_against_a_header_drip(tmp_path: Path) -> None:
    with Dripping("headers") as server:
        started = time.monotonic()
        result = CliRunner().invoke(
            main, ["download", server.url, "--to", str(tmp_path / "copy"), "--deadline", "0.5s", "--stall", "5s"]
        )
        took = time.monotonic() - started
    assert took < 5, result.stderr
    assert result.exit_code == EXIT_TRY_LATER, result.stderr
    assert "outlasted its deadline" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "copy" / "versions").exists()


def test_a_tls_handshake_that_never_ends_is_cut_at_the_deadline() -> None:
    """A server that takes the TCP connection and then trickles (here: never sends) its TLS handshake:
    requests' timeouts are per read, so only the cutoff ends it. Its socket is known from the TCP
    connect, before the handshake (adversarial review 4: a trickled handshake ran 21 s past a 5 s deadline)."""
    import requests

    from scraper.cutoff import Cutoff, watched_adapter

    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(listener.accept()[0]), daemon=True).start()
    cutoff = Cutoff()
    session = requests.Session()
    session.mount("https://", watched_adapter(cutoff))
    started = time.monotonic()
    try:
        with cutoff.within(0.3), pytest.raises(requests.exceptions.RequestException):
            session.get(f"https://127.0.0.1:{listener.getsockname()[1]}/", timeout=20)
    finally:
        session.close()
        listener.close()
        for sock in held:
            sock.close()
    assert cutoff.fired
    assert time.monotonic() - started < 10  # the per-read timeout (20 s) never fired: the cut ended it
