"""`collect`'s bounds (--max-requests, --deadline, --max-retries) hold for the Arctic Shift part of a run.

Real HTTP over 127.0.0.1 against the fake Arctic Shift (healthy, endless, or failing forever);
time is a fake clock that passes only when slept, so deadlines and backoffs cost no real waiting.
"""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from scraper.collect.run import collect
from scraper.errors import BudgetExhausted, TransientError
from scraper.fake_arctic_shift import FakeArcticShift, generate
from scraper.sources.pacing import RetryPolicy
from scraper.sources.reddit import RedditSettings
from scraper.store.raw import read_records
from tests import forked
from tests.conftest import write_spec
from tests.test_archive_collect import _spec


class Clock:
    """Time that passes only when slept."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


class Answering(FakeArcticShift):
    """A fake Arctic Shift that gives every request the same answer (a failure), forever; or, with ``body``
    :data:`CREEPING`, a page of one post a second after ``after``: a walk of 13 years that never seems to end."""

    status: int = 200
    body: Any = None
    cap: int = 300  # then a refusal: an unbounded client ends (and fails its test) instead of running forever

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append((path, params))
            if len(self.requests) > self.cap:
                return 400, {"data": None, "error": "the test's cap on requests: the client was not bounded"}
        if self.body is CREEPING:
            after = int(params.get("after", "0"))
            post = {"id": f"c{after:x}", "created_utc": after + 1, "subreddit": params.get("subreddit"), "title": "t"}
            return 200, {"data": [post]}
        return self.status, self.body


CREEPING = object()


def _answering(status: int, body: Any) -> Answering:
    fake = Answering(generate(posts=0))
    fake.status, fake.body = status, body
    return fake


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("praw_client_id", "praw_client_secret", "praw_site", "praw_username", "praw_password"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no praw.ini around


def _rows(folder: Path, stem: str) -> Any:
    return pq.read_table(folder / "versions" / "v0001" / f"{stem}.parquet").drop_columns(["retrieved_at"])


@pytest.mark.parametrize("budget", [5, 11])
def test_max_requests_bounds_the_archive_walk_and_reruns_complete_it(
    tmp_path: Path, no_credentials: None, budget: int
) -> None:
    """Each run asks Arctic Shift at most --max-requests times, stops with exit 75, keeps what it fetched;
    the reruns end in the version an unbounded run writes (rows and the archive's stats)."""
    store = generate(posts=14, seed=5, comments_per_post=(0, 4))
    with FakeArcticShift(store) as fake:
        whole = write_spec(tmp_path / "whole", _spec(fake.url))
        full = collect(whole, RedditSettings(), clock=Clock())
        needed = len(fake.requests)
        assert needed > budget  # the walk needs more than one run's budget
        cut = write_spec(tmp_path / "cut", _spec(fake.url))
        stops = 0
        while True:
            before = len(fake.requests)
            try:
                report = collect(cut, RedditSettings(), clock=Clock(), max_requests=budget)
            except BudgetExhausted as exc:
                stops += 1
                assert len(fake.requests) - before == budget
                assert f"request budget of {budget} reached in the Arctic Shift walk" in str(exc)
                assert "run the same command again" in str(exc)
                assert not (cut / "versions").exists() or not any((cut / "versions").iterdir())
                assert stops <= needed  # each run moves the walk on
                continue
            assert len(fake.requests) - before <= budget
            break
    assert stops >= (needed - 1) // budget
    assert report.version == full.version == "v0001"
    for stem in ("submissions", "comments"):
        assert _rows(cut, stem).equals(_rows(whole, stem))
    assert report.archive is not None and full.archive is not None
    assert report.archive["threads"] == full.archive["threads"]
    assert report.archive["pages"] == full.archive["pages"]
    assert sum(report.archive["requests"].values()) == len(fake.requests) - needed  # the whole run's, not the last


@pytest.mark.parametrize(
    ("limit", "value"), [("max_requests", 30), ("deadline_seconds", 3.0)], ids=["max-requests", "deadline"]
)
def test_a_walk_that_never_ends_is_stopped_by_the_bounds(
    tmp_path: Path, no_credentials: None, limit: str, value: float
) -> None:
    """Every page one post a second on: the walk creeps on a second a page and, in effect, never ends."""
    clock = Clock()
    with _answering(200, CREEPING) as fake:
        folder = write_spec(tmp_path / "ds", _spec(fake.url))
        with pytest.raises(BudgetExhausted, match="in the Arctic Shift walk"):
            collect(folder, RedditSettings(), clock=clock, **{limit: value})
        asked = len(fake.requests)
    assert 0 < asked <= 100
    if limit == "max_requests":
        assert asked == value
    else:
        assert clock.t <= value  # stopped before the deadline passed, not after
    records = [e for e in _events(folder) if e.get("event") == "archive-page"]
    assert len(records) == asked  # every page checkpointed: a rerun continues from the last
    assert not (folder / "versions").exists() or not any((folder / "versions").iterdir())


def test_a_long_backoff_that_would_cross_the_deadline_stops_at_once(tmp_path: Path, no_credentials: None) -> None:
    """Throttled (422) forever: the run stops when the next wait would pass the deadline, not after it."""
    clock = Clock()
    with _answering(422, {"data": None, "error": "Timeout. Maybe slow down a bit"}) as fake:
        folder = write_spec(tmp_path / "ds", _spec(fake.url))
        with pytest.raises(BudgetExhausted, match="deadline reached"):
            collect(folder, RedditSettings(), clock=clock, deadline_seconds=40.0)
    assert clock.t < 40.0
    assert 1 <= len(fake.requests) <= 3


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, {"data": None, "error": "boom"}), (422, {"data": None, "error": "Timeout. Maybe slow down a bit"})],
    ids=["5xx", "throttled"],
)
@pytest.mark.parametrize("retries", [0, 1, 3])
def test_max_retries_bounds_archive_retries_and_the_message_says_so(
    tmp_path: Path, no_credentials: None, status: int, body: Any, retries: int
) -> None:
    with _answering(status, body) as fake:
        folder = write_spec(tmp_path / "ds", _spec(fake.url))
        with pytest.raises(TransientError) as caught:
            collect(folder, RedditSettings(), clock=Clock(), retry=RetryPolicy(max_retries=retries))
    assert not isinstance(caught.value, BudgetExhausted)
    assert len(fake.requests) == retries + 1
    plural = "retry" if retries == 1 else "retries"
    assert f"{retries + 1} attempts: {retries} {plural})" in str(caught.value)


