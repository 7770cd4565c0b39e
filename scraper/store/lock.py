"""One writer per dataset: an exclusive ``flock`` on ``<dataset>/.lock``; readers that copy take it shared.

The kernel drops the lock when the holder exits, however it exits (a kill
included), so a stale lock can never block the next scheduled run.  Every
command that changes a dataset folder holds it exclusively (collect, refresh,
ingest, purge, download into it, publish into a target); ``publish`` holds
its source's lock shared while it copies, so a purge waits for it (or it for
the purge) and never publishes half-purged text.

A published tree is served as it is, so its writer (``publish``) locks the
folder itself (:func:`tree_lock`, ``flock`` on the directory): the tree holds no
lock file, and no process id reaches a public server.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scraper.errors import Locked, storage_error


@contextmanager
def dataset_lock(dataset_dir: Path, *, wait: bool = False, shared: bool = False) -> Iterator[None]:
    """Hold the dataset's lock for the block; raise :class:`Locked` at once unless ``wait``.

    ``shared`` takes it as a reader: other readers may hold it too, writers may not.  A
    reader of a read-only copy (where no one can write) reads without a lock file.
    """
    try:
        if not shared:
            dataset_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(dataset_dir / ".lock", os.O_CREAT | os.O_RDWR, 0o644)
    except OSError as exc:
        if not (shared and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM)):
            raise storage_error(exc, dataset_dir / ".lock") from None
        fd = -1  # a read-only copy: nobody can write here either
    if fd < 0:
        yield
        return
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise Locked(
                f"another run is writing {dataset_dir} (it holds {dataset_dir / '.lock'}); "
                "this one exits; use --wait to queue behind it"
            ) from None
        if not shared:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextmanager
def tree_lock(folder: Path, *, wait: bool = False) -> Iterator[None]:
    """Hold a published tree's lock for the block: an exclusive ``flock`` on the folder itself, no file in it.

    Raises :class:`Locked` at once unless ``wait``; makes the folder if it is missing.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise storage_error(exc, folder) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise Locked(
                f"another publish is writing {folder}; this one exits; use --wait to queue behind it"
            ) from None
        yield
    finally:
        os.close(fd)
