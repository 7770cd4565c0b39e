"""Expand one thread's comment tree until every comment Reddit will give is held, in few requests.

Reddit's answers are partial by design (WIRE-FORMAT §3–§4b): load-more stubs
hide ids, continue-this-thread stubs hide deep subtrees, and morechildren may
answer only some of the ids asked for, in a new stub or not at all.  So this
module trusts no single answer: every id a stub announced is tracked until it
is held or settled, and the loop always ends.

**Plan from what the stub says.**  A load-more stub lists its parent's hidden
children and a ``count`` that includes their descendants (the archived
builder counts them alone: ``num_children`` minus every picked child's
subtree, the deleted leaves it picked and dropped included), so
``count - len(children)`` is how many comments hide *below* the ids, however deep.  An answer shows nothing
past depth 9, so a chain of replies past depth 10 counts in full there but
brings only its first levels: each id is taken to bring at most
:data:`SHALLOW_PER_LEVEL` comments per level it has above depth 10
(:func:`_reach`; a wide subtree shows itself in its first answer, whose stubs
list many ids).  Each stub gets the cheapest endpoint:

- ``count == len(children)``: the ids are leaves.  ``GET /api/info`` serves 100
  of them a call, at any depths, user-deleted ones included (as ``[deleted]``);
  they wait until 100 are queued (or nothing else is left) so calls are full.
- A stub below a comment whose whole known subtree (held, plus what its
  pending stubs can bring) fits one tree answer (:data:`ROOT_MAX` of the 500
  Reddit shows) while its pending stubs bring more than one morechildren answer:
  that comment's permalink ``GET /comments/{link}/_/{comment}``, once for all
  the stubs below it (the highest such ancestor is taken).  Ids at depth 10 or
  more (morechildren answers nothing there) go the same way, or through their
  own permalinks when no ancestor fits.
- A stub below a comment whose known subtree does *not* fit one tree answer,
  when that comment's permalink still brings more than two morechildren
  answers' worth (what its pending stubs can bring, at most the room its held
  comments leave in the answer; :data:`BIG_ROOT_MIN`): that permalink, the rest
  by morechildren afterwards.
- Otherwise ``POST /api/morechildren``: ids of one depth (Reddit serves only
  the shallowest), siblings together, packed so that what they can bring fits
  the ~100 comments an answer spends (:data:`BUDGET`); at top level 100 ids a
  call, since the archived builder re-announces top-level ids it did not serve
  (a server that lets them vanish instead is met as below the top level: a
  top-level id missing from a cut answer that re-announced none rides again,
  and the top level's calls are packed then).  Room left
  in a call goes to held comments of its depth with pending stubs below them
  (Reddit serves the asked ids of the shallowest depth with their subtrees, so
  the stubs left at deeper depths ride in it instead of costing a partly
  filled call per depth; re-shown comments are the price, counted), then to
  leaves of its depth queued for ``/api/info`` (one comment of budget each,
  shown if live; a user-deleted one goes on to info).  A call that would ask
  one id counting more than a morechildren answer goes to that id's permalink
  instead, which shows as much or more; so does the first id of a call whose
  stub counted more per id than one tree answer shows (:meth:`Expansion._alone`).
- Continue-this-thread stubs: the parent's permalink, or one shared by several
  parents a few levels below one ancestor.  A permalink shows its comment and
  nine levels below it, and only a comment an earlier answer gave can be asked,
  so each shows at most nine new levels: the fewest any client needs for the
  comments at depth 10 or more is the known-root bound of
  ``bench/expand_bench.py`` (docs/PERFORMANCE.md "Comment trees").

**Vanished ids cost at most one request per hundred.** An id asked and not
returned, nor announced again, is either a user-deleted leaf (morechildren
spends budget on it and shows nothing, its permalink shows nothing) or a
comment cut by the budget. It is never asked by permalink on a guess: it joins
the ``/api/info`` queue, which tells which, 100 per call. A ``[deleted]`` leaf
is settled and kept as a tombstone row (its id, parent, time and score are
data). A live comment that missed the budget is held from that answer and its
replies are asked again, with fewer siblings, or through its permalink when its
subtree is large. An id missing from an answer the budget may have cut (below
top level) is first asked once more in the next call of its depth, shared with
the other ids there (a call packed with room, :data:`RIDE_FILL`), unless its
stub's count shows it has no replies (then info alone settles it): that answer
shows it, or leaves it out without being cut, which makes it a dropped deleted leaf for certain.  Left out by
:data:`CUT_TRIES` full calls (on a thread whose calls are all full, as one
comment with thousands of replies), it waits for the last call of its depth,
packed with room (:data:`FLUSH_FILL`) and without held comments to fill it, so
that its answer tells. Classifying such ids only at
the end would cost a lone morechildren call per depth for the ``[deleted]``
ones whose replies the count cannot rule out. A pending id whose parent an
answer showed with its complete reply listing, and which that listing left out,
is such a dropped deleted leaf for certain: a known leaf for info.

An :class:`Expansion` can be replayed from archived answers (:meth:`replay`),
dispatching on each record's endpoint, so a run killed halfway through a thread
resumes it without asking again.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from scraper.errors import TooManyIds
from scraper.sources import endpoints as ep
from scraper.sources.reddit import MORECHILDREN_MAX_IDS, TREE_LIMIT

#: How often an id is asked through morechildren before it is classified through /api/info.
MORECHILDREN_TRIES = 2
#: ... and again, up to this many times in all, while ids of its depth never asked yet wait (a call made anyway).
CUT_TRIES = 4
#: ... then it waits for the last call of its depth, which has room (full calls, each cut by the budget, cannot
#: tell a comment the budget cut from a deleted leaf the answer dropped), asked up to this many times in all.
WAIT_TRIES = CUT_TRIES + 2
#: ... and that call is packed to this share of the budget, so that its answer tells (:func:`_exhausted`).
FLUSH_FILL = 0.85
#: A call of a depth where an id rides again (a full answer left it out) is packed to this share of the budget,
#: without held comments to fill it, so that its answer has room and tells what it leaves out.
RIDE_FILL = 0.85
#: Reddit shows comments to depth 9; morechildren returns nothing for ids at depth 10 or more.
MAX_DEPTH = 10
#: Comments a morechildren answer spends, over the ids asked and their descendants (WIRE-FORMAT §4b).
BUDGET = 100
#: A subtree fetched through one permalink must fit a tree answer (500), with room for dropped deleted leaves.
ROOT_MAX = int(TREE_LIMIT * 0.9)
#: Morechildren batches are packed to this many budgets of estimated subtree: a stub's count overstates
#: what one answer can spend (deleted leaves already dropped, replies at depth 10 and more).
FILL = 1.0
#: A permalink for pending stubs pays when they bring more than one morechildren answer.
ROOT_MIN = BUDGET
#: ... and for a comment whose known subtree does not fit one tree answer, when what its answer brings new
#: (what the pending stubs can bring, at most the room its held comments leave) is more than this.
BIG_ROOT_MIN = 2 * BUDGET
#: A morechildren call's first id whose stub counted this many comments per id is asked through its permalink.
ALONE_PER_ID = ROOT_MAX
#: Continue-this-thread parents may share the permalink of an ancestor up to this many levels up.
GROUP_MAX_LEVELS = 7
#: ... if the ancestor's subtree already held stays under this many comments (a tree answer shows ~500).
GROUP_MAX_HELD = 300
#: A live comment the budget cut, whose stub counted more than this per id, is asked again through its permalink.
SUBTREE_PER_ID = 100
#: An answer that showed (or dropped) this share of the budget may have cut requested ids.
EXHAUSTED = 0.9
DELETED = "[deleted]"
#: A stub's count includes every comment below its ids however deep, but an answer shows nothing past depth 9:
#: each id is taken to hide at most this many comments per level it has above depth 10 (module docstring).
SHALLOW_PER_LEVEL = 3
#: Room left in a morechildren call, up to this share of the budget, goes to held comments of its depth whose
#: answers bring pending stubs deeper below them (:meth:`Expansion._proxies`).
#: Room left in a morechildren call, up to this share of the budget, goes to held comments of its depth whose
#: answers bring pending stubs deeper below them (:meth:`Expansion._proxies`).
PROXY_FILL = 0.9


def _whole(value: Any, otherwise: int) -> int:
    """A stub's ``count`` or ``depth`` (an int on the wire); missing is 0, any other non-number ``otherwise``."""
    if value is None:
        return 0
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return otherwise
    return int(number) if math.isfinite(number) else otherwise


