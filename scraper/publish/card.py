"""The generated card of each version: Hugging Face front matter and a datasheet.

Written into the version folder with the Parquet files, so a version is
self-describing wherever it is copied (a web server, a bucket, a Hugging Face
dataset repository, where the ``configs`` block makes both tables loadable).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

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


def render_card(manifest: dict[str, Any], spec: DatasetSpec | None, window: dict[str, datetime | None]) -> str:
    """The README.md of one version."""
    stats = manifest.get("stats", {})
    files = {f["table"]: f for f in manifest["files"].values()}
    total = sum(f["rows"] for f in files.values())
    title = spec.dataset.title if spec and spec.dataset.title else manifest["dataset"]
    pseudo = manifest.get("pseudonymization") or {}
    tomb = manifest.get("tombstones") or {}
    completeness = manifest.get("completeness") or []
    lines = [
        "---",
        "license: other",
        "license_name: reddit-user-agreement",
        "license_link: https://redditinc.com/policies/user-agreement",
        f"pretty_name: {title!r}",
        "language:",
        "- en",
        "tags:",
        "- reddit",
        "size_categories:",
        f"- {size_category(total)}",
        "configs:",
        "- config_name: comments",
        "  data_files: comments.parquet",
        "  default: true",
        "- config_name: submissions",
        "  data_files: submissions.parquet",
        "---",
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
    lines += [f"| {name} | {f['rows']} | {f['bytes']} | `{f['sha256']}` |" for name, f in manifest["files"].items()]
    status = ", ".join(f"{k} {v}" for k, v in (stats.get("status") or {}).items())
    lines += [
        "",
        f"Statuses: {status or 'n/a'}. Schema version {manifest['schema_version']} "
        "(JSON Schema: `schemas/submission.schema.json`, `schemas/comment.schema.json` in the tool's repository). "
        f"Made by {manifest['tool']['name']} {manifest['tool']['version']} on {manifest['created_at']}; "
        f"parent version: {manifest.get('parent') or 'none'}.",
        "",
        "## Sources and collection",
        "",
        f"Source: {manifest.get('source', {}).get('kind', 'n/a')} "
        "(the official Reddit Data API over OAuth, through PRAW, for collected versions).",
    ]
    if spec is not None:
        disc = spec.discovery
        lines += [
            f"- Subreddits: {', '.join('r/' + s for s in disc.subreddits) or 'none'}",
            f"- Queries (sort {disc.sort}, time filter {disc.time_filter}, up to {disc.max_pages} pages): "
            + ("; ".join(f"`{q}`" for q in disc.queries) or "none"),
            f"- Seed threads: {', '.join(disc.seeds) or 'none'}",
            f"- Keyword rule on title and selftext: include {spec.filter.include or 'any'}, "
            f"exclude {spec.filter.exclude or 'none'}",
        ]
    lines += [
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
        lines.append("Not recorded for this version (built from saved responses).")
    lines += [
        "",
        "## Deletions and pseudonymization",
        "",
        "Items deleted by their authors, removed by moderators or Reddit, or whose author's account is gone "
        "are kept as tombstones: ids, parent links, timestamps, score and status stay; title, selftext, body, "
        f"URL and author are empty. This version holds {tomb.get('total', 0)} tombstones, "
        f"{tomb.get('added', 0)} of them new since its parent.",
        "",
        (
            "Authors, account ids and u/ mentions are replaced by keyed pseudonyms "
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
