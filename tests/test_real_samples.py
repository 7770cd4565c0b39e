"""Real recorded Reddit responses (../shared/reddit/samples) served verbatim to the client, PRAW's way.

A loopback server answers each request with the next recorded response: its status, its
headers (those Reddit sent; hop-by-hop ones aside) and its body (the recorded text, or the
recorded JSON document).  The client runs unchanged against it, with a simulated clock.
Skipped where ../shared is absent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scraper.cli import main
from scraper.collect.expand import Expansion
from scraper.errors import AuthError, ThreadUnavailable
from scraper.fake_reddit.clock import SimulatedClock
from scraper.sources.pacing import RetryPolicy
from scraper.sources.reddit import RedditClient, RedditSettings
from tests.conftest import load_sample, write_spec

SKIPPED_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding", "server"}


class Replay:
    """Serves recorded responses in order on 127.0.0.1 and keeps the requests it got."""

    def __init__(self, *names: str) -> None:
        self.answers = [load_sample(name)["response"] for name in names]
        self.requests: list[tuple[str, str]] = []
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                replay.requests.append((self.command, self.path))
                if not replay.answers:
                    self.send_error(599, "no recorded answer left")
                    return
                response = replay.answers.pop(0)
                body = (
                    json.dumps(response["json"]).encode()
                    if "json" in response
                    else str(response.get("text", "")).encode()
                )
                self.send_response(response["status"], response.get("reason"))
                for key, value in (response.get("headers") or {}).items():
                    if key.lower() not in SKIPPED_HEADERS:
                        self.send_header(key, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer  # noqa: N815 - http.server's names

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Replay:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def settings(self) -> RedditSettings:
        return RedditSettings(
            oauth_url=self.url,
            reddit_url=self.url,
            client_id="id",
            client_secret="secret",
            user_agent="python:tests:0 (replay)",
        )


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock()


TOKEN = "token_client_credentials_scoped_2021.json"


def test_the_real_429_waits_the_retry_after_it_gives(clock: SimulatedClock) -> None:
    recorded = load_sample("error_429_html_retry_after.json")["response"]
    assert recorded["headers"]["retry-after"] == "4" and recorded["text"].lstrip().startswith("<!doctype html>")
    expected = load_sample("info_single_comment_2020.json")["response"]["json"]
    with Replay(TOKEN, "error_429_html_retry_after.json", "info_single_comment_2020.json") as replay:
        client = RedditClient(replay.settings(), clock=clock, retry=RetryPolicy(base=1.0, cap=2.0))
        answer = client.info(["t1_fj7v2be"])
    assert answer == expected
    assert [path.split("?")[0].rstrip("/") for _, path in replay.requests] == [
        "/api/v1/access_token",
        "/api/info",
        "/api/info",
    ]
    assert client.faults["429"] == 1
    assert 4.0 in clock.sleeps and all(s < 4.0 for s in clock.sleeps if s != 4.0)


def test_the_real_404_reason_reaches_the_error_message(clock: SimulatedClock) -> None:
    with Replay(TOKEN, "error_404_json_reason.json") as replay:
        client = RedditClient(replay.settings(), clock=clock)
        with pytest.raises(ThreadUnavailable) as caught:
            client.comment_tree("abc123")
    assert str(caught.value) == "thread t3_abc123 is deleted or never existed (PAGE_NOT_CREATED) (HTTP 404)."


def test_a_rejected_token_is_an_auth_error(clock: SimulatedClock) -> None:
    with Replay("token_invalid_grant_200.json") as replay:
        client = RedditClient(replay.settings(), clock=clock)
        with pytest.raises(AuthError, match="invalid_grant"):
            client.info(["t1_x"])
    assert replay.requests == [("POST", "/api/v1/access_token")]


def test_a_rejected_token_exits_2_with_one_line(tmp_path: Path) -> None:
    folder = write_spec(tmp_path / "ds", '[dataset]\nname = "t"\n[discovery]\nseeds = ["abc123"]\n')
    with Replay("token_invalid_grant_200.json") as replay:
        env = {
            "SCRAPER_OAUTH_URL": replay.url,
            "SCRAPER_REDDIT_URL": replay.url,
            "praw_client_id": "id",
            "praw_client_secret": "secret",
            "praw_user_agent": "python:tests:0 (replay)",
        }
        result = CliRunner().invoke(main, ["collect", str(folder)], env=env)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert any("invalid_grant" in line for line in lines), result.stderr
    assert "Traceback" not in result.output and not (folder / "versions").exists()


def test_expansion_takes_the_real_morechildren_stub_of_a_comment_tree() -> None:
    sample = load_sample("comments_98vj9e_2020_context_sort_new_limit4.json")
    stub = next(
        t["data"]
        for t in sample["response"]["json"][1]["data"]["children"][0]["data"]["replies"]["data"]["children"]
        if t["kind"] == "more"
    )
    expansion = Expansion("98vj9e", "new")
    expansion.on_subtree("e4j4830", sample["response"]["json"])
    parent = stub["parent_id"][3:]
    assert parent in expansion.depth
    assert set(stub["children"]) == {c for c in expansion.pending if expansion.pending_parent.get(c) == parent}
    # Reddit's count (31) includes descendants: six ids stand for about five comments each
    assert all(expansion.per_id[c] == stub["count"] / len(stub["children"]) for c in stub["children"])
    assert all(expansion.pending[c] == expansion.depth[parent] + 1 for c in stub["children"])
    assert not expansion.done()


def test_expansion_takes_the_real_continue_stub_and_things_of_a_morechildren_answer(clock: SimulatedClock) -> None:
    sample = load_sample("morechildren_3hahrw_2017_deleted_continue.json")
    ids = sample["request"]["form"]["children"].split(",")
    with Replay(TOKEN, "morechildren_3hahrw_2017_deleted_continue.json") as replay:
        client = RedditClient(replay.settings(), clock=clock)
        things = client.more_children("t3_3hahrw", ids)
    assert things == sample["response"]["json"]["json"]["data"]["things"]
    expansion = Expansion("3hahrw")
    expansion.on_more(ids, things)
    comments = [t["data"] for t in things if t["kind"] == "t1"]
    assert {c["id"] for c in comments} <= set(expansion.depth)
    stub = next(t["data"] for t in things if t["kind"] == "more")
    assert (stub["id"], stub["count"], stub["children"]) == ("_", 0, [])  # Reddit's continue-this-thread
    assert expansion.continue_parents == [stub["parent_id"][3:]]


def test_expansion_takes_the_22_real_things_of_a_morechildren_answer(clock: SimulatedClock) -> None:
    sample = load_sample("morechildren_n49rw_2020_22_things.json")
    ids = sample["request"]["form"]["children"].split(",")
    link = sample["request"]["form"]["link_id"]
    with Replay(TOKEN, "morechildren_n49rw_2020_22_things.json", "morechildren_n49rw_2020_empty_things.json") as r:
        client = RedditClient(r.settings(), clock=clock)
        things = client.more_children(link, ids)
        empty = client.more_children(link, ids)
    assert len(things) == 22 and empty == []
    expansion = Expansion(link[3:])
    expansion.on_more(ids, things)
    assert {t["data"]["id"] for t in things} == set(expansion.depth)
    for thing in things:  # flat answer: each parent comes before its replies, depths follow parents
        data = thing["data"]
        parent = data["parent_id"]
        if parent.startswith("t1_") and parent[3:] in expansion.depth:
            assert expansion.depth[data["id"]] == expansion.depth[parent[3:]] + 1


@pytest.fixture(autouse=True)
def _samples_present(samples: Path) -> Iterator[None]:
    yield
