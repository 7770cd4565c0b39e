"""Expand one thread's comment tree until every comment Reddit will give is held.

Reddit's answers are partial by design (WIRE-FORMAT §3–§4b): load-more stubs
hide ids, continue-this-thread stubs hide deep subtrees, and morechildren may
answer only some of the ids asked for, in a new stub or not at all.  So this
module trusts no single answer: it tracks every id a stub announced until the
id is held, asks again once, then asks for the comment's own permalink, and only
then records the id as unresolved with the reason.  Every id and every
continue-this-thread parent is asked for a bounded number of times, so the loop
always ends.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from scraper.sources.reddit import MORECHILDREN_MAX_IDS

MORECHILDREN_TRIES = 2


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


@dataclass
class _Tree:
    link: str
    depth: dict[str, int] = field(default_factory=dict)  # held id -> absolute depth
    pending: dict[str, int] = field(default_factory=dict)  # announced id -> depth it will have
    pending_parent: dict[str, str] = field(default_factory=dict)
    continue_parents: list[str] = field(default_factory=list)
    continued: set[str] = field(default_factory=set)
    given_up: set[str] = field(default_factory=set)

    def hold(self, data: dict[str, Any]) -> bool:
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
        return True

    def stub(self, data: dict[str, Any]) -> None:
        parent = str(data.get("parent_id", ""))
        children = [str(c) for c in data.get("children") or []]
        if not children or data.get("id") == "_":
            parent_id = parent[3:] if parent.startswith("t1_") else ""
            if parent_id and parent_id not in self.continued and parent_id not in self.continue_parents:
                self.continue_parents.append(parent_id)
            return
        depth = self.depth[parent[3:]] + 1 if parent[3:] in self.depth else int(data.get("depth") or 0)
        for cid in children:
            if cid not in self.depth and cid not in self.given_up:
                self.pending.setdefault(cid, depth)
                self.pending_parent.setdefault(cid, parent)

    def absorb(self, things: list[Any]) -> int:
        """Take in nested or flat things; return how many new comments they held."""
        new = 0
        stack = list(reversed(things))
        while stack:
            thing = stack.pop()
            if not isinstance(thing, dict):
                continue
            data = thing.get("data") or {}
            if thing.get("kind") == "t1":
                new += self.hold(data)
                replies = data.get("replies")
                if isinstance(replies, dict):
                    stack.extend(reversed((replies.get("data") or {}).get("children") or []))
            elif thing.get("kind") == "more":
                self.stub(data)
        return new

    def next_batch(self) -> list[str]:
        """Up to 100 pending ids at the shallowest depth, siblings together (Reddit serves one depth)."""
        shallowest = min(self.pending.values())
        same = [cid for cid, d in self.pending.items() if d == shallowest]
        same.sort(key=lambda cid: self.pending_parent.get(cid, ""))
        return same[:MORECHILDREN_MAX_IDS]


def expand_thread(client: TreeClient, link: str, *, sort: str = "confidence") -> TreeResult:
    """Fetch a thread and every comment its stubs announce; see the module docstring."""
    requests: Counter[str] = Counter()
    answer = client.comment_tree(link, sort=sort)
    requests["comments"] += 1
    children = answer[0]["data"].get("children") or []
    submission = children[0]["data"] if children else {}
    tree = _Tree(link)
    tree.absorb(answer[1]["data"].get("children") or [])
    tries: Counter[str] = Counter()
    unresolved: dict[str, str] = {}
    link_fullname = f"t3_{link}"

    while tree.pending or tree.continue_parents:
        if tree.continue_parents:
            parent = tree.continue_parents.pop(0)
            tree.continued.add(parent)
            answer = client.comment_tree(link, comment=parent, sort=sort)
            requests["comments"] += 1
            top = answer[1]["data"].get("children") or []
            if not (top and (top[0].get("data") or {}).get("id") == parent):
                unresolved[f"continue:{parent}"] = "the subtree's permalink did not return its comment"
                continue
            replies = top[0]["data"].get("replies")
            tree.absorb((replies.get("data") or {}).get("children") or [] if isinstance(replies, dict) else [])
            continue
        batch = tree.next_batch()
        things = client.more_children(link_fullname, batch, sort=sort)
        requests["morechildren"] += 1
        tree.absorb(things)
        for cid in batch:
            if cid in tree.depth:
                continue
            tries[cid] += 1
            if tries[cid] < MORECHILDREN_TRIES:
                continue
            # morechildren will not give it: ask for the comment's own permalink once.
            depth = tree.pending.pop(cid)
            tree.pending_parent.pop(cid, None)
            tree.given_up.add(cid)
            answer = client.comment_tree(link, comment=cid, sort=sort)
            requests["comments"] += 1
            top = answer[1]["data"].get("children") or []
            if top and (top[0].get("data") or {}).get("id") == cid:
                tree.pending[cid] = depth  # so hold() gives it the depth the stub announced
                tree.absorb(top)
                tree.given_up.discard(cid)
            else:
                unresolved[cid] = "announced by a stub, returned neither by morechildren nor by its permalink"
    num = submission.get("num_comments")
    return TreeResult(link, num if isinstance(num, int) else None, len(tree.depth), requests, unresolved)
