"""Named points where a test may SIGKILL the process, to prove every run resumes exactly.

Writers call :func:`killpoint` at each durable step: after each raw record, after
normalization, after each file of a version, after placing a version, after
clearing run state.  Normally it does nothing (one integer comparison).  With
``SCRAPER_KILL_AT=N`` in the environment the process kills itself with
SIGKILL at the N-th point it passes, as a power cut or ``kill -9`` would: no
``finally``, no ``atexit``, no flush.  With ``SCRAPER_KILL_TRACE=<file>`` the
name of every point passed is appended to that file, so a test can first run
uninterrupted, list the points, and then choose deterministically where to kill.

Written by hand: this is a fault-injection hook a few lines long (the idea of
SQLite's and TiKV's failpoints); no library does this for one environment variable.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

from scraper import sigterm

_KILL_AT = int(os.environ.get("SCRAPER_KILL_AT") or 0)
_TRACE = os.environ.get("SCRAPER_KILL_TRACE") or None
_passed = 0


def killpoint(name: str, before_death: Callable[[], None] | None = None) -> None:
    """Count one point; die here by SIGKILL if it is the one ``SCRAPER_KILL_AT`` names.

    ``before_death`` runs just before the kill: a torn write, say, of what was being written.
    """
    global _passed  # noqa: PLW0603 - one counter per process, by design
    sigterm.checkpoint()  # a durable step: a Ctrl-C or SIGTERM that Python swallowed is raised again here
    if not _KILL_AT and _TRACE is None:
        return
    _passed += 1
    if _TRACE is not None:
        with open(_TRACE, "a", encoding="utf-8") as handle:
            handle.write(f"{name}\n")
    if _passed == _KILL_AT:
        if before_death is not None:
            before_death()
        os.kill(os.getpid(), signal.SIGKILL)


def reset(kill_at: int = 0, trace: str | None = None) -> None:
    """Set the hook for this process (a forked test child sets it after the fork)."""
    global _KILL_AT, _TRACE, _passed
    _KILL_AT, _TRACE, _passed = kill_at, trace, 0
