"""Every number of the report, computed by DuckDB from a version's Parquet files.

Each figure is one aggregation in SQL over ``read_parquet`` views, so memory
holds group tables (subreddits, months, threads, buckets), never the comments;
the page (:mod:`scraper.report.page`) only draws what this module returns.
Readers get the same numbers from the files with the SQL shown here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from scraper import duck
from scraper.publish.diff import VersionDiff
from scraper.report.taxonomy import check, group_sql, sql_literal
from scraper.spec import Taxonomy
from scraper.store.snapshot import read_manifest, table_path
from scraper.store.tablefile import checked_schema, scan_error

#: Time from a thread's post to a comment, in seconds: upper bounds and labels (a log-like scale).
TIME_BUCKETS: tuple[tuple[float, str], ...] = (
    (60, "< 1 min"),
    (600, "1–10 min"),
    (3600, "10–60 min"),
    (6 * 3600, "1–6 h"),
    (86400, "6–24 h"),
    (7 * 86400, "1–7 days"),
    (30 * 86400, "1–4 weeks"),
    (365 * 86400, "1–12 months"),
    (math.inf, "> 1 year"),
)
#: Threads by comments held over comments Reddit states.
COMPLETENESS_BANDS: tuple[tuple[float, str], ...] = (
    (0.5, "< 50%"),
    (0.8, "50–79%"),
    (0.95, "80–94%"),
    (1.0, "95–99%"),
    (math.inf, "100% or more"),
)
#: Text columns whose change counts as an edit.
TEXT_COLUMNS = ("body", "selftext", "title")
QUOTES_PER_GROUP = 3
QUOTE_CHARS = 320


def pow2_bucket(expr: str) -> str:
    """SQL: -1 for negatives, 0 for zero, k >= 1 for [2^(k-1), 2^k - 1]: a log2 scale that keeps 0 and below."""
    return f"(CASE WHEN {expr} < 0 THEN -1 WHEN {expr} = 0 THEN 0 ELSE floor(log2({expr}))::INTEGER + 1 END)"


def pow2_label(bucket: int) -> str:
    """The label of a :func:`pow2_bucket` bucket: '< 0', '0', '1', '2–3', '4–7', …"""
    if bucket < 0:
        return "< 0"
    if bucket <= 1:
        return str(bucket)
    low, high = 2 ** (bucket - 1), 2**bucket - 1
    return f"{low:,}–{high:,}"


def _case(expr: str, bounds: tuple[tuple[float, str], ...]) -> str:
    whens = " ".join(f"WHEN {expr} < {b} THEN {i}" for i, (b, _) in enumerate(bounds) if math.isfinite(b))
    return f"(CASE {whens} ELSE {len(bounds) - 1} END)"


def _fill_pow2(counts: dict[int, list[int]], width: int) -> list[tuple[str, list[int]]]:
    """Every bucket from the lowest to the highest seen, zeros included, labelled."""
    if not counts:
        return []
    return [(pow2_label(b), counts.get(b, [0] * width)) for b in range(min(counts), max(counts) + 1)]


@dataclass
class AnswerFigures:
    """The top-level answers grouped by the taxonomy."""

    question: str
    rules: list[dict[str, Any]]
    answers: int = 0
    with_text: int = 0
    unmatched: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    period: str = "month"
    over_time: list[dict[str, Any]] = field(default_factory=list)
    quotes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    sql: str = ""


@dataclass
class ChangeFigures:
    """What changed since an earlier version, per table and per thread (from :mod:`scraper.publish.diff`)."""

    a: str
    b: str
    summary: dict[str, dict[str, int]]
    columns: dict[str, dict[str, int]]
    per_thread: list[dict[str, Any]]


@dataclass
class Figures:
    """The numbers of one version's report."""

    totals: dict[str, Any]
    per_subreddit: list[tuple[str, int, int]]
    by_month: list[tuple[str, int, int]]
    found_by: list[tuple[str, int]]
    status: dict[str, dict[str, int]]
    completeness_bands: list[tuple[str, int]]
    least_complete: list[dict[str, Any]]
    comments_per_thread: list[tuple[str, int]]
    depth: list[tuple[str, int]]
    replies_per_top_level: list[tuple[str, int]]
    time_to_comment: list[tuple[str, int, int]]
    median_minutes: dict[str, float | None]
    scores: list[tuple[str, float, float]]
    answers: AnswerFigures | None
    changes: ChangeFigures | None = None


