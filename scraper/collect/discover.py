"""Discovery: which threads a dataset holds, from Reddit search and explicit seeds."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from scraper.errors import SubredditUnavailable
from scraper.normalize.harvest import search_label
from scraper.spec import DatasetSpec
from scraper.watch import emit, plural

log = logging.getLogger(__name__)


class SearchClient(Protocol):
    """The call discovery needs (``RedditClient`` provides it)."""

    def search(
        self, subreddit: str, query: str, *, sort: str, time_filter: str, after: str | None = None
    ) -> dict[str, Any]: ...


@dataclass
class Candidate:
    """A thread to collect, with every query or seed that found it."""

    link: str
    found_by: set[str] = field(default_factory=set)
    title: str = ""
    selftext: str = ""
    is_seed: bool = False


@dataclass
class Discovery:
    """The threads found, and what could not be searched."""

    candidates: dict[str, Candidate] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    filtered_out: int = 0

    def keep(self) -> list[Candidate]:
        """The candidates to collect, in a stable order."""
        return [self.candidates[k] for k in sorted(self.candidates)]


def discover(client: SearchClient, spec: DatasetSpec) -> Discovery:
    """Run every search of the spec (paging with ``after`` up to the cap) and add the seeds."""
    found = Discovery()
    disc = spec.discovery
    searches = len(disc.subreddits) * len(disc.queries)
    emit(
        log,
        "discovery",
        "discovery: %s in %s, %s",
        plural(searches, "search"),
        plural(len(disc.subreddits), "subreddit"),
        plural(len(disc.seeds), "seed"),
        searches=searches,
        seeds=len(disc.seeds),
    )
    number = 0
    for subreddit in disc.subreddits:
        for query in disc.queries:
            number += 1
            try:
                _search_all(client, found, subreddit, query, spec, (number, searches))
            except SubredditUnavailable as exc:
                found.problems.append(str(exc))
                log.warning("%s", exc)
                number += len(disc.queries) - disc.queries.index(query) - 1
                break  # the other queries of this subreddit would fail the same way
    for seed in disc.seeds:
        cand = found.candidates.setdefault(seed, Candidate(seed))
        cand.found_by.add(f"seed:{seed}")
        cand.is_seed = True
    kept = {k: c for k, c in found.candidates.items() if c.is_seed or spec.filter.matches(c.title, c.selftext)}
    found.filtered_out = len(found.candidates) - len(kept)
    found.candidates = kept
    emit(
        log,
        "discovered",
        "discovered %s (%d left out by the filter)",
        plural(len(kept), "thread"),
        found.filtered_out,
        threads=len(kept),
        filtered_out=found.filtered_out,
    )
    return found


def _search_all(
    client: SearchClient, found: Discovery, subreddit: str, query: str, spec: DatasetSpec, number: tuple[int, int]
) -> None:
    label = search_label(subreddit, query)
    after: str | None = None
    seen_cursors: set[str] = set()
    for page in range(1, spec.discovery.max_pages + 1):
        listing = client.search(
            subreddit, query, sort=spec.discovery.sort, time_filter=spec.discovery.time_filter, after=after
        )
        results = new = 0
        for thing in listing["data"].get("children") or []:
            if thing.get("kind") != "t3":
                continue
            data = thing["data"]
            results += 1
            new += data["id"] not in found.candidates
            cand = found.candidates.setdefault(data["id"], Candidate(data["id"]))
            cand.found_by.add(label)
            cand.title, cand.selftext = data.get("title") or "", data.get("selftext") or ""
        after = listing["data"].get("after")
        # PRAW's rule: stop on null or a repeated cursor
        last = not after or after in seen_cursors or page == spec.discovery.max_pages
        emit(
            log,
            "search-page",
            "search %d/%d r/%s %s page %d: %s, %d new (%s found)",
            *number,
            subreddit,
            query,
            page,
            plural(results, "thread"),
            new,
            plural(len(found.candidates), "thread"),
            search=number[0],
            searches=number[1],
            subreddit=subreddit,
            query=query,
            page=page,
            results=results,
            new=new,
            found=len(found.candidates),
            last=last,
        )
        if last:
            return
        seen_cursors.add(str(after))
