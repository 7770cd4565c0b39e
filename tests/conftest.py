"""Shared fixtures: the fake Reddit on 127.0.0.1, dataset folders, shared samples, cassettes."""

from __future__ import annotations

import gc
import json
import os
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# trio (installed with selenium) registers a hypothesis plugin that imports all of trio, 0.3-0.5 s of
# CPU in every process that imports hypothesis (each xdist worker); no test uses trio. (anyio's pytest
# plugin, which imports trio too, is off in pyproject.toml.)
os.environ.setdefault("HYPOTHESIS_NO_PLUGINS", "1")

# The test processes keep bytecode caches even where PYTHONDONTWRITEBYTECODE is set (it is on the
# development machine): without them every xdist worker parses, rewrites and compiles every test
# module, and every process compiles the tool's modules whose cache is stale, each run (about 1.3 s
# of CPU a worker). Only __pycache__ folders (gitignored) are written; the processes the tests start
# keep the environment as it is.
sys.dont_write_bytecode = False

from hypothesis import settings  # noqa: E402 - after the two settings above

from scraper.fake_reddit import FakeReddit, Forest  # noqa: E402
from scraper.sources.reddit import RedditSettings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SAMPLES = SHARED / "reddit" / "samples"
CASSETTES = Path(__file__).resolve().parent / "cassettes"

os.environ.setdefault("praw_check_for_updates", "False")

# CI runs every property test on the same examples (derived from the test's name), so a submission's CI
# result does not depend on the draw; local runs keep exploring and keep what they find in .hypothesis/.
# HYPOTHESIS_PROFILE=explore on CI restores random exploration.
#
# Each property test names its number of examples with examples(n), chosen so that the everyday run
# spends about a second of CPU on it (docs/RELIABILITY.md, "Suite time"). HYPOTHESIS_PROFILE=thorough
# draws THOROUGH times as many of every test (and of tests that name none), exploring at random and
# keeping what fails in .hypothesis/: the longer run, for a nightly job or before a release.
THOROUGH = 10
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "explore")
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore")
settings.register_profile("thorough", max_examples=THOROUGH * 100, print_blob=True)  # 100: hypothesis's default
settings.load_profile(PROFILE)


def examples(n: int) -> int:
    """A property test's number of examples: ``n`` in the everyday run, THOROUGH times ``n`` in the thorough one."""
    return n * THOROUGH if PROFILE == "thorough" else n


MEMORY = Path("/dev/shm")


def pytest_configure(config: pytest.Config) -> None:
    """Temporary folders in memory where the machine has /dev/shm (unless TMPDIR or --basetemp says where).

    The store fsyncs every raw record and every file it places; on a disk that is seconds of the
    suite and proves nothing a test can see (a kill -9 does not lose the page cache).  The code
    paths are the same: only the fsyncs return at once.  xdist's workers inherit the base folder.
    """
    if config.option.basetemp is None and "TMPDIR" not in os.environ and os.access(MEMORY, os.W_OK):
        tempfile.tempdir = str(MEMORY)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Move what collection made (modules, test functions, plugins: most of the heap) out of the collector's sight.

    Python's full collections walk every tracked object; after collection that is some 150,000
    objects that live until the end, walked again by each full collection during the tests.
    ``gc.freeze`` leaves them out of it; the tests' own garbage is collected as before.
    """
    gc.collect()
    gc.freeze()


#: Modules holding the suite's longest tests (several seconds each on two busy cores), run first.
#: pytest-xdist's worksteal gives each worker a contiguous half of the collection and lets an idle
#: worker take the last half of the other's queue, so the run ends on whichever tests come last:
#: short ones, with these moved to the front, instead of a browser or a kill matrix that one worker
#: starts while the other has nothing left.  Whole modules move, so module fixtures are built once.
RUN_FIRST = (
    "test_killmatrix.py",
    "test_report_browser.py",
    "test_demo.py",
    "test_dumps_rerun.py",
    "test_diff_engine.py",
    "test_datapath_bench.py",
    "test_fuzz_responses.py",
    "test_dump_spans.py",
    "test_archive_streaming.py",
    "test_resilience.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules of RUN_FIRST first, in that order; every other test keeps its place (a stable sort)."""
    rank = {name: number for number, name in enumerate(RUN_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(RUN_FIRST)))


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse any connection that is not to loopback: no test may touch the network."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1") or "/" in host):
            raise OSError(f"tests must not touch the network (tried {address!r})")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def samples() -> Path:
    """The real recorded Reddit responses in ../shared; the test is skipped where they are absent."""
    if not SAMPLES.is_dir():
        pytest.skip("../shared/reddit/samples is not present")
    return SAMPLES