def connect(folder: Path, *, name: str = "") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with views ``s{name}`` and ``c{name}`` over a version folder's Parquet files."""
    con = duck.connect(**{"threads": 2, "memory_limit": "2GB"})
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")  # DuckDB would draw one on stdout on long scans
    attach(con, folder, name)
    return con


def attach(con: duckdb.DuckDBPyConnection, folder: Path, name: str = "") -> None:
    """Add views ``s{name}``/``c{name}`` over another version's files to ``con``.

    Each table is the file the version's manifest maps to it, as ``scraper.load`` reads it (a bare
    folder of tables: by their names). Each file's schema is checked first
    (:func:`scraper.store.tablefile.checked_schema`): a file that is not its table, in a schema
    this tool reads, is refused by name.
    """
    manifest = read_manifest(folder / "manifest.json") if (folder / "manifest.json").exists() else None
    for view, stem in (("s", "submissions"), ("c", "comments")):
        file = table_path(folder, manifest, stem) if manifest is not None else folder / f"{stem}.parquet"
        checked_schema(file, stem)
        path = sql_literal(str(file))
        try:  # DuckDB reads the whole footer here, pyarrow's schema check only part of it
            con.execute(f"CREATE OR REPLACE VIEW {view}{name} AS SELECT * FROM read_parquet({path})")
        except duckdb.Error as exc:
            raise scan_error(exc, [folder]) from None


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    row = con.execute(sql).fetchone()
    assert row is not None  # an aggregate without GROUP BY always has one row
    return row


def compute(
    con: duckdb.DuckDBPyConnection,
    manifest: dict[str, Any],
    taxonomy: Taxonomy | None,
    *,
    pseudonymized: bool,
) -> Figures:
    """Every figure of the report for the version behind ``con``'s views."""
    threads, first, last, subreddits = _one(
        con, "SELECT count(*), min(created_utc), max(created_utc), count(DISTINCT subreddit) FROM s"
    )
    comments, top_level = _one(con, "SELECT count(*), count(*) FILTER (WHERE parent_id = link_id) FROM c")
    totals = {
        "threads": threads,
        "comments": comments,
        "top_level": top_level,
        "subreddits": subreddits,
        "first": _date(first),
        "last": _date(last),
    }
    per_subreddit = _rows(
        con,
        """
        WITH t AS (SELECT coalesce(subreddit, '(unknown)') AS subreddit, count(*) AS n FROM s GROUP BY ALL),
             k AS (SELECT coalesce(subreddit, '(unknown)') AS subreddit, count(*) AS n FROM c GROUP BY ALL)
        SELECT coalesce(t.subreddit, k.subreddit) AS sub, coalesce(t.n, 0), coalesce(k.n, 0)
        FROM t FULL OUTER JOIN k ON t.subreddit = k.subreddit
        ORDER BY 3 DESC, 2 DESC, 1
        """,
    )
    by_month = _rows(
        con,
        """
        WITH t AS (SELECT name, strftime(created_utc, '%Y-%m') AS month FROM s),
             k AS (SELECT link_id, count(*) AS n FROM c GROUP BY ALL)
        SELECT month, count(*), coalesce(sum(k.n), 0)::BIGINT FROM t LEFT JOIN k ON k.link_id = t.name
        GROUP BY month ORDER BY month
        """,
    )
    found_by = _rows(
        con,
        """
        SELECT regexp_replace(f, '^search:r/[^:]+:', 'search: ') AS how, count(DISTINCT name) AS n
        FROM (SELECT name, unnest(found_by) AS f FROM s)
        GROUP BY how ORDER BY n DESC, how
        """,
    )
    status: dict[str, dict[str, int]] = {}
    for table, view in (("submissions", "s"), ("comments", "c")):
        for value, n in _rows(con, f"SELECT status, count(*) FROM {view} GROUP BY ALL ORDER BY 2 DESC"):
            status.setdefault(table, {})[str(value)] = n
    bands, least = _completeness(con, manifest)
    per_thread = _rows(
        con,
        f"""
        WITH k AS (SELECT link_id, count(*) AS n FROM c GROUP BY ALL)
        SELECT {pow2_bucket("coalesce(k.n, 0)")} AS b, count(*) FROM s LEFT JOIN k ON k.link_id = s.name
        GROUP BY b
        """,
    )
    depth = _rows(con, "SELECT depth, count(*) FROM c GROUP BY depth ORDER BY depth NULLS LAST")
    replies = _rows(
        con,
        f"""
        WITH r AS (SELECT parent_id, count(*) AS n FROM c WHERE depth = 1 GROUP BY ALL)
        SELECT {pow2_bucket("coalesce(r.n, 0)")} AS b, count(*)
        FROM c LEFT JOIN r ON r.parent_id = c.name WHERE c.parent_id = c.link_id GROUP BY b
        """,
    )
    delay = "greatest(epoch(c.created_utc) - epoch(s.created_utc), 0)"
    timing = _rows(
        con,
        f"""
        SELECT {_case(delay, TIME_BUCKETS)} AS b,
               count(*) FILTER (WHERE c.parent_id = c.link_id), count(*) FILTER (WHERE c.parent_id <> c.link_id)
        FROM c JOIN s ON s.name = c.link_id GROUP BY b
        """,
    )
    medians = _one(
        con,
        f"""
        SELECT quantile_disc({delay}, 0.5) FILTER (WHERE c.parent_id = c.link_id), quantile_disc({delay}, 0.5)
        FROM c JOIN s ON s.name = c.link_id
        """,
    )
    score_rows = _rows(
        con,
        f"""
        SELECT {pow2_bucket("score")} AS b, 'comments' AS kind, count(*) FROM c WHERE score IS NOT NULL GROUP BY b
        UNION ALL
        SELECT {pow2_bucket("score")} AS b, 'submissions' AS kind, count(*) FROM s WHERE score IS NOT NULL GROUP BY b
        """,
    )
    timing_by = {b: (top, rest) for b, top, rest in timing}
    score_counts: dict[int, list[int]] = {}
    for b, kind, n in score_rows:
        score_counts.setdefault(b, [0, 0])[0 if kind == "comments" else 1] = n
    score_totals = [sum(v[0] for v in score_counts.values()) or 1, sum(v[1] for v in score_counts.values()) or 1]
    return Figures(
        totals=totals,
        per_subreddit=[(str(a), b, c) for a, b, c in per_subreddit],
        by_month=[(str(a), b, c) for a, b, c in by_month],
        found_by=[(str(a), b) for a, b in found_by],
        status=status,
        completeness_bands=bands,
        least_complete=least,
        comments_per_thread=[(label, v[0]) for label, v in _fill_pow2({b: [n] for b, n in per_thread}, 1)],
        depth=[("unknown" if d is None else str(d), n) for d, n in depth],
        replies_per_top_level=[(label, v[0]) for label, v in _fill_pow2({b: [n] for b, n in replies}, 1)],
        time_to_comment=[(label, *timing_by.get(i, (0, 0))) for i, (_, label) in enumerate(TIME_BUCKETS) if timing_by],
        median_minutes={
            "top_level": None if medians[0] is None else round(medians[0] / 60, 1),
            "all": None if medians[1] is None else round(medians[1] / 60, 1),
        },
        scores=[(label, v[0] / score_totals[0], v[1] / score_totals[1]) for label, v in _fill_pow2(score_counts, 2)],
        answers=None if taxonomy is None else answers(con, taxonomy, pseudonymized=pseudonymized),
    )


