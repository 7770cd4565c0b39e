"""Reddit's rate limits against ``--deadline``, odd header values, and a throttled token endpoint (adv3 F2, F3, F9).

Real HTTP over 127.0.0.1 against the fake Reddit, whose answers are altered on the way out; time is a
simulated clock shared with the server, so the waits asked for (30 s, a minute) cost nothing.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.collect.run import collect
from scraper.errors import BudgetExhausted, TransientError
from scraper.fake_reddit import FakeReddit
from scraper.fake_reddit.clock import SimulatedClock
from scraper.fake_reddit.server import Faults
from scraper.sources.pacing import WINDOW_SECONDS, Pacer, RetryPolicy, header_number, retry_after_seconds
from scraper.sources.reddit import RedditClient, _plain_retry_after, _Unpaced
from tests.conftest import examples, latest_manifest, settings_for, write_spec
from tests.test_resilience import QUICK, forest_of, table_rows

SEEDS = """
[dataset]
name = "limits"
[discovery]
seeds = ["th0", "th1"]
"""
Answer = tuple[int, dict[str, str], bytes, str | None]
Alter = Callable[[int, str, Answer], Answer]  # (request number, path, answer) -> answer


def _altered(server: FakeReddit, alter: Alter) -> list[int]:
    """Pass every answer of ``server`` through ``alter``; returns the request counter."""
    answer, seen = server.answer, [0]

    def altered(method: str, path: str, *args: Any) -> Answer:
        seen[0] += 1
        return alter(seen[0], path, answer(method, path, *args))

    server.answer = altered  # type: ignore[method-assign]
    return seen


def _server(clock: SimulatedClock, faults: Faults | None = None) -> FakeReddit:
    return FakeReddit(forest_of(60, 12), quota=10**9, faults=faults, clock=clock.now)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = write_spec(tmp_path_factory.mktemp("whole") / "limits", SEEDS)
    clock = SimulatedClock()
    with _server(clock) as server:
        report = collect(folder, settings_for(server), retry=QUICK, clock=clock)
    assert {t.link for t in report.threads} == {"th0", "th1"} and not report.problems
    return {**table_rows(folder), "manifest": latest_manifest(folder)}


def _spent_window(number: int, path: str, answer: Answer) -> Answer:
    """The first tree answer says the window is spent for 30 s (``x-ratelimit-remaining: 0``)."""
    status, headers, body, fault = answer
    if path.startswith("/comments/th0") and status == 200:
        headers = {**headers, "x-ratelimit-remaining": "0.0", "x-ratelimit-used": "600", "x-ratelimit-reset": "30"}
    return status, headers, body, fault


# -- F2: a wait that would cross the deadline stops the run before it ------------------------------
def _throttled_server(kind: str, clock: SimulatedClock) -> FakeReddit:
    """Its first tree answer is a 429 asking for 30 s, or a 200 saying the window is spent for 30 s."""
    server = _server(clock, Faults(burst_429=(1, 1), retry_after="30") if kind.startswith("429") else None)
    if not kind.startswith("429"):
        _altered(server, _spent_window)
    return server


@pytest.mark.parametrize("kind", ["429 retry-after 30", "remaining 0, reset 30"])
def test_a_wait_past_the_deadline_stops_before_it_and_the_rerun_completes(tmp_path: Path, kind: str) -> None:
    whole = write_spec(tmp_path / "whole" / "limits", SEEDS)
    clock = SimulatedClock()
    with _throttled_server(kind, clock) as server:
        collect(whole, settings_for(server), retry=QUICK, clock=clock)
    assert any(s == pytest.approx(30, abs=1) for s in clock.sleeps)  # uninterrupted, the wait is waited
    folder = write_spec(tmp_path / "cut" / "limits", SEEDS)
    clock = SimulatedClock()
    with _throttled_server(kind, clock) as server:
        start = clock.now()
        with pytest.raises(BudgetExhausted, match="deadline reached") as stopped:
            collect(folder, settings_for(server), retry=QUICK, clock=clock, deadline_seconds=10)
        assert "kept" in str(stopped.value) and stopped.value.exit_code == 75
        assert clock.now() - start < 10  # the 30 s wait was not slept
        assert not (folder / "versions").exists()
        fetched = len(server.log)
        report = collect(folder, settings_for(server), retry=QUICK, clock=clock)  # the same command, again
    assert fetched >= 2 and report.version == "v0001"
    assert _state(folder) == _state(whole)


def _state(folder: Path) -> Any:
    """The version's rows and manifest, less times, run ids and the fake server's port."""
    text = json.dumps({**table_rows(folder), "manifest": latest_manifest(folder)}, sort_keys=True, default=str)
    return json.loads(re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text))


def test_a_wait_inside_the_deadline_is_waited() -> None:
    clock = SimulatedClock()
    with _server(clock, Faults(burst_429=(1, 1), retry_after="30")) as server:
        client = RedditClient(settings_for(server), clock=clock, retry=QUICK, deadline=clock.now() + 100)
        client.comment_tree("th0")
        client.comment_tree("th1")
    assert 30.0 in clock.sleeps and client.faults["429"] == 1


# -- F9: the token endpoint's 429 is a throttle, not a refusal ---------------------------------------
TOKEN_429 = (
    429,
    {"content-type": "application/json; charset=UTF-8"},
    b'{"message": "Too Many Requests", "error": 429}',
)


def _token_throttled(times: int) -> Alter:
    """The token endpoint answers its first ``times`` requests as WIRE-FORMAT §12 records (JSON, no Retry-After)."""
    count = [0]

    def alter(number: int, path: str, answer: Answer) -> Answer:
        if path.rstrip("/").endswith("/access_token") and count[0] < times:
            count[0] += 1
            return (*TOKEN_429, None)
        return answer

    return alter


def test_a_429_from_the_token_endpoint_is_waited_for_and_no_thread_is_dropped(
    tmp_path: Path, uninterrupted: dict[str, Any]
) -> None:
    folder = write_spec(tmp_path / "limits", SEEDS)
    clock = SimulatedClock()
    with _server(clock) as server:
        _altered(server, _token_throttled(2))
        report = collect(folder, settings_for(server), retry=QUICK, clock=clock)
    assert not report.problems and {t.link for t in report.threads} == {"th0", "th1"}
    assert clock.sleeps.count(RetryPolicy().default_retry_after) == 2  # a minute each: no Retry-After
    assert {**table_rows(folder), "manifest": latest_manifest(folder)} == uninterrupted


def test_a_throttled_token_endpoint_stops_at_the_deadline_or_after_the_waits(tmp_path: Path) -> None:
    clock = SimulatedClock()
    with _server(clock) as server:
        _altered(server, _token_throttled(10**6))
        folder = write_spec(tmp_path / "deadline" / "limits", SEEDS)
        with pytest.raises(BudgetExhausted, match="deadline reached"):
            collect(folder, settings_for(server), retry=QUICK, clock=clock, deadline_seconds=30)
        folder = write_spec(tmp_path / "waits" / "limits", SEEDS)
        with pytest.raises(TransientError, match="still rate-limited after 8 waits") as stopped:
            collect(folder, settings_for(server), retry=QUICK, clock=clock)
    assert stopped.value.exit_code == 75 and not (folder / "versions").exists()


# -- F3: odd header values are read leniently ----------------------------------------------------------
ODD = [
    {"x-ratelimit-reset": "300.0"},
    {"x-ratelimit-used": "100.0"},
    {"x-ratelimit-remaining": "inf"},
    {"x-ratelimit-remaining": "nan"},
    {"x-ratelimit-reset": "nan"},
    {"x-ratelimit-reset": "1e12"},
    {"x-ratelimit-used": "-inf", "x-ratelimit-reset": "-5"},
]
ODD_429 = ["1e12", "inf", "nan", "-3", "soon", "Wed, 21 Oct 2026 07:28:00 GMT", ""]


@pytest.mark.parametrize("odd", ODD, ids=lambda d: ",".join(f"{k[12:]}={v}" for k, v in d.items()))
def test_odd_rate_limit_headers_pace_instead_of_crashing(odd: dict[str, str]) -> None:
    clock = SimulatedClock()

    def alter(number: int, path: str, answer: Answer) -> Answer:
        status, headers, body, fault = answer
        return status, {**headers, **odd}, body, fault

    with _server(clock) as server:
        _altered(server, alter)
        client = RedditClient(settings_for(server), clock=clock, retry=QUICK)
        assert client.comment_tree("th0")[0]["data"]["children"]
        client.comment_tree("th1")
    assert all(0 <= s <= WINDOW_SECONDS for s in clock.sleeps), clock.sleeps


@pytest.mark.parametrize("retry_after", ODD_429)
def test_odd_retry_after_values_wait_a_bounded_time(retry_after: str) -> None:
    clock = SimulatedClock()
    with _server(clock, Faults(burst_429=(1, 1), retry_after=retry_after)) as server:
        client = RedditClient(settings_for(server), clock=clock, retry=QUICK)
        client.comment_tree("th0")
        client.comment_tree("th1")
    assert client.faults["429"] == 1
    assert all(0 <= s <= WINDOW_SECONDS for s in clock.sleeps), clock.sleeps


HEADER_TEXT = st.one_of(
    st.text(max_size=40),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.datetimes(timezones=st.just(UTC)).map(lambda d: email.utils.format_datetime(d, True)),
)


@settings(max_examples=examples(60), deadline=None)
@given(remaining=st.none() | HEADER_TEXT, reset=st.none() | HEADER_TEXT, used=st.none() | HEADER_TEXT)
def test_any_rate_limit_header_values_give_a_wait_within_the_window(
    remaining: str | None, reset: str | None, used: str | None
) -> None:
    headers = {
        name: value
        for name, value in (
            ("x-ratelimit-remaining", remaining),
            ("x-ratelimit-reset", reset),
            ("x-ratelimit-used", used),
        )
        if value is not None
    }
    clock = SimulatedClock()
    pacer = Pacer(clock)
    pacer.update(headers)
    assert 0 <= pacer.next_at - clock.now() <= WINDOW_SECONDS
    _Unpaced(window_size=WINDOW_SECONDS).update(response_headers=headers)  # prawcore's own reading is off
    wait = RetryPolicy().retry_after(remaining, reset, wall_now=1.8e9)
    assert 1.0 <= wait <= WINDOW_SECONDS


@settings(max_examples=examples(60), deadline=None)
@given(value=HEADER_TEXT)
def test_any_retry_after_reaches_prawcore_as_seconds_or_not_at_all(value: str) -> None:
    response = requests.Response()
    response.status_code = 429
    response.headers["retry-after"] = value
    _plain_retry_after(response)
    kept = response.headers.get("retry-after")
    if kept is not None:
        assert math.isfinite(float(kept))  # what prawcore's TooManyRequests does with it
        assert header_number(kept) is not None


@settings(max_examples=examples(40), deadline=None)
@given(when=st.integers(min_value=0, max_value=4_000_000_000), ahead=st.integers(min_value=-(10**6), max_value=10**6))
def test_an_http_date_retry_after_counts_from_now(when: int, ahead: int) -> None:
    date = email.utils.formatdate(when + ahead, usegmt=True)
    assert retry_after_seconds(date, wall_now=float(when)) == pytest.approx(ahead)
    assert RetryPolicy().retry_after(date, None, wall_now=float(when)) == min(max(1.0, ahead), WINDOW_SECONDS)


def test_plain_retry_after_keeps_numbers_as_sent() -> None:
    for value, kept in (("30", "30"), ("1.5", "1.5"), ("inf", None), ("x", None)):
        response = requests.Response()
        response.headers["retry-after"] = value
        _plain_retry_after(response)
        assert response.headers.get("retry-after") == kept
    assert json.loads(TOKEN_429[2])["error"] == 429
