"""Refresh: re-check what a dataset holds and write a new version.

1. ``/api/info`` in batches of 100 fullnames for every stored submission and
   comment: scores, edits and statuses as Reddit shows them now.
2. The trees of threads that are still active (Reddit's ``num_comments`` moved
   since the last version) are fetched again in full, for new comments.
3. The new version is the previous one with every re-seen item replaced by its
   new sighting and the new comments added.  Items Reddit now shows as deleted,
   removed or account-gone become tombstones (text and author emptied), and
   the manifest counts those added.  Items ``/api/info`` no longer returns at
   all keep their previous row and are counted (``stats.not_returned``).
   A deletion Reddit cannot undo (the author's, the account's) seen by
   ``/api/info`` stays, even when the tree fetched again afterwards is a stale
   copy that still shows the text (the merge's rule, ``merge._gone_rank``).

Every response is archived like a collection run's; rows are built from them.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from scraper.build import VersionBuilder, pseudonymizer_for
from scraper.collect.expand import TreeResult
from scraper.collect.run import (
    clear_run_state,
    collect_thread,
    count_requests,
    finish_placed_run,
    finished_threads,
    index_answers,
    log_unchanged,
    log_version,
    new_run_id,
    record_body,
)
from scraper.errors import BudgetExhausted
from scraper.normalize.pseudonyms import Pseudonymizer
from scraper.sources.endpoints import INFO, endpoint_of
from scraper.sources.pacing import Clock, RetryPolicy
from scraper.sources.reddit import INFO_MAX_IDS, RedditClient, RedditSettings
from scraper.spec import DatasetSpec, load_spec
from scraper.store.changes import NoChange
from scraper.store.lock import dataset_lock
from scraper.store.purge import PurgingArchive, purged_fullnames
from scraper.store.raw import read_records
from scraper.store.snapshot import Dataset, table_path, write_json_atomic
from scraper.watch import emit

REFRESH_STATE = ".refresh.json"

log = logging.getLogger(__name__)


@dataclass
class RefreshReport:
    """What a refresh did."""

    dataset: str
    run_id: str
    base: str
    version: str | None = None
    checked: int = 0
    refetched: list[TreeResult] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)
    unchanged_since: str | None = None  # the latest version, when nothing changed and no version was written

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "dataset": self.dataset,
            "run": self.run_id,
            "base": self.base,
            "version": self.version,
            "version_written": self.version is not None,
            "unchanged_since": self.unchanged_since,
            "checked": self.checked,
            "threads_refetched": [t.link for t in self.refetched],
            "requests": dict(self.requests),
            "problems": self.problems,
            "tombstones": self.manifest.get("tombstones", {}),
            "stats": self.manifest.get("stats", {}),
        }


@dataclass(frozen=True)
class _Held:
    """What refresh needs of a stored submission."""

    id: str
    num_comments: int | None
    found_by: list[str]


def _base_rows(dataset: Dataset, version: str) -> tuple[dict[str, _Held], list[str]]:
    """The base version's submissions (what refresh compares) and every comment's fullname, read column-wise."""
    folder, manifest = dataset.version_dir(version), dataset.manifest(version)
    columns = ["name", "id", "num_comments", "found_by"]
    subs = pq.ParquetFile(table_path(folder, manifest, "submissions")).read(columns=columns)
    held = {
        name: _Held(ident, count, list(found or []))
        for name, ident, count, found in zip(
            subs["name"].to_pylist(),
            subs["id"].to_pylist(),
            subs["num_comments"].to_pylist(),
            subs["found_by"].to_pylist(),
            strict=True,
        )
    }
    comments = pq.ParquetFile(table_path(folder, manifest, "comments")).read(columns=["name"])["name"].to_pylist()
    return held, comments


def refresh(
    dataset_dir: Path,
    settings: RedditSettings,
    *,
    max_requests: int | None = None,
    deadline_seconds: float | None = None,
    retry: RetryPolicy | None = None,
    clock: Clock | None = None,
    wait_for_lock: bool = False,
    write_unchanged: bool = False,
) -> RefreshReport:
    """Re-check the latest version of ``dataset_dir`` against Reddit and write the next version.

    When nothing changed, no version is written (``report.unchanged_since`` names the
    latest) unless ``write_unchanged``.
    """
    spec, spec_sha256 = load_spec(dataset_dir)
    dataset = Dataset(dataset_dir)
    pseudonymizer = pseudonymizer_for(dataset, spec)  # a missing or wrong key stops us before any write
    with dataset_lock(dataset_dir, wait=wait_for_lock):
        placed = _placed_refresh(dataset, spec.dataset.name)
        if placed is not None:
            return placed
        base = dataset.resolve("latest")
        clock = clock or Clock()
        deadline = clock.now() + deadline_seconds if deadline_seconds is not None else None
        return _refresh_locked(
            dataset,
            spec,
            spec_sha256,
            base,
            settings,
            pseudonymizer,
            RedditClientArgs(max_requests, deadline, retry, clock),
            write_unchanged=write_unchanged,
        )


@dataclass
class RedditClientArgs:
    """How the refresh's client is bounded."""

    max_requests: int | None
    deadline: float | None
    retry: RetryPolicy | None
    clock: Clock


