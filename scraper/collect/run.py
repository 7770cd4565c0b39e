"""One collection run: discover, expand every thread, archive everything, write a version."""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scraper.build import build_version
from scraper.collect.discover import discover
from scraper.collect.expand import TreeResult, expand_thread
from scraper.errors import ThreadUnavailable
from scraper.normalize.harvest import Seen
from scraper.sources.reddit import RedditClient, RedditSettings
from scraper.spec import DatasetSpec, load_spec
from scraper.store.raw import RawArchive, read_records
from scraper.store.snapshot import Dataset

log = logging.getLogger(__name__)


@dataclass
class CollectReport:
    """What a run did: the version written, requests spent, completeness, problems."""

    dataset: str
    run_id: str
    version: str | None = None
    threads: list[TreeResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    filtered_out: int = 0
    manifest: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "dataset": self.dataset,
            "run": self.run_id,
            "version": self.version,
            "requests": dict(self.requests),
            "threads": len(self.threads),
            "threads_incomplete": sum(not t.complete for t in self.threads),
            "comments_held": sum(t.held for t in self.threads),
            "comments_stated": sum(t.num_comments or 0 for t in self.threads),
            "filtered_out": self.filtered_out,
            "problems": self.problems,
            "stats": self.manifest.get("stats", {}),
        }


def new_run_id() -> str:
    """A sortable id for a run: UTC time and process id."""
    return f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}"


def keep_rule(spec: DatasetSpec) -> Any:
    """The thread filter of a spec, as normalization applies it to raw records."""

    def keep(seen: Seen, found_by: list[str]) -> bool:
        if not any(label.startswith(("search:", "seed:")) for label in found_by):
            return False
        if any(label.startswith("seed:") for label in found_by):
            return True
        return spec.filter.matches(seen.data.get("title") or "", seen.data.get("selftext") or "")

    return keep


def collect(dataset_dir: Path, settings: RedditSettings, *, progress: Any = None) -> CollectReport:
    """Collect a dataset per its spec and write a new version from this run's raw archive."""
    spec, spec_sha256 = load_spec(dataset_dir)
    dataset = Dataset(dataset_dir)
    run_id = new_run_id()
    report = CollectReport(spec.dataset.name, run_id)
    archive_path = dataset.path / "raw" / f"{run_id}.jsonl.gz"
    with RawArchive(archive_path) as archive:
        client = RedditClient(settings, archive, run_id=run_id)
        found = discover(client, spec)
        report.problems.extend(found.problems)
        report.filtered_out = found.filtered_out
        candidates = found.keep()
        if progress is not None:
            progress.start(len(candidates))
        for cand in candidates:
            with client.context(thread=f"t3_{cand.link}", found_by=sorted(cand.found_by)):
                try:
                    result = expand_thread(client, cand.link, sort=spec.collection.comment_sort)
                except ThreadUnavailable as exc:
                    report.problems.append(str(exc))
                    log.warning("%s", exc)
                    continue
            report.threads.append(result)
            if progress is not None:
                progress.advance(cand.link, result)
        report.requests = client.requests_by_endpoint
    stats = {
        "run": run_id,
        "requests": dict(report.requests),
        "threads_incomplete": sum(not t.complete for t in report.threads),
        "comments_stated": sum(t.num_comments or 0 for t in report.threads),
        "unresolved_ids": sum(len(t.unresolved) for t in report.threads),
    }
    manifest = build_version(
        dataset,
        read_records(archive_path),
        spec_sha256=spec_sha256,
        source={"kind": "reddit-api", "runs": [run_id], "raw": [f"raw/{archive_path.name}"]},
        keep_thread=keep_rule(spec),
        stats=stats,
    )
    report.version = manifest["version"]
    report.manifest = manifest
    return report
