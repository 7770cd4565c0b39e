"""Ingest: add saved Reddit API responses to a dataset, without asking Reddit.

Accepted files, recognised by content:

- a raw archive of this tool (``*.jsonl.gz``), to rebuild a snapshot;
- a plain JSON response body: a comment tree (``/comments/…``), a morechildren
  answer, or a Listing (search, ``/api/info``, subreddit listings);
- a recorded interaction ``{"request": {...}, "response": {"json": ...}}``, the
  format of ``../shared/reddit/samples/``;
- a vcrpy cassette (``{"interactions": [...]}``) recorded against Reddit.

By default the new version is the latest one with the input merged in: a thing
seen again replaces its row when the new sighting is as new or newer
(``retrieved_at``), everything else stays, and a thread's ``found_by`` gains
the files that held it.  ``replace=True`` starts afresh from the input alone.

Everything that is not kept is counted by reason (``stats.not_kept`` in the
manifest, and the command's output): token and error responses, records that
are not objects, things without an id, comments whose submission is not in
the input when a spec filters threads.  A file that cannot be read at all (no
such file, a folder, a symlink loop, not JSON, not gzip) stops the ingest
before anything is written; an input with nothing usable in it writes no
version and exits 1.

Files are streamed: a raw archive record by record, a JSON file decoded
straight into the columns (see :mod:`scraper.normalize.sightings`).  This
module imports nothing of the collector, so praw is never loaded.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

import msgspec

from scraper.build import VersionBuilder, build_version_in_memory, pseudonymizer_for
from scraper.errors import InputError, ScraperError
from scraper.normalize.policy import keep_rule
from scraper.normalize.repair import storable
from scraper.spec import SPEC_FILE, DatasetSpec, load_spec
from scraper.store.raw import read_records
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


_PROBE = msgspec.json.Decoder(_Probe)
_SAMPLE_RESPONSE = msgspec.json.Decoder(_SampleResponse)


def ingest(dataset_dir: Path, files: Sequence[Path], *, replace: bool = False) -> dict[str, Any]:
    """Write a new version of ``dataset_dir`` from ``files``; return its manifest.

    Merged into the latest version unless ``replace``.  Raises :class:`InputError` for a
    file that cannot be read, and when nothing in the input is usable (no version then).
    """
    if not files:
        raise InputError("give at least one file to ingest")
    for path in files:
        _check_readable(path)
    spec, spec_sha = load_spec(dataset_dir) if (dataset_dir / SPEC_FILE).is_file() else (None, None)
    dataset = Dataset(dataset_dir)
    pseudonymizer = pseudonymizer_for(dataset, spec)  # a missing or wrong key stops us before anything is written
    if spec is not None and spec.archive is not None:
        return _ingest_with_archive(dataset, files, spec, spec_sha, pseudonymizer)
    # the caller (the CLI) holds the dataset's lock around this call
    base = None if replace else dataset.latest()
    with VersionBuilder(
        dataset,
        base=base,
        keep_thread=keep_rule(spec) if spec is not None else None,
        pseudonymizer=pseudonymizer,
    ) as builder:
        for path in files:
            read_file(path, builder.sightings)
        names = [storable(p.name) for p in files]
        return builder.write(
            spec_sha256=spec_sha,
            source={"kind": "ingest", "files": names, "base": base, "mode": "replace" if replace else "merge"},
            stats={},
            spec=spec,
            require_rows=True,
        )


def _ingest_with_archive(
    dataset: Dataset, files: Sequence[Path], spec: DatasetSpec, spec_sha: str | None, pseudonymizer: Any
) -> dict[str, Any]:
    """A dataset whose spec has an ``[archive]`` section: rebuilt from FILES alone on the in-memory path.

    Arctic Shift answers are overlaid on Reddit's there (docs/ARCHIVES.md); the merge into the
    latest version and the streaming path are for Reddit's own answers.
    """
    sink = _RecordList()
    for path in files:
        read_file(path, sink)
    manifest = build_version_in_memory(
        dataset,
        sink.records,
        spec_sha256=spec_sha,
        source={"kind": "ingest", "files": [storable(p.name) for p in files], "base": None, "mode": "replace"},
        keep_thread=keep_rule(spec),
        pseudonymizer=pseudonymizer,
        spec=spec,
    )
    return manifest


class _RecordList:
    """Collects the records of the input files, for the in-memory path."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def add_record(self, record: Any) -> None:
        if isinstance(record, dict):
            self.records.append(record)

    def add_document(
        self,
        body: Any,
        *,
        url: str,
        params: dict[str, Any],
        seen_at: datetime,
        source: str,
        label: str = "",
        strict: bool = False,
    ) -> None:
        del strict  # the in-memory harvest refuses a file's malformed JSON itself
        record: dict[str, Any] = {"origin": source, "label": label, "url": url, "params": params, "status": 200}
        record["received_at"] = seen_at.isoformat()
        if isinstance(body, bytes | str):
            record["body"] = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        else:
            record["json"] = body
        self.records.append(record)


