"""No empty ``.staging/`` is left in a dataset after ``ingest`` or ``purge``; another run's staging is never touched.

A version is written in ``.staging/<version>.<pid>`` and renamed into ``versions/``; a purge
rewrites each version in ``.staging/purge-<version>.<pid>``.  Both left the emptied ``.staging/``
behind.  Now it is removed with ``rmdir`` (which only removes an empty folder), so a staging folder
another live run is writing in keeps it, and a run making its staging folder makes ``.staging/``
again if another run removed it in between.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scraper.cli import main
from scraper.errors import EXIT_IO
from scraper.store import snapshot
from scraper.store.snapshot import STAGING_DIR, Dataset, make_staging_dir


def _listing(path: Path, *ids: str) -> Path:
    thread = {"id": "thr", "name": "t3_thr", "title": "t", "selftext": "", "author": "op", "subreddit": "test"}
    children: list[dict[str, Any]] = [{"kind": "t3", "data": {**thread, "created_utc": 1.7e9}}]
    for ident in ids:
        data = {"id": ident, "name": f"t1_{ident}", "link_id": "t3_thr", "parent_id": "t3_thr", "author": "a"}
        children.append(
            {"kind": "t1", "data": {**data, "body": f"text {ident}", "created_utc": 1.7e9, "subreddit": "test"}}
        )
    path.write_text(json.dumps({"kind": "Listing", "data": {"children": children}}), encoding="utf-8")
    return path


def _run(*args: str) -> Any:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    return result


def test_ingest_and_purge_leave_no_empty_staging_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    assert _run("ingest", str(folder), str(_listing(tmp_path / "a.json", "c1", "c2"))).exit_code == 0
    assert not (folder / STAGING_DIR).exists()
    assert _run("ingest", str(folder), str(_listing(tmp_path / "b.json", "c1", "c2", "c3"))).exit_code == 0
    assert Dataset(folder).versions() == ["v0001", "v0002"]
    assert not (folder / STAGING_DIR).exists()
    assert _run("purge", str(folder), "t1_c1").exit_code == 0
    assert not (folder / STAGING_DIR).exists()
    assert _run("purge", str(folder), "t3_thr").exit_code == 0  # both tables of both versions rewritten
    assert not (folder / STAGING_DIR).exists()


@pytest.mark.parametrize("leftover", ["v0009", "purge-v0001"])
def test_a_live_runs_staging_folder_is_kept_with_its_parent(tmp_path: Path, leftover: str) -> None:
    folder = tmp_path / "ds"
    assert _run("ingest", str(folder), str(_listing(tmp_path / "a.json", "c1", "c2"))).exit_code == 0
    other = folder / STAGING_DIR / f"{leftover}.{os.getppid()}"  # a live process's (our parent's) staging
    other.mkdir(parents=True)
    (other / "comments.parquet").write_bytes(b"being written")
    assert _run("ingest", str(folder), str(_listing(tmp_path / "b.json", "c1", "c3"))).exit_code == 0
    assert _run("purge", str(folder), "t1_c1").exit_code == 0
    assert sorted(p.name for p in (folder / STAGING_DIR).iterdir()) == [other.name]
    assert (other / "comments.parquet").read_bytes() == b"being written"
    shutil.rmtree(other)  # an empty one of a live run is kept as well: rmdir of .staging/ fails
    other.mkdir()
    assert _run("ingest", str(folder), str(_listing(tmp_path / "c.json", "c4"))).exit_code == 0
    assert [p.name for p in (folder / STAGING_DIR).iterdir()] == [other.name]


def test_a_failed_version_write_leaves_no_staging_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "ds"
    real = snapshot.write_json_atomic

    def full_disk(path: Path, payload: Any) -> None:
        if STAGING_DIR in path.parts:
            raise snapshot.storage_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), path)
        real(path, payload)

    monkeypatch.setattr(snapshot, "write_json_atomic", full_disk)
    result = _run("ingest", str(folder), str(_listing(tmp_path / "a.json", "c1")))
    assert result.exit_code == EXIT_IO, result.output
    assert not (folder / STAGING_DIR).exists() and Dataset(folder).versions() == []


def test_making_a_staging_folder_survives_staging_being_removed_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staging = tmp_path / "ds" / STAGING_DIR
    target = staging / "v0001.1"
    real_mkdir = Path.mkdir
    removed: list[Path] = []

    def racing_mkdir(self: Path, *args: Any, **kwargs: Any) -> None:
        if self == target and not removed:  # another run drops the empty .staging/ just now
            staging.rmdir()
            removed.append(staging)
        real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", racing_mkdir)
    make_staging_dir(target)
    assert removed and target.is_dir()
