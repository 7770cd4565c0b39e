"""Download one version of a published tree and prove it intact before installing it.

``download(source, target)`` reads ``index.json`` at ``source`` (an http(s)
base URL, through httpx, or a local folder), checks the version's manifest
against the sha256 the index gives, streams every file into a staging folder
while hashing it, checks bytes and sha256, and renames the folder into
``target/versions/`` only when all are right.  A rerun skips the staged files
that already verify, so a cut connection costs only the file it cut.

A source is not trusted: names that would land outside ``target`` are refused;
a body is cut off at the size the manifest gives (index and manifest at
:data:`MAX_META_BYTES`); a server that stalls longer than ``stall`` seconds
or a download that outlasts ``deadline`` stops with exit 75 (run again to
resume); malformed indexes and manifests are refused with exit 1; a local
folder is read without following a symbolic link; and whatever goes wrong,
no version is installed and ``target`` keeps its index.  The target's lock is
held throughout.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import httpx

from scraper import tls
from scraper.errors import InputError, IntegrityError, SnapshotError, TransientError
from scraper.store.lock import dataset_lock
from scraper.store.purge import PURGES_FILE, is_purge_of
from scraper.store.snapshot import Dataset, manifest_problem, replace_dir, sha256_file

_VERSION = re.compile(r"^v\d{4,}$")
_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20
MAX_META_BYTES = 16 << 20  #: index.json and manifest.json are small; a bigger answer is refused
STALL_SECONDS = 30.0  #: no byte for this long: the server is stalled
DEADLINE_SECONDS = 6 * 3600.0  #: the whole download


class Fetcher(Protocol):
    """Reads files of a published tree by their path relative to its root."""

    def read(self, rel: str, limit: int) -> bytes: ...

    @contextmanager
    def stream(self, rel: str) -> Iterator[tuple[int | None, Iterator[bytes]]]: ...


class LocalFetcher:
    """A published tree in a local folder, read without following symbolic links below its root."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, rel: str) -> Path:
        path = self.root
        for part in rel.split("/"):
            path = path / part
            try:
                mode = path.lstat().st_mode
            except FileNotFoundError:
                raise InputError(f"{self.root}: no {rel}") from None
            if stat.S_ISLNK(mode):
                raise IntegrityError(f"{path} is a symbolic link; a published tree holds plain files only")
        if not stat.S_ISREG(mode):
            raise InputError(f"{self.root}: {rel} is not a file")
        return path

    def read(self, rel: str, limit: int) -> bytes:
        with self._path(rel).open("rb") as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise IntegrityError(f"{self.root}/{rel} is over {limit} bytes: not a file download writes")
        return data

    @contextmanager
    def stream(self, rel: str) -> Iterator[tuple[int | None, Iterator[bytes]]]:
        path = self._path(rel)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            yield os.fstat(handle.fileno()).st_size, iter(lambda: handle.read(CHUNK), b"")


class HttpFetcher:
    """A published tree behind an http(s) base URL."""

    def __init__(
        self,
        base: str,
        client: httpx.Client | None = None,
        *,
        stall: float = STALL_SECONDS,
        deadline: float = DEADLINE_SECONDS,
    ) -> None:
        self.base = base.rstrip("/") + "/"
        self.until = time.monotonic() + deadline
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(stall), follow_redirects=True, max_redirects=5, verify=tls.context()
        )

    def _url(self, rel: str) -> str:
        return self.base + rel

    def read(self, rel: str, limit: int) -> bytes:
        with self.stream(rel) as (length, chunks):
            if length is not None and length > limit:
                raise IntegrityError(f"{self._url(rel)} announces {length} bytes: not a file download writes")
            data = bytearray()
            for chunk in chunks:
                data += chunk
                if len(data) > limit:
                    raise IntegrityError(f"{self._url(rel)} is over {limit} bytes: not a file download writes")
                if time.monotonic() > self.until:
                    raise TransientError(f"{self._url(rel)}: the download outlasted its deadline; run again")
        return bytes(data)

    @contextmanager
    def stream(self, rel: str) -> Iterator[tuple[int | None, Iterator[bytes]]]:
        try:
            with self.client.stream("GET", self._url(rel)) as response:
                if response.status_code == 404:
                    raise InputError(f"{self._url(rel)} not found (404)")
                if response.status_code != 200:
                    raise TransientError(f"{self._url(rel)}: HTTP {response.status_code}; try again")
                length = response.headers.get("content-length")
                yield (int(length) if length and length.isdigit() else None), response.iter_bytes()  # as it arrives
        except httpx.TimeoutException as exc:
            raise TransientError(
                f"{self._url(rel)}: the server sent nothing for {self.client.timeout.read} s "
                f"({exc.__class__.__name__}); run again to resume"
            ) from None
        except httpx.HTTPError as exc:
            raise TransientError(
                f"download of {self._url(rel)} was cut ({exc.__class__.__name__}); run again to resume"
            ) from None


