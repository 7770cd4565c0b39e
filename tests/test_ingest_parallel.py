"""Ingest reads large inputs in worker processes; the version is the same whatever the number of workers.

Also: a recorded comment tree is decoded in one pass (``_read_tree_sample``) and gives
exactly what the general reading gives, including trees the fast path refuses.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scraper.ingest as ingest_module
from scraper.errors import InputError, TransientError
from scraper.ingest import _parts, ingest
from tests import forked
from tests.conftest import examples
from tests.test_ingest import sample_file, t1, tree

DATES = ["Tue, 01 Dec 2026 12:00:00 GMT", "Tue, 01 Dec 2026 12:00:00 GMT", "Wed, 02 Dec 2026 08:00:00 GMT"]


def _comments(link: str, count: int, flavour: int) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        extra: dict[str, Any] = {"body": f"v{flavour} {link}{i}"}
        if flavour == 2 and i == 0:
            extra["score"] = "not a number"  # the fast path refuses the whole tree: the model path decides
        if flavour == 3 and i == 0:
            extra["edited"] = True
        parent = f"t3_{link}" if i == 0 else f"t1_{link}{i - 1}"
        out.append(t1(f"{link}{i}", parent, link=link, depth=i, **extra))
    return out


def _file(folder: Path, index: int, link: str, count: int, flavour: int, date: str) -> Path:
    name = f"f{index:03d}-{link}"
    if flavour == 4:  # a Listing (as /api/info answers), recorded with its date
        listing = {"kind": "Listing", "data": {"children": _comments(link, count, 0)}}
        return sample_file(folder, name, listing, date=date)
    if flavour == 5:
        path = folder / f"{name}.json"
        doc = {"request": {"url": "https://oauth.reddit.com/comments/x/"}, "response": {"status": 503, "json": []}}
        path.write_text(json.dumps(doc), encoding="utf-8")
        return path
    path = sample_file(folder, name, tree(link, _comments(link, count, flavour)), date=date)
    return path


def _version(folder: Path) -> tuple[dict[str, str], dict[str, Any]]:
    manifest = json.loads((folder / "versions" / "v0001" / "manifest.json").read_text())
    sums = {name: info["sha256"] for name, info in manifest["files"].items()}
    return sums, manifest["stats"]


files_strategy = st.lists(
    st.tuples(st.sampled_from(["aa", "bb", "cc", "dd"]), st.integers(1, 6), st.integers(0, 5), st.sampled_from(DATES)),
    min_size=2,
    max_size=9,
)


@settings(max_examples=examples(4), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=files_strategy)
def test_any_number_of_workers_writes_the_same_version(tmp_path_factory: pytest.TempPathFactory, spec: Any) -> None:
    tmp = tmp_path_factory.mktemp("par")
    files = [_file(tmp, i, *item) for i, item in enumerate(spec)]
    results = []
    for workers in (1, 3):
        out = tmp / f"ds{workers}"
        try:
            ingest(out, files, replace=True, workers=workers)
        except InputError as exc:
            results.append(("error", str(exc)))
            continue
        results.append(_version(out))
    assert results[0] == results[1]


def test_workers_after_duckdb_and_a_base_version_merge_the_same(tmp_path: Path) -> None:
    """Forked workers after this process ran DuckDB and read Parquet with Arrow's threads (a merge)."""
    duckdb.sql("SELECT 42").fetchall()
    first = [_file(tmp_path, i, link, 5, 0, DATES[0]) for i, link in enumerate(["aa", "bb"])]
    second = [_file(tmp_path, 10 + i, link, 4, 1, DATES[2]) for i, link in enumerate(["bb", "cc", "dd"])]
    tables = []
    for workers in (1, 2):
        out = tmp_path / f"ds{workers}"
        ingest(out, first, workers=workers)
        manifest = ingest(out, second, workers=workers)
        assert manifest["version"] == "v0002"
        tables.append(pq.read_table(out / "versions" / "v0002" / "comments.parquet").to_pylist())
    assert tables[0] == tables[1]
    bodies = {row["name"]: row["body"] for row in tables[0]}
    assert (
        bodies["t1_aa0"] == "v0 aa0"
        and bodies["t1_bb0"] == "v1 bb0"
        and bodies["t1_bb4"] == "v0 bb4"
        and len(bodies) == 5 + 5 + 4 + 4
    )


def test_a_bad_file_read_by_a_worker_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    good = [_file(tmp_path, i, link, 3, 0, DATES[0]) for i, link in enumerate(["aa", "bb", "cc"])]
    bad = tmp_path / "broken.json"
    bad.write_text("[1, 2", encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.json"):
        ingest(tmp_path / "ds", [*good, bad], workers=2)
    assert not (tmp_path / "ds" / "versions").exists()
    assert not [p for p in (tmp_path / "ds").iterdir() if p.name.startswith(".build")]


@given(sizes=st.lists(st.integers(0, 10_000), min_size=1, max_size=40), count=st.integers(1, 12))
@settings(max_examples=examples(60), deadline=None)
def test_parts_are_runs_of_consecutive_files(
    tmp_path_factory: pytest.TempPathFactory, sizes: list[int], count: int
) -> None:
    tmp = tmp_path_factory.mktemp("parts")
    files = []
    for i, size in enumerate(sizes):
        path = tmp / f"{i:03d}"
        path.write_bytes(b"x" * size)
        files.append(path)
    parts = _parts(files, count)
    assert [p for part in parts for p in part] == files
    assert all(parts) and len(parts) <= min(count, len(files))


@pytest.mark.parametrize("flavour", [0, 2, 3])
def test_one_pass_tree_reading_equals_the_general_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flavour: int
) -> None:
    files = [_file(tmp_path, i, link, 4, flavour, DATES[i % 3]) for i, link in enumerate(["aa", "bb", "aa"])]
    ingest(tmp_path / "fast", files, replace=True, workers=1)
    monkeypatch.setattr(ingest_module, "_read_tree_sample", lambda *args: False)
    ingest(tmp_path / "general", files, replace=True, workers=1)
    assert _version(tmp_path / "fast") == _version(tmp_path / "general")


