"""Build a version from dump files: streamed, filtered, normalized in pure per-chunk tasks, two passes.

``python -m scraper dumps PATH FILES… [--engine dask --scheduler tcp://HOST:8786]``

1. **Submissions pass.** Every ``RS_*``/``*_submissions`` file is streamed in
   blocks of whole lines; each block is a pure task (:func:`filter_chunk`) that
   parses its lines, keeps the posts of the spec's subreddits (any case) created
   in the ``[archive]`` range and passing the ``[filter]`` keyword rule, and turns
   them into a checked Arrow batch (:mod:`scraper.normalize.flat`).  The kept
   posts' fullnames form the set of threads.
2. **Comments pass.** Every ``RC_*``/``*_comments`` file likewise, keeping the
   comments whose ``link_id`` is exactly in that set.  Given comment files only,
   comments are kept by subreddit (and the range) instead.

A line that does not parse, or whose value does not fit the schema, is written
to ``quarantine/<version>.jsonl`` (file, line, field, error, the line) and
counted; it never stops the run.  A file whose zstd stream breaks keeps what
decoded before the break and is named in the manifest's problems.  Batches are
written in input order to Parquet as they arrive, so memory stays flat whatever
the input size; both engines hand back the same batches in the same order, so
both write byte-identical files.  The manifest records each input file's name,
size and sha256.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from schemas import ARROW_SCHEMAS
from scraper.build import pseudonymizer_for
from scraper.engine import Engine, open_engine
from scraper.errors import ConfigError, InputError
from scraper.normalize.flat import Selection, normalize_block
from scraper.normalize.pseudonyms import Pseudonymizer
from scraper.sources.dumps import DumpFile, blocks, describe
from scraper.spec import SPEC_FILE, DatasetSpec, load_spec
from scraper.store.lock import dataset_lock
from scraper.store.purge import purge_batch, purged_fullnames, purged_quarantine_entry
from scraper.store.snapshot import Dataset

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    """What the chunk tasks keep, and the pseudonym key: picklable, sent once to every worker."""

    selection: Selection = field(default_factory=Selection)
    pseudonym_key: bytes | None = field(default=None, repr=False)
    purged: frozenset[str] = field(default=frozenset(), repr=False)  # the dataset's purges.jsonl


@dataclass(frozen=True)
class Chunk:
    """One task's input: whole lines of one file."""

    file: str
    kind: str
    first_line: int
    data: bytes


@dataclass
class ChunkResult:
    """One task's output: the kept rows as a batch, the quarantined lines, the counts."""

    batch: pa.RecordBatch | None
    quarantined: list[dict[str, Any]]
    counts: Counter[str]
    names: list[str]


def filter_chunk(chunk: Chunk, rule: Rule) -> ChunkResult:
    """Parse, filter and normalize one chunk: a pure function of its arguments (runs on any worker)."""
    pseudonymizer = Pseudonymizer(rule.pseudonym_key) if rule.pseudonym_key else None
    result, quarantined, counts = normalize_block(
        chunk.data,
        chunk.first_line,
        chunk.kind,
        source=f"dump:{chunk.file}",
        selection=rule.selection,
        pseudonymizer=pseudonymizer,
    )
    if rule.purged:  # purged things become tombstones; their raw lines are not quarantined
        if result is not None:
            result = purge_batch(result, "submissions" if chunk.kind == "t3" else "comments", rule.purged)
        quarantined = [q for q in quarantined if not purged_quarantine_entry(q, chunk.kind, rule.purged)]
    for item in quarantined:
        item["file"] = chunk.file
    names = result["name"].to_pylist() if result is not None and chunk.kind == "t3" else []
    return ChunkResult(result, quarantined, Counter(counts), names)


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


def _chunks(files: Sequence[DumpFile], report: _Pass) -> Iterator[Chunk]:
    for dump in files:
        try:
            for first, data in blocks(dump.path):
                yield Chunk(dump.path.name, dump.kind, first, data)
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
    rows = 0
    for result in engine.map(filter_chunk, _chunks(files, report), rule):
        if result.batch is not None:
            writer.write_batch(result.batch)
            rows += result.batch.num_rows
        for item in result.quarantined:
            quarantine.write(json.dumps(item, ensure_ascii=False) + "\n")
            report.per_file.setdefault(item["file"], Counter())["quarantined"] += 1
        report.quarantined += len(result.quarantined)
        report.counts.update(result.counts)
        if names is not None:
            names.update(result.names)
    return rows


