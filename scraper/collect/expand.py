"""Expand one thread's comment tree until every comment Reddit will give is held, in few requests.

Reddit's answers are partial by design (WIRE-FORMAT §3–§4b): load-more stubs
hide ids, continue-this-thread stubs hide deep subtrees, and morechildren may
answer only some of the ids asked for, in a new stub or not at all.  So this
module trusts no single answer: it tracks every id a stub announced until the
id is held, asks again once, then asks through ``/api/info`` (a known leaf) or
the comment's own permalink, and only then records the id as unresolved with
the reason.  An id re-announced by an answer that brought nothing new counts as
a try too.  Every id, every continue-this-thread parent and every shared
ancestor is asked for a bounded number of times, so the loop always ends.

Choosing the endpoint, per pending stub:

- ``POST /api/morechildren`` serves about 100 comments a call, over the ids
  asked and their descendants, one depth at a time; ids of *several* stubs at
  the same depth share a call (up to 100 ids).
- ``GET /comments/{link}/_/{id}`` serves one comment's subtree, up to about
  500 comments: cheaper when a stub hides more than ~100 comments per id.
  Continue-this-thread stubs are always fetched this way, and when several
  sit below one comment a few levels up, that comment's subtree is fetched
  once for all of them (depth restarts at 0, so it shows them and some levels
  of their replies): one request instead of one per stub.
- ``GET /api/info`` serves up to 100 comments by fullname, at any depths, but
  not their replies.  A stub whose ``count`` equals its number of ids announces
  leaves: Reddit's comment builder (``r2/models/_builder.pyx``) adds one to a
  stub's ``count`` for every hidden comment below its parent, descendants
  included, and lists only the direct children.  So when the next morechildren call
  would ask for known leaves only, one info call takes up to 100 known leaves
  from every depth instead; and a leaf that morechildren dropped twice is asked
  through info, batched, rather than one permalink each.

An :class:`Expansion` can be replayed from archived answers (:meth:`replay`), so
a run killed halfway through a thread resumes it without asking again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from scraper.errors import TooManyIds
from scraper.sources.reddit import MORECHILDREN_MAX_IDS

MORECHILDREN_TRIES = 2
#: Reddit shows comments to depth 9; morechildren returns nothing for ids at depth 10 or more.
MAX_DEPTH = 10
#: Continue-this-thread parents may share the permalink of an ancestor up to this many levels up.
GROUP_MAX_LEVELS = 7
#: ... if the ancestor's subtree already held stays under this many comments (a tree answer shows ~500).
GROUP_MAX_HELD = 300
#: A stub hiding more than this many comments per id is fetched id by id through permalinks.
SUBTREE_PER_ID = 100


class TreeClient(Protocol):
    """The three calls expansion needs (``RedditClient`` provides them)."""

    def comment_tree(
        self, link: str, *, comment: str | None = None, sort: str = ..., limit: int = ...
    ) -> list[Any]: ...

    def more_children(self, link_fullname: str, ids: list[str], *, sort: str = ...) -> list[Any]: ...

    def info(self, fullnames: list[str]) -> dict[str, Any]: ...


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
    parent: dict[str, str] = field(default_factory=dict)  # held id -> parent comment id ("" at top level)
    replies: dict[str, list[str]] = field(default_factory=dict)  # the other way round
    pending: dict[str, int] = field(default_factory=dict)  # announced id -> the depth it will have
    pending_parent: dict[str, str] = field(default_factory=dict)
    subtree: list[str] = field(default_factory=list)  # ids to fetch through their permalink
    leaves: set[str] = field(default_factory=set)  # announced ids known to have no replies
    continue_parents: list[str] = field(default_factory=list)
    continued: set[str] = field(default_factory=set)
    group_roots: set[str] = field(default_factory=set)  # ancestors fetched for several continue parents
    alone: set[str] = field(default_factory=set)  # continue parents a shared ancestor failed: asked alone
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
        self.parent[cid] = parent[3:] if parent.startswith("t1_") else ""
        self.replies.setdefault(self.parent[cid], []).append(cid)
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
        if count == len(children):
            self.leaves.update(fresh)  # count includes descendants: these ids have none
        for cid in fresh:
            self.pending.setdefault(cid, depth)
            self.pending_parent.setdefault(cid, parent)
            if depth >= MAX_DEPTH and cid not in self.leaves and cid not in self.subtree:
                self.subtree.append(cid)  # morechildren answers nothing this deep: its permalink

    def _absorb(self, things: list[Any]) -> set[str]:
        """Take in nested or flat things; return the ids of the comments they showed."""
        seen: set[str] = set()
        stack = list(reversed(things))
        while stack:
            thing = stack.pop()
            if not isinstance(thing, dict):
                continue
            data = thing.get("data") or {}
            if thing.get("kind") == "t1":
                self._hold(data)
                seen.add(str(data.get("id")))
                stack.extend(reversed(_children(data.get("replies"))))
            elif thing.get("kind") == "more":
                self._stub(data)
        return seen

    def on_tree(self, answer: list[Any]) -> None:
        """The whole-thread answer of ``GET /comments/{link}``."""
        self.started = True
        subs = _children(answer[0])
        if subs:
            num = (subs[0].get("data") or {}).get("num_comments")
            self.num_comments = num if isinstance(num, int) else None
        self._absorb(_children(answer[1]))

    def on_subtree(self, comment: str, answer: list[Any]) -> None:
        """The answer of ``GET /comments/{link}/_/{comment}``: a continue parent, a group's root, or a fallback."""
        top = _children(answer[1])
        if comment not in self.continued and comment not in self.pending:
            self.group_roots.add(comment)  # a shared ancestor: asked once
        if not (top and (top[0].get("data") or {}).get("id") == comment):
            # Reddit ignores an unknown comment and answers the whole thread: nothing to take.
            if comment in self.group_roots:
                self._alone_below(comment, set())
                return
            if comment in self.continued:
                self.unresolved[f"continue:{comment}"] = "the subtree's permalink did not return its comment"
            else:
                self.unresolved[comment] = "announced by a stub, returned neither by morechildren nor its permalink"
            self.pending.pop(comment, None)
            return
        seen = self._absorb(top)  # a held root is skipped; a fallback's pending[comment] gives its depth
        root_depth = self.depth.get(comment, 0)
        for parent in list(self.continue_parents):
            # Shown with room below it (depth restarts at 0 here): its replies came in this answer.
            if parent in seen and self.depth.get(parent, 0) - root_depth < MAX_DEPTH - 1:
                self.continue_parents.remove(parent)
                self.continued.add(parent)
        if comment in self.group_roots:
            self._alone_below(comment, seen)

    def _alone_below(self, root: str, seen: set[str]) -> None:
        """Parents a shared ancestor's answer should have settled and did not: their own permalinks next."""
        self.alone.update(p for p in self.continue_parents if p not in seen and self._within(p, root))

    def on_more(self, batch: list[str], things: list[Any]) -> None:
        """The answer of ``POST /api/morechildren`` for ``batch``."""
        held_before = len(self.depth)
        self._absorb(things)
        progress = len(self.depth) > held_before
        announced = {
            str(c)
            for t in things
            if isinstance(t, dict) and t.get("kind") == "more"
            for c in (t.get("data") or {}).get("children") or []
        }
        for cid in batch:
            if cid in self.depth or (cid in announced and progress):
                continue  # held, or left for a later call in a new stub: both are normal
            # Silently dropped, or announced again by an answer that brought nothing new (a stub
            # that stops yielding must not be asked forever).
            self.tries[cid] += 1
            if self.tries[cid] >= MORECHILDREN_TRIES and cid in self.pending and cid not in self.subtree:
                self.pending_parent.pop(cid, None)
                # morechildren will not give it: a leaf through info, batched (see _dropped_leaf);
                # else its own permalink, once
                if cid not in self.leaves:
                    self.subtree.append(cid)

    def _dropped_leaf(self, cid: str) -> bool:
        """A known leaf morechildren would not give: for /api/info, not morechildren."""
        return cid in self.leaves and self.tries[cid] >= MORECHILDREN_TRIES

    def on_info(self, batch: list[str], answer: Any) -> None:
        """The answer of ``GET /api/info`` for ``batch`` (comment ids without their ``t1_``)."""
        self._absorb(_children(answer))
        for cid in batch:
            if cid not in self.depth and cid in self.pending:
                self.pending.pop(cid)
                self.pending_parent.pop(cid, None)
                self.unresolved[cid] = "announced by a stub, returned neither by morechildren nor /api/info"

    # -- choosing the next request ------------------------------------------------------
    def _more_batch(self) -> list[str]:
        """Up to 100 pending ids at the shallowest depth, siblings together (Reddit serves one depth)."""
        candidates = {c: d for c, d in self.pending.items() if c not in self.subtree and not self._dropped_leaf(c)}
        if not candidates:
            return []
        shallowest = min(candidates.values())
        same = [cid for cid, d in candidates.items() if d == shallowest]
        same.sort(key=lambda cid: self.pending_parent.get(cid, ""))
        return same[:MORECHILDREN_MAX_IDS]

    def _info_batch(self, more_batch: list[str]) -> list[str]:
        """The ids for one info call, when it serves at least what ``more_batch`` would; else none.

        Dropped leaves go once nothing else is left for morechildren (so that they
        share calls); known leaves go instead of a morechildren call that would ask
        for leaves only, together with known leaves of every other depth.
        """
        if more_batch and not all(c in self.leaves for c in more_batch):
            return []
        leaves = [c for c in self.pending if c in self.leaves and c not in self.subtree]
        leaves.sort(key=lambda c: (c not in more_batch, not self._dropped_leaf(c)))
        return leaves[:MORECHILDREN_MAX_IDS]

    def done(self) -> bool:
        """Nothing left to ask."""
        return self.started and not (self.pending or self.continue_parents)

    def _continue_root(self) -> str:
        """The comment whose permalink serves the next continue-this-thread parent, and others if it can.

        Of the first pending parent's ancestors up to ``GROUP_MAX_LEVELS`` levels up,
        the one with the most other pending parents close enough below it (eight
        levels, so that their replies show too), nearest on ties, when its subtree
        held so far is small enough for one answer; else the parent itself, whose own
        permalink shows its replies deepest.
        """
        first = self.continue_parents[0]
        if first in self.alone:
            return first
        best, best_below, root = first, 0, first
        for _ in range(GROUP_MAX_LEVELS):
            root = self.parent.get(root, "")
            if not root:
                break
            if root in self.group_roots:
                continue
            below = sum(1 for other in self.continue_parents[1:] if self._within(other, root))
            if below > best_below and self._held_below(root) <= GROUP_MAX_HELD:
                best, best_below = root, below
        return best

    def _within(self, node: str, root: str) -> bool:
        """Whether ``root`` is an ancestor of ``node`` at most ``MAX_DEPTH - 2`` levels up."""
        for _ in range(MAX_DEPTH - 2):
            node = self.parent.get(node, "")
            if node == root:
                return True
            if not node:
                return False
        return False

    def _held_below(self, root: str) -> int:
        """Comments held in ``root``'s subtree, itself included, counted up to just past the cap."""
        count, stack = 0, [root]
        while stack and count <= GROUP_MAX_HELD:
            node = stack.pop()
            count += 1
            stack.extend(self.replies.get(node, ()))
        return count

    def step(self, client: TreeClient) -> None:
        """Make the next request and take its answer in.

        The order: the thread, permalinks of big or unreachable subtrees, morechildren
        and info while ids are pending, and continue-this-thread parents last, when
        most of them are known and can share requests.
        """
        if not self.started:
            self.requests["comments"] += 1
            self.on_tree(client.comment_tree(self.link, sort=self.sort))
        elif self.subtree:
            cid = self.subtree.pop(0)
            if cid in self.depth or cid not in self.pending:
                return
            self.given_up.add(cid)  # asked by permalink: never queued again by later stubs
            self.requests["comments"] += 1
            self.on_subtree(cid, client.comment_tree(self.link, comment=cid, sort=self.sort))
            if cid in self.depth:
                self.given_up.discard(cid)
        elif self.pending:
            # Pending ids are each for morechildren or, dropped leaves, for info: one batch is never empty.
            batch = self._more_batch()
            if info := self._info_batch(batch):
                self.requests["info"] += 1
                self.on_info(info, client.info([f"t1_{c}" for c in info]))
            else:
                self._more(client, batch)
        elif self.continue_parents:
            root = self._continue_root()
            if root == self.continue_parents[0]:
                self.continue_parents.pop(0)
                self.continued.add(root)
            self.requests["comments"] += 1
            self.on_subtree(root, client.comment_tree(self.link, comment=root, sort=self.sort))

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
        elif "/api/info" in url:
            batch = [n[3:] for n in str((record.get("params") or {}).get("id", "")).split(",") if n]
            self.on_info(batch, body)
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
    client: TreeClient,
    link: str,
    *,
    sort: str = "confidence",
    expansion: Expansion | None = None,
    on_step: Callable[[Expansion], None] | None = None,
) -> TreeResult:
    """Fetch a thread and every comment its stubs announce; see the module docstring.

    ``on_step`` is called after every request with the expansion (progress of a large thread).
    """
    state = expansion or Expansion(link, sort)
    while not state.done():
        state.step(client)
        if on_step is not None:
            on_step(state)
    return state.result()
