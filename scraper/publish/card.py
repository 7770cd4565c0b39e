"""The generated card of each version: Hugging Face front matter and a datasheet.

Written into the version folder with the Parquet files, so a version is
self-describing wherever it is copied (a web server, a bucket, a Hugging Face
dataset repository, where the ``configs`` block makes both tables loadable).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from schemas.dictionary import card_summary
from scraper import duck
from scraper.spec import DatasetSpec

TERMS = (
    "The texts are Reddit users' posts and comments, under the [Reddit User Agreement]"
    "(https://redditinc.com/policies/user-agreement) and [Public Content Policy]"
    "(https://support.reddithelp.com/hc/en-us/articles/26410290525844). Use them for research. "
    "Do not use them to train machine-learning models without the authors' permission. Honour deletions: "
    "use the latest version, which drops the text of items deleted on Reddit, and do not re-identify "
    "pseudonymized authors."
)


def size_category(rows: int) -> str:
    """Hugging Face's size category for a row count."""
    for limit, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
    ):
        if rows < limit:
            return name
    return "10M<n<100M"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "n/a"


def front_matter(title: str, rows: int) -> str:
    """The card's YAML header (Hugging Face's dataset card metadata), written by a YAML writer.

    Any title survives: quotes of both kinds, backslashes, newlines, colons, ``---``, any
    Unicode (``yaml.safe_load`` of the header gives the title back unchanged).  The header is
    ASCII with escapes: PyYAML writes some characters raw that its reader then folds (NEL,
    U+0085, comes back as a space), and escaped they cannot be.
    """
    header = {
        "license": "other",
        "license_name": "reddit-user-agreement",
        "license_link": "https://redditinc.com/policies/user-agreement",
        "pretty_name": title,
        "language": ["en"],
        "tags": ["reddit"],
        "size_categories": [size_category(rows)],
        "configs": [
            {"config_name": "comments", "data_files": "comments.parquet", "default": True},
            {"config_name": "submissions", "data_files": "submissions.parquet"},
        ],
    }
    body = yaml.safe_dump(header, sort_keys=False, allow_unicode=False, default_flow_style=False, width=10**6)
    return f"---\n{body}---\n"


#: Up to this many rows (both tables), :func:`missing_context` counts in Arrow: about 2 ms against
#: DuckDB's 13 ms for a small version, and every version written counts once.  Larger versions
#: are joined by DuckDB under a memory limit.
SMALL_ROWS = 200_000


def missing_context(submissions: pa.Table | Path, comments: pa.Table | Path) -> dict[str, int]:
    """What a version's comments point at but it does not hold: their threads, their parent comments.

    ``comments_without_submission`` comments in ``threads_not_held`` threads, and
    ``comments_without_parent`` comments whose parent comment is absent (``validate``'s
    orphans): normal for ingested listings and windowed archives, where the card says so.
    Tables or Parquet files; up to :data:`SMALL_ROWS` rows counted in Arrow, beyond that
    DuckDB joins them under a memory limit (the same counts: ``tests/test_card_content.py``).
    """
    if _rows(submissions) + _rows(comments) <= SMALL_ROWS:
        return missing_in_arrow(_columns(submissions, ["name"]), _columns(comments, ["name", "link_id", "parent_id"]))
    return missing_in_duckdb(submissions, comments)


def _rows(source: pa.Table | Path) -> int:
    return source.num_rows if isinstance(source, pa.Table) else int(pq.ParquetFile(source).metadata.num_rows)


def _columns(source: pa.Table | Path, columns: list[str]) -> pa.Table:
    return source.select(columns) if isinstance(source, pa.Table) else pq.ParquetFile(source).read(columns=columns)


def missing_in_arrow(submissions: pa.Table, comments: pa.Table) -> dict[str, int]:
    """:func:`missing_context` in memory, with SQL's rules: NULL matches nothing, ``LIKE 't1_%'``."""
    link, parent = comments["link_id"], comments["parent_id"]
    no_sub = pc.invert(pc.is_in(link, value_set=submissions["name"].combine_chunks(), skip_nulls=True))
    orphan = pc.and_kleene(
        pc.match_like(parent, "t1_%"),
        pc.invert(pc.is_in(parent, value_set=comments["name"].combine_chunks(), skip_nulls=True)),
    )
    return {
        "comments_without_submission": _true(no_sub),
        "threads_not_held": int(pc.count_distinct(link.filter(no_sub)).as_py()),
        "comments_without_parent": _true(orphan),
    }