def test_cli_stops_the_archive_walk_with_one_line_and_exit_75(tmp_path: Path) -> None:
    """`collect --archive-only --max-requests 3` on an endless walk: a real process, one error line, no traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("praw_")}
    with _answering(200, CREEPING) as fake:
        folder = write_spec(tmp_path / "ds", _spec(fake.url))
        done = forked.run(
            forked.cli("collect", str(folder), "--archive-only", "--max-requests", "3", "--max-retries", "1"),
            env=env,
            cwd=tmp_path,
            timeout=60,
        )
        asked = len(fake.requests)
    assert done.returncode == 75, done.stderr
    assert asked == 3
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "request budget of 3 reached in the Arctic Shift walk" in errors[0]


class RawServer:
    """An HTTP server on 127.0.0.1 that answers every request with the same bytes (what json.dumps cannot make)."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.requests = 0

    def __enter__(self) -> RawServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(server.payload)))
                self.end_headers()
                self.wfile.write(server.payload)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
                return

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()


def test_a_deeply_nested_answer_is_a_bad_answer_not_a_damaged_dataset(tmp_path: Path, no_credentials: None) -> None:
    """F9: an answer nested past the parser's depth is retried like any unreadable answer, then exit 75;
    a rerun against a healthy server writes the version (the archived answer harms nothing)."""
    depth = 100_000
    with RawServer(b'{"data": ' + b"[" * depth + b"]" * depth + b"}") as deep:
        folder = write_spec(tmp_path / "ds", _spec(deep.url))
        with pytest.raises(TransientError) as caught:
            collect(folder, RedditSettings(), clock=Clock(), retry=RetryPolicy(max_retries=1))
    assert caught.value.exit_code == 75
    assert "JSON nested too deeply" in str(caught.value) and "run the same command" in str(caught.value)
    assert deep.requests == 2
    store = generate(posts=12, seed=2, comments_per_post=(0, 2))
    with FakeArcticShift(store) as fake:
        report = collect(folder, RedditSettings(), clock=Clock(), archive_url=fake.url)
    assert report.resumed and report.version == "v0001"


def _events(folder: Path) -> list[dict[str, Any]]:
    return [r for path in sorted((folder / "raw").glob("*.jsonl.gz")) for r in read_records(path) if "event" in r]
