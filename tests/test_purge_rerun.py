"""A purge cut off (kill -9 at any of its steps, or a full disk) and run again ends exactly as an
uninterrupted purge: the same files byte for byte (less the purge's time), one ``purges.jsonl`` entry
with the counts an uninterrupted purge records."""

from __future__ import annotations

import errno
import json
import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from scraper.collect.refresh import refresh
from scraper.collect.run import collect
from scraper.fake_reddit import FakeReddit, Forest
from scraper.fake_reddit.generate import generate_thread
from scraper.store import killpoints, snapshot
from scraper.store import purge as purge_module
from scraper.store.purge import PURGES_FILE, purge
from tests import forked
from tests.conftest import settings_for, write_spec

SPEC = """
[dataset]
name = "purge-rerun"
[discovery]
subreddits = ["MachineLearning"]
queries = ["quit"]
"""
QUARANTINED = "t1_zzquar"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Two versions, two raw archives and a quarantine file; the fullnames to purge (in each of them)."""
    folder = write_spec(tmp_path_factory.mktemp("purge-rerun") / "ds", SPEC)
    forest = Forest()
    sub, comments = generate_thread("p0", 30, seed=4, title="I quit ML", deleted_rate=0)
    target = next(c for c in comments if c["parent_id"] == sub["name"])
    forest.add_thread(sub, comments)
    with FakeReddit(forest, quota=10**9) as server:
        collect(folder, settings_for(server))
        forest.threads["p0"].comments[comments[3]["id"]]["score"] += 5
        refresh(folder, settings_for(server))
    quarantine = folder / "quarantine"
    quarantine.mkdir(exist_ok=True)
    lines = [{"name": QUARANTINED, "field": "score", "raw": "{}"}, {"name": "t1_zzkept", "field": "score", "raw": "{}"}]
    (quarantine / "v0001.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return folder, sorted([target["name"], QUARANTINED])


def _copy(base: Path, to: Path) -> Path:
    shutil.copytree(base, to, symlinks=True)
    return to


def _files(folder: Path) -> dict[str, bytes]:
    """Every file's bytes (the purges run at one fixed time: :class:`_At`)."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != ".lock")
    }


class _At(datetime):
    """The purge's clock: one fixed moment, so a rerun's files can equal the reference's byte for byte."""

    @classmethod
    def now(cls, tz: Any = None) -> _At:
        return cls(2026, 12, 2, 9, 0, 0, tzinfo=tz)


@pytest.fixture
def fixed_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(purge_module, "datetime", _At)  # a forked child inherits it


@pytest.fixture(scope="module")
def reference(
    base: tuple[Path, list[str]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, bytes], list[str]]:
    """An uninterrupted purge's files and the kill points it passed."""
    folder, names = base
    copy = _copy(folder, tmp_path_factory.mktemp("reference") / "ds")
    trace = copy.parent / "trace"
    killpoints.reset(0, str(trace))
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(purge_module, "datetime", _At)
            entry = purge(copy, names)
    finally:
        killpoints.reset()
    assert entry["rows"] == {"v0001": 1, "v0002": 1} and entry["quarantine_lines"] == 1
    assert sum(entry["raw_things"].values()) >= 2
    return _files(copy), trace.read_text().split()


def test_the_purge_passes_a_kill_point_at_each_step(reference: tuple[dict[str, bytes], list[str]]) -> None:
    points = reference[1]
    assert points[0] == "purge-recorded" and points[-1] == "purge-indexed"
    assert {"purge-staged:v0001", "purge-staged:v0002", "purge-quarantine:v0001.jsonl"} <= set(points)
    assert sum(p.startswith("purge-raw:") for p in points) == 2


