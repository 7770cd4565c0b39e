"""Publish a dataset as a static tree that any static host can serve.

The tree is the contract for ``download``::

    index.json                       versions, latest, each manifest's sha256
    README.md, dataset.toml          the card and the spec
    versions/vNNNN/manifest.json     per file: rows, bytes, sha256
    versions/vNNNN/*.parquet
    versions/vNNNN/README.md         the version's card, where there is one

Raw archives, quarantine files, staging folders and run state stay behind.
Versions already in the target with the same manifest are left as they are;
new ones are copied into a staging folder and renamed into place, and
``index.json`` is replaced last, so a reader never sees a half-published tree.

Published versions are never rewritten, with one exception: a purge (a removal
request, ``scraper.store.purge``).  A version whose source manifest is the
published one plus purges, and nothing else, is copied into staging and
swapped in for the published folder in one atomic step, with its new
checksums; ``purges.jsonl``, the purge record, is published beside the index,
and ``download`` brings the rewrite to every copy downloaded from the tree.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from scraper.errors import ConfigError, IntegrityError, SnapshotError, storage_error
from scraper.publish.validate import validate
from scraper.store.links import refuse_symlinks
from scraper.store.lock import dataset_lock, tree_lock
from scraper.store.purge import copy_purge_log, is_purge_of
from scraper.store.snapshot import (
    Dataset,
    copy_file_atomic,
    fsync_dir,
    fsync_folder,
    pid_alive,
    replace_dir,
    sha256_file,
    write_json_atomic,
)

TOP_FILES = ("README.md", "dataset.toml")


def publish(
    dataset_dir: Path, target: Path, *, allow_identifiable: bool = False, wait_for_lock: bool = False
) -> dict[str, Any]:
    """Validate ``dataset_dir`` and write its versions as a static tree into ``target``.

    Versions whose authors are not pseudonymized are refused unless ``allow_identifiable``.
    Holds the source's lock shared (a purge or collect cannot change it meanwhile; the
    source is only read) and the target's exclusively (:func:`tree_lock`: on the folder,
    so the published tree holds no lock file).  Every refusal (a target inside the
    dataset or holding it, a symbolic link among the versions, a version that does not
    validate) comes before anything is written anywhere.
    """
    _refuse_overlap(dataset_dir, target)
    with dataset_lock(dataset_dir, wait=wait_for_lock, shared=True):
        index = _checked_source(dataset_dir, allow_identifiable=allow_identifiable)
        with tree_lock(target, wait=wait_for_lock):
            return _publish_locked(dataset_dir, target, index)


def _refuse_overlap(dataset_dir: Path, target: Path) -> None:
    """A target that is the dataset, inside it (``DS/versions/v0002``) or holds it would write into the source."""
    source, into = dataset_dir.resolve(), target.resolve()
    if into == source:
        why = "is the dataset itself"
    elif source in into.parents:
        why = f"is inside the dataset {dataset_dir}"
    elif into in source.parents:
        why = f"holds the dataset {dataset_dir}"
    else:
        return
    raise ConfigError(f"{target} {why}: publishing there would write into the source; publish into a folder outside it")


def _checked_source(dataset_dir: Path, *, allow_identifiable: bool) -> dict[str, Any]:
    """The source's index, once every check has passed: versions, pseudonyms, no symbolic links, validate."""
    source = Dataset(dataset_dir)
    index = source.index()  # the source is only read
    if not index["versions"]:
        raise SnapshotError(f"{dataset_dir} has no versions to publish")
    refuse_symlinks(dataset_dir, "publish")
    if not allow_identifiable:
        plain = [
            e["version"]
            for e in index["versions"]
            if not (source.manifest(e["version"]).get("pseudonymization") or {}).get("pseudonymized")
        ]
        if plain:
            raise SnapshotError(
                f"{', '.join(plain)} of {dataset_dir} name authors as Reddit does; turn [pseudonymize] on in "
                "dataset.toml, or publish with --identifiable if that is intended"
            )
    report = validate(dataset_dir)
    # The source's index.json may be stale (a run killed before rewriting it); the published
    # index is built from the manifests, so only the versions themselves must validate.
    failed = [f"{c.version} {c.name}" for c in report.checks if c.status == "fail" and c.version != "index"]
    if failed:
        raise IntegrityError(f"{dataset_dir} does not validate ({'; '.join(failed[:3])}); run validate")
    return index