def _true(mask: Any) -> int:
    """How many values of a boolean array are true (a null is not)."""
    return int(pc.sum(pc.fill_null(mask, False).cast(pa.int64())).as_py() or 0)


def missing_in_duckdb(submissions: pa.Table | Path, comments: pa.Table | Path) -> dict[str, int]:
    """:func:`missing_context` by DuckDB joins under a memory limit (for large versions)."""
    con = duck.connect()
    try:
        con.execute("SET memory_limit = '512MB'")
        for view, source, columns in (("s", submissions, "name"), ("c", comments, "name, link_id, parent_id")):
            relation = con.read_parquet(str(source)) if isinstance(source, Path) else con.from_arrow(source)
            relation.select(columns).create_view(view)
        no_sub, threads = con.execute(
            "select count(*), count(distinct c.link_id) from c left join s on c.link_id = s.name where s.name is null"
        ).fetchall()[0]
        (no_parent,) = con.execute(
            "select count(*) from c left join c p on c.parent_id = p.name "
            "where c.parent_id like 't1_%' and p.name is null"
        ).fetchall()[0]
    finally:
        con.close()
    return {"comments_without_submission": no_sub, "threads_not_held": threads, "comments_without_parent": no_parent}


def file_row(name: str, info: dict[str, Any]) -> str:
    """The card's line for one file of the version: rows, bytes, checksum."""
    return f"| {name} | {info['rows']} | {info['bytes']} | `{info['sha256']}` |"


def status_sentence(stats: dict[str, Any]) -> str:
    """The card's count of rows by status (both tables), as in the manifest's ``stats.status``."""
    status = ", ".join(f"{k} {v}" for k, v in (stats.get("status") or {}).items())
    return f"Statuses: {status or 'n/a'}."


def render_card(
    manifest: dict[str, Any],
    spec: DatasetSpec | None,
    window: dict[str, datetime | None],
    missing: dict[str, int] | None = None,
) -> str:
    """The README.md of one version: what it holds, how it was made (only what was done), what it lacks."""
    stats = manifest.get("stats", {})
    files = {f["table"]: f for f in manifest["files"].values()}
    total = sum(f["rows"] for f in files.values())
    title = spec.dataset.title if spec and spec.dataset.title else manifest["dataset"]
    pseudo = manifest.get("pseudonymization") or {}
    tomb = manifest.get("tombstones") or {}
    completeness = manifest.get("completeness") or []
    lines = [
        front_matter(title, total).rstrip("\n"),
        "",
        f"# {title} — {manifest['version']}",
        "",
        spec.dataset.description if spec and spec.dataset.description else "",
        "",
        "## Contents",
        "",
        "| file | rows | bytes | sha256 |",
        "|---|---:|---:|---|",
    ]
    lines += [file_row(name, f) for name, f in manifest["files"].items()]
    lines += [
        "",
        f"{status_sentence(stats)} Schema version {manifest['schema_version']} "
        "(JSON Schema: `schemas/submission.schema.json`, `schemas/comment.schema.json` in the tool's repository). "
        f"Made by {manifest['tool']['name']} {manifest['tool']['version']} on {manifest['created_at']}; "
        f"parent version: {manifest.get('parent') or 'none'}.",
        "",
        "## Sources and collection",
        "",
        *sources(manifest, spec),
        f"- Items created from {_when(window.get('created_min'))} to {_when(window.get('created_max'))}; "
        f"retrieved from {_when(window.get('retrieved_min'))} to {_when(window.get('retrieved_max'))}.",
        "",
        "## Completeness",
        "",
    ]
    if completeness:
        held = sum(t["held"] for t in completeness)
        stated = sum(t["num_comments"] or 0 for t in completeness)
        unresolved = sum(len(t["unresolved"]) for t in completeness)
        incomplete = sum(1 for t in completeness if t["unresolved"])
        lines.append(
            f"{len(completeness)} threads; {held} comments held against {stated} that Reddit states "
            f"(Reddit's count is approximate and includes comments it no longer shows); "
            f"{incomplete} threads with {unresolved} comment ids Reddit announced but never returned."
        )
    else:
        lines.append("Not recorded for this version: it was not collected thread by thread from Reddit.")
    lines += _missing_lines(missing, files.get("comments", {}).get("rows", 0))
    lines += [
        "",
        "## Columns",
        "",
        "The full data dictionary (type, nullability, meaning, an example and Reddit's source field of every "
        "column, and the status rules) is `docs/SCHEMA.md` in the tool's repository; in short:",
        "",
        *card_summary(),
        "## Deletions and pseudonymization",
        "",
        "Items deleted by their authors, removed by moderators or Reddit, or whose author's account is gone "
        "are kept as tombstones: ids, parent links, timestamps, score and status stay; title, selftext, body, "
        f"URL and author are empty. This version holds {tomb.get('total', 0)} tombstones, "
        f"{tomb.get('added', 0)} of them new since its parent.",
        "",
        (
            "Authors, account ids, u/ mentions and links to users' profiles are replaced by keyed pseudonyms "
            f"({pseudo.get('method')}; key fingerprint `{pseudo.get('key_fingerprint')}`); the key is not "
            "published."
            if pseudo.get("pseudonymized")
            else "Authors are **not** pseudonymized in this version."
        ),
        "",
        "## Terms of use",
        "",
        TERMS,
        "",
    ]
    return "\n".join(lines)