def ingest_dumps(
    dataset_dir: Path,
    paths: Sequence[Path],
    *,
    engine: str = "local",
    scheduler: str | None = None,
    client: Any = None,
    wait_for_lock: bool = False,
) -> dict[str, Any]:
    """Write a new version of ``dataset_dir`` from dump files; return its manifest."""
    if not paths:
        raise InputError("give at least one dump file (RS_YYYY-MM.zst, RC_YYYY-MM.zst, <sub>_comments.zst, …)")
    files = [describe(p) for p in paths]  # names, sizes, hashes: a bad name or a missing file stops here
    dataset = Dataset(dataset_dir)
    spec, spec_sha = load_spec(dataset_dir) if (dataset_dir / SPEC_FILE).is_file() else (None, None)
    pseudonymizer = pseudonymizer_for(dataset, spec)
    rule = rule_for(spec, pseudonymizer, threads=1 if engine == "dask" else max(1, os.cpu_count() or 1))
    rule = replace(rule, purged=purged_fullnames(dataset_dir))
    posts = [f for f in files if f.kind == "t3"]
    comments = [f for f in files if f.kind == "t1"]
    check_patterns(rule.selection)
    with dataset_lock(dataset_dir, wait=wait_for_lock), open_engine(engine, scheduler=scheduler, client=client) as eng:
        for leftover in dataset.path.glob(".dumps.*"):  # a killed run's work folder (we hold the lock)
            shutil.rmtree(leftover, ignore_errors=True)
        work = dataset.path / f".dumps.{os.getpid()}"  # beside .staging, which write_version cleans
        work.mkdir(parents=True)
        try:
            return _write(dataset, spec, spec_sha, files, posts, comments, rule, eng, work, pseudonymizer)
        finally:
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
    if kept_posts + kept_comments == 0:
        raise InputError(
            f"nothing kept from {len(files)} dump file(s) ({report.counts['lines']} lines, "
            f"{report.quarantined} quarantined): check the spec's subreddits, [archive] range and [filter] rule"
        )
    stats = {
        "submissions": kept_posts,
        "comments": kept_comments,
        "quarantined": report.quarantined,
        "lines": report.counts["lines"],
        "not_kept": {
            k.removeprefix("filtered_"): v for k, v in sorted(report.counts.items()) if k.startswith("filtered_")
        },
        "problems": report.problems,
        "engine": engine.name,
    }
    source = {"kind": "dumps", "files": [f.manifest_entry() for f in files], "threads_from_submissions": bool(posts)}
    extra = {"pseudonymization": pseudonymizer.manifest_entry() if pseudonymizer else {"pseudonymized": False}}
    manifest = dataset.write_version(
        {stem: path for stem, path in paths.items()},
        spec_sha256=spec_sha,
        source=source,
        stats=stats,
        extra=extra,
    )
    if report.quarantined:
        target = dataset.path / "quarantine" / f"{manifest['version']}.jsonl"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(quarantine_path, target)
    return manifest


class _writer:  # noqa: N801 - used as a context manager, like open()
    """A Parquet writer in the table's schema (the same settings as every version's files)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stem = path.stem

    def __enter__(self) -> pq.ParquetWriter:
        self.writer = pq.ParquetWriter(self.path, ARROW_SCHEMAS[self.stem], compression="zstd", write_statistics=True)
        return self.writer

    def __exit__(self, *exc: object) -> None:
        self.writer.close()


def check_patterns(selection: Selection) -> None:
    """A clear error for a ``[filter]`` pattern DuckDB's regular expressions (RE2) cannot run, before any work."""
    import duckdb

    con = duckdb.connect()
    try:
        for pattern in (*selection.include, *selection.exclude):
            try:
                con.execute("SELECT regexp_matches('', ?, 'i')", [pattern])
            except duckdb.Error as exc:
                raise ConfigError(
                    f"[filter] pattern {pattern!r} is not supported by the dump reader's regular expressions "
                    f"(RE2: no look-around or back-references): {exc}; rewrite it without them"
                ) from None
    finally:
        con.close()


def check_engine_options(engine: str, scheduler: str | None) -> None:
    """A clear error for option combinations that cannot work, before any file is read."""
    if engine == "local" and scheduler:
        raise ConfigError("--scheduler is for --engine dask; drop it or add --engine dask")
