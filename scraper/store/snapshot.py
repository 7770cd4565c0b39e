"""Write-once versions of a dataset: Parquet files, a checksummed manifest, a root index.

Layout of a dataset folder::

    dataset.toml                  the spec
    index.json                    every version and the latest
    versions/v0001/               one version, never rewritten
        submissions.parquet       zstd Parquet, schema from schemas/
        comments.parquet
        manifest.json             version, parent, times, schema and tool versions, spec hash,
                                  and for each file its rows, bytes and sha256
    raw/<run>.jsonl.gz            the raw archive (not published)
    quarantine/<version>.jsonl    things that did not fit the schema (not published)
    .staging/                     versions being written

A version is written in ``.staging/`` and renamed into ``versions/`` only when
complete, so a crash never leaves a half-written version; ``index.json`` is
replaced atomically afterwards and rebuilt from ``versions/`` whenever read,
so a crash between the two steps loses nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from schemas import ARROW_SCHEMAS, SCHEMA_VERSION
from scraper import __version__
from scraper.errors import SnapshotError
from scraper.store.killpoints import killpoint

MANIFEST_FORMAT = "reddit-research-dataset/manifest/1"
INDEX_FORMAT = "reddit-research-dataset/index/1"
VERSIONS_DIR = "versions"
STAGING_DIR = ".staging"
_VERSION = re.compile(r"^v(\d{4,})$")


def sha256_file(path: Path) -> str:
    """The sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, payload: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True, ensure_ascii=False)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_json_lines_atomic(path: Path, entries: Sequence[Any]) -> None:
    """Replace ``path`` with one JSON document a line, atomically and durably."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for entry in entries:
            handle.write(json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def rows_to_table(stem: str, rows: Sequence[BaseModel]) -> pa.Table:
    """An Arrow table of one file's rows, in the schema derived from the models."""
    schema = ARROW_SCHEMAS[stem]
    return pa.Table.from_pylist([r.model_dump(mode="python") for r in rows], schema=schema)


