"""Build a version from dump files: streamed, filtered, normalized in pure per-span tasks, two passes.

``python -m scraper dumps PATH FILES… [--engine dask --scheduler tcp://HOST:8786]``

1. **Submissions pass.** Every ``RS_*``/``*_submissions`` file is cut into spans
   of whole lines (a plain file read in place, or byte ranges of it that each
   worker reads itself; a ``.zst`` file decompressed here); each span is a pure
   task (:func:`filter_span`) that keeps the posts of the spec's subreddits (any
   case) created in the ``[archive]`` range and passing the ``[filter]`` keyword
   rule, as checked Arrow batches (:mod:`scraper.normalize.flat`: DuckDB's own
   NDJSON reader, or line by line where something must be quarantined).  The
   kept posts' fullnames form the set of threads.
2. **Comments pass.** Every ``RC_*``/``*_comments`` file likewise, keeping the
   comments whose ``link_id`` is exactly in that set.  Given comment files only,
   comments are kept by subreddit (and the range) instead.

A line that does not parse, or whose value does not fit the schema, is written
to ``quarantine/<version>.jsonl`` (file, line, field, error, the line) and
counted; it never stops the run.  A file whose zstd stream breaks keeps what
decoded before the break and is named in the manifest's problems.  Batches are
written in input order to Parquet as they arrive, in row groups of a fixed
size, so memory stays flat whatever the input size and both engines write
byte-identical files.  The manifest records each input file's name, size and
sha256 (taken in a thread while the passes read the files).
"""

from __future__ import annotations

import collections
import errno
import functools
import json
import logging
import mmap
import os
import shutil
import tempfile
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from schemas import ARROW_SCHEMAS
from scraper.build import pseudonymizer_for, refuse_unchanged
from scraper.duck import connect
from scraper.engine import Engine, open_engine
from scraper.errors import ConfigError, InputError, storage_error
from scraper.normalize.flat import NeedsLines, Selection, normalize_block, normalize_file
from scraper.normalize.pseudonyms import Pseudonymizer
from scraper.sources.dumps import DumpFile, blocks, describe, dump_kind, sha256_of
from scraper.spec import SPEC_FILE, DatasetSpec, load_spec
from scraper.store.encoding import writer_options
from scraper.store.lock import dataset_lock
from scraper.store.purge import purge_batch, purged_fullnames, purged_quarantine_entry
from scraper.store.snapshot import Dataset

log = logging.getLogger(__name__)

# Rows per Parquet row group, whatever the engine. DuckDB's reader hands rows back a 16 MiB buffer at a
# time, in order (about 30,000 comments), so a group this size can be compressed (in the writer thread)
# while the reader goes on; a larger one waits for more buffers, and at the end of a span it is
# compressed alone, with the cores idle otherwise. The same as the fast reader's batches: a batch
# whose rows are all kept is a row group as it comes (no copy to put groups together), and memory
# holds fewer rows at once (docs/ARCHIVES.md, "Peak memory").
ROW_GROUP = 1 << 14
SPAN_MAX = 64 << 20  # bytes of lines per task at most (a task's output is held until written)
SPAN_MIN = 8 << 20  # a plain file smaller than this is one task
LOCAL_SPAN_MAX = 256 << 20  # in-process, a span's batches stream out: it may be larger
WRITES_QUEUED = 1  # row groups handed to the writer thread and not yet written, at most
FAST_BATCH_ROWS = ROW_GROUP  # rows per batch from the fast reader (a larger batch waits for more of DuckDB's buffers)
# DuckDB threads of the in-process reader. DuckDB's NDJSON reader holds about 40 MB per thread (its
# 16 MiB buffers and what is parsed from them) once the input fills a buffer per thread, so with two
# threads the peak grew 1.45x from 30,000 to 300,000 lines, and with one 1.14x; the second core
# compresses the row groups (writer thread) and hashes the inputs meanwhile. On a shared or busy
# machine one thread was as fast; more cores are for `--engine dask` (a worker per core).
LOCAL_THREADS = 1
# The fast reader's readings of a span, in turn: (usual, strings) of scraper.normalize.flat.normalize_file.
# First DuckDB types the string fields itself; a string field holding another JSON type (checked on
# its line) sends the span to the second, which takes them as JSON fragments; a value of an unusual
# type to the third, which types every value by itself; a line to quarantine to the block path.
READINGS = ((True, True), (True, False), (False, False))
COUNT_PIECE = 16 << 20  # bytes of a byte range copied or counted at a time (without the kernel's copy)
NEWEST_MEMORY = "128MB"  # DuckDB's memory for the one-row-per-thing check; past it the window spills to disk


