"""The command line: a thin skin over the library.

Each command parses its options, calls one library function and prints the
result.  One grammar for every command: the dataset folder is the first
argument, ``PATH``, and ``--dataset PATH`` is accepted as the same thing
(:class:`DatasetCommand`).  Data goes to stdout (the tables of ``versions``,
``show``, ``diff`` and ``validate``, every ``--json`` document), messages to
stderr.  Tables are drawn on a terminal and written as tab-separated values,
never wrapped or cut, when stdout is a pipe or a file.

Errors leave through one boundary, :class:`Boundary`: the library's
:class:`~scraper.errors.ScraperError` and any foreign error that escaped it
(mapped by :func:`scraper.errors.from_exception`) become one line on stderr,
a record in the ``--log-json`` file, and the documented exit code (the table
is in :mod:`scraper.errors` and the README): never a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from scraper import TOOL_NAME, __version__, sigterm
from scraper.errors import (
    EXIT_INTERRUPTED,
    EXIT_NEEDS_PERSON,
    EXIT_TERMINATED,
    ConfigError,
    InputError,
    StorageError,
    from_exception,
    interrupt_exit_code,
    storage_error,
)
from scraper.terminal import flush_at_exit, inert, json_text, reader_left

F = TypeVar("F", bound=Callable[..., Any])


def inert_table(table: Table) -> Table:
    """``table`` with its title, headers and text cells made inert (:func:`scraper.terminal.inert`), in place."""
    if isinstance(table.title, str):
        table.title = inert(table.title, newlines=False)
    for column in table.columns:
        if isinstance(column.header, str):
            column.header = inert(column.header, newlines=False)
        cells = [inert(c, newlines=False) if isinstance(c, str) else c for c in column.cells]
        column._cells = cells  # noqa: SLF001 - rich has no public setter; tests/test_terminal.py pins it
    return table


class TerminalConsole(Console):
    """A rich console for this tool's output: data in it is inert, and a reader gone is no error.

    Every text and table printed has its terminal controls escaped (:func:`scraper.terminal.inert`);
    markup is off (a label is styled as a :class:`~rich.text.Text` of its own, never by markup around
    data).  When the reader of the stream leaves (EPIPE: ``2>&1 | head``), the rest is dropped and the
    command goes on; rich's own answer would be exit 1.
    """

    def print(self, *objects: Any, **kwargs: Any) -> None:
        shown = [inert(o) if isinstance(o, str) else inert_table(o) if isinstance(o, Table) else o for o in objects]
        super().print(*shown, **kwargs)

    def on_broken_pipe(self) -> None:
        self.quiet = True
        reader_left(self.file)


err = TerminalConsole(stderr=True, highlight=False, markup=False, soft_wrap=True)  # messages hold [brackets]


def out(text: str = "") -> None:
    """Write one line of data to stdout, inert; a reader gone (``| head``) drops the rest, no error."""
    _write_stdout(inert(text, newlines=False))


def _write_stdout(text: str) -> None:
    try:
        click.echo(text)
    except BrokenPipeError:
        reader_left(sys.stdout)


def json_option(func: F) -> F:
    """The ``--json`` flag, spelled the same on every command."""
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")(func)


class DatasetCommand(click.Command):
    """A command whose first argument is the dataset folder, PATH; ``--dataset PATH`` is the same.

    Click has no positional-or-option parameter, so ``--dataset X`` (or
    ``--dataset=X``) is taken out of the arguments before parsing and X put
    first, where PATH is read.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest: list[str] = []
        given: list[str] = []
        items = iter(args)
        for arg in items:
            if arg == "--":
                rest.extend([arg, *items])
                break
            if arg == "--dataset":
                value = next(items, None)
                if value is None:
                    raise click.UsageError("Option '--dataset' requires an argument.", ctx)
                given.append(value)
            elif arg.startswith("--dataset="):
                given.append(arg.split("=", 1)[1])
            else:
                rest.append(arg)
        if len(given) > 1:
            raise click.UsageError("the dataset is given more than once: give PATH or --dataset PATH once", ctx)
        if not given:
            return super().parse_args(ctx, rest)
        try:
            return super().parse_args(ctx, [given[0], *rest])
        except click.UsageError as exc:
            if "unexpected extra argument" in exc.message:
                raise click.UsageError(
                    f"the dataset is given twice ({given[0]} as --dataset and as PATH): give one", ctx
                ) from None
            raise


class DatasetFolder(click.Path):
    """A dataset folder; a version folder given instead is refused with the command that was meant."""

    def __init__(self, *, exists: bool, version_ok: bool) -> None:
        super().__init__(path_type=Path, file_okay=False, exists=exists)
        self.version_ok = version_ok

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = super().convert(value, param, ctx)
        folder = path if isinstance(path, Path) else Path(os.fsdecode(path))
        if not self.version_ok and folder.parent.name == "versions" and (folder / "manifest.json").is_file():
            self.fail(
                f"{folder} is a version folder, not a dataset: give the dataset folder {folder.parent.parent} "
                f"(with --version {folder.name} where the command takes one)",
                param,
                ctx,
            )
        return path


def dataset_path(*, exists: bool = False, default: Path | None = None, version_ok: bool = False) -> Callable[[F], F]:
    """The dataset folder: argument PATH, or ``--dataset PATH`` (the same; see :class:`DatasetCommand`)."""

    def decorate(func: F) -> F:
        func = click.option(
            "--dataset",
            "_dataset_alias",
            metavar="PATH",
            expose_value=False,
            help="The same as the PATH argument (accepted on every command).",
        )(func)
        kind = DatasetFolder(exists=exists, version_ok=version_ok)
        if default is None:
            return click.argument("path", metavar="PATH", type=kind)(func)
        return click.argument("path", metavar="PATH", type=kind, required=False, default=default)(func)

    return decorate


def stdout_is_terminal() -> bool:
    """Whether data on stdout is read by a person at a terminal (else: a pipe or a file)."""
    return sys.stdout is not None and sys.stdout.isatty()


def print_table(table: Table) -> None:
    """Write a table of data to stdout: drawn on a terminal, else tab-separated values with a header line.

    Piped or redirected output is never wrapped or cut, so ``versions D | grep``
    and ``show D > file`` see every value whole.
    """
    if stdout_is_terminal():
        TerminalConsole(highlight=False, markup=False).print(table)
        return
    columns = table.columns
    if table.show_header:
        _write_stdout("\t".join(inert(_one_field(str(c.header)), newlines=False) for c in columns))
    for row in zip(*(list(c.cells) for c in columns), strict=True):
        _write_stdout("\t".join(inert(_one_field(str(cell)), newlines=False) for cell in row))


def _one_field(text: str) -> str:
    """A tab-separated field: tabs and newlines inside it read as spaces."""
    return text.replace("\t", " ").replace("\n", " ")


