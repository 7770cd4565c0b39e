"""Write a file at a path the user gave: atomically when it is (or will be) a regular file, directly when not.

``report --out``, ``--summary FILE`` and the JSON files of a dataset are written to a temporary file
beside the path and renamed over it, so a reader never sees half a file.  A rename replaces whatever
the path names, though: ``--out /dev/null`` run as root used to turn the machine's ``/dev/null`` into
an HTML file, and ``--summary /dev/stdout`` replaced the symlink (adversarial review 5, F7).  So:

- the path does not exist, or is a regular file: a temporary file beside it, fsynced, renamed over it;
- a symbolic link to a regular file (or to nothing yet): the same, beside the link's final target, so the
  link stays and the file it names is replaced atomically -- what ``ln -s`` users expect;
- anything else -- a character or block device (``/dev/null``, ``/dev/full``), a FIFO, a socket, or a
  link to one, or a link through ``/proc`` (``/dev/stdout``, ``/dev/fd/N``, ``/proc/self/fd/N``: the
  file an open descriptor names, which a rename would take from under its holder): opened (appending,
  never truncating) and written directly, never renamed over.  A write error (``ENOSPC`` from
  ``/dev/full``) is the usual :class:`~scraper.errors.StorageError` (exit 74).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import time
from pathlib import Path

from scraper.errors import storage_error

#: Links through here name open descriptors (``/proc/self/fd/1``): written to, never resolved and renamed.
_PROC = "/proc/"


def write_output(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Put ``data`` at ``path`` (see the module's docstring); an OSError becomes a one-line StorageError."""
    try:
        target = _atomic_target(path)
        if target is None:
            _write_direct(path, data)
        else:
            _write_replace(target, data, fsync=fsync)
    except OSError as exc:
        raise storage_error(exc, path) from None


def _atomic_target(path: Path) -> Path | None:
    """The regular file to replace for ``path``, or None when ``path`` must be written in place."""
    if not os.path.lexists(path):
        return path
    if not os.path.islink(path):
        return path if stat.S_ISREG(os.stat(path).st_mode) else None
    if _through_proc(path):
        return None
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:  # a dangling link: its target is created, the link kept
        return Path(os.path.realpath(path))
    return Path(os.path.realpath(path)) if stat.S_ISREG(mode) else None


def _through_proc(path: Path) -> bool:
    """Whether following ``path``'s links passes through /proc (a descriptor's magic link)."""
    here = os.path.abspath(path)
    for _ in range(40):  # the kernel's own limit on links followed
        if os.path.realpath(os.path.dirname(here)).startswith(_PROC) or here.startswith(_PROC):
            return True
        if not os.path.islink(here):
            return False
        here = os.path.normpath(os.path.join(os.path.dirname(here), os.readlink(here)))
    return False


def _write_direct(path: Path, data: bytes) -> None:
    # After what this process printed already (``--summary /dev/stdout``); O_APPEND so a /proc link to a
    # regular file (``>> log``) is added to, not overwritten from its start; O_NOCTTY so a terminal never
    # becomes ours.  A FIFO with no reader waits for one, as the shell's ``>`` does.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    fd = _open_for_writing(path)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


#: How often a FIFO without a reader is tried again.
READER_POLL_S = 0.05


def _open_for_writing(path: Path) -> int:
    """``path`` opened to write at its end.  A FIFO with no reader is waited for, as the shell's ``>`` waits,
    but in steps, so a stop ends the wait (adversarial review 6, F1): Ctrl-C, or a SIGTERM in the command's
    body (raised there), or one after it (the summary: its status stands, the file is not written).
    """
    flags = os.O_WRONLY | os.O_APPEND | os.O_NOCTTY
    if not stat.S_ISFIFO(os.stat(path).st_mode):
        return os.open(path, flags)
    from scraper import sigterm

    try:
        while True:
            try:
                fd = os.open(path, flags | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                    raise
            else:
                os.set_blocking(fd, True)  # a reader is there: the data goes at the pace it reads
                return fd
            if sigterm.stopped_late():
                raise OSError(errno.EINTR, "stopped while waiting for the FIFO's reader; not written", str(path))
            time.sleep(READER_POLL_S)
    except KeyboardInterrupt:
        if not sigterm.STATE.ended:  # in the command's body: Ctrl-C stops the command (130), as anywhere
            raise
        raise OSError(errno.EINTR, "interrupted while waiting for the FIFO's reader; not written", str(path)) from None


def _write_replace(target: Path, data: bytes, *, fsync: bool) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