@dataclass(frozen=True)
class Rule:
    """What the chunk tasks keep, and the pseudonym key: picklable, sent once to every worker."""

    selection: Selection = field(default_factory=Selection)
    pseudonym_key: bytes | None = field(default=None, repr=False)
    purged: frozenset[str] = field(default=frozenset(), repr=False)  # the dataset's purges.jsonl


@dataclass(frozen=True)
class Chunk:
    """Whole lines of one file, with the number of the first (the block path's input)."""

    file: str
    kind: str
    first_line: int
    data: bytes


@dataclass(frozen=True)
class Span:
    """One task's input: a stretch of whole lines of one dump file.

    Either ``path``, a plain NDJSON file the worker reads itself (``start``/``end``: a byte range
    of it, cut to the lines that start inside it; the whole file by default), or ``data``, lines
    the client decompressed.  Quarantined lines are numbered from the span's first line; the
    client adds the lines of the spans before it.
    """

    file: str
    kind: str
    path: str | None = None
    start: int = 0
    end: int | None = None
    data: bytes | None = field(default=None, repr=False)


@dataclass
class ChunkResult:
    """Part of a task's output: kept rows as a batch, quarantined lines, counts, kept post names."""

    batch: pa.RecordBatch | None
    quarantined: list[dict[str, Any]]
    counts: Counter[str]
    names: list[str]
    newlines: int | None = None  # set on a span's last result: its line count, when it was read here


def _file_selection(selection: Selection, file: str) -> Selection:
    """f3 (review 2, F7): the selection for one file: a per-subreddit file's lines without a subreddit are its own."""
    try:
        subreddit = dump_kind(file)[1]
    except InputError:
        return selection
    return replace(selection, file_subreddit=subreddit.lower()) if subreddit else selection


def filter_chunk(chunk: Chunk, rule: Rule) -> ChunkResult:
    """Parse, filter and normalize one block of lines: a pure function of its arguments."""
    pseudonymizer = Pseudonymizer(rule.pseudonym_key) if rule.pseudonym_key else None
    result, quarantined, counts = normalize_block(
        chunk.data,
        chunk.first_line,
        chunk.kind,
        source=f"dump:{chunk.file}",
        selection=_file_selection(rule.selection, chunk.file),
        pseudonymizer=pseudonymizer,
    )
    if rule.purged:  # purged things become tombstones; their raw lines are not quarantined
        quarantined = [q for q in quarantined if not purged_quarantine_entry(q, chunk.kind, rule.purged)]
    for item in quarantined:
        item["file"] = chunk.file
    return _result(result, chunk.kind, rule, quarantined, Counter(counts))


def _result(
    batch: pa.RecordBatch | None, kind: str, rule: Rule, quarantined: list[dict[str, Any]], counts: Counter[str]
) -> ChunkResult:
    if batch is not None and rule.purged:
        batch = purge_batch(batch, "submissions" if kind == "t3" else "comments", rule.purged)
    names = batch["name"].to_pylist() if batch is not None and kind == "t3" else []
    return ChunkResult(batch, quarantined, counts, names)


