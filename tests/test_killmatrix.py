"""kill -9 at every kind of moment of collect and refresh: the rerun always equals an uninterrupted run.

Each case is a real process (forked from the test process, which has the tool
imported, so a case costs milliseconds, not an interpreter start) running ``collect`` or
``refresh`` against the fake Reddit on 127.0.0.1.  ``SCRAPER_KILL_AT``'s hook
(:mod:`scraper.store.killpoints`) makes it SIGKILL itself at the N-th durable
step: before a raw record (leaving half a gzip member) or after it, in
discovery, expansion or the refresh's checks, after normalization, after each
staged file, after staging the manifest, after placing the version, after the
index, after clearing the run state.  The points are listed by one traced
uninterrupted run and chosen from it deterministically, spread over the phases.
Then the run is repeated in this process and must end with exactly the versions,
tables and manifests (less times and run ids) that an uninterrupted run makes.
"""

from __future__ import annotations

import multiprocessing
import shutil
import warnings
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from scraper.collect.refresh import REFRESH_STATE, refresh
from scraper.collect.run import RUN_STATE, collect
from scraper.fake_reddit import FakeReddit, Forest
from scraper.fake_reddit.generate import generate_thread
from scraper.sources.pacing import RetryPolicy
from scraper.sources.reddit import RedditSettings
from scraper.store import killpoints
from scraper.store.snapshot import Dataset
from tests.conftest import latest_manifest, write_spec

QUICK = RetryPolicy(base=0.001, cap=0.002)
SPEC = """
[dataset]
name = "killed"
[discovery]
subreddits = ["MachineLearning"]
queries = ["quit machine learning"]
"""
PER_PHASE = {"discovery": 4, "check": 3, "expansion": 11}  # record points kept per phase (the rest: all)


def settings(url: str) -> RedditSettings:
    return RedditSettings(
        oauth_url=url,
        reddit_url=url,
        client_id="fake-client-id",
        client_secret="fake-client-secret",
        user_agent="python:tests:0 (kill matrix)",
    )


def run(kind: str, folder: Path, url: str) -> None:
    """One collect or refresh with the fake Reddit at ``url``."""
    if kind == "collect":
        collect(folder, settings(url), retry=QUICK)
    else:
        refresh(folder, settings(url), retry=QUICK)


def child(kind: str, folder: str, url: str, kill_at: int, trace: str | None) -> None:
    """The process under test: arm the kill hook, then run."""
    killpoints.reset(kill_at, trace)
    run(kind, Path(folder), url)


def forest() -> Forest:
    """Two threads; the first needs morechildren and continue-this-thread requests."""
    world = Forest(seed=1)
    for n, size in enumerate((160, 25)):
        submission, comments = generate_thread(f"k{n}", size, seed=n + 20, title=f"Why I quit machine learning ({n})")
        world.add_thread(submission, comments)
    return world


def change(world: Forest) -> None:
    """What Reddit shows at refresh time: a score, an edit, a deletion and a new comment in k0."""
    thread = world.threads["k0"]
    ids = sorted(thread.comments)
    thread.comments[ids[0]]["score"] += 7
    thread.comments[ids[1]].update(body="edited", edited=thread.comments[ids[1]]["created_utc"] + 50)
    thread.comments[ids[2]].update(author="[deleted]", body="[deleted]")
    new = dict(thread.comments[ids[3]], id="zzlate", name="t1_zzlate", parent_id=f"t1_{ids[3]}", body="late")
    thread.add_comment(new)
    thread.submission["num_comments"] = len(thread.comments)


def state(folder: Path) -> dict[str, Any]:
    """Versions, tables (less retrieval times) and the latest manifest (less times and run ids)."""
    dataset = Dataset(folder)
    tables = {}
    for version in dataset.versions():
        for stem in ("submissions", "comments"):
            table = pq.read_table(folder / "versions" / version / f"{stem}.parquet")
            tables[f"{version}/{stem}"] = table.drop_columns(["retrieved_at"])
    return {"versions": dataset.versions(), "tables": tables, "manifest": latest_manifest(folder)}


