"""Ingest: add saved Reddit API responses to a dataset, without asking Reddit.

Accepted files, recognised by content:

- a raw archive of this tool (``*.jsonl.gz``), to rebuild a snapshot;
- a plain JSON response body: a comment tree (``/comments/…``), a morechildren
  answer, or a Listing (search, ``/api/info``, subreddit listings);
- a recorded interaction ``{"request": {...}, "response": {"json": ...}}``, the
  format of ``../shared/reddit/samples/``;
- a vcrpy cassette (``{"interactions": [...]}``) recorded against Reddit.

An answer is dated by when it arrived (a record's ``received_at``, a recorded interaction's
or cassette's Date header); one that does not say (a plain body, no usable Date) by the
earliest moment it can have been fetched, the newest ``created_utc`` or edit time it shows
(:meth:`Sightings.add_document`).  A recorded interaction or cassette whose request lacks
``raw_json=1`` holds Reddit's HTML-escaped strings (WIRE-FORMAT §9): they are unescaped before
reading (:func:`_unescaped`); a plain body's escaping is unknown, counted in ``stats.escaping``.

By default the new version is the latest one with the input merged in: a thing
seen again replaces its row when the new sighting is as new or newer
(``retrieved_at``) and fits the models (one they refuse goes to the quarantine
file and the row stays), everything else stays, and a thread's ``found_by`` gains
the files that held it.  ``replace=True`` starts afresh from the input alone.

Everything that is not kept is counted by reason (``stats.not_kept`` in the
manifest, and the command's output): token and error responses, records that
are not objects, entries of a children list (a Listing's, a comment's replies, a
morechildren answer's things) that are not objects (``null``, ``5``, ``"x"``) or
of a kind not read there, things without an id, comments whose submission is not
in the input when a spec filters threads.  A file that cannot be read at all (no
such file, a folder, a symlink loop, not JSON, not gzip) stops the ingest
before anything is written; an input with nothing usable in it writes no
version and exits 1.

Files are streamed: a raw archive record by record, a JSON file decoded
straight into the columns (see :mod:`scraper.normalize.sightings`).  This
module imports nothing of the collector, so praw is never loaded.
"""

from __future__ import annotations

import ctypes
import gzip
import itertools
import json
import math
import multiprocessing
import os
import shutil
import signal
import sys
import zlib
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

import msgspec
import pyarrow as pa

from scraper.build import VersionBuilder, archive_overlay, pseudonymizer_for
from scraper.errors import InputError, ScraperError, TransientError
from scraper.normalize import runs, wire
from scraper.normalize.escaping import unescape_strings
from scraper.normalize.policy import keep_rule
from scraper.normalize.repair import storable
from scraper.normalize.sightings import Sightings, SightingStats
from scraper.spec import SPEC_FILE, load_spec
from scraper.store.raw import ArchiveRange, read_records_at
from scraper.store.snapshot import Dataset

GZIP_MAGIC = b"\x1f\x8b"


class _Probe(msgspec.Struct, gc=False):
    """The top-level keys that tell a cassette and a recorded interaction from a plain body."""

    interactions: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    request: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    response: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    source: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


class _SampleResponse(msgspec.Struct, gc=False):
    status: Any = 200
    headers: Any = None
    json: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    text: Any = ""


class _TreeResponse(msgspec.Struct, gc=False):
    status: Any = 200
    headers: Any = None
    json: wire.Tree | msgspec.UnsetType = msgspec.UNSET


class _TreeSample(msgspec.Struct, gc=False):
    """A recorded interaction whose body is a comment tree, decoded in one pass (the common big file)."""

    request: dict[str, Any]
    response: _TreeResponse
    source: Any = None


_PROBE = msgspec.json.Decoder(_Probe)
_SAMPLE_RESPONSE = msgspec.json.Decoder(_SampleResponse)
_TREE_SAMPLE = msgspec.json.Decoder(_TreeSample)


