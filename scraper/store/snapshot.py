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

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import re
import shutil
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from schemas import ARROW_SCHEMAS, SCHEMA_VERSION
from scraper import TOOL_NAME, __version__
from scraper.errors import IntegrityError, SnapshotError, StorageError, storage_error
from scraper.store.encoding import writer_options
from scraper.store.killpoints import killpoint
from scraper.store.outfile import write_output

MANIFEST_FORMAT = "reddit-research-dataset/manifest/1"
INDEX_FORMAT = "reddit-research-dataset/index/1"
VERSIONS_DIR = "versions"
STAGING_DIR = ".staging"
#: A version id in its one canonical form: ``v`` and the number, zero-padded to four digits (v0001, v12345);
#: ASCII digits only, and ``v00001`` is not ``v0001`` written another way but no version id at all.
_VERSION = re.compile(r"v[0-9]{4,}")
#: A plain file name: no folder, no leading dot, nothing after it (``$`` would let a trailing newline through).
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SHA256 = re.compile(r"[0-9a-f]{64}")
CARD_SUFFIX = ".md"
#: fields readers use, and the type each must have when present
_MANIFEST_FIELDS: dict[str, type] = {
    "dataset": str,
    "version": str,
    "tool": dict,
    "source": dict,
    "stats": dict,
    "completeness": list,
    "purges": list,
    "pseudonymization": dict,
}
RESTORE = "run validate; restore the version from a published copy (download) or move it out of versions/"


