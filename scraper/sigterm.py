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


STATE = _State()


def _on_sigterm(signum: int, frame: Any) -> None:
    """The SIGTERM handler: raise :class:`Terminated` in the command's body, once; else note it."""
    if STATE.armed and not STATE.raised:
        STATE.raised = True
        TERMINATED.set()  # what a DuckDB query raises in its place does not say it was SIGTERM
        raise Terminated
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
        STATE.raised = True
        raise KeyboardInterrupt
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
    TERMINATED.clear()
    hold()


def arm() -> None:
    """The command's body starts: a SIGTERM noted before it is raised now, one arriving later at once."""
    STATE.armed = True
    if STATE.pending and not STATE.raised:
        STATE.pending = STATE.pending_int = False
        STATE.raised = True
        TERMINATED.set()
        raise Terminated
    if STATE.pending_int and not STATE.raised:
        STATE.pending_int = False
        STATE.raised = True
        raise KeyboardInterrupt


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
