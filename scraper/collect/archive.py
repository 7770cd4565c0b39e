"""History from the Arctic Shift API: posts enumerated by time, kept by the keyword rule, and their comments.

Part of a collection run (:mod:`scraper.collect.run`) when the spec has an
``[archive]`` section.  The archive finds threads Reddit's 1,000-item listings
no longer reach; Reddit stays authoritative: each thread found is then collected
through the official API when credentials exist, and the archive's copy is used
only for what Reddit no longer serves (see :func:`scraper.normalize.rows.build_rows`).

The walk is checkpointed in the run's raw archive after every page
(``archive-page`` events: the walk's cursor, the threads kept), and every
thread's comments once fetched (``archive-thread``), so a killed run continues
where it stopped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scraper.normalize.archive import epoch, flatten_tree
from scraper.sources.arctic_shift import ArcticShiftClient, TimeWalk, item_id, more_ids
from scraper.spec import DatasetSpec
from scraper.store.raw import RawArchive

log = logging.getLogger(__name__)


@dataclass
class ArchiveThread:
    """A thread the archive found: its id, who found it, when it was made, how many comments it states."""

    link: str
    subreddit: str
    created: int
    num_comments: int | None

    def as_json(self) -> dict[str, Any]:
        """The thread as an event field."""
        return {
            "link": self.link,
            "subreddit": self.subreddit,
            "created": self.created,
            "num_comments": self.num_comments,
        }


@dataclass
class ArchiveReport:
    """What the archive pass did: threads kept, posts filtered out, pages and possible gaps per subreddit."""

    threads: dict[str, ArchiveThread] = field(default_factory=dict)
    filtered_out: int = 0
    walks: dict[str, dict[str, Any]] = field(default_factory=dict)
    comments_fetched: int = 0
    #: possible gaps of the big threads' comment walks, by ``t3_`` fullname
    comment_gaps: dict[str, list[int]] = field(default_factory=dict)
    #: items of an answer that were no object with a base-36 id (and a creation time, in a walk): skipped
    odd_items: int = 0

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready summary (in the run summary and the manifest)."""
        return {
            "threads": len(self.threads),
            "filtered_out": self.filtered_out,
            "pages": {sub: w["pages"] for sub, w in self.walks.items()},
            "duplicates": sum(w["duplicates"] for w in self.walks.values()),
            "gaps": {
                **{sub: w["gaps"] for sub, w in self.walks.items() if w["gaps"]},
                **{link: gaps for link, gaps in sorted(self.comment_gaps.items()) if gaps},
            },
            **({"odd_items": self.odd_items} if self.odd_items else {}),
        }


def _keep(thread: dict[str, Any]) -> ArchiveThread:
    return ArchiveThread(thread["link"], thread["subreddit"], int(thread["created"]), thread.get("num_comments"))