def _reach(count: float, ids: int, depth: int) -> float:
    """What ``ids`` ids at ``depth`` whose stub counts ``count`` can bring into an answer: at most
    :data:`SHALLOW_PER_LEVEL` comments per id and level above depth 10 (a chain past depth 10 counts in full in
    ``count``, but morechildren and a permalink show only its first levels)."""
    return min(count, ids * SHALLOW_PER_LEVEL * max(1, MAX_DEPTH - depth))


def _exhausted(shown: int, missing: int, rate: float = 0.0) -> bool:
    """Whether a morechildren answer may have spent its whole budget, and so cut requested ids: it spent one
    for each comment it showed and each requested id it left out (a dropped deleted leaf, if not cut), and
    some for deleted leaves it dropped below the comments it showed, never listed: taken as the budget's last
    tenth (:data:`EXHAUSTED`, at most one a shown comment), or twice what the thread's share ``rate`` of
    deleted leaves among the comments seen makes of the shown comments, if more (a thread where a fifth of
    the comments are deleted leaves drops about twenty below eighty shown).  An answer that showed nothing
    dropped nothing below."""
    dropped = max(min(shown, BUDGET - EXHAUSTED * BUDGET), math.ceil(2 * shown * rate / max(0.5, 1 - rate)))
    return shown + missing + dropped >= BUDGET


class TreeClient(Protocol):
    """The three calls expansion needs (``RedditClient`` provides them)."""

    def comment_tree(
        self, link: str, *, comment: str | None = None, sort: str = ..., limit: int = ...
    ) -> list[Any]: ...

    def more_children(self, link_fullname: str, ids: list[str], *, sort: str = ...) -> list[Any]: ...

    def info(self, fullnames: list[str]) -> dict[str, Any]: ...


