"""One collection run: discover, expand every thread, archive everything, write a version.

A run is resumable.  Its state lives in its raw archive, which is durable
record by record: besides every response it holds checkpoints (``event``
records: the threads discovered, each thread finished).  ``.run.json`` in the
dataset folder names the run in progress; the next ``collect`` with the same
spec continues it: discovery is not repeated once recorded, finished threads
are not fetched again, and a thread cut off halfway is replayed from its
archived answers and continued.  The version is built from the whole run's
archive, so it is the same as an uninterrupted run would have made.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scraper import sigterm
from scraper.build import build_version, pseudonymizer_for
from scraper.collect.archive import archive_comments, archived_threads_done, discover_in_archive
from scraper.collect.discover import Candidate, SearchClient, discover
from scraper.collect.expand import Expansion, TreeResult, expand_thread
from scraper.errors import AuthError, BudgetExhausted, ConfigError, CredentialsMissing, RedditError
from scraper.normalize.archive import archive_label
from scraper.normalize.policy import keep_rule
from scraper.normalize.pseudonyms import Pseudonymizer
from scraper.sources.arctic_shift import THROTTLE_RETRY, ArcticShiftClient
from scraper.sources.endpoints import TOKEN, endpoint_of
from scraper.sources.pacing import Clock, RetryPolicy
from scraper.sources.reddit import RedditClient, RedditSettings
from scraper.spec import DatasetSpec, load_spec
from scraper.store.changes import NoChange
from scraper.store.killpoints import killpoint
from scraper.store.lock import dataset_lock
from scraper.store.purge import PurgingArchive, purged_fullnames
from scraper.store.raw import RawArchive, read_records
from scraper.store.snapshot import Dataset, write_json_atomic
from scraper.watch import emit, plural

log = logging.getLogger(__name__)
RUN_STATE = ".run.json"
ARCHIVE_URL_ENV = "SCRAPER_ARCTIC_SHIFT_URL"
_SEARCH_PATH = re.compile(r"/r/([^/]+)/search/?(?:\.json)?$")


@dataclass
class CollectReport:
    """What a run did: the version written, requests spent, completeness, problems."""

    dataset: str
    run_id: str
    version: str | None = None
    resumed: bool = False
    threads: list[TreeResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    filtered_out: int = 0
    manifest: dict[str, Any] = field(default_factory=dict)
    archive: dict[str, Any] | None = None
    unchanged_since: str | None = None  # the latest version, when the run found nothing new and wrote none

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "dataset": self.dataset,
            "run": self.run_id,
            "resumed": self.resumed,
            "version": self.version,
            "version_written": self.version is not None,
            "unchanged_since": self.unchanged_since,
            "requests": dict(self.requests),
            "threads": len(self.threads),
            "threads_incomplete": sum(not t.complete for t in self.threads),
            "comments_held": sum(t.held for t in self.threads),
            "comments_stated": sum(t.num_comments or 0 for t in self.threads),
            "filtered_out": self.filtered_out,
            "problems": self.problems,
            "archive": self.archive,
            "stats": self.manifest.get("stats", {}),
        }


def new_run_id(dataset: Path | None = None, suffix: str = "") -> str:
    """A sortable id for a run: UTC time and process id (and ``suffix``).

    Given the dataset's folder, never the id of a run whose raw archive is there already
    (two runs of one process within a second): a new run must not read an old one's answers.
    """
    stem = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}"
    run_id, n = f"{stem}{suffix}", 1
    while dataset is not None and (dataset / "raw" / f"{run_id}.jsonl.gz").exists():
        run_id, n = f"{stem}.{n}{suffix}", n + 1
    return run_id


_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _run_id(dataset: Dataset, spec_sha256: str) -> tuple[str, bool]:
    """The run to continue (same spec) or a new one; recorded in ``.run.json``."""
    path = dataset.path / RUN_STATE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        run = state["run"]
        if not (isinstance(run, str) and _RUN_ID.match(run)):
            raise ValueError(f"{path} names run {run!r}")  # damaged: never a path out of raw/
        if state.get("spec_sha256") == spec_sha256 and (dataset.path / "raw" / f"{run}.jsonl.gz").exists():
            return run, True
        log.warning("dataset.toml changed since run %s; starting a new run", run)
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        if path.exists():
            log.warning("%s unreadable (%s); starting a new run", path, exc)
    run_id = new_run_id(dataset.path)
    write_json_atomic(
        path, {"run": run_id, "spec_sha256": spec_sha256, "started_at": datetime.now(UTC).isoformat(timespec="seconds")}
    )
    return run_id, False


def index_answers(records: Iterable[dict[str, Any]], finished: Collection[str] = ()) -> dict[str, list[dict[str, Any]]]:
    """Archived answers by the thread they were asked for: a resumed run replays each cut-off thread.

    Threads in ``finished`` (fullnames) are not replayed, so their answers are not kept.
    """
    answers: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        thread = (record.get("context") or {}).get("thread")
        if thread and "event" not in record and thread not in finished:
            answers.setdefault(str(thread), []).append(record)
    return answers


def finished_threads(events: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The last checkpoint of each thread a cut-off run finished (or gave up on), by its id."""
    return {e["link"]: e for e in events if e.get("event") in ("thread", "thread-problem")}


