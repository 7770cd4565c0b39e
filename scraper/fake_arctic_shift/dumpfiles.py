"""Generated dump files: NDJSON lines in zstd frames with the 2 GiB window of the Pushshift-era months.

Written with ``window_log=31`` and no content size in the frame header, as the
redistributed months are, so a decoder without ``max_window_size=2**31`` refuses
them ("Frame requires too much memory for decoding") exactly as it refuses the
real files.  For tests, benchmarks and the demo; no real Reddit data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import zstandard

LONG_WINDOW = 31


def write_zst(
    path: Path, lines: Iterable[dict[str, Any] | bytes], *, window_log: int = LONG_WINDOW, level: int = 3
) -> Path:
    """Write NDJSON lines (objects, or raw bytes for broken lines) to a long-window ``.zst`` file."""
    params = zstandard.ZstdCompressionParameters.from_level(level, window_log=window_log)
    compressor = zstandard.ZstdCompressor(compression_params=params)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle, compressor.stream_writer(handle) as writer:
        for line in lines:
            raw = line if isinstance(line, bytes) else json.dumps(line, separators=(",", ":")).encode()
            writer.write(raw.rstrip(b"\n") + b"\n")
    return path


def write_ndjson(path: Path, lines: Iterable[dict[str, Any] | bytes]) -> Path:
    """The same lines as plain NDJSON (what DuckDB's ``read_json`` reads in the benchmark)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        for line in lines:
            raw = line if isinstance(line, bytes) else json.dumps(line, separators=(",", ":")).encode()
            handle.write(raw.rstrip(b"\n") + b"\n")
    return path
