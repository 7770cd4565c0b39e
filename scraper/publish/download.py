"""Download one version of a published tree and prove it intact before installing it.

``download(source, target)`` reads ``index.json`` at ``source`` (an http(s)
base URL, through httpx, or a local folder), checks the version's manifest
against the sha256 the index gives, streams every file into a staging folder
while hashing it, checks bytes and sha256, and renames the folder into
``target/versions/`` only when all are right.  A rerun skips the staged files
that already verify, so a cut connection costs only the file it cut.  Names
that would land outside ``target`` are refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import httpx

from scraper.errors import InputError, IntegrityError, SnapshotError, TransientError
from scraper.store.snapshot import Dataset, sha256_file

_VERSION = re.compile(r"^v\d{4,}$")
_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
CHUNK = 1 << 20


class Fetcher(Protocol):
    """Reads files of a published tree by their path relative to its root."""

    def read(self, rel: str) -> bytes: ...

    @contextmanager
    def stream(self, rel: str) -> Iterator[tuple[int | None, Iterator[bytes]]]: ...


class LocalFetcher:
    """A published tree in a local folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def read(self, rel: str) -> bytes:
        try:
            return (self.root / rel).read_bytes()
        except FileNotFoundError:
            raise InputError(f"{self.root}: no {rel}") from None

    @contextmanager
    def stream(self, rel: str) -> Iterator[tuple[int | None, Iterator[bytes]]]:
        path = self.root / rel
        if not path.is_file():
            raise InputError(f"{self.root}: no {rel}")
        with path.open("rb") as handle:
            yield path.stat().st_size, iter(lambda: handle.read(CHUNK), b"")


class HttpFetcher:
    """A published tree behind an http(s) base URL."""

    def __init__(self, base: str, client: httpx.Client | None = None) -> None:
        self.base = base.rstrip("/") + "/"
        self.client = client or httpx.Client(timeout=httpx.Timeout(30.0), follow_redirects=True)

    def _url(self, rel: str) -> str:
        return self.base + rel

    def read(self, rel: str) -> bytes:
        try:
            response = self.client.get(self._url(rel))
        except httpx.TransportError as exc:
            raise TransientError(f"cannot fetch {self._url(rel)} ({exc.__class__.__name__}); try again") from None
        if response.status_code == 404:
            raise InputError(f"{self._url(rel)} not found (404)")
        if response.status_code != 200:
            raise TransientError(f"{self._url(rel)}: HTTP {response.status_code}; try again")
        return response.content

    @contextmanager
    def stream(self, rel: str) -> Iterator[tuple[int | None, Iterator[bytes]]]:
        try:
            with self.client.stream("GET", self._url(rel)) as response:
                if response.status_code == 404:
                    raise InputError(f"{self._url(rel)} not found (404)")
                if response.status_code != 200:
                    raise TransientError(f"{self._url(rel)}: HTTP {response.status_code}; try again")
                length = response.headers.get("content-length")
                yield (int(length) if length else None), response.iter_bytes(CHUNK)
        except httpx.TransportError as exc:
            raise TransientError(
                f"download of {self._url(rel)} was cut ({exc.__class__.__name__}); run again to resume"
            ) from None


def fetcher_for(source: str) -> Fetcher:
    """The fetcher for an http(s) URL or a local folder."""
    if source.startswith(("http://", "https://")):
        return HttpFetcher(source)
    path = Path(source)
    if not path.is_dir():
        raise InputError(f"{source}: neither an http(s) URL nor a folder")
    return LocalFetcher(path)


def _safe_name(name: str, where: str) -> str:
    if not _FILE.match(name) or name in (".", ".."):
        raise IntegrityError(f"{where} names {name!r}, which would land outside the target; refusing it")
    return name


def download(
    source: str,
    target: Path,
    *,
    version: str | None = None,
    fetcher: Fetcher | None = None,
    on_progress: Callable[[str, int, int | None], None] | None = None,
) -> dict[str, Any]:
    """Download, verify and install one version; return what was installed."""
    if fetcher is None:
        own = fetcher_for(source)
        try:
            return download(source, target, version=version, fetcher=own, on_progress=on_progress)
        finally:
            if isinstance(own, HttpFetcher):
                own.client.close()
    try:
        index = json.loads(fetcher.read("index.json"))
        entries = {e["version"]: e for e in index["versions"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(f"{source}/index.json is not a dataset index ({exc})") from None
    vid = version or index.get("latest")
    if not isinstance(vid, str) or vid not in entries:
        known = ", ".join(entries) or "none"
        raise InputError(f"{source} has no version {vid!r} (versions: {known})")
    if not _VERSION.match(vid):
        raise IntegrityError(f"index.json names version {vid!r}, which is not a version id; refusing it")
    rel = f"versions/{vid}"
    manifest_bytes = fetcher.read(f"{rel}/manifest.json")
    if hashlib.sha256(manifest_bytes).hexdigest() != entries[vid].get("manifest_sha256"):
        raise IntegrityError(f"{rel}/manifest.json does not match the sha256 in index.json: tampered or broken")
    manifest = json.loads(manifest_bytes)
    listed = dict(manifest["files"])
    if isinstance(manifest.get("card"), dict):  # the version's card, checksummed like the data
        listed[manifest["card"]["name"]] = manifest["card"]
    files = {_safe_name(name, f"{rel}/manifest.json"): info for name, info in listed.items()}

    final = target / "versions" / vid
    if final.is_dir():
        if sha256_file(final / "manifest.json") == entries[vid]["manifest_sha256"]:
            return {
                "version": vid,
                "path": str(final),
                "downloaded": [],
                "skipped": sorted(files),
                "already_installed": True,
            }
        raise SnapshotError(f"{final} holds a different {vid}; remove it or download elsewhere")
    staging = target / ".download" / vid
    staging.mkdir(parents=True, exist_ok=True)
    downloaded, skipped = [], []
    for name, info in files.items():
        path = staging / name
        if path.is_file() and path.stat().st_size == info["bytes"] and sha256_file(path) == info["sha256"]:
            skipped.append(name)
            continue
        _fetch_verified(fetcher, f"{rel}/{name}", path, info, on_progress)
        downloaded.append(name)
    (staging / "manifest.json").write_bytes(manifest_bytes)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.rename(staging, final)
    shutil.rmtree(target / ".download", ignore_errors=True)
    Dataset(target).write_index()
    return {
        "version": vid,
        "path": str(final),
        "downloaded": downloaded,
        "skipped": skipped,
        "already_installed": False,
    }


def _fetch_verified(
    fetcher: Fetcher,
    rel: str,
    path: Path,
    info: dict[str, Any],
    on_progress: Callable[[str, int, int | None], None] | None,
) -> None:
    part = path.with_name(path.name + ".part")
    digest = hashlib.sha256()
    size = 0
    with fetcher.stream(rel) as (length, chunks), part.open("wb") as handle:
        for chunk in chunks:
            handle.write(chunk)
            digest.update(chunk)
            size += len(chunk)
            if on_progress is not None:
                on_progress(rel, size, length or info.get("bytes"))
    if size != info["bytes"] or digest.hexdigest() != info["sha256"]:
        part.unlink(missing_ok=True)
        raise IntegrityError(
            f"{rel}: got {size} bytes with another sha256 than manifest.json says; "
            "tampered or broken copy, nothing installed"
        )
    part.rename(path)
