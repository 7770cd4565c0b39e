"""One large raw archive read by several workers, each taking a byte range of its gzip members.

A range that does not begin at byte 0 finds its first member by searching for the gzip magic and
decoding; the ranges of a file must meet (where one stopped, the next began), or the file is read
whole.  Checked: any cut of any archive gives every record once, in order, with its offset; an
ingest of one archive writes the same version with one worker or several; damage at a cut and a
torn tail end as they do when the file is read whole.
"""

from __future__ import annotations

import gzip
import itertools
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scraper.ingest as ingest_module
from scraper.errors import InputError, RawArchiveDamaged
from scraper.ingest import ingest
from scraper.store.raw import ArchiveRange, RawArchive, read_records_at
from tests.conftest import examples
from tests.test_snapshot import tree_file


def _ranges(path: Path, cuts: list[int]) -> list[ArchiveRange]:
    size = path.stat().st_size
    edges = sorted({0, size, *(c for c in cuts if 0 < c < size)})
    return [ArchiveRange(path, low, high) for low, high in itertools.pairwise(edges)]


def _read(spans: list[ArchiveRange]) -> list[tuple[int, dict[str, Any]]]:
    return [item for span in spans for item in span]


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    bodies=st.lists(st.text(max_size=400), min_size=0, max_size=10),
    cuts=st.lists(st.integers(0, 5000), max_size=6),
)
def test_any_cut_gives_every_record_once_in_order(
    tmp_path_factory: pytest.TempPathFactory, bodies: list[str], cuts: list[int]
) -> None:
    path = tmp_path_factory.mktemp("cut") / "run.jsonl.gz"
    with RawArchive(path) as archive:
        for i, body in enumerate(bodies):
            archive.append({"n": i, "body": body})
    spans = _ranges(path, cuts)
    assert _read(spans) == list(read_records_at(path))
    assert all(a.meets(b) for a, b in itertools.pairwise(spans))


def _archive(folder: Path, threads: int, *, received: bool = True) -> Path:
    path = folder / "run.jsonl.gz"
    with RawArchive(path) as archive:
        for i in range(threads):
            link = f"l{i:03d}"
            body = tree_file(folder, link, 12, seed=i).read_text(encoding="utf-8")
            record = {"method": "GET", "url": f"https://oauth.reddit.com/comments/{link}", "params": {}, "status": 200}
            if received:
                record["received_at"] = f"2026-12-0{1 + i % 2}T12:00:00+00:00"
            archive.append({**record, "body": body})
            if i % 5 == 4:  # an error answer now and then: counted and noted, by its offset
                archive.append({"method": "GET", "url": "https://oauth.reddit.com/comments/zz", "status": 500})
    return path


def _split_small(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest_module, "SPLIT_MIN_BYTES", 1)
    monkeypatch.setattr(ingest_module, "PARALLEL_MIN_BYTES", 1)


def test_one_archive_read_by_several_workers_writes_the_same_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _archive(tmp_path, 24)
    _split_small(monkeypatch)
    units = ingest_module._units([path], 3)
    assert len(units) > 3 and all(isinstance(u, ingest_module._Range) for u in units)
    found = []
    for workers in (1, 3):
        out = tmp_path / f"ds{workers}"
        manifest = ingest(out, [path], replace=True, workers=workers)
        sums = {name: info["sha256"] for name, info in manifest["files"].items()}
        found.append((sums, manifest["stats"]))
    assert found[0] == found[1]
    stats = found[0][1]
    assert stats["comments"] == 24 * 12 and stats["skipped_responses"][0].startswith("run.jsonl.gz@")


def test_damage_at_a_cut_is_named_as_when_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _archive(tmp_path, 12)
    offsets = [offset for offset, _ in read_records_at(path)]
    _split_small(monkeypatch)
    edges = [u.start for u in ingest_module._units([path], 2) if isinstance(u, ingest_module._Range)]
    # the first member that starts in the second range, damaged: its range's search steps over it
    victim = min(o for o in offsets if o >= edges[1])
    data = bytearray(path.read_bytes())
    data[victim + 40] ^= 0x55
    path.write_bytes(bytes(data))
    with pytest.raises(RawArchiveDamaged) as whole:
        ingest(tmp_path / "one", [path], replace=True, workers=1)
    with pytest.raises(RawArchiveDamaged) as split:
        ingest(tmp_path / "two", [path], replace=True, workers=2)
    assert whole.value.offset == split.value.offset == victim
    assert not (tmp_path / "two" / "versions").exists()


def test_a_torn_tail_is_skipped_by_the_last_range_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "run.jsonl.gz"
    with RawArchive(path) as archive:
        for i in range(6):
            archive.append({"n": i, "body": "x" * 200})
    whole = path.read_bytes()
    path.write_bytes(whole + gzip.compress(json.dumps({"n": 6}).encode(), mtime=0)[:-5])
    caplog.set_level(logging.WARNING)
    spans = _ranges(path, [len(whole) // 2, len(whole) - 3])
    assert [record["n"] for _, record in _read(spans)] == list(range(6))
    assert all(a.meets(b) for a, b in itertools.pairwise(spans))
    assert "torn last record" in caplog.text


@pytest.fixture(scope="module")
def small_archive(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A raw archive of 8 comment trees and two error answers, as bytes (each test writes its own copy)."""
    return _archive(tmp_path_factory.mktemp("small"), 8).read_bytes()


@settings(max_examples=examples(6), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_a_flipped_byte_anywhere_ends_the_same_with_one_worker_or_three(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    small_archive: bytes,
    where: float,
    bit: int,
) -> None:
    folder = tmp_path_factory.mktemp("flip")
    data = bytearray(small_archive)
    data[int(where * len(data))] ^= 1 << bit
    path = folder / "run.jsonl.gz"
    path.write_bytes(bytes(data))
    _split_small(monkeypatch)
    outcomes = []
    for workers in (1, 3):
        try:
            manifest = ingest(folder / f"ds{workers}", [path], replace=True, workers=workers)
        except RawArchiveDamaged as exc:
            outcomes.append(("damaged", exc.offset))
            continue
        except InputError as exc:  # no longer gzip at all (its first bytes)
            outcomes.append(("input", str(exc)))
            continue
        outcomes.append(("version", {n: f["sha256"] for n, f in manifest["files"].items()}, manifest["stats"]))
    assert outcomes[0] == outcomes[1]