def filter_span(span: Span, rule: Rule) -> Iterator[ChunkResult]:
    """Parse, filter and normalize one span, streamed: a pure function of its arguments (runs on any worker).

    DuckDB's own NDJSON reader takes the span in one pass (:func:`normalize_file`), first
    with the string fields typed by DuckDB and the other fields of one usual JSON type taken at that
    type; a span with a string field holding another type (rare) is read again with the string
    fields as JSON fragments, a span with a value of another type (rare) with every value typed by
    itself, and a span with a line to quarantine (rare) by the block path, which numbers its lines.
    Each reading goes on after the rows already given (all four keep the same rows in the same order).
    """
    pseudonymizer = Pseudonymizer(rule.pseudonym_key) if rule.pseudonym_key else None
    source = f"dump:{span.file}"
    with _span_file(span) as (path, newlines):
        given = 0  # rows handed on so far, whichever reading gave them
        reading = 0
        while reading < len(READINGS):
            usual, strings = READINGS[reading]
            counts: Counter[str] = Counter()  # each reading counts the whole span
            skip = given
            try:
                for read, batch_counts in normalize_file(
                    str(path),
                    span.kind,
                    source=source,
                    selection=_file_selection(rule.selection, span.file),
                    pseudonymizer=pseudonymizer,
                    batch_rows=FAST_BATCH_ROWS,
                    usual=usual,
                    strings=strings,
                ):
                    counts.update(batch_counts)
                    batch = read
                    if batch is not None and skip:  # rows an earlier reading already gave
                        drop = min(skip, batch.num_rows)
                        skip -= drop
                        batch = batch.slice(drop) if drop < batch.num_rows else None
                    if batch is not None:
                        given += batch.num_rows
                        yield _result(batch, span.kind, rule, [], Counter())
                yield ChunkResult(None, [], counts, [], newlines)
                return
            except NeedsLines as exc:
                if strings and exc.ambiguous:
                    log.info("%s: read again, the string fields as JSON (%s)", span.file, exc)
                    reading += 1
                    continue
                if usual and exc.unusual:
                    log.info("%s: read again, every value by its own type (%s)", span.file, exc)
                    reading = READINGS.index((False, False))
                    continue
                log.info("%s: read line by line (%s)", span.file, exc)
                break
        skip = given
        for first, data in blocks(path):
            result = filter_chunk(Chunk(span.file, span.kind, first, data), rule)
            if skip and result.batch is not None:  # rows the fast reader already gave
                drop = min(skip, result.batch.num_rows)
                skip -= drop
                rest = result.batch.slice(drop)
                result.batch = rest if rest.num_rows else None
                result.names = result.names[drop:]
            yield result
        yield ChunkResult(None, [], Counter(), [], newlines)


def filter_span_list(span: Span, rule: Rule) -> list[ChunkResult]:
    """:func:`filter_span`, all at once (what a Dask task hands back)."""
    return list(filter_span(span, rule))


_GLOB = "*?[{"  # characters DuckDB's file readers take as a glob pattern


