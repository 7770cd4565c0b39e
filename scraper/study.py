"""The load API for the study: one version of a dataset as Arrow tables, with the thread helpers.

    >>> import scraper
    >>> snap = scraper.load("datasets/leaving-ml")            # latest version; or version="v0003"
    >>> snap.comments.num_rows                                 # pyarrow.Table
    >>> snap.to_pandas("comments"), snap.to_polars("submissions"), snap.to_duckdb("comments")
    >>> snap.thread("t3_11ryvao")                              # the nested comment tree
    >>> snap.path_to_root("t1_jcaa03p")                        # comment, its parents, the submission

Works on a dataset folder, a downloaded copy or a version folder.  A version
written with an older minor schema version loads in the current schema (its
added columns derived, see schemas/upgrade.py); another major version is
refused with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from schemas import SCHEMA_VERSION, schema_compatible
from schemas.upgrade import upgrade_table
from scraper.errors import IntegrityError, SnapshotError, storage_error
from scraper.store.snapshot import RESTORE, Dataset, read_manifest, verify_files

TABLES = ("submissions", "comments")


@dataclass
class Snapshot:
    """One version: its manifest and its two tables."""

    path: Path
    version: str
    manifest: dict[str, Any]
    submissions: pa.Table
    comments: pa.Table
    _rows: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    _children: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def _table(self, name: str) -> pa.Table:
        if name not in TABLES:
            raise ValueError(f"no table {name!r}; the tables are {', '.join(TABLES)}")
        table: pa.Table = getattr(self, name)
        return table

    def to_pandas(self, table: str = "comments") -> Any:
        """The table as a pandas DataFrame (timestamps stay timezone-aware UTC)."""
        return self._table(table).to_pandas()

    def to_polars(self, table: str = "comments") -> Any:
        """The table as a Polars DataFrame."""
        import polars as pl

        return pl.from_arrow(self._table(table))

    def to_duckdb(self, table: str = "comments", connection: Any = None) -> Any:
        """The table as a DuckDB relation (on ``connection``, or DuckDB's default one)."""
        import duckdb

        con = connection or duckdb.default_connection()
        return con.from_arrow(self._table(table))

    def _index(self) -> None:
        if self._rows:
            return
        for row in self.submissions.to_pylist():
            self._rows[row["name"]] = row
        for row in self.comments.to_pylist():
            self._rows[row["name"]] = row
            self._children.setdefault(row["parent_id"], []).append(row["name"])

    def row(self, fullname: str) -> dict[str, Any]:
        """One submission or comment by fullname."""
        self._index()
        try:
            return self._rows[fullname]
        except KeyError:
            raise KeyError(f"{fullname} is not in {self.version}") from None

    def thread(self, link: str) -> dict[str, Any]:
        """A submission and its comments as a tree: ``{"row": …, "replies": [{"row": …, "replies": …}]}``."""
        self._index()
        link = link if link.startswith("t3_") else f"t3_{link}"

        def node(name: str) -> dict[str, Any]:
            kids = sorted(self._children.get(name, []), key=lambda n: self._rows[n]["created_utc"])
            return {"row": self._rows[name], "replies": [node(k) for k in kids]}

        self.row(link)
        return node(link)

    def path_to_root(self, fullname: str) -> list[dict[str, Any]]:
        """The rows from a comment up through its parents to its submission."""
        self._index()
        path = [self.row(fullname)]
        while path[-1]["name"].startswith("t1_"):
            parent = path[-1]["parent_id"]
            if parent not in self._rows:
                break  # an orphan: the chain ends where the dataset does
            path.append(self._rows[parent])
        return path


def load(path: str | Path, version: str = "latest", *, verify: bool = True) -> Snapshot:
    """Load one version of a dataset (``version`` an id such as ``v0002``, or ``latest``).

    A damaged manifest, or (with ``verify``, the default) a file whose bytes or sha256
    differ from it, raises :class:`~scraper.errors.IntegrityError` naming the file.
    """
    folder, manifest = locate(path, version, verify=verify)
    # An older minor version reads as the current one: added columns derived (schemas/upgrade.py).
    tables = {stem: upgrade_table(stem, _read_table(folder / f"{stem}.parquet")) for stem in TABLES}
    return Snapshot(folder, manifest["version"], manifest, tables["submissions"], tables["comments"])


def locate(path: str | Path, version: str = "latest", *, verify: bool = True) -> tuple[Path, dict[str, Any]]:
    """The folder and manifest of one version, checked as :func:`load` checks them, without reading its
    tables (for scans with DuckDB).
    """
    path = Path(path)
    if (path / "manifest.json").is_file():
        folder = path
        manifest = read_manifest(folder / "manifest.json")
    else:
        dataset = Dataset(path)
        vid = dataset.resolve(version)
        folder = dataset.version_dir(vid)
        manifest = dataset.manifest(vid)
    found = str(manifest.get("schema_version", "0"))
    if not schema_compatible(found):
        raise SnapshotError(
            f"{folder} has schema {found}; this tool reads schema {SCHEMA_VERSION.split('.')[0]}.x. "
            "Install the tool version named in its manifest to read it."
        )
    if verify:
        verify_files(folder, manifest)
    return folder, manifest


def _read_table(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except pa.ArrowException as exc:
        raise IntegrityError(f"{path} is not readable Parquet ({str(exc)[:160]}); {RESTORE}") from None
    except OSError as exc:
        raise storage_error(exc, path) from None
