"""A small dataset for the report's tests: two versions written by the snapshot writer, and a spec with a taxonomy."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from schemas import Comment, Status, Submission
from scraper.store.snapshot import Dataset, rows_to_table

SPEC = r"""
[dataset]
name = "report-test"
title = "Report test"

[pseudonymize]
enabled = {pseudo}
key_env = "REPORT_TEST_KEY"

[report.taxonomy]
question = "What do you do now?"

[[report.taxonomy.groups]]
name = "Data engineering"
patterns = ['data engineer', '\bETL\b']

[[report.taxonomy.groups]]
name = "Research"
patterns = ['\bresearch', '\bphd\b']
exclude = ['quant research']

[[report.taxonomy.groups]]
name = "Quant"
patterns = ['\bquant']
"""
SUBS = ("MachineLearning", "datascience", "cscareerquestions")
BODIES = (
    "I moved to data engineering, ETL all day",
    "Went back to do a PhD in research",
    "quant research at a fund",
    "I became a carpenter, u/someone_else knows",
    "Nothing changed for me",
)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _common(name: str, sub: str, created: datetime, status: Status, author: str | None) -> dict[str, Any]:
    return {
        "name": name,
        "id": name[3:],
        "subreddit": sub,
        "subreddit_id": "t5_x",
        "author": author,
        "author_fullname": None,
        "author_flair_text": None,
        "created_utc": created,
        "edited": None,
        "is_edited": False,
        "score": None,
        "distinguished": None,
        "stickied": False,
        "locked": False,
        "permalink": None,
        "status": status,
        "retrieved_at": NOW,
        "source": "reddit-api",
        "found_by": [],
    }


def rows(seed: int = 0, threads: int = 9) -> tuple[list[Submission], list[Comment]]:
    """Threads over three subreddits and several months, with replies, tombstones and negative scores."""
    rng = random.Random(seed)
    subs, comments = [], []
    for t in range(threads):
        sub = SUBS[t % len(SUBS)]
        created = datetime(2023, 1 + t % 5, 3, 12, tzinfo=UTC)
        link = f"t3_th{t}"
        base = _common(link, sub, created, Status.VISIBLE, f"u_op{t}")
        base.update(
            score=rng.randint(0, 900),
            permalink=f"/r/{sub}/comments/th{t}/x/",
            found_by=[f'search:r/{sub}:"quit ML"', *(["seed:th0"] if t == 0 else [])],
        )
        subs.append(
            Submission(
                **base,
                title=f"Thread {t}: why I left ML",
                selftext="",
                url=None,
                domain=None,
                is_self=True,
                num_comments=12 + t,
                upvote_ratio=0.9,
                over_18=False,
                link_flair_text=None,
                removed_by_category=None,
            )
        )
        names: list[tuple[str, int]] = []
        for k in range(10 + t):
            name = f"t1_c{t}x{k}"
            parent, depth = (link, 0) if k < 5 or not names else rng.choice(names)
            depth = 0 if parent == link else depth + 1
            status = rng.choice([Status.VISIBLE] * 8 + [Status.DELETED, Status.REMOVED])
            row = _common(name, sub, created + timedelta(minutes=rng.randint(0, 60 * 24 * 40)), status, None)
            text = rng.choice(BODIES) if status == Status.VISIBLE else ""
            row.update(
                author=f"u_{rng.randint(0, 30)}" if status == Status.VISIBLE else None,
                score=rng.randint(-5, 300),
                permalink=f"/r/{sub}/comments/th{t}/x/{name[3:]}/",
                is_edited=False,
            )
            comments.append(
                Comment(
                    **row,
                    link_id=link,
                    parent_id=parent,
                    depth=depth,
                    body=text,
                    is_submitter=(k == 4),
                    controversiality=0,
                    collapsed=False,
                )
            )
            names.append((name, depth))
    return subs, comments


def write(dataset: Dataset, subs: list[Submission], comments: list[Comment], extra: dict[str, Any]) -> None:
    """One version of these rows."""
    tables = {"submissions": rows_to_table("submissions", subs), "comments": rows_to_table("comments", comments)}
    dataset.write_version(tables, spec_sha256=None, source={"kind": "test"}, stats={}, extra=extra)


#: Markup in the data (adversarial review 5, F1): plotly draws ``<a href>`` in labels and hover boxes as links.
HOSTILE = '<a href="https://evil.example/phish">click</a>'


def make_dataset(folder: Path, *, pseudonymized: bool = True, hostile: bool = False) -> Path:
    """A dataset folder with v0001 and v0002 (v0002: a thread added, comments removed, tombstoned and edited).

    ``hostile``: the added thread's subreddit and title hold :data:`HOSTILE` (it leads the changes chart).
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dataset.toml").write_text(SPEC.replace("{pseudo}", str(pseudonymized).lower()), encoding="utf-8")
    dataset = Dataset(folder)
    extra = {"pseudonymization": {"pseudonymized": pseudonymized, "method": "test", "key_fingerprint": "00"}}
    subs, comments = rows(threads=8)
    write(dataset, subs, comments, extra)
    subs2, comments2 = rows(threads=9)
    if hostile:
        sub = f"pics{HOSTILE}"
        subs2 = [
            s.model_copy(update={"subreddit": sub, "title": f"New {HOSTILE}"}) if s.name == "t3_th8" else s
            for s in subs2
        ]
        comments2 = [c.model_copy(update={"subreddit": sub}) if c.link_id == "t3_th8" else c for c in comments2]
    changed = []
    for c in comments2:
        if c.name == "t1_c0x0":
            continue  # removed
        if c.name in ("t1_c1x0", "t1_c1x1") and c.status == Status.VISIBLE:
            c = c.model_copy(update={"status": Status.DELETED, "body": "", "author": None})  # tombstoned
        elif c.name == "t1_c2x0":
            c = c.model_copy(update={"body": c.body + " (edit: now a quant)"})
        changed.append(c)
    write(dataset, subs2, changed, extra)
    return folder
