"""One writer per dataset: an exclusive ``flock`` on ``<dataset>/.lock``.

The kernel drops the lock when the holder exits, however it exits (a kill
included), so a stale lock can never block the next scheduled run.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scraper.errors import Locked


@contextmanager
def dataset_lock(dataset_dir: Path, *, wait: bool = False) -> Iterator[None]:
    """Hold the dataset's lock for the block; raise :class:`Locked` at once unless ``wait``."""
    dataset_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(dataset_dir / ".lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise Locked(
                f"another run is collecting {dataset_dir} (it holds {dataset_dir / '.lock'}); "
                "this one exits; use --wait to queue behind it"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing releases the lock