def rows(found: dict[str, Any]) -> dict[str, Any]:
    """``state`` with its tables as rows (for ``differences``)."""
    return {**found, "tables": {name: table.to_pylist() for name, table in found["tables"].items()}}


def same(got: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Equal versions, manifests and tables: names, types and values, row by row in order (Arrow's ``equals``)."""
    return (
        got["versions"] == expected["versions"]
        and got["manifest"] == expected["manifest"]
        and got["tables"].keys() == expected["tables"].keys()
        and all(table.equals(expected["tables"][name]) for name, table in got["tables"].items())
    )


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Where two JSON-like values differ, as paths (for a readable failure)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str) for d in differences(a.get(k), b.get(k), f"{where}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [f"{where}: {str(a)[:80]} != {str(b)[:80]}"]


def choose(points: list[str]) -> list[int]:
    """1-based kill points: every point outside raw records, and records spread evenly within each phase."""
    by_phase: dict[str, list[int]] = defaultdict(list)
    chosen = []
    for number, name in enumerate(points, 1):
        kind, _, phase = name.partition(":")
        if kind in ("record", "torn-record"):
            by_phase[phase].append(number)
        else:
            chosen.append(number)
    for phase, numbers in by_phase.items():
        keep = min(PER_PHASE[phase], len(numbers))
        chosen += [numbers[round(i * (len(numbers) - 1) / max(1, keep - 1))] for i in range(keep)]
    return sorted(set(chosen))


@pytest.fixture(scope="module")
def forkserver() -> Iterator[Any]:
    """Fork, not spawn: the child starts with the tool imported.  The only other thread is the idle
    fake server's, and the child touches none of its locks (Python 3.12+ warns about that in general).

    What a run imports on first use (pyarrow.dataset on reading a version, pandas on pyarrow's
    first conversion of a list) is imported here first, as the rerun in this process would, so
    that the children do not each import it again (0.4 s of CPU each)."""
    import pyarrow as pa
    import pyarrow.dataset

    pa.array(["warm"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield multiprocessing.get_context("fork")


def spawn(ctx: Any, kind: str, folder: Path, url: str, kill_at: int = 0, trace: Path | None = None) -> int:
    proc = ctx.Process(target=child, args=(kind, str(folder), url, kill_at, str(trace) if trace else None))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        proc.start()
    proc.join(60)
    assert proc.exitcode is not None, "the run under test hung"
    return int(proc.exitcode)


def traced(ctx: Any, kind: str, folder: Path, url: str, tmp: Path) -> list[str]:
    trace = tmp / f"{kind}.trace"
    assert spawn(ctx, kind, folder, url, trace=trace) == 0
    return trace.read_text().splitlines()


def reference_collect(forkserver: Any, folder: Path, url: str) -> tuple[Path, list[str]]:
    """A traced uninterrupted collect: the dataset folder and its kill points."""
    reference = write_spec(folder / "reference" / "ds", SPEC)
    points = traced(forkserver, "collect", reference, url, folder)
    phases = {p.partition(":")[2] or p for p in points}
    assert {"discovery", "expansion", "normalized", "staged-file", "placed", "state-cleared"} <= phases, phases
    return reference, points


# collect and refresh are each one reference run (a module fixture) and shards of its kill points, so
# that the suite's two workers share them out evenly; together they kill at 40 points or more.
MIN_COLLECT_CASES, MIN_REFRESH_CASES = 21, 19
SHARDS = 3


def shard(cases: list[int], number: int) -> list[int]:
    """Every SHARDS-th case from ``number``: each shard spans every phase."""
    return cases[number::SHARDS]


@pytest.fixture(scope="module")
def collect_matrix(forkserver: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The fake Reddit, a traced uninterrupted collect, its kill points and its state (read only)."""
    tmp = tmp_path_factory.mktemp("collect-matrix")
    with FakeReddit(forest(), quota=10**9, morechildren_max_ids=30) as server:
        reference, points = reference_collect(forkserver, tmp, server.url)
        yield {"url": server.url, "points": points, "expected": state(reference), "tmp": tmp}


@pytest.fixture(scope="module")
def refresh_matrix(forkserver: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A collected dataset ("base"), then Reddit changed and a traced uninterrupted refresh of it (read only)."""
    tmp = tmp_path_factory.mktemp("refresh-matrix")
    world = forest()
    with FakeReddit(world, quota=10**9, morechildren_max_ids=30) as server:
        reference, _ = reference_collect(forkserver, tmp, server.url)
        base = tmp / "base"
        shutil.copytree(reference.parent, base)
        # refresh of what was collected, after Reddit changed
        change(world)
        points = traced(forkserver, "refresh", reference, server.url, tmp)
        assert {p.partition(":")[2] for p in points} >= {"check", "expansion"}, points
        expected = state(reference)
        assert expected["versions"] == ["v0001", "v0002"]
        yield {"url": server.url, "points": points, "expected": expected, "base": base / "ds"}


def test_the_matrices_kill_at_40_points_or_more(collect_matrix: dict[str, Any], refresh_matrix: dict[str, Any]) -> None:
    assert len(choose(collect_matrix["points"])) >= MIN_COLLECT_CASES
    assert len(choose(refresh_matrix["points"])) >= MIN_REFRESH_CASES
    assert MIN_COLLECT_CASES + MIN_REFRESH_CASES >= 40
    cases = [shard(choose(m["points"]), n) for m in (collect_matrix, refresh_matrix) for n in range(SHARDS)]
    assert sorted(c for part in cases[:SHARDS] for c in part) == choose(collect_matrix["points"])
    assert sorted(c for part in cases[SHARDS:] for c in part) == choose(refresh_matrix["points"])


def kill_then_rerun(forkserver: Any, kind: str, folder: Path, matrix: dict[str, Any], number: int) -> None:
    """Kill a ``kind`` run in ``folder`` at point ``number``, rerun it here, and compare with the reference."""
    url, points, expected = matrix["url"], matrix["points"], matrix["expected"]
    assert spawn(forkserver, kind, folder, url, kill_at=number) == -9, points[number - 1]
    if points[number - 1] != "state-cleared":  # after that the run is over; a rerun is a new run
        run(kind, folder, url)
    got = state(folder)
    assert same(got, expected), (number, points[number - 1], differences(rows(got), rows(expected)))


@pytest.mark.parametrize("part", range(SHARDS))
def test_kill_9_during_collect_then_rerun_equals_uninterrupted(
    tmp_path: Path, forkserver: Any, collect_matrix: dict[str, Any], part: int
) -> None:
    cases = shard(choose(collect_matrix["points"]), part)
    assert cases
    for number in cases:
        folder = write_spec(tmp_path / f"collect-{number}" / "ds", SPEC)
        kill_then_rerun(forkserver, "collect", folder, collect_matrix, number)
        assert not (folder / RUN_STATE).exists() and len(list((folder / "raw").iterdir())) == 1
        assert not any((folder / ".staging").iterdir()) if (folder / ".staging").exists() else True


@pytest.mark.parametrize("part", range(SHARDS))
def test_kill_9_during_refresh_then_rerun_equals_uninterrupted(
    tmp_path: Path, forkserver: Any, refresh_matrix: dict[str, Any], part: int
) -> None:
    cases = shard(choose(refresh_matrix["points"]), part)
    assert cases
    for number in cases:
        folder = tmp_path / f"refresh-{number}" / "ds"
        shutil.copytree(refresh_matrix["base"], folder)
        kill_then_rerun(forkserver, "refresh", folder, refresh_matrix, number)
        assert not (folder / REFRESH_STATE).exists() and len(list((folder / "raw").iterdir())) == 2