@dataclass
class Prior:
    """What a resumed run needs of its cut-off archive, read in two streaming passes (not the whole archive).

    ``events``: the checkpoints; ``searches``: the discovery pages; ``answers``: the
    archived answers of the threads that were not finished, by thread fullname.
    """

    events: list[dict[str, Any]] = field(default_factory=list)
    searches: list[dict[str, Any]] = field(default_factory=list)
    answers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def read(cls, archive_path: Path) -> Prior:
        prior = cls()
        if not archive_path.exists():
            return prior
        for record in read_records(archive_path):
            if "event" in record:
                prior.events.append(record)
            elif not (record.get("context") or {}).get("thread") and _SEARCH_PATH.search(
                urlsplit(str(record.get("url") or "")).path
            ):
                prior.searches.append(record)
        done = {f"t3_{link}" for link in finished_threads(prior.events)}
        prior.answers = index_answers(read_records(archive_path), done)
        return prior


def record_body(record: dict[str, Any]) -> Any:
    try:
        return json.loads(record.get("body") or "")
    except ValueError:
        return None


def collect(
    dataset_dir: Path,
    settings: RedditSettings,
    *,
    max_requests: int | None = None,
    deadline_seconds: float | None = None,
    retry: RetryPolicy | None = None,
    clock: Clock | None = None,
    wait_for_lock: bool = False,
    archive_url: str | None = None,
    archive_only: bool = False,
    archive: bool = True,
    write_unchanged: bool = False,
) -> CollectReport:
    """Collect a dataset per its spec (continuing an interrupted run) and write a new version.

    With an ``[archive]`` section the run also walks the Arctic Shift API
    (``archive_url`` overrides the spec's) and collects the threads it finds
    through Reddit; with ``archive_only``, or when no Reddit credentials are
    configured at all, the version is built from the archive alone.  ``archive=False``
    skips the ``[archive]`` section (a live collection only).  A run that finds
    nothing the latest version does not hold writes no version (``report.version`` is
    None, ``report.unchanged_since`` names the latest) unless ``write_unchanged``.

    Holds the dataset's lock throughout: a second run exits at once with
    :class:`~scraper.errors.Locked`, or queues behind the first with ``wait_for_lock``.
    Progress is reported as log events (:mod:`scraper.watch`).
    """
    spec, _ = load_spec(dataset_dir)  # a bad spec, or a missing or wrong key, stops us before any write
    if not archive and archive_only:
        raise ConfigError("--archive-only and --no-archive contradict each other; give one")
    pseudonymizer = pseudonymizer_for(Dataset(dataset_dir), spec)
    with dataset_lock(dataset_dir, wait=wait_for_lock):
        return _collect_locked(
            dataset_dir,
            settings,
            max_requests=max_requests,
            deadline_seconds=deadline_seconds,
            retry=retry,
            clock=clock,
            pseudonymizer=pseudonymizer,
            archive_url=archive_url,
            archive_only=archive_only,
            use_archive=archive,
            write_unchanged=write_unchanged,
        )