def sha256_file(path: Path) -> str:
    """The sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_folder(folder: Path) -> None:
    """Flush every regular file of ``folder`` (not below it), then the folder itself, to disk.

    A staged version is made durable this way before it is renamed or swapped into place: the
    rename is journaled on its own, so without it a power cut after the swap can leave the new
    name on files whose bytes never reached the disk (a kill -9 cannot show this: the page cache
    survives it).
    """
    for entry in folder.iterdir():
        if entry.is_file() and not entry.is_symlink():
            with entry.open("rb") as handle:
                os.fsync(handle.fileno())
    fsync_dir(folder)


def write_json_atomic(path: Path, payload: Any) -> None:
    """Replace ``path`` with ``payload`` as JSON, all or nothing; a failed write leaves no temporary behind.

    A path that is not a regular file (a device, a FIFO, a link through /proc) is written to, never
    renamed over; a link to a regular file keeps the link and replaces its target (see
    :mod:`scraper.store.outfile`).
    """
    text = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    write_output(path, text.encode("utf-8"))


def copy_file_atomic(source: Path, destination: Path) -> None:
    """Replace ``destination`` with a copy of ``source``, all or nothing, and durably.

    The copy is written beside it (``.NAME.PID.tmp``), flushed to disk, renamed over it, and
    the folder flushed: a full disk or a kill mid-copy leaves the file as it was (and no
    temporary), a crash after the rename leaves the new one.  The error names the file that
    failed, the destination for a write, the source for a read.
    """
    tmp = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    failed = source
    try:
        with source.open("rb") as reader:
            failed = destination
            with tmp.open("wb") as writer:
                while True:
                    failed = source
                    block = reader.read(1 << 20)
                    if not block:
                        break
                    failed = destination
                    writer.write(block)
                failed = destination
                writer.flush()
                os.fsync(writer.fileno())
        os.replace(tmp, destination)
        fsync_dir(destination.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise storage_error(exc, failed) from None


def is_version_id(value: Any) -> bool:
    """Whether ``value`` is a version id in its canonical form (see :data:`_VERSION`)."""
    return isinstance(value, str) and _VERSION.fullmatch(value) is not None and value == f"v{int(value[1:]):04d}"


def is_file_name(value: Any) -> bool:
    """Whether ``value`` is a plain file name a version may hold (never a path, ``.``/``..`` or a dot file)."""
    return isinstance(value, str) and _FILE_NAME.fullmatch(value) is not None and value not in (".", "..")


def table_files(manifest: dict[str, Any]) -> dict[str, str]:
    """The file of each table, as the manifest maps them (``{"comments": "comments.parquet", ...}``).

    Readers take a table's file from here, never from its name: the manifest is what was checked.
    """
    return {str(info["table"]): name for name, info in manifest["files"].items()}


def table_path(folder: Path, manifest: dict[str, Any], table: str) -> Path:
    """The file of ``table`` in version ``folder``, as its checked manifest maps it."""
    name = table_files(manifest).get(table)
    if name is None:
        raise IntegrityError(f"{folder / 'manifest.json'} lists no file for table {table!r}; {RESTORE}")
    return folder / name


def _file_entry_problem(name: Any, info: Any) -> str | None:
    if not is_file_name(name):
        return f"file name {name!r} is not a plain file name"
    if not isinstance(info, dict):
        return f"entry of {name} is not an object"
    for key, kind in (("rows", int), ("bytes", int)):
        if key in info or key == "bytes" or "table" in info:  # data files list rows; a card only bytes
            value = info.get(key)
            if not isinstance(value, kind) or isinstance(value, bool) or value < 0:
                return f"{name}: {key} is {value!r}, not a count"
    if not isinstance(info.get("sha256"), str) or not _SHA256.fullmatch(info["sha256"]):
        return f"{name}: sha256 is {info.get('sha256')!r}, not a sha256"
    return None


def manifest_problem(manifest: Any, version: str | None = None) -> str | None:
    """What is wrong with the shape of a parsed manifest (None when it is usable)."""
    if not isinstance(manifest, dict):
        return f"it is a JSON {type(manifest).__name__}, not an object"
    if version is not None and manifest.get("version") != version:
        return f"it names version {manifest.get('version')!r}, not {version}"
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return f"'files' is {type(files).__name__}, not an object listing the version's files"
    tables: dict[str, str] = {}
    for name, info in files.items():
        if problem := _file_entry_problem(name, info):
            return problem
        if name == "manifest.json":
            return "it lists manifest.json as a data file"
        if not isinstance(info.get("table"), str):
            return f"{name}: table is {info.get('table')!r}"
        if info["table"] not in ARROW_SCHEMAS:  # a version holds its tables and its card, nothing else
            return f"{name}: table {str(info['table'])[:40]!r} is none of {', '.join(ARROW_SCHEMAS)}"
        if info["table"] in tables:
            return f"two files for table {info['table']!r} ({tables[info['table']]}, {name}); a table has one file"
        tables[info["table"]] = name
    for key, kind in _MANIFEST_FIELDS.items():
        if key in manifest and not isinstance(manifest[key], kind):
            return f"{key!r} is {type(manifest[key]).__name__}, not {kind.__name__}"
    stats = manifest.get("stats") or {}
    for key in ("status", "requests"):
        if key in stats and not isinstance(stats[key], dict):
            return f"stats.{key} is {type(stats[key]).__name__}, not an object"
    for entry in manifest.get("completeness") or []:
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("unresolved", {}), dict)
            and isinstance(entry.get("requests", {}), dict)
        ):
            return "completeness lists an entry that is not a thread's record"
    tool = manifest.get("tool")
    if tool is not None and not all(isinstance(tool.get(k), str) for k in ("name", "version")):
        return "'tool' does not name the tool and its version"
    card = manifest.get("card")
    card_name = card.get("name") if isinstance(card, dict) else None
    if card is not None and (problem := _file_entry_problem(card_name, card)):
        return f"card: {problem}"
    if card is not None and (card_name in files or not str(card_name).endswith(CARD_SUFFIX)):
        # a card named like a data file would stand in for that file's checksum
        return f"card: {card_name!r} is not a card's name (a {CARD_SUFFIX} file the 'files' do not list)"
    return None


def read_manifest(path: Path, version: str | None = None) -> dict[str, Any]:
    """A manifest read and checked for shape (an object whose ``files`` list names, rows, bytes, sha256).

    ``version`` is the folder's name, which the manifest must repeat.  Raises
    :class:`~scraper.errors.IntegrityError` naming the file for any damage.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise IntegrityError(f"{path} is missing: the version folder is damaged; {RESTORE}") from None
    except OSError as exc:
        raise storage_error(exc, path) from None
    return parse_manifest(raw, path, version)


