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
(:func:`watched_adapter`), each socket as soon as its TCP connection is made, so a TLS handshake
that trickles is cut as well (adversarial review 4).

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

    def release(self, owner: Any) -> None:
        """Forget ``owner`` (None: nothing)."""
        if owner is not None:
            with self._lock:
                self._held.discard(owner)

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


class _Descriptor:
    """A connection's socket descriptor while its TLS handshake runs (the ``ssl`` module holds the socket)."""

    __slots__ = ("__weakref__", "fd")

    def __init__(self, fd: int) -> None:
        self.fd = fd


def _shut(owner: Any) -> None:
    if isinstance(owner, _Descriptor):  # shut down by descriptor, never closed: the handshake's owner closes it
        with contextlib.suppress(OSError):
            borrowed = socket.socket(fileno=owner.fd)
            try:
                borrowed.shutdown(socket.SHUT_RDWR)
            finally:
                borrowed.detach()
        return
    sock = getattr(owner, "sock", None)  # urllib3's connection
    if sock is None and hasattr(owner, "get_extra_info"):  # httpcore's network stream
        sock = owner.get_extra_info("socket")
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):  # closed already
            sock.shutdown(socket.SHUT_RDWR)


def watched_adapter(cutoff: Cutoff) -> requests.adapters.HTTPAdapter:
    """A requests adapter (the default one's settings) whose connections ``cutoff`` knows of, from their TCP connect."""

    def watched(pool_class: type[connectionpool.HTTPConnectionPool]) -> type[connectionpool.HTTPConnectionPool]:
        class Connection(pool_class.ConnectionCls):  # type: ignore[name-defined,misc]
            def _new_conn(self) -> socket.socket:
                sock: socket.socket = super()._new_conn()
                # the TCP socket, before the TLS handshake, which takes the socket object over: its descriptor
                # is known until connect() returns, so a handshake that trickles is cut too
                self._handshaking = _Descriptor(sock.fileno())
                cutoff.hold(self._handshaking)
                return sock

            def connect(self) -> None:
                try:
                    super().connect()
                finally:
                    cutoff.release(self.__dict__.pop("_handshaking", None))
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