def ingest(
    dataset_dir: Path,
    files: Sequence[Path],
    *,
    replace: bool = False,
    workers: int | None = None,
    write_unchanged: bool = False,
) -> dict[str, Any]:
    """Write a new version of ``dataset_dir`` from ``files``; return its manifest.

    Merged into the latest version unless ``replace``.  Raises :class:`InputError` for a
    file that cannot be read, and when nothing in the input is usable (no version then).
    ``workers``: processes that read the files (see :func:`read_files`).  Without
    ``write_unchanged``, a version that would hold what the latest holds (the same files
    again, or a rerun of an ingest killed after its version was placed) is not written:
    :class:`~scraper.store.changes.NoChange` is raised.
    """
    check_files(files)
    spec, spec_sha = load_spec(dataset_dir) if (dataset_dir / SPEC_FILE).is_file() else (None, None)
    dataset = Dataset(dataset_dir)
    pseudonymizer = pseudonymizer_for(dataset, spec)  # a missing or wrong key stops us before anything is written
    # the caller (the CLI) holds the dataset's lock around this call
    archive = archive_overlay(spec)
    base = None if replace else dataset.latest()
    if archive is not None and base is not None:
        # Arctic Shift answers are overlaid on Reddit's from the records themselves (docs/ARCHIVES.md):
        # a version's rows do not say which threads Reddit was asked for, so they cannot be merged into
        raise InputError(
            f"{dataset_dir}: its spec has an [archive] section, so a version is built from whole raw "
            f"archives, not merged into {base}; give --replace and every file the version should hold, "
            f"e.g. ingest --replace {dataset_dir} {dataset_dir}/raw/*.jsonl.gz FILE...; nothing was written"
        )
    with VersionBuilder(
        dataset,
        base=base,
        keep_thread=keep_rule(spec) if spec is not None else None,
        pseudonymizer=pseudonymizer,
        archive=archive,
    ) as builder:
        read_files(files, builder.sightings, workers=workers)
        names = [storable(p.name) for p in files]
        return builder.write(
            spec_sha256=spec_sha,
            source={"kind": "ingest", "files": names, "base": base, "mode": "replace" if replace else "merge"},
            stats={},
            spec=spec,
            require_rows=True,
            write_unchanged=write_unchanged,
        )


class _Sink(Protocol):
    def add_record(self, record: Any) -> object: ...

    def add_document(
        self,
        body: Any,
        *,
        url: str,
        params: dict[str, Any],
        seen_at: datetime | None,
        source: str,
        label: str = "",
        strict: bool = False,
        escaping: str = "",
    ) -> object: ...


def check_files(files: Sequence[Path]) -> None:
    """Raise :class:`InputError` for no files, or one that is missing, a folder, a dump file or unreadable.

    Called before the dataset's lock is taken (which makes the folder): a refused input creates nothing.
    """
    if not files:
        raise InputError("give at least one file to ingest")
    for path in files:
        _check_readable(path)


def _check_readable(path: Path) -> None:
    if path.suffix in (".zst", ".jsonl", ".ndjson") and _is_dump_name(path.name):
        raise InputError(
            f"{path}: is a Reddit dump file (NDJSON of posts or comments), which ingest does not read; "
            f"give it to: python -m scraper dumps DATASET {path} (docs/ARCHIVES.md)"
        )
    try:
        if path.is_dir():
            raise InputError(f"{path}: is a folder; give the files in it (e.g. {path}/*.json)")
        with path.open("rb"):
            pass
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc}); check the path") from None


def _is_dump_name(name: str) -> bool:
    from scraper.sources.dumps import dump_kind

    try:
        dump_kind(name)
    except InputError:
        return False
    return True


#: Below this much input, reading in worker processes costs more than it saves.
PARALLEL_MIN_BYTES = 64 * 2**20
#: Parts per worker: enough for the workers to finish together, few enough to keep row groups large.
PARTS_PER_WORKER = 4


