"""Watching a run: its events as log records, and what turns them into progress for people.

The library reports what a run does through :mod:`logging` only.  Each record
that marks a step carries two extra attributes, ``event`` (a name below) and
``fields`` (a JSON-ready dict), so one channel serves every watcher:

- ``-v`` prints the INFO records as lines on stderr;
- ``--log-json FILE`` writes every record as a JSON line, events with their fields;
- on a terminal, :class:`RichProgress` draws bars from the events (searches
  done, threads done, comments held in the current thread);
- elsewhere (cron, CI, a pipe), :class:`PeriodicProgress` writes one summary
  line every ``SCRAPER_PROGRESS_EVERY`` seconds (default 30).

========================  =======  ============================================================
event                     level    fields
========================  =======  ============================================================
``discovery``             INFO     searches, seeds
``search-page``           INFO     search, searches, subreddit, query, page, results, new, found, last
``discovered``            INFO     threads, filtered_out
``threads``               INFO     total, finished (already, in a resumed run)
``thread-start``          INFO     link, index, total
``thread-step``           DEBUG    link, held, stated, requests
``thread-done``           INFO     link, index, total, held, stated, requests, unresolved
``retry``                 WARNING  url, fault, attempt, max_retries, wait, gives_up_after
``rate-limited``          WARNING  url, wait, attempt, max_waits
``info-batch``            INFO     batch, batches (refresh: one ``/api/info`` call of 100 items)
``version``               INFO     dataset, version, path, submissions, comments
========================  =======  ============================================================
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from scraper.terminal import inert

EVENT_LEVELS = {
    "discovery": logging.INFO,
    "search-page": logging.INFO,
    "discovered": logging.INFO,
    "threads": logging.INFO,
    "thread-start": logging.INFO,
    "thread-step": logging.DEBUG,
    "thread-done": logging.INFO,
    "retry": logging.WARNING,
    "rate-limited": logging.WARNING,
    "info-batch": logging.INFO,
    "version": logging.INFO,
    "no-change": logging.INFO,
}
PROGRESS_EVERY_ENV = "SCRAPER_PROGRESS_EVERY"


def emit(logger: logging.Logger, name: str, message: str, *args: Any, **fields: Any) -> None:
    """Log one event: ``message % args`` for people, ``name`` and ``fields`` for programs."""
    logger.log(EVENT_LEVELS[name], message, *args, extra={"event": name, "fields": fields})


def event_of(record: logging.LogRecord) -> tuple[str, dict[str, Any]] | None:
    """The event a log record carries, if any."""
    name = getattr(record, "event", None)
    if not isinstance(name, str):
        return None
    fields = getattr(record, "fields", None)
    return name, fields if isinstance(fields, dict) else {}


def plural(n: int, word: str) -> str:
    """``1 thread``, ``2 threads``, ``1,234 comments``, ``105 searches``."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}{'es' if word.endswith(('ch', 's')) else 's'}"


class RunState:
    """Where a run stands, folded from its events."""

    def __init__(self) -> None:
        self.searches = 0
        self.searches_done = 0
        self.found = 0
        self.threads = 0
        self.threads_done = 0
        self.thread: str | None = None
        self.held = 0
        self.stated: int | None = None
        self.requests = 0

    def fold(self, name: str, fields: dict[str, Any]) -> None:
        """Take one event in."""
        if name == "discovery":
            self.searches = int(fields.get("searches") or 0)
        elif name == "search-page":
            self.found = int(fields.get("found") or 0)
            if fields.get("last"):
                self.searches_done = int(fields.get("search") or 0)
        elif name == "threads":
            self.threads = int(fields.get("total") or 0)
            self.threads_done = int(fields.get("finished") or 0)
        elif name == "thread-start":
            self.thread, self.held, self.stated = str(fields.get("link")), 0, None
        elif name == "thread-step":
            self.held = int(fields.get("held") or 0)
            self.stated = fields.get("stated")
        elif name == "thread-done":
            self.threads_done += 1
            self.thread = None
            self.requests += int(sum((fields.get("requests") or {}).values()))

    def line(self) -> str:
        """One line for a log: where the run stands."""
        parts = []
        if self.searches:
            parts.append(f"searches {self.searches_done}/{self.searches} ({plural(self.found, 'thread')} found)")
        if self.threads:
            parts.append(f"threads {self.threads_done}/{self.threads}")
        if self.thread is not None:
            stated = "?" if self.stated is None else f"{self.stated:,}"
            parts.append(f"t3_{self.thread}: {self.held:,} of {stated} comments")
        return "progress: " + ("; ".join(parts) or "starting")


class PeriodicProgress(logging.Handler):
    """When stderr is not a terminal: one progress line every ``every`` seconds, from the events."""

    def __init__(self, stream: Any, every: float | None = None, clock: Any = time.monotonic) -> None:
        super().__init__(level=logging.DEBUG)
        self.stream = stream
        if every is None:
            every = float(os.environ.get(PROGRESS_EVERY_ENV) or 30)
        self.every = every
        self.clock = clock
        self.state = RunState()
        self.last = clock()

    def emit(self, record: logging.LogRecord) -> None:
        found = event_of(record)
        if found is None:
            return
        self.state.fold(*found)
        now = self.clock()
        if now - self.last >= self.every and found[0] not in ("version",):
            self.last = now
            self.stream.write(self.state.line() + "\n")
            self.stream.flush()


class RichProgress(logging.Handler):
    """On a terminal: rich progress bars for discovery, the threads and the thread being expanded."""

    def __init__(self, console: Any) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        super().__init__(level=logging.DEBUG)
        self.progress = Progress(
            TextColumn("{task.description}", markup=False),  # descriptions hold names from the data
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.tasks: dict[str, Any] = {}

    def _task(self, key: str, description: str, total: float | None) -> Any:
        if key not in self.tasks:
            self.progress.start()
            self.tasks[key] = self.progress.add_task(description, total=total)
        return self.tasks[key]

    def emit(self, record: logging.LogRecord) -> None:
        found = event_of(record)
        if found is None:
            return
        name, f = found
        if name == "discovery":
            self._task("search", "searching", f.get("searches") or None)
        elif name == "search-page":
            task = self._task("search", "searching", f.get("searches") or None)
            description = f"searching r/{f.get('subreddit')}: {plural(int(f.get('found') or 0), 'thread')} found"
            self.progress.update(task, description=inert(description), completed=int(f.get("search") or 1) - 1)
            if f.get("last"):
                self.progress.update(task, completed=int(f.get("search") or 0))
        elif name == "threads":
            self._task("threads", "threads", f.get("total") or None)
            self.progress.update(self.tasks["threads"], completed=int(f.get("finished") or 0))
        elif name == "thread-start":
            task = self._task("thread", "", None)
            self.progress.update(task, description=inert(f"t3_{f.get('link')} comments"), completed=0, total=None)
        elif name == "thread-step":
            task = self._task("thread", "", None)
            stated = f.get("stated")
            self.progress.update(task, completed=int(f.get("held") or 0), total=stated)
        elif name == "thread-done" and "threads" in self.tasks:
            self.progress.advance(self.tasks["threads"])

    def close(self) -> None:
        self.progress.stop()
        super().close()
