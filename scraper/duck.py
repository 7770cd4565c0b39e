"""DuckDB connections as this tool opens them: quiet on stdout, limits given by the caller, databases reused.

DuckDB draws a progress bar on standard output for a query that runs longer than
two seconds; a command's stdout is its result (``--json``, a path, a table), so
every connection here turns the bar off.  Where a command wants progress, it shows
it on stderr with rich.

Opening a database is the costly part: ``duckdb.connect()`` builds a new catalog of
several thousand built-in functions and starts its worker threads, about 18 ms of
CPU, while a connection (a cursor) to a database that exists costs a tenth of a
millisecond.  Writing one version opens three or four (merge, card, no-change
check, validate), so :func:`connect` keeps the in-memory databases of the process
and lends one to one caller at a time: it returns a fresh cursor of an idle
database, and the database is idle again once that cursor is closed and gone.
Two callers never share a database at once (two threads, or a connection opened
while another is still held), so neither sees the other's views or settings.

Each use starts from what a new database would give it: the settings a caller may
change that are the database's, not the cursor's (``memory_limit``, ``threads``,
``temp_directory``, ``preserve_insertion_order``) are reset before it gets the
cursor and then set from ``config``.  Each use works in a schema of its own (the
cursor's current schema, ``use_N``), so the persistent views, tables and macros it
makes land there (``relation.create_view`` makes a persistent view, which owns the
Arrow tables it reads; a macro may shadow a built-in function such as ``epoch``),
and ``DROP SCHEMA ... CASCADE`` removes them all when its cursor goes.  Temporary
objects are the cursor's own and go with it.  A database that cannot be put back in
that state is closed, not lent again.

A forked child never touches its parent's databases: their worker threads do not
exist in the child, and destroying one there waits for them for ever.  After a
fork the child forgets the parent's databases without destroying them and opens
its own.
"""

from __future__ import annotations

import _thread
import contextlib
import ctypes
import itertools
import os
import sys
import threading
import time
import weakref
from types import FrameType
from typing import Any

import duckdb

#: Settings of the database (not of the cursor) that callers change; reset before each use.
DATABASE_SETTINGS = ("memory_limit", "threads", "temp_directory", "preserve_insertion_order")
#: At most this many idle databases are kept per process.
KEEP_IDLE = 2

_lock = threading.RLock()  # re-entrant: a cursor freed by the garbage collector may be given back inside _borrow
_uses = itertools.count(1)
_idle: list[duckdb.DuckDBPyConnection] = []
_owner = os.getpid()
_parents: list[duckdb.DuckDBPyConnection] = []  # every database of this process, for the forked child to forget


def connect(**config: Any) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with ``config`` (e.g. ``memory_limit``) and no progress bar.

    The connection is a cursor of a database this caller has to itself until it closes
    (and drops) the connection; settings outside :data:`DATABASE_SETTINGS` open a new
    database for it alone.
    """
    if not set(config) <= set(DATABASE_SETTINGS):
        con = duckdb.connect(config=config)
        con.execute("SET enable_progress_bar = false")
        return con
    while True:
        database, new = _borrow()
        try:
            con = database.cursor()
            for name in DATABASE_SETTINGS:
                if name in config:
                    con.execute(f"SET {name} = {_literal(config[name])}")
                else:
                    con.execute(f"RESET {name}")
            con.execute("SET enable_progress_bar = false")
            schema = f"use_{next(_uses)}"
            con.execute(f"CREATE SCHEMA {schema}")
            con.execute(f"SET schema = '{schema}'")
        except duckdb.InterruptException:  # Ctrl-C, taken by DuckDB: the caller's KeyboardInterrupt
            _discard(database)
            raise KeyboardInterrupt from None
        except duckdb.Error:
            _discard(database)
            if new:
                raise  # a new database refuses the caller's config: the caller's error
            continue  # a used one that cannot be put back as new: another
        weakref.finalize(con, _give_back, database, schema).atexit = False
        return con


def _literal(value: Any) -> str:
    """A setting's value as SQL: numbers and booleans as they are, anything else as a quoted string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _borrow() -> tuple[duckdb.DuckDBPyConnection, bool]:
    """An idle database of this process, or a new one (and whether it is new)."""
    with _lock:
        if _idle:
            return _idle.pop(), False
        database = duckdb.connect()
        _parents.append(database)
        return database, True


def _give_back(database: duckdb.DuckDBPyConnection, schema: str) -> None:
    """Called when a lent cursor is gone: drop what the use made, then keep the database for the next."""
    if os.getpid() != _owner:
        return  # a parent's database in a forked child: never touched here
    try:
        cleanup = database.cursor()
        try:
            cleanup.execute(f"DROP SCHEMA {schema} CASCADE")
        finally:
            cleanup.close()
    except (KeyboardInterrupt, duckdb.InterruptException):
        # Ctrl-C while this runs, which is whenever the collector frees a cursor: raised here, in a
        # finalizer, it would be printed and lost, and the command would go on. Hand it back to
        # the main thread once this has returned.
        _discard(database)
        threading.Thread(target=_interrupt_main_soon, daemon=True).start()
        return
    except duckdb.Error:
        _discard(database)
        return
    with _lock:
        if len(_idle) < KEEP_IDLE:
            _idle.append(database)
            return
    _discard(database)


def _interrupt_main_soon() -> None:
    """Raise ``KeyboardInterrupt`` in the main thread once it has left the give-back.

    A fixed wait is not enough: on a loaded machine the main thread may still be inside the
    finalizer (starting this thread) when the wait is over, and the interrupt would be lost there.
    """
    main = threading.main_thread().ident
    for _ in range(INTERRUPT_POLLS):
        time.sleep(INTERRUPT_DELAY)
        frame = sys._current_frames().get(main) if main is not None else None  # noqa: SLF001
        if not _in_finalizer(frame):
            break
    _thread.interrupt_main()


def _in_finalizer(frame: FrameType | None) -> bool:
    """Whether ``frame`` or a frame that called it is the give-back or the finalizer that runs it."""
    finalizer = (_give_back.__code__, weakref.finalize.__call__.__code__)
    while frame is not None:
        if frame.f_code in finalizer:
            return True
        frame = frame.f_back
    return False


#: seconds between looks at whether the main thread has left the finalizer, and how many looks at most
INTERRUPT_DELAY = 0.01
INTERRUPT_POLLS = 1000


def _discard(database: duckdb.DuckDBPyConnection) -> None:
    with _lock:
        if database in _parents:
            _parents.remove(database)
    with contextlib.suppress(duckdb.Error):  # closing an in-memory database does not fail
        database.close()


def _forget_after_fork() -> None:
    """In a forked child: keep the parent's databases alive for ever (never destroyed) and lend none of them."""
    global _owner, _lock
    _owner, _lock = os.getpid(), threading.RLock()  # another thread may have held the lock at the fork
    for database in _parents:
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(database))
    _parents.clear()
    _idle.clear()


os.register_at_fork(after_in_child=_forget_after_fork)