def read_files(files: Sequence[Path], sightings: Sightings, *, workers: int | None = None) -> None:
    """Feed ``files`` to ``sightings``: here, or in parts read by ``workers`` processes.

    Decoding JSON holds the interpreter, so one process uses one core; a large input is
    cut into parts of consecutive files, each read by a worker process into staging
    files of its own (:meth:`Sightings.part`), and the parts are taken over in input
    order (:meth:`Sightings.absorb`).  The version written is the same, byte for byte,
    whatever the number of workers (``tests/test_ingest_parallel.py``).  ``workers``
    None: one per available core, when the input is at least
    :data:`PARALLEL_MIN_BYTES`.  The processes come from the standard library's
    :class:`~concurrent.futures.ProcessPoolExecutor` (forked); nothing here schedules.
    On systems other than Linux the files are read here, in this process.
    """
    count = _worker_count(files, workers)
    if count <= 1:
        for path in files:
            read_file(path, sightings)
        return
    # pyarrow imports pandas (when installed) on its first conversion of a Python list, which
    # takes a second; done once here, the forked workers inherit it instead of each paying it
    pa.array([0])
    results = _read_parts(_parts(_units(files, count), count * PARTS_PER_WORKER), sightings, count)
    if not _ranges_meet([span for _, _, spans in results for span in spans]):
        # a raw archive's ranges missed each other (damage at a range's edge): read the files
        # whole instead, which names the damage (see ArchiveRange)
        for index in range(len(results)):
            shutil.rmtree(sightings.part(index)[0], ignore_errors=True)
        results = _read_parts(_parts(list(files), count * PARTS_PER_WORKER), sightings, count)
    sightings.absorb([(staged, stats) for staged, stats, _ in results])


_Result = tuple[dict[str, list[Path]], SightingStats, list[ArchiveRange]]


def _read_parts(parts: list[list[_Unit]], sightings: Sightings, count: int) -> list[_Result]:
    """Each part read by a worker process into staging files of its own; the results in input order."""
    # a worker converts a run's worth of sightings at once (runs.RUN_ROWS): one conversion and sort a run, no
    # concatenation of two batches before the sort (10% less of a reading worker's CPU than 16,384-row batches)
    batch_rows = max(sightings.batch_rows, runs.RUN_ROWS)
    jobs = [(part, *sightings.part(index), batch_rows, sightings.archive) for index, part in enumerate(parts)]
    # fork: a worker starts at once with what is imported here, and never re-runs the caller's
    # __main__ (spawn and forkserver do, which breaks scripts without a main guard).  A worker
    # touches only msgspec and pyarrow, which re-initialise their thread pools after a fork.
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(
        max_workers=count, mp_context=context, initializer=_worker_signals, initargs=(os.getpid(),)
    )
    try:
        results = list(pool.map(_read_part, jobs))
    except KeyboardInterrupt:  # the parts not started are dropped; the running ones end first
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    except BrokenProcessPool:
        pool.shutdown(wait=False, cancel_futures=True)
        raise TransientError(
            f"a worker process reading the files died (killed, perhaps out of memory), {count} at once; "
            "nothing was written: run again, or with --workers 1"
        ) from None
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results


def _worker_signals(parent: int) -> None:
    """A worker ignores Ctrl-C (the caller takes it, lets running parts end and reports it once)
    and dies with its caller: killed (kill -9), the caller leaves no worker waiting for work.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the caller died before the line above took effect
        os._exit(1)


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _worker_count(files: Sequence[Path], workers: int | None) -> int:
    if not sys.platform.startswith("linux"):
        return 1  # fork is Linux's to give safely (macOS forbids it after threads; Windows has none)
    cores = len(os.sched_getaffinity(0))
    # a large raw archive is cut into ranges, so it can keep several workers busy on its own
    splittable = sum(1 for path in files if _splittable(path))
    pieces = len(files) + splittable * (max(cores, workers or 1) - 1)
    if workers is not None:
        return max(1, min(workers, pieces))
    if pieces < 2 or sum(_work(path) for path in files) < PARALLEL_MIN_BYTES:
        return 1
    return max(1, min(cores, pieces))


def _splittable(path: Path) -> bool:
    return path.name.endswith(".jsonl.gz") and _size(path) >= SPLIT_MIN_BYTES


def _work(path: Path) -> int:
    """About how many bytes of JSON a file holds: a raw archive's gzip is about a seventh of it."""
    return _size(path) * (GZIP_RATIO if path.name.endswith(".jsonl.gz") else 1)


#: JSON bytes per gzip byte in a raw archive (the bench's archives: 287 MB of gzip, 2 GB of responses)
GZIP_RATIO = 7


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


@dataclass(frozen=True)
class _Range:
    """Bytes ``[start, end)`` of a raw archive: the records of the members that start there."""

    path: Path
    start: int
    end: int


_Unit = Path | _Range

#: A raw archive at least this large is read in byte ranges by several workers (smaller: whole).
SPLIT_MIN_BYTES = 8 * 2**20


