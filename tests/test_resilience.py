"""Rate limits, faults, budgets and kills: the run completes, or stops cleanly and resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from scraper.collect.expand import Expansion, expand_thread
from scraper.collect.run import collect
from scraper.errors import BudgetExhausted, TransientError
from scraper.fake_reddit import FakeReddit, Forest
from scraper.fake_reddit.clock import SimulatedClock
from scraper.fake_reddit.generate import generate_thread
from scraper.fake_reddit.server import Faults
from scraper.sources.pacing import Pacer, RetryPolicy
from scraper.sources.reddit import RedditClient
from scraper.store.raw import read_records
from tests import forked
from tests.conftest import hold_answers_after, latest_manifest, settings_for, write_spec

ROOT = Path(__file__).resolve().parents[1]
QUICK = RetryPolicy(base=0.01, cap=0.02)
# Three threads; the first needs every kind of request: morechildren, /api/info for known leaves,
# continue-this-thread parents one by one and through a shared ancestor.
RESUME_SIZES = (1500, 250, 120)


def forest_of(*sizes: int, title: str = "Why I quit machine learning") -> Forest:
    forest = Forest(seed=1, vanish_rate=0.05)
    for n, size in enumerate(sizes):
        submission, comments = generate_thread(f"th{n}", size, seed=n + 10, title=f"{title} ({n})")
        forest.add_thread(submission, comments)
    return forest


SPEC = """
[dataset]
name = "resilience"
[discovery]
subreddits = ["MachineLearning"]
queries = ["quit machine learning"]
"""


# -- pacing ----------------------------------------------------------------------------
def test_pacer_spreads_the_remaining_requests_over_the_window() -> None:
    clock = SimulatedClock()
    pacer = Pacer(clock)
    pacer.update({"x-ratelimit-remaining": "599.0", "x-ratelimit-used": "1", "x-ratelimit-reset": "300"})
    pacer.wait()
    assert clock.sleeps == [pytest.approx(0.5)]
    pacer.update({"x-ratelimit-remaining": "0", "x-ratelimit-used": "600", "x-ratelimit-reset": "42"})
    pacer.wait()
    assert clock.sleeps[-1] == pytest.approx(42)


def test_pacer_assumes_the_documented_quota_without_headers() -> None:
    clock = SimulatedClock()
    pacer = Pacer(clock)
    pacer.update({})
    pacer.wait()
    assert clock.sleeps == [pytest.approx(0.6)]  # 100 requests a minute


def test_zero_429s_when_headers_are_honest() -> None:
    clock = SimulatedClock()
    forest = forest_of(1200)
    with FakeReddit(forest, quota=12, window=60, clock=clock.now) as server:
        client = RedditClient(settings_for(server), clock=clock, retry=QUICK)
        result = expand_thread(client, "th0")
        assert result.complete
        assert server.count_status(429) == 0
        assert client.request_count > 12  # more than one window's quota: the pacer waited for resets
        assert clock.t - 1000.0 >= 60


def test_paced_at_the_documented_quota_when_headers_are_missing() -> None:
    clock = SimulatedClock()
    with FakeReddit(forest_of(300), quota=10**9, honest_headers=False, clock=clock.now) as server:
        client = RedditClient(settings_for(server), clock=clock, retry=QUICK)
        expand_thread(client, "th0")
        assert client.request_count >= 3
        assert all(s == pytest.approx(0.6) for s in clock.sleeps)
        assert len(clock.sleeps) == client.request_count - 1


@pytest.mark.parametrize(("retry_after", "expected"), [("7", 7.0), (None, 60.0)])
def test_429_waits_for_retry_after_or_a_minute(retry_after: str | None, expected: float) -> None:
    clock = SimulatedClock()
    faults = Faults(burst_429=(0, 2), retry_after=retry_after)
    with FakeReddit(forest_of(30), quota=10**9, faults=faults, clock=clock.now) as server:
        client = RedditClient(settings_for(server), clock=clock, retry=QUICK)
        result = expand_thread(client, "th0")
        assert result.complete and server.count_status(429) == 2, (client.faults, server.log)
        waits = [s for s in clock.sleeps if abs(s - expected) < 1e-6]
        assert len(waits) == 2 and client.faults["429"] == 2, (client.faults, clock.sleeps)


# -- faults ----------------------------------------------------------------------------
def held(faults: Faults | None) -> tuple[set[str], int, int]:
    """Expand one 1,500-comment thread in simulated time: comments held, requests sent, faults injected."""
    forest, clock = forest_of(1500), SimulatedClock()
    with FakeReddit(forest, quota=10**9, faults=faults, clock=clock.now) as server:
        client = RedditClient(settings_for(server), clock=clock)
        expansion = Expansion("th0")
        expand_thread(client, "th0", expansion=expansion)
        injected = sum(1 for entry in server.log if entry.fault and "access_token" not in entry.path)
        return set(expansion.depth) & forest.visible_ids("th0"), client.request_count, injected


@pytest.mark.parametrize(
    "faults",
    [
        Faults(rate=0.10, seed=3, burst_429=(4, 3)),
        Faults(rate=0.10, seed=4, throttle_429=(4, 30)),
        Faults(rate=0.10, pattern="even", throttle_429=(10, 30)),
        Faults(rate=0.10, seed=6, pattern="blocks", throttle_429=(2, 30)),
        Faults(rate=0.10, seed=5, kinds=("cut",)),
        Faults(rate=0.10, pattern="even", kinds=("shape",)),
    ],
    ids=["random+forced-burst", "random+throttle", "even+throttle", "blocks+throttle", "cuts", "error-envelopes"],
)
def test_faults_give_the_identical_comment_set_and_cost_only_the_faulted_requests(faults: Faults) -> None:
    clean, clean_requests, none = held(None)
    faulty, faulty_requests, injected = held(faults)
    assert none == 0 and len(clean) > 1400
    assert faulty == clean
    # Every extra request is the retry of an answer that failed: no retry is wasted, no batch re-planned.
    assert injected > 0 and faulty_requests - clean_requests == injected


def test_a_throttle_burst_costs_one_429_when_retry_after_is_honoured() -> None:
    clock = SimulatedClock()
    with FakeReddit(forest_of(300), quota=10**9, faults=Faults(throttle_429=(2, 45)), clock=clock.now) as server:
        client = RedditClient(settings_for(server), clock=clock, retry=QUICK)
        result = expand_thread(client, "th0")
        assert result.complete
        assert server.count_status(429) == 1 and client.faults["429"] == 1
        assert any(s == pytest.approx(45) for s in clock.sleeps), clock.sleeps


def test_throttle_retry_after_counts_down_and_even_faults_are_exact() -> None:
    throttle = Faults(throttle_429=(1, 10))
    assert throttle.draw(0.0) == (None, None)
    assert throttle.draw(0.0) == ("429", "10")
    assert throttle.draw(4.5) == ("429", "6")  # rounded up: retrying at 6 s lands after the end
    assert throttle.draw(10.0) == (None, None)
    even = Faults(rate=0.10, pattern="even", kinds=("500", "cut"))
    draws = [even.draw()[0] for _ in range(100)]
    assert [d for d in draws if d] == ["500", "cut"] * 5
    assert draws.index("500") == 9  # the tenth answer is the first to fail
    blocks = Faults(rate=0.10, pattern="blocks", seed=7)
    failed = [n for n in range(1000) if blocks.draw()[0]]
    assert len(failed) == 100 and all(n // 10 == k for k, n in enumerate(failed))  # one in each ten
    assert len({n % 10 for n in failed}) > 5  # at random places
    with pytest.raises(ValueError, match="unknown fault pattern"):
        Faults(pattern="sometimes")


def test_slow_replies_time_out_and_are_retried() -> None:
    faults = Faults(rate=0.5, kinds=("slow",), slow_seconds=0.8, seed=1)  # seed 1: the first answer is slow
    with FakeReddit(forest_of(20), quota=10**9, faults=faults) as server:
        client = RedditClient(settings_for(server, timeout=0.4), retry=QUICK)
        result = expand_thread(client, "th0")
        assert result.complete and client.faults["ReadTimeout"] >= 1


# -- budgets, deadlines, kills -----------------------------------------------------------
def collected_rows(root: Path, *sizes: int) -> dict[str, list[dict[str, Any]]]:
    """The tables (less ``retrieved_at``) of an uninterrupted collect of :func:`forest_of` ``sizes`` in ``root``."""
    folder = write_spec(root / "ds", SPEC)
    with FakeReddit(forest_of(*sizes), quota=10**9) as server:
        collect(folder, settings_for(server), retry=QUICK)
    return table_rows(folder)


def table_rows(folder: Path) -> dict[str, list[dict[str, Any]]]:
    version = sorted((folder / "versions").iterdir())[-1]
    out = {}
    for stem in ("submissions", "comments"):
        rows = pq.read_table(version / f"{stem}.parquet").to_pylist()
        for row in rows:
            row.pop("retrieved_at")
        out[stem] = rows
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """One uninterrupted run, shared by the resume tests of this module (it is only read)."""
    folder = write_spec(tmp_path_factory.mktemp("reference") / "resilience", SPEC)
    with FakeReddit(forest_of(*RESUME_SIZES), quota=10**9) as server:
        report = collect(folder, settings_for(server), retry=QUICK)
    first = next(t for t in report.threads if t.link == "th0")
    assert first.complete and {"comments", "morechildren", "info"} <= set(first.requests)
    return {**table_rows(folder), "manifest": latest_manifest(folder)}


def test_budget_stops_cleanly_and_the_rerun_completes_the_same_snapshot(
    tmp_path: Path, reference: dict[str, list[dict[str, Any]]]
) -> None:
    folder = write_spec(tmp_path / "budget" / "resilience", SPEC)
    with FakeReddit(forest_of(*RESUME_SIZES), quota=10**9) as server:
        stops = 0
        while True:
            try:
                collect(folder, settings_for(server), retry=QUICK, max_requests=6)
                break
            except BudgetExhausted as exc:
                stops += 1
                assert "run again" in str(exc)
                assert not (folder / "versions").exists()
        assert stops >= 3
    assert {**table_rows(folder), "manifest": latest_manifest(folder)} == reference


def test_deadline_stops_cleanly(tmp_path: Path) -> None:
    folder = write_spec(tmp_path / "deadline", SPEC)
    with FakeReddit(forest_of(400), quota=10**9) as server, pytest.raises(BudgetExhausted, match="deadline"):
        collect(folder, settings_for(server), retry=QUICK, deadline_seconds=0)


KILLED = """
import sys
from pathlib import Path
from scraper.collect.run import collect
from scraper.sources.reddit import RedditSettings
from scraper.sources.pacing import RetryPolicy
url = sys.argv[2]
collect(Path(sys.argv[1]), RedditSettings(oauth_url=url, reddit_url=url, client_id="fake-client-id",
        client_secret="fake-client-secret", user_agent="python:tests:0 (killed)"),
        retry=RetryPolicy(base=0.01, cap=0.02))
