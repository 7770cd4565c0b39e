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
import pyarrow.compute as pc

from schemas import SCHEMA_VERSION, schema_compatible
from schemas.upgrade import upgrade_table
from scraper.errors import SnapshotError
from scraper.store.snapshot import Dataset, read_manifest, table_path, verify_files

TABLES = ("submissions", "comments")


@dataclass
class Snapshot:
    """One version: its manifest and its two tables."""

    path: Path
    version: str
    manifest: dict[str, Any]
    submissions: pa.Table
    comments: pa.Table
    _threads: dict[str, _Thread] = field(default_factory=dict, repr=False)  # link -> index, built on first use

    def __repr__(self) -> str:
        """A few lines, as pandas and Polars objects print: what version, how big, from where."""
        m = self.manifest
        status = (m.get("stats") or {}).get("status") or {}
        source = m.get("source") or {}
        lines = [
            f"<Snapshot {m.get('dataset', '?')} {self.version}: schema {m.get('schema_version', '?')}, "
            f"created {m.get('created_at', '?')}, parent {m.get('parent') or 'none'}>",
            f"  path         {self.path}",
            *(
                f"  {name:<12} {getattr(self, name).num_rows:,} rows × {getattr(self, name).num_columns} columns"
                for name in TABLES
            ),
            "  status       " + (", ".join(f"{k} {v:,}" for k, v in status.items()) or "n/a"),
            f"  source       {source.get('kind', 'n/a')}",
        ]
        return "\n".join(lines)

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

    # Lookups answer from Arrow, never from the whole table as Python dicts: a row by an Arrow
    # filter on ``name``; a path to the root from a small index of that thread (the positions and
    # parents of the comments sharing its ``link_id``), built on first use and kept, whose rows
    # become dicts only when asked for; a whole thread from the same index, closed over replies
    # whose ``link_id`` disagrees with their parent's (as a tree by ``parent_id`` has them).
    def _find(self, fullname: str) -> dict[str, Any] | None:
        for table in (self.comments, self.submissions):  # a comment's row first, as before
            hits = pc.indices_nonzero(pc.fill_null(pc.equal(table["name"], fullname), False))
            if len(hits):
                return _rows_at(table, [hits[-1].as_py()])[0]  # the last, as a dict by name kept
        return None

    def _thread(self, link: str) -> _Thread:
        thread = self._threads.get(link)
        if thread is None:
            inside = pc.fill_null(pc.equal(self.comments["link_id"], link), False)
            thread = self._threads[link] = _Thread(self.comments, inside)
        return thread

    def row(self, fullname: str) -> dict[str, Any]:
        """One submission or comment by fullname."""
        found = self._find(fullname)
        if found is None:
            raise KeyError(f"{fullname} is not in {self.version}")
        return found

    def thread(self, link: str) -> dict[str, Any]:
        """A submission and its comments as a tree: ``{"row": …, "replies": [{"row": …, "replies": …}]}``."""
        link = link if link.startswith("t3_") else f"t3_{link}"
        root = self.row(link)
        index = self._thread(link)
        index.close_over_replies(link)
        rows = index.all_rows()
        children: dict[str, list[str]] = {}
        for name, parent in zip(index.names, index.parents, strict=True):
            children.setdefault(parent, []).append(name)

        def node(name: str, row: dict[str, Any]) -> dict[str, Any]:
            kids = sorted(children.get(name, []), key=lambda n: rows[n]["created_utc"])
            return {"row": row, "replies": [node(k, rows[k]) for k in kids]}

        return node(link, root)

    def path_to_root(self, fullname: str) -> list[dict[str, Any]]:
        """The rows from a comment up through its parents to its submission.

        The chain ends early at an orphan (a parent not held), where it would come back (a loop), and
        before a parent comment of another thread (its ``link_id`` differs): ``validate`` names both.
        """
        path = [self.row(fullname)]
        index = self._thread(path[0]["link_id"]) if path[0].get("link_id") else None
        seen = {path[0]["name"]}
        while path[-1]["name"].startswith("t1_"):
            parent = path[-1]["parent_id"]
            if parent in seen:
                break  # a loop of parents (a damaged input; validate names it): each row once, then stop
            row = index.row(parent) if index is not None else None
            row = row or self._find(parent)
            if row is None:
                break  # an orphan: the chain ends where the dataset does
            if (row.get("link_id") if row["name"].startswith("t1_") else row["name"]) != path[-1].get("link_id"):
                break  # a parent in another thread (a damaged input; validate names it): the chain stays in its own
            seen.add(parent)
            path.append(row)
        return path