def parse_manifest(raw: bytes, path: Path, version: str | None = None) -> dict[str, Any]:
    """A manifest's bytes parsed and checked for shape, as :func:`read_manifest` does."""
    try:
        manifest = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise IntegrityError(f"{path} is damaged: not JSON ({str(exc)[:120]}); {RESTORE}") from None
    if problem := manifest_problem(manifest, version):
        raise IntegrityError(f"{path} is damaged: {problem}; {RESTORE}")
    result: dict[str, Any] = manifest
    return result


def verify_files(folder: Path, manifest: dict[str, Any]) -> None:
    """Check every file a manifest lists (data and card) for bytes and sha256; raise IntegrityError on the first."""
    for name, info in listed_files(manifest):
        path = folder / name
        try:
            size = path.stat().st_size
            same = size == info["bytes"] and sha256_file(path) == info["sha256"]
        except FileNotFoundError:
            raise IntegrityError(f"{path} is missing; {RESTORE}") from None
        except OSError as exc:
            raise storage_error(exc, path) from None
        if not same:
            raise IntegrityError(
                f"{path} does not match its manifest ({size} bytes, manifest says {info['bytes']}, or another "
                f"sha256): truncated or changed; {RESTORE}"
            )


def listed_files(manifest: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every file a checked manifest lists, data files first, then its card; never one entry over another."""
    listed = list(manifest["files"].items())
    card = manifest.get("card")
    if isinstance(card, dict) and card.get("name") not in manifest["files"]:
        listed.append((str(card["name"]), card))
    return listed


def write_json_lines_atomic(path: Path, entries: Sequence[Any]) -> None:
    """Replace ``path`` with one JSON document a line, atomically and durably."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            for entry in entries:
                handle.write(json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # a full disk: no temporary left behind, one line naming the file
        tmp.unlink(missing_ok=True)
        raise storage_error(exc, path) from None


def replace_dir(new: Path, old: Path) -> None:
    """Put the folder ``new`` where ``old`` is and remove the old one.

    The swap is one atomic step where the kernel offers it (Linux ``renameat2`` with
    ``RENAME_EXCHANGE``): a reader sees the old folder or the new one, never neither.
    Elsewhere it is two renames, and a reader may miss the folder for that instant.
    """
    if not _exchange(new, old):
        aside = old.with_name(f".{old.name}.old.{os.getpid()}")
        os.rename(old, aside)
        os.rename(new, old)
        new = aside
    fsync_dir(old.parent)
    shutil.rmtree(new)  # the old contents, now at the new folder's path


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders atomically with renameat2; False where the system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(a))


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
        """The name its spec gives (``[dataset] name`` in dataset.toml), else the folder's name.

        A version's manifest records it, so a dataset collected into a folder of another name
        (or moved) still calls itself what its spec and its citation say.
        """
        try:
            with (self.path / "dataset.toml").open("rb") as handle:
                named = tomllib.load(handle).get("dataset", {}).get("name")
        except (OSError, tomllib.TOMLDecodeError, AttributeError):
            named = None  # no spec (an ingest target, a downloaded copy), or one its loader will refuse
        return named if isinstance(named, str) and named else self.path.resolve().name

    @property
    def versions_dir(self) -> Path:
        return self.path / VERSIONS_DIR

    def version_dir(self, version: str) -> Path:
        """The folder of one version."""
        if not is_version_id(version):
            raise SnapshotError(f"{version!r} is not a version id (v0001, v0002, …)")
        return self.versions_dir / version

    def versions(self) -> list[str]:
        """Every complete version, oldest first (a folder counts once its manifest is in place)."""
        if not self.versions_dir.is_dir():
            return []
        found = [
            p.name for p in self.versions_dir.iterdir() if is_version_id(p.name) and (p / "manifest.json").is_file()
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
        """The manifest of one version (default: latest), checked for shape."""
        vid = self.resolve(version)
        return read_manifest(self.version_dir(vid) / "manifest.json", vid)

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
                manifest = read_manifest(self.version_dir(vid) / "manifest.json", vid)
            except (SnapshotError, StorageError):
                continue
            source = manifest.get("source")
            runs = source.get("runs") if isinstance(source, dict) else None
            if isinstance(runs, list) and run_id in runs:
                return vid
        return None

    def headless(self) -> list[str]:
        """Version folders without a manifest: damage (writers put a version in place with its manifest)."""
        if not self.versions_dir.is_dir():
            return []
        names = [p.name for p in self.versions_dir.iterdir() if is_version_id(p.name)]
        return sorted(
            (v for v in names if not (self.versions_dir / v / "manifest.json").is_file()), key=lambda v: int(v[1:])
        )

    def check_store(self, *, verify_latest: bool = True) -> None:
        """Refuse to build on a damaged store: every manifest readable, no headless version, latest intact.

        Raises :class:`~scraper.errors.IntegrityError` naming the first damaged file and what to do.
        """
        if headless := self.headless():
            raise IntegrityError(
                f"{self.versions_dir / headless[0]} has no manifest.json: a damaged or half-removed version; {RESTORE}"
            )
        latest = None
        for vid in self.versions():
            latest = self.manifest(vid)
        if verify_latest and latest is not None:
            verify_files(self.version_dir(latest["version"]), latest)

    def index(self) -> dict[str, Any]:
        """The index of the versions present, built from their manifests (nothing is written)."""
        entries = []
        name = self.name  # a downloaded copy keeps the dataset's name, from its manifests
        for vid in self.versions():
            path = self.version_dir(vid) / "manifest.json"
            raw = path.read_bytes()
            manifest = parse_manifest(raw, path, vid)
            name = manifest.get("dataset", name) if isinstance(manifest.get("dataset"), str) else name
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
        return {
            "format": INDEX_FORMAT,
            "dataset": name,
            "latest": entries[-1]["version"] if entries else None,
            "versions": entries,
        }

    def write_index(self) -> dict[str, Any]:
        """Rebuild ``index.json`` from the versions present, atomically."""
        index = self.index()
        self.path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path / "index.json", index)
        return index

    def write_version(
        self,
        tables: Mapping[str, pa.Table | Path],
        *,
        spec_sha256: str | None,
        source: dict[str, Any],
        stats: dict[str, Any],
        version: str | None = None,
        extra: dict[str, Any] | None = None,
        card: Callable[[dict[str, Any]], str] | None = None,
    ) -> dict[str, Any]:
        """Write a new version (staging, then rename) and return its manifest.

        A table is an Arrow table, or the path of a Parquet file already written (by a
        streaming build) on the same filesystem, which is moved into the version.
        Refuses (:class:`~scraper.errors.IntegrityError`) to build on a damaged store; a failed
        write (:class:`~scraper.errors.StorageError`) leaves the earlier versions as they were.
        """
        self.check_store()
        existing = self.versions()
        if version is None:
            version = self.next_version()
        target = self.version_dir(version)
        if target.exists():
            raise SnapshotError(f"version {version} of {self.path} exists; versions are never rewritten.")
        self.clean_staging()
        staging = self.path / STAGING_DIR / f"{version}.{os.getpid()}"
        current = staging
        try:
            make_staging_dir(staging)
            files: dict[str, Any] = {}
            for stem, table in tables.items():
                expected = ARROW_SCHEMAS[stem]
                path = current = staging / f"{stem}.parquet"
                if isinstance(table, Path):  # a Parquet file already written batch by batch (the dump path)
                    if not pq.read_schema(table).equals(expected):
                        raise SnapshotError(f"{stem}: file schema differs from the models' schema")
                    shutil.move(table, path)
                    rows = pq.ParquetFile(path).metadata.num_rows
                else:
                    if not table.schema.equals(expected):
                        raise SnapshotError(f"{stem}: table schema differs from the models' schema")
                    pq.write_table(table, path, **writer_options(stem))
                    rows = table.num_rows
                with path.open("rb") as handle:
                    os.fsync(handle.fileno())
                killpoint("staged-file")
                files[path.name] = {
                    "table": stem,
                    "rows": rows,
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
                "tool": {"name": TOOL_NAME, "version": __version__},
                "spec_sha256": spec_sha256,
                "source": source,
                "files": files,
                "stats": stats,
            }
            manifest.update(extra or {})
            if card is not None:
                card_path = current = staging / "README.md"
                card_path.write_text(card(manifest), encoding="utf-8")
                manifest["card"] = {
                    "name": card_path.name,
                    "bytes": card_path.stat().st_size,
                    "sha256": sha256_file(card_path),
                }
            current = staging / "manifest.json"
            write_json_atomic(current, manifest)
            fsync_folder(staging)  # the card too, and the folder
            killpoint("staged-manifest")
        except BaseException as exc:  # disk full, read-only, a bad table: nothing half-written stays behind
            shutil.rmtree(staging, ignore_errors=True)
            drop_empty_staging(self.path)
            if isinstance(exc, OSError):
                raise storage_error(exc, current) from None
            raise
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(staging, target)  # atomic; fails if another run took the id meanwhile
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            drop_empty_staging(self.path)
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise storage_error(exc, target) from None
            raise SnapshotError(f"cannot place version {version} in {self.versions_dir}: {exc}") from None
        fsync_dir(self.versions_dir)
        drop_empty_staging(self.path)  # the version left it: empty unless another run stages in it
        killpoint("placed")
        try:
            self.write_index()
        except StorageError:  # the disk filled between the two steps: take the version back, the rerun writes it
            staging.parent.mkdir(parents=True, exist_ok=True)  # dropped when the version left it
            shutil.move(target, staging)
            shutil.rmtree(staging, ignore_errors=True)
            drop_empty_staging(self.path)
            raise
        killpoint("indexed")
        return manifest

    def clean_staging(self) -> list[Path]:
        """Remove staging folders left by runs that died; return what was removed."""
        root = self.path / STAGING_DIR
        removed = []
        if root.is_dir():
            for leftover in root.iterdir():
                pid = leftover.name.rpartition(".")[2]
                if pid.isdigit() and int(pid) != os.getpid() and pid_alive(int(pid)):
                    continue  # another run is writing it
                shutil.rmtree(leftover, ignore_errors=True)
                removed.append(leftover)
            drop_empty_staging(self.path)
        return removed


def make_staging_dir(path: Path) -> None:
    """Make the staging folder ``path`` (in ``.staging/``, made too if missing); ``path`` must not exist.

    ``.staging/`` is removed when a run leaves it empty (:func:`drop_empty_staging`), maybe by
    another run between the two ``mkdir`` calls here: the parent is then made again.
    """
    for _ in range(100):
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir()
            return
        except FileNotFoundError:  # .staging/ was removed (empty) in between: make it again
            continue
    path.mkdir()  # the parent keeps vanishing: let the error say so


def drop_empty_staging(dataset_dir: Path) -> None:
    """Remove the dataset's ``.staging/`` if it is empty, so a finished run leaves no empty folder behind.

    ``rmdir`` removes only an empty folder, atomically: a staging folder another run is writing
    keeps ``.staging/`` in place, and a run about to make one makes ``.staging/`` again
    (:func:`make_staging_dir`).
    """
    try:
        (dataset_dir / STAGING_DIR).rmdir()
    except OSError:  # not empty (another run's staging, a leftover of a live run), already gone, or read-only
        return


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (this process included): its leftovers are not to be removed."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _files_by_stem(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["table"]: f for f in manifest.get("files", {}).values()}