"""


# One kill of an exec'ed interpreter mid-expansion; tests/test_killmatrix.py kills forked
# processes at 40+ chosen points of every phase.
@pytest.mark.parametrize("kill_after", [25])
def test_sigkill_at_any_point_then_rerun_equals_an_uninterrupted_run(
    tmp_path: Path, reference: dict[str, list[dict[str, Any]]], kill_after: int
) -> None:
    folder = write_spec(tmp_path / "killed" / "resilience", SPEC)
    forest = forest_of(*RESUME_SIZES)
    with FakeReddit(forest, quota=10**9) as server:
        answer = server.answer
        killed = hold_answers_after(server, kill_after)  # the kill lands mid-expansion
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen([sys.executable, "-c", KILLED, str(folder), server.url], env=env)
        deadline = time.monotonic() + 60
        while len(server.log) < kill_after and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed.set()
        server.answer = answer  # type: ignore[method-assign]
        assert not (folder / "versions").exists()
        archived = list(read_records(next((folder / "raw").glob("*.jsonl.gz"))))
        done_before = {r["link"] for r in archived if r.get("event") == "thread"}
        server.log.clear()
        report = collect(folder, settings_for(server), retry=QUICK)
        assert report.resumed
        for link in done_before:  # finished threads are not fetched again
            assert server.count(f"/comments/{link}") == 0
    assert {**table_rows(folder), "manifest": latest_manifest(folder)} == reference
    assert len(list((folder / "raw").glob("*.jsonl.gz"))) == 1


def test_413_on_long_id_lists_is_split_against_the_server() -> None:
    forest = Forest(seed=1)  # nothing vanishes: what is held depends on the batches alone
    forest.add_thread(*generate_thread("th0", 1500, seed=10, title="Why I quit machine learning"))

    def expand(max_ids: int | None) -> tuple[set[str], list[Any]]:
        with FakeReddit(forest, quota=10**9, morechildren_max_ids=max_ids) as server:
            client = RedditClient(settings_for(server), retry=QUICK)
            expansion = Expansion("th0")
            assert expand_thread(client, "th0", expansion=expansion).complete
            return set(expansion.depth), list(server.log)

    held, log = expand(30)
    reference, _ = expand(None)
    # every visible comment, as with a server taking any length; beyond them only deleted leaves
    # (which ones Reddit announces depends on the batches, WIRE-FORMAT §4b)
    visible, comments = forest.visible_ids("th0"), forest.threads["th0"].comments
    assert held & visible == reference & visible == visible and len(visible) > 1400
    assert all(comments[c]["body"] == "[deleted]" for c in (held | reference) - visible)
    more = [(entry.status, entry.form["children"].split(",")) for entry in log if "morechildren" in entry.path]
    refused = [ids for status, ids in more if status == 413]
    answered = [ids for status, ids in more if status == 200]
    assert refused and all(len(ids) > 30 for ids in refused)
    assert all(len(ids) <= 30 for ids in answered)
    assert {status for status, _ in more} == {200, 413}
    # every refused id was asked again in the smaller batches that followed
    for number, (status, ids) in enumerate(more):
        if status == 413:
            later = {i for s, batch in more[number + 1 :] if s == 200 for i in batch}
            assert set(ids) <= later


LOCKED = """
import sys
from pathlib import Path
from scraper.cli import run
sys.argv = ["scraper", "collect", "--dataset", sys.argv[1], "--summary", sys.argv[2]] + sys.argv[3:]
run()
"""


def test_two_collect_processes_at_once_exactly_one_collects(tmp_path: Path) -> None:
    folder = write_spec(tmp_path / "locked", SPEC)
    summaries_at = [tmp_path / f"s{i}.json" for i in range(2)]
    with FakeReddit(forest_of(200), quota=10**9) as server:
        answer = server.answer

        def held(*args: Any) -> Any:
            """The lock's holder gets no answer until the other process has given up (its summary is
            written): the two runs overlap however the machine schedules their starts (slow answers
            raced the second start on a busy machine)."""
            deadline = time.monotonic() + 60
            while not any(path.exists() for path in summaries_at) and time.monotonic() < deadline:
                time.sleep(0.01)
            return answer(*args)

        server.answer = held  # type: ignore[method-assign]
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "SCRAPER_OAUTH_URL": server.url,
            "SCRAPER_REDDIT_URL": server.url,
            "praw_client_id": "fake-client-id",
            "praw_client_secret": "fake-client-secret",
            "praw_user_agent": "python:tests:0 (lock)",
        }
        # two real processes, forked from this one (tests/forked.py): the lock is between processes
        procs = [
            forked.Forked(forked.script(LOCKED, str(folder), str(summaries_at[i])), env=env, stderr=forked.PIPE)
            for i in range(2)
        ]
        outputs = [p.communicate(timeout=120) for p in procs]
        codes = sorted(p.returncode for p in procs)
    assert codes == [0, 73], outputs
    loser = next(i for i, p in enumerate(procs) if p.returncode == 73)
    assert "another run is writing" in outputs[loser][1]
    assert [p.name for p in (folder / "versions").iterdir()] == ["v0001"]
    import json

    summaries = [json.loads((tmp_path / f"s{i}.json").read_text()) for i in range(2)]
    assert sorted(s["exit_code"] for s in summaries) == [0, 73]
    winner = next(s for s in summaries if s["exit_code"] == 0)
    assert winner["version"] == "v0001" and winner["comments_held"] > 150 and winner["requests"]


def test_wait_queues_behind_the_lock_holder(tmp_path: Path) -> None:

    from scraper.errors import Locked
    from scraper.store.lock import dataset_lock

    folder = tmp_path / "q"
    order: list[str] = []
    acquired = threading.Event()

    def waiter() -> None:
        with dataset_lock(folder, wait=True):
            order.append("waiter")
            acquired.set()

    with dataset_lock(folder):
        with pytest.raises(Locked), dataset_lock(folder):  # without --wait: at once
            pass
        thread = threading.Thread(target=waiter)
        thread.start()
        assert not acquired.wait(0.2)  # queued behind the holder
        order.append("holder done")
    assert acquired.wait(10)
    thread.join(10)
    assert order == ["holder done", "waiter"]


def test_collect_wait_runs_after_the_holder_instead_of_exiting_73(tmp_path: Path, fake_reddit: FakeReddit) -> None:

    from click.testing import CliRunner

    from scraper.cli import main
    from scraper.store.lock import dataset_lock

    folder = write_spec(tmp_path / "w", SPEC)
    env = {
        "SCRAPER_OAUTH_URL": fake_reddit.url,
        "SCRAPER_REDDIT_URL": fake_reddit.url,
        "praw_client_id": "fake-client-id",
        "praw_client_secret": "fake-client-secret",
        "praw_user_agent": "python:tests:0 (wait)",
    }
    holding, release = threading.Event(), threading.Event()

    def holder() -> None:
        with dataset_lock(folder):
            holding.set()
            release.wait(10)
            assert fake_reddit.log == []  # the waiting run asked nothing while queued

    thread = threading.Thread(target=holder)
    thread.start()
    assert holding.wait(10)
    threading.Timer(0.2, release.set).start()
    result = CliRunner().invoke(main, ["collect", str(folder), "--wait"], env=env)
    thread.join(10)
    assert result.exit_code == 0, result.output
    assert [p.name for p in (folder / "versions").iterdir()] == ["v0001"]
    assert release.is_set()


def test_json_lines_log(tmp_path: Path, fake_reddit: FakeReddit) -> None:
    import json

    from click.testing import CliRunner

    from scraper.cli import main

    folder = write_spec(tmp_path / "logs", SPEC.replace('"quit machine learning"', '"quit machine learning"'))
    log = tmp_path / "run.jsonl"
    env = {
        "SCRAPER_OAUTH_URL": fake_reddit.url,
        "SCRAPER_REDDIT_URL": fake_reddit.url,
        "praw_client_id": "fake-client-id",
        "praw_client_secret": "fake-client-secret",
        "praw_user_agent": "python:tests:0 (logs)",
    }
    spec = folder / "dataset.toml"
    spec.write_text(spec.read_text().replace('["MachineLearning"]', '["MachineLearning", "nosuchsub"]'))
    result = CliRunner().invoke(main, ["--log-json", str(log), "collect", "--dataset", str(folder)], env=env)
    assert result.exit_code == 1
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(line["level"] == "WARNING" and "r/nosuchsub" in line["message"] for line in lines)
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)


def test_answers_of_another_shape_every_time_stop_the_run_to_try_again_later_and_write_nothing(tmp_path: Path) -> None:
    """A 200 of valid JSON that is not the endpoint's shape (Reddit's error envelope) is Reddit's fault, as a
    5xx is: retried, then exit 75 (try again later) with no version, never a thread given up with exit 1 and
    a partial version written (adversarial review 9, F2)."""
    folder = write_spec(tmp_path / "ds", SPEC)
    faults = Faults(rate=1.0, kinds=("shape",))
    with (
        FakeReddit(forest_of(200), quota=10**9, faults=faults) as server,
        pytest.raises(TransientError, match="another shape") as raised,
    ):
        collect(folder, settings_for(server), retry=QUICK)
    assert "RATELIMIT" in str(raised.value)  # the answer's own errors are named
    assert not (folder / "versions").exists() or not any((folder / "versions").iterdir())
