"""The raw archive: every API response, with the request that produced it.

A run appends to one file, ``<dataset>/raw/<run_id>.jsonl.gz``.  Each record is
its own gzip member, flushed and fsynced before the next request is made, so a
kill at any moment loses at most the record being written: readers skip a
torn last member and reopening for append cuts it off.  Any other damage (a bad
member in the middle, a flipped byte) is a :class:`~scraper.errors.RawArchiveDamaged`
error naming the file and byte offset, and nothing is changed.  Reading is one
linear, streaming pass over the file.  Files are append-only and never rewritten (a purge
asked for by a removal request is the one exception, issue 4).

Secrets never reach the archive: request headers are not recorded, secret form
fields are replaced by ``<REDACTED>`` and tokens in token responses by
``<ACCESS_TOKEN>``.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from scraper.errors import RawArchiveDamaged

logger = logging.getLogger(__name__)

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
            # appended after it would be unreadable.  Any other damage raises before anything
            # is changed (scan_archive), so appending never buries a bad member.
            scan = scan_archive(path)
            if scan.torn_at is not None:
                with path.open("r+b") as handle:
                    handle.truncate(scan.torn_at)
                    handle.flush()
                    os.fsync(handle.fileno())
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


# Reading.  The stdlib's gzip.GzipFile reads multi-member files linearly but neither reports
# where each member starts nor tells a torn last member from damage in the middle (it raises
# EOFError or BadGzipFile for both, after yielding what it could), so the members are walked
# here with one zlib decompressor each.  Input is fed in
# slices of _FEED bytes: zlib copies the rest of the slice into ``unused_data`` when a member
# ends, so that copy stays bounded and reading is linear in the file's size however many
# members it holds.
_FEED = 1 << 14
_BUFFER = 1 << 20
_MAGIC = b"\x1f\x8b\x08"
#: Records are decoded by msgspec (about twice as fast as the stdlib on the escaped response bodies
#: they hold); what it refuses is given to :func:`json.loads`, so both read the same records.
_RECORD = msgspec.json.Decoder()


@dataclass(frozen=True)
class ArchiveScan:
    """What a walk over an archive file found."""

    members: int
    length: int  # bytes made of whole members
    torn_at: int | None  # where a torn last member starts, if the file ends in one


def _damaged(path: Path, offset: int, what: str) -> RawArchiveDamaged:
    return RawArchiveDamaged(
        f"{path}: raw archive damaged at byte {offset} ({what}); nothing was changed. "
        "Restore the file from a backup, or move it aside to go on without the records it holds.",
        path=path,
        offset=offset,
    )


class _Walk:
    """One linear pass over the gzip members of an archive file.

    Iterating yields ``(offset, data)`` for every whole member.  A torn last member (the file
    ends inside it and no whole member follows its start) ends the walk and is left in
    ``torn_at``; any other damage raises :class:`RawArchiveDamaged` naming the byte offset.
    With ``decode=False`` the members are checked (CRC and length) but their data is dropped.
    """

    def __init__(self, path: Path, *, decode: bool = True) -> None:
        self.path = path
        self.decode = decode
        self.torn_at: int | None = None

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        with self.path.open("rb", buffering=_BUFFER) as handle:
            size, pos = os.fstat(handle.fileno()).st_size, 0
            while pos < size:
                member = self._next(handle, pos)
                if member is None:
                    return
                yield pos, member[1]
                pos = member[0]

    def _next(self, handle: BinaryIO, pos: int) -> tuple[int, bytes] | None:
        """The member at ``pos``: where it ends and its data; None for a torn last member (``torn_at``)."""
        try:
            end, data = _member(handle, pos, keep=self.decode)
        except zlib.error as exc:
            raise _damaged(self.path, pos, f"bad gzip member: {exc}") from None
        if end is None:
            if _whole_member_after(handle, pos):
                raise _damaged(self.path, pos, "a gzip member that runs past where the next one begins")
            self.torn_at = pos
            return None
        return end, data


def _member(handle: BinaryIO, start: int, *, keep: bool) -> tuple[int | None, bytes]:
    """Decompress the gzip member at ``start``: where it ends (None: the file ends first), its data.

    Raises zlib.error for a member that is not valid gzip (header, deflate data, CRC, length).
    """
    handle.seek(start)  # within the read buffer, after the member before: no system call
    decompressor = zlib.decompressobj(wbits=31)
    parts: list[bytes] = []
    pos = start
    while not decompressor.eof:
        piece = handle.read(_FEED)
        if not piece:
            return None, b""
        out = decompressor.decompress(piece)
        if keep:
            parts.append(out)
        pos += len(piece) - len(decompressor.unused_data)
    return pos, b"".join(parts)


def _whole_member_after(handle: BinaryIO, start: int) -> bool:
    """Whether a whole gzip member begins anywhere after ``start``.

    A write cut short leaves a prefix of one member, which never holds a whole member of its
    own; damage that makes a member in the middle run on to the end of the file leaves the
    members after it whole.  So finding one tells damage from a torn tail.  The search reads
    the rest of the file in blocks (it is short unless the file is damaged).
    """
    offset = start + 1
    while True:
        handle.seek(offset)
        block = handle.read(_BUFFER)
        if len(block) < len(_MAGIC):
            return False
        found = block.find(_MAGIC)
        while found >= 0:
            try:
                end, _ = _member(handle, offset + found, keep=False)
            except zlib.error:
                end = None
            if end is not None:
                return True
            found = block.find(_MAGIC, found + 1)
        offset += len(block) - (len(_MAGIC) - 1)


def scan_archive(path: Path) -> ArchiveScan:
    """Check an archive file in one pass without decoding its records.

    Raises :class:`RawArchiveDamaged` for any damage other than a torn last member.
    """
    walk = _Walk(path, decode=False)
    members = sum(1 for _ in walk)
    length = walk.torn_at if walk.torn_at is not None else path.stat().st_size
    return ArchiveScan(members, length, walk.torn_at)


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Yield every record of an archive file, streaming, in one linear pass.

    A torn last member (a write cut short by a crash or kill) is skipped with a warning: it
    is the one loss the append-and-fsync design allows.  Any other damage (a bad member
    anywhere, a flipped byte, a record that is not JSON) raises :class:`RawArchiveDamaged`
    naming the file and byte offset; records before it have been yielded already, but the
    caller never sees a silently shortened archive.
    """
    for _, record in _records(path, _Walk(path)):
        yield record