class _Thread:
    """One thread's comments: their positions in the table, names and parents, in table order.

    Rows become dicts only when asked for (``row``, ``all_rows``), a slice at a time.
    """

    def __init__(self, comments: pa.Table, inside: pa.ChunkedArray) -> None:
        self.comments = comments
        self.inside = inside
        self.closed = False
        self._load()
        self._rows: dict[str, dict[str, Any]] = {}

    def _load(self) -> None:
        self.indices: list[int] = pc.indices_nonzero(self.inside).to_pylist()
        self.names: list[str] = _values_at(self.comments["name"], self.indices)
        self.parents: list[str] = _values_at(self.comments["parent_id"], self.indices)
        self.position = dict(zip(self.names, self.indices, strict=True))  # the last of a name, as before

    def close_over_replies(self, link: str) -> None:
        """Take in the replies to this thread's comments whose own ``link_id`` names another thread."""
        if self.closed:
            return
        names = {link, *self.names}
        while True:
            value_set = pa.array(list(names), pa.string())
            replies = pc.fill_null(pc.is_in(self.comments["parent_id"], value_set=value_set), False)
            strays = pc.and_(pc.invert(self.inside), replies)
            found = pc.indices_nonzero(strays).to_pylist()
            if not found:
                break
            self.inside = pc.or_(self.inside, strays)
            names.update(_values_at(self.comments["name"], found))
        self._load()
        self.closed = True

    def row(self, name: str) -> dict[str, Any] | None:
        if name not in self._rows:
            at = self.position.get(name)
            if at is None:
                return None
            self._rows[name] = _rows_at(self.comments, [at])[0]
        return self._rows[name]

    def all_rows(self) -> dict[str, dict[str, Any]]:
        rows = {}
        for row in _rows_at(self.comments, self.indices):
            rows[row["name"]] = row  # the last of a name, as before
        return rows


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """Ascending ``indices`` as (start, length) runs of consecutive positions."""
    runs, start = [], 0
    for end in range(1, len(indices) + 1):
        if end == len(indices) or indices[end] != indices[end - 1] + 1:
            runs.append((indices[start], end - start))
            start = end
    return runs


# ``take`` and ``filter`` on a table or chunked column first gather whole chunks (the text columns
# too), tens of milliseconds on a million rows; a slice is a view, so these cost only what is asked.
def _rows_at(table: pa.Table, indices: list[int]) -> list[dict[str, Any]]:
    """The rows at ascending ``indices`` as dicts."""
    return [row for start, length in _runs(indices) for row in table.slice(start, length).to_pylist()]


def _values_at(column: pa.ChunkedArray, indices: list[int]) -> list[Any]:
    """The values of ``column`` at ascending ``indices``."""
    return [value for start, length in _runs(indices) for value in column.slice(start, length).to_pylist()]


def load(path: str | Path, version: str = "latest", *, verify: bool = True) -> Snapshot:
    """Load one version of a dataset (``version`` an id such as ``v0002``, or ``latest``).

    A damaged manifest, or (with ``verify``, the default) a file whose bytes or sha256
    differ from it, raises :class:`~scraper.errors.IntegrityError` naming the file.
    """
    folder, manifest = locate(path, version, verify=verify)
    # An older minor version reads as the current one: added columns derived (schemas/upgrade.py).
    # each table from the file the manifest maps it to: the file that was verified, never one beside it
    from scraper.store.tablefile import read_table  # here: it brings DuckDB, which `import scraper` does not need

    tables = {stem: upgrade_table(stem, read_table(table_path(folder, manifest, stem))) for stem in TABLES}
    return Snapshot(folder, manifest["version"], manifest, tables["submissions"], tables["comments"])


def locate(path: str | Path, version: str = "latest", *, verify: bool = True) -> tuple[Path, dict[str, Any]]:
    """The folder and manifest of one version, checked as :func:`load` checks them, without reading its
    tables (for scans with DuckDB).
    """
    path = Path(path)
    if not path.is_dir():
        kind = "is a file, not a dataset or version folder" if path.exists() else "does not exist"
        raise SnapshotError(f"{path} {kind}: give a dataset folder, a downloaded copy or a version folder.")
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
