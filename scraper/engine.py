"""Where the pure per-chunk tasks of the dump path run: in this process, or on a Dask distributed cluster.

Both engines take the same tasks in the same order and hand their results back
in that order, so both write the same version.  Dask does the scheduling,
transfer and worker management; this module only keeps a bounded number of
tasks in flight (so memory stays flat however large the input) and gives the
results back in submission order.  Nothing here is a scheduler or a pool.

Usage::

    with open_engine("dask", scheduler="tcp://head:8786") as engine:
        for result in engine.map(task, items, shared):
            ...
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Protocol

from scraper.errors import ConfigError

log = logging.getLogger(__name__)


class Engine(Protocol):
    """Runs ``task(item, shared)`` for each item; yields the results in the items' order."""

    name: str
    workers: int  # how many tasks run at once (a file is cut into about this many spans)

    def map(self, task: Callable[[Any, Any], Any], items: Iterable[Any], shared: Any) -> Iterator[Any]: ...


class LocalEngine:
    """Every task in this process, one after the other (the default).

    The next item is taken from ``items`` in a thread while the current task runs: for a ``.zst``
    dump, taking an item is decompressing the next span (zstandard lets go of the GIL), which
    then overlaps the query on the current one instead of waiting for it. One item is read ahead,
    no more, so memory stays bounded.
    """

    name = "local"
    workers = 1

    def map(self, task: Callable[[Any, Any], Any], items: Iterable[Any], shared: Any) -> Iterator[Any]:
        """Run the tasks here, in order."""
        iterator = iter(items)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine-read-ahead") as ahead:
            coming = ahead.submit(next, iterator, _END)
            while (item := coming.result()) is not _END:
                coming = ahead.submit(next, iterator, _END)
                yield task(item, shared)


_END = object()  # the end of the items


class DaskEngine:
    """Tasks on a Dask distributed cluster through a ``distributed.Client``.

    ``shared`` (the filter rule, the set of thread ids) is scattered to every
    worker once; items are submitted as the input is read, at most
    ``in_flight`` at a time.
    """

    name = "dask"

    def __init__(self, client: Any, in_flight: int | None = None) -> None:
        self.client = client
        self.workers = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))
        self.in_flight = in_flight or 2 * self.workers + 1

    def map(self, task: Callable[[Any, Any], Any], items: Iterable[Any], shared: Any) -> Iterator[Any]:
        """Submit the tasks to the cluster; yield results in submission order."""
        shared_future = self.client.scatter(shared, broadcast=True, hash=False)
        pending: collections.deque[Any] = collections.deque()
        try:
            for item in items:
                pending.append(self.client.submit(task, item, shared_future, pure=False))
                if len(pending) >= self.in_flight:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
            del shared_future


@contextmanager
def open_engine(name: str = "local", *, scheduler: str | None = None, client: Any = None) -> Iterator[Engine]:
    """An engine by name: ``local``, or ``dask`` on the cluster at ``scheduler`` (or an existing ``client``)."""
    if name == "local":
        yield LocalEngine()
        return
    if name != "dask":
        raise ConfigError(f"unknown engine {name!r}: use local or dask")
    if client is not None:
        yield DaskEngine(client)
        return
    if not scheduler:
        raise ConfigError("--engine dask needs --scheduler tcp://HOST:8786 (the address of a running Dask scheduler)")
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - distributed is a dependency
        raise ConfigError("--engine dask needs the 'distributed' package") from None
    check_scheduler(scheduler)
    try:
        dask_client = Client(scheduler, timeout="20s")  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); is it running?") from None

    try:
        yield DaskEngine(dask_client)
    finally:
        dask_client.close()  # type: ignore[no-untyped-call]


def check_scheduler(scheduler: str) -> None:
    """A clear error for a ``--scheduler`` that is not an address, before a client is made.

    A client made with one fails late and leaves a half-made object whose clean-up prints a
    traceback at exit; distributed's own parsers say what is wrong first.
    """
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    try:
        scheme, location = parse_address(scheduler)
        get_backend(scheme)
        if scheme in ("tcp", "tls", "ws", "wss"):
            parse_host_port(location)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"--scheduler {scheduler!r} is not a scheduler address ({exc}); give tcp://HOST:PORT, e.g. tcp://head:8786"
        ) from None