def test_the_command_takes_workers_and_writes_the_same_version(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scraper.cli import main

    files = [str(_file(tmp_path, i, link, 3, i % 4, DATES[i % 3])) for i, link in enumerate(["aa", "bb", "cc", "aa"])]
    sums = []
    for workers in ("1", "3"):
        out = tmp_path / f"cli{workers}"
        result = CliRunner().invoke(main, ["ingest", str(out), *files, "--workers", workers])
        assert result.exit_code == 0, result.output
        sums.append(_version(out))
    assert sums[0] == sums[1]
    refused = CliRunner().invoke(main, ["ingest", str(tmp_path / "cli0"), *files, "--workers", "0"])
    assert refused.exit_code == 2 and "--workers" in refused.output
    assert not (tmp_path / "cli0").exists()


def _die(job: Any) -> Any:
    os._exit(9)  # a worker killed (the OOM killer, a signal) in the middle of its part


def test_a_worker_that_dies_is_one_clear_error_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = [_file(tmp_path, i, link, 3, 0, DATES[0]) for i, link in enumerate(["aa", "bb", "cc"])]
    monkeypatch.setattr(ingest_module, "_read_part", _die)  # the forked workers inherit it
    with pytest.raises(TransientError, match=r"worker process .* died.*--workers 1"):
        ingest(tmp_path / "ds", files, workers=2)
    assert not (tmp_path / "ds" / "versions").exists()
    assert not [p for p in (tmp_path / "ds").iterdir() if p.name.startswith(".build")]


_READ_PART = ingest_module._read_part
_STARTED: list[Path] = []  # set by the test; the forked workers inherit it


def _interrupting_part(job: Any) -> Any:
    (_STARTED[0] / job[1].name).touch()  # this part started
    try:
        os.close(os.open(_STARTED[0] / "interrupted", os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        pass
    else:
        os.kill(os.getppid(), signal.SIGINT)  # one Ctrl-C reaches the caller while the parts run
    time.sleep(0.5)
    return _READ_PART(job)


def test_ctrl_c_drops_the_parts_not_started_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = [_file(tmp_path, i, f"l{i}", 2, 0, DATES[0]) for i in range(16)]  # 8 parts of 0.5 s on 2 workers
    started = tmp_path / "started"
    started.mkdir()
    monkeypatch.setattr(sys.modules[__name__], "_STARTED", [started])
    monkeypatch.setattr(ingest_module, "_read_part", _interrupting_part)
    # a shell's background job (CI runners, nohup ... &) starts Python with Ctrl-C ignored
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            ingest(tmp_path / "ds", files, workers=2)
    finally:
        signal.signal(signal.SIGINT, previous)
    parts = [p for p in started.iterdir() if p.name != "interrupted"]
    assert 1 <= len(parts) < 8  # the parts still waiting were dropped, the running ones ended
    assert not (tmp_path / "ds" / "versions").exists()
    assert not [p for p in (tmp_path / "ds").iterdir() if p.name.startswith(".build")]


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_workers_die_with_a_killed_caller(tmp_path: Path) -> None:
    files = [str(_file(tmp_path, i, f"l{i}", 2, 0, DATES[0])) for i in range(4)]
    code = (
        "import time, sys\n"
        "from pathlib import Path\n"
        "import scraper.ingest as ingest_module\n"
        # read_file runs inside the workers, which are forked after this patch and so inherit it;
        # _read_part itself is pickled by name for the pool, so it must stay importable
        "read = ingest_module.read_file\n"
        "def slow(path, sightings):\n"
        "    time.sleep(60)\n"
        "    return read(path, sightings)\n"
        "ingest_module.read_file = slow\n"
        f"ingest_module.ingest(Path({str(tmp_path / 'ds')!r}), [Path(p) for p in {files!r}], workers=2)\n"
    )
    proc = forked.Forked(forked.script(code))  # a real caller process, forked from this one (tests/forked.py)
    try:
        deadline = time.monotonic() + 30
        workers: list[int] = []
        while len(workers) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
            workers = _children(proc.pid)
        assert len(workers) == 2, "the workers did not start"
        proc.kill()  # kill -9 of the caller
        proc.wait()
        deadline = time.monotonic() + 10
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(w) for w in workers)
    finally:
        proc.kill()
        for worker in _children(proc.pid):
            os.kill(worker, signal.SIGKILL)
