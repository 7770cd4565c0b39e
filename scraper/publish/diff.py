"""Differences between two versions of a dataset, keyed by fullname.

Each row gets a content hash: sha256 over the canonical JSON (sorted keys,
fixed separators, ISO datetimes) of its fields, leaving out volatile ones
(``retrieved_at``, ``source``) and any the caller ignores (say ``score``).  An
item is *added*, *removed*, *tombstoned* (visible in A, deleted/removed/account
gone in B) or *changed*, with the columns that changed.  Versions of the same
major schema version compare on their common columns (an additive change
shows as columns added); another major version is refused with the reason.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from scraper.study import TABLES, load

VOLATILE = frozenset({"retrieved_at", "source"})


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def content_hash(row: dict[str, Any], columns: list[str]) -> str:
    """sha256 of the canonical JSON of ``row``'s ``columns``."""
    payload = {c: _canonical(row.get(c)) for c in columns}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class TableDiff:
    """The differences of one table."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    tombstoned: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)

    def column_counts(self) -> dict[str, int]:
        """How many changed items changed each column."""
        return dict(Counter(c for cols in self.changed.values() for c in cols).most_common())

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "added": self.added,
            "removed": self.removed,
            "tombstoned": self.tombstoned,
            "changed": [{"name": n, "columns": c} for n, c in self.changed.items()],
            "changed_columns": self.column_counts(),
            "columns_added": self.columns_added,
            "columns_removed": self.columns_removed,
        }


@dataclass
class VersionDiff:
    """The differences between versions ``a`` and ``b``."""

    a: str
    b: str
    ignored: list[str]
    tables: dict[str, TableDiff]

    def summary(self) -> dict[str, dict[str, int]]:
        """Counts per table."""
        return {
            name: {
                "added": len(t.added),
                "removed": len(t.removed),
                "tombstoned": len(t.tombstoned),
                "changed": len(t.changed),
            }
            for name, t in self.tables.items()
        }

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "a": self.a,
            "b": self.b,
            "ignored": self.ignored,
            "summary": self.summary(),
            "tables": {name: t.as_json() for name, t in self.tables.items()},
        }


def diff_versions(path: Path, a: str, b: str, *, ignore: frozenset[str] = frozenset()) -> VersionDiff:
    """Compare versions ``a`` and ``b`` of the dataset at ``path``."""
    old, new = load(path, a), load(path, b)
    # load() has refused any version whose major schema differs from this tool's, so both share one
    # major version here: an additive change shows as columns added or removed.
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
