"""Expand one thread's comment tree until every comment Reddit will give is held, in few requests.

Reddit's answers are partial by design (WIRE-FORMAT §3–§4b): load-more stubs
hide ids, continue-this-thread stubs hide deep subtrees, and morechildren may
answer only some of the ids asked for, in a new stub or not at all.  So this
module trusts no single answer: it tracks every id a stub announced until the
id is held, asks again once, then asks for the comment's own permalink, and only
then records the id as unresolved with the reason.  Every id and every
continue-this-thread parent is asked for a bounded number of times, so the loop
always ends.

Choosing the endpoint, per pending stub:

- ``POST /api/morechildren`` serves about 100 comments a call, over the ids
  asked and their descendants, one depth at a time; ids of *several* stubs at
  the same depth share a call (up to 100 ids).
- ``GET /comments/{link}/_/{id}`` serves one comment's subtree, up to about
  500 comments: cheaper when a stub hides more than ~100 comments per id.
  Continue-this-thread stubs are always fetched this way.

An :class:`Expansion` can be replayed from archived answers (:meth:`replay`), so
a run killed halfway through a thread resumes it without asking again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from scraper.errors import TooManyIds
from scraper.sources.reddit import MORECHILDREN_MAX_IDS

MORECHILDREN_TRIES = 2
#: A stub hiding more than this many comments per id is fetched id by id through permalinks.
SUBTREE_PER_ID = 100


class TreeClient(Protocol):
    """The two calls expansion needs (``RedditClient`` provides them)."""

    def comment_tree(
        self, link: str, *, comment: str | None = None, sort: str = ..., limit: int = ...
    ) -> list[Any]: ...

    def more_children(self, link_fullname: str, ids: list[str], *, sort: str = ...) -> list[Any]: ...


@dataclass
class TreeResult:
    """What expanding one thread achieved."""

    link: str
    num_comments: int | None
    held: int
    requests: Counter[str] = field(default_factory=Counter)
    unresolved: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """No announced comment was left unresolved."""
        return not self.unresolved

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "link": self.link,
            "num_comments": self.num_comments,
            "held": self.held,
            "requests": dict(self.requests),
            "unresolved": dict(self.unresolved),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TreeResult:
        """The inverse of :meth:`as_json`."""
        return cls(
            data["link"],
            data.get("num_comments"),
            data["held"],
            Counter(data.get("requests") or {}),
            dict(data.get("unresolved") or {}),
        )


def _children(listing: Any) -> list[Any]:
    if isinstance(listing, dict):
        return list((listing.get("data") or {}).get("children") or [])
    return []


@dataclass
class Expansion:
    """The state of one thread's expansion: what is held, what is announced, what was tried."""

    link: str
    sort: str = "confidence"
    num_comments: int | None = None
    depth: dict[str, int] = field(default_factory=dict)  # held id -> absolute depth
    pending: dict[str, int] = field(default_factory=dict)  # announced id -> the depth it will have
    pending_parent: dict[str, str] = field(default_factory=dict)
    subtree: list[str] = field(default_factory=list)  # ids to fetch through their permalink
    continue_parents: list[str] = field(default_factory=list)
    continued: set[str] = field(default_factory=set)
    tries: Counter[str] = field(default_factory=Counter)
    given_up: set[str] = field(default_factory=set)
    unresolved: dict[str, str] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    started: bool = False

    # -- taking answers in -----------------------------------------------------------
    def _hold(self, data: dict[str, Any]) -> bool:
        cid = str(data.get("id"))
        if cid in self.depth:
            return False
        parent = str(data.get("parent_id", ""))
        if parent.startswith("t1_") and parent[3:] in self.depth:
            self.depth[cid] = self.depth[parent[3:]] + 1
        elif parent.startswith("t3_"):
            self.depth[cid] = 0
        else:
            self.depth[cid] = self.pending.get(cid, int(data.get("depth") or 0))
        self.pending.pop(cid, None)
        self.pending_parent.pop(cid, None)
        self.unresolved.pop(cid, None)
        return True

    def _stub(self, data: dict[str, Any]) -> None:
        parent = str(data.get("parent_id", ""))
        children = [str(c) for c in data.get("children") or []]
        if not children or data.get("id") == "_":
            parent_id = parent[3:] if parent.startswith("t1_") else ""
            if parent_id and parent_id not in self.continued and parent_id not in self.continue_parents:
                self.continue_parents.append(parent_id)
            return
        depth = self.depth[parent[3:]] + 1 if parent[3:] in self.depth else int(data.get("depth") or 0)
        fresh = [c for c in children if c not in self.depth and c not in self.given_up]
        count = int(data.get("count") or len(children))
        if fresh and count / len(children) > SUBTREE_PER_ID:
            for cid in fresh:  # big subtrees behind few ids: one permalink each beats morechildren
                if cid not in self.subtree:
                    self.subtree.append(cid)
                self.pending.setdefault(cid, depth)
            return
        for cid in fresh:
            self.pending.setdefault(cid, depth)
            self.pending_parent.setdefault(cid, parent)

    def _absorb(self, things: list[Any]) -> int:
        """Take in nested or flat things; return how many new comments they held."""
        new = 0
        stack = list(reversed(things))
        while stack:
            thing = stack.pop()
            if not isinstance(thing, dict):
                continue
            data = thing.get("data") or {}
            if thing.get("kind") == "t1":
                new += self._hold(data)
                stack.extend(reversed(_children(data.get("replies"))))
            elif thing.get("kind") == "more":
                self._stub(data)
        return new

    def on_tree(self, answer: list[Any]) -> None:
        """The whole-thread answer of ``GET /comments/{link}``."""
        self.started = True
        subs = _children(answer[0])
        if subs:
            num = (subs[0].get("data") or {}).get("num_comments")
            self.num_comments = num if isinstance(num, int) else None
        self._absorb(_children(answer[1]))

    def on_subtree(self, comment: str, answer: list[Any]) -> None:
        """The answer of ``GET /comments/{link}/_/{comment}`` (a continue parent or a fallback)."""
        top = _children(answer[1])
        if not (top and (top[0].get("data") or {}).get("id") == comment):
            # Reddit ignores an unknown comment and answers the whole thread: nothing to take.
            if comment in self.continued:
                self.unresolved[f"continue:{comment}"] = "the subtree's permalink did not return its comment"
            else:
                self.unresolved[comment] = "announced by a stub, returned neither by morechildren nor its permalink"
            self.pending.pop(comment, None)
            return
        if comment in self.continued:
            self._absorb(_children(top[0]["data"].get("replies")))
        else:
            self._absorb(top)  # pending[comment] gives it the depth its stub announced

    def on_more(self, batch: list[str], things: list[Any]) -> None:
        """The answer of ``POST /api/morechildren`` for ``batch``."""
        self._absorb(things)
        announced = {
            str(c)
            for t in things
            if isinstance(t, dict) and t.get("kind") == "more"
            for c in (t.get("data") or {}).get("children") or []
        }
        for cid in batch:
            if cid in self.depth or cid in announced:
                continue  # held, or left for a later call in a new stub: both are normal
            self.tries[cid] += 1  # asked for and silently dropped
            if self.tries[cid] >= MORECHILDREN_TRIES and cid in self.pending and cid not in self.subtree:
                self.pending_parent.pop(cid, None)
                self.subtree.append(cid)  # morechildren will not give it: ask its own permalink once

    # -- choosing the next request ------------------------------------------------------
    def _more_batch(self) -> list[str]:
        """Up to 100 pending ids at the shallowest depth, siblings together (Reddit serves one depth)."""
        candidates = {c: d for c, d in self.pending.items() if c not in self.subtree}
        shallowest = min(candidates.values())
        same = [cid for cid, d in candidates.items() if d == shallowest]
        same.sort(key=lambda cid: self.pending_parent.get(cid, ""))
        return same[:MORECHILDREN_MAX_IDS]

    def done(self) -> bool:
        """Nothing left to ask."""
        return self.started and not (self.pending or self.continue_parents)

    def step(self, client: TreeClient) -> None:
        """Make the next request and take its answer in."""
        if not self.started:
            self.requests["comments"] += 1
            self.on_tree(client.comment_tree(self.link, sort=self.sort))
        elif self.continue_parents:
            parent = self.continue_parents.pop(0)
            self.continued.add(parent)
            self.requests["comments"] += 1
            self.on_subtree(parent, client.comment_tree(self.link, comment=parent, sort=self.sort))
        elif self.subtree:
            cid = self.subtree.pop(0)
            if cid in self.depth or cid not in self.pending:
                return
            self.given_up.add(cid)  # asked by permalink: never queued again by later stubs
            self.requests["comments"] += 1
            self.on_subtree(cid, client.comment_tree(self.link, comment=cid, sort=self.sort))
            if cid in self.depth:
                self.given_up.discard(cid)
        else:
            batch = self._more_batch()
            self._more(client, batch)

    def _more(self, client: TreeClient, batch: list[str]) -> None:
        self.requests["morechildren"] += 1
        try:
            things = client.more_children(f"t3_{self.link}", batch, sort=self.sort)
        except TooManyIds:
            if len(batch) == 1:
                self.pending.pop(batch[0], None)
                self.unresolved[batch[0]] = "morechildren refused even a single id"
                return
            half = len(batch) // 2  # 400/413/414 on a long list: split and ask again
            self._more(client, batch[:half])
            self._more(client, batch[half:])
            return
        self.on_more(batch, things)

    def result(self) -> TreeResult:
        """What the expansion achieved so far."""
        return TreeResult(self.link, self.num_comments, len(self.depth), Counter(self.requests), dict(self.unresolved))

    # -- resuming from the archive --------------------------------------------------
    def replay(self, record: dict[str, Any], body: Any) -> None:
        """Take in an archived answer of this thread, as if it had just arrived."""
        url = str(record.get("url") or "")
        if record.get("status") != 200:
            return
        if url.endswith("/api/morechildren/") or url.endswith("/api/morechildren"):
            batch = [c for c in str((record.get("form") or {}).get("children", "")).split(",") if c]
            things = ((body or {}).get("json", {}).get("data") or {}).get("things") or []
            for cid in batch:
                if cid in self.subtree:
                    self.subtree.remove(cid)
            self.on_more(batch, things)
        elif "/_/" in url:
            comment = url.rstrip("/").rsplit("/", 1)[-1]
            if comment in self.continue_parents:
                self.continue_parents.remove(comment)
                self.continued.add(comment)
            elif comment in self.subtree:
                self.subtree.remove(comment)
                self.given_up.add(comment)
            self.on_subtree(comment, body)
        elif "/comments/" in url and isinstance(body, list) and len(body) == 2:
            self.on_tree(body)
        # anything else (a token refresh made while this thread was current) is not an answer of it


def expand_thread(
    client: TreeClient, link: str, *, sort: str = "confidence", expansion: Expansion | None = None
) -> TreeResult:
    """Fetch a thread and every comment its stubs announce; see the module docstring."""
    state = expansion or Expansion(link, sort)
    while not state.done():
        state.step(client)
    return state.result()
