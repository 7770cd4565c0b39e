"""The per-row Python diff this project used before the engine diff (kept as the oracle).

The equivalence test (tests/test_diff_engine.py) compares :func:`scraper.publish.diff.diff_versions`
with this on generated version pairs, and bench/datapath_bench.py times it at sizes where it fits
in memory (it holds both versions as Python dicts: 5.8 GB at 1M comments).  Not used by the tool.
"""

from __future__ import annotations

from pathlib import Path

from scraper.publish.diff import VOLATILE, TableDiff, VersionDiff, _canonical, content_hash
from scraper.study import TABLES, load


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