def _collect_locked(
    dataset_dir: Path,
    settings: RedditSettings,
    *,
    max_requests: int | None,
    deadline_seconds: float | None,
    retry: RetryPolicy | None,
    clock: Clock | None,
    pseudonymizer: Pseudonymizer | None,
    archive_url: str | None = None,
    archive_only: bool = False,
    use_archive: bool = True,
    write_unchanged: bool = False,
) -> CollectReport:
    spec, spec_sha256 = load_spec(dataset_dir)
    if not use_archive:
        spec = spec.model_copy(update={"archive": None})
    dataset = Dataset(dataset_dir)
    dataset.check_store()  # a damaged latest version stops us before any request, not after
    dataset.path.mkdir(parents=True, exist_ok=True)
    run_id, resumed = _run_id(dataset, spec_sha256)
    report = CollectReport(spec.dataset.name, run_id, resumed=resumed)
    if resumed and finish_placed_run(dataset, run_id, dataset.path / RUN_STATE, report):
        # killed after its version was placed: that version is the run's, no second one
        report.threads = [TreeResult.from_json(t) for t in report.manifest.get("completeness") or []]
        return report
    archive_path = dataset.path / "raw" / f"{run_id}.jsonl.gz"
    prior = Prior.read(archive_path)
    events, answers_by_thread = prior.events, prior.answers
    clock = clock or Clock()
    deadline = clock.now() + deadline_seconds if deadline_seconds is not None else None
    if archive_only and spec.archive is None:
        raise ConfigError(f"{dataset_dir}: --archive-only needs an [archive] section in dataset.toml")
    with PurgingArchive(archive_path, purged_fullnames(dataset.path)) as archive:
        client: RedditClient | None = None
        if not archive_only:
            try:
                client = RedditClient(
                    settings,
                    archive,
                    run_id=run_id,
                    clock=clock,
                    retry=retry,
                    max_requests=max_requests,
                    deadline=deadline,
                )
            except CredentialsMissing as exc:
                if spec.archive is None:
                    raise
                log.warning("%s: collecting from the archive alone", exc)
                report.problems.append("no Reddit credentials: threads found in the archive were not re-read")
        try:
            candidates = []
            if client is not None:
                candidates = _discovered(events, report) or _discover(
                    ResumedSearch(client, prior.searches), spec, archive, report
                )
            if spec.archive is not None:
                budget = ArchiveBudget(max_requests, deadline, retry, client.request_count if client else 0)
                found = _archive_pass(spec, archive, events, report, archive_url, clock, run_id, budget)
                candidates = _merge(candidates, found)
                if client is not None and client.max_requests is not None:
                    client.max_requests -= budget.spent  # one budget for the whole run: Reddit gets what is left
            finished = finished_threads(events)
            active = candidates if client is not None else []
            done = sum(c.link in finished for c in active)
            emit(
                log,
                "threads",
                "%s to collect (%d finished before)",
                plural(len(active), "thread"),
                done,
                total=len(active),
                finished=done,
            )
            for number, cand in enumerate(active, 1):
                sigterm.checkpoint()  # a stop Python swallowed (see scraper.sigterm) ends the run here
                assert client is not None
                answers = answers_by_thread.get(f"t3_{cand.link}", [])
                result = collect_thread(
                    client,
                    archive,
                    cand.link,
                    sort=spec.collection.comment_sort,
                    found_by=sorted(cand.found_by),
                    finished=finished.get(cand.link),
                    answers=answers,
                    problems=report.problems,
                    number=(number, len(candidates)),
                )
                if result is not None:
                    report.threads.append(result)
        except BudgetExhausted as exc:
            if client is not None:
                report.requests = client.requests_by_endpoint
            raise BudgetExhausted(
                f"{exc} ({len(report.threads)} threads finished so far, all kept in {archive_path.name})"
            ) from None
        if client is not None:
            report.requests = client.requests_by_endpoint
    # one pass for the counts; the build streams the archive again
    requests, reddit_answered = count_requests(read_records(archive_path), report.threads)
    if report.archive is not None:  # the whole run's Arctic Shift requests, resumed parts included
        report.archive["requests"] = {
            k.removeprefix("arctic-shift "): n for k, n in requests.items() if k.startswith("arctic-shift ")
        }
    stats = {
        "run": run_id,
        "requests": requests,
        "threads_incomplete": sum(not t.complete for t in report.threads),
        "comments_stated": sum(t.num_comments or 0 for t in report.threads),
        "unresolved_ids": sum(len(t.unresolved) for t in report.threads),
        "problems": report.problems,
    }
    if report.archive is not None:
        stats["archive"] = report.archive
    try:
        manifest = build_version(
            dataset,
            read_records(archive_path),
            spec_sha256=spec_sha256,
            source={
                # from the archive, not this process's counter: a resumed run may have asked Reddit nothing
                "kind": "reddit-api" if reddit_answered else "arctic-shift",
                "runs": [run_id],
                "raw": [f"raw/{archive_path.name}"],
                **({"archive": spec.archive.url if archive_url is None else archive_url} if spec.archive else {}),
            },
            keep_thread=keep_rule(spec),
            stats=stats,
            completeness=[t.as_json() for t in report.threads],
            pseudonymizer=pseudonymizer,
            spec=spec,
            write_unchanged=write_unchanged,
        )
    except NoChange as exc:  # nothing new: the run ends as a successful one does, without a version
        clear_run_state(dataset.path / RUN_STATE)
        report.unchanged_since = exc.latest
        log_unchanged(dataset.path, exc.latest)
        return report
    clear_run_state(dataset.path / RUN_STATE)
    report.version = manifest["version"]
    report.manifest = manifest
    log_version(dataset.path, manifest)
    return report


