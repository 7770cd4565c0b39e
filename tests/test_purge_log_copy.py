"""The purge record copied beside a published copy is written durably: an interrupted copy keeps the old one.

``copy_purge_log`` wrote a temporary and renamed it without flushing it to disk, so a crash after
the rename could leave an empty or partial ``purges.jsonl`` (every later reader would lose the
purged names, or refuse the damaged record); a full disk at the write raised a bare OSError (a
traceback) and left the temporary behind.  Now it writes the temporary, fsyncs it, renames it and
fsyncs the folder (``copy_file_atomic``, the store's atomic copy), and a failure at any of these
steps leaves the old record whole and no temporary, with one StorageError line (exit 74).
"""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scraper.cli import main
from scraper.errors import EXIT_IO, StorageError
from scraper.store.purge import PURGES_FILE, copy_purge_log, purge
from tests.test_diff import com, sub, write

OLD = b'{"at": "2024-01-01T00:00:00+00:00", "fullnames": ["t1_old"]}\n'
NEW = OLD + b'{"at": "2024-02-01T00:00:00+00:00", "fullnames": ["t1_new"]}\n' * 2000  # several blocks' worth


def _enospc(what: Any = "") -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(what))


class _FailingWriter(io.RawIOBase):
    """A file whose writes store half of the first block, then fail with ENOSPC (a disk filling up)."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def write(self, data: Any) -> int:
        self.real.write(bytes(data)[: len(data) // 2])
        self.real.flush()
        raise _enospc(self.real.name)

    def __enter__(self) -> _FailingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.real.close()

    def fileno(self) -> int:
        return int(self.real.fileno())


def _is_temporary(file: Any) -> bool:
    return isinstance(file, str | os.PathLike) and Path(file).name.startswith(f".{PURGES_FILE}.")


def _fault(patch: pytest.MonkeyPatch, site: str) -> None:
    """ENOSPC at one step of the copy into the target's purge record."""
    if site == "create":
        real_open = io.open

        def failing_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            if _is_temporary(file) and "w" in mode:
                raise _enospc(file)
            return real_open(file, mode, *args, **kwargs)

        patch.setattr(io, "open", failing_open)
        patch.setattr(builtins, "open", failing_open)
    elif site == "write":
        real_open = io.open

        def half_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            handle = real_open(file, mode, *args, **kwargs)
            return _FailingWriter(handle) if _is_temporary(file) and "w" in mode else handle

        patch.setattr(io, "open", half_open)
        patch.setattr(builtins, "open", half_open)
    elif site == "fsync":
        patch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(_enospc()))
    elif site == "fsync-folder":  # after the rename: the new record is in place, whole
        real_fsync = os.fsync

        def fsync(fd: int) -> None:
            if Path(os.readlink(f"/proc/self/fd/{fd}")).is_dir():
                raise _enospc()
            real_fsync(fd)

        patch.setattr(os, "fsync", fsync)
    elif site == "replace":
        patch.setattr(os, "replace", lambda src, dst: (_ for _ in ()).throw(_enospc(dst)))


@pytest.mark.parametrize("site", ["create", "write", "fsync", "replace", "fsync-folder"])
def test_an_interrupted_copy_leaves_the_old_record_whole_and_no_temporary(tmp_path: Path, site: str) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    source.mkdir()
    target.mkdir()
    (source / PURGES_FILE).write_bytes(NEW)
    (target / PURGES_FILE).write_bytes(OLD)
    with pytest.MonkeyPatch.context() as patch:
        _fault(patch, site)
        with pytest.raises(StorageError) as caught:
            copy_purge_log(source, target)
    assert (target / PURGES_FILE).read_bytes() == (NEW if site == "fsync-folder" else OLD)  # whole, never torn
    assert sorted(p.name for p in target.iterdir()) == [PURGES_FILE]  # no temporary left
    assert caught.value.exit_code == EXIT_IO
    message = str(caught.value)
    assert "\n" not in message and str(target / PURGES_FILE) in message and "No space left" in message
    assert copy_purge_log(source, target)  # space is back: the same copy completes
    assert (target / PURGES_FILE).read_bytes() == NEW


def test_the_copy_is_flushed_before_the_rename_and_the_folder_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    source.mkdir()
    target.mkdir()
    (source / PURGES_FILE).write_bytes(NEW)
    (target / PURGES_FILE).write_bytes(OLD)
    steps: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        where = Path(os.readlink(f"/proc/self/fd/{fd}"))
        steps.append(("fsync", "folder" if where.is_dir() else f"file {where.read_bytes() == NEW}"))
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        steps.append(("replace", Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    assert copy_purge_log(source, target)
    assert steps == [("fsync", "file True"), ("replace", PURGES_FILE), ("fsync", "folder")]
    assert (target / PURGES_FILE).read_bytes() == NEW


def test_publish_with_a_full_disk_at_the_purge_record_exits_74_and_keeps_the_published_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, public = tmp_path / "ds", tmp_path / "public"
    write(folder, [sub()], [com("c1"), com("c2")])
    purge(folder, ["t1_c1"])
    args = ["publish", str(folder), "--to", str(public), "--identifiable"]
    assert CliRunner().invoke(main, args).exit_code == 0
    published = (public / PURGES_FILE).read_bytes()
    purge(folder, ["t1_c2"])
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if Path(os.readlink(f"/proc/self/fd/{fd}")).name.startswith(f".{PURGES_FILE}."):
            raise _enospc()
        real_fsync(fd)

    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", fsync)
        result = CliRunner().invoke(main, args)
    assert result.exit_code == EXIT_IO, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and PURGES_FILE in errors[0], result.stderr
    assert (public / PURGES_FILE).read_bytes() == published
    assert not [p.name for p in public.iterdir() if p.name.endswith(".tmp")]
    assert CliRunner().invoke(main, args).exit_code == 0  # space is back: the same publish completes
    names = [n for line in (public / PURGES_FILE).read_text().splitlines() for n in json.loads(line)["fullnames"]]
    assert names == ["t1_c1", "t1_c2"]
