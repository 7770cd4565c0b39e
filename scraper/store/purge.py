"""Purge: remove given items' text from every stored version and from the raw archive.

For removal requests.  It is the one operation that rewrites stored files:
each version's Parquet files get the items as ``purged`` rows (ids, links,
timestamps and score kept, text, URL and author emptied, as tombstones), the
manifests, cards and ``index.json`` get the new checksums and a ``purges``
entry, the raw archive's responses and the quarantine files lose the items'
text and author, and ``purges.jsonl`` records when and which fullnames were
purged.  Every file is rewritten beside itself and renamed over it.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from schemas import Comment, Status, Submission
from scraper.errors import InputError
from scraper.normalize.policy import tombstone
from scraper.store.lock import dataset_lock
from scraper.store.raw import archive_files, read_records
from scraper.store.snapshot import Dataset, rows_to_table, sha256_file, write_json_atomic

_FULLNAME = re.compile(r"^t[13]_[0-9a-z]{1,13}$")
TEXT_FIELDS = (
    "body",
    "body_html",
    "selftext",
    "selftext_html",
    "title",
    "author",
    "author_fullname",
    "author_flair_text",
    "url",
    "url_overridden_by_dest",
    "link_title",
    "permalink",
)


def _replace_file(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.purge")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _purge_rows(path: Path, stem: str, names: set[str]) -> int:
    model: type[Submission] | type[Comment] = Submission if stem == "submissions" else Comment
    rows = pq.read_table(path).to_pylist()
    hits = 0
    out = []
    for row in rows:
        item = model.model_validate(row)
        if item.name in names:
            hits += 1
            item = _purged(item)
        out.append(item)
    if hits:
        tmp = path.with_name(f".{path.name}.purge")
        pq.write_table(rows_to_table(stem, out), tmp, compression="zstd", write_statistics=True)
        os.replace(tmp, path)
    return hits


def _purged(item: Submission | Comment) -> Submission | Comment:
    if isinstance(item, Submission):
        return tombstone(item.model_copy(update={"status": Status.PURGED}))
    return tombstone(item.model_copy(update={"status": Status.PURGED}))


def _purge_version(dataset: Dataset, version: str, names: set[str], when: str) -> int:
    folder = dataset.version_dir(version)
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    hits = 0
    for name, info in manifest["files"].items():
        path = folder / name
        found = _purge_rows(path, info["table"], names)
        if found:
            old_sha = info["sha256"]
            info.update(
                rows=pq.ParquetFile(path).metadata.num_rows, bytes=path.stat().st_size, sha256=sha256_file(path)
            )
            card = manifest.get("card")
            if card:  # the card lists each file's checksum
                card_path = folder / card["name"]
                text = card_path.read_text(encoding="utf-8").replace(old_sha, info["sha256"])
                _replace_file(card_path, text.encode())
                card.update(bytes=card_path.stat().st_size, sha256=sha256_file(card_path))
            hits += found
    if hits:
        manifest.setdefault("purges", []).append({"at": when, "items": hits})
        status = manifest.get("stats", {}).get("status")
        if isinstance(status, dict):
            status["purged"] = status.get("purged", 0) + hits
        write_json_atomic(manifest_path, manifest)
    return hits


def _scrub(value: Any, names: set[str]) -> int:
    """Blank the text fields of every thing in ``value`` whose fullname is in ``names``."""
    hits = 0
    if isinstance(value, dict):
        kind, data = value.get("kind"), value.get("data")
        if (
            kind in ("t1", "t3")
            and isinstance(data, dict)
            and (data.get("name") or f"{kind}_{data.get('id')}") in names
        ):
            for key in TEXT_FIELDS:
                if key in data:
                    data[key] = None if key not in ("body", "selftext", "title") else ""
            hits += 1
        for child in value.values():
            hits += _scrub(child, names)
    elif isinstance(value, list):
        for child in value:
            hits += _scrub(child, names)
    return hits


def _purge_archive(path: Path, names: set[str]) -> int:
    hits = 0
    out = bytearray()
    for record in read_records(path):
        body = record.get("body")
        if isinstance(body, str) and any(n.split("_", 1)[1] in body for n in names):
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            if parsed is not None:
                found = _scrub(parsed, names)
                if found:
                    record["body"] = json.dumps(parsed, ensure_ascii=False)
                    hits += found
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        out += gzip.compress(line, compresslevel=6, mtime=0)
    if hits:
        _replace_file(path, bytes(out))
    return hits


def _purge_quarantine(path: Path, names: set[str]) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if json.loads(line).get("name") not in names]
    if len(kept) != len(lines):
        _replace_file(path, ("\n".join(kept) + ("\n" if kept else "")).encode())
    return len(lines) - len(kept)


def purge(dataset_dir: Path, fullnames: list[str]) -> dict[str, Any]:
    """Remove the items' text from every version and the raw archive; return what was done."""
    bad = [n for n in fullnames if not _FULLNAME.match(n)]
    if bad or not fullnames:
        raise InputError(f"not fullnames: {', '.join(bad) or '(none given)'}; give t1_… or t3_… ids")
    names = set(fullnames)
    dataset = Dataset(dataset_dir)
    when = datetime.now(UTC).isoformat(timespec="seconds")
    with dataset_lock(dataset_dir):
        dataset.clean_staging()
        versions = {v: _purge_version(dataset, v, names, when) for v in dataset.versions()}
        raw = {p.name: _purge_archive(p, names) for p in archive_files(dataset.path / "raw")}
        quarantine_dir = dataset.path / "quarantine"
        quarantined = (
            sum(_purge_quarantine(p, names) for p in sorted(quarantine_dir.glob("*.jsonl")))
            if quarantine_dir.is_dir()
            else 0
        )
        if any(versions.values()):
            dataset.write_index()
        entry = {
            "at": when,
            "fullnames": sorted(names),
            "rows": versions,
            "raw_things": raw,
            "quarantine_lines": quarantined,
        }
        with (dataset.path / "purges.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, sort_keys=True) + "\n")
    return entry