def discover_in_archive(
    client: ArcticShiftClient,
    spec: DatasetSpec,
    archive: RawArchive,
    events: list[dict[str, Any]],
    *,
    now: datetime | None = None,
) -> ArchiveReport:
    """Walk each subreddit's posts over the spec's range; keep those the ``[filter]`` rule passes."""
    assert spec.archive is not None
    report = ArchiveReport()
    walks: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.get("event") == "archive-page":
            walks[event["subreddit"]] = event["walk"]
            report.filtered_out += int(event.get("filtered_out") or 0)
            for thread in event.get("kept") or []:
                report.threads[thread["link"]] = _keep(thread)
        elif event.get("event") == "archive-thread":  # a big thread walked in an earlier part of the run
            if event.get("gaps"):
                report.comment_gaps[f"t3_{event['link']}"] = list(event["gaps"])
            report.odd_items += int(event.get("odd") or 0)
    start, end = spec.archive.range_epochs(now)
    for subreddit in spec.archive_subreddits():
        walk = TimeWalk.from_state(walks[subreddit]) if subreddit in walks else TimeWalk(start, end)

        def fetch(after: int, before: int, sub: str = subreddit) -> list[Any]:
            return client.search_posts(sub, after, before)

        with client.context(archive_subreddit=subreddit):
            while not walk.done:
                kept: list[dict[str, Any]] = []
                filtered = 0
                for post in walk.step(fetch, f"posts of r/{subreddit}"):
                    if spec.filter.matches(str(post.get("title") or ""), str(post.get("selftext") or "")):
                        comments = post.get("num_comments")
                        thread = ArchiveThread(
                            item_id(post) or "",  # the walk gives only items with an id
                            subreddit,
                            epoch(post.get("created_utc")) or start,
                            comments if isinstance(comments, int) else None,
                        )
                        report.threads[thread.link] = thread
                        kept.append(thread.as_json())
                    else:
                        filtered += 1
                report.filtered_out += filtered
                archive.append(
                    {
                        "event": "archive-page",
                        "subreddit": subreddit,
                        "walk": walk.state(),
                        "kept": kept,
                        "filtered_out": filtered,
                    }
                )
        report.walks[subreddit] = walk.state()
        report.odd_items += walk.odd
    seeds = [s for s in spec.discovery.seeds if s not in report.threads]
    if seeds:  # the seeds' archive copies stand in where Reddit no longer serves a seed
        with client.context(seeds=seeds):
            posts = client.posts_by_id(seeds)
        for post in posts:
            ident = item_id(post)
            if ident is None:  # a hostile or damaged answer: the rest of it is still read
                report.odd_items += 1
                log.warning("Arctic Shift: an item of the seeds' answer is no post with an id (%.80r); skipped", post)
                continue
            comments = post.get("num_comments")
            thread = ArchiveThread(
                ident,
                post["subreddit"] if isinstance(post.get("subreddit"), str) else "",
                epoch(post.get("created_utc")) or start,
                comments if isinstance(comments, int) else None,
            )
            report.threads[thread.link] = thread
    return report


def archive_comments(
    client: ArcticShiftClient,
    archive: RawArchive,
    thread: ArchiveThread,
    *,
    tree_max: int,
    end: int,
    report: ArchiveReport | None = None,
) -> int:
    """Fetch one thread's archived comments; return how many arrived.

    Small threads come as one tree (``/api/comments/tree``) plus the ids of its
    ``more`` stubs (``/api/comments/ids``, ≤500 a call); threads stating more
    than ``tree_max`` comments are paged by time through ``/api/comments/search``,
    as the reference advises (the tree endpoint slows the service on huge threads).
    That walk's possible gaps (seconds holding more comments than a page) go into
    the ``archive-thread`` event and ``report.comment_gaps`` (``stats.archive.gaps``
    in the manifest, under the thread's ``t3_`` fullname).
    """
    link_id = f"t3_{thread.link}"
    count = 0
    event: dict[str, Any] = {"event": "archive-thread", "link": thread.link}
    with client.context(archive_thread=link_id):
        if thread.num_comments is not None and thread.num_comments <= tree_max:
            tree = client.comment_tree(link_id)
            count = len(flatten_tree(tree))
            hidden = more_ids(tree)
            if hidden:
                count += len(client.comments_by_id(hidden))
        else:
            walk = TimeWalk(thread.created, max(end, thread.created + 1))
            pages = walk.walk(lambda a, b: client.search_comments(link_id, a, b), f"comments of {link_id}")
            count = sum(1 for _ in pages)
            if walk.gaps:
                event["gaps"] = walk.gaps
            if walk.odd:
                event["odd"] = walk.odd
            if report is not None:
                if walk.gaps:
                    report.comment_gaps[link_id] = list(walk.gaps)
                report.odd_items += walk.odd
    archive.append({**event, "comments": count})
    return count


def archived_threads_done(events: list[dict[str, Any]]) -> set[str]:
    """Threads whose archived comments were fetched in an earlier part of the run."""
    return {str(e["link"]) for e in events if e.get("event") == "archive-thread"}
