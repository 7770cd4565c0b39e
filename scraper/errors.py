"""Every error the tool raises on purpose, in one tree, and the one place foreign errors join it.

::

    ScraperError                 base; carries an exit code for the CLI
    ├── ConfigError              exit 2: bad dataset.toml, missing credentials, bad options
    │   └── CredentialsMissing   exit 2: no Reddit credentials configured at all
    ├── RedditError              exit 1: Reddit refused a request for good (403, 404, 400)
    │   ├── AuthError            exit 2: credentials rejected by the token endpoint
    │   ├── SubredditUnavailable exit 1: unknown, private, banned or quarantined subreddit
    │   ├── TooManyIds           (internal) an id list refused as too long: expansion splits it
    │   └── ThreadUnavailable    exit 1: a seed thread that is deleted or private
    ├── ArchiveError             exit 1: the Arctic Shift API refused a request (400, bad answer)
    ├── TransientError           exit 75: network down, 5xx or 429 after retries, the Dask cluster lost: try again later
    │   └── BudgetExhausted      exit 75: --max-requests or --deadline reached; run again to continue
    ├── SnapshotError            exit 1: a version exists already, a staging folder in use
    │   └── IntegrityError       exit 1: a file, manifest or index that is damaged or does not match its checksum
    │       └── RawArchiveDamaged exit 1: a raw archive damaged other than by a torn last record
    ├── StorageError             exit 74: a file could not be written or read: disk full, read-only, permission
    ├── Locked                   exit 73: another run holds the dataset's lock
    ├── InputError               exit 1: a file given to ingest that is not a Reddit response
    └── InternalError            exit 70: a bug in this tool (an error no layer expected); please report it

    KeyboardInterrupt            exit 130: Ctrl-C (SIGINT)
    └── Terminated               exit 143: SIGTERM (systemctl stop, a scheduler's timeout), stopped like Ctrl-C

Exit codes (also in the README):

====  ==========================================================================
code  meaning
====  ==========================================================================
0     done
1     needs a person: Reddit refused something, bad or damaged input, a problem in the run
2     usage or configuration error: options, dataset.toml, credentials
70    internal error: a bug; the line names the exception, ``-vv`` shows the traceback
73    another writer holds the dataset's lock (``--wait`` queues behind it)
74    I/O error: disk full, read-only folder, no permission; the line names the path and the
      cause; earlier versions are intact and the same command continues once fixed
75    try again later: network down, Reddit or Arctic Shift failing, rate limiting, a budget reached,
      a lost Dask cluster
130   interrupted (Ctrl-C); what was fetched is kept and the same command continues
143   terminated (SIGTERM); as 130: the ``--summary`` is written, the same command continues
====  ==========================================================================

Like httpx, which maps the transport's exceptions onto its own tree in one
place, third-party errors (``OSError``, pyarrow, ``json``, ``tomllib``, prawcore,
httpx, ``UnicodeDecodeError``, ``RecursionError``) are translated once, by
:func:`from_exception`, at the CLI's boundary; the library translates them earlier
where it knows better what the item is (a manifest, a spec, a downloaded file).
Messages name the item and say what to do next.
"""

from __future__ import annotations

