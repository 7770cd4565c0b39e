"""A bare TCP server on 127.0.0.1 for hostile-HTTP tests: each connection answered on a thread of its own.

Subclasses write :meth:`RawServer._answer` byte by byte (dripping headers, endless bodies, ...), which
no HTTP server library will do.
"""

from __future__ import annotations

import socket
import threading
from typing import Self


class RawServer:
    """Accepts connections until closed; ``url`` is its address, ``requests`` counts what subclasses count."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.requests = 0

    def __enter__(self) -> Self:
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.sock.close()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        raise NotImplementedError