def clear_run_state(path: Path) -> None:
    """Remove a run's state file once its version is placed (durably: the folder is synced)."""
    path.unlink(missing_ok=True)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    killpoint("state-cleared")


def finish_placed_run(dataset: Dataset, run_id: str, state: Path, report: Any) -> bool:
    """If ``run_id`` already became a version, fill ``report`` with it, clear the state and say so."""
    version = dataset.version_of_run(run_id)
    if version is None:
        return False
    log.info("run %s already became %s; clearing its state", run_id, version)
    dataset.write_index()  # the kill may have come before the index was replaced
    report.version = version
    report.manifest = dataset.manifest(version)
    clear_run_state(state)
    return True


def count_requests(records: Iterable[dict[str, Any]], results: list[TreeResult]) -> tuple[dict[str, int], bool]:
    """:func:`endpoint_counts` and :func:`count_thread_requests` in one pass over a streamed archive,
    and whether Reddit itself answered any request (rather than only an archive)."""
    seen: list[dict[str, Any]] = []
    endpoints: Counter[str] = Counter()
    from_reddit = 0
    for record in records:
        from_reddit += record.get("origin") == "reddit-api"
        if "event" not in record:
            endpoints[_endpoint(record)] += 1
        if (record.get("context") or {}).get("thread"):
            keep = ("context", "url", "status", "origin")
            seen.append({key: record.get(key) for key in keep})  # the few fields counting reads, not the body
    count_thread_requests(seen, results)
    endpoints.pop("token", None)
    return dict(sorted(endpoints.items())), bool(from_reddit)


def endpoint_counts(records: list[dict[str, Any]]) -> dict[str, int]:
    """API requests by endpoint, counted from a run's archive, so a resumed run counts what an uninterrupted one does.

    Every answer counts, retried ones included.  The OAuth token fetches are left out: each
    process fetches its own, so they count processes, not the data asked for.
    """
    counts = Counter(_endpoint(r) for r in records if "event" not in r)
    counts.pop(TOKEN, None)
    return dict(sorted(counts.items()))


def count_thread_requests(records: list[dict[str, Any]], results: list[TreeResult]) -> None:
    """Set each thread's request counts from the archive (its answered requests, whichever process made them)."""
    by_thread: dict[str, Counter[str]] = {}
    for record in records:
        thread = (record.get("context") or {}).get("thread")
        endpoint = _endpoint(record)
        if thread and "event" not in record and record.get("status") == 200 and endpoint != TOKEN:
            by_thread.setdefault(str(thread), Counter())[endpoint] += 1
    for result in results:
        result.requests = by_thread.get(f"t3_{result.link}", Counter())


@dataclass
class ArchiveBudget:
    """The run's bounds as the Arctic Shift part sees them: ``--max-requests`` (less what Reddit spent
    before it), ``--deadline`` (a clock time) and ``--max-retries``; ``spent`` counts its requests."""

    max_requests: int | None = None
    deadline: float | None = None
    retry: RetryPolicy | None = None
    spent_before: int = 0
    spent: int = 0

    def client(self, url: str, archive: RawArchive, *, run_id: str, clock: Clock) -> ArcticShiftClient:
        """An Arctic Shift client held to these bounds (throttle waits keep their length, not their count)."""
        throttle = None
        if self.retry is not None:
            throttle = replace(THROTTLE_RETRY, max_retries=self.retry.max_retries)
        left = None if self.max_requests is None else max(0, self.max_requests - self.spent_before)
        return ArcticShiftClient(
            url,
            archive,
            run_id=run_id,
            clock=clock,
            retry=self.retry,
            throttle_retry=throttle,
            max_requests=left,
            deadline=self.deadline,
        )