class _Sink(Protocol):
    def add_record(self, record: Any) -> None: ...

    def add_document(
        self,
        body: Any,
        *,
        url: str,
        params: dict[str, Any],
        seen_at: datetime,
        source: str,
        label: str = "",
        strict: bool = False,
    ) -> None: ...


def _check_readable(path: Path) -> None:
    try:
        if path.is_dir():
            raise InputError(f"{path}: is a folder; give the files in it (e.g. {path}/*.json)")
        with path.open("rb"):
            pass
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc}); check the path") from None


def read_file(path: Path, sightings: _Sink) -> None:
    """Feed the records of one input file to ``sightings``."""
    origin = storable(f"file:{path.name}")
    name = storable(path.name)
    if path.name.endswith(".jsonl.gz"):
        for number, record in enumerate(_archive_records(path)):
            labelled = (
                {**record, "label": f"{name}#{record.get('seq', number)}"} if isinstance(record, dict) else record
            )
            sightings.add_record(labelled)
        return
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc}); check the path") from None
    if raw[:2] == GZIP_MAGIC:
        raise InputError(f"{path}: is gzip-compressed; a raw archive must be named *.jsonl.gz")
    head = raw.lstrip()[:1]
    if head == b"{":
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
    sightings.add_document(raw, url="", params={}, seen_at=_now(), source=origin, label=str(path), strict=True)


def _read_parsed(path: Path, raw: bytes, sightings: _Sink, origin: str, name: str) -> None:
    """A file msgspec refuses (a lone surrogate, deep nesting): the standard library reads it, or says why not."""
    doc = _parse(path, raw)
    if isinstance(doc, dict) and isinstance(doc.get("interactions"), list):
        _read_cassette(doc, sightings, origin, name)
    elif isinstance(doc, dict) and isinstance(doc.get("response"), dict) and isinstance(doc.get("request"), dict):
        sightings.add_record(_sample_record(doc, origin, name))
    else:
        sightings.add_document(doc, url="", params={}, seen_at=_now(), source=origin, label=name)


def _parse(path: Path, raw: bytes) -> Any:
    import json

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
    sightings.add_record(record)


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
        sightings.add_record(_cassette_record(interaction, origin, f"{name}#{number}"))


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
    return {
        "origin": origin,
        "label": label,
        "method": request.get("method"),
        "url": f"{split.scheme}://{split.netloc}{split.path}",
        "params": dict(parse_qsl(split.query)),
        "status": status.get("code", 200) if isinstance(status, dict) else status,
        "received_at": _http_date(headers.get("date")),
        "body": text if isinstance(text, str | bytes) else "",
    }


def _archive_records(path: Path) -> Iterator[Any]:
    """The records of a raw archive; a file that is not gzip, or gzip of something else, is named."""
    with path.open("rb") as handle:
        magic = handle.read(2)
    if magic != GZIP_MAGIC:
        what = "is empty" if not magic else "is not gzip-compressed"
        raise InputError(f"{path}: {what}; a raw archive (*.jsonl.gz) is written by collect")
    try:
        yield from read_records(path)
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


def _now() -> datetime:
    return datetime.now(UTC)
