"""Download one version of a published tree and prove it intact before installing it.

``download(source, target)`` reads ``index.json`` at ``source`` (an http(s)
base URL, through httpx, or a local folder), checks the version's manifest
against the sha256 the index gives, streams every file into a staging folder
while hashing it, checks bytes and sha256, and renames the folder into
``target/versions/`` only when all are right.  A rerun skips the staged files
that already verify, so a cut connection costs only the file it cut.  Over an
installed version, a rerun hashes its files against its manifest and repairs a
damaged or missing one (fetched again, the version swapped in at once); a damaged
manifest, or a damaged file of a version the source purged since, is repaired too, the
copy's own purges applied again.  A symbolic link for ``versions/`` or a version folder
is refused before anything changes.

A source is not trusted: names that would land outside ``target`` are refused;
a body is cut off at the size the manifest gives (index and manifest at
:data:`MAX_META_BYTES`); a server that stalls longer than ``stall`` seconds
or a download that outlasts ``deadline`` stops with exit 75 (run again to
resume), as does a 408, 429 or 5xx answer; 401/403 exit 2 (fix the URL's
credentials) and other 4xx exit 1; malformed indexes and manifests are refused with exit 1; a local
folder is read without following a symbolic link; and whatever goes wrong,
no version is installed and ``target`` keeps its index.  The target's lock is
held throughout.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
import stat
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx

from scraper import httpstop, tls
from scraper.cutoff import Cutoff
from scraper.errors import (
    ConfigError,
    InputError,
    IntegrityError,
    ScraperError,
    SnapshotError,
    TransientError,
    storage_error,
)
from scraper.sources.pacing import retry_after_seconds
from scraper.store.links import symlinks
from scraper.store.lock import dataset_lock
from scraper.store.purge import (
    PURGES_FILE,
    merge_purge_logs,
    new_purge_names,
    parse_purge_log,
    purge_folder,
    purge_relation,
    purge_rewrite_problem,
    read_purge_log,
)
from scraper.store.snapshot import (
    Dataset,
    fsync_dir,
    fsync_folder,
    is_file_name,
    is_version_id,
    listed_files,
    manifest_problem,
    replace_dir,
    sha256_file,
    write_json_lines_atomic,
)

_SHA256 = re.compile(r"[0-9a-f]{64}")
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


def redact_url(url: str) -> str:
    """``url`` without the user and password it may carry (``https://user:secret@host/`` → ``https://***@host/``).

    Every URL download shows or records (errors, summaries, logs, the purge record) goes through it.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    if "@" not in authority:
        return url
    return f"{scheme}://***@{authority.rpartition('@')[2]}{slash}{path}"


class _NoUserinfo(logging.Filter):
    """Takes user and password out of every URL httpx logs (its INFO line of each request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_url(str(a)) if isinstance(a, httpx.URL) else a for a in record.args)
        return True


logging.getLogger("httpx").addFilter(_NoUserinfo())


class HttpFetcher:
    """A published tree behind an http(s) base URL.

    Credentials in the URL (``https://user:password@host/``) are sent as HTTP basic auth and
    never appear in a URL that is requested, logged or shown.  Bodies are asked for and read
    as they are (``Accept-Encoding: identity``, raw bytes): an answer compressed anyway is
    refused, since a few kilobytes of gzip or zstd can expand to gigabytes before any size
    limit could see them.
    """

    def __init__(
        self,
        base: str,
        client: httpx.Client | None = None,
        *,
        stall: float = STALL_SECONDS,
        deadline: float = DEADLINE_SECONDS,
    ) -> None:
        url = httpx.URL(base)
        auth = httpx.BasicAuth(url.username, url.password) if url.username or url.password else None
        self.base = str(url.copy_with(username=None, password=None)).rstrip("/") + "/"
        self.has_credentials = auth is not None
        self.until = time.monotonic() + deadline
        self.cutoff = Cutoff()  # the deadline holds inside a request too: a server dripping headers meets it
        self.client = client or httpstop.hardened(  # a stop never leaves its pool's lock waiting for ever
            httpx.Client(
                timeout=httpx.Timeout(stall),
                follow_redirects=True,
                max_redirects=5,
                verify=tls.context(),
                auth=auth,
                headers={"Accept-Encoding": "identity"},
            )
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
        url = self._url(rel)
        try:
            with (
                self.cutoff.within(self.until - time.monotonic()),
                self.client.stream(
                    "GET", url, headers={"Accept-Encoding": "identity"}, extensions={"trace": self.cutoff.trace}
                ) as response,
            ):
                if response.status_code != 200:
                    raise self._refused(url, response)
                encoding = response.headers.get("content-encoding", "identity").strip().lower()
                if encoding not in ("", "identity"):
                    raise IntegrityError(
                        f"{url} came {encoding}-encoded although download asks for the bytes as they are; "
                        "refusing it (a compressed answer can expand without bound): serve the files unencoded"
                    )
                length = response.headers.get("content-length")
                # raw bytes as they arrive: nothing decodes them, so what is counted is what arrived
                yield (int(length) if length and length.isdigit() else None), response.iter_raw()
        except httpx.TimeoutException as exc:
            if self.cutoff.fired:
                raise self._outlasted(url, exc) from None
            raise TransientError(
                f"{url}: the server sent nothing for {self.client.timeout.read} s "
                f"({exc.__class__.__name__}); run again to resume"
            ) from None
        except httpx.TooManyRedirects:
            raise InputError(
                f"{url} redirects without end (more than 5 redirects); running again will not help: "
                "fix the URL or the server's redirects"
            ) from None
        except httpx.UnsupportedProtocol:
            raise InputError(
                f"{url} redirects to an address that is not http(s); download follows http(s) only: "
                "fix the URL or the server's redirects"
            ) from None
        except httpx.HTTPError as exc:
            if self.cutoff.fired:
                raise self._outlasted(url, exc) from None
            raise TransientError(f"download of {url} was cut ({exc.__class__.__name__}); run again to resume") from None

    def _refused(self, url: str, response: httpx.Response) -> ScraperError:
        """The error for an answer other than 200, with the exit code docs/OPERATIONS.md gives its status.

        401/403: the credentials are missing or rejected (exit 2, fix the URL's user and password);
        404 and every other 4xx but 408 and 429: refused for good (exit 1); 408, 429, 5xx and
        anything else: try again later (exit 75).  ``url`` never carries the password.
        """
        status = response.status_code
        what = f"HTTP {status}{f' {response.reason_phrase}' if response.reason_phrase else ''}"
        answered = redact_url(str(response.url))
        if answered != redact_url(url):  # redirected: name the URL that gave this answer too
            url = f"{redact_url(url)} (redirected to {answered})"
        if status == 404:
            return InputError(f"{url} not found (404)")
        if status in (401, 403):
            sent = "authorization" in response.request.headers
            if self.has_credentials and not sent:  # httpx keeps them from another host a redirect leads to
                return ConfigError(
                    f"{url}: {what}: that server asks for credentials, and those in the URL are not sent to "
                    "another host than the URL's; publish the tree where the URL points, or give the final URL "
                    "with its own credentials"
                )
            given = "rejected the credentials in the URL" if sent else "asks for credentials"
            return ConfigError(
                f"{url}: {what}: the server {given}; running again will not help: fix the user and password "
                "(or token) in the source URL (https://user:password@host/...), then run again"
            )
        if status == 429:
            wait = retry_after_seconds(response.headers.get("retry-after"))
            asked = f"; the server asks to wait {max(0, math.ceil(wait))} s (Retry-After)" if wait is not None else ""
            return TransientError(f"{url}: {what} (rate limited){asked}; run again later to resume")
        if 400 <= status < 500 and status != 408:
            return InputError(
                f"{url}: {what}: the server refuses this request for good; running again will not help: "
                "check the URL and ask the server's owner"
            )
        return TransientError(f"{url}: {what}; the server is failing: run again later to resume")

    def _outlasted(self, url: str, exc: Exception) -> TransientError:
        return TransientError(
            f"{url}: the download outlasted its deadline (the answer was still coming: {exc.__class__.__name__} "
            "once cut off); run again to resume"
        )


def fetcher_for(source: str, *, stall: float = STALL_SECONDS, deadline: float = DEADLINE_SECONDS) -> Fetcher:
    """The fetcher for an http(s) URL or a local folder."""
    if source.startswith(("http://", "https://")):
        try:
            httpx.URL(source)
        except httpx.InvalidURL as exc:
            raise InputError(f"{redact_url(source)}: not a usable URL ({redact_url(str(exc))})") from None
        return HttpFetcher(source, stall=stall, deadline=deadline)
    path = Path(source)
    if not path.is_dir():
        raise InputError(f"{source}: neither an http(s) URL nor a folder")
    return LocalFetcher(path)


def _safe_name(name: Any, where: str) -> str:
    if not is_file_name(name):
        raise IntegrityError(
            f"{where} names {name!r}, which is not a plain file name (it could land outside the target); refusing it"
        )
    return str(name)


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
        if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
            raise IntegrityError(f"{source}/index.json gives {entry['version']} no manifest sha256")
        if entry["version"] in entries:  # which of the two would be the version? (adversarial review 5, F9)
            raise IntegrityError(f"{source}/index.json lists {entry['version']} twice: not an index this tool wrote")
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
                httpstop.close(own.client, sys.exc_info()[1])  # on the way out of a stop: within a bound
    with dataset_lock(target, wait=wait_for_lock):
        return _download_locked(redact_url(source), target, version, fetcher, on_progress, time.monotonic() + deadline)


class _Purges:
    """The copy's purge record and the source's, merged: what is re-applied to every version installed."""

    def __init__(self, source: str, target: Path, fetcher: Fetcher) -> None:
        path = target / PURGES_FILE
        self.local = read_purge_log(path)  # a damaged record stops the download before anything changes
        try:
            raw = fetcher.read(PURGES_FILE, MAX_META_BYTES)
        except InputError:  # the source has purged nothing
            raw = b""
        try:
            incoming = parse_purge_log(raw.decode("utf-8"), f"{source}/{PURGES_FILE}")
        except UnicodeDecodeError:
            raise IntegrityError(f"{source}/{PURGES_FILE} is not text: not a purge record; nothing installed") from None
        self.merged, self.changed = merge_purge_logs(self.local, incoming, source)
        self.local_names = {n for entry in self.local for n in entry["fullnames"]}
        self.source_names = {n for entry in incoming for n in entry["fullnames"]}
        self.names = self.local_names | self.source_names
        self.path = path
        dates = [str(entry["at"]) for entry in self.merged if isinstance(entry, dict) and entry.get("at")]
        self.when = max(dates) if dates else None

    def write(self) -> None:
        """Keep the merged record beside the copy (the copy's own purges first, never lost)."""
        if self.changed:
            write_json_lines_atomic(self.path, self.merged)


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
    _refuse_linked_versions(target)
    purges = _Purges(source, target, fetcher)
    result = _install(source, target, vid, entries[vid], fetcher, on_progress, until, purges, entries=entries)
    # A purge at the source reaches this copy: every installed version the source rewrote by a
    # purge (and only by one) is fetched again, checked against the installed rows, and swapped in.
    result["purged"] = [vid] if result["replaced"] else []
    result["purged"] += [
        other
        for other in Dataset(target).versions()
        if other != vid
        and other in entries
        and _install(
            source, target, other, entries[other], fetcher, on_progress, until, purges, only_purge=True, entries=entries
        )["replaced"]
    ]
    purges.write()
    dataset = Dataset(target)
    index_path = target / "index.json"
    if not index_path.is_file() or _read_json(index_path) != dataset.index():
        dataset.write_index()  # a run killed between placing a version and writing its index
    shutil.rmtree(target / ".download", ignore_errors=True)  # work folders of earlier, cut runs
    return result


def _refuse_linked_versions(target: Path) -> None:
    """Stop before anything changes when ``versions/`` or a version folder is a symbolic link (adversarial
    review 6, F8): the swap that repairs or purges a version would swap the link, not the folder."""
    versions = target / "versions"
    linked = [p for p in symlinks(target) if versions in (p, p.parent)]
    if linked:
        raise IntegrityError(
            f"{linked[0]} is a symbolic link; download keeps versions as plain folders: move the folder it points "
            "at in place of the link, then run download again; nothing was changed"
        )


def _same_dataset(target: Path, manifest: dict[str, Any], where: str, entries: dict[str, dict[str, Any]]) -> None:
    """Refuse a version of another dataset than the one ``target`` holds (adversarial review 5, F10).

    A copy is one dataset: a version whose manifest names another ``dataset``, or whose
    pseudonyms come from another key, would sit beside the copy's own as if it were one of them
    (and the next build would build on it).  A folder with no version yet takes any dataset, and
    so does a copy whose latest version is the source's own (its manifest's sha256 the one the
    source's index gives it): the same history, renamed at the source (adversarial review 6, F5).
    """
    held = Dataset(target).versions()
    if not held:
        return
    mine, latest = None, None
    for held_vid in reversed(held):  # the latest whose manifest is intact (a damaged one is repaired later)
        latest = target / "versions" / held_vid / "manifest.json"
        found = _read_json(latest)
        if isinstance(found, dict) and not manifest_problem(found, held_vid):
            mine = found
            break
    if mine is None or latest is None:
        return  # no intact manifest to compare with: the copy's own damage is repaired or named later
    ours_at_source = entries.get(held_vid, {}).get("manifest_sha256")
    if ours_at_source is not None and ours_at_source == sha256_file(latest):
        return
    for field, what in (("dataset", "dataset"), ("pseudonymization", "pseudonym key")):
        ours, theirs = mine.get(field), manifest.get(field)
        if field == "pseudonymization":
            ours = ours.get("key_fingerprint") if isinstance(ours, dict) else None
            theirs = theirs.get("key_fingerprint") if isinstance(theirs, dict) else None
            if ours is None or theirs is None:
                continue  # identifiable versions, or a manifest from before fingerprints: nothing to compare
        if ours != theirs:
            raise InputError(
                f"{where} is of {what} {str(theirs)[:60]!r}, but {target} holds versions of {what} "
                f"{str(ours)[:60]!r}; download it into another folder"
            )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None


def _install(
    source: str,
    target: Path,
    vid: str,
    entry: dict[str, Any],
    fetcher: Fetcher,
    on_progress: Callable[[str, int, int | None], None] | None,
    until: float,
    purges: _Purges,
    *,
    only_purge: bool = False,
    entries: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Install version ``vid`` from the source, or replace an installed one the source purged since.

    ``entries``: the source's index entries by version (a copy holding the source's own history may
    take a version of it under a new dataset name).

    With ``only_purge``, an installed version is replaced only when the source's manifest
    is the installed one rewritten by purges; otherwise it is left as it is.  Every version
    installed or swapped in gets the copy's own purges again.
    """
    if not is_version_id(vid):
        raise IntegrityError(f"index.json names version {vid!r}, which is not a version id (v0001); refusing it")
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
    files = {_safe_name(name, f"{rel}/manifest.json"): info for name, info in listed_files(manifest)}
    _same_dataset(target, manifest, f"{source}/{rel}", entries or {})

    dataset = Dataset(target)
    replace = False
    if final.is_dir():
        old = _installed_manifest(installed) if installed.is_file() else {}
        same = installed.is_file() and sha256_file(installed) == entry["manifest_sha256"]
        if not same and (not old or manifest_problem(old, vid)):
            # the installed manifest is missing or damaged: its files are hashed against the source's
            # (adversarial review 6, F7); the copy's own purges are those its purge record names
            return _verify_or_repair(
                source, target, vid, manifest, manifest_bytes, None, fetcher, on_progress, until, purges
            )
        relation = purge_relation(manifest, old)
        if same or relation == "held":
            # the same version, or the same with the copy's own purges on top: its files are hashed
            # against the installed manifest, and only a damaged or missing one is fetched again
            return _verify_or_repair(
                source, target, vid, manifest, manifest_bytes, old, fetcher, on_progress, until, purges
            )
        if relation == "purged":
            replace = True
        elif only_purge:
            return unchanged
        else:
            raise SnapshotError(f"{final} holds a different {vid}; remove it or download elsewhere")
    dataset.check_store(verify_latest=False)  # the index rebuilt below must not trip over old damage
    staging = target / ".download" / vid
    staging.mkdir(parents=True, exist_ok=True)
    downloaded, skipped = [], []
    try:
        for name, info in files.items():
            path = staging / name
            if path.is_file() and path.stat().st_size == info["bytes"] and sha256_file(path) == info["sha256"]:
                skipped.append(name)
                continue
            _fetch_verified(fetcher, f"{rel}/{name}", path, info, on_progress, until)
            downloaded.append(name)
    finally:
        _drop_if_empty(staging)  # a download that failed before its first file leaves no empty folder
    broken: list[str] = []
    if replace:
        claimed = new_purge_names(manifest, old)
        if claimed is None:  # manifests that name no fullnames: the source's purge record names them
            claimed = purges.source_names
        # a damaged installed file cannot be compared with the purged one: it is taken from the source,
        # purged again by the copy's own purges (adversarial review 6, F6); the intact ones are compared
        broken = [name for name, info in listed_files(old) if not (is_file_name(name) and _intact(final / name, info))]
        lost = new_purge_names(old, manifest)  # what the copy purged itself
        if broken and (lost is None or not lost <= purges.names):
            shutil.rmtree(staging, ignore_errors=True)
            _drop_if_empty(staging)
            raise IntegrityError(
                f"{final / broken[0]} is damaged, and the copy's purge record ({PURGES_FILE}) does not name every "
                f"item this {vid} was purged of, so taking {source}'s {vid} could bring purged text back; restore "
                f"{final} from a backup, or move it out of versions/ and run download again knowingly"
            )
        intact = {name: info for name, info in manifest["files"].items() if name not in broken}
        if problem := purge_rewrite_problem(final, staging, intact, claimed, purges.local_names):
            shutil.rmtree(staging, ignore_errors=True)  # nothing to resume: the same answer is refused again
            _drop_if_empty(staging)
            raise IntegrityError(
                f"{vid} from {source} is not the installed {vid} with only the purge it records ({problem}); "
                f"refusing it, the installed {vid} is kept as it is: ask the source, or download into another folder"
            )
    (staging / "manifest.json").write_bytes(manifest_bytes)
    _reapply_purges(staging, purges.names, purges.when)
    fsync_folder(staging)  # every file on disk before a rename names the version
    final.parent.mkdir(parents=True, exist_ok=True)
    if replace:
        replace_dir(staging, final)  # one atomic swap; the old, unpurged files are removed
        dataset.write_index()
    else:
        os.rename(staging, final)
        fsync_dir(final.parent)
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
        "repaired": broken,
    }


def _intact(path: Path, info: dict[str, Any]) -> bool:
    """Whether ``path`` is a plain file of the bytes and sha256 ``info`` gives (a symbolic link is not)."""
    try:
        st = path.lstat()
        return stat.S_ISREG(st.st_mode) and st.st_size == info["bytes"] and sha256_file(path) == info["sha256"]
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise storage_error(exc, path) from None


def _verify_or_repair(
    source: str,
    target: Path,
    vid: str,
    manifest: dict[str, Any],
    manifest_bytes: bytes,
    installed: dict[str, Any] | None,
    fetcher: Fetcher,
    on_progress: Callable[[str, int, int | None], None] | None,
    until: float,
    purges: _Purges,
) -> dict[str, Any]:
    """Hash the installed ``vid`` against its own manifest; stage it again from the source if a file is damaged.

    A copy is "already installed" only once every file it lists has the bytes and sha256 its manifest
    gives.  A damaged or missing file is repaired as a download installs: the version is staged in
    ``.download/`` (the intact files the source has unchanged linked, never fetched again; the others
    fetched and verified), the copy's own purges applied again, and the staged folder swapped in at
    once, so a kill leaves the old version or the repaired one, never a half file.

    ``installed`` None: the installed manifest is missing or damaged.  The files are hashed against
    the source's manifest instead, and the version repaired (its manifest too) when at least one of
    them is the source's (else it may be another ``vid``, and is left alone); the copy's own purges
    are those its purge record names, which ``purge`` writes before it rewrites any file.
    """
    final = target / "versions" / vid
    if installed is not None and (problem := manifest_problem(installed, vid)):
        raise IntegrityError(
            f"{final / 'manifest.json'} is malformed ({problem}); move {final} out of versions/ and run download again"
        )
    own = installed if installed is not None else manifest
    listed = {_safe_name(name, f"{final}/manifest.json"): info for name, info in listed_files(own)}
    damaged = [name for name, info in listed.items() if not _intact(final / name, info)]
    result = {"version": vid, "path": str(final), "already_installed": True, "replaced": False}
    if installed is None:
        if len(damaged) == len(listed):
            raise IntegrityError(
                f"{final / 'manifest.json'} is missing or damaged, and no file of {final} is {source}'s {vid}, so it "
                f"may be another {vid}; nothing was changed: move {final} aside and run download again"
            )
    elif not damaged:
        return {**result, "downloaded": [], "skipped": sorted(listed), "repaired": []}
    lost = new_purge_names(installed, manifest) if installed is not None else set()
    if lost is None or not lost <= purges.names:  # what the copy purged itself: the repair must purge it again
        raise IntegrityError(
            f"{final / damaged[0]} is damaged, and the copy's purge record ({PURGES_FILE}) does not name every item "
            f"this {vid} was purged of, so fetching it again could bring purged text back; restore {final} from a "
            "backup, or move it out of versions/ and run download again knowingly"
        )
    staging = target / ".download" / vid
    staging.mkdir(parents=True, exist_ok=True)
    rel = f"versions/{vid}"
    downloaded, kept = [], []
    for name, info in listed_files(manifest):
        path = staging / name
        here = listed.get(name)
        if (
            name not in damaged
            and here is not None
            and (here["bytes"], here["sha256"]) == (info["bytes"], info["sha256"])
        ):
            path.unlink(missing_ok=True)
            _link_or_copy(final / name, path)  # checked above: the source's bytes, no need to fetch them again
            kept.append(name)
        elif _intact(path, info):  # staged by a repair that was cut, and verified: kept
            kept.append(name)
        else:
            _fetch_verified(fetcher, f"{rel}/{name}", path, info, on_progress, until)
            downloaded.append(name)
    (staging / "manifest.json").write_bytes(manifest_bytes)
    _reapply_purges(staging, purges.names, purges.when)
    fsync_folder(staging)
    replace_dir(staging, final)  # one atomic swap: the damaged folder or the repaired one
    Dataset(target).write_index()
    shutil.rmtree(target / ".download", ignore_errors=True)
    repaired = damaged if installed is not None else ["manifest.json", *damaged]
    return {**result, "downloaded": downloaded, "skipped": kept, "repaired": repaired}


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link where the filesystem allows one (version files are never written in place), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _drop_if_empty(staging: Path) -> None:
    for folder in (staging, staging.parent):
        try:
            folder.rmdir()
        except FileNotFoundError:
            continue
        except OSError:
            return  # not empty: a resumable part


def _reapply_purges(staging: Path, names: set[str], when: str | None = None) -> None:
    """Purge ``names`` from the version staged for install (the copy's own purges and the source's record).

    ``when``: the time the purge record gives (its latest), so a version purged again reads as it did
    (a repair gives back the bytes the copy held, not a manifest dated now); now when it gives none.
    """
    if not names:
        return
    stage = staging.with_name(f"{staging.name}.purge")
    try:
        if purge_folder(staging, stage, names, when or datetime.now(UTC).isoformat(timespec="seconds")):
            replace_dir(stage, staging)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _installed_manifest(path: Path) -> dict[str, Any]:
    value = _read_json(path)  # (also a manifest nested too deeply to read: {} as for any damage)
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
