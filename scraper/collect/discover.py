"""Discovery: which threads a dataset holds, from Reddit search and explicit seeds."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from scraper.errors import SubredditUnavailable
from scraper.normalize.harvest import search_label
from scraper.spec import DatasetSpec

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
    for subreddit in disc.subreddits:
        for query in disc.queries:
            try:
                _search_all(client, found, subreddit, query, spec)
            except SubredditUnavailable as exc:
                found.problems.append(str(exc))
                log.warning("%s", exc)
                break  # the other queries of this subreddit would fail the same way
    for seed in disc.seeds:
        cand = found.candidates.setdefault(seed, Candidate(seed))
        cand.found_by.add(f"seed:{seed}")
        cand.is_seed = True
    kept = {k: c for k, c in found.candidates.items() if c.is_seed or spec.filter.matches(c.title, c.selftext)}
    found.filtered_out = len(found.candidates) - len(kept)
    found.candidates = kept
    return found


def _search_all(client: SearchClient, found: Discovery, subreddit: str, query: str, spec: DatasetSpec) -> None:
    label = search_label(subreddit, query)
    after: str | None = None
    seen_cursors: set[str] = set()
    for _page in range(spec.discovery.max_pages):
        listing = client.search(
            subreddit, query, sort=spec.discovery.sort, time_filter=spec.discovery.time_filter, after=after
        )
        for thing in listing["data"].get("children") or []:
            if thing.get("kind") != "t3":
                continue
            data = thing["data"]
            cand = found.candidates.setdefault(data["id"], Candidate(data["id"]))
            cand.found_by.add(label)
            cand.title, cand.selftext = data.get("title") or "", data.get("selftext") or ""
        after = listing["data"].get("after")
        if not after or after in seen_cursors:  # PRAW's rule: stop on null or a repeated cursor
            return
        seen_cursors.add(after)