def fetcher_for(source: str, *, stall: float = STALL_SECONDS, deadline: float = DEADLINE_SECONDS) -> Fetcher:
    """The fetcher for an http(s) URL or a local folder."""
    if source.startswith(("http://", "https://")):
        try:
            httpx.URL(source)
        except httpx.InvalidURL as exc:
            raise InputError(f"{source}: not a usable URL ({exc})") from None
        return HttpFetcher(source, stall=stall, deadline=deadline)
    path = Path(source)
    if not path.is_dir():
        raise InputError(f"{source}: neither an http(s) URL nor a folder")
    return LocalFetcher(path)


def _safe_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not _FILE.match(name) or name in (".", ".."):
        raise IntegrityError(f"{where} names {name!r}, which would land outside the target; refusing it")
    return name


def _index_entries(raw: bytes, source: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The index and its entries by version, or IntegrityError for anything malformed."""
    try:
        index = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise IntegrityError(f"{source}/index.json is not JSON ({str(exc)[:120]}): not a dataset index") from None
    versions = index.get("versions") if isinstance(index, dict) else None
    if not isinstance(versions, list):
        raise IntegrityError(f"{source}/index.json is not a dataset index (no list of versions)")
    entries: dict[str, dict[str, Any]] = {}
    for entry in versions:
        if not isinstance(entry, dict) or not isinstance(entry.get("version"), str):
            raise IntegrityError(f"{source}/index.json lists a version that is not an object with a version id")
        sha = entry.get("manifest_sha256")
        if not isinstance(sha, str) or not _SHA256.match(sha):
            raise IntegrityError(f"{source}/index.json gives {entry['version']} no manifest sha256")
        entries[entry["version"]] = entry
    return index, entries


def download(
    source: str,
    target: Path,
    *,
    version: str | None = None,
    fetcher: Fetcher | None = None,
    on_progress: Callable[[str, int, int | None], None] | None = None,
    stall: float = STALL_SECONDS,
    deadline: float = DEADLINE_SECONDS,
    wait_for_lock: bool = False,
) -> dict[str, Any]:
    """Download, verify and install one version; return what was installed.

    ``stall`` bounds the wait for the next byte, ``deadline`` the whole download (seconds).
    """
    if fetcher is None:
        own = fetcher_for(source, stall=stall, deadline=deadline)
        try:
            return download(
                source,
                target,
                version=version,
                fetcher=own,
                on_progress=on_progress,
                deadline=deadline,
                wait_for_lock=wait_for_lock,
            )
        finally:
            if isinstance(own, HttpFetcher):
                own.client.close()
    with dataset_lock(target, wait=wait_for_lock):
        return _download_locked(source, target, version, fetcher, on_progress, time.monotonic() + deadline)


def _download_locked(
    source: str,
    target: Path,
    version: str | None,
    fetcher: Fetcher,
    on_progress: Callable[[str, int, int | None], None] | None,
    until: float,
) -> dict[str, Any]:
    index, entries = _index_entries(fetcher.read("index.json", MAX_META_BYTES), source)
    vid = version or index.get("latest")
    if not isinstance(vid, str) or vid not in entries:
        known = ", ".join(entries) or "none"
        raise InputError(f"{source} has no version {vid!r} (versions: {known})")
    result = _install(source, target, vid, entries[vid], fetcher, on_progress, until)
    # A purge at the source reaches this copy: every installed version the source rewrote by a
    # purge (and only by one) is fetched again and swapped in.
    result["purged"] = [vid] if result["replaced"] else []
    result["purged"] += [
        other
        for other in Dataset(target).versions()
        if other != vid
        and other in entries
        and _install(source, target, other, entries[other], fetcher, on_progress, until, only_purge=True)["replaced"]
    ]
    _fetch_purge_log(fetcher, target)
    return result


def _fetch_purge_log(fetcher: Fetcher, target: Path) -> None:
    """The source's purge record, kept beside the copy (absent at the source: nothing to keep)."""
    try:
        data = fetcher.read(PURGES_FILE, MAX_META_BYTES)
    except InputError:
        return
    tmp = target / f".{PURGES_FILE}.{os.getpid()}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, target / PURGES_FILE)


def _install(
    source: str,
    target: Path,
    vid: str,
    entry: dict[str, Any],
    fetcher: Fetcher,
    on_progress: Callable[[str, int, int | None], None] | None,
    until: float,
    *,
    only_purge: bool = False,
) -> dict[str, Any]:
    """Install version ``vid`` from the source, or replace an installed one the source purged since.

    With ``only_purge``, an installed version is replaced only when the source's manifest
    is the installed one rewritten by purges; otherwise it is left as it is.
    """
    if not _VERSION.match(vid):
        raise IntegrityError(f"index.json names version {vid!r}, which is not a version id; refusing it")
    rel = f"versions/{vid}"
    final = target / "versions" / vid
    installed = final / "manifest.json"
    unchanged = {"version": vid, "path": str(final), "downloaded": [], "already_installed": True, "replaced": False}
    if only_purge and installed.is_file() and sha256_file(installed) == entry["manifest_sha256"]:
        return unchanged
    manifest_bytes = fetcher.read(f"{rel}/manifest.json", MAX_META_BYTES)
    if hashlib.sha256(manifest_bytes).hexdigest() != entry["manifest_sha256"]:
        raise IntegrityError(f"{rel}/manifest.json does not match the sha256 in index.json: tampered or broken")
    try:
        manifest = json.loads(manifest_bytes)
    except (ValueError, RecursionError) as exc:  # too deep, or not JSON: say which, not "a JSON NoneType"
        why = (
            "nested too deeply to be a manifest" if isinstance(exc, RecursionError) else f"not JSON ({str(exc)[:120]})"
        )
        raise IntegrityError(f"{source}/{rel}/manifest.json is {why}; nothing installed") from None
    if isinstance(manifest, dict) and isinstance(manifest.get("files"), dict):
        for name in manifest["files"]:
            _safe_name(name, f"{rel}/manifest.json")
    if problem := manifest_problem(manifest, vid):
        raise IntegrityError(f"{source}/{rel}/manifest.json is malformed ({problem}); nothing installed")
    listed = dict(manifest["files"])
    if isinstance(manifest.get("card"), dict):  # the version's card, checksummed like the data
        listed[manifest["card"]["name"]] = manifest["card"]
    files = {_safe_name(name, f"{rel}/manifest.json"): info for name, info in listed.items()}

    dataset = Dataset(target)
    replace = False
    if final.is_dir():
        if installed.is_file() and sha256_file(installed) == entry["manifest_sha256"]:
            return {**unchanged, "skipped": sorted(files)}
        if installed.is_file() and is_purge_of(manifest, _installed_manifest(installed)):
            replace = True
        elif only_purge:
            return unchanged
        else:
            raise SnapshotError(f"{final} holds a different {vid}; remove it or download elsewhere")
    dataset.check_store(verify_latest=False)  # the index rebuilt below must not trip over old damage
    staging = target / ".download" / vid
    staging.mkdir(parents=True, exist_ok=True)
    downloaded, skipped = [], []
    for name, info in files.items():
        path = staging / name
        if path.is_file() and path.stat().st_size == info["bytes"] and sha256_file(path) == info["sha256"]:
            skipped.append(name)
            continue
        _fetch_verified(fetcher, f"{rel}/{name}", path, info, on_progress, until)
        downloaded.append(name)
    (staging / "manifest.json").write_bytes(manifest_bytes)
    final.parent.mkdir(parents=True, exist_ok=True)
    if replace:
        replace_dir(staging, final)  # one atomic swap; the old, unpurged files are removed
        dataset.write_index()
    else:
        os.rename(staging, final)
        try:
            dataset.write_index()
        except BaseException:
            os.rename(final, staging)  # no version without its index: put it back to staging for the rerun
            raise
    shutil.rmtree(target / ".download", ignore_errors=True)
    return {
        "version": vid,
        "path": str(final),
        "downloaded": downloaded,
        "skipped": skipped,
        "already_installed": False,
        "replaced": replace,
    }


def _installed_manifest(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _fetch_verified(
    fetcher: Fetcher,
    rel: str,
    path: Path,
    info: dict[str, Any],
    on_progress: Callable[[str, int, int | None], None] | None,
    until: float,
) -> None:
    part = path.with_name(path.name + ".part")
    digest = hashlib.sha256()
    size = 0
    expected = info["bytes"]
    try:
        with fetcher.stream(rel) as (length, chunks), part.open("wb") as handle:
            if length is not None and length > expected:
                raise IntegrityError(
                    f"{rel}: the source announces {length} bytes, manifest.json says {expected}; nothing installed"
                )
            for chunk in chunks:
                size += len(chunk)
                if size > expected:
                    raise IntegrityError(
                        f"{rel}: more than the {expected} bytes manifest.json gives; tampered or broken copy, "
                        "nothing installed"
                    )
                handle.write(chunk)
                digest.update(chunk)
                if on_progress is not None:
                    on_progress(rel, size, length or expected)
                if time.monotonic() > until:
                    raise TransientError(
                        f"{rel}: the download outlasted its deadline ({size} of {expected} bytes); run again to resume"
                    )
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    if size != expected or digest.hexdigest() != info["sha256"]:
        part.unlink(missing_ok=True)
        raise IntegrityError(
            f"{rel}: got {size} bytes with another sha256 than manifest.json says; "
            "tampered or broken copy, nothing installed"
        )
    part.rename(path)