import errno as _errno
import json
import os
import re
import sys
import threading
import tomllib
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_NEEDS_PERSON = 1
EXIT_CONFIG = 2
EXIT_INTERNAL = 70  # EX_SOFTWARE from sysexits.h: a bug in this tool
EXIT_LOCKED = 73  # EX_CANTCREAT from sysexits.h: another run is writing this dataset
EXIT_IO = 74  # EX_IOERR from sysexits.h: disk full, read-only folder, no permission
EXIT_TRY_LATER = 75  # EX_TEMPFAIL from sysexits.h, understood by schedulers
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C; the run continues next time
EXIT_TERMINATED = 143  # 128 + SIGTERM, as shells report it; a stop from outside, handled like Ctrl-C


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread by the CLI's handler, so a run stops as on Ctrl-C.

    A KeyboardInterrupt, so that every clean-up made for Ctrl-C runs for it too (the run's
    checkpoints, the ``--summary``); the CLI exits with :data:`EXIT_TERMINATED`.
    """


#: Set by the CLI's SIGTERM handler: DuckDB runs Python's signal handlers inside a query and raises its
#: own "Query interrupted" in place of :class:`Terminated`, keeping nothing of it, so the exit code
#: cannot be read from the exception alone.
TERMINATED = threading.Event()


def interrupt_exit_code(exc: BaseException | None) -> int:
    """130 for Ctrl-C, 143 for SIGTERM (``exc`` or what it was raised from, as click's Abort is, or a
    SIGTERM received during the command: :data:`TERMINATED`)."""
    if TERMINATED.is_set():
        return EXIT_TERMINATED
    while exc is not None:
        if isinstance(exc, Terminated):
            return EXIT_TERMINATED
        exc = exc.__cause__ or exc.__context__
    return EXIT_INTERRUPTED


class ScraperError(Exception):
    """Base of every error this tool raises on purpose."""

    exit_code = EXIT_NEEDS_PERSON


class ConfigError(ScraperError):
    """The configuration, the dataset spec or the command line is wrong."""

    exit_code = EXIT_CONFIG


class CredentialsMissing(ConfigError):
    """No Reddit credentials are configured (an archive-only run can go on without them)."""


class RedditError(ScraperError):
    """Reddit answered a request with a refusal that retrying will not fix."""


class AuthError(RedditError):
    """The OAuth token endpoint rejected the credentials."""

    exit_code = EXIT_CONFIG


class SubredditUnavailable(RedditError):
    """A subreddit in the spec does not exist or cannot be read."""


class ThreadUnavailable(RedditError):
    """A seed thread does not exist (any more) or cannot be read."""


class ArchiveError(ScraperError):
    """An archive (the Arctic Shift API) refused a request for good; retrying will not help."""


class TransientError(ScraperError):
    """A fault that may pass: network, server errors, rate limits."""

    exit_code = EXIT_TRY_LATER


class BudgetExhausted(TransientError):
    """The run's request budget or deadline was reached; what was collected is kept."""


class TooManyIds(RedditError):
    """Reddit refused an id list as too long (400, 413 or 414): split it and ask again."""


class SnapshotError(ScraperError):
    """A snapshot cannot be written or read as asked."""


class IntegrityError(SnapshotError):
    """Data that is damaged or does not match its manifest or index: a tampered or broken copy."""


class RawArchiveDamaged(IntegrityError):
    """A raw archive file with damage other than a torn last record; ``offset`` is where it starts.

    Raised before anything is changed: the file is neither cut nor appended to.
    """

    def __init__(self, message: str, *, path: Path, offset: int) -> None:
        super().__init__(message)
        self.path = path
        self.offset = offset

    def __reduce__(self) -> tuple[Any, ...]:  # raised in an ingest worker process, re-raised in the caller
        return (_raw_archive_damaged, (str(self), self.path, self.offset))


def _raw_archive_damaged(message: str, path: Path, offset: int) -> RawArchiveDamaged:
    return RawArchiveDamaged(message, path=path, offset=offset)


class StorageError(ScraperError):
    """The file system refused a read or write: disk full, read-only, no permission, an I/O fault."""

    exit_code = EXIT_IO


class Locked(ScraperError):
    """Another run holds the dataset's lock."""

    exit_code = EXIT_LOCKED


class InputError(ScraperError):
    """A file given to ingest is not a Reddit API response this tool understands."""


class InternalError(ScraperError):
    """An error no layer expected: a bug in this tool."""

    exit_code = EXIT_INTERNAL


_ADVICE = {
    _errno.ENOSPC: "free some space and run the same command again; earlier versions are intact",
    _errno.EDQUOT: "free some space (quota) and run the same command again; earlier versions are intact",
    _errno.EROFS: "the file system is read-only; remount it or choose another folder",
    _errno.EACCES: "check the folder's permissions or choose another folder",
    _errno.EPERM: "check the folder's permissions or choose another folder",
    _errno.ELOOP: "a symbolic link points back at itself; fix or remove it",
    _errno.ENOENT: "check the path",
    _errno.ENOTDIR: "a part of the path is a file, not a folder; check the path",
    _errno.EISDIR: "a folder stands where a file is expected; check the path",
    _errno.EIO: "the device reported an I/O error; check the disk",
    _errno.EFBIG: "a file grew past the file system's limit",
    _errno.EINTR: "a stop came first; start the reader before the command next time",  # a FIFO's (outfile.py)
}
_ERRNO_IN_TEXT = re.compile(r"\[errno (\d+)\]", re.IGNORECASE)


def os_errno(exc: OSError) -> int | None:
    """The errno of ``exc``; pyarrow folds it into its text.  None for pyarrow's own OSErrors
    about the bytes it read (a damaged Parquet page: "Couldn't deserialize thrift"), which are
    not the system's.
    """
    if exc.errno is None and (found := _ERRNO_IN_TEXT.search(str(exc))):
        return int(found.group(1))
    return exc.errno


