"""Real processes without an interpreter start: forked from the test process, which has the tool imported.

A test about a process (its exit status, what reaches its standard streams through a pipe, a
signal or a kill it takes, a lock two of them contend for) needs a real process: its own pid,
file descriptors 0 to 2 on real pipes or ``/dev/null``, its own environment and working folder,
and the status the kernel reports for it.  It does not need a new interpreter importing pyarrow,
DuckDB and praw again (0.6 to 0.8 s of CPU a start).  :func:`run` and :class:`Forked` fork the
test process; the child runs ``python -m scraper ARGS`` (through ``runpy``, as ``python -m``
does) or a ``python -c`` script, starting from what a new interpreter would start with: the
given environment and folder, ``sys.argv``, SIGINT raising ``KeyboardInterrupt``, Python's
default warning filters and display, no logging handlers, no pytest capture, ``tempfile``'s
folder taken from the environment.  It ends with ``os._exit`` and the status an interpreter
gives: the ``SystemExit`` code (a message: printed, 1), a traceback and 1 for an uncaught
exception, a traceback and death by SIGINT for an uncaught ``KeyboardInterrupt``.
``tests/test_forked.py`` holds a child to a ``python -c`` of the same script on each of these.

What a forked child cannot show is what a *fresh* interpreter imports or reads once per process
(PRAW reads ``praw.ini`` at import; the command line keeps pandas out): those tests keep
``subprocess`` with ``sys.executable``, as do the README's demo and one kill of an exec'ed
collect.  The children are forked as the kill matrix's are: :mod:`scraper.duck` opens new
databases in a child; the fake servers' threads do not exist there.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import runpy
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

PIPE = subprocess.PIPE


def cli(*args: str) -> Callable[[], None]:
    """The body of ``python -m scraper ARGS``."""

    def body() -> None:
        sys.argv = ["-m", *args]  # runpy puts the module's path first, as `python -m` does
        runpy.run_module("scraper", run_name="__main__", alter_sys=True)

    return body


def script(code: str, *args: str) -> Callable[[], None]:
    """The body of ``python -c CODE ARGS``."""

    def body() -> None:
        sys.argv = ["-c", *args]
        exec(compile(code, "<string>", "exec"), {"__name__": "__main__"})

    return body


def _show_warning(message: warnings.WarningMessage) -> None:
    """Python's own way of showing a warning (pytest records them instead in the test process)."""
    stream = message.file or sys.stderr
    with contextlib.suppress(OSError):
        stream.write(warnings._formatwarnmsg(message))  # type: ignore[attr-defined]


def _fresh_interpreter_state(env: Mapping[str, str], cwd: str | Path | None) -> None:
    """In the child: what a new interpreter would start with, as far as the tests can tell."""
    os.environ.clear()
    os.environ.update(env)
    if cwd is not None:
        os.chdir(cwd)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # pytest's filters (warnings are errors) and its recording of warnings are the test process's
    warnings.resetwarnings()
    warnings.showwarning = warnings._showwarning_orig  # type: ignore[attr-defined]
    warnings._showwarnmsg_impl = _show_warning  # type: ignore[attr-defined]
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.simplefilter("ignore", category)
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
    root = logging.getLogger()
    for handler in list(root.handlers):  # pytest's capture handlers
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)
    tempfile.tempdir = None  # the test process points it at /dev/shm; a new process reads TMPDIR


def _child(body: Callable[[], None], env: Mapping[str, str], cwd: str | Path | None, fds: tuple[int, int, int]) -> None:
    """Runs in the forked child; never returns."""
    code = 1
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), line_buffering=os.isatty(1))
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), line_buffering=True, errors="backslashreplace")
        _fresh_interpreter_state(env, cwd)
        try:
            body()
            code = 0
        except SystemExit as exc:
            if exc.code is None:
                code = 0
            elif isinstance(exc.code, int):
                code = exc.code
            else:
                print(exc.code, file=sys.stderr)
                code = 1
        except KeyboardInterrupt:
            traceback.print_exc()
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            signal.signal(signal.SIGINT, signal.SIG_DFL)  # as the interpreter does: die by the signal
            os.kill(os.getpid(), signal.SIGINT)
        except BaseException:  # noqa: BLE001 - an uncaught exception: traceback and status 1, as python does
            traceback.print_exc()
            code = 1
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
    finally:
        os._exit(code & 0xFF)


class Forked:
    """A forked child running ``body``: the part of ``subprocess.Popen(..., text=True)`` the tests use."""

    def __init__(
        self,
        body: Callable[[], None],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        stdout: int | None = None,
        stderr: int | None = None,
    ) -> None:
        env = dict(os.environ if env is None else env)
        ours: list[int] = []
        theirs: list[int] = []
        null = os.open(os.devnull, os.O_RDWR)
        child_fds = [null, 1, 2]  # stdin from /dev/null; stdout and stderr inherited unless piped
        for index, wanted in ((1, stdout), (2, stderr)):
            if wanted == PIPE:
                read, write = os.pipe()
                ours.append(read)
                theirs.append(write)
                child_fds[index] = write
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            for fd in ours:
                os.close(fd)
            _child(body, env, cwd, (child_fds[0], child_fds[1], child_fds[2]))
        self.pid = pid
        self.returncode: int | None = None
        for fd in [*theirs, null]:
            os.close(fd)
        readers = iter(ours)
        self.stdout = open(next(readers), encoding="utf-8", errors="replace") if stdout == PIPE else None  # noqa: SIM115
        self.stderr = open(next(readers), encoding="utf-8", errors="replace") if stderr == PIPE else None  # noqa: SIM115

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(["forked"], timeout or 0)
            time.sleep(0.002)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, number: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, number)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def communicate(self, timeout: float | None = None) -> tuple[str | None, str | None]:
        """Read both pipes to their end (one thread each, so a full pipe never blocks the child), then wait."""
        streams = [self.stdout, self.stderr]
        texts: list[str | None] = [None, None]

        def drain(index: int) -> None:
            stream = streams[index]
            if stream is not None:
                texts[index] = stream.read()
                stream.close()

        readers = [threading.Thread(target=drain, args=(i,), daemon=True) for i in range(2)]
        for reader in readers:
            reader.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        for reader in readers:
            reader.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if reader.is_alive():
                self.kill()
                self.wait()
                raise subprocess.TimeoutExpired(["forked"], timeout or 0)
        self.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return texts[0], texts[1]


def run(
    body: Callable[[], None],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float = 120,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(..., capture_output=True, text=True)`` for a forked child."""
    child = Forked(body, env=env, cwd=cwd, stdout=PIPE, stderr=PIPE)
    out, err = child.communicate(timeout=timeout)
    assert child.returncode is not None
    done: subprocess.CompletedProcess[str] = subprocess.CompletedProcess(["forked"], child.returncode, out, err)
    if check:
        done.check_returncode()
    return done


__all__ = ["PIPE", "Forked", "cli", "run", "script"]
