"""Build a snapshot from raw records: harvest → rows → Parquet version (+ quarantine file).

Collection and ingest both end here, so a version can always be rebuilt from
the raw archive without asking Reddit again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from schemas import Comment, Submission
from scraper.normalize import build_rows, harvest_records
from scraper.normalize.harvest import Harvest, Seen
from scraper.normalize.policy import is_tombstone
from scraper.normalize.pseudonyms import Pseudonymizer, check_key, load_key
from scraper.normalize.rows import RowSet
from scraper.publish.card import render_card
from scraper.spec import DatasetSpec
from scraper.store.killpoints import killpoint
from scraper.store.purge import apply_purges, purged_fullnames
from scraper.store.snapshot import Dataset, rows_to_table, write_json_lines_atomic


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


def build_version(
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
) -> dict[str, Any]:
    """Normalize ``records`` and write them as the dataset's next version; return its manifest."""
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
        card=lambda m: render_card(m, spec, window),
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
    for stem in ("submissions", "comments"):
        table = pq.read_table(dataset.version_dir(latest) / f"{stem}.parquet", columns=["name", "status"])
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
