"""The diff and the Snapshot lookups as they were before issue 12, kept as oracles.

The equivalence tests (tests/test_diff_engine.py, tests/test_snapshot_lookups.py) compare the
engine diff and the Arrow lookups with these on generated inputs, and bench/datapath_bench.py
times them at sizes where they fit in memory (they hold whole versions as Python dicts: the old
diff took 5.8 GB at 1M comments).  Not used by the tool.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scraper.publish.diff import VOLATILE, TableDiff, VersionDiff, _canonical, content_hash
from scraper.study import TABLES, Snapshot, load


def reference_diff(path: Path, a: str, b: str, *, ignore: frozenset[str] = frozenset()) -> VersionDiff:
    """Compare versions ``a`` and ``b`` row by row in Python, as the tool did before issue 12."""
    old, new = load(path, a), load(path, b)
    tables = {}
    for name in TABLES:
        ta, tb = getattr(old, name), getattr(new, name)
        common = [c for c in ta.column_names if c in tb.column_names and c not in VOLATILE | ignore]
        result = TableDiff(
            columns_added=[c for c in tb.column_names if c not in ta.column_names],
            columns_removed=[c for c in ta.column_names if c not in tb.column_names],
        )
        rows_a = {r["name"]: r for r in ta.select(common).to_pylist()}
        rows_b = {r["name"]: r for r in tb.select(common).to_pylist()}
        result.added = sorted(set(rows_b) - set(rows_a))
        result.removed = sorted(set(rows_a) - set(rows_b))
        for item in sorted(set(rows_a) & set(rows_b)):
            ra, rb = rows_a[item], rows_b[item]
            if content_hash(ra, common) == content_hash(rb, common):
                continue
            if ra.get("status") == "visible" and rb.get("status") != "visible":
                result.tombstoned.append(item)
                continue
            result.changed[item] = [c for c in common if _canonical(ra.get(c)) != _canonical(rb.get(c))]
        tables[name] = result
    return VersionDiff(old.version, new.version, sorted(ignore), tables)


class DictIndex:
    """The lookups as they were: every row of both tables as a dict, children by parent."""

    def __init__(self, snap: Snapshot) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.children: dict[str, list[str]] = {}
        for row in snap.submissions.to_pylist():
            self.rows[row["name"]] = row
        for row in snap.comments.to_pylist():
            self.rows[row["name"]] = row
            self.children.setdefault(row["parent_id"], []).append(row["name"])

    def thread(self, link: str) -> dict[str, Any]:
        def node(name: str) -> dict[str, Any]:
            kids = sorted(self.children.get(name, []), key=lambda n: self.rows[n]["created_utc"])
            return {"row": self.rows[name], "replies": [node(k) for k in kids]}

        return node(link)

    def path_to_root(self, fullname: str) -> list[dict[str, Any]]:
        path = [self.rows[fullname]]
        while path[-1]["name"].startswith("t1_"):
            parent = path[-1]["parent_id"]
            if parent not in self.rows:
                break
            path.append(self.rows[parent])
        return path
