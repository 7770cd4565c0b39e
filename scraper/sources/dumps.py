"""Reddit dump files (Pushshift's format, continued by Arctic Shift): names, hashes, streamed lines.

Accepted files, told apart by name as upstream's own scripts do:

=========================================  ==========  =====================================
name                                       kind        what it is
=========================================  ==========  =====================================
``RS_YYYY-MM.zst``                         t3          a month of submissions, all of Reddit
``RC_YYYY-MM.zst``                         t1          a month of comments, all of Reddit
``<sub>_submissions.zst``                  t3          one subreddit's submissions
``<sub>_comments.zst``                     t1          one subreddit's comments
``r_<sub>_posts.jsonl`` / ``…_comments``   t3 / t1     the Arctic Shift download tool's output
=========================================  ==========  =====================================

A ``.zst`` file is one or more zstd frames of NDJSON.  Pushshift-era months
use a 2 GiB window, which default decoders refuse ("Frame requires too much
memory for decoding"), so the decoder allows ``max_window_size=2**31``
(ARCTIC-SHIFT-AND-DUMPS.md §3.2).  Files are read as a stream in blocks cut at
line ends: memory stays bounded whatever the file's size (the decoder's window
itself may take up to 2 GiB on such files).  Plain ``.jsonl``/``.ndjson`` files
are read the same way without decompression.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import zstandard

from scraper.errors import InputError

MAX_WINDOW = 2**31  # the long window of the redistributed Pushshift months
BLOCK = 16 << 20  # decompressed bytes per block (one task): whole lines are cut from it
READ = 256 << 10
READ_IN = 64 << 10  # compressed bytes per decoding step

_MONTHLY = re.compile(r"^(RS|RC)_(\d{4})-(\d{2})\.(zst|jsonl|ndjson|json)$")
_SUBREDDIT = re.compile(r"^(?:r_)?(.+?)_(submissions|posts|comments)\.(zst|jsonl|ndjson|json)$")


@dataclass(frozen=True)
class DumpFile:
    """One input file: where it is, what it holds, its size and sha256 (for the manifest)."""

    path: Path
    kind: str  # "t3" or "t1"
    subreddit: str | None  # the subreddit of a per-subreddit file
    size: int
    sha256: str

    def manifest_entry(self) -> dict[str, object]:
        """What the manifest records of the file (the dumps vanish: record what was read)."""
        return {"name": self.path.name, "kind": self.kind, "size": self.size, "sha256": self.sha256}


def dump_kind(name: str) -> tuple[str, str | None]:
    """``(kind, subreddit)`` from a dump file's name; :class:`InputError` for a name this tool does not know."""
    if match := _MONTHLY.match(name):
        return ("t3" if match.group(1) == "RS" else "t1"), None
    if match := _SUBREDDIT.match(name):
        return ("t1" if match.group(2) == "comments" else "t3"), match.group(1)
    raise InputError(
        f"{name}: not a dump file name this tool knows (RS_YYYY-MM.zst, RC_YYYY-MM.zst, "
        "<subreddit>_submissions.zst, <subreddit>_comments.zst); rename it or check the file"
    )


def describe(path: Path, *, hashed: bool = True) -> DumpFile:
    """A :class:`DumpFile` for ``path``: kind from its name, size and sha256 from its bytes.

    ``hashed=False`` leaves ``sha256`` empty (the caller hashes with :func:`sha256_of` meanwhile).
    """
    kind, subreddit = dump_kind(path.name)
    try:
        if path.is_dir():
            raise IsADirectoryError
        digest = sha256_of(path) if hashed else ""
        size = path.stat().st_size
        with path.open("rb"):
            pass  # readable
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: a folder, not a dump file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return DumpFile(path, kind, subreddit, size, digest)


def sha256_of(path: Path, stop: threading.Event | None = None) -> str:
    """The sha256 of a file's bytes, read in 1 MiB pieces (hashlib lets other threads run meanwhile).

    ``stop`` set: give up at the next piece (returns ``""``).
    """
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                if stop is not None and stop.is_set():
                    return ""
                digest.update(block)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return digest.hexdigest()


class Truncated(ValueError):
    """A zstd stream that ends inside a frame."""


def _decoded(path: Path, handle: BinaryIO) -> Iterator[bytes]:
    """The decompressed bytes of a file, piece by piece; :class:`Truncated` if it ends mid-frame.

    zstandard's ``stream_reader`` returns a clean end of stream on a file cut
    inside a frame, so frames are decoded here one ``decompressobj`` at a time
    and a frame left open at the end of the input is reported.
    """
    if path.suffix != ".zst":
        while piece := handle.read(READ):
            yield piece
        return
    context = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW)
    decoder = context.decompressobj()
    open_frame = False
    while data := handle.read(READ_IN):
        while data:
            open_frame = True
            out = decoder.decompress(data)
            if out:
                yield out
            if decoder.eof:
                data, decoder, open_frame = decoder.unused_data, context.decompressobj(), False
            else:
                data = b""
    if open_frame:
        raise Truncated("the file ends inside a zstd frame")


def blocks(path: Path, block: int = BLOCK) -> Iterator[tuple[int, bytes]]:
    """``(first line number, bytes of whole lines)`` blocks of a dump file, streamed.

    A file that stops decoding (truncated, corrupt) raises :class:`InputError`
    naming the file and the line reached; blocks already yielded stay valid.
    """
    line = 1
    rest = b""
    pieces: list[bytes] = []
    size = 0
    try:
        with path.open("rb") as raw:
            for piece in _decoded(path, raw):
                pieces.append(piece)
                size += len(piece)
                if size < block:
                    continue
                data = rest + b"".join(pieces)
                pieces, size = [], 0
                while len(data) >= block:  # one decoding step may give many blocks' worth
                    cut = data.rfind(b"\n", 0, block)
                    if cut < 0:
                        cut = data.find(b"\n", block)
                    if cut < 0:
                        break
                    whole, data = data[: cut + 1], data[cut + 1 :]
                    yield line, whole
                    line += whole.count(b"\n")
                rest = data
            data = rest + b"".join(pieces)
            pieces, size = [], 0
            cut = data.rfind(b"\n")
            if cut >= 0:
                whole, rest = data[: cut + 1], data[cut + 1 :]
                yield line, whole
                line += whole.count(b"\n")
            else:
                rest = data
    except (zstandard.ZstdError, Truncated) as exc:
        tail = rest + b"".join(pieces)
        if tail.strip():  # what decoded before the break; its cut last line will be quarantined
            yield line, tail if tail.endswith(b"\n") else tail + b"\n"
            line += tail.count(b"\n") + (0 if tail.endswith(b"\n") else 1)
        raise InputError(
            f"{path.name}: zstd stream broken after line {line - 1} ({exc}); "
            "check it with `zstd -t --long=31` and download it again"
        ) from None
    if rest.strip():
        yield line, rest + b"\n"