REDDIT = "https://www.reddit.com"
#: A permalink the page links to: a path on Reddit. Nothing that could make the URL name another host
#: (``@`` puts a user-info part before it, ``\\`` reads as ``/`` in browsers, ``//`` starts a host,
#: a ``:`` a scheme), no space or control character.
_PERMALINK = re.compile(r"/(?!/)[^@\\:\s\x00-\x1f\x7f]*")


def reddit_link(permalink: object) -> str | None:
    """The Reddit URL of a permalink, or None where the permalink is not a plain path (shown as text)."""
    if isinstance(permalink, str) and _PERMALINK.fullmatch(permalink):
        return REDDIT + permalink
    return None


def _date(value: datetime | None) -> str | None:
    return value.date().isoformat() if value else None


def _completeness(
    con: duckdb.DuckDBPyConnection, manifest: dict[str, Any]
) -> tuple[list[tuple[str, int]], list[dict[str, Any]]]:
    """Threads by share held (Parquet rows over ``num_comments``) and the ten least complete threads."""
    unresolved: dict[str, dict[str, str]] = {
        f"t3_{e['link']}": e.get("unresolved") or {} for e in manifest.get("completeness") or []
    }
    ratio = "(coalesce(k.n, 0) / s.num_comments)"
    bands = dict(
        _rows(
            con,
            f"""
            WITH k AS (SELECT link_id, count(*) AS n FROM c GROUP BY ALL)
            SELECT {_case(ratio, COMPLETENESS_BANDS)} AS b, count(*)
            FROM s LEFT JOIN k ON k.link_id = s.name WHERE s.num_comments > 0 GROUP BY b
            """,
        )
    )
    least = _rows(
        con,
        """
        WITH k AS (SELECT link_id, count(*) AS n FROM c GROUP BY ALL)
        SELECT s.name, s.title, s.permalink, s.num_comments, coalesce(k.n, 0) AS held
        FROM s LEFT JOIN k ON k.link_id = s.name WHERE s.num_comments > coalesce(k.n, 0)
        ORDER BY s.num_comments - coalesce(k.n, 0) DESC, s.name LIMIT 10
        """,
    )
    rows = []
    for name, title, permalink, stated, held in least:
        reasons: dict[str, int] = {}
        for why in unresolved.get(name, {}).values():
            reasons[why] = reasons.get(why, 0) + 1
        rows.append(
            {
                "name": name,
                "title": title,
                "link": reddit_link(permalink),
                "stated": stated,
                "held": held,
                "unresolved": reasons,
            }
        )
    labels = [(label, bands.get(i, 0)) for i, (_, label) in enumerate(COMPLETENESS_BANDS)]
    return labels, rows