@dataclass
class TreeResult:
    """What expanding one thread achieved.

    ``held`` counts every comment held, tombstones of user-deleted leaves
    included (``deleted_leaves`` of them).  ``vanished`` ids were asked through
    morechildren and neither returned nor announced again; ``on_vanished`` is
    the requests they cost: the info calls beyond those the known leaves
    needed, and asks that brought nothing new.
    """

    link: str
    num_comments: int | None
    held: int
    requests: Counter[str] = field(default_factory=Counter)
    unresolved: dict[str, str] = field(default_factory=dict)
    deleted_leaves: int = 0
    vanished: int = 0
    on_vanished: int = 0

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
            "deleted_leaves": self.deleted_leaves,
            "vanished": self.vanished,
            "on_vanished": self.on_vanished,
            "requests": dict(self.requests),
            "unresolved": dict(self.unresolved),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TreeResult:
        """The inverse of :meth:`as_json` (older summaries lack the deleted-leaf figures)."""
        return cls(
            data["link"],
            data.get("num_comments"),
            data["held"],
            Counter(data.get("requests") or {}),
            dict(data.get("unresolved") or {}),
            int(data.get("deleted_leaves") or 0),
            int(data.get("vanished") or 0),
            int(data.get("on_vanished") or 0),
        )


def _children(listing: Any) -> list[Any]:
    if isinstance(listing, dict):
        return list((listing.get("data") or {}).get("children") or [])
    return []


