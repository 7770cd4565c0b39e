"""A deadline for one HTTP request as a whole: its sockets shut down when the time is up.

httpx's and requests' timeouts are per operation: a read waits at most ``timeout`` for the
*next* bytes, so a server dripping a byte a second (inside the header block or the body)
keeps one request going for hours, past any ``--deadline`` (adversarial review 3, F5).
Neither library has a total timeout, so :class:`Cutoff` adds one: a timer thread that, when
the time left runs out, shuts down (``shutdown(SHUT_RDWR)``) the sockets of the client's
connections.  A read blocked in another thread then returns at once, the library raises its
own connection error, and the caller, seeing :attr:`Cutoff.fired`, reports the deadline.
``shutdown`` (unlike ``close``) wakes a blocked ``recv`` and never frees the descriptor
under it.

The sockets come from the libraries' documented hooks where they have one: httpcore's
``trace`` request extension (each new connection's stream) for httpx; for requests, a
connection pool class of urllib3 that registers each connection it makes
(:func:`watched_adapter`).

Usage::

    cutoff = Cutoff()
    with cutoff.within(seconds_left):
        response = client.get(url, extensions={"trace": cutoff.trace})
    # on an error: if cutoff.fired, the deadline was reached
"""

from __future__ import annotations

import contextlib
import socket
import threading
import weakref
from collections.abc import Iterator
from typing import Any

import requests.adapters
from urllib3 import connectionpool


class Cutoff:
    """Shuts down the sockets it knows of when :meth:`within`'s time runs out."""

    def __init__(self) -> None:
        self._held: weakref.WeakSet[Any] = weakref.WeakSet()  # connections or streams that own a socket
        self._lock = threading.Lock()
        self.fired = False

    def hold(self, owner: Any) -> None:
        """Know of ``owner``'s socket (a urllib3 connection's ``sock``, an httpcore stream's); one
        connected after the cut is shut down at once."""
        with self._lock:
            self._held.add(owner)
            late = self.fired
        if late:
            _shut(owner)

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's ``trace`` extension: each new connection's stream, plain and TLS."""
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            stream = info.get("return_value")
            if stream is not None:
                self.hold(stream)

    @contextlib.contextmanager
    def within(self, seconds: float | None) -> Iterator[None]:
        """Run the block with its requests cut off after ``seconds`` (None: no limit)."""
        with self._lock:
            self.fired = False
        if seconds is None:
            yield
            return
        timer = threading.Timer(max(seconds, 0.0), self.cut)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    def cut(self) -> None:
        """Shut down every socket known: whatever reads or writes on one fails at once."""
        with self._lock:
            self.fired = True
            owners = list(self._held)
        for owner in owners:
            _shut(owner)


def _shut(owner: Any) -> None:
    sock = getattr(owner, "sock", None)  # urllib3's connection
    if sock is None and hasattr(owner, "get_extra_info"):  # httpcore's network stream
        sock = owner.get_extra_info("socket")
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):  # closed already
            sock.shutdown(socket.SHUT_RDWR)


def watched_adapter(cutoff: Cutoff) -> requests.adapters.HTTPAdapter:
    """A requests adapter (the default one's settings) whose connections ``cutoff`` knows of, once connected."""

    def watched(pool_class: type[connectionpool.HTTPConnectionPool]) -> type[connectionpool.HTTPConnectionPool]:
        class Connection(pool_class.ConnectionCls):  # type: ignore[name-defined,misc]
            def connect(self) -> None:
                super().connect()
                cutoff.hold(self)  # connected: its socket is there to shut down

        class Watched(pool_class):  # type: ignore[valid-type,misc]
            ConnectionCls = Connection

        return Watched

    class Adapter(requests.adapters.HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            classes = self.poolmanager.pool_classes_by_scheme
            self.poolmanager.pool_classes_by_scheme = {scheme: watched(cls) for scheme, cls in classes.items()}

    return Adapter()
