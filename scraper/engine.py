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

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Protocol

from scraper import sigterm
from scraper.errors import ConfigError, TransientError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = "20s"  # how long a client waits for a scheduler to answer before the run is "try again later"


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
                sigterm.checkpoint()  # a stop Python swallowed (see scraper.sigterm) ends the loop here
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
        """Submit the tasks to the cluster; yield results in submission order.

        A cluster lost midway (scheduler gone, connection closed, the client closed) is a
        :class:`~scraper.errors.TransientError`; a task's own error is raised as the task raised it.
        """
        with self._lost_cluster():
            shared_future = self.client.scatter(shared, broadcast=True, hash=False)
        pending: collections.deque[Any] = collections.deque()
        try:
            for item in items:
                with self._lost_cluster():
                    pending.append(self.client.submit(task, item, shared_future, pure=False))
                if len(pending) >= self.in_flight:
                    yield self._result(pending.popleft())
            while pending:
                yield self._result(pending.popleft())
        finally:
            with contextlib.suppress(Exception, asyncio.CancelledError):  # a lost cluster cancels nothing more
                for future in pending:
                    future.cancel()
            del shared_future

    def _result(self, future: Any) -> Any:
        try:
            return future.result()
        except (Exception, asyncio.CancelledError) as exc:
            if getattr(future, "status", None) == "error" and not isinstance(exc, asyncio.CancelledError):
                raise  # the task itself failed: its error, not the cluster's
            raise lost_cluster(self.client, exc) from None

    @contextmanager
    def _lost_cluster(self) -> Iterator[None]:
        try:
            yield
        except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001 - only client calls run here
            raise lost_cluster(self.client, exc) from None


def lost_cluster(client: Any, exc: BaseException) -> TransientError:
    """The one line for a Dask cluster that went away mid-run: nothing was written, run again."""
    address = getattr(getattr(client, "scheduler", None), "address", None) or "its scheduler"
    cause = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return TransientError(
        f"lost the Dask cluster at {address} ({type(exc).__name__}: {cause}); no version was written and "
        "the dataset is unchanged: run the same command again once the scheduler is up"
    )


class _OneLine(logging.Filter):
    """Keeps distributed's own log records to one line each: its tracebacks are not for the user."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


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
    check_scheduler(scheduler)  # an address that does not parse: exit 2, a person must fix the command
    try:
        dask_client = Client(scheduler, timeout=CONNECT_TIMEOUT)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        # A well-formed address that does not answer is a scheduler down or restarting: try again later (75),
        # as for a cluster lost mid-run; exit 2 would tell a scheduler not to retry.
        cause = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise TransientError(
            f"cannot reach the Dask scheduler at {scheduler} ({cause}); nothing was written: run the same "
            "command again once the scheduler is up"
        ) from None

    one_line = _OneLine()
    handlers = logging.getLogger("distributed").handlers
    for handler in handlers:
        handler.addFilter(one_line)
    try:
        yield DaskEngine(dask_client)
    finally:
        with contextlib.suppress(Exception, asyncio.CancelledError):  # closing a client whose cluster is gone
            dask_client.close(timeout=5)  # type: ignore[no-untyped-call]
        for handler in handlers:
            handler.removeFilter(one_line)


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