def _period(con: duckdb.DuckDBPyConnection, where: str) -> str:
    first, last = _one(con, f"SELECT min(created_utc), max(created_utc) FROM c WHERE {where}")
    if first is None:
        return "month"
    months = (last.year - first.year) * 12 + last.month - first.month
    return "month" if months <= 24 else "quarter" if months <= 96 else "year"


_TOP = "ORDER BY score DESC NULLS LAST, name"
#: Which comments count as answers to a thread's question: top level, not pinned or moderator notices,
#: not by the thread's own author.
ANSWER_RULE = "c.parent_id = c.link_id AND NOT c.stickied AND c.distinguished IS NULL AND NOT c.is_submitter"


def answers(con: duckdb.DuckDBPyConnection, taxonomy: Taxonomy, *, pseudonymized: bool) -> AnswerFigures:
    """The top-level answers grouped by ``taxonomy``: counts, shares over time, and quotes."""
    check(taxonomy, con)
    groups = taxonomy.groups
    flags = ",\n       ".join(f"{group_sql(g, 'c.body')} AS g{i}" for i, g in enumerate(groups))
    select = (
        f"SELECT c.name, c.created_utc, c.score, c.body <> '' AS has_text,\n       {flags}\nFROM c\nWHERE {ANSWER_RULE}"
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE answers AS {select}")
    any_group = " OR ".join(f"g{i}" for i in range(len(groups)))
    counts = _one(
        con,
        f"SELECT count(*), count(*) FILTER (WHERE has_text), count(*) FILTER (WHERE has_text AND NOT ({any_group})), "
        + ", ".join(f"count(*) FILTER (WHERE g{i})" for i in range(len(groups)))
        + " FROM answers",
    )
    period = _period(con, ANSWER_RULE)
    over_time = _rows(
        con,
        f"SELECT strftime(date_trunc('{period}', created_utc), '%Y-%m') AS p, count(*) FILTER (WHERE has_text), "
        f"count(*) FILTER (WHERE has_text AND NOT ({any_group})), "
        + ", ".join(f"count(*) FILTER (WHERE g{i})" for i in range(len(groups)))
        + " FROM answers GROUP BY p ORDER BY p",
    )
    # The quoted answers' texts are read from the file in one scan, by name; then each group's match.
    picks = {
        i: [n for (n,) in _rows(con, f"SELECT name FROM answers WHERE g{i} {_TOP} LIMIT {QUOTES_PER_GROUP}")]
        for i in range(len(groups))
    }
    wanted = sorted({n for names in picks.values() for n in names}) or [""]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE quoted AS SELECT c.name, c.score, c.permalink, c.author, c.created_utc, c.body "
        f"FROM c WHERE c.name IN ({', '.join(sql_literal(n) for n in wanted)})"
    )
    quotes: dict[str, list[dict[str, Any]]] = {}
    for i, group in enumerate(groups):
        hit = f"regexp_extract(body, {sql_literal('|'.join(f'(?:{p})' for p in group.patterns))}, 0, 'i')"
        names = ", ".join(sql_literal(n) for n in picks[i]) or "''"
        picked = _rows(
            con,
            f"SELECT name, score, permalink, author, created_utc, body, {hit} FROM quoted "
            f"WHERE name IN ({names}) {_TOP}",
        )
        quotes[group.name] = [
            {
                "name": name,
                "score": score,
                "permalink": reddit_link(permalink),
                "author": author if pseudonymized else None,
                "date": _date(created),
                "text": quote(body, match, pseudonymized=pseudonymized),
            }
            for name, score, permalink, author, created, body, match in picked
        ]
    return AnswerFigures(
        question=taxonomy.question,
        rules=[{"name": g.name, "patterns": g.patterns, "exclude": g.exclude} for g in groups],
        answers=counts[0],
        with_text=counts[1],
        unmatched=counts[2],
        counts={g.name: n for g, n in zip(groups, counts[3:], strict=True)},
        period=period,
        over_time=[
            {
                "period": p,
                "answers": n,
                "unmatched": u,
                "groups": dict(zip([g.name for g in groups], rest, strict=True)),
            }
            for p, n, u, *rest in over_time
        ],
        quotes=quotes,
        sql=f"{select}\n-- unmatched: has_text AND NOT ({any_group})",
    )


