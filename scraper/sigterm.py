"""SIGTERM in the command-line process: never fatal, raised only where the command can stop cleanly.

A stop from outside (``systemctl stop``, a scheduler's timeout, often sent twice) stops a command
as Ctrl-C does: :class:`~scraper.errors.Terminated` is raised in its body, which prints its one line,
writes its ``--summary`` and exits 143.  SIGTERM's default action kills the process at once, so a
stop that landed before the command's body ran (while the command line was importing or parsing
its arguments) or after the command line had put the default back ended the process with status
143 and no line and no summary, and a stop landing while the summary was written cut it short.

So the process never leaves SIGTERM at its default: :func:`hold`, the first thing ``python -m
scraper`` (and the console script) does, notes a SIGTERM instead of dying of it.  The command
raises a noted SIGTERM when its body starts (:func:`arm`: the ``--summary`` wrapper's first step,
or the error boundary's for a command without one) and one arriving while the body runs at once;
the first only, later ones are noted and ignored while the command stops.  After the body
(:func:`disarm`: before the summary is written) a SIGTERM is noted and ignored: how the run ended
is decided and being recorded.  ``tests/test_sigterm.py`` sends two real SIGTERMs to a real
process at each of these moments.

Ctrl-C (SIGINT) is held the same way in the command line's own process (adversarial review 6, F4):
``KeyboardInterrupt`` in the body as Python raises it, noted before the body (no traceback from an
import), ignored after a stop was raised or the body ended; the first of the two signals decides
the exit code (143 or 130), and the summary records that one.

A stop is raised once, where the signal lands; where Python cannot raise it (a finalizer, a weakref
callback, a fork or import hook: "Exception ignored") it is noted until the error boundary sees it
(:func:`seen`) and raised again at the body's next safe point (:func:`checkpoint`: every durable step,
each item of the engine's loop, the end of the body).  When the command line ends, CPython's mark of an
unhandled ``KeyboardInterrupt`` is cleared (:func:`forget_python_interrupt_mark`): the process exits
with the code the command decided, never killed by SIGINT.  A stop raised inside a library's
critical section can leave its lock taken: the HTTP clients' pools are made so that the way out
never waits on it for ever (:mod:`scraper.httpstop`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
from typing import Any

from scraper.errors import TERMINATED, Terminated


class _State:
    armed = False  # the command's body runs: a SIGTERM is raised there
    pending = False  # a SIGTERM arrived while nothing could stop cleanly yet (before the body)
    pending_int = False  # ... or a Ctrl-C (the command line's own process only: see hold)
    raised = False  # Terminated was raised once in this command: later SIGTERMs are ignored
    ended = False  # the command's body has ended: later SIGTERMs are ignored
    late = False  # ... but noted: a wait that could last for ever (a FIFO's reader) gives up on it
    unseen: KeyboardInterrupt | None = None  # the stop raised in the body that its error boundary has not seen yet
    unseen_pid = 0  # ... in this process (a forked worker inherits the note, never acts on it)


STATE = _State()


def _on_sigterm(signum: int, frame: Any) -> None:
    """The SIGTERM handler: raise :class:`Terminated` in the command's body, once; else note it."""
    if STATE.armed and not STATE.raised:
        TERMINATED.set()  # what a DuckDB query raises in its place does not say it was SIGTERM
        _raise(Terminated())
    if not STATE.raised and not STATE.ended and not STATE.pending_int:  # a Ctrl-C noted first stays first
        STATE.pending = True  # raised when the command's body starts (arm)
    if STATE.ended:
        STATE.late = True


def _on_sigint(signum: int, frame: Any) -> None:
    """Ctrl-C in the command line's own process, held as SIGTERM is (adversarial review 6, F4).

    In the command's body it raises ``KeyboardInterrupt`` as Python's own handler does, once; before
    the body it is noted and raised when the body starts (no traceback from an import); after a stop
    was raised (a SIGTERM just before it) or after the body, it is noted and ignored, so the exit code
    is the one the summary records.
    """
    if STATE.armed and not STATE.raised:
        _raise(KeyboardInterrupt())
    if STATE.ended:
        STATE.late = True
    elif not STATE.raised and not STATE.pending:
        STATE.pending_int = True


def hold(*, process: bool = False) -> None:
    """From here on a SIGTERM is noted, not fatal (in the main thread; only it may set a handler).

    ``process``: the command line's own process (``python -m scraper``, the console script), which
    also ignores SIGTERM once its last exit handler has run (:func:`_ignore_from_here`).
    """
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGTERM, _on_sigterm)
    if process:
        signal.signal(signal.SIGINT, _on_sigint)
    if process:
        sys.unraisablehook = _unraisable
    if process and not _ATEXIT:
        _ATEXIT.append(True)
        atexit.register(_ignore_from_here)  # registered first: run last


_ATEXIT: list[bool] = []


def exiting(code: Any) -> None:
    """The command line ends with ``code`` (its line printed, its summary written): a SIGTERM from here on
    ends the process at once with that code, its output flushed, instead of killing it with another.

    The process may still wait (for a thread to end, for its exit handlers); a stop then ends it
    without changing how the run ended.
    """
    status = code if isinstance(code, int) else (0 if code is None else 1)

    def now(signum: int, frame: Any) -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(status)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, now)
        if signal.getsignal(signal.SIGINT) is _on_sigint:  # the command line's own process: Ctrl-C alike
            signal.signal(signal.SIGINT, now)