def _units(files: Sequence[Path], count: int) -> list[_Unit]:
    """``files`` in order, each large raw archive cut into byte ranges of about one part's share.

    Records are numbered in input order whatever the cut (each part from its own base), so the
    version is the same as when each file is read whole.
    """
    share = sum(_work(path) for path in files) / max(1, count * PARTS_PER_WORKER)
    units: list[_Unit] = []
    for path in files:
        size = _size(path)
        if not (_splittable(path) and _work(path) > share):
            units.append(path)
            continue
        pieces = math.ceil(_work(path) / share)
        edges = [size * i // pieces for i in range(pieces + 1)]
        units.extend(_Range(path, low, high) for low, high in itertools.pairwise(edges))
    return units


def _unit_size(unit: _Unit) -> int:
    return (unit.end - unit.start) * GZIP_RATIO if isinstance(unit, _Range) else _work(unit)


def _parts(units: Sequence[_Unit], count: int) -> list[list[_Unit]]:
    """``units`` cut into at most ``count`` runs of consecutive units of about equal size."""
    sizes = [max(1, _unit_size(unit)) for unit in units]
    share = sum(sizes) / max(1, count)
    parts: list[list[_Unit]] = [[]]
    filled = 0
    for unit, size in zip(units, sizes, strict=True):
        if parts[-1] and filled + size / 2 > share * len(parts) and len(parts) < count:
            parts.append([])
        parts[-1].append(unit)
        filled += size
    return parts


def _ranges_meet(spans: Iterable[ArchiveRange]) -> bool:
    """Whether the ranges read of each split archive met, one after another (see ArchiveRange)."""
    by_file: dict[Path, list[ArchiveRange]] = {}
    for span in spans:
        by_file.setdefault(span.path, []).append(span)
    for ranges in by_file.values():
        ranges.sort(key=lambda span: span.start)
        if not all(a.meets(b) for a, b in itertools.pairwise(ranges)):
            return False
    return True


def _read_part(job: tuple[list[_Unit], Path, int, int, bool]) -> _Result:
    """One part, in a worker process: its files and ranges into staging files of its own."""
    units, workdir, seq, batch_rows, archive = job
    workdir.mkdir()
    sightings = Sightings(workdir, batch_rows=batch_rows, archive=archive)
    sightings.seq = seq
    spans: list[ArchiveRange] = []
    try:
        for unit in units:
            if isinstance(unit, _Range):
                span = ArchiveRange(unit.path, unit.start, unit.end)
                _feed_archive(unit.path, _archive_records(unit.path, span), sightings)
                spans.append(span)
            else:
                read_file(unit, sightings)
    except BaseException:
        sightings.discard()  # no writer left open for the worker's exit to close on a full disk
        raise
    return sightings.close(), sightings.stats, spans


def read_file(path: Path, sightings: _Sink) -> None:
    """Feed the records of one input file to ``sightings``."""
    origin = storable(f"file:{path.name}")
    name = storable(path.name)
    if path.name.endswith(".jsonl.gz"):
        _feed_archive(path, _archive_records(path), sightings)
        return
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc}); check the path") from None
    if raw[:2] == GZIP_MAGIC:
        raise InputError(f"{path}: is gzip-compressed; a raw archive must be named *.jsonl.gz")
    head = raw.lstrip()[:1]
    if head == b"{":
        if isinstance(sightings, Sightings) and _read_tree_sample(raw, sightings, origin, name):
            return
        try:
            probe = _PROBE.decode(raw)
        except msgspec.DecodeError:
            _read_parsed(path, raw, sightings, origin, name)
            return
        except msgspec.ValidationError:
            probe = _Probe()
        if probe.interactions is not msgspec.UNSET:
            doc = _parse(path, raw)
            _read_cassette(doc, sightings, origin, name)
            return
        if _is_object(probe.request) and _is_object(probe.response):
            assert isinstance(probe.response, msgspec.Raw)
            _read_sample(path, raw, probe, sightings, origin, name)
            return
    elif head != b"[":
        _parse(path, raw)  # raises with the reason: empty, not JSON, not text
    sightings.add_document(
        raw, url="", params={}, seen_at=None, source=origin, label=str(path), strict=True, escaping="unknown"
    )


