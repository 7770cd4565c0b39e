"""A dataset's versions are plain folders of plain files: a symbolic link among them is damage.

A version folder linked to a folder elsewhere (or a file linked out of a version)
makes the dataset depend on something outside it: a publish copies whatever the
link points at today, a purge rewrites (or fails to rewrite) a folder another
dataset may share, and the swap that replaces a version in one step swaps the
link, not the folder.  :func:`symlinks` finds them (``versions/`` itself, each
version folder, each entry of a version folder; links are never followed);
``validate`` fails a dataset holding one, and :func:`refuse_symlinks` stops
``publish`` and ``purge`` before they change anything.
"""

from __future__ import annotations

import os
from pathlib import Path

from scraper.errors import IntegrityError, storage_error


def symlinks(dataset_dir: Path) -> list[Path]:
    """The symbolic links among ``dataset_dir``'s versions, sorted; none are followed."""
    versions = dataset_dir / "versions"
    if versions.is_symlink():
        return [versions]
    found: list[Path] = []
    try:
        with os.scandir(versions) as entries:
            folders = sorted(entries, key=lambda e: e.name)
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        return []  # versions/ is a file: validate says so
    except OSError as exc:
        raise storage_error(exc, versions) from None
    for folder in folders:
        if folder.is_symlink():
            found.append(Path(folder.path))
        elif folder.is_dir(follow_symlinks=False):
            try:
                with os.scandir(folder.path) as inside:
                    found.extend(sorted(Path(e.path) for e in inside if e.is_symlink()))
            except OSError as exc:
                raise storage_error(exc, Path(folder.path)) from None
    return found


def refuse_symlinks(dataset_dir: Path, doing: str) -> None:
    """Raise :class:`IntegrityError` naming the first symbolic link among the versions, if any."""
    found = symlinks(dataset_dir)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise IntegrityError(
            f"{found[0]} is a symbolic link{more}; a dataset's versions are plain folders and files. "
            f"Replace the link with the folder or file itself (or remove it), then {doing} again; nothing was changed"
        )