def _ignore_from_here() -> None:
    """The last exit handler: SIGTERM ignored for the rest of the exit.

    Python then puts back the default of every signal it handles in Python (never of an ignored
    one) and finalizes its modules: a SIGTERM there would kill the process after it decided its
    status (143 in place of 0, or a kill in place of 143).
    """
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def start() -> None:
    """A command line starts (its own or a test's process): our handler, nothing raised yet.

    A SIGTERM noted since :func:`hold` stays noted: the command raises it when its body starts.
    """
    STATE.armed = STATE.raised = STATE.ended = STATE.late = False
    STATE.unseen = None
    TERMINATED.clear()
    hold()


def arm() -> None:
    """The command's body starts: a SIGTERM noted before it is raised now, one arriving later at once."""
    STATE.armed = True
    if STATE.pending and not STATE.raised:
        STATE.pending = STATE.pending_int = False
        TERMINATED.set()
        _raise(Terminated())
    if STATE.pending_int and not STATE.raised:
        STATE.pending_int = False
        _raise(KeyboardInterrupt())


def _raise(stop: KeyboardInterrupt) -> None:
    """Raise the command's stop (the only one: later signals are ignored), noted until its boundary sees it."""
    STATE.raised = True
    STATE.unseen, STATE.unseen_pid = stop, os.getpid()
    raise stop


def seen() -> None:
    """The command's error boundary has the stop in hand (or what DuckDB raised in its place): it ends the run."""
    STATE.unseen = None


def raised_unseen() -> bool:
    """Whether this process's command raised a stop that its error boundary has not seen: an error reaching
    the boundary now is what a library made of it (pydantic-core's SchemaError for a Ctrl-C in an import)."""
    return STATE.unseen is not None and STATE.unseen_pid == os.getpid()


def checkpoint() -> None:
    """A safe point in the command's body: a stop that Python swallowed is raised again here.

    The handler raises where the signal lands, and some places only print an exception and go on
    ("Exception ignored in: ...": a finalizer, a weakref callback, logging's fork handler, the import
    machinery's lock callback).  The run then finished as if nothing had happened, wrote its version
    and exited 0, and the later signals were ignored as "the command is stopping" (adversarial review
    10, item 2).  So a stop stays noted until the command's error boundary sees it (:func:`seen`), and
    every durable step (:func:`scraper.store.killpoints.killpoint`), each item of the engine's loop and
    the end of the body call this: a noted stop, with no exception on its way out here, is raised again
    (the same kind: 130 or 143, its line, its summary).
    """
    stop = STATE.unseen
    if stop is None or not STATE.armed or STATE.unseen_pid != os.getpid():
        return
    if threading.current_thread() is not threading.main_thread():  # the body's own thread, where signals land
        return
    if sys.exc_info()[1] is not None:  # a finally or __exit__ on the stop's way out, or another error handled
        return
    _raise(Terminated() if isinstance(stop, Terminated) else KeyboardInterrupt())


def _unraisable(unraisable: Any) -> None:
    """Python's hook for an exception it cannot raise: our own stop is not printed (it is raised again)."""
    if STATE.unseen is not None and unraisable.exc_value is STATE.unseen:
        return  # lost where it landed: checkpoint raises it again at the body's next safe point
    _PYTHON_UNRAISABLE(unraisable)


_PYTHON_UNRAISABLE = sys.unraisablehook


def disarm() -> None:
    """The command's body has ended: a SIGTERM from here on is ignored."""
    STATE.armed = False
    STATE.ended = True


def stopped_late() -> bool:
    """Whether a SIGTERM arrived after the command's body ended (the run's status stands; waits give up)."""
    return STATE.late


def unanswered() -> bool:
    """Whether a SIGTERM arrived that no command body raised (none started: help, a usage error)."""
    return STATE.pending and not STATE.raised


def unanswered_interrupt() -> bool:
    """Whether a Ctrl-C arrived that no command body raised (none started: help, a usage error)."""
    return STATE.pending_int and not STATE.raised


def forget_python_interrupt_mark() -> None:
    """The command line has ended as it decided: the process exits with that status, never killed by SIGINT.

    CPython marks an "unhandled" ``KeyboardInterrupt`` whenever one leaves code run from a string
    (``exec``/``eval`` of text: every dataclass and namedtuple made while a module is imported), even
    when the command catches it further up, and at exit it kills itself with SIGINT instead of
    returning its status (adversarial review 10, item 3: a Ctrl-C landing during a lazy import ended
    the process "killed by SIGINT" after it printed "interrupted." and its summary recorded 130).
    Running a string that raises nothing clears the mark (CPython clears it on each such run).
    """
    exec("None")  # noqa: S102 - a constant: clears CPython's mark, runs nothing


def finish() -> None:
    """The command line is done: forget this command's SIGTERMs (a test's process runs many)."""
    STATE.armed = STATE.pending = STATE.pending_int = STATE.raised = STATE.ended = STATE.late = False
    STATE.unseen = None