def storage_error(exc: OSError, path: str | Path | None = None) -> StorageError:
    """One line for a failed read or write: the path, the cause (errno name) and what to do."""
    code = os_errno(exc)
    where = path if path is not None else (exc.filename or "a file")
    cause = exc.strerror or (os.strerror(code) if code else str(exc)) or exc.__class__.__name__
    name = _errno.errorcode.get(code or -1)
    advice = _ADVICE.get(code or -1, "check the path and the disk")
    return StorageError(f"cannot use {where}: {cause}{f' ({name})' if name else ''}; {advice}")


#: What Arrow says when a string array would pass 2 GiB (its 32-bit offsets): a size limit, not damage.
_ARROW_TOO_LARGE = ("offset overflow", "input array too large")


def arrow_too_large(exc: BaseException) -> bool:
    """Whether ``exc`` is Arrow refusing more text than one string array holds (2 GiB), not damage."""
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is None or not isinstance(exc, pyarrow.ArrowException):
        return False
    return isinstance(exc, pyarrow.ArrowCapacityError) or any(too in str(exc) for too in _ARROW_TOO_LARGE)


def from_exception(exc: BaseException, *, where: str | None = None) -> ScraperError:
    """The error of this tree that stands for ``exc``, a foreign exception that reached the boundary.

    ``where`` names what the command was working on, for errors that do not carry a path.
    """
    if isinstance(exc, ScraperError):
        return exc
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None and isinstance(exc, pyarrow.ArrowException):
        if isinstance(exc, OSError) and _ERRNO_IN_TEXT.search(str(exc)):
            return storage_error(exc, where)
        if arrow_too_large(exc):
            return InputError(  # Arrow's 2 GiB a string array, not damage (adversarial review 4 F2)
                f"{where or 'the input'}: more text in one place than Arrow holds ({first_line(exc)}); "
                "give the input in smaller parts (fewer files, or fewer copies of a huge item) at a time"
            )
        return IntegrityError(
            f"{where or 'a Parquet file'} is damaged or not Parquet ({first_line(exc)}); "
            "run validate, and restore the version from a published copy (download)"
        )
    if type(exc).__module__.partition(".")[0] == "distributed":  # CommClosedError and the like: the cluster went away
        return TransientError(
            f"lost the Dask cluster ({exc.__class__.__name__}: {first_line(exc)}); the dataset is unchanged: "
            "run the same command again once the scheduler is up"
        )
    if isinstance(exc, OSError):
        if exc.errno is None and not _ERRNO_IN_TEXT.search(str(exc)):  # a reader's complaint (pyarrow: thrift)
            return IntegrityError(
                f"{where or 'a file'} is damaged or unreadable ({first_line(exc)}); run validate, and restore "
                "the version from a published copy (download)"
            )
        return storage_error(exc, exc.filename or where)
    if isinstance(exc, RecursionError):
        return InputError(f"{where or 'the input'} is nested too deeply to read; it is not a file this tool wrote")
    if isinstance(exc, MemoryError):  # the machine's limit, not a fault of ``where`` (a dataset is read in batches)
        return ScraperError(
            f"ran out of memory{f' while working on {where}' if where else ''}; free memory or raise the limit "
            "(ulimit -v, the container's) and run the same command again"
        )
    if isinstance(exc, UnicodeError):
        return InputError(f"{where or 'the input'} is not valid UTF-8 text ({first_line(exc)})")
    if isinstance(exc, tomllib.TOMLDecodeError):
        return ConfigError(f"{where or 'the spec'} is not valid TOML ({first_line(exc)})")
    if isinstance(exc, json.JSONDecodeError):
        return InputError(f"{where or 'a file'} is not JSON ({first_line(exc)})")
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(exc, httpx.TransportError):
        return TransientError(f"network error ({exc.__class__.__name__}); try again later")
    prawcore = sys.modules.get("prawcore")
    if prawcore is not None and isinstance(exc, prawcore.PrawcoreException):
        if isinstance(exc, prawcore.RequestException):
            return TransientError(f"cannot reach Reddit ({exc.__class__.__name__}); try again later")
        return RedditError(f"Reddit refused a request ({first_line(exc)})")
    return InternalError(
        f"internal error {exc.__class__.__name__}: {first_line(exc)} "
        f"{f'(while working on {where}) ' if where else ''}— a bug in this tool; run with -vv for the traceback "
        "and report it"
    )


def first_line(exc: BaseException) -> str:
    """The error's first line, short, with any character a terminal would act on shown as ``?``."""
    lines = str(exc).strip().splitlines()
    line = lines[0][:300] if lines else type(exc).__name__
    return "".join(c if c.isprintable() else "?" for c in line)