def load_sample(name: str) -> dict[str, Any]:
    """One sample file, parsed (skips the test if ../shared is absent)."""
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result


def hold_answers_after(server: FakeReddit, count: int) -> threading.Event:
    """Make ``server``'s answers after its ``count``-th request wait (up to 30 s) until the returned
    event is set: a signal sent to a collecting process lands mid-collection however slowly the
    test polls on a busy machine."""
    release = threading.Event()
    answer = server.answer

    def held(*args: Any) -> Any:
        if len(server.log) >= count:
            release.wait(30)
        return answer(*args)

    server.answer = held  # type: ignore[method-assign]
    return release


def settings_for(server: FakeReddit, **overrides: Any) -> RedditSettings:
    """Client settings that reach a fake Reddit with its credentials."""
    return server.client_settings(**{"user_agent": "python:tests:0 (by the test suite)", **overrides})


@pytest.fixture
def demo_forest() -> Forest:
    """The bundled reconstructed leaving-ML thread."""
    from scraper.demo import demo_forest as load

    return load()


@pytest.fixture
def fake_reddit(demo_forest: Forest) -> Iterator[FakeReddit]:
    """A fake Reddit serving the demo forest, cut with small limits so every stub kind appears."""
    from scraper.demo import demo_server

    with demo_server(demo_forest, quota=10**9) as server:
        yield server


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo dataset (README's first command, collected in this process), built once a session: read only."""
    from scraper.demo import run_demo

    folder = tmp_path_factory.mktemp("demo") / "leaving-ml"
    run_demo(folder, ROOT / "datasets" / "leaving-ml" / "dataset.toml")
    return folder


def comparable_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """A manifest less what differs between two equal runs: times, run ids, checksums of files holding times."""
    out = json.loads(json.dumps(manifest))
    out.pop("created_at", None)
    for key in ("runs", "raw"):
        out.get("source", {}).pop(key, None)
    out.get("stats", {}).pop("run", None)
    for info in [*out.get("files", {}).values(), out.get("card") or {}]:
        info.pop("sha256", None)
        info.pop("bytes", None)
    return out


def latest_manifest(folder: Path) -> dict[str, Any]:
    """The newest version's manifest, less times and run ids."""
    version = sorted((folder / "versions").iterdir(), key=lambda p: int(p.name[1:]))[-1]
    return comparable_manifest(json.loads((version / "manifest.json").read_text(encoding="utf-8")))


def write_spec(folder: Path, body: str) -> Path:
    """Write a dataset.toml into ``folder`` and return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dataset.toml").write_text(body, encoding="utf-8")
    return folder


SMALL_SPEC = """
[dataset]
name = "small"

[discovery]
subreddits = ["MachineLearning"]
queries = ['"quit machine learning"']
seeds = []
"""


def pytest_recording_configure(config: Any, vcr: Any) -> None:
    """Register the cassettes' key-sorted JSON serializer with pytest-recording."""
    from tests.cassette_setup import PrettyJSON

    vcr.register_serializer("json", PrettyJSON)


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    """A real Dask distributed cluster of 2 workers in this process (a LocalCluster)."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:0") as cluster,
        Client(cluster) as client,
    ):
        yield client