def _read_tree_sample(raw: bytes, sightings: Sightings, origin: str, name: str) -> bool:
    """A recorded interaction holding a comment tree, decoded once straight into the wire types.

    False (nothing taken) for anything else, or a tree the fast path does not take: the
    general reading below (which scans the file more than once) then decides.
    """
    try:
        sample = _TREE_SAMPLE.decode(raw)
    except wire.NotFast:
        return False
    if sample.response.json is msgspec.UNSET:
        return False
    doc = {
        "request": sample.request,
        "response": {"status": sample.response.status, "headers": sample.response.headers, "json": None},
        "source": sample.source,
    }
    record = _sample_record(doc, origin, name)
    if record is None or record.get("escaping") == ESCAPED:
        return False  # read with its body, which is unescaped first
    return sightings.add_record(record, decoded=sample.response.json)


def _read_parsed(path: Path, raw: bytes, sightings: _Sink, origin: str, name: str) -> None:
    """A file msgspec refuses (a lone surrogate, deep nesting): the standard library reads it, or says why not."""
    doc = _parse(path, raw)
    if isinstance(doc, dict) and isinstance(doc.get("interactions"), list):
        _read_cassette(doc, sightings, origin, name)
    elif isinstance(doc, dict) and isinstance(doc.get("response"), dict) and isinstance(doc.get("request"), dict):
        sightings.add_record(_unescaped(_sample_record(doc, origin, name)))
    else:
        sightings.add_document(doc, url="", params={}, seen_at=None, source=origin, label=name, escaping="unknown")


def _parse(path: Path, raw: bytes) -> Any:
    if not raw.strip():
        raise InputError(f"{path}: is empty; give Reddit API responses saved as JSON")
    try:
        return json.loads(raw)
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply to be a Reddit response") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not text (not UTF-8); give Reddit API responses saved as JSON") from None
    except ValueError as exc:
        raise InputError(f"{path}: not JSON ({exc}); give Reddit API responses saved as JSON") from None


def _is_object(raw: Any) -> bool:
    return isinstance(raw, msgspec.Raw) and bytes(raw)[:1] == b"{"


def _read_sample(path: Path, raw: bytes, probe: _Probe, sightings: _Sink, origin: str, name: str) -> None:
    assert isinstance(probe.request, msgspec.Raw) and isinstance(probe.response, msgspec.Raw)
    try:
        request = msgspec.json.decode(probe.request)
        response = _SAMPLE_RESPONSE.decode(probe.response)
        source = msgspec.json.decode(probe.source) if isinstance(probe.source, msgspec.Raw) else None
    except msgspec.MsgspecError:
        _read_parsed(path, raw, sightings, origin, name)
        return
    doc = {
        "request": request,
        "response": {"status": response.status, "headers": response.headers, "text": response.text},
        "source": source,
    }
    record = _sample_record(doc, origin, name)
    if isinstance(record, dict) and isinstance(response.json, msgspec.Raw):
        record.pop("body", None)
        record["body"] = bytes(response.json)
    sightings.add_record(_unescaped(record))


def _sample_record(doc: dict[str, Any], origin: str, label: str) -> Any:
    request, response = doc["request"], doc["response"]
    if not isinstance(request, dict) or not isinstance(response, dict):
        return None
    url = request.get("url")
    if not isinstance(url, str):
        url = ""
    split = urlsplit(url)
    params = request.get("query")
    if not isinstance(params, dict):
        params = dict(parse_qsl(split.query))
    source: dict[str, Any] = doc["source"] if isinstance(doc.get("source"), dict) else {}
    headers: dict[str, Any] = response["headers"] if isinstance(response.get("headers"), dict) else {}
    record: dict[str, Any] = {
        "origin": origin,
        "label": label,
        "method": request.get("method"),
        "url": f"{split.scheme}://{split.netloc}{split.path}",
        "params": params,
        "form": request.get("form"),
        "status": response.get("status", 200),
        "received_at": _http_date(source.get("response_date_header") or headers.get("date")),
        "escaping": _escaping(url, params, request.get("form")),
    }
    if "json" in response:
        record["json"] = response["json"]
    else:
        text = response.get("text", "")
        record["body"] = text if isinstance(text, str) else ""
    return record


def _read_cassette(doc: Any, sightings: _Sink, origin: str, name: str) -> None:
    interactions = doc.get("interactions") if isinstance(doc, dict) else None
    if not isinstance(interactions, list):
        sightings.add_record(None)
        return
    for number, interaction in enumerate(interactions):
        sightings.add_record(_unescaped(_cassette_record(interaction, origin, f"{name}#{number}")))