@dataclass(frozen=True)
class Dataset:
    """A dataset folder."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.resolve().name

    @property
    def versions_dir(self) -> Path:
        return self.path / VERSIONS_DIR

    def version_dir(self, version: str) -> Path:
        """The folder of one version."""
        if not _VERSION.match(version):
            raise SnapshotError(f"{version!r} is not a version id (v0001, v0002, …)")
        return self.versions_dir / version

    def versions(self) -> list[str]:
        """Every complete version, oldest first (a folder counts once its manifest is in place)."""
        if not self.versions_dir.is_dir():
            return []
        found = [
            p.name for p in self.versions_dir.iterdir() if _VERSION.match(p.name) and (p / "manifest.json").is_file()
        ]
        return sorted(found, key=lambda v: int(v[1:]))

    def latest(self) -> str | None:
        """The newest version, or None."""
        versions = self.versions()
        return versions[-1] if versions else None

    def resolve(self, version: str | None) -> str:
        """A version id from ``None``/``"latest"`` or an explicit id that exists."""
        if version in (None, "latest"):
            latest = self.latest()
            if latest is None:
                raise SnapshotError(f"{self.path} has no versions yet; run collect or ingest first.")
            return latest
        assert version is not None
        if version not in self.versions():
            known = ", ".join(self.versions()) or "none"
            raise SnapshotError(f"{self.path} has no version {version!r} (versions: {known}).")
        return version

    def manifest(self, version: str | None = None) -> dict[str, Any]:
        """The manifest of one version (default: latest)."""
        vid = self.resolve(version)
        path = self.version_dir(vid) / "manifest.json"
        try:
            result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SnapshotError(f"cannot read {path}: {exc}") from None
        return result

    def next_version(self) -> str:
        """The id the next version will take."""
        existing = self.versions()
        return f"v{(int(existing[-1][1:]) + 1) if existing else 1:04d}"

    def version_of_run(self, run_id: str) -> str | None:
        """The version a run already became, if any (``source.runs`` of its manifest names the run).

        Turning a run into a version is idempotent: a run killed after its version was
        placed but before its run state was cleared finds its version here on rerun.
        """
        for vid in reversed(self.versions()):
            try:
                manifest = json.loads((self.version_dir(vid) / "manifest.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if run_id in ((manifest.get("source") or {}).get("runs") or []):
                return vid
        return None

    def write_index(self) -> dict[str, Any]:
        """Rebuild ``index.json`` from the versions present, atomically."""
        entries = []
        name = self.name  # a downloaded copy keeps the dataset's name, from its manifests
        for vid in self.versions():
            raw = (self.version_dir(vid) / "manifest.json").read_bytes()
            manifest = json.loads(raw)
            name = manifest.get("dataset", name)
            entries.append(
                {
                    "version": vid,
                    "parent": manifest.get("parent"),
                    "created_at": manifest.get("created_at"),
                    "schema_version": manifest.get("schema_version"),
                    "manifest": f"{VERSIONS_DIR}/{vid}/manifest.json",
                    "manifest_sha256": hashlib.sha256(raw).hexdigest(),
                    "rows": {stem: f["rows"] for stem, f in _files_by_stem(manifest).items()},
                }
            )
        index = {
            "format": INDEX_FORMAT,
            "dataset": name,
            "latest": entries[-1]["version"] if entries else None,
            "versions": entries,
        }
        self.path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path / "index.json", index)
        return index

    def write_version(
        self,
        tables: dict[str, pa.Table],
        *,
        spec_sha256: str | None,
        source: dict[str, Any],
        stats: dict[str, Any],
        version: str | None = None,
        extra: dict[str, Any] | None = None,
        card: Callable[[dict[str, Any]], str] | None = None,
    ) -> dict[str, Any]:
        """Write a new version (staging, then rename) and return its manifest."""
        existing = self.versions()
        if version is None:
            version = self.next_version()
        target = self.version_dir(version)
        if target.exists():
            raise SnapshotError(f"version {version} of {self.path} exists; versions are never rewritten.")
        self.clean_staging()
        staging = self.path / STAGING_DIR / f"{version}.{os.getpid()}"
        staging.mkdir(parents=True)
        files: dict[str, Any] = {}
        for stem, table in tables.items():
            expected = ARROW_SCHEMAS[stem]
            if not table.schema.equals(expected):
                raise SnapshotError(f"{stem}: table schema differs from the models' schema")
            path = staging / f"{stem}.parquet"
            pq.write_table(table, path, compression="zstd", write_statistics=True)
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
            killpoint("staged-file")
            files[path.name] = {
                "table": stem,
                "rows": table.num_rows,
                "bytes": path.stat().st_size,
                "sha256": sha256_file(path),
            }
        manifest: dict[str, Any] = {
            "format": MANIFEST_FORMAT,
            "dataset": self.name,
            "version": version,
            "parent": existing[-1] if existing else None,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "scraper", "version": __version__},
            "spec_sha256": spec_sha256,
            "source": source,
            "files": files,
            "stats": stats,
        }
        manifest.update(extra or {})
        if card is not None:
            card_path = staging / "README.md"
            card_path.write_text(card(manifest), encoding="utf-8")
            manifest["card"] = {
                "name": card_path.name,
                "bytes": card_path.stat().st_size,
                "sha256": sha256_file(card_path),
            }
        write_json_atomic(staging / "manifest.json", manifest)
        _fsync_dir(staging)
        killpoint("staged-manifest")
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(staging, target)  # atomic; fails if another run took the id meanwhile
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise SnapshotError(f"cannot place version {version} in {self.versions_dir}: {exc}") from None
        _fsync_dir(self.versions_dir)
        killpoint("placed")
        self.write_index()
        killpoint("indexed")
        return manifest

    def clean_staging(self) -> list[Path]:
        """Remove staging folders left by runs that died; return what was removed."""
        root = self.path / STAGING_DIR
        removed = []
        if root.is_dir():
            for leftover in root.iterdir():
                pid = leftover.name.rpartition(".")[2]
                if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
                    continue  # another run is writing it
                shutil.rmtree(leftover, ignore_errors=True)
                removed.append(leftover)
        return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _files_by_stem(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["table"]: f for f in manifest.get("files", {}).values()}