_MENTION = re.compile(r"(?<![\w/])/?u/[A-Za-z0-9_-]{3,20}")


def quote(body: str, match: str, *, pseudonymized: bool) -> tuple[str, str, str]:
    """A short quote around the rule's match: (before, match, after), whitespace folded, cut at words.

    Authors' u/ names are hidden when the version is not pseudonymized.
    """
    text, match = " ".join(body.split()), " ".join(match.split())
    at = text.find(match) if match else -1
    if at < 0:
        at, match = 0, ""
    start = 0 if at < QUOTE_CHARS // 3 else text.rfind(" ", 0, at - QUOTE_CHARS // 3) + 1
    end = start + QUOTE_CHARS
    if end < len(text):
        end = max(text.rfind(" ", 0, end), at + len(match))
    before, after = text[start:at], text[at + len(match) : end]
    parts = ("… " + before if start > 0 else before, match, after + " …" if end < len(text) else after)
    if not pseudonymized:
        parts = tuple(_MENTION.sub("u/…", p) for p in parts)  # type: ignore[assignment]
    return parts


def changes(con: duckdb.DuckDBPyConnection, result: VersionDiff, limit: int = 25) -> ChangeFigures:
    """Per-thread counts of a diff; ``con`` has the new version as ``s``/``c`` and the old one as ``s0``/``c0``."""
    kinds: list[tuple[str, str, str]] = []
    for table, t in result.tables.items():
        kinds += [(table, "added", n) for n in t.added]
        kinds += [(table, "removed", n) for n in t.removed]
        kinds += [(table, "tombstoned", n) for n in t.tombstoned]
        for n, cols in t.changed.items():
            kinds.append((table, "changed", n))
            if set(cols) & set(TEXT_COLUMNS):
                kinds.append((table, "edited", n))
    items = pa.table(
        {
            "tbl": [k[0] for k in kinds],
            "kind": [k[1] for k in kinds],
            "name": [k[2] for k in kinds],
        },
        schema=pa.schema([("tbl", pa.string()), ("kind", pa.string()), ("name", pa.string())]),
    )
    con.register("diff_items", items)
    per_thread = _rows(
        con,
        f"""
        WITH links AS (
            SELECT name, any_value(link_id) AS link_id FROM (
                SELECT name, link_id FROM c WHERE name IN (SELECT name FROM diff_items)
                UNION ALL
                SELECT name, link_id FROM c0 WHERE name IN (SELECT name FROM diff_items WHERE kind = 'removed'))
            GROUP BY name),
        titles AS (SELECT name, title FROM s0 UNION ALL BY NAME SELECT name, title FROM s),
        per AS (
            SELECT CASE WHEN d.tbl = 'submissions' THEN d.name ELSE coalesce(l.link_id, '?') END AS link,
                   {", ".join(f"count(*) FILTER (WHERE d.kind = '{k}') AS {k}" for k in _KINDS)}
            FROM diff_items d LEFT JOIN links l ON l.name = d.name GROUP BY link)
        SELECT per.*, (SELECT any_value(title) FROM titles WHERE titles.name = per.link) AS title
        FROM per ORDER BY added + removed + tombstoned + changed DESC, link LIMIT {limit}
        """,
    )
    con.unregister("diff_items")
    return ChangeFigures(
        a=result.a,
        b=result.b,
        summary={
            name: {**counts, "edited": sum(1 for k in kinds if k[0] == name and k[1] == "edited")}
            for name, counts in result.summary().items()
        },
        columns={name: t.column_counts() for name, t in result.tables.items()},
        per_thread=[dict(zip(("thread", *_KINDS, "title"), row, strict=True)) for row in per_thread],
    )


_KINDS = ("added", "removed", "tombstoned", "changed", "edited")