def reddit_options(func: F) -> F:
    """How to reach Reddit; unset values come from praw.ini and the praw_* environment."""
    for option in reversed(
        [
            click.option("--site", help="praw.ini section to read credentials from (default: praw_site or DEFAULT)."),
            click.option(
                "--oauth-url", envvar="SCRAPER_OAUTH_URL", help="API base URL (default https://oauth.reddit.com)."
            ),
            click.option(
                "--reddit-url",
                envvar="SCRAPER_REDDIT_URL",
                help="Token endpoint base URL (default https://www.reddit.com).",
            ),
            click.option("--user-agent", help="User-Agent (default: praw_user_agent, or this tool's)."),
        ]
    ):
        func = option(func)
    return func


fatal_log = logging.getLogger("scraper.fatal")  # the error a command ends with; only the --log-json file gets it
fatal_log.propagate = False
fatal_log.addHandler(logging.NullHandler())


def fail(exc: BaseException, where: str | None = None) -> None:
    """Leave with one line on stderr, a --log-json record and the exit code of ``exc`` mapped into our tree."""
    error = from_exception(exc, where=where)
    if error is not exc:
        logging.getLogger("scraper").debug("mapped %r", exc, exc_info=exc)
    fatal_log.error("%s", error, extra={"exit_code": error.exit_code, "error": error.__class__.__name__})
    err.print(Text("error:", style="bold red"), str(error), soft_wrap=True)  # the message: text, never markup
    sys.exit(error.exit_code)


def _subject(ctx: click.Context) -> str | None:
    """What a command works on (its dataset, path or target), to name in errors that carry no path."""
    for key in ("dataset", "path", "target", "source"):
        value = ctx.params.get(key)
        if value:
            return str(value)
    return None


