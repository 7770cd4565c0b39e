"""DuckDB connections never draw their progress bar on a command's stdout; databases are reused, never shared."""

from __future__ import annotations

import gc
import subprocess
import sys
import threading
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from scraper import duck


def test_connections_have_no_progress_bar_and_take_their_limits() -> None:
    con = duck.connect(memory_limit="300MB", threads=1)
    try:
        bar, limit, threads = con.execute(
            "select current_setting('enable_progress_bar'), current_setting('memory_limit'), current_setting('threads')"
        ).fetchone() or (None, None, None)
    finally:
        con.close()
    assert bar is False
    assert limit == "286.1 MiB"  # 300 MB
    assert threads == 1


def test_a_closed_connection_lends_its_database_to_the_next_with_nothing_left_over() -> None:
    """The costly part (a new database) happens once; each use still starts as on a new database."""
    first = duck.connect(memory_limit="300MB", threads=1, temp_directory="/nonexistent-spill")
    first.execute("SET preserve_insertion_order = false")
    first.from_arrow(pa.table({"x": [1, 2, 3]})).create_view("c")
    first.execute("create table t as select 1 as y")
    first.execute("create temp table tt as select 1 as y")
    first.execute("create or replace macro epoch(t, v) as 0")  # shadows the built-in for this use only
    assert first.execute("select epoch(1, 2)").fetchall() == [(0,)]
    opened = list(duck._parents)
    first.close()
    del first
    second = duck.connect()
    try:
        assert duck._parents == opened  # no new database
        fresh = duckdb.connect()
        names = ", ".join(f"current_setting('{name}')" for name in duck.DATABASE_SETTINGS)
        assert second.execute(f"select {names}").fetchall() == fresh.execute(f"select {names}").fetchall()
        fresh.close()
        leftovers = second.execute(
            "select view_name from duckdb_views() where not internal union all select table_name from duckdb_tables() "
            "union all select function_name from duckdb_functions() where not internal"
        ).fetchall()
        assert leftovers == []
        assert second.execute("select epoch(TIMESTAMP '2020-01-01 00:00:00')").fetchall() == [(1577836800.0,)]
    finally:
        second.close()


def test_connections_held_at_once_never_share_a_database() -> None:
    """Two holders (nested, or two threads) each get a database: neither sees the other's views or settings."""
    a = duck.connect(memory_limit="300MB")
    b = duck.connect(memory_limit="200MB")
    try:
        a.from_arrow(pa.table({"x": [1, 2, 3]})).create_view("c")
        b.from_arrow(pa.table({"x": [1]})).create_view("c")
        assert a.execute("select count(*), current_setting('memory_limit') from c").fetchall() == [(3, "286.1 MiB")]
        assert b.execute("select count(*), current_setting('memory_limit') from c").fetchall() == [(1, "190.7 MiB")]
    finally:
        a.close()
        b.close()

    counts: dict[int, set[int]] = {}

    def work(n: int) -> None:
        for _ in range(15):
            con = duck.connect()
            con.from_arrow(pa.table({"x": list(range(n))})).create_view("c")
            row = con.execute("select count(*) from c").fetchone()
            counts.setdefault(n, set()).add(row[0] if row else -1)
            con.close()
            del con

    threads = [threading.Thread(target=work, args=(n,)) for n in (3, 5, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counts == {3: {3}, 5: {5}, 7: {7}}
    assert len(duck._idle) <= duck.KEEP_IDLE


def test_a_refused_setting_is_the_callers_error_and_the_next_use_works() -> None:
    with pytest.raises(duckdb.Error):
        duck.connect(threads=-5)
    con = duck.connect()
    try:
        assert con.execute("select 42").fetchall() == [(42,)]
    finally:
        con.close()


FORK = """
import os, sys
import duckdb
from scraper import duck
held = duck.connect()
held.execute("select 1").fetchall()
pid = os.fork()
if pid == 0:
    con = duck.connect()
    print(con.execute("select 42").fetchone()[0], flush=True)
    con.close()
    del held, con
    sys.exit(0)  # a normal exit: the parent's database must not be destroyed here (it would wait for ever)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status), held.execute("select 7").fetchone()[0])
"""


def test_a_forked_child_opens_its_own_database_and_exits_cleanly() -> None:
    done = subprocess.run([sys.executable, "-c", FORK], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["42", "0", "7"]


def test_a_cursor_the_garbage_collector_frees_inside_connect_is_given_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cursor held in a reference cycle (a traceback, say) is freed whenever the collector runs,
    also inside ``connect`` while it holds the pool's lock: giving it back there must not deadlock."""

    class Box:
        pass

    real_connect = duckdb.connect

    def collecting_connect(*args: Any, **kwargs: Any) -> duckdb.DuckDBPyConnection:
        gc.collect()  # the collector runs here, as it may at any allocation
        return real_connect(*args, **kwargs)

    gc.disable()
    try:
        box = Box()
        box.self, box.con = box, duck.connect()  # type: ignore[attr-defined]
        del box
        monkeypatch.setattr(duck, "_idle", [])  # the next connect opens a database, under the lock
        monkeypatch.setattr(duckdb, "connect", collecting_connect)
        result: list[Any] = []
        worker = threading.Thread(target=lambda: result.append(duck.connect()), daemon=True)
        worker.start()
        worker.join(30)
        assert not worker.is_alive(), "connect deadlocked giving back a collected cursor"
    finally:
        gc.enable()
    result[0].close()
    assert len(duck._idle) == 1  # the collected cursor's database is idle again


GIVE_BACK_INTERRUPTED = """
import gc, signal, sys, threading, time, weakref
from scraper import duck

signal.signal(signal.SIGINT, signal.default_int_handler)  # a background job starts with Ctrl-C ignored

class Database:  # its clean-up is cut by Ctrl-C, as a real SIGINT during DROP SCHEMA would be
    closed = False
    def cursor(self):
        return self
    def execute(self, sql):
        raise KeyboardInterrupt
    def close(self):
        self.closed = True

class Cursor:
    pass

_start = threading.Thread.start
def late_start(self):  # a loaded machine: the main thread runs again only well after starting the helper
    _start(self)
    time.sleep(0.2)
threading.Thread.start = late_start

cursor, database = Cursor(), Database()
weakref.finalize(cursor, duck._give_back, database, "use_x")
try:
    del cursor
    gc.collect()
    deadline = time.monotonic() + 60  # the interrupt comes back once the finalizer has returned
    while time.monotonic() < deadline:
        time.sleep(0.01)
except KeyboardInterrupt:
    sys.exit(130 if database.closed else 3)
sys.exit(1)
"""


def test_ctrl_c_during_a_cursors_give_back_reaches_the_main_thread() -> None:
    """The give-back runs in a finalizer (whenever the collector frees a cursor): a KeyboardInterrupt
    raised there would be printed and lost, and the command would go on as if Ctrl-C had not come.
    In a process of its own: only a main thread gets Ctrl-C (xdist may run tests in another)."""
    done = subprocess.run(
        [sys.executable, "-c", GIVE_BACK_INTERRUPTED], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 130, (done.returncode, done.stderr[-500:])
