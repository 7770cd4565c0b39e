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

from scraper.normalize.archive import counts_settled, epoch, flatten_tree
from scraper.sources.arctic_shift import ArcticShiftClient, TimeWalk, item_id, more_stubs
from scraper.spec import DatasetSpec
from scraper.store.raw import RawArchive

log = logging.getLogger(__name__)


@dataclass
class ArchiveThread:
    """A thread the archive found: its id, who found it, when it was made, how many comments it states.

    ``settled`` is False when that count is a first-fetch value (≈0–1, reference §1.4 and pitfall 1:
    :func:`scraper.normalize.archive.counts_settled`), which says nothing of the thread's size.
    """

    link: str
    subreddit: str
    created: int
    num_comments: int | None
    settled: bool = True

    def as_json(self) -> dict[str, Any]:
        """The thread as an event field."""
        return {
            "link": self.link,
            "subreddit": self.subreddit,
            "created": self.created,
            "num_comments": self.num_comments,
            "settled": self.settled,
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
    #: threads whose tree's ``more`` stubs announced more comments than every way of asking brought, by
    #: ``t3_`` fullname: ``{"announced": n, "fetched": m}``
    incomplete: dict[str, dict[str, int]] = field(default_factory=dict)

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
            **({"incomplete": dict(sorted(self.incomplete.items()))} if self.incomplete else {}),
        }


def _keep(thread: dict[str, Any]) -> ArchiveThread:
    return ArchiveThread(
        thread["link"],
        thread["subreddit"],
        int(thread["created"]),
        thread.get("num_comments"),
        thread.get("settled") is not False,
    )


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
            if event.get("announced") is not None and int(event.get("comments") or 0) < int(event["announced"]):
                report.incomplete[f"t3_{event['link']}"] = {
                    "announced": int(event["announced"]),
                    "fetched": int(event.get("comments") or 0),
                }
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
                            counts_settled(post),
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
                counts_settled(post),
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
    """Fetch one thread's archived comments; return how many arrived (each comment once).

    Small threads come as one tree (``/api/comments/tree``) plus the ids of its
    ``more`` stubs (``/api/comments/ids``, ≤500 a call).  A stub is Reddit-style
    (reference §1.2): its ``count`` includes the descendants of the ids it lists,
    which no stub names; when the ids bring fewer comments than the stubs announce,
    the thread is paged by time through ``/api/comments/search?link_id=…&sort=asc``
    (§1.5, the way the reference pages a thread), and a thread still short is
    recorded: ``announced`` in the ``archive-thread`` event and
    ``report.incomplete`` (``stats.archive.incomplete`` in the manifest).

    Threads stating more than ``tree_max`` comments, or whose stated count is a
    first-fetch value (``thread.settled`` False: RS 2023-08…10, RS_2024-03, a post
    fetched once; such a count says nothing of the size), are paged by time from
    the start, as the reference advises for big threads.  A walk's possible gaps
    (seconds holding more comments than a page) go into the ``archive-thread``
    event and ``report.comment_gaps`` (``stats.archive.gaps`` in the manifest,
    under the thread's ``t3_`` fullname).
    """
    link_id = f"t3_{thread.link}"
    event: dict[str, Any] = {"event": "archive-thread", "link": thread.link}
    held: set[str] = set()
    announced: int | None = None
    with client.context(archive_thread=link_id):
        small = thread.num_comments is not None and thread.num_comments <= tree_max
        if thread.settled and small:
            tree = client.comment_tree(link_id)
            held = _ids(flatten_tree(tree))
            listed, hidden = more_stubs(tree)
            announced = len(held) + hidden
            if listed:
                held |= _ids(client.comments_by_id(listed))
        if announced is None or len(held) < announced:
            if announced is not None:
                log.info(
                    "Arctic Shift: the tree of %s announces %d comments, its stubs' ids brought %d; paging it by time",
                    link_id,
                    announced,
                    len(held),
                )
            walk = TimeWalk(thread.created, max(end, thread.created + 1))
            pages = walk.walk(lambda a, b: client.search_comments(link_id, a, b), f"comments of {link_id}")
            held |= _ids(pages)
            if walk.gaps:
                event["gaps"] = walk.gaps
            if walk.odd:
                event["odd"] = walk.odd
            if report is not None:
                if walk.gaps:
                    report.comment_gaps[link_id] = list(walk.gaps)
                report.odd_items += walk.odd
    if announced is not None:
        event["announced"] = announced
        if len(held) < announced:
            log.warning(
                "Arctic Shift: %s announces %d comments in its tree; %d could be fetched (stats.archive.incomplete)",
                link_id,
                announced,
                len(held),
            )
            if report is not None:
                report.incomplete[link_id] = {"announced": announced, "fetched": len(held)}
    archive.append({**event, "comments": len(held)})
    return len(held)


def _ids(items: Any) -> set[str]:
    """The ids of the comments among ``items`` (anything without one is left out)."""
    return {ident for ident in (item_id(item) for item in items) if ident is not None}


def archived_threads_done(events: list[dict[str, Any]]) -> set[str]:
    """Threads whose archived comments were fetched in an earlier part of the run."""
    return {str(e["link"]) for e in events if e.get("event") == "archive-thread"}