class Boundary(click.Group):
    """The group whose commands end in one line and a documented exit code, whatever goes wrong."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - the boundary: every error leaves as one line
            if interrupted_query(exc):  # Ctrl-C or SIGTERM inside a DuckDB query, in DuckDB's words
                _interrupted(exc)
            fail(exc)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Usage errors in one line too (click's own take three), with where to find help."""
        if not kwargs.get("standalone_mode", True):
            return super().main(*args, **kwargs)
        before = signal.getsignal(signal.SIGTERM)
        sigterm.start()  # SIGTERM stops the command as Ctrl-C does: its line, its summary, exit 143
        try:
            super().main(*args, **{**kwargs, "standalone_mode": False})
            if sigterm.unanswered():  # a stop no command body took (help, --version): it still stops
                err.print("terminated.", soft_wrap=True)
                sys.exit(EXIT_TERMINATED)
            if sigterm.unanswered_interrupt():
                err.print("interrupted.", soft_wrap=True)
                sys.exit(EXIT_INTERRUPTED)
        except click.exceptions.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "python -m scraper"
            err.print(f"error: {exc.format_message()} (see: {where} --help)", soft_wrap=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            err.print(f"error: {exc.format_message()}", soft_wrap=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Abort as exc:
            sigterm.seen()
            code = interrupt_exit_code(exc)
            err.print("terminated." if code == EXIT_TERMINATED else "interrupted.", soft_wrap=True)
            sys.exit(code)
        finally:
            if before is not None and threading.current_thread() is threading.main_thread():
                # as it was: in a process of its own, sigterm.hold's handler (never the default, which
                # would kill the process before it exits as decided); a test's own otherwise
                signal.signal(signal.SIGTERM, before)
            sigterm.finish()
        sys.exit(0)


def summary_option(func: F) -> F:
    """``--summary FILE``: a JSON summary of the run, written however it ends (for schedulers and CI).

    Holds the command, dataset, start and finish times, the exit code, the error
    message if any, and what the command recorded with :func:`record_summary`.
    Goes below :func:`handle_errors`, so it sees the library's errors first.
    """

    @click.option(
        "--summary",
        "summary_path",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Write a JSON summary of the run to FILE, however it ends (exit code, error, counts).",
    )
    @wraps(func)
    def wrapper(*args: Any, summary_path: Path | None, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        summary: dict[str, Any] = {
            "command": ctx.info_name,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "exit_code": 0,
        }
        ctx.meta["summary"] = summary
        try:
            try:
                sigterm.arm()  # the body starts: a SIGTERM noted since the process started is raised here
                result = func(*args, **kwargs)
                sigterm.checkpoint()  # a stop Python swallowed in the body: the run ends as the stop says
                return result
            finally:
                sigterm.disarm()  # the body ended: how is decided, and recorded below, whatever arrives
        except SystemExit as exc:
            summary["exit_code"] = exc.code if isinstance(exc.code, int) else 1
            raise
        except Exception as exc:
            if interrupted_query(exc):  # Ctrl-C or SIGTERM inside a DuckDB query: DuckDB's error in its place
                code = interrupt_exit_code(exc)
                summary.update({"exit_code": code, "error": "terminated" if code == EXIT_TERMINATED else "interrupted"})
                raise
            mapped = from_exception(exc, where=_subject(ctx))
            summary.update({"exit_code": mapped.exit_code, "error": str(mapped)})
            raise
        except KeyboardInterrupt as exc:  # the boundary around (handle_errors) says it and notes it seen
            code = interrupt_exit_code(exc)
            summary.update({"exit_code": code, "error": "terminated" if code == EXIT_TERMINATED else "interrupted"})
            raise
        finally:
            if summary_path is not None:
                summary["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
                write_summary(summary_path, summary)

    wrapper.__dict__["arms_sigterm"] = True  # handle_errors (around it) leaves SIGTERM to it
    return wrapper  # type: ignore[return-value]


def record_summary(payload: dict[str, Any]) -> None:
    """Add to the ``--summary`` of the command running (nothing without one)."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and "summary" in ctx.meta:
        ctx.meta["summary"].update(payload)


def handle_errors(func: F) -> F:
    """Turn the library's errors into one line on stderr and the documented exit code.

    The :class:`Boundary` does the same for every command; this keeps the command's own
    subject (its dataset or path) in the line of an error that carries no path.
    """

    arms = not func.__dict__.get("arms_sigterm")  # a command without a --summary: its body starts here

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            try:
                if arms:
                    sigterm.arm()
                result = func(*args, **kwargs)
                if arms:
                    sigterm.checkpoint()  # a stop Python swallowed in the body: the run ends as the stop says
                return result
            finally:
                if arms:
                    sigterm.disarm()
        except Exception as exc:  # noqa: BLE001 - the boundary
            if not interrupted_query(exc):
                fail(exc, _subject(click.get_current_context()))
            _interrupted(exc)
        except KeyboardInterrupt as exc:
            _interrupted(exc)

    return wrapper  # type: ignore[return-value]


def _no_change(latest: str, as_json: bool) -> None:
    """A build that would hold what ``latest`` holds: nothing written, said as such (exit 0)."""
    record_summary({"version": None, "unchanged_since": latest})
    if as_json:
        emit_json({"version": None, "unchanged_since": latest})
    err.print(f"no change since {latest}; nothing written")


def _interrupted(exc: BaseException) -> None:
    sigterm.seen()  # the stop is said and ends the run: nothing to raise again
    code = interrupt_exit_code(exc)
    what = "terminated (SIGTERM)" if code == EXIT_TERMINATED else "interrupted"
    err.print(f"{what}: everything fetched so far is kept; run the same command to continue.", soft_wrap=True)
    sys.exit(code)


def interrupted_query(exc: BaseException) -> bool:
    """Whether ``exc`` is a DuckDB query stopped by Ctrl-C: DuckDB takes the signal itself and raises
    its own error (or, streaming to Arrow, a RuntimeError), not KeyboardInterrupt.  This tool never
    interrupts a query itself, so nothing else raises these.  Or any error that took the place of a
    stop the command raised and no boundary saw (a library's own error for it, such as pydantic-core's
    SchemaError when a Ctrl-C lands in an import): the run ends as the stop says, not as a bug."""
    if sigterm.raised_unseen():
        return True
    duckdb = sys.modules.get("duckdb")  # never imported here: a Ctrl-C that cut its import short leaves
    # it half made, and importing it again aborts the process (nanobind: "duplicate key"), no line, no summary
    if duckdb is not None and isinstance(exc, getattr(duckdb, "InterruptException", ())):
        return True
    stopped = ("Query interrupted", "INTERRUPT Error")
    kinds = (RuntimeError, getattr(duckdb, "Error", RuntimeError)) if duckdb is not None else (RuntimeError,)
    return isinstance(exc, kinds) and str(exc).startswith(stopped)


def write_summary(path: Path, summary: dict[str, Any]) -> bool:
    """Write the run summary where possible; a failure to is a warning that hides no other error."""
    from scraper.store.outfile import write_output

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n"
        write_output(path, text.encode("utf-8"), fsync=False)  # never renamed over /dev/stdout (F7)
    except OSError as exc:
        err.print(f"warning: summary not written: {storage_error(exc, path)}", soft_wrap=True)
        return False
    except StorageError as exc:
        err.print(f"warning: summary not written: {exc}", soft_wrap=True)
        return False
    return True


def emit_json(payload: Any) -> None:
    """Write one JSON document to stdout: exact JSON, terminal controls in strings as ``\\uXXXX`` escapes."""
    _write_stdout(json_text(payload))


@contextmanager
def watching() -> Iterator[None]:
    """Progress of a run for people: bars on a terminal, a line every 30 s elsewhere (see :mod:`scraper.watch`).

    With ``-v`` and stderr not a terminal, every INFO event is a line already, so no periodic line is added.
    """
    from scraper.watch import PeriodicProgress, RichProgress

    verbose = int((click.get_current_context().find_root().obj or {}).get("verbose", 0))
    handler: logging.Handler | None = None
    if err.is_terminal:
        handler = RichProgress(err)
    elif not verbose:
        handler = PeriodicProgress(sys.stderr)
    package = logging.getLogger("scraper")
    saved = package.level
    if handler is not None:
        package.addHandler(handler)
        package.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        if handler is not None:
            package.removeHandler(handler)
            handler.close()
            package.setLevel(saved)


@click.group(cls=Boundary, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name=TOOL_NAME)
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.option(
    "--log-json",
    "log_json",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also append logs to FILE as JSON lines (for schedulers and log shippers).",
)
@click.pass_context
def main(ctx: click.Context, verbose: int, log_json: Path | None) -> None:
    """Collect Reddit threads into versioned, checksummed Parquet datasets.

    Exit codes: 0 done, 1 needs a person, 2 usage or configuration error,
    70 internal error, 73 dataset locked, 74 I/O error (disk full, read-only),
    75 try again later, 130 interrupted (Ctrl-C; the same command continues),
    143 terminated (SIGTERM; likewise).
    """
    ctx.obj = {"verbose": verbose}
    setup_logging(verbose, log_json)


def run() -> None:
    """The command line in a process of its own (``python -m scraper``, the console script).

    The process runs without pandas (:mod:`scraper.startup`): pyarrow would import it on its
    first conversion, 0.45 s of CPU a run, and no command uses it.  :func:`main` alone (click's
    test runner, a caller's own process) leaves the process as it is.
    """
    from scraper.startup import without_pandas
    from scraper.terminal import ensure_streams

    sigterm.hold(process=True)  # python -m scraper held it first thing; the console script holds it here
    ensure_streams()  # started with >&- or 2>&-: /dev/null in their place (adversarial review 6, F2)
    without_pandas()
    try:
        main()
    except SystemExit as exc:  # how the command ended, said and recorded: a stop now keeps it
        sigterm.exiting(exc.code)
        raise
    finally:
        flush_at_exit()  # a reader gone (| head) before the last flush: no "Exception ignored" at exit
        sigterm.forget_python_interrupt_mark()  # a Ctrl-C the command caught: exit 130, not killed by SIGINT


_OUR_HANDLER = "_scraper_cli"


def setup_logging(verbose: int, log_json: Path | None) -> None:
    """Logs on stderr at WARNING (INFO with -v, DEBUG with -vv), and every INFO record as JSON with --log-json."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OUR_HANDLER, False)]:  # a second call in one process
        root.removeHandler(old)
        old.close()
    level = max(logging.WARNING - 10 * verbose, logging.DEBUG)
    handler: logging.Handler
    if err.is_terminal:
        from rich.logging import RichHandler

        handler = RichHandler(console=err, show_path=False, show_time=verbose > 0, markup=False, highlighter=None)
        handler.setFormatter(InertFormatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(InertFormatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(level)
    handlers: list[logging.Handler] = [handler]
    if log_json is not None:
        try:
            log_json.parent.mkdir(parents=True, exist_ok=True)  # cron lines name a log folder not made yet
            json_handler = logging.FileHandler(log_json, encoding="utf-8")
        except OSError as exc:
            raise storage_error(exc, log_json) from None
        json_handler.setFormatter(JsonLines())
        json_handler.setLevel(logging.INFO)
        setattr(json_handler, _OUR_HANDLER, True)
        fatal_log.addHandler(json_handler)
        handlers.append(json_handler)
    for h in handlers:
        setattr(h, _OUR_HANDLER, True)
        root.addHandler(h)
    root.setLevel(min(level, logging.INFO if log_json is not None else level))


class InertFormatter(logging.Formatter):
    """Log lines for stderr: data in a message (an id, a path) cannot drive the terminal."""

    def format(self, record: logging.LogRecord) -> str:
        return inert(super().format(record))


class JsonLines(logging.Formatter):
    """One JSON object a log record: time, level, logger, message, and an event's name and fields."""

    def format(self, record: logging.LogRecord) -> str:
        from scraper.watch import event_of

        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **{key: getattr(record, key) for key in ("exit_code", "error") if hasattr(record, key)},
        }
        if found := event_of(record):
            line["event"], line["fields"] = found
        return json.dumps(line, ensure_ascii=False, default=str)


def _print_report(report: Any, as_json: bool) -> None:
    summary = report.as_json()
    if as_json:
        emit_json(summary)
    title = summary["version"] or f"no change since {summary.get('unchanged_since')}"
    table = Table(title=f"{summary['dataset']} {title}", show_header=False)
    table.add_row("threads", f"{summary['threads']} ({summary['threads_incomplete']} incomplete)")
    table.add_row("comments held / stated", f"{summary['comments_held']} / {summary['comments_stated']}")
    table.add_row("requests", ", ".join(f"{k} {v}" for k, v in sorted(summary["requests"].items())))
    table.add_row("quarantined", str(summary["stats"].get("quarantined", 0)))
    if summary.get("archive"):
        arch = summary["archive"]
        pages = sum(arch["pages"].values())
        table.add_row("archive", f"{arch['threads']} threads kept, {arch['filtered_out']} filtered out, {pages} pages")
        if arch.get("incomplete"):  # trees announcing more comments than could be fetched (stats.archive.incomplete)
            short = sum(e["announced"] - e["fetched"] for e in arch["incomplete"].values())
            table.add_row("archive incomplete", f"{len(arch['incomplete'])} threads, {short} comments not fetched")
    err.print(table)
    for problem in summary["problems"]:
        err.print(Text("problem:", style="yellow"), str(problem), soft_wrap=True)


def parse_duration(value: str) -> float:
    """Seconds from ``90``, ``90s``, ``45m`` or ``2h``; ValueError otherwise."""
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (value[:-1], units[value[-1]]) if value[-1:] in units else (value, 1)
    seconds = float(number) * unit
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(value)
    return seconds


class Duration(click.ParamType[float]):
    """A duration option (``90``, ``90s``, ``45m``, ``2h``) read as seconds; a bad one is named in the error."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        try:
            return parse_duration(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a duration: give seconds or a number with s, m or h (90, 90s, 45m, 2h)")


def wait_option(func: F) -> F:
    """The ``--wait`` flag of every command that writes a dataset."""
    return click.option(
        "--wait",
        "wait_for_lock",
        is_flag=True,
        help="Wait for another run on this dataset instead of exiting 73.",
    )(func)


class Columns(click.ParamType[frozenset[str]]):
    """Comma-separated column names of the schema (``score,edited``); an unknown one is named in the error."""

    name = "columns"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> frozenset[str]:
        if isinstance(value, frozenset):
            return value
        from schemas import Comment, Submission

        known = set(Submission.model_fields) | set(Comment.model_fields)
        names = frozenset(c.strip() for c in str(value).split(",") if c.strip())
        unknown = sorted(names - known)
        if unknown:
            self.fail(
                f"no column {', '.join(map(repr, unknown))} in submissions or comments; "
                f"columns are: {', '.join(sorted(known))}",
                param,
                ctx,
            )
        return names


def run_options(func: F) -> F:
    """Bounds of a run that asks Reddit, spelled the same on collect and refresh."""
    for option in reversed(
        [
            click.option("--max-requests", type=click.IntRange(min=1), help="Stop cleanly after this many requests."),
            click.option("--deadline", type=Duration(), help="Stop cleanly after this long: 90s, 45m, 2h."),
            click.option(
                "--max-retries",
                type=click.IntRange(min=0),
                default=6,
                show_default=True,
                help="Retries of a request on 5xx, timeouts and dropped connections.",
            ),
            wait_option,
        ]
    ):
        func = option(func)
    return func


@main.command(cls=DatasetCommand)
@dataset_path()
@reddit_options
@run_options
@click.option(
    "--archive-url",
    envvar="SCRAPER_ARCTIC_SHIFT_URL",
    help="Arctic Shift API base URL for the [archive] section (default: the spec's url).",
)
@click.option(
    "--archive-only",
    is_flag=True,
    help="With an [archive] section: build the version from the archive alone, without asking Reddit.",
)
@click.option("--no-archive", is_flag=True, help="Skip the [archive] section: collect from Reddit's listings only.")
@click.option(
    "--write-unchanged",
    is_flag=True,
    help="Write a new version even when it would hold what the latest holds (else: 'no change', nothing written).",
)
@json_option
@handle_errors
@summary_option
def collect(
    path: Path,
    site: str | None,
    oauth_url: str | None,
    reddit_url: str | None,
    user_agent: str | None,
    max_requests: int | None,
    deadline: float | None,
    max_retries: int,
    wait_for_lock: bool,
    archive_url: str | None,
    archive_only: bool,
    no_archive: bool,
    write_unchanged: bool,
    as_json: bool,
) -> None:
    """Collect the dataset at PATH per its dataset.toml and write a new version.

    With an [archive] section, the run also walks the Arctic Shift API over
    the spec's time range and collects the threads it finds through Reddit
    (docs/ARCHIVES.md); without Reddit credentials, from the archive alone.

    Credentials come from praw.ini or the praw_client_id, praw_client_secret
    and praw_user_agent environment variables, as in PRAW.  Exits 1 after
    writing the version if a subreddit or seed could not be read.

    A run stopped by --max-requests, --deadline, a fault or a kill keeps
    everything it fetched; the same command continues it (exit 75 meanwhile).
    A run that finds nothing the latest version does not hold (leaving aside
    retrieved_at and source) says "no change" and writes no version, exit 0,
    unless --write-unchanged.

    Example:

        python -m scraper collect datasets/leaving-ml
    """
    from scraper.collect.run import collect as run_collect
    from scraper.sources.pacing import RetryPolicy
    from scraper.sources.reddit import RedditSettings

    settings = RedditSettings.from_env(site=site, oauth_url=oauth_url, reddit_url=reddit_url, user_agent=user_agent)
    record_summary({"dataset": str(path)})
    with watching():
        report = run_collect(
            path,
            settings,
            max_requests=max_requests,
            deadline_seconds=deadline,
            retry=RetryPolicy(max_retries=max_retries),
            wait_for_lock=wait_for_lock,
            archive_url=archive_url,
            archive_only=archive_only,
            archive=not no_archive,
            write_unchanged=write_unchanged,
        )
    record_summary(report.as_json())
    _print_report(report, as_json)
    if report.unchanged_since is not None:
        err.print(f"no change since {report.unchanged_since}; nothing written")
    else:
        err.print(f"wrote {path / 'versions' / str(report.version)}")
    if report.problems:
        sys.exit(EXIT_NEEDS_PERSON)


@main.command(cls=DatasetCommand)
@dataset_path()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--replace", is_flag=True, help="Start afresh from FILES instead of adding them to the latest version.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes that read FILES (default: one per core for 64 MiB or more; 1 reads them here).",
)
@wait_option
@click.option(
    "--write-unchanged",
    is_flag=True,
    help="Write a new version even when it would hold what the latest holds (else: 'no change', nothing written).",
)
@json_option
@handle_errors
@summary_option
def ingest(
    path: Path,
    files: tuple[Path, ...],
    replace: bool,
    workers: int | None,
    wait_for_lock: bool,
    write_unchanged: bool,
    as_json: bool,
) -> None:
    """Add saved Reddit API responses (FILES) to the dataset at PATH as a new version, without asking Reddit.

    FILES may be response bodies (comment trees, morechildren answers,
    Listings), recorded interactions, vcrpy cassettes or this tool's raw
    archives (raw/*.jsonl.gz, to rebuild a snapshot).  The new version is the
    latest one with FILES merged in (the newest sighting of each item wins);
    --replace builds it from FILES alone (a dataset whose spec has an [archive]
    section is only rebuilt: give --replace with its raw/*.jsonl.gz and the
    new FILES).  Everything not kept is counted by
    reason.  Creates the folder if needed; nothing usable in FILES writes no
    version and exits 1.

    Example:

        python -m scraper ingest /tmp/samples ../shared/reddit/samples/*.json
    """
    from scraper.ingest import check_files
    from scraper.ingest import ingest as run_ingest
    from scraper.store.lock import dataset_lock

    record_summary({"dataset": str(path)})
    from scraper.store.changes import NoChange

    check_files(files)  # before the lock, which makes the folder: a refused input creates nothing
    try:
        with dataset_lock(path, wait=wait_for_lock):  # one writer per dataset
            manifest = run_ingest(path, list(files), replace=replace, workers=workers, write_unchanged=write_unchanged)
    except NoChange as exc:  # the same files again, or a rerun of an ingest killed after placing its version
        _no_change(exc.latest, as_json)
        return
    record_summary({"version": manifest["version"], "stats": manifest["stats"]})
    if as_json:
        emit_json(manifest)
    stats = manifest["stats"]
    err.print(
        f"wrote {path / 'versions' / manifest['version']}: {stats['submissions']} submissions, "
        f"{stats['comments']} comments from {stats['responses']} responses"
        f" ({stats['quarantined']} quarantined)"
    )
    for reason, count in (stats.get("not_kept") or {}).items():
        err.print(f"not kept: {count} {reason}")
    repaired = sum((stats.get("repaired") or {}).values())
    if repaired:
        err.print(f"repaired: {repaired} values that could not be stored (lone surrogates → U+FFFD)")
    escaping = stats.get("escaping") or {}
    if escaping.get("unescaped"):
        err.print(
            f"unescaped: {escaping['unescaped']} recorded answers asked for without raw_json=1 "
            "(&lt; &gt; &amp; back to < > &)"
        )
    if escaping.get("unknown"):
        err.print(
            f"escaping unknown: {escaping['unknown']} plain saved bodies, stored as they are; one saved from "
            "a request without raw_json=1 holds &lt; &gt; &amp; for < > & (docs/OPERATIONS.md, Ingest)"
        )
    for skipped in stats["skipped_responses"][:20]:
        err.print(f"skipped {skipped}")


@main.command(cls=DatasetCommand)
@dataset_path()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--engine",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="Run the per-chunk filter-and-normalize tasks here, or on a Dask distributed cluster.",
)
@click.option("--scheduler", metavar="tcp://HOST:8786", help="Address of the Dask scheduler (with --engine dask).")
@click.option(
    "--wait", "wait_for_lock", is_flag=True, help="Wait for another run on this dataset instead of exiting 73."
)
@click.option(
    "--write-unchanged",
    is_flag=True,
    help="Write a new version even when it would hold what the latest holds (else: 'no change', nothing written).",
)
@click.option(
    "--all",
    "keep_all",
    is_flag=True,
    help="For a folder without dataset.toml: keep every line of FILES (e.g. per-subreddit files); else refused.",
)
@json_option
@handle_errors
@summary_option
def dumps(
    path: Path,
    files: tuple[Path, ...],
    engine: str,
    scheduler: str | None,
    wait_for_lock: bool,
    write_unchanged: bool,
    keep_all: bool,
    as_json: bool,
) -> None:
    """Build a new version from Reddit dump files (FILES), streamed: RS_/RC_YYYY-MM.zst, <sub>_comments.zst, …

    Submissions are kept by the spec's subreddits, [archive] range and [filter]
    rule; comments by exactly those threads (two passes; docs/ARCHIVES.md).
    Lines that do not parse are quarantined and counted, never fatal.  A
    folder without dataset.toml is refused (exit 2, nothing created) unless
    --all, which keeps every line of FILES (all of Reddit, for RS_/RC_ files).

    Example:

        python -m scraper dumps datasets/leaving-ml RS_2016-0*.zst RC_2016-0*.zst

    On a Dask cluster (docs/ARCHIVES.md shows Slurm and Kubernetes):

        python -m scraper dumps datasets/leaving-ml RS_*.zst RC_*.zst --engine dask --scheduler tcp://head:8786
    """
    from scraper.dumps import check_engine_options, ingest_dumps

    check_engine_options(engine, scheduler)
    record_summary({"dataset": str(path)})
    from scraper.store.changes import NoChange

    try:
        manifest = ingest_dumps(
            path,
            list(files),
            engine=engine,
            scheduler=scheduler,
            wait_for_lock=wait_for_lock,
            write_unchanged=write_unchanged,
            keep_all=keep_all,
        )
    except NoChange as exc:  # a rerun of the same files (or of a run killed after placing its version)
        _no_change(exc.latest, as_json)
        return
    record_summary({"version": manifest["version"], "stats": manifest["stats"]})
    if as_json:
        emit_json(manifest)
    stats = manifest["stats"]
    err.print(
        f"wrote {path / 'versions' / manifest['version']}: {stats['submissions']} submissions, "
        f"{stats['comments']} comments from {stats['lines']} lines of {len(files)} file(s)"
        f" ({stats['quarantined']} quarantined, engine {stats['engine']})",
        soft_wrap=True,
    )
    for problem in stats["problems"]:
        err.print(f"problem: {problem}", soft_wrap=True)
    if stats["problems"]:  # a damaged input file: the version holds what could be read; a person should look
        sys.exit(EXIT_NEEDS_PERSON)


@main.command(cls=DatasetCommand)
@dataset_path(exists=True)
@json_option
@handle_errors
def versions(path: Path, as_json: bool) -> None:
    """List the versions of the dataset at PATH, oldest first.

    Example:

        python -m scraper versions datasets/leaving-ml
    """
    from scraper.store.snapshot import Dataset

    index = Dataset(path).index()  # read-only: index.json is left as it is
    if as_json:
        emit_json(index)
        return
    table = Table("version", "parent", "created_at", "schema", "submissions", "comments")
    for entry in index["versions"]:
        rows = entry["rows"]
        table.add_row(  # str(): a manifest's values are data, never markup or renderables
            entry["version"],
            str(entry["parent"] or ""),
            str(entry["created_at"]),
            str(entry["schema_version"]),
            str(rows.get("submissions", "")),
            str(rows.get("comments", "")),
        )
    print_table(table)
    err.print(f"latest: {index['latest']}")


@main.command(cls=DatasetCommand)
@dataset_path(exists=True)
@click.option("--version", "version", default="latest", show_default=True, help="Version id, e.g. v0001.")
@json_option
@handle_errors
def show(path: Path, version: str, as_json: bool) -> None:
    """Show one version's manifest and counts.

    Example:

        python -m scraper show datasets/leaving-ml --version v0001
    """
    from scraper.store.snapshot import Dataset

    manifest = Dataset(path).manifest(version)
    if as_json:
        emit_json(manifest)
        return
    table = Table(title=f"{manifest.get('dataset')} {manifest['version']}", show_header=False)
    for key in ("parent", "created_at", "schema_version", "spec_sha256"):
        table.add_row(key, str(manifest.get(key)))
    tool = manifest.get("tool") or {}  # checked for shape by read_manifest
    table.add_row("tool", f"{tool.get('name')} {tool.get('version')}")
    table.add_row("source", json.dumps(manifest.get("source"), sort_keys=True))
    for name, info in manifest["files"].items():
        table.add_row(name, f"{info['rows']} rows, {info['bytes']} bytes, sha256 {info['sha256']}")
    stats = manifest.get("stats") or {}
    table.add_row("status", ", ".join(f"{k} {v}" for k, v in (stats.get("status") or {}).items()))
    if "comments_stated" in stats:
        table.add_row("comments held / stated", f"{stats.get('comments')} / {stats['comments_stated']}")
        table.add_row("threads incomplete", str(stats.get("threads_incomplete", 0)))
        table.add_row("unresolved ids", str(stats.get("unresolved_ids", 0)))
    table.add_row("quarantined", str(stats.get("quarantined", 0)))
    print_table(table)
    completeness = manifest.get("completeness") or []
    if completeness:
        threads = Table("thread", "stated", "held", "unresolved", "requests", title="completeness per thread")
        for entry in completeness:
            reasons = Counter(map(str, (entry.get("unresolved") or {}).values()))
            threads.add_row(
                f"t3_{entry.get('link')}",
                str(entry.get("num_comments")),
                str(entry.get("held")),
                "; ".join(f"{n} {why}" for why, n in reasons.items()) or "0",
                ", ".join(f"{k} {v}" for k, v in sorted((entry.get("requests") or {}).items())),
            )
        out()
        print_table(threads)


@main.command(cls=DatasetCommand)
@dataset_path(exists=True)
@click.argument("a")
@click.argument("b")
@click.option(
    "--ignore", "ignore", type=Columns(), default="", help="Comma-separated columns to leave out, e.g. score."
)
@click.option("--values", "values", is_flag=True, help="Show old → new values of the changed columns.")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="Items listed per kind of change in the human output.",
)
@json_option
@handle_errors
def diff(path: Path, a: str, b: str, ignore: frozenset[str], values: bool, limit: int, as_json: bool) -> None:
    """Show what changed between versions A and B: added, removed, tombstoned, changed items.

    Items are keyed by fullname and compared by a content hash that leaves
    out volatile fields (retrieved_at, source) and the --ignore columns.
    With --values, each changed item is listed with its old → new values
    (every changed item in --json, else --limit of them per table).

    Example:

        python -m scraper diff datasets/leaving-ml v0001 v0002 --ignore score --values
    """
    from scraper.publish.diff import diff_versions

    result = diff_versions(path, a, b, ignore=ignore)
    changes = changed_values(path, result, None if as_json else limit) if values else {}
    if as_json:
        payload = result.as_json()
        if values:
            payload["values"] = changes
        emit_json(payload)
        return
    table = Table(
        "table", "added", "removed", "tombstoned", "changed", "columns changed", title=f"{result.a} → {result.b}"
    )
    for name, t in result.tables.items():
        columns = ", ".join(f"{c} {n}" for c, n in t.column_counts().items())
        table.add_row(
            name, str(len(t.added)), str(len(t.removed)), str(len(t.tombstoned)), str(len(t.changed)), columns
        )
    print_table(table)
    for name, t in result.tables.items():
        for kind, items in (
            ("added", t.added),
            ("removed", t.removed),
            ("tombstoned", t.tombstoned),
            ("changed", list(t.changed)),
        ):
            if items:
                more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
                out(f"{name} {kind}: {', '.join(items[:limit])}{more}")
        for item, olds_news in changes.get(name, {}).items():
            shown = "; ".join(f"{c}: {_shown(old)} → {_shown(new)}" for c, (old, new) in olds_news.items())
            out(f"{name} {item}: {shown}")


def _shown(value: Any) -> str:
    """A value in one line: repr of text (newlines escaped), ISO times, null as null."""
    if value is None:
        return "null"
    if isinstance(value, datetime):
        return value.isoformat()
    return repr(value) if isinstance(value, str) else str(value)


def changed_values(path: Path, result: Any, limit: int | None) -> dict[str, dict[str, dict[str, list[Any]]]]:
    """Old and new values of each changed item's changed columns: ``{table: {fullname: {column: [old, new]}}}``.

    ``limit`` items per table (all with None), in the diff's order.
    """
    from scraper.study import load

    old, new = load(path, result.a), load(path, result.b)
    out: dict[str, dict[str, dict[str, list[Any]]]] = {}
    for name, t in result.tables.items():
        items = list(t.changed.items())[: limit if limit is not None else None]
        if items:
            out[name] = {
                item: {c: [old.row(item).get(c), new.row(item).get(c)] for c in columns} for item, columns in items
            }
    return out


@main.command(cls=DatasetCommand)
@dataset_path(exists=True, version_ok=True)
@click.option("--version", "version", default="latest", show_default=True, help="Version to show, e.g. v0002.")
@click.option("--against", "against", default=None, help="An earlier version to show the changes since, e.g. v0001.")
@click.option(
    "--ignore",
    "ignore",
    type=Columns(),
    default="",
    help="With --against: comma-separated columns to leave out, e.g. score.",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The HTML file to write (one self-contained file).",
)
@json_option
@handle_errors
def report(path: Path, version: str, against: str | None, ignore: frozenset[str], out: Path, as_json: bool) -> None:
    """Write one self-contained HTML report of a version: coverage, conversation shape, the answers
    grouped by the spec's [report.taxonomy], changes since --against, and provenance.

    Every number comes from the version's Parquet files through DuckDB; the
    page inlines its scripts and styles and opens offline.  Needs the
    report extra (plotly, jinja2).

    Example:

        python -m scraper report datasets/leaving-ml --against v0001 --out report.html
    """
    from scraper.report import write_report

    result = write_report(
        path,
        out,
        version=version,
        against=against,
        ignore=ignore,
    )
    if as_json:
        emit_json(result.as_json())
        return
    since = f" (changes since {result.against})" if result.against else ""
    err.print(
        f"wrote {result.out}: report of {result.version}{since}, {len(result.charts)} charts, "
        f"{result.bytes / 1e6:.1f} MB; open it in a browser (works offline)"
    )


@main.command(cls=DatasetCommand)
@dataset_path(version_ok=True)
@click.option(
    "--orphan-warn",
    type=click.FloatRange(0, 1),
    default=None,
    help="Comments without their submission or parent, up to this share of comments, warn instead of failing "
    "(default: dataset.toml's [validate] orphan_warn, else 0.05).",
)
@json_option
@summary_option
def validate(path: Path, orphan_warn: float | None, as_json: bool) -> None:
    """Validate a version folder, a dataset folder or a downloaded copy (for CI).

    Checks schemas against the models, sha256/bytes/rows against the
    manifest, manifests against index.json, unique fullnames, links,
    parents (orphans warn under a threshold), depth, statuses against
    content, and timestamps.  Writes Markdown to $GITHUB_STEP_SUMMARY when
    set.  Exit codes: 0 valid, 1 invalid data, 2 usage or I/O error.

    Example:

        python -m scraper validate datasets/leaving-ml
    """
    import os

    from scraper.publish.validate import validate as run_validate

    record_summary({"dataset": str(path)})
    try:
        report = run_validate(path, orphan_warn_share=orphan_warn)
    except InputError as exc:  # not a dataset at all: a usage error; damage is a failed check (exit 1)
        fail(ConfigError(str(exc)))
    record_summary({"valid": report.valid, "report": report.as_json()})
    if as_json:
        emit_json(report.as_json())
    else:
        table = Table("version", "check", "status", "count", "detail", "examples", title=f"validate {path}")
        for c in report.checks:
            table.add_row(c.version, c.name, c.status, str(c.count), c.detail, ", ".join(c.examples))
        print_table(table)
    err.print("valid" if report.valid else "INVALID")
    if summary_file := os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(summary_file, "a", encoding="utf-8") as handle:
            handle.write(report.markdown())
    sys.exit(0 if report.valid else EXIT_NEEDS_PERSON)


@main.command(cls=DatasetCommand)
@dataset_path(exists=True)
@click.option(
    "--to",
    "target",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to write the static tree into (served as is by any static host).",
)
@click.option("--identifiable", is_flag=True, help="Also publish versions whose authors are not pseudonymized.")
@wait_option
@json_option
@handle_errors
@summary_option
def publish(path: Path, target: Path, identifiable: bool, wait_for_lock: bool, as_json: bool) -> None:
    """Write the versions of the dataset at PATH as a static tree that download reads.

    Validates first; writes index.json, the version folders (manifests,
    Parquet files, cards), the dataset card and spec.  Raw archives stay
    behind.  Versions already published are left as they are.  Versions
    that name authors (no pseudonyms) need --identifiable.

    Example:

        python -m scraper publish datasets/leaving-ml --to public/leaving-ml
    """
    from scraper.publish.tree import publish as run_publish

    record_summary({"dataset": str(path), "to": str(target)})
    result = run_publish(path, target, allow_identifiable=identifiable, wait_for_lock=wait_for_lock)
    record_summary(result)
    if as_json:
        emit_json(result)
    new = ", ".join(result["copied"]) or "none"
    purged = f"; replaced after a purge: {', '.join(result['purged'])}" if result["purged"] else ""
    err.print(f"published {', '.join(result['versions'])} to {target} (new: {new}{purged})")


@main.command()
@click.argument("source")
@click.option("--version", "version", default=None, help="Version id (default: the latest).")
@click.option(
    "--to",
    "--dataset",
    "target",
    required=True,
    metavar="PATH",
    type=click.Path(path_type=Path, file_okay=False),
    help="Dataset folder to install the version into (--dataset is the same).",
)
@click.option(
    "--stall",
    type=Duration(),
    default="30s",
    show_default=True,
    help="Give up when the server is silent this long.",
)
@click.option(
    "--deadline", type=Duration(), default="6h", show_default=True, help="Give up when the whole download takes longer."
)
@wait_option
@json_option
@handle_errors
@summary_option
def download(
    source: str,
    version: str | None,
    target: Path,
    stall: float,
    deadline: float,
    wait_for_lock: bool,
    as_json: bool,
) -> None:
    """Download a published version from SOURCE (an http(s) base URL or a folder) and verify it.

    Checks the manifest against index.json and every file's bytes and
    sha256 while streaming; installs the version only when all match.  A
    rerun skips files that already verify; over an installed version it
    hashes its files and fetches a damaged or missing one again.

    Example:

        python -m scraper download https://example.org/leaving-ml --to data/leaving-ml
    """
    from rich.progress import DownloadColumn, TransferSpeedColumn

    from scraper.publish.download import download as run_download
    from scraper.publish.download import redact_url

    progress = Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err,
        disable=not err.is_terminal,
        transient=True,
    )
    tasks: dict[str, Any] = {}

    def on_progress(rel: str, done: int, total: int | None) -> None:
        if rel not in tasks:
            tasks[rel] = progress.add_task(inert(rel, newlines=False), total=total)
        progress.update(tasks[rel], completed=done)

    record_summary({"source": redact_url(source), "dataset": str(target)})  # never the URL's password
    with progress:
        result = run_download(
            source,
            target,
            version=version,
            on_progress=on_progress,
            stall=stall,
            deadline=deadline,
            wait_for_lock=wait_for_lock,
        )
    record_summary(result)
    if as_json:
        emit_json(result)
    if result.get("repaired"):  # an installed copy whose files did not match its manifest
        err.print(
            f"{result['version']} repaired in {result['path']}: {', '.join(result['repaired'])} damaged or missing, "
            f"fetched again and verified ({len(result['downloaded'])} downloaded, "
            f"{len(result['skipped'])} verified in place)"
        )
        return
    state = "already installed" if result["already_installed"] else "verified and installed"
    where = "verified in place" if result["already_installed"] else "already verified"  # hashed, either way
    err.print(
        f"{result['version']} {state} in {result['path']} "
        f"({len(result['downloaded'])} downloaded, {len(result['skipped'])} {where})"
    )


@main.command(cls=DatasetCommand)
@dataset_path()
@reddit_options
@run_options
@click.option(
    "--write-unchanged",
    is_flag=True,
    help="Write a new version even when it would hold what the latest holds (else: 'no change', nothing written).",
)
@json_option
@handle_errors
@summary_option
def refresh(
    path: Path,
    site: str | None,
    oauth_url: str | None,
    reddit_url: str | None,
    user_agent: str | None,
    max_requests: int | None,
    deadline: float | None,
    max_retries: int,
    wait_for_lock: bool,
    write_unchanged: bool,
    as_json: bool,
) -> None:
    """Re-check the latest version of the dataset at PATH against Reddit and write the next version.

    Asks /api/info for every stored item (100 a request) and fetches again
    the trees of threads whose comment count moved.  Scores, edits and
    statuses are updated, new comments added; items deleted or removed since
    become tombstones.  When nothing changed (leaving aside retrieved_at and
    source), says "no change" and writes no version, exit 0, unless
    --write-unchanged.

    Example:

        python -m scraper refresh datasets/leaving-ml
    """
    from scraper.collect.refresh import refresh as run_refresh
    from scraper.sources.pacing import RetryPolicy
    from scraper.sources.reddit import RedditSettings

    settings = RedditSettings.from_env(site=site, oauth_url=oauth_url, reddit_url=reddit_url, user_agent=user_agent)
    record_summary({"dataset": str(path)})
    with watching():
        report = run_refresh(
            path,
            settings,
            max_requests=max_requests,
            deadline_seconds=deadline,
            retry=RetryPolicy(max_retries=max_retries),
            wait_for_lock=wait_for_lock,
            write_unchanged=write_unchanged,
        )
    summary = report.as_json()
    record_summary(summary)
    if as_json:
        emit_json(summary)
    tombstones = summary["tombstones"]
    done = (
        f"no change since {report.unchanged_since}; nothing written"
        if report.unchanged_since is not None
        else f"wrote {path / 'versions' / str(report.version)} from {report.base}"
    )
    err.print(
        f"{done}: {report.checked} items checked, "
        f"{len(report.refetched)} threads fetched again, {tombstones.get('added', 0)} new tombstones",
        soft_wrap=True,
    )
    for problem in report.problems:
        err.print(Text("problem:", style="yellow"), str(problem), soft_wrap=True)
    if report.problems:
        sys.exit(EXIT_NEEDS_PERSON)


@main.command(cls=DatasetCommand)
@dataset_path(exists=True)
@click.argument("fullnames", nargs=-1, required=True)
@click.option(
    "--allow-missing",
    is_flag=True,
    help="Record the purge even for fullnames no version holds (else: exit 1, nothing recorded).",
)
@json_option
@handle_errors
@summary_option
def purge(path: Path, fullnames: tuple[str, ...], allow_missing: bool, as_json: bool) -> None:
    """Remove the given items' text from every stored version and the raw archive (removal requests).

    The items stay as rows with status "purged" (ids, links and timestamps
    kept); checksums, cards and index.json are updated, and purges.jsonl
    records the request.  A fullname no version holds is an error (exit 1,
    nothing recorded) unless --allow-missing.

    Example:

        python -m scraper purge datasets/leaving-ml t1_jcaa00s t3_11ryvao
    """
    from scraper.store.purge import purge as run_purge

    record_summary({"dataset": str(path)})
    result = run_purge(path, list(fullnames), allow_missing=allow_missing)
    record_summary(result)
    if as_json:
        emit_json(result)
    rows = sum(result["rows"].values())
    err.print(
        f"purged {len(result['fullnames'])} fullnames: {rows} rows in {len(result['rows'])} versions, "
        f"{sum(result['raw_things'].values())} things in the raw archive, "
        f"{result['quarantine_lines']} quarantine lines; recorded in {path / 'purges.jsonl'}",
        soft_wrap=True,
    )


@main.command(cls=DatasetCommand)
@dataset_path(default=Path("build/demo/leaving-ml"))
@click.option(
    "--spec",
    "spec",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("datasets/leaving-ml/dataset.toml"),
    show_default=True,
    help="Spec to copy in.",
)
@json_option
@handle_errors
def demo(path: Path, spec: Path, as_json: bool) -> None:
    """Collect leaving-ml offline into PATH (default build/demo/leaving-ml) from a fake Reddit on 127.0.0.1.

    Runs the real collector (OAuth, search, tree expansion, normalization,
    snapshot writing) against a bundled server; needs no network and no
    credentials.  The data are reconstructed from the seed thread's text.
    Next to it, PATH-history shows the history backfill: a fake Arctic Shift
    archive (generated posts 2015-2022) walked, its threads re-read through Reddit.

    Example:

        python -m scraper demo
    """
    from scraper.demo import run_demo, run_history_demo

    with watching():
        report = run_demo(path, spec)
    _print_report(report, as_json)
    history = path.parent / f"{path.name}-history"
    with watching():
        past = run_history_demo(history, spec)
    arch = past.archive or {}
    err.print(
        f"history: wrote {history / 'versions' / str(past.version)}: {arch.get('threads', 0)} threads the keyword rule "
        f"kept from a fake Arctic Shift (2015-2022, {sum((arch.get('pages') or {}).values())} pages), re-read through "
        "Reddit; comments Reddit no longer serves are 'unavailable' tombstones (docs/ARCHIVES.md)",
        soft_wrap=True,
    )
    version_dir = path / "versions" / str(report.version)
    err.print(f"wrote {version_dir} (RECONSTRUCTED demo data, not a Reddit recording)", soft_wrap=True)
    err.print("open it with:")
    err.print(f"  duckdb: select * from '{version_dir}/comments.parquet'", soft_wrap=True)  # noqa: S608
    err.print(f"  pandas: pd.read_parquet('{version_dir}/comments.parquet')", soft_wrap=True)
    err.print(f"  polars: pl.read_parquet('{version_dir}/comments.parquet')", soft_wrap=True)
    from scraper.report import write_report

    out = path.parent / f"{path.name}-report.html"
    try:
        written = write_report(path, out)
    except ConfigError as exc:  # the report extra is not installed: the demo's data stand
        err.print(f"no report: {exc}")
    else:
        err.print(f"report: {written.out} (open it in a browser; python -m scraper report {path} --out FILE)")