@contextmanager
def _span_file(span: Span) -> Iterator[tuple[Path, int | None]]:
    """A plain NDJSON file holding exactly the span's lines, and their count when they were read here."""
    if span.path is not None and span.start == 0 and span.end is None:
        if not any(c in span.path for c in _GLOB):
            yield Path(span.path), None  # a whole plain file: read in place
            return
        # DuckDB reads a path with glob characters as a pattern (g[1]/x.jsonl would read g1/x.jsonl):
        # give it a plain name for the same file
        with _span_folder() as folder:
            link = folder / "span.jsonl"
            link.symlink_to(span.path)
            yield link, None
        return
    if span.data is not None:
        with _span_folder() as folder:
            path = folder / "span.jsonl"
            path.write_bytes(span.data)
            yield path, span.data.count(b"\n")
        return
    assert span.path is not None
    try:
        source = Path(span.path).open("rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:  # on a Dask worker that does not see the client's files
        raise InputError(
            f"{span.path}: cannot read it here ({exc.strerror or exc}); Dask workers read plain dump "
            "files themselves, at the same path: put them on a filesystem every worker sees"
        ) from None
    with source, _span_folder() as folder:
        path = folder / "span.jsonl"
        yield path, _copy_range(source, span.start, span.end, path)


@contextmanager
def _span_folder() -> Iterator[Path]:
    """A temporary folder (under TMPDIR) for one span's lines; a full disk there is named as such.

    The error would otherwise name the dataset, whose disk may have room to spare.
    """
    with tempfile.TemporaryDirectory(prefix="dump-span-") as folder:
        try:
            yield Path(folder)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            raise storage_error(exc, f"{folder} (the temporary folder for dump spans: TMPDIR)") from None


def _range_bounds(handle: BinaryIO, start: int, end: int | None) -> tuple[int, int]:
    """The bytes ``[begin, stop)`` of an open file that hold the lines starting in ``[start, end)``, whole."""
    size = os.fstat(handle.fileno()).st_size
    if start > 0:
        handle.seek(start - 1)
        if handle.read(1) != b"\n":
            handle.readline()  # the line under way belongs to the span before
    begin = handle.tell()
    if end is None or end >= size:
        return begin, max(begin, size)
    if end <= begin:
        return begin, begin
    handle.seek(end - 1)
    if handle.read(1) != b"\n":
        handle.readline()  # the line under way at the end belongs to this span
    return begin, handle.tell()


def _copy_range(source: BinaryIO, start: int, end: int | None, target: Path) -> int:
    """Copy the lines of ``source`` that start in ``[start, end)``, whole, to ``target``; their newlines.

    The bytes go from file to file inside the kernel (``os.copy_file_range``; read and written in
    pieces where it is not available), and the newlines are counted on a memory map of each piece
    in turn: no copy of the range in Python (it was a fifth of a Dask task's CPU), and never more
    than a piece mapped (a mapped page counts in the process's RSS: a 256 MiB range mapped whole
    raised the peak by that much).
    """
    begin, stop = _range_bounds(source, start, end)
    with target.open("wb", buffering=0) as out:
        _copy_bytes(source, out, begin, stop - begin)
    newlines = 0
    for at in range(begin, stop, COUNT_PIECE):  # one map per piece: a mapped page counts in RSS while mapped
        size = min(COUNT_PIECE, stop - at)
        aligned = at - at % mmap.ALLOCATIONGRANULARITY
        with mmap.mmap(source.fileno(), at + size - aligned, offset=aligned, access=mmap.ACCESS_READ) as view:
            piece = np.frombuffer(view, np.uint8, size, at - aligned)
            newlines += int(np.count_nonzero(piece == 10))
            del piece  # the map cannot close while an array still points into it
    return newlines


def _copy_bytes(source: BinaryIO, target: BinaryIO, offset: int, count: int) -> None:
    """``count`` bytes of ``source`` from ``offset`` onward, appended to ``target`` (fewer at the end of the file)."""
    copy = getattr(os, "copy_file_range", None)
    while copy is not None and count > 0:
        try:
            copied = copy(source.fileno(), target.fileno(), count, offset)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM):
                raise
            break  # this filesystem or kernel cannot: copy the rest through Python
        if copied == 0:
            return  # the end of the file
        offset += copied
        count -= copied
    source.seek(offset)
    while count > 0:
        piece = source.read(min(count, COUNT_PIECE))
        if not piece:
            return
        count -= len(piece)
        rest = memoryview(piece)
        while rest:  # an unbuffered write may take part of it
            rest = rest[target.write(rest) or 0 :]


def rule_for(spec: DatasetSpec | None, pseudonymizer: Pseudonymizer | None, *, threads: int = 1) -> Rule:
    """The filter of a spec: ``[archive]`` (else ``[discovery]``) subreddits and range, ``[filter]`` rule."""
    if spec is None:
        return Rule(Selection(threads=threads))
    after = before = None
    if spec.archive is not None:
        after, before = spec.archive.range_epochs()
        if spec.archive.before == "now":
            before = None
    subreddits = spec.archive_subreddits() if spec.archive is not None else spec.discovery.subreddits
    selection = Selection(
        subreddits=tuple(sorted({s.lower() for s in subreddits})),
        include=tuple(spec.filter.include),
        exclude=tuple(spec.filter.exclude),
        after=after,
        before=before,
        threads=threads,
    )
    return Rule(selection, pseudonym_key=pseudonymizer.key if pseudonymizer else None)


