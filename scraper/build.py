"""Build a snapshot from raw records: harvest → rows → Parquet version (+ quarantine file).

Collection and ingest both end here, so a version can always be rebuilt from
the raw archive without asking Reddit again.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from scraper.normalize import build_rows, harvest_records
from scraper.normalize.harvest import Harvest, Seen
from scraper.store.snapshot import Dataset, rows_to_table


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
) -> dict[str, Any]:
    """Normalize ``records`` and write them as the dataset's next version; return its manifest."""
    harvest = harvest_records(records, harvest)
    rows = build_rows(harvest, keep_thread=keep_thread)
    tables = {
        "submissions": rows_to_table("submissions", rows.submissions),
        "comments": rows_to_table("comments", rows.comments),
    }
    statuses = Counter(str(r.status) for r in [*rows.submissions, *rows.comments])
    all_stats = {
        "responses": harvest.responses,
        "submissions": len(rows.submissions),
        "comments": len(rows.comments),
        "status": dict(sorted(statuses.items())),
        "quarantined": len(rows.quarantined),
        "skipped_responses": harvest.skipped,
        **(stats or {}),
    }
    manifest = dataset.write_version(
        tables, spec_sha256=spec_sha256, source=source, stats=all_stats, completeness=completeness
    )
    if rows.quarantined:
        qdir = dataset.path / "quarantine"
        qdir.mkdir(parents=True, exist_ok=True)
        with (qdir / f"{manifest['version']}.jsonl").open("w", encoding="utf-8") as handle:
            for item in rows.quarantined:
                handle.write(json.dumps(item.as_json(), ensure_ascii=False) + "\n")
    return manifest
