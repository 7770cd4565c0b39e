"""The raw archive: every API response, with the request that produced it.

A run appends to one file, ``<dataset>/raw/<run_id>.jsonl.gz``.  Each record is
its own gzip member, flushed and fsynced before the next request is made, so a
kill at any moment loses at most the record being written; readers skip a
truncated last member.  Files are append-only and never rewritten (a purge
asked for by a removal request is the one exception, issue 4).

Secrets never reach the archive: request headers are not recorded, secret form
fields are replaced by ``<REDACTED>`` and tokens in token responses by
``<ACCESS_TOKEN>``.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

RECORD_VERSION = 1
SECRET_FORM_FIELDS = frozenset({"password", "refresh_token", "otp", "code", "client_secret", "client_id"})
SECRET_BODY_FIELDS = ("access_token", "refresh_token")
KEPT_HEADERS = (
    "content-type",
    "date",
    "location",
    "retry-after",
    "www-authenticate",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-used",
)


def redact_form(form: dict[str, Any] | None) -> dict[str, Any] | None:
    """Return ``form`` with every secret field replaced by a placeholder."""
    if form is None:
        return None
    return {k: ("<REDACTED>" if k in SECRET_FORM_FIELDS else v) for k, v in form.items()}


def redact_token_body(body: str) -> str:
    """Mask tokens in a token-endpoint response body, leaving other bodies as they are."""
    if not any(f'"{field}"' in body for field in SECRET_BODY_FIELDS):
        return body
    try:
        payload = json.loads(body)
    except ValueError:
        return body
    if isinstance(payload, dict):
        for field in SECRET_BODY_FIELDS:
            if field in payload:
                payload[field] = "<ACCESS_TOKEN>" if field == "access_token" else "<REFRESH_TOKEN>"
        return json.dumps(payload)
    return body


class RawArchive:
    """An append-only, compressed log of API responses for one run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            # A run killed mid-write leaves a torn last member: cut it off, or every record
            # appended after it would be unreadable.
            size = valid_length(path.read_bytes())
            if size != path.stat().st_size:
                with path.open("r+b") as handle:
                    handle.truncate(size)
        self._file = open(path, "ab")  # noqa: SIM115 - held for the run, closed in close()
        self.count = 0

    def append(self, record: dict[str, Any]) -> None:
        """Append one record and make it durable before returning."""
        record = {"v": RECORD_VERSION, **record}
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        self._file.write(gzip.compress(line, compresslevel=6, mtime=0))
        self._file.flush()
        os.fsync(self._file.fileno())
        self.count += 1

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> RawArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def valid_length(data: bytes) -> int:
    """The length of the longest prefix of ``data`` made of whole gzip members."""
    offset = 0
    while offset < len(data):
        decompressor = zlib.decompressobj(wbits=31)
        try:
            decompressor.decompress(data[offset:])
        except zlib.error:
            break
        if not decompressor.eof:
            break
        offset = len(data) - len(decompressor.unused_data)
    return offset


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Yield every complete record of an archive file; a truncated tail is skipped."""
    data = path.read_bytes()
    while data:
        decompressor = zlib.decompressobj(wbits=31)
        try:
            chunk = decompressor.decompress(data)
        except zlib.error:
            return  # a torn write at the end of the file
        if not decompressor.eof:
            return
        for line in chunk.splitlines():
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError:
                    return
        data = decompressor.unused_data


def archive_files(raw_dir: Path) -> list[Path]:
    """Return the archive files in a dataset's raw folder, oldest run first."""
    if not raw_dir.is_dir():
        return []
    return sorted(raw_dir.glob("*.jsonl.gz"))
