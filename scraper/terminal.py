"""What this tool writes for people reads as text, whatever the data holds, and a reader that leaves is no error.

Two things every line on stdout and stderr goes through (the CLI's chokepoints: :func:`scraper.cli.out`,
:func:`scraper.cli.print_table`, the ``err`` console and the log formatter):

- :func:`inert`: ids, names, titles and paths come from data (a Reddit answer, a downloaded manifest) and
  may hold terminal controls: an OSC ``ESC ] 0 ; … BEL`` sets the window title (OSC 52 the clipboard, OSC 8
  a hidden link), ``ESC [ 2 J`` clears the screen, U+202E turns the rest of a line around, a lone
  surrogate cannot be encoded at all.  Each such character is written as its escape (``\\x1b``,
  ``\\u202e``), so the text shows, recognisably, and does nothing.  Rich markup in data is never read
  as markup either (the consoles run with ``markup=False``; messages with markup escape their data).
  ``--json`` output stays exact JSON: :func:`inert_json` spells the same characters as JSON's own
  ``\\uXXXX`` escapes, so the parsed values are unchanged.
- :func:`reader_left`: ``validate D | head -1``, ``show D | less`` quit early, ``grep -q``: the reader
  closes the pipe and the next write fails with EPIPE.  That is not an I/O error (exit 74): the rest of
  that stream is dropped (the stream is pointed at ``os.devnull``, as the Python docs recommend for
  SIGPIPE) and the command ends as it would have, with its own exit code (0; ``validate``: its verdict).
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import IO, Any

# C0 and C1 controls and DEL, the line and paragraph separators, the bidirectional formatting
# characters (LRM, RLM, ALM, embeddings, overrides, isolates), and lone surrogates.  Joiners
# (U+200C/U+200D) stay: scripts and emoji need them, and they move nothing.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROLS = re.compile(f"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029{_BIDI}\ud800-\udfff]")
_CONTROLS_AND_NEWLINE = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{_BIDI}\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code == 0x0A:
        return "\\n"
    if code == 0x09:
        return "\\t"
    if code == 0x0D:
        return "\\r"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(text: str, *, newlines: bool = True) -> str:
    """``text`` with every terminal control written as its escape (``\\x1b``, ``\\u202e``).

    ``newlines=True`` keeps ``\\n`` (a message of several lines); ``False`` escapes it too (a table
    cell, one line of tab-separated values).
    """
    pattern = _CONTROLS if newlines else _CONTROLS_AND_NEWLINE
    return pattern.sub(_escape, text)


def inert_json(document: str) -> str:
    """A JSON document with the characters :func:`inert` escapes spelled as ``\\uXXXX``: the same values."""
    return _CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", document)


def json_text(payload: Any) -> str:
    """``payload`` as the JSON the CLI prints: sorted, indented, UTF-8, no terminal control raw."""
    return inert_json(json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False, default=str))


def reader_left(stream: IO[str]) -> None:
    """The reader of ``stream`` (stdout or stderr) is gone: what is still written to it goes to os.devnull."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a test's buffer): nothing to point away
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def flush_at_exit() -> None:
    """Flush stdout and stderr before the interpreter does, so a reader gone is not a line at exit."""
    for stream in (sys.stdout, sys.stderr):
        if stream is None:  # a stream this process never had (see ensure_streams)
            continue
        try:
            stream.flush()
        except BrokenPipeError:
            reader_left(stream)
        except (OSError, ValueError):
            pass


def ensure_streams() -> None:
    """Give a process started without stdin, stdout or stderr (``>&-``, ``2>&-``) ``/dev/null`` in their place.

    Python then has ``sys.stdout`` (or ``sys.stderr``) None, and every print, flush or ``isatty`` fails
    after the command has done its work (adversarial review 6, F2).  Worse, the first file the command
    opens would take the free descriptor 1 or 2, and what is printed for people would land in it.  So
    the descriptor is opened on ``/dev/null`` (as a daemon does) and the stream made on it: what goes
    there is dropped, as the caller asked by closing it, and the exit code is the run's own.
    """
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
        if getattr(sys, name) is None:
            setattr(sys, name, open(fd, mode, encoding="utf-8", errors="backslashreplace", closefd=False))  # noqa: SIM115