def _publish_locked(dataset_dir: Path, target: Path, index: dict[str, Any]) -> dict[str, Any]:
    source = Dataset(dataset_dir)
    removed = _remove_leftovers(target)
    copied: list[str] = []
    purged: list[str] = []
    for entry in index["versions"]:
        vid = entry["version"]
        src, dst = source.version_dir(vid), target / "versions" / vid
        replace = False
        if dst.is_dir():
            published = dst / "manifest.json"
            if published.is_file() and sha256_file(published) == entry["manifest_sha256"]:
                continue
            if not (published.is_file() and is_purge_of(source.manifest(vid), _read_json(published))):
                raise IntegrityError(
                    f"{dst} holds a different {vid}; published versions are never rewritten (a purge is the "
                    "one exception, and this is not one)"
                )
            replace = True
        staging = target / ".staging" / vid
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        manifest = source.manifest(vid)
        listed = [*manifest["files"], "manifest.json"]
        if isinstance(manifest.get("card"), dict):
            listed.append(manifest["card"]["name"])
        for name in listed:  # only what the manifest lists, and never through a symlink
            if (src / name).is_symlink():
                raise IntegrityError(f"{src / name} is a symbolic link; a version holds plain files only")
            shutil.copyfile(src / name, staging / name, follow_symlinks=False)
        fsync_folder(staging)  # every file on disk before a rename names the version
        dst.parent.mkdir(parents=True, exist_ok=True)
        if replace:
            replace_dir(staging, dst)
            purged.append(vid)
        else:
            staging.rename(dst)
            fsync_dir(dst.parent)
            copied.append(vid)
    shutil.rmtree(target / ".staging", ignore_errors=True)
    for name in TOP_FILES:
        if (dataset_dir / name).is_file():
            copy_file_atomic(dataset_dir / name, target / name)
    copy_purge_log(dataset_dir, target)
    write_json_atomic(target / "index.json", index)
    return {
        "target": str(target),
        "versions": [e["version"] for e in index["versions"]],
        "copied": copied,
        "purged": purged,
        "latest": index["latest"],
        "removed": removed,
    }


#: A temporary file a publish writes beside a top file before renaming it: ``.index.json.<pid>.tmp``.
_TEMPORARY = re.compile(r"\.(?P<name>[^/]+)\.(?P<pid>\d+)\.tmp")


def _remove_leftovers(target: Path) -> list[str]:
    """Remove what a killed or older publish left in the served tree; return the names removed.

    A temporary top file of a process that no longer runs (killed before its rename), and
    ``.lock``, the lock file (with its process id) that publish kept in the tree before it
    locked the folder itself (removed only when no one holds it).  Runs under the tree's lock.
    """
    removed = []
    try:
        entries = list(os.scandir(target))
    except OSError as exc:
        raise storage_error(exc, target) from None
    for entry in entries:
        found = _TEMPORARY.fullmatch(entry.name)
        stale = found is not None and entry.is_file(follow_symlinks=False) and not pid_alive(int(found["pid"]))
        if stale or (entry.name == ".lock" and _unheld(Path(entry.path))):
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise storage_error(exc, Path(entry.path)) from None
            removed.append(entry.name)
    return sorted(removed)


def _unheld(lock: Path) -> bool:
    """Whether no process holds ``lock`` (an old publish's lock file): it can be removed."""
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return lock.is_symlink()  # a link named .lock is no lock: remove it; an unreadable file: leave it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IntegrityError(f"cannot read {path} ({exc}); remove the published copy's version or fix it") from None
    if not isinstance(value, dict):
        raise IntegrityError(f"{path} is not a manifest")
    return value
