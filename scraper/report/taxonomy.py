"""The keyword taxonomy of ``[report.taxonomy]``, matched in DuckDB.

An answer joins every group one of whose patterns matches its text (any case)
unless one of the group's ``exclude`` patterns matches too; an answer that
joins no group is *unmatched* and stays so, never forced into the nearest
group.  Several groups at once are allowed: "MLOps, then backend" counts for
both.  Patterns are regular expressions in RE2 syntax, as DuckDB's
``regexp_matches`` runs them, so a reader can run the same rule on the
Parquet files and get the same counts (the report prints the SQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from scraper import duck
from scraper.errors import ConfigError
from scraper.spec import Taxonomy, TaxonomyGroup


def sql_literal(text: str) -> str:
    """``text`` as a DuckDB string literal (standard SQL: quotes doubled, backslashes kept)."""
    return "'" + text.replace("'", "''") + "'"


def _any(patterns: Sequence[str], column: str) -> str:
    joined = "|".join(f"(?:{p})" for p in patterns)
    return f"regexp_matches({column}, {sql_literal(joined)}, 'i')"


def group_sql(group: TaxonomyGroup, column: str = "body") -> str:
    """A boolean SQL expression: whether ``column`` belongs to ``group``."""
    expression = _any(group.patterns, column)
    if group.exclude:
        expression = f"({expression} AND NOT {_any(group.exclude, column)})"
    return expression


def check(taxonomy: Taxonomy, con: duckdb.DuckDBPyConnection) -> None:
    """Raise ConfigError naming the group and pattern that DuckDB's regex engine (RE2) refuses."""
    for group in taxonomy.groups:
        for kind, patterns in (("patterns", group.patterns), ("exclude", group.exclude)):
            for pattern in patterns:
                try:
                    con.execute(f"SELECT regexp_matches('', {sql_literal(pattern)})").fetchall()
                except duckdb.Error as exc:
                    first = str(exc).splitlines()[0]
                    raise ConfigError(
                        f"[report.taxonomy] group {group.name!r}, {kind} {pattern!r}: not an RE2 regular "
                        f"expression ({first}); fix it in dataset.toml (RE2 has no look-behind or back-references)."
                    ) from None


def classify(taxonomy: Taxonomy, texts: Sequence[str], con: Any = None) -> list[list[str]]:
    """The groups (in the taxonomy's order) of each text; ``[]`` for an unmatched text."""
    con = con or duck.connect()
    check(taxonomy, con)
    if not texts:
        return []
    flags = ", ".join(group_sql(g, "t.body") for g in taxonomy.groups)
    rows = con.execute(
        f"SELECT t.i, {flags} FROM (SELECT unnest(?) AS body, generate_subscripts(?, 1) AS i) t ORDER BY t.i",
        [list(texts), list(texts)],
    ).fetchall()
    return [[g.name for g, hit in zip(taxonomy.groups, row[1:], strict=True) if hit] for row in rows]