def _archive_pass(
    spec: DatasetSpec,
    archive: RawArchive,
    events: list[dict[str, Any]],
    report: CollectReport,
    archive_url: str | None,
    clock: Clock,
    run_id: str,
    budget: ArchiveBudget | None = None,
) -> list[Candidate]:
    """Walk the archive (posts, then each kept thread's comments); the threads found, as candidates.

    Every page and every thread is checkpointed as it completes (:mod:`scraper.collect.archive`),
    so a run stopped here by its budget or deadline (:class:`BudgetExhausted`) continues the walk.
    """
    assert spec.archive is not None
    budget = budget or ArchiveBudget()
    url = archive_url or os.environ.get(ARCHIVE_URL_ENV) or spec.archive.url
    now = datetime.now(UTC)
    with budget.client(url, archive, run_id=run_id, clock=clock) as client:
        try:
            found = discover_in_archive(client, spec, archive, events, now=now)
            done = archived_threads_done(events)
            for thread in sorted(found.threads.values(), key=lambda t: t.link):
                sigterm.checkpoint()  # a stop Python swallowed (see scraper.sigterm) ends the walk here
                if thread.link not in done:
                    found.comments_fetched += archive_comments(
                        client, archive, thread, tree_max=spec.archive.tree_max, end=int(now.timestamp()), report=found
                    )
        except BudgetExhausted:
            spent_all = client.max_requests is not None and client.request_count >= client.max_requests
            what = f"request budget of {budget.max_requests} reached" if spent_all else "deadline reached"
            if client.cutoff.fired:
                what = "deadline reached while Arctic Shift was still answering"
            raise BudgetExhausted(
                f"{what} in the Arctic Shift walk after {plural(client.request_count, 'request')} to it; "
                "run the same command again to continue it"
            ) from None
        finally:
            budget.spent = client.request_count
        report.archive = {**found.as_json(), "requests": dict(client.requests_by_endpoint), "url": url}
    return [Candidate(t.link, {archive_label(t.subreddit)}) for t in found.threads.values()]


def _merge(first: list[Candidate], second: list[Candidate]) -> list[Candidate]:
    merged: dict[str, Candidate] = {c.link: Candidate(c.link, set(c.found_by)) for c in first}
    for cand in second:
        merged.setdefault(cand.link, Candidate(cand.link)).found_by |= cand.found_by
    return [merged[k] for k in sorted(merged)]


def log_unchanged(folder: Path, latest: str) -> None:
    """The ``no-change`` event: the run found nothing ``latest`` does not hold and wrote no version."""
    emit(log, "no-change", "no change since %s; nothing written", latest, dataset=str(folder), latest=latest)


def log_version(folder: Path, manifest: dict[str, Any]) -> None:
    """The ``version`` event: which version was written where, with its row counts."""
    rows = {name.removesuffix(".parquet"): info.get("rows", 0) for name, info in manifest.get("files", {}).items()}
    path = folder / "versions" / str(manifest.get("version"))
    emit(
        log,
        "version",
        "wrote %s: %s, %s",
        path,
        plural(int(rows.get("submissions", 0)), "submission"),
        plural(int(rows.get("comments", 0)), "comment"),
        dataset=manifest.get("dataset"),
        version=manifest.get("version"),
        path=str(path),
        submissions=rows.get("submissions", 0),
        comments=rows.get("comments", 0),
    )


def _endpoint(record: dict[str, Any]) -> str:
    if record.get("origin") == "arctic-shift":
        return "arctic-shift " + str(record.get("url") or "").rsplit("/api/", 1)[-1]
    return endpoint_of(record) or "other"


def _discovered(events: list[dict[str, Any]], report: CollectReport) -> list[Candidate]:
    for event in events:
        if event["event"] == "discovered":
            report.problems.extend(event.get("problems") or [])
            report.filtered_out = int(event.get("filtered_out") or 0)
            return [Candidate(link, set(labels)) for link, labels in event["threads"].items()]
    return []