def _refresh_locked(
    dataset: Dataset,
    spec: DatasetSpec,
    spec_sha256: str,
    base: str,
    settings: RedditSettings,
    pseudonymizer: Pseudonymizer | None,
    bounds: RedditClientArgs,
    *,
    write_unchanged: bool = False,
) -> RefreshReport:
    base_subs, base_comment_names = _base_rows(dataset, base)
    run_id, resumed = _refresh_run(dataset, spec_sha256, base)
    report = RefreshReport(spec.dataset.name, run_id, base)
    archive_path = dataset.path / "raw" / f"{run_id}.jsonl.gz"
    # a resumed refresh streams its archive twice: the info answers and checkpoints, then the
    # answers of the threads it had not finished (never the whole archive at once)
    asked: set[str] = set()
    events: list[dict[str, Any]] = []
    fresh_counts: dict[str, int] = {}
    answers: dict[str, list[dict[str, Any]]] = {}
    if resumed and archive_path.exists():
        for record in read_records(archive_path):
            if "event" in record:
                events.append(record)
            elif endpoint_of(record) == INFO and record.get("status") == 200:
                asked.add(str((record.get("params") or {}).get("id")))
                _count_comments(record_body(record), fresh_counts)
    finished = finished_threads(events)
    if resumed and archive_path.exists():
        answers = index_answers(read_records(archive_path), {f"t3_{link}" for link in finished})
    names = [*base_subs, *base_comment_names]
    with PurgingArchive(archive_path, purged_fullnames(dataset.path)) as archive:
        client = RedditClient(
            settings,
            archive,
            run_id=run_id,
            clock=bounds.clock,
            retry=bounds.retry,
            max_requests=bounds.max_requests,
            deadline=bounds.deadline,
        )
        try:
            with client.context(refresh="info"):
                batches = -(-len(names) // INFO_MAX_IDS)
                for start in range(0, len(names), INFO_MAX_IDS):
                    batch = names[start : start + INFO_MAX_IDS]
                    if ",".join(batch) not in asked:  # a resumed refresh asks only what it has not
                        _count_comments(client.info(batch), fresh_counts)
                    number = start // INFO_MAX_IDS + 1
                    emit(log, "info-batch", "refresh: /api/info %d/%d", number, batches, batch=number, batches=batches)
            report.checked = len(names)
            for name, sub in sorted(base_subs.items()):
                if name not in fresh_counts or fresh_counts[name] == sub.num_comments:
                    continue
                result = collect_thread(
                    client,
                    archive,
                    sub.id,
                    sort=spec.collection.comment_sort,
                    found_by=sub.found_by,
                    finished=finished.get(sub.id),
                    answers=answers.get(name, []),
                    problems=report.problems,
                )
                if result is not None:
                    report.refetched.append(result)
        except BudgetExhausted as exc:
            raise BudgetExhausted(f"{exc} (refresh of {base} kept in {archive_path.name})") from None
        report.requests = client.requests_by_endpoint
    with VersionBuilder(dataset, base=base, base_only=True, pseudonymizer=pseudonymizer) as builder:
        requests, _ = count_requests(read_records(archive_path), report.refetched)
        builder.sightings.add_records(read_records(archive_path))
        fresh = pa.concat_arrays([builder.new_keys("submissions"), builder.new_keys("comments")])
        asked_names = pa.array(names, pa.string())
        not_returned = len(asked_names) - (pc.sum(pc.is_in(asked_names, value_set=fresh)).as_py() or 0)
        try:
            manifest = builder.write(
                spec_sha256=spec_sha256,
                source={"kind": "refresh", "base": base, "runs": [run_id], "raw": [f"raw/{archive_path.name}"]},
                stats={
                    "run": run_id,
                    "requests": requests,
                    "checked": len(names),
                    "not_returned": not_returned,
                    "threads_refetched": len(report.refetched),
                    "problems": report.problems,
                },
                completeness=[t.as_json() for t in report.refetched],
                spec=spec,
                write_unchanged=write_unchanged,
            )
        except NoChange as exc:  # nothing changed: the refresh ends as a successful one does, without a version
            clear_run_state(dataset.path / REFRESH_STATE)
            report.unchanged_since = exc.latest
            log_unchanged(dataset.path, exc.latest)
            return report
    clear_run_state(dataset.path / REFRESH_STATE)
    report.version = manifest["version"]
    report.manifest = manifest
    log_version(dataset.path, manifest)
    return report


def _placed_refresh(dataset: Dataset, name: str) -> RefreshReport | None:
    """The report of a refresh killed after its version was placed but before its state was cleared."""
    try:
        state = json.loads((dataset.path / REFRESH_STATE).read_text(encoding="utf-8"))
        run_id, base = str(state["run"]), str(state["base"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    report = RefreshReport(name, run_id, base)
    if not finish_placed_run(dataset, run_id, dataset.path / REFRESH_STATE, report):
        return None
    report.refetched = [TreeResult.from_json(t) for t in report.manifest.get("completeness") or []]
    report.checked = int((report.manifest.get("stats") or {}).get("checked") or 0)
    return report


def _refresh_run(dataset: Dataset, spec_sha256: str, base: str) -> tuple[str, bool]:
    """The refresh to continue (same spec, same base version) or a new one; recorded in ``.refresh.json``."""
    path = dataset.path / REFRESH_STATE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        if state.get("spec_sha256") == spec_sha256 and state.get("base") == base:
            return str(state["run"]), True
    except (OSError, ValueError, KeyError):
        pass
    run_id = new_run_id(dataset.path, "-refresh")
    write_json_atomic(path, {"run": run_id, "base": base, "spec_sha256": spec_sha256})
    return run_id, False


def _count_comments(listing: Any, counts: dict[str, int]) -> None:
    """``num_comments`` of each submission in an /api/info answer (a later answer wins)."""
    for thing in (listing or {}).get("data", {}).get("children") or []:
        if thing.get("kind") == "t3" and isinstance(thing["data"].get("num_comments"), int):
            counts[thing["data"]["name"]] = thing["data"]["num_comments"]