@dataclass
class _Pass:
    """The running totals of one dump run."""

    counts: Counter[str] = field(default_factory=Counter)
    per_file: dict[str, Counter[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    quarantined: int = 0


def _spans(files: Sequence[DumpFile], report: _Pass, workers: int) -> Iterator[Span]:
    """The tasks of a pass, in input order.

    A plain NDJSON file is read by the workers themselves: whole in-process, else cut into byte
    ranges so every worker shares it. A ``.zst`` file is decompressed here (one stream: its frames
    cannot be found without decoding) into spans of whole lines.
    """
    for dump in files:
        if dump.path.suffix != ".zst":
            # in-process: spans as large as memory allows (one query plan each; a line to quarantine
            # sends one span, not the whole file, through the block path); on workers: one per worker
            piece = LOCAL_SPAN_MAX if workers <= 1 else min(SPAN_MAX, max(SPAN_MIN, -(-dump.size // workers)))
            if dump.size <= piece:
                yield Span(dump.path.name, dump.kind, str(dump.path.resolve()))
                continue
            for start in range(0, dump.size, piece):
                end = start + piece if start + piece < dump.size else None
                yield Span(dump.path.name, dump.kind, str(dump.path.resolve()), start, end)
            continue
        try:
            for _first, data in blocks(dump.path, block=SPAN_MAX):
                yield Span(dump.path.name, dump.kind, data=data)
        except InputError as exc:
            report.problems.append(str(exc))
            log.warning("%s", exc)


def _run_pass(
    engine: Engine,
    files: Sequence[DumpFile],
    rule: Rule,
    writer: pq.ParquetWriter,
    quarantine: Any,
    report: _Pass,
    names: set[str] | None,
) -> int:
    with _RowGroups(writer) as rows:
        task = filter_span if engine.name == "local" else filter_span_list  # a Dask task hands back a list
        lines_before: Counter[str] = Counter()  # lines of the spans already read, by file
        submitted: collections.deque[Span] = collections.deque()

        def spans() -> Iterator[Span]:
            for span in _spans(files, report, engine.workers):
                submitted.append(span)
                yield span

        results: Iterable[ChunkResult]
        for results in engine.map(task, spans(), rule):
            span = submitted.popleft()  # the engine hands results back in submission order
            offset = lines_before[span.file]
            for result in results:
                if result.batch is not None:
                    rows.add(result.batch)
                for item in result.quarantined:
                    item["line"] += offset
                    quarantine.write(json.dumps(item, ensure_ascii=False) + "\n")
                    report.per_file.setdefault(item["file"], Counter())["quarantined"] += 1
                report.quarantined += len(result.quarantined)
                report.counts.update(result.counts)
                if names is not None:
                    names.update(result.names)
                if result.newlines is not None:
                    lines_before[span.file] += result.newlines
        return rows.close()


class _RowGroups:
    """Batches written in row groups of one fixed size, whatever size they come in (so both engines write the same).

    Each row group is compressed and written by one writer thread while the next are read (pyarrow
    lets go of the GIL there); at most :data:`WRITES_QUEUED` row groups wait for it, so reading
    goes on while it compresses and memory stays bounded.
    """

    def __init__(self, writer: pq.ParquetWriter, size: int | None = None) -> None:
        self.writer = writer
        self.size = size or ROW_GROUP
        self.pending: list[pa.RecordBatch] = []
        self.count = 0
        self.written = 0
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dump-parquet")
        self.writing: collections.deque[Future[None]] = collections.deque()

    def add(self, batch: pa.RecordBatch) -> None:
        self.pending.append(batch)
        self.count += batch.num_rows
        if self.count >= self.size:
            table = pa.Table.from_batches(self.pending)
            whole = self.count - self.count % self.size
            self._write(table.slice(0, whole))
            rest = table.slice(whole)
            self.pending, self.count = rest.to_batches(), rest.num_rows

    def __enter__(self) -> _RowGroups:
        return self

    def __exit__(self, *exc: object) -> None:
        for writing in self.writing:  # a pass stopped by an error: let the writes under way end first
            writing.exception()
        self.thread.shutdown(wait=True)

    def close(self) -> int:
        """Write what is left; the number of rows written."""
        if self.count:
            self._write(pa.Table.from_batches(self.pending))
            self.pending, self.count = [], 0
        self._wait(0)
        return self.written

    def _wait(self, queued: int) -> None:
        """Until at most ``queued`` writes are waiting or under way."""
        while len(self.writing) > queued:
            self.writing.popleft().result()  # a failed write (a full disk) is raised here

    def _write(self, table: pa.Table) -> None:
        self._wait(WRITES_QUEUED - 1)
        # one chunk per column: the writer's pages follow the chunks, which differ between engines
        self.writing.append(
            self.thread.submit(self.writer.write_table, table.combine_chunks(), row_group_size=self.size)
        )
        self.written += table.num_rows


def ingest_dumps(
    dataset_dir: Path,
    paths: Sequence[Path],
    *,
    engine: str = "local",
    scheduler: str | None = None,
    client: Any = None,
    wait_for_lock: bool = False,
    write_unchanged: bool = False,
    keep_all: bool = False,
) -> dict[str, Any]:
    """Write a new version of ``dataset_dir`` from dump files; return its manifest.

    The spec (``dataset.toml``) says which lines are kept; a folder without one is refused
    (:class:`ConfigError`, nothing created: a mistyped path would otherwise build all of Reddit's
    month) unless ``keep_all``, which keeps every line of the files (for per-subreddit files).

    Without ``write_unchanged``, a build holding what the latest version holds (a rerun of the
    same files, or of a run killed after its version was placed) writes nothing and raises
    :class:`~scraper.store.changes.NoChange`: rerunning is idempotent.
    """
    if not paths:
        raise InputError("give at least one dump file (RS_YYYY-MM.zst, RC_YYYY-MM.zst, <sub>_comments.zst, …)")
    files = [describe(p, hashed=False) for p in paths]  # a bad name or a missing file stops here
    spec_file = dataset_dir / SPEC_FILE
    has_spec = os.path.lexists(spec_file)  # a folder or a broken link there is the spec's error to name
    if keep_all and has_spec:
        raise ConfigError(
            f"{dataset_dir}: --all keeps every line, but its {SPEC_FILE} says which to keep; "
            "drop --all to keep the spec's lines, or give another folder; nothing was written"
        )
    if not keep_all and not has_spec:
        raise ConfigError(
            f"{dataset_dir}: no {SPEC_FILE} found, which says which lines to keep (subreddits, range, filter); "
            "check the path, or write one (README, The spec), or give --all to keep every line; nothing was written"
        )
    dataset = Dataset(dataset_dir)
    spec, spec_sha = load_spec(dataset_dir) if has_spec else (None, None)
    pseudonymizer = pseudonymizer_for(dataset, spec)
    rule = rule_for(spec, pseudonymizer, threads=1 if engine == "dask" else LOCAL_THREADS)
    rule = replace(rule, purged=purged_fullnames(dataset_dir))
    posts = [f for f in files if f.kind == "t3"]
    comments = [f for f in files if f.kind == "t1"]
    with dataset_lock(dataset_dir, wait=wait_for_lock), open_engine(engine, scheduler=scheduler, client=client) as eng:
        for leftover in dataset.path.glob(".dumps.*"):  # a killed run's work folder (we hold the lock)
            shutil.rmtree(leftover, ignore_errors=True)
        work = dataset.path / f".dumps.{os.getpid()}"  # beside .staging, which write_version cleans
        work.mkdir(parents=True)
        # The inputs' sha256 (for the manifest) is taken in a thread while the passes read them: one
        # more reader of files in the page cache, on the cycles the passes leave free.
        stop = threading.Event()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dump-sha256") as hashing:
            hashes = hashing.map(functools.partial(sha256_of, stop=stop), [f.path for f in files])
            try:
                return _write(
                    dataset,
                    spec,
                    spec_sha,
                    files,
                    posts,
                    comments,
                    rule,
                    eng,
                    work,
                    pseudonymizer,
                    hashes,
                    write_unchanged=write_unchanged,
                )
            finally:
                stop.set()  # (after a complete run every hash is already taken)
                shutil.rmtree(work, ignore_errors=True)


def _write(
    dataset: Dataset,
    spec: DatasetSpec | None,
    spec_sha: str | None,
    files: list[DumpFile],
    posts: list[DumpFile],
    comments: list[DumpFile],
    rule: Rule,
    engine: Engine,
    work: Path,
    pseudonymizer: Pseudonymizer | None,
    hashes: Iterable[str],
    *,
    write_unchanged: bool,
) -> dict[str, Any]:
    report = _Pass()
    paths = {stem: work / f"{stem}.parquet" for stem in ("submissions", "comments")}
    quarantine_path = work / "quarantine.jsonl"
    names: set[str] = set()
    with quarantine_path.open("w", encoding="utf-8") as quarantine:
        with _writer(paths["submissions"]) as writer:
            kept_posts = _run_pass(engine, posts, rule, writer, quarantine, report, names)
        comment_rule = rule
        if posts:
            links = frozenset(n.lower() for n in names)
            selection = Selection(links=links, threads=rule.selection.threads)
            comment_rule = Rule(selection, pseudonym_key=rule.pseudonym_key, purged=rule.purged)
        with _writer(paths["comments"]) as writer:
            kept_comments = _run_pass(engine, comments, comment_rule, writer, quarantine, report, None)
    duplicates = {stem: _keep_newest(path, work) for stem, path in paths.items()}
    kept_posts -= duplicates["submissions"]
    kept_comments -= duplicates["comments"]
    if kept_posts + kept_comments == 0:
        quarantined = f"{report.quarantined} quarantined"
        if report.quarantined:  # kept like any run's quarantine, under a name no version takes
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            target = dataset.path / "quarantine" / f"unkept-{stamp}-{os.getpid()}.jsonl"
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(quarantine_path, target)
            quarantined += f", written to {target}"
        advice = "check the spec's subreddits, [archive] range and [filter] rule"
        if report.problems:  # a file that could not be read is the likelier cause: the one line names it
            unread = len(report.problems)
            more = f"; {unread - 2} more above" if unread > 2 else ""
            others = f"; for the other files, {advice}" if unread < len(files) else ""
            advice = f"{unread} file(s) could not be read: {'; '.join(report.problems[:2])}{more}{others}"
        raise InputError(
            f"nothing kept from {len(files)} dump file(s) ({report.counts['lines']} lines, {quarantined}): {advice}"
        )
    stats = {
        "submissions": kept_posts,
        "comments": kept_comments,
        "quarantined": report.quarantined,
        "lines": report.counts["lines"],
        "not_kept": {
            **{k.removeprefix("filtered_"): v for k, v in sorted(report.counts.items()) if k.startswith("filtered_")},
            **({"duplicate": sum(duplicates.values())} if any(duplicates.values()) else {}),
        },
        "repaired": {
            k.removeprefix("repaired_"): v for k, v in sorted(report.counts.items()) if k.startswith("repaired_")
        },
        "problems": report.problems,
        "engine": engine.name,
    }
    files = [replace(f, sha256=digest) for f, digest in zip(files, hashes, strict=True)]
    source = {"kind": "dumps", "files": [f.manifest_entry() for f in files], "threads_from_submissions": bool(posts)}
    extra = {"pseudonymization": pseudonymizer.manifest_entry() if pseudonymizer else {"pseudonymized": False}}
    if not write_unchanged:
        misfits: Path | list[dict[str, Any]] = quarantine_path if report.quarantined else []
        refuse_unchanged(dataset, dict(paths), spec_sha, misfits, extra["pseudonymization"])
    version = dataset.next_version()
    if report.quarantined:  # in place before the version is: a kill between the two loses neither
        target = dataset.path / "quarantine" / f"{version}.jsonl"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(quarantine_path, target)
    return dataset.write_version(
        {stem: path for stem, path in paths.items()},
        spec_sha256=spec_sha,
        source=source,
        stats=stats,
        extra=extra,
        version=version,
    )


#: The rows a version drops, in order: of several lines of one thing, all but the newest capture
#: (then the later line). Only the name and capture time are read (a narrow window, which spills
#: to disk past the memory limit), never the rows' texts.
_DROPPED_LINES = """
SELECT r FROM (
    SELECT file_row_number AS r,
        row_number() OVER (PARTITION BY name ORDER BY retrieved_at DESC, file_row_number DESC) AS k
    FROM read_parquet({src}, file_row_number = true)
) WHERE k > 1
ORDER BY r
"""


def _keep_newest(path: Path, work: Path) -> int:
    """One row per fullname in ``path`` (rewritten in place when needed); the number of rows dropped.

    The same post or comment often comes in more than one input (a month file and a
    per-subreddit file, or a month given twice); the newest capture (``retrieved_at``) wins,
    then the line read later, and rows keep their input order.

    Memory does not grow with the file: DuckDB (within :data:`NEWEST_MEMORY`, spilling to the
    work folder) finds the numbers of the rows to drop from the names and capture times alone,
    and hands them back in order while the file is copied a row group at a time without them.
    """
    src = "'" + str(path).replace("'", "''") + "'"
    con = connect(threads=1, memory_limit=NEWEST_MEMORY, temp_directory=str(work / "duckdb.tmp"))
    try:
        # the only value put into these queries is a path of our own work folder, quoted above
        duplicated = f"SELECT count(*) - count(DISTINCT name) FROM read_parquet({src})"  # noqa: S608
        count = con.execute(duplicated).fetchall()[0][0]
        if not count:
            return 0
        newest = work / "newest" / path.name
        newest.parent.mkdir(exist_ok=True)
        dropped = _row_numbers(con.sql(_DROPPED_LINES.format(src=src)).to_arrow_reader(ROW_GROUP))
        pending = np.empty(0, dtype=np.int64)  # numbers of rows to drop, not yet reached
        with _writer(newest) as writer, _RowGroups(writer) as rows:
            at = 0  # the file's row number of the batch's first row
            for read in pq.ParquetFile(path).iter_batches(batch_size=ROW_GROUP):
                batch, end = read, at + read.num_rows
                while not pending.size or pending[-1] < end:
                    more = next(dropped, None)
                    if more is None:
                        break
                    pending = np.concatenate([pending, more])
                cut = int(np.searchsorted(pending, end))
                if cut:
                    keep = np.ones(batch.num_rows, dtype=bool)
                    keep[pending[:cut] - at] = False
                    batch = batch.filter(pa.array(keep))
                    pending = pending[cut:]
                at = end
                if batch.num_rows:
                    rows.add(batch)
            rows.close()
    finally:
        con.close()
    os.replace(newest, path)
    return int(count)


def _row_numbers(reader: pa.RecordBatchReader) -> Iterator[np.ndarray[Any, np.dtype[np.int64]]]:
    """The row numbers of a one-column reader, in order, a batch at a time."""
    for batch in reader:
        if batch.num_rows:
            yield batch.column(0).to_numpy().astype(np.int64, copy=False)


class _writer:  # noqa: N801 - used as a context manager, like open()
    """A Parquet writer in the table's schema, with :func:`writer_options`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stem = path.stem

    def __enter__(self) -> pq.ParquetWriter:
        self.writer = pq.ParquetWriter(self.path, ARROW_SCHEMAS[self.stem], **writer_options(self.stem))
        return self.writer

    def __exit__(self, *exc: object) -> None:
        self.writer.close()


def check_engine_options(engine: str, scheduler: str | None) -> None:
    """A clear error for option combinations that cannot work, before any file is read."""
    if engine == "local" and scheduler:
        raise ConfigError("--scheduler is for --engine dask; drop it or add --engine dask")
