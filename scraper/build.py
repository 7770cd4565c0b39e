"""Build a version from raw records, streaming: sightings → newest per fullname → Parquet version.

Collection, refresh and ingest all end here, so a version can always be rebuilt
from the raw archive without asking Reddit again.  Records flow through in
bounded batches (:mod:`scraper.normalize.sightings`), are reduced to the newest
sighting of each thing by DuckDB under a memory limit
(:mod:`scraper.normalize.merge`) and written as row groups; memory does not
depend on how much is built (docs/PERFORMANCE.md, "Data path").

The library entry point for any source of things is :class:`VersionBuilder`::

    with VersionBuilder(Dataset(path)) as builder:
        builder.sightings.add_records(records)            # raw API records (archive, ingest)
        builder.sightings.add_things(lines, kind="t1",    # or one wire object per line (dumps)
                                     seen_at=when, source="file:RC_2020-01.zst")
        manifest = builder.write(spec_sha256=None, source={"kind": "ingest"}, stats={})

Lines may be bytes, str or already parsed dicts; the work folder
(``<dataset>/.build-<pid>-*``) is removed on exit, and one left by a killed run
is removed by the next build.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas import Comment, Submission
from scraper.errors import InputError, SnapshotError
from scraper.normalize import build_rows, harvest_records, runs
from scraper.normalize.harvest import Harvest, Seen
from scraper.normalize.ids import lower_ids
from scraper.normalize.merge import ArchiveOverlay, MergeResult, merge
from scraper.normalize.policy import is_tombstone
from scraper.normalize.pseudonyms import Pseudonymizer, check_key, load_key
from scraper.normalize.rows import RowSet
from scraper.normalize.sightings import STEMS, Sightings
from scraper.publish.card import missing_context, render_card
from scraper.spec import DatasetSpec
from scraper.store.changes import NoChange, unchanged_since
from scraper.store.killpoints import killpoint
from scraper.store.purge import apply_purges, purged_fullnames
from scraper.store.snapshot import Dataset, pid_alive, rows_to_table, table_path, write_json_lines_atomic
from scraper.store.tablefile import PARQUET_ERRORS, checked_schema, is_data_error, read_error, scan_error

WORK_PREFIX = ".build-"


class VersionBuilder:
    """Streams sightings into a new version of ``dataset``.

    ``base`` names a version whose rows take part (ingest's merge, refresh): a newer
    sighting of a fullname replaces its row, ties go to the new one, and every other row
    stays.  ``base_only`` keeps only threads the base holds (refresh).  ``keep_thread``
    is the spec's thread filter.
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        base: str | None = None,
        base_only: bool = False,
        keep_thread: Callable[[Seen, list[str]], bool] | None = None,
        pseudonymizer: Pseudonymizer | None = None,
        batch_rows: int = 16384,
        archive: ArchiveOverlay | None = None,
    ) -> None:
        self.dataset = dataset
        self.base = base
        self.base_only = base_only
        self.keep_thread = keep_thread
        self.pseudonymizer = pseudonymizer
        self.archive = archive
        dataset.path.mkdir(parents=True, exist_ok=True)
        _remove_stale_work(dataset.path)
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-", dir=dataset.path))
        self.sightings = Sightings(self.workdir, batch_rows=batch_rows, archive=archive is not None)
        self._staged: dict[str, list[Path]] | None = None
        self.base_facts = False
        """Whether rows of the base carry archive facts (kept when Reddit's newer sighting wins)."""
        self.base_folder: Path | None = None
        if base is not None:
            folder, manifest = dataset.version_dir(base), dataset.manifest(base)
            self.base_folder = folder
            self.sightings.seq = -(2**62)  # the base's rows lose every tie
            for stem in STEMS.values():
                path = table_path(folder, manifest, stem)  # the file the manifest maps, as every reader
                checked_schema(path, stem)  # a damaged column name is named here, not met as a cast error later
                try:
                    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
                        self.sightings.add_rows(stem, pa.Table.from_batches([batch]))
                        self.base_facts = self.base_facts or batch.column("archive_status").null_count < batch.num_rows
                except (*PARQUET_ERRORS, OSError) as exc:  # a base file that matched its manifest but does not read
                    raise read_error(exc, path) from None
            self.sightings.seq = 0

    def __enter__(self) -> VersionBuilder:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Remove the work folder (what was not staged is given up: a failed build writes nothing more)."""
        self.sightings.discard()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def staged(self) -> dict[str, list[Path]]:
        """Stop taking sightings; the staging files by stem."""
        if self._staged is None:
            self._staged = self.sightings.close()
        return self._staged

    def new_keys(self, stem: str) -> pa.Array:
        """Fullnames this build saw (valid, not from the base) in table ``stem``; read from the staging file."""
        paths = self.staged().get(stem)
        if not paths:
            return pa.array([], pa.string())
        table = pa.concat_tables(runs.read_run(path, ["_key", "_pre", "_qfield"]) for path in paths)
        fresh = pc.and_(pc.invert(table["_pre"]), pc.is_null(table["_qfield"]))
        return table.filter(fresh)["_key"].combine_chunks()

    def _merge(self, staged: dict[str, list[Path]], outputs: dict[str, Path], quarantine: Path) -> MergeResult:
        return merge(
            staged,
            self.workdir,
            outputs,
            quarantine,
            keep_thread=self.keep_thread,
            base_only=self.base_only,
            pseudonymizer=self.pseudonymizer,
            previously_visible=self._previously_visible(),
            purged=purged_fullnames(self.dataset.path),
            archive=None
            if self.archive is None
            else replace(
                self.archive,
                gone=self.archive.gone | frozenset(self.sightings.stats.gone),
                served=self.archive.served | frozenset(self.sightings.stats.served),
            ),
            keep_facts=self.base_facts,
        )

    def write(
        self,
        *,
        spec_sha256: str | None,
        source: dict[str, Any],
        stats: dict[str, Any],
        completeness: list[dict[str, Any]] | None = None,
        spec: DatasetSpec | None = None,
        require_rows: bool = False,
        write_unchanged: bool = True,
    ) -> dict[str, Any]:
        """Write the dataset's next version (card and quarantine file included); return its manifest.

        With ``require_rows``, a build that holds no row at all writes nothing and raises
        :class:`~scraper.errors.InputError` naming what was not kept.  Without
        ``write_unchanged``, a build holding what the latest version holds writes nothing
        and raises :class:`~scraper.store.changes.NoChange`.
        """
        staged = self.staged()
        outputs = {stem: self.workdir / f"{stem}.parquet" for stem in ("submissions", "comments")}
        quarantine = self.workdir / "quarantine.jsonl"
        try:
            merged = self._merge(staged, outputs, quarantine)
        except duckdb.Error as exc:  # the base's rows are scanned here first: a page or string that does not read
            if self.base_folder is None or not is_data_error(exc):
                raise
            raise scan_error(exc, [self.base_folder]) from None
        killpoint("normalized")
        # what the merge held (the winners' keys and parents, the batches in flight) is free now: give it
        # back, so the steps after it (the card's joins in DuckDB) do not add their peak on top of it
        pa.default_memory_pool().release_unused()
        seen = self.sightings.stats
        not_kept = dict(sorted((seen.not_kept + merged.not_kept).items()))
        if require_rows and not merged.fresh_rows:
            older = len(self.new_keys("submissions")) + len(self.new_keys("comments"))
            if older and self.base is not None:
                raise InputError(
                    f"nothing newer than {self.base} in the input ({older} things, each held already with a "
                    "later retrieved_at); no version written"
                )
            raise InputError(_nothing_usable(not_kept, merged.quarantined, seen.skipped))
        all_stats = {
            "submissions": merged.rows["submissions"],
            "comments": merged.rows["comments"],
            "status": dict(sorted(merged.status.items())),
            "quarantined": merged.quarantined,
            "responses": seen.responses,
            "stubs_seen": seen.stubs_seen,
            "skipped_responses": list(seen.skipped),
            "not_kept": not_kept,
            "repaired": dict(sorted(seen.repaired.items())),
            **({"escaping": dict(sorted(seen.escaping.items()))} if seen.escaping else {}),
            **stats,
        }
        extra: dict[str, Any] = {
            "pseudonymization": self.pseudonymizer.manifest_entry() if self.pseudonymizer else {"pseudonymized": False},
            "tombstones": {"total": merged.tombstones, "added": merged.tombstones_added},
        }
        if completeness is not None:
            extra["completeness"] = completeness
        if not write_unchanged:
            misfits: Path | list[dict[str, Any]] = quarantine if merged.quarantined else []
            refuse_unchanged(self.dataset, outputs, spec_sha256, misfits, extra["pseudonymization"])
        version = self.dataset.next_version()
        if merged.quarantined:  # in place before the version is: a kill between the two loses neither
            qdir = self.dataset.path / "quarantine"
            qdir.mkdir(parents=True, exist_ok=True)
            os.replace(quarantine, qdir / f"{version}.jsonl")
        missing = missing_context(outputs["submissions"], outputs["comments"])
        manifest = self.dataset.write_version(
            dict(outputs),
            spec_sha256=spec_sha256,
            source=source,
            stats=all_stats,
            extra=extra,
            card=lambda m: render_card(m, spec, merged.window(), missing),
            version=version,
        )
        self.result = merged
        return manifest

    def _previously_visible(self) -> pa.Array | None:
        latest = self.dataset.latest()
        if latest is None:
            return None
        names = []
        manifest = self.dataset.manifest(latest)
        for stem in STEMS.values():
            path = table_path(self.dataset.version_dir(latest), manifest, stem)
            checked_schema(path, stem)
            try:
                table = pq.ParquetFile(path).read(columns=["name", "status"])
            except (OSError, pa.ArrowException) as exc:
                raise SnapshotError(f"cannot read {path}: {exc}") from None
            visible = table.filter(pc.equal(table["status"], "visible"))["name"].combine_chunks()
            names.append(lower_ids(visible))  # as the merge keys them (a version written before ids were lowered)
        return pa.concat_arrays(names)


def refuse_unchanged(
    dataset: Dataset,
    tables: Mapping[str, pa.Table | Path],
    spec_sha256: str | None,
    quarantined: Path | Iterable[Mapping[str, Any]],
    pseudonymization: dict[str, Any],
) -> None:
    """Raise :class:`NoChange` if ``tables`` hold what the latest version holds (``quarantined``: the
    build's quarantine file or entries; a thing in it that the latest's quarantine lacks is a change)."""
    latest = unchanged_since(
        dataset, tables, spec_sha256=spec_sha256, quarantined=quarantined, pseudonymization=pseudonymization
    )
    if latest is not None:
        dataset.write_index()  # a run killed after placing its version may have left the index behind
        raise NoChange(latest)


def _nothing_usable(not_kept: dict[str, int], quarantined: int, skipped: list[str]) -> str:
    reasons = [f"{count} {reason}" for reason, count in not_kept.items() if count]
    if quarantined:
        reasons.append(f"{quarantined} things quarantined (do not fit the schema)")
    said = "; ".join(reasons) if reasons else "no submissions or comments in it"
    example = f"; first: {skipped[0]}" if skipped else ""
    return f"nothing usable in the input ({said}{example}); no version written"


def _remove_stale_work(folder: Path) -> None:
    """Work folders of builds that died (their process is gone)."""
    for leftover in folder.glob(f"{WORK_PREFIX}*"):
        pid = leftover.name[len(WORK_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)


def build_version(
    dataset: Dataset,
    records: Iterable[dict[str, Any]],
    *,
    spec_sha256: str | None,
    source: dict[str, Any],
    keep_thread: Callable[[Seen, list[str]], bool] | None = None,
    stats: dict[str, Any] | None = None,
    completeness: list[dict[str, Any]] | None = None,
    pseudonymizer: Pseudonymizer | None = None,
    spec: DatasetSpec | None = None,
    base: str | None = None,
    require_rows: bool = False,
    write_unchanged: bool = True,
) -> dict[str, Any]:
    """Normalize ``records`` (streamed) and write them as the dataset's next version; return its manifest.

    Without ``write_unchanged``, a version holding what the latest holds is not written
    (:class:`~scraper.store.changes.NoChange`).

    With a spec's ``[archive]`` section, Arctic Shift answers in ``records`` are overlaid
    on Reddit's (:class:`~scraper.normalize.merge.ArchiveOverlay`, docs/ARCHIVES.md).
    """
    with VersionBuilder(
        dataset, base=base, keep_thread=keep_thread, pseudonymizer=pseudonymizer, archive=archive_overlay(spec)
    ) as builder:
        builder.sightings.add_records(records)
        return builder.write(
            spec_sha256=spec_sha256,
            source=source,
            stats=stats or {},
            completeness=completeness,
            spec=spec,
            require_rows=require_rows,
            write_unchanged=write_unchanged,
        )


def archive_overlay(spec: DatasetSpec | None) -> ArchiveOverlay | None:
    """How a build with ``spec`` takes archive answers: None without an ``[archive]`` section (not kept)."""
    if spec is None or spec.archive is None:
        return None
    return ArchiveOverlay(text_when_gone=bool(spec.archive.text_when_gone))


def rows_from_records(
    records: Iterable[dict[str, Any]],
    *,
    keep_thread: Callable[[Seen, list[str]], bool] | None = None,
    harvest: Harvest | None = None,
    pseudonymizer: Pseudonymizer | None = None,
    archive_text_when_gone: bool = False,
) -> tuple[RowSet, Harvest]:
    """Normalize raw records into rows, with the row policies applied (tombstones, pseudonyms)."""
    harvest = harvest_records(records, harvest)
    rows = build_rows(harvest, keep_thread=keep_thread, archive_text_when_gone=archive_text_when_gone)
    if pseudonymizer is not None:
        rows.submissions = [pseudonymizer.row(r) for r in rows.submissions]
        rows.comments = [pseudonymizer.row(r) for r in rows.comments]
    return rows, harvest


def build_version_in_memory(
    dataset: Dataset,
    records: Iterable[dict[str, Any]],
    *,
    spec_sha256: str | None,
    source: dict[str, Any],
    keep_thread: Callable[[Seen, list[str]], bool] | None = None,
    stats: dict[str, Any] | None = None,
    harvest: Harvest | None = None,
    completeness: list[dict[str, Any]] | None = None,
    pseudonymizer: Pseudonymizer | None = None,
    spec: DatasetSpec | None = None,
    write_unchanged: bool = True,
) -> dict[str, Any]:
    """The in-memory path: every record harvested, every row a model, then written.

    The reference the streaming build is tested against (``tests/test_fastpath.py``,
    ``tests/test_archive_streaming.py``); memory grows with the input, so no command uses it.
    """
    text_when_gone = bool(spec and spec.archive and spec.archive.text_when_gone)
    rows, harvest = rows_from_records(
        records,
        keep_thread=keep_thread,
        harvest=harvest,
        pseudonymizer=pseudonymizer,
        archive_text_when_gone=text_when_gone,
    )
    stats = {
        "responses": harvest.responses,
        "stubs_seen": harvest.stubs_seen,
        "skipped_responses": harvest.skipped,
        **(stats or {}),
    }
    return write_rows(
        dataset,
        rows,
        spec_sha256=spec_sha256,
        source=source,
        stats=stats,
        completeness=completeness,
        pseudonymizer=pseudonymizer,
        spec=spec,
        write_unchanged=write_unchanged,
    )


def write_rows(
    dataset: Dataset,
    rows: RowSet,
    *,
    spec_sha256: str | None,
    source: dict[str, Any],
    stats: dict[str, Any],
    completeness: list[dict[str, Any]] | None = None,
    pseudonymizer: Pseudonymizer | None = None,
    spec: DatasetSpec | None = None,
    write_unchanged: bool = True,
) -> dict[str, Any]:
    """Write rows as the dataset's next version (card and quarantine file included); return its manifest.

    Every path that makes rows ends here, so here the dataset's purge list is applied.
    """
    apply_purges(rows, purged_fullnames(dataset.path))
    killpoint("normalized")
    rows.submissions.sort(key=lambda r: r.name)
    rows.comments.sort(key=lambda r: r.name)
    tables = {
        "submissions": rows_to_table("submissions", rows.submissions),
        "comments": rows_to_table("comments", rows.comments),
    }
    every = _every_row(rows)
    statuses = Counter(str(r.status) for r in every)
    all_stats = {
        "submissions": len(rows.submissions),
        "comments": len(rows.comments),
        "status": dict(sorted(statuses.items())),
        "quarantined": len(rows.quarantined),
        **stats,
    }
    extra: dict[str, Any] = {
        "pseudonymization": pseudonymizer.manifest_entry() if pseudonymizer else {"pseudonymized": False},
        "tombstones": {
            "total": sum(1 for r in every if is_tombstone(r)),
            "added": _tombstones_added(dataset, rows),
        },
    }
    if completeness is not None:
        extra["completeness"] = completeness
    if not write_unchanged:
        misfits = [item.as_json() for item in rows.quarantined]
        refuse_unchanged(dataset, tables, spec_sha256, misfits, extra["pseudonymization"])
    window = {
        "created_min": min((r.created_utc for r in every), default=None),
        "created_max": max((r.created_utc for r in every), default=None),
        "retrieved_min": min((r.retrieved_at for r in every), default=None),
        "retrieved_max": max((r.retrieved_at for r in every), default=None),
    }
    version = dataset.next_version()
    if rows.quarantined:  # in place before the version is: a kill between the two loses neither
        qdir = dataset.path / "quarantine"
        qdir.mkdir(parents=True, exist_ok=True)
        write_json_lines_atomic(qdir / f"{version}.jsonl", [item.as_json() for item in rows.quarantined])
    return dataset.write_version(
        tables,
        spec_sha256=spec_sha256,
        source=source,
        stats=all_stats,
        extra=extra,
        card=lambda m: render_card(m, spec, window, missing_context(tables["submissions"], tables["comments"])),
        version=version,
    )


def _tombstones_added(dataset: Dataset, rows: RowSet) -> int:
    """Items visible in the previous version that are tombstones in this one."""
    latest = dataset.latest()
    if latest is None:
        return 0
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    visible: set[str] = set()
    manifest = dataset.manifest(latest)
    for stem in ("submissions", "comments"):
        path = table_path(dataset.version_dir(latest), manifest, stem)
        checked_schema(path, stem)
        table = pq.ParquetFile(path).read(columns=["name", "status"])
        visible.update(table.filter(pc.equal(table["status"], "visible"))["name"].to_pylist())
    return sum(1 for r in _every_row(rows) if is_tombstone(r) and r.name in visible)


def _every_row(rows: RowSet) -> list[Submission | Comment]:
    return [*rows.submissions, *rows.comments]


def pseudonymizer_for(dataset: Dataset, spec: DatasetSpec | None) -> Pseudonymizer | None:
    """The spec's pseudonymizer, its key loaded and checked against earlier versions; None when off."""
    if spec is None or not spec.pseudonymize.enabled:
        return None
    pseudonymizer = load_key(dataset.path, key_env=spec.pseudonymize.key_env, key_file=spec.pseudonymize.key_file)
    latest = dataset.latest()
    check_key(pseudonymizer, dataset.manifest(latest) if latest else None, dataset.path)
    return pseudonymizer


__all__ = [
    "MergeResult",
    "VersionBuilder",
    "archive_overlay",
    "build_version",
    "build_version_in_memory",
    "pseudonymizer_for",
    "rows_from_records",
    "write_rows",
]
