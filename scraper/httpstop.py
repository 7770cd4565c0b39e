"""An httpx client that a Ctrl-C or SIGTERM never leaves waiting for ever (adversarial review 10, item 1).

httpcore guards its connection pool with a plain ``threading.Lock`` taken in ``with`` blocks.  The
command's stop is raised where the signal lands, and landing just after ``acquire()`` inside the
lock's ``__enter__`` (before the ``with`` holds it) leaves the lock taken by the very thread that is
now stopping: the next use of the pool on the way out (the request's own clean-up, a response's
close, ``Client.close()`` in our ``with`` blocks) waits on it for ever, and the later signals are
ignored by design, so only SIGKILL ended the process, its dataset still locked (1 stop in ~230).

:func:`hardened` gives each pool of the client a reentrant lock in its place: the same mutual
exclusion between threads, but a lock the stopping thread itself left taken is taken again at
once.  :func:`close` closes a client on the way out of a stop within :data:`CLOSE_ON_STOP_S` at
most (in a daemon thread), for a pool this could not reach (another httpcore, a lock left by another
thread): the process ends as the stop says, its sockets closed by the exit.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import httpx

#: how long a client's close may take on the way out of a stop before the process goes on without it
CLOSE_ON_STOP_S = 2.0


def hardened(client: httpx.Client) -> httpx.Client:
    """``client`` with a reentrant lock on each of its connection pools (see the module's docstring)."""
    transports: list[Any] = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    for transport in transports:
        guard = getattr(getattr(transport, "_pool", None), "_optional_thread_lock", None)
        if guard is not None and hasattr(guard, "_lock"):  # httpcore's ThreadLock (another version: close's bound)
            guard._lock = threading.RLock()  # noqa: SLF001 - the only way in; nothing else changes
    return client


def close(client: httpx.Client, exc: BaseException | None) -> None:
    """Close ``client``; on the way out of a stop (``exc`` a KeyboardInterrupt), give up after a bound."""
    if not isinstance(exc, KeyboardInterrupt):  # Terminated is one
        client.close()
        return

    def quietly() -> None:
        with contextlib.suppress(Exception):  # the run is stopping: how the pool closes changes nothing
            client.close()

    closer = threading.Thread(target=quietly, name="http-close-on-stop", daemon=True)
    closer.start()
    closer.join(CLOSE_ON_STOP_S)