def read_records_at(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """:func:`read_records`, each record with the byte offset of the gzip member holding it."""
    return _records(path, _Walk(path))


def _records(path: Path, walk: _Walk) -> Iterator[tuple[int, dict[str, Any]]]:
    """The records of the members ``walk`` yields, each with its member's byte offset."""
    for offset, data in walk:
        for line in data.splitlines():
            if not line.strip():
                continue
            try:
                record = _RECORD.decode(line)
            except (
                msgspec.DecodeError,
                msgspec.ValidationError,
            ):  # a lone surrogate, NaN, 1e400: the stdlib reads those
                try:
                    record = json.loads(line)
                except ValueError as exc:
                    raise _damaged(path, offset, f"a record that is not JSON: {exc}") from None
            if not isinstance(record, dict):
                raise _damaged(path, offset, "a record that is not a JSON object")
            yield offset, record
    if walk.torn_at is not None:
        logger.warning("%s: torn last record at byte %d skipped (a write cut short)", path, walk.torn_at)


class ArchiveRange:
    """The records of the members of an archive file that *start* in bytes ``[start, end)``.

    Lets several processes read one large archive: each takes a byte range.  A range that
    does not begin at 0 starts at the first offset holding a gzip member that decodes (its
    CRC and length checked), found by searching for the gzip magic; it walks on member by
    member from there, as :func:`read_records` does, while members start before ``end``.

    Where a range begins is only found, not known, so the caller checks that the ranges of a
    file meet (:meth:`meets`): the member where one range stopped is where the next one
    began.  Damage that makes them miss each other (a bad member at a range's edge, which the
    search would step over) is caught there, and the file is then read whole, which raises
    :class:`RawArchiveDamaged` at the damage.  Iterating yields ``(offset, record)``.
    """

    def __init__(self, path: Path, start: int, end: int) -> None:
        self.path, self.start, self.end = path, start, end
        self.first: int | None = None
        """Where the first member of the range starts; None when none does."""
        self.stop: int | None = None
        """Where the walk stopped: a member start at or past ``end``, or where the data ended."""
        self.ended = False
        """The walk reached the end of the file's data (its end, or a torn last member)."""

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        walk = _RangeWalk(self)
        yield from _records(self.path, walk)

    def meets(self, following: ArchiveRange) -> bool:
        """Whether ``following`` (the next range of the same file) began where this one stopped."""
        if self.ended:
            return following.first is None
        return following.first is not None and following.first == self.stop


class _RangeWalk(_Walk):
    def __init__(self, span: ArchiveRange) -> None:
        super().__init__(span.path)
        self.span = span

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        span = self.span
        with self.path.open("rb", buffering=_BUFFER) as handle:
            size = os.fstat(handle.fileno()).st_size
            pos = _first_member(handle, span.start, size) if span.start else (0 if size else None)
            span.first = pos
            if pos is None:
                span.stop, span.ended = size, True
                return
            while pos < span.end:
                if pos >= size:
                    span.stop, span.ended = size, True
                    return
                member = self._next(handle, pos)
                if member is None:
                    span.stop, span.ended = pos, True
                    return
                yield pos, member[1]
                pos = member[0]
            span.stop, span.ended = pos, pos >= size


def _first_member(handle: BinaryIO, start: int, size: int) -> int | None:
    """The first offset at or after ``start`` where a gzip member decodes (or one runs to the file's end)."""
    offset = start
    while offset < size:
        handle.seek(offset)
        block = handle.read(_BUFFER)
        found = block.find(_MAGIC)
        while found >= 0:
            try:
                _member(handle, offset + found, keep=False)
            except zlib.error:
                found = block.find(_MAGIC, found + 1)
                continue
            return offset + found
        if len(block) < len(_MAGIC):
            return None
        offset += len(block) - (len(_MAGIC) - 1)
    return None


def archive_files(raw_dir: Path) -> list[Path]:
    """Return the archive files in a dataset's raw folder, oldest run first."""
    if not raw_dir.is_dir():
        return []
    return sorted(raw_dir.glob("*.jsonl.gz"))