@pytest.mark.usefixtures("fixed_time")
def test_a_purge_killed_at_any_step_and_run_again_records_what_an_uninterrupted_one_does(
    base: tuple[Path, list[str]], reference: tuple[dict[str, bytes], list[str]], tmp_path: Path
) -> None:
    folder, names = base
    expected, points = reference
    for at in range(1, len(points) + 1):
        copy = _copy(folder, tmp_path / f"k{at}")

        def body(copy: Path = copy, at: int = at) -> None:
            killpoints.reset(at)
            purge(copy, names)

        killed = forked.run(body)
        assert killed.returncode == -9, (points[at - 1], killed.stderr)
        purge(copy, names)  # the same command again
        got = _files(copy)
        assert got.keys() == expected.keys(), points[at - 1]
        differ = [name for name in got if got[name] != expected[name]]
        assert not differ, (points[at - 1], differ, got.get(PURGES_FILE))


@pytest.mark.usefixtures("fixed_time")
@pytest.mark.parametrize("failing", ["_replace_file", "fsync_folder", "replace_dir"])
def test_a_purge_stopped_by_a_full_disk_and_run_again_records_what_an_uninterrupted_one_does(
    base: tuple[Path, list[str]],
    reference: tuple[dict[str, bytes], list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failing: str,
) -> None:
    folder, names = base
    copy = _copy(folder, tmp_path / "ds")
    real = getattr(purge_module, failing)
    calls = [0]

    def full(*args: Any) -> None:
        calls[0] += 1
        if calls[0] == 2:  # the second file: the first one was replaced
            raise OSError(errno.ENOSPC, "No space left on device")
        real(*args)

    monkeypatch.setattr(purge_module, failing, full)
    with pytest.raises(OSError):
        purge(copy, names)
    monkeypatch.setattr(purge_module, failing, real)
    purge(copy, names)
    got = _files(copy)
    assert got == reference[0]
    assert len((copy / PURGES_FILE).read_text().splitlines()) == 1


def fsync_recorder(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The paths ``os.fsync`` is called on from now on (read back through ``/proc/self/fd``)."""
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc/self/fd to name a descriptor's file")
    synced: set[str] = set()
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.add(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return synced


def not_on_disk(folder: Path, synced: set[str]) -> list[str]:
    """What of ``folder`` (its files and itself) was never fsynced."""
    paths = [folder, *(p for p in folder.iterdir() if p.is_file())]
    return [p.name for p in paths if str(p.resolve()) not in synced]


@pytest.mark.usefixtures("fixed_time")
def test_every_file_a_purge_swaps_in_is_on_disk_before_the_swap(
    base: tuple[Path, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A power cut right after the swap finds every rewritten file, the card and the manifest whole:
    the swap's rename is journaled apart from the files' bytes, so they are flushed first."""
    folder, names = base
    copy = _copy(folder, tmp_path / "ds")
    synced = fsync_recorder(monkeypatch)
    missed: dict[str, list[str]] = {}
    real = purge_module.replace_dir

    def swap(new: Path, old: Path) -> None:
        missed[old.name] = not_on_disk(new, synced)
        real(new, old)

    monkeypatch.setattr(purge_module, "replace_dir", swap)
    purge(copy, names)
    assert missed == {"v0001": [], "v0002": []}


def test_every_file_of_a_new_version_is_on_disk_before_it_is_placed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same for a version a collect places (its Parquet files, card and manifest, and the folder)."""
    folder = write_spec(tmp_path / "ds", SPEC)
    forest = Forest()
    sub, comments = generate_thread("p0", 12, seed=5, title="I quit ML", deleted_rate=0)
    forest.add_thread(sub, comments)
    synced = fsync_recorder(monkeypatch)
    missed: dict[str, list[str]] = {}
    real = os.rename

    def rename(src: Any, dst: Any) -> None:
        if Path(dst).parent.name == "versions":
            missed[Path(dst).name] = not_on_disk(Path(src), synced)
        real(src, dst)

    monkeypatch.setattr(snapshot.os, "rename", rename)
    with FakeReddit(forest, quota=10**9) as server:
        collect(folder, settings_for(server))
    assert missed == {"v0001": []}
    assert {"README.md", "manifest.json", "comments.parquet", "submissions.parquet"} <= {
        p.name for p in (folder / "versions" / "v0001").iterdir()
    }