class ResumedSearch:
    """Discovery's client for a resumed run: search pages the cut-off run archived are replayed, not asked again."""

    def __init__(self, client: RedditClient, records: list[dict[str, Any]]) -> None:
        self.client = client
        self.answers: dict[tuple[str, Any, Any], dict[str, Any]] = {}
        for record in records:
            if "event" in record or record.get("status") != 200 or (record.get("context") or {}).get("thread"):
                continue
            match = _SEARCH_PATH.search(urlsplit(str(record.get("url") or "")).path)
            body = record_body(record)
            if match and isinstance(body, dict):
                params = record.get("params") or {}
                self.answers[(match.group(1).lower(), params.get("q"), params.get("after") or None)] = body

    def search(
        self, subreddit: str, query: str, *, sort: str, time_filter: str, after: str | None = None
    ) -> dict[str, Any]:
        """The archived page, or a new request for it."""
        archived = self.answers.get((subreddit.lower(), query, after))
        if archived is not None:
            return archived
        return self.client.search(subreddit, query, sort=sort, time_filter=time_filter, after=after)


def _discover(client: SearchClient, spec: DatasetSpec, archive: RawArchive, report: CollectReport) -> list[Candidate]:
    found = discover(client, spec)
    report.problems.extend(found.problems)
    report.filtered_out = found.filtered_out
    candidates = found.keep()
    archive.append(
        {
            "event": "discovered",
            "threads": {c.link: sorted(c.found_by) for c in candidates},
            "problems": found.problems,
            "filtered_out": found.filtered_out,
        }
    )
    return candidates


def collect_thread(
    client: RedditClient,
    archive: RawArchive,
    link: str,
    *,
    sort: str,
    found_by: list[str],
    finished: dict[str, Any] | None,
    answers: list[dict[str, Any]],
    problems: list[str],
    number: tuple[int, int] = (1, 1),
) -> TreeResult | None:
    """Expand one thread with checkpoints: skip it if finished, replay what a cut-off run fetched.

    A problem of this thread alone (deleted, made private, answered oddly) is appended to
    ``problems`` and archived, and ``None`` returned; the run goes on.
    """
    if finished is not None:
        if finished["event"] == "thread-problem":
            problems.append(finished["problem"])
            return None
        return TreeResult.from_json(finished["result"])
    expansion = Expansion(link, sort)
    for record in answers:  # a thread cut off by a kill: take in what was already answered
        body = record_body(record)
        if body is not None:
            expansion.replay(record, body)
    index, total = number
    emit(log, "thread-start", "thread t3_%s (%d/%d) started", link, index, total, link=link, index=index, total=total)

    def step(state: Expansion) -> None:
        held, stated = len(state.depth), state.num_comments
        emit(
            log,
            "thread-step",
            "thread t3_%s: %d of %s comments held after %d requests",
            link,
            held,
            stated,
            sum(state.requests.values()),
            link=link,
            held=held,
            stated=stated,
            requests=sum(state.requests.values()),
        )

    with client.context(thread=f"t3_{link}", found_by=found_by):
        try:
            result = expand_thread(client, link, expansion=expansion, on_step=step)
        except RedditError as exc:
            if isinstance(exc, AuthError):
                raise
            problems.append(str(exc))
            log.warning("%s", exc)
            archive.append({"event": "thread-problem", "link": link, "problem": str(exc)})
            return None
    archive.append({"event": "thread", "link": link, "result": result.as_json()})
    requests = dict(sorted(result.requests.items()))
    emit(
        log,
        "thread-done",
        "thread t3_%s (%d/%d) done: %s of %s comments held, %s (%s)%s",
        link,
        index,
        total,
        f"{result.held:,}",
        "?" if result.num_comments is None else f"{result.num_comments:,}",
        plural(sum(requests.values()), "request"),
        ", ".join(f"{n} {endpoint}" for endpoint, n in requests.items()),
        f", {len(result.unresolved)} unresolved" if result.unresolved else "",
        link=link,
        index=index,
        total=total,
        held=result.held,
        stated=result.num_comments,
        requests=requests,
        unresolved=len(result.unresolved),
    )
    return result