def sources(manifest: dict[str, Any], spec: DatasetSpec | None) -> list[str]:
    """How the version was made, from its manifest's ``source``: only what was actually done."""
    source = manifest.get("source") or {}
    kind = source.get("kind")
    stats = manifest.get("stats") or {}
    if kind == "reddit-api":
        lines = [
            "Collected from the official Reddit Data API over OAuth (through PRAW) by run "
            f"{', '.join(source.get('runs') or []) or 'n/a'}"
            + (
                f", with threads also found in the Arctic Shift archive ({source['archive']})."
                if source.get("archive")
                else "."
            )
        ]
        lines += _discovery_lines(spec)
    elif kind == "arctic-shift":
        lines = [
            f"Collected from the Arctic Shift archive ({source.get('archive', 'n/a')}) by run "
            f"{', '.join(source.get('runs') or []) or 'n/a'}, without re-reading the threads through Reddit."
        ]
    elif kind == "refresh":
        lines = [
            f"Refreshed from version {source.get('base', 'n/a')} through the official Reddit Data API over OAuth "
            f"(through PRAW): {stats.get('checked', 'n/a')} items re-checked by `/api/info`, "
            f"{stats.get('threads_refetched', 0)} threads whose comment count moved fetched again. "
            "No search was run."
        ]
    elif kind == "ingest":
        files = [str(f) for f in source.get("files") or []]
        shown = ", ".join(f"`{f}`" for f in files[:10]) + (f" and {len(files) - 10} more" if len(files) > 10 else "")
        base = source.get("base")
        merged = f", added to version {base} (the newer sighting of an item wins)" if base else ""
        lines = [
            f"Built by `ingest` from {len(files)} saved file(s) of Reddit API responses ({shown or 'none'}){merged}. "
            "No request was made to Reddit and no search was run for this version."
        ]
    elif kind == "dumps":
        files = [str(f.get("name", f) if isinstance(f, dict) else f) for f in source.get("files") or []]
        lines = [
            f"Built from {len(files)} Reddit dump file(s) ({', '.join(f'`{f}`' for f in files[:10]) or 'none'}). "
            "No request was made to Reddit."
        ]
    else:
        lines = [f"Source: {kind or 'not recorded'}."]
    return [*lines, ""] if len(lines) == 1 else lines


def _discovery_lines(spec: DatasetSpec | None) -> list[str]:
    if spec is None:
        return []
    disc = spec.discovery
    return [
        "",
        f"- Subreddits: {', '.join('r/' + s for s in disc.subreddits) or 'none'}",
        f"- Queries (sort {disc.sort}, time filter {disc.time_filter}, up to {disc.max_pages} pages): "
        + ("; ".join(f"`{q}`" for q in disc.queries) or "none"),
        f"- Seed threads: {', '.join(disc.seeds) or 'none'}",
        f"- Keyword rule on title and selftext: include {spec.filter.include or 'any'}, "
        f"exclude {spec.filter.exclude or 'none'}",
    ]


def _missing_lines(missing: dict[str, int] | None, comments: int) -> list[str]:
    if missing is None:
        return []
    no_sub, no_parent = missing["comments_without_submission"], missing["comments_without_parent"]
    if not no_sub and not no_parent:
        return ["", "Every comment's submission and parent comment are in this version."]

    def share(n: int) -> str:
        return f"{n / comments:.1%}" if comments else "n/a"

    return [
        "",
        "**What is missing.** "
        f"{no_sub} comments ({share(no_sub)}) belong to {missing['threads_not_held']} threads whose submission "
        f"is not in this version, and {no_parent} comments ({share(no_parent)}) reply to a comment that is not. "
        "Such comments came without their thread (an ingested listing, a windowed archive); "
        "`validate` reports them as orphans, warning up to the dataset's `[validate] orphan_warn` share.",
    ]