def _cassette_record(interaction: Any, origin: str, label: str) -> Any:
    """One vcrpy interaction as a raw record; None (counted as not an object) when its parts have the wrong types."""
    if not isinstance(interaction, dict):
        return None
    request, response = interaction.get("request"), interaction.get("response")
    if not isinstance(request, dict) or not isinstance(response, dict):
        return None
    uri = request.get("uri")
    split = urlsplit(uri if isinstance(uri, str) else "")
    raw_headers = response.get("headers")
    headers = (
        {str(k).lower(): (v[0] if isinstance(v, list) and v else v) for k, v in raw_headers.items()}
        if isinstance(raw_headers, dict)
        else {}
    )
    status = response.get("status")
    body = response.get("body")
    text = body.get("string", "") if isinstance(body, dict) else ""
    params = dict(parse_qsl(split.query))
    return {
        "origin": origin,
        "label": label,
        "method": request.get("method"),
        "url": f"{split.scheme}://{split.netloc}{split.path}",
        "params": params,
        "status": status.get("code", 200) if isinstance(status, dict) else status,
        "received_at": _http_date(headers.get("date")),
        "body": text if isinstance(text, str | bytes) else "",
        "escaping": _escaping(uri if isinstance(uri, str) else "", params, request.get("body")),
    }


#: ``escaping`` of a record whose request lacked ``raw_json=1``: its strings are unescaped (:func:`_unescaped`).
ESCAPED = "unescaped"
#: ``escaping`` of an answer that does not say how it was asked for (a plain body, a record without its URL).
UNKNOWN = "unknown"


def _escaping(url: str, params: Any, form: Any) -> str:
    """How a recorded answer's strings were escaped (WIRE-FORMAT §9): "" (raw, ``raw_json=1`` in its
    query or form, or asked of a host that is not Reddit's: adversarial review 8 F3), :data:`ESCAPED` (asked of
    Reddit without it), :data:`UNKNOWN` (its request URL not recorded)."""
    if not url:
        return UNKNOWN
    host = (urlsplit(url).hostname or "reddit.com").rstrip(".")
    if host != "reddit.com" and not host.endswith(".reddit.com"):
        return ""  # raw_json is Reddit's: an archive's answer (Arctic Shift) is not escaped for want of it
    if any(_raw_json(values) for values in (params, urlsplit(url).query, form)):
        return ""
    return ESCAPED


def _raw_json(values: Any) -> bool:
    if isinstance(values, bytes):
        values = values.decode("utf-8", "replace")
    if isinstance(values, str):
        values = dict(parse_qsl(values))
    return isinstance(values, dict) and str(values.get("raw_json")) == "1"


def _unescaped(record: Any) -> Any:
    """A record asked for without ``raw_json=1`` with every string of its answer unescaped (WIRE-FORMAT §9:
    Reddit then escapes ``<``, ``>`` and ``&`` in all strings); any other record as it is.  A body that is
    not JSON stays as it is, for the reading to count or name."""
    if not isinstance(record, dict) or record.get("escaping") != ESCAPED:
        return record
    if "json" in record:
        body = record["json"]
    else:
        try:
            body = json.loads(record.get("body") or b"")
        except (ValueError, RecursionError, TypeError):
            return record
    record.pop("body", None)
    record["json"] = unescape_strings(body)
    return record


def _feed_archive(path: Path, records: Iterable[tuple[int, dict[str, Any]]], sightings: _Sink) -> None:
    """Records of a raw archive into ``sightings``, each labelled by its file and byte offset."""
    name = storable(path.name)
    for offset, record in records:
        sightings.add_record({**record, "label": f"{name}@{offset}"})


def _archive_records(path: Path, span: ArchiveRange | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """The records of a raw archive (or of one range of it), with their member's byte offset;
    a file that is not gzip, or gzip of something else, is named."""
    with path.open("rb") as handle:
        magic = handle.read(2)
    if magic != GZIP_MAGIC:
        what = "is empty" if not magic else "is not gzip-compressed"
        raise InputError(f"{path}: {what}; a raw archive (*.jsonl.gz) is written by collect")
    try:
        yield from read_records_at(path) if span is None else span
    except ScraperError:
        raise
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(f"{path}: not a readable raw archive ({exc})") from None


def _http_date(value: Any) -> str | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(str(value)).isoformat()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