@dataclass
class _Answer:
    """What one answer showed: comments, ids its stubs listed, comments whose reply listing is complete."""

    shown: set[str] = field(default_factory=set)
    listed: set[str] = field(default_factory=set)
    complete: set[str] = field(default_factory=set)
    stubs: list[dict[str, Any]] = field(default_factory=list)
    new: int = 0


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
    per_id: dict[str, float] = field(default_factory=dict)  # announced id -> its stub's count per id
    stub_count: dict[str, int] = field(default_factory=dict)  # parent id -> its latest stub's count
    stub_reach: dict[str, float] = field(default_factory=dict)  # parent id -> what its stub can bring (_reach)
    stub_of: dict[str, tuple[int, tuple[str, ...]]] = field(default_factory=dict)  # id -> its stub's count, ids
    leaves: set[str] = field(default_factory=set)  # announced ids known to have no replies
    inferred: set[str] = field(default_factory=set)  # of those, the ones taken for dropped deleted leaves
    to_info: dict[str, str] = field(default_factory=dict)  # id -> "leaf" | "vanished", for /api/info
    ambiguous: set[str] = field(default_factory=set)  # vanished from an answer that may have cut them
    reask: dict[str, int] = field(default_factory=dict)  # held id whose replies are asked again -> depth
    subtree: list[str] = field(default_factory=list)  # ids to fetch through their own permalink
    roots: list[str] = field(default_factory=list)  # held comments whose permalink serves stubs below them
    rooted: set[str] = field(default_factory=set)
    continue_parents: list[str] = field(default_factory=list)
    continued: set[str] = field(default_factory=set)
    group_roots: set[str] = field(default_factory=set)  # ancestors fetched for several continue parents
    alone: set[str] = field(default_factory=set)  # continue parents a shared ancestor failed: asked alone
    tries: Counter[str] = field(default_factory=Counter)
    given_up: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)  # settled user-deleted leaves (tombstones)
    gone: set[str] = field(default_factory=set)  # /api/info showed them [deleted]
    vanished: set[str] = field(default_factory=set)
    unresolved: dict[str, str] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    info_leaf_ids: int = 0
    wasted: int = 0  # asks that brought nothing new
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
        self._settle(cid)
        self.unresolved.pop(cid, None)
        return True

    def _settle(self, cid: str) -> None:
        """``cid`` needs no further request of its own."""
        self.pending.pop(cid, None)
        self.pending_parent.pop(cid, None)
        self.to_info.pop(cid, None)
        self.reask.pop(cid, None)

    def _stub(self, data: dict[str, Any], answer: _Answer) -> None:
        parent = str(data.get("parent_id", ""))
        parent_id = parent[3:] if parent.startswith("t1_") else ""
        children = [str(c) for c in data.get("children") or []]
        if not children or data.get("id") == "_":
            if parent_id and parent_id not in self.continued and parent_id not in self.continue_parents:
                self.continue_parents.append(parent_id)
            return
        answer.listed.update(children)
        depth = self.depth[parent_id] + 1 if parent_id in self.depth else _whole(data.get("depth"), 0)
        # A count that is not a number (hostile, not real): unknown, so the ids may hide replies (not leaves).
        count = max(_whole(data.get("count"), len(children) + 1), len(children))
        if parent_id:
            self.stub_count[parent_id] = count
            self.stub_reach[parent_id] = _reach(count, len(children), depth)
        fresh = [c for c in children if c not in self.depth and c not in self.given_up and c not in self.deleted]
        for cid in fresh:
            self.pending[cid] = depth
            self.pending_parent[cid] = parent_id
            self.per_id[cid] = count / len(children)
            self.stub_of[cid] = (count, tuple(children))
            if count == len(children):  # count includes descendants: these ids have none
                self.leaves.add(cid)
        if fresh:
            answer.stubs.append({"parent": parent_id, "depth": depth, "count": count, "ids": fresh})

    def _absorb(self, things: list[Any], *, nested: bool) -> _Answer:
        """Take in nested (tree) or flat (morechildren) things.

        In a tree answer a comment's level is its nesting; in a flat one, its
        absolute depth.  A comment shown above level 9 has its complete reply
        listing in the answer: shown replies, then a stub for the hidden ones.
        """
        answer = _Answer()
        stack = [(t, 0) for t in reversed(things)]
        while stack:
            thing, level = stack.pop()
            if not isinstance(thing, dict):
                continue
            data = thing.get("data") or {}
            if thing.get("kind") == "t1":
                cid = str(data.get("id"))
                answer.new += self._hold(data)
                answer.shown.add(cid)
                if not nested:
                    level = self.depth.get(cid, level)
                if level < MAX_DEPTH - 1:
                    answer.complete.add(cid)
                stack.extend((t, level + 1) for t in reversed(_children(data.get("replies"))))
            elif thing.get("kind") == "more":
                self._stub(data, answer)
        for cid, parent in list(self.pending_parent.items()):
            # A dropped user-deleted leaf: its parent's reply listing is complete here and leaves it out.
            if parent in answer.complete and cid not in answer.listed and cid not in answer.shown:
                self.leaves.add(cid)
                self.inferred.add(cid)
                self.to_info.setdefault(cid, "leaf")
        with_pending = set(self.pending_parent.values())
        for stub in answer.stubs:
            self._route(stub, with_pending)
        return answer

    def _route(self, stub: dict[str, Any], with_pending: set[str]) -> None:
        """Choose the endpoint for a new stub's ids (module docstring)."""
        ids = [c for c in stub["ids"] if c in self.pending]
        if not ids:
            return
        parent, depth = stub["parent"], stub["depth"]
        if parent and not self._covered(ids[0]):
            root = self._root_for(parent, depth, with_pending, force=depth >= MAX_DEPTH)
            if root is not None:
                self.roots.append(root)
                return
        if all(c in self.leaves for c in ids):
            for cid in ids:
                self.to_info.setdefault(cid, "leaf")
            return
        if depth >= MAX_DEPTH:
            for cid in ids:  # morechildren answers nothing this deep / big subtrees behind few ids
                if cid in self.leaves:
                    self.to_info.setdefault(cid, "leaf")
                elif cid not in self.subtree:
                    self.subtree.append(cid)

    def _root_for(self, parent: str, depth: int, with_pending: set[str], *, force: bool) -> str | None:
        """The comment whose permalink serves this stub and others best, if one beats morechildren.

        Of ``parent`` and its ancestors with the stub within their ten levels, the
        highest whose known subtree (held, plus its pending stubs' counts) fits one
        tree answer, if the pending part is more than one morechildren answer
        serves (or ``force``: the stub is too deep for morechildren).
        """
        best, node = None, parent
        # Too deep for morechildren: the parent itself, whose answer shows the most levels below the stub.
        top = depth - 1 if force else depth - (MAX_DEPTH - 1)
        while node and node in self.depth and self.depth[node] >= top:
            held, hidden = self._mass(node, with_pending)
            if held + hidden > ROOT_MAX:
                if node == parent and node not in self.rooted and node not in self.group_roots:
                    held, hidden = self._mass(node, with_pending, cap=float("inf"))
                    if min(hidden, ROOT_MAX - held) > BIG_ROOT_MIN:
                        best = node  # more than it fits, but its answer brings several morechildren answers' worth
                break
            if node not in self.rooted and node not in self.group_roots and (hidden > ROOT_MIN or force):
                best = node
            node = self.parent.get(node, "")
        return best

    def _mass(self, root: str, with_pending: set[str], cap: float = ROOT_MAX) -> tuple[int, float]:
        """Comments held in ``root``'s ten levels, and what the pending stubs they show can bring
        (:func:`_reach`); the walk stops just past ``cap``."""
        held, hidden = 0, 0.0
        stack = [(root, 0)]
        while stack and held + hidden <= cap:
            node, level = stack.pop()
            held += 1
            if node in with_pending and level < MAX_DEPTH - 1:
                hidden += self.stub_reach.get(node, 0.0)
            if level < MAX_DEPTH - 1:
                stack.extend((child, level + 1) for child in self.replies.get(node, ()))
        return held, hidden

    def on_tree(self, answer: list[Any]) -> None:
        """The whole-thread answer of ``GET /comments/{link}``."""
        self.started = True
        subs = _children(answer[0])
        if subs:
            num = (subs[0].get("data") or {}).get("num_comments")
            self.num_comments = num if isinstance(num, int) else None
        self._absorb(_children(answer[1]), nested=True)
        self._route_deep()

    def on_subtree(self, comment: str, answer: list[Any]) -> None:
        """The answer of ``GET /comments/{link}/_/{comment}``: a root, a continue parent or group, or one id."""
        if comment in self.subtree:
            self.subtree.remove(comment)
        if comment in self.roots:
            self.roots.remove(comment)
            self.rooted.add(comment)
        elif comment in self.continue_parents and comment not in self.group_roots:
            self.continue_parents.remove(comment)
            self.continued.add(comment)
        elif not ({comment} & (self.continued | self.rooted) or comment in self.pending or comment in self.reask):
            self.group_roots.add(comment)  # a shared ancestor of continue parents: asked once
        own = comment in self.pending or comment in self.reask
        if own:
            self.given_up.add(comment)  # asked by permalink: never queued again by later stubs
        top = _children(answer[1])
        if not (top and (top[0].get("data") or {}).get("id") == comment):
            # Reddit ignores an unknown comment and answers the whole thread; a user-deleted leaf's
            # permalink shows no comment: nothing to take either way.
            if comment in self.group_roots:
                self._alone_below(comment, set())
            elif comment in self.continued:
                self.unresolved[f"continue:{comment}"] = "the subtree's permalink did not return its comment"
            elif comment in self.pending:
                self.to_info.setdefault(comment, "vanished")  # info tells a deleted leaf from a lost comment
            elif comment in self.reask:
                self._settle(comment)
            if own and comment in self.vanished | self.gone:
                self.wasted += 1  # a request spent on a vanished id
            self._route_deep()
            return
        taken = self._absorb(top, nested=True)
        self._settle(comment)
        if own and comment in self.depth:
            self.given_up.discard(comment)
        root_depth = self.depth.get(comment, 0)
        for parent in list(self.continue_parents):
            # Shown with room below it (depth restarts at 0 here): its replies came in this answer.
            if parent in taken.shown and self.depth.get(parent, 0) - root_depth < MAX_DEPTH - 1:
                self.continue_parents.remove(parent)
                self.continued.add(parent)
        if comment in self.group_roots:
            self._alone_below(comment, taken.shown)
        if own and comment in self.vanished and not taken.new and not taken.stubs:
            self.wasted += 1
        self._route_deep()

    def _alone_below(self, root: str, seen: set[str]) -> None:
        """Parents a shared ancestor's answer should have settled and did not: their own permalinks next."""
        self.alone.update(p for p in self.continue_parents if p not in seen and self._within(p, root))

    def on_more(self, batch: list[str], things: list[Any]) -> None:
        """The answer of ``POST /api/morechildren`` for ``batch``."""
        taken = self._absorb(things, nested=False)
        missing = [c for c in batch if c not in taken.shown and c not in taken.listed]
        rate = (len(self.deleted) + len(self.inferred)) / max(BUDGET, len(self.depth) + len(self.inferred))
        exhausted = _exhausted(len(taken.shown), len(missing), rate)
        # Top-level ids the budget cut come back in a stub where Reddit re-announces them (the archived builder
        # does), so one missing from an answer that re-announced others was dropped; one missing from a cut
        # answer that re-announced none may have been cut and vanished (WIRE-FORMAT §4b): asked again.
        reannounced = any(c in taken.listed for c in batch if self.pending.get(c) == 0)
        if all(c in self.vanished for c in batch) and not taken.new and not taken.stubs:
            self.wasted += 1  # asked again for vanished ids, and nothing new came
        for cid in batch:
            self.tries[cid] += 1
            if cid in self.reask:
                if cid in taken.shown:
                    self.reask.pop(cid)  # its replies are shown or announced now
                elif cid not in taken.listed:
                    self._reask_lost(cid, exhausted)
                elif self.tries[cid] > MORECHILDREN_TRIES:
                    self._settle(cid)  # announced again and again, never served
                    self.unresolved[cid] = "held; its replies were announced but never served"
                continue
            if cid in self.depth or cid not in self.pending:
                continue  # held, or settled meanwhile
            if cid in taken.listed:
                if not taken.new and self.tries[cid] >= MORECHILDREN_TRIES:
                    # announced again by an answer that brought nothing new: info says what it is
                    self.to_info.setdefault(cid, "vanished")
                    self.ambiguous.add(cid)
                continue
            # Neither shown nor announced again: a dropped deleted leaf or a comment the budget cut.
            self.vanished.add(cid)
            if not exhausted or (self.pending.get(cid) == 0 and reannounced):
                self.to_info.setdefault(cid, "vanished")
                self.leaves.add(cid)  # every requested id was served (top level: unserved ones came back)
                self.inferred.add(cid)
                self.ambiguous.discard(cid)
            elif self._counted_out(cid, unheld=True):
                self.to_info.setdefault(cid, "vanished")  # a leaf by the count: info holds it or settles it
                self.leaves.add(cid)
                self.ambiguous.discard(cid)
            elif self.tries[cid] < MORECHILDREN_TRIES or (
                self.tries[cid] < WAIT_TRIES and self._fresh_at(self.pending[cid])
            ):
                # The budget may have cut it: it stays pending and rides in the next call of its depth,
                # whose answer tells (shown, or missing again from an answer that was not cut: dropped).
                # Asked now, while that depth has other ids to share the call, not alone at the end; after
                # CUT_TRIES full calls left it out, it waits for the depth's last call, which has room.
                continue
            else:
                self.to_info.setdefault(cid, "vanished")
                self.ambiguous.add(cid)
        self._route_deep()

    def _fresh_at(self, depth: int) -> bool:
        """Whether an id at ``depth`` never asked yet waits for morechildren: a call of that depth is made anyway."""
        routed = self.to_info.keys() | set(self.subtree)
        return any(
            d == depth and not self.tries[c] and c not in routed and not self._covered(c)
            for c, d in self.pending.items()
        )

    def _reask_lost(self, cid: str, exhausted: bool) -> None:
        """A held comment whose replies were asked again, and that did not come back."""
        if cid in self.gone and not exhausted:
            self.deleted.add(cid)  # served within the budget and not shown: a user-deleted leaf
            self._settle(cid)
        elif self.tries[cid] > MORECHILDREN_TRIES:
            self._settle(cid)
            self.unresolved[cid] = "held; asked again for its replies, never returned"
        elif exhausted or cid in self.subtree or cid in self.given_up:
            return  # cut by the budget again: asked again with fewer siblings
        else:  # not cut, not deleted, still not shown: its own permalink (it stays in reask till answered)
            self.subtree.append(cid)

    def on_info(self, batch: list[str], answer: Any) -> None:
        """The answer of ``GET /api/info`` for ``batch`` (comment ids without their ``t1_``)."""
        found = {}
        for thing in _children(answer):
            if isinstance(thing, dict) and thing.get("kind") == "t1":
                data = thing.get("data") or {}
                found[str(data.get("id"))] = data
        self.info_leaf_ids += sum(1 for c in batch if self.to_info.get(c) == "leaf" and c not in self.vanished)
        asked = {cid: (self.pending.get(cid), self.to_info.pop(cid, None)) for cid in batch}
        for cid in batch:
            if cid in found:
                self._hold(found[cid])
            elif cid in self.pending:
                self._settle(cid)
                self.unresolved[cid] = "announced by a stub, returned neither by morechildren nor /api/info"
        for cid in batch:
            depth, reason = asked[cid]
            data = found.get(cid)
            if data is None:
                continue
            gone = data.get("body") == DELETED and data.get("author") == DELETED
            if gone:
                self.gone.add(cid)
            certain = cid in self.leaves and cid not in self.ambiguous and (gone or cid not in self.inferred)
            if certain or (gone and (cid in self.given_up or self._counted_out(cid))):
                if gone:  # a leaf, or its permalink showed nothing: a user-deleted leaf, settled
                    self.deleted.add(cid)
                continue
            if reason is None or depth is None or cid in self.given_up:
                continue
            # A comment the budget cut (or a deleted one that may have replies): its replies next.
            self.reask[cid] = self.depth[cid]
            self.tries[cid] = 0
            if self.per_id.get(cid, 1.0) > SUBTREE_PER_ID:
                self.subtree.append(cid)
        self._route_deep()

    def _counted_out(self, cid: str, *, unheld: bool = False) -> bool:
        """Whether the stub that announced ``cid`` leaves it no replies: every id it listed is held, and
        they and the comments held below them already make up its ``count``.

        With ``unheld``, ids not held yet count one each: if the total still makes up the count (which
        includes everything below the ids), none of them has a reply either.
        """
        count, ids = self.stub_of.get(cid, (0, ()))
        if not ids or (not unheld and any(i not in self.depth for i in ids)):
            return False
        below = sum(1 for i in ids if i not in self.depth)
        stack = [i for i in ids if i in self.depth]
        while stack and below < count:
            node = stack.pop()
            below += 1
            stack.extend(self.replies.get(node, ()))
        return below >= count

    # -- choosing the next request ------------------------------------------------------
    def _more_batch(self) -> list[str]:
        """Ids of one depth (the shallowest), siblings together, whose estimated subtrees fit the budget; room
        left goes to held comments of that depth with pending stubs below them (:meth:`_proxies`)."""
        routed = set(self.to_info) | set(self.subtree)
        candidates = {c: d for c, d in self.pending.items() if c not in routed and not self._covered(c)}
        candidates.update({c: d for c, d in self.reask.items() if c not in routed})
        if not candidates:
            return []
        shallowest = min(candidates.values())
        same = [cid for cid, d in candidates.items() if d == shallowest]
        # ids asked before (a budget-cut answer left them out) first, so that they ride with ids never asked;
        # ids full calls kept leaving out last: they wait for the depth's last call, which has room (WAIT_TRIES)
        same.sort(
            key=lambda cid: (
                self.tries[cid] >= CUT_TRIES,
                not self.tries[cid],
                self.pending_parent.get(cid, self.parent.get(cid, "")),
                cid,
            )
        )
        riders = False  # ids a full answer left out, asked again in this call
        if shallowest == 0 and not any(c in self.vanished for c in same):
            batch = same[:MORECHILDREN_MAX_IDS]  # unserved top-level ids come back in a stub (else: packed below)
            spent = sum(max(1.0, _reach(self.per_id.get(c, 1.0), 1, 0)) for c in batch)
        else:
            riders = any(self.tries[c] and c in self.pending for c in same)
            fill = RIDE_FILL if riders else FILL
            batch, spent = [], 0.0
            for cid in same[:MORECHILDREN_MAX_IDS]:
                waiting = self.tries[cid] >= CUT_TRIES  # left out by full calls, so far a comment's budget each
                cost = 1.0 if waiting else max(1.0, _reach(self.per_id.get(cid, 1.0), 1, shallowest))
                if batch and spent + cost > BUDGET * (FLUSH_FILL if waiting else fill):
                    break
                batch.append(cid)
                spent += cost
        if riders or any(self.tries[c] >= CUT_TRIES for c in batch):
            return batch  # its answer must have room, to tell what it leaves out: no held comments to fill it
        room = BUDGET * PROXY_FILL - spent
        proxies, room = self._proxies(shallowest, room, candidates, MORECHILDREN_MAX_IDS - len(batch))
        return batch + proxies + self._leaf_riders(shallowest, room, MORECHILDREN_MAX_IDS - len(batch) - len(proxies))

    def _leaf_riders(self, depth: int, room: float, slots: int) -> list[str]:
        """Leaves of ``depth`` queued for /api/info, for the room left in a morechildren call of that depth.

        A leaf spends one comment of the budget, shown if live; a user-deleted one spends it and shows nothing,
        and goes on to /api/info as before.  So the room a call of that depth leaves unused takes live leaves
        that would otherwise fill info calls.
        """
        riders: list[str] = []
        for cid, why in self.to_info.items():
            if len(riders) >= min(slots, room):
                break
            if why == "leaf" and self.pending.get(cid) == depth and not self.tries[cid] and cid not in self.vanished:
                riders.append(cid)
        return riders

    def _alone(self, batch: list[str]) -> str | None:
        """The id to ask through its permalink instead of this morechildren call, if any.

        - A call for one id whose stub counted more than a morechildren answer shows (:data:`BUDGET`): both
          answers show the comment and its subtree best-first; the permalink shows ten levels below it
          (morechildren stops at depth 9) and spends ~500 comments (morechildren ~100), so it shows as much
          or more for the same request, and more where the subtree is larger than one morechildren answer.
        - A call whose first id's stub counted more per id than one tree answer shows (:data:`ALONE_PER_ID`):
          the ids average more than a permalink can bring, a morechildren answer would bring 100 of them, and
          most of those again in the permalink each big one gets next (:meth:`_root_for`).  The first id's
          permalink; once its subtree is held the others follow, the last one alone.

        An id an answer left out (cut by the budget, or a dropped deleted leaf) keeps its morechildren call,
        whose answer tells which.
        """
        asked = [c for c in batch if c not in self.to_info]  # leaves riding for /api/info wait for their call
        if not asked or self.per_id.get(asked[0], 0.0) <= (BUDGET if len(asked) == 1 else ALONE_PER_ID):
            return None
        cid = asked[0]
        return cid if cid in self.pending and cid not in self.vanished | self.ambiguous | self.leaves else None

    def _proxies(self, depth: int, room: float, candidates: dict[str, int], slots: int) -> tuple[list[str], float]:
        """Held comments at ``depth`` whose answers bring pending stubs deeper below them, for the room left in a
        morechildren call of that depth.

        Reddit serves the asked ids of the shallowest depth with their subtrees down to depth 9, showing again
        what is held: a comment's cost is its held comments above depth 10 plus what the pending stubs below it
        can bring (:func:`_reach`).  Best share of new comments first, while they fit.
        """
        below: dict[str, float] = {}
        for cid, d in candidates.items():
            if d <= depth or d >= MAX_DEPTH or cid not in self.pending:
                continue
            node = self.pending_parent.get(cid, "")
            while node and self.depth.get(node, -1) > depth:
                node = self.parent.get(node, "")
            if node and self.depth.get(node) == depth and node not in self.reask:
                below[node] = below.get(node, 0.0) + max(1.0, _reach(self.per_id.get(cid, 1.0), 1, d))
        ranked = []
        for node, mass in below.items():
            cost = self._held_within(node, room) + mass
            if cost <= room:
                ranked.append((-mass / cost, cost, node))
        chosen: list[str] = []
        for _, cost, node in sorted(ranked):
            if cost <= room and len(chosen) < slots:
                chosen.append(node)
                room -= cost
        return chosen, room

    def _held_within(self, root: str, cap: float) -> int:
        """Held comments in ``root``'s subtree above depth 10, counted up to just past ``cap``."""
        count, stack = 0, [root]
        while stack and count <= cap:
            node = stack.pop()
            count += 1
            stack.extend(c for c in self.replies.get(node, ()) if self.depth.get(c, MAX_DEPTH) < MAX_DEPTH)
        return count

    def _route_deep(self) -> None:
        """Ids at depth 10 or more left for morechildren (which answers nothing there): info or permalink.

        Called at the end of every answer's handling, so that a replay routes exactly as a live run.
        """
        routed = set(self.to_info) | set(self.subtree)
        deep = [c for c, d in self.pending.items() if d >= MAX_DEPTH and c not in routed and not self._covered(c)]
        deep += [c for c, d in self.reask.items() if d >= MAX_DEPTH and c not in routed]
        for cid in deep:
            if cid in self.leaves and cid not in self.reask:
                self.to_info.setdefault(cid, "leaf")
            else:
                self.subtree.append(cid)

    def _covered(self, cid: str) -> bool:
        """Whether a queued root's permalink will serve ``cid``."""
        node = self.pending_parent.get(cid, "")
        for _ in range(MAX_DEPTH):
            if not node:
                return False
            if node in self.roots:
                return True
            node = self.parent.get(node, "")
        return False

    def _info_batch(self, final: bool) -> list[str]:
        """100 ids for /api/info once that many are queued, or what is queued when nothing else is left."""
        if len(self.to_info) >= MORECHILDREN_MAX_IDS or (final and self.to_info):
            return list(self.to_info)[:MORECHILDREN_MAX_IDS]
        return []

    def done(self) -> bool:
        """Nothing left to ask."""
        return self.started and not (
            self.pending or self.continue_parents or self.to_info or self.reask or self.roots or self.subtree
        )

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

        The order: the thread; permalinks of roots and of big or unreachable
        subtrees; morechildren; /api/info once 100 ids are queued;
        continue-this-thread parents (late, when most are known and can share
        requests); the last partial /api/info batch.
        """
        if not self.started:
            self.requests[ep.COMMENTS] += 1
            self.on_tree(client.comment_tree(self.link, sort=self.sort))
        elif self.roots or self.subtree:
            cid = self.roots[0] if self.roots else self.subtree[0]
            if cid in self.subtree and cid not in self.pending and cid not in self.reask:
                self.subtree.remove(cid)  # held meanwhile
                return
            self.requests[ep.COMMENTS] += 1
            self.on_subtree(cid, client.comment_tree(self.link, comment=cid, sort=self.sort))
        elif batch := self._more_batch():
            if alone := self._alone(batch):
                self.requests[ep.COMMENTS] += 1
                self.on_subtree(alone, client.comment_tree(self.link, comment=alone, sort=self.sort))
            else:
                self._more(client, batch)
        elif info := self._info_batch(final=False):
            self._info(client, info)
        elif self.continue_parents:
            root = self._continue_root()
            if root == self.continue_parents[0]:
                self.continue_parents.pop(0)
                self.continued.add(root)
            self.requests[ep.COMMENTS] += 1
            self.on_subtree(root, client.comment_tree(self.link, comment=root, sort=self.sort))
        elif info := self._info_batch(final=True):
            self._info(client, info)
        elif not (self.subtree or self.to_info):  # (_more_batch may have routed deep ids there)
            # pending ids nobody can serve (a broken answer): record them rather than loop
            for cid in list(self.pending):
                self._settle(cid)
                self.unresolved[cid] = "announced by a stub, no request left that could return it"

    def _info(self, client: TreeClient, batch: list[str]) -> None:
        self.requests[ep.INFO] += 1
        self.on_info(batch, client.info([f"t1_{c}" for c in batch]))

    def _more(self, client: TreeClient, batch: list[str]) -> None:
        self.requests[ep.MORECHILDREN] += 1
        try:
            things = client.more_children(f"t3_{self.link}", batch, sort=self.sort)
        except TooManyIds:
            if len(batch) == 1:
                self._settle(batch[0])
                self.unresolved[batch[0]] = "morechildren refused even a single id"
                return
            half = len(batch) // 2  # 400/413/414 on a long list: split and ask again
            self._more(client, batch[:half])
            self._more(client, batch[half:])
            return
        self.on_more(batch, things)

    def result(self) -> TreeResult:
        """What the expansion achieved so far."""
        on_vanished = max(0, self.requests[ep.INFO] - math.ceil(self.info_leaf_ids / MORECHILDREN_MAX_IDS))
        return TreeResult(
            self.link,
            self.num_comments,
            len(self.depth),
            Counter(self.requests),
            dict(self.unresolved),
            deleted_leaves=len(self.deleted),
            vanished=len(self.vanished),
            on_vanished=on_vanished + self.wasted,
        )

    # -- resuming from the archive --------------------------------------------------
    def replay(self, record: dict[str, Any], body: Any) -> None:
        """Take in an archived answer of this thread, as if it had just arrived."""
        if record.get("status") != 200:
            return
        endpoint = ep.endpoint_of(record)
        if endpoint == ep.MORECHILDREN:
            batch = [c for c in str((record.get("form") or {}).get("children", "")).split(",") if c]
            things = ((body or {}).get("json", {}).get("data") or {}).get("things") or []
            self.requests[ep.MORECHILDREN] += 1
            self.on_more(batch, things)
        elif endpoint == ep.INFO:
            batch = [n[3:] for n in str((record.get("params") or {}).get("id", "")).split(",") if n]
            self.requests[ep.INFO] += 1
            self.on_info(batch, body)
        elif endpoint == ep.COMMENTS and isinstance(body, list) and len(body) == 2:
            self.requests[ep.COMMENTS] += 1
            comment = ep.subtree_comment(str(record.get("url") or ""))
            if comment is None:
                self.on_tree(body)
                return
            if comment in self.continue_parents and comment not in self.roots and comment not in self.subtree:
                root = self._continue_root()
                if root == comment:  # asked as itself, not as a shared ancestor
                    self.continue_parents.remove(comment)
                    self.continued.add(comment)
            self.on_subtree(comment, body)
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
