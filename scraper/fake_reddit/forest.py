"""Threads held by the fake Reddit, and the rules by which Reddit cuts them.

The rules follow the archived reddit code (``r2/r2/models/builder.py``:
``CommentOrdererBase``, ``ChildrenCommentOrderer``, ``PermalinkCommentOrderer``,
``CommentBuilder._make_wrapped_tree``) as summarised in WIRE-FORMAT.md §4b:

- best-first picking with a budget (500 for a tree, ~100 for morechildren);
  comments at depth 10 and deeper are never picked (morechildren counts depth
  from 0 whatever the ids' depth, so it answers nothing for them);
- a user-deleted leaf that is picked spends budget and is not shown (and not
  listed anywhere: the builder drops it when rendering); one that is not
  picked is listed in its parent's load-more stub like any hidden child;
- a shown comment's hidden children become one load-more stub whose ``count``
  is the comment's descendants minus the picked children's subtrees, the
  dropped deleted leaves among them included (``CommentBuilder._make_wrapped_tree``
  counts every picked child as visible before it drops the deleted leaves), so
  it is exactly what hides below the listed ids; unpicked top-level candidates become one
  stub at the end of the top level; a shown comment at depth 9 with replies
  gets a continue-this-thread stub;
- morechildren serves only the requested ids at the shallowest depth; its
  unpicked requested ids at depth 0 come back in a stub, deeper ones
  **vanish** (``orphans="vanish"``, the archived code) or come back in a stub
  per parent (``orphans="stub"``, the other behaviour seen in recordings);
- a deleted leaf's permalink shows no comment; ``/api/info`` shows it as
  ``[deleted]``.

``vanish_rate`` additionally drops that share of the leftover ids a stub would
list, at random (per request, reproducibly): a harsher server than either rule.
"""

from __future__ import annotations

import copy
import hashlib
import heapq
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_DEPTH = 10
MORECHILDREN_BUDGET = 100
#: What morechildren does with requested ids below top level that miss its budget (module docstring).
ORPHAN_RULES = ("vanish", "stub")

_IMMUTABLE = (str, int, float, bool, type(None))


def _copy(value: Any) -> Any:
    """A deep copy of a JSON value (dicts, lists, scalars), as ``copy.deepcopy`` makes it, without its memo.

    The forest copies every comment it adds and every comment each answer shows (tests change
    the answers and the forest's own comments apart); ``copy.deepcopy`` cost most of the fake
    server's CPU. Anything that is not a JSON value is handed to ``copy.deepcopy``.
    """
    kind = type(value)
    if kind is dict:
        return {key: item if type(item) in _IMMUTABLE else _copy(item) for key, item in value.items()}
    if kind is list:
        return [item if type(item) in _IMMUTABLE else _copy(item) for item in value]
    if kind in _IMMUTABLE:
        return value
    return copy.deepcopy(value)


@dataclass
class Thread:
    """One submission and its comments, as Reddit stores them (no cutting)."""

    submission: dict[str, Any]
    comments: dict[str, dict[str, Any]] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)  # parent fullname -> child ids

    @property
    def fullname(self) -> str:
        return str(self.submission["name"])

    _depths: dict[str, int] = field(default_factory=dict, repr=False)
    _sizes: dict[str, int] = field(default_factory=dict, repr=False)

    def add_comment(self, data: dict[str, Any]) -> None:
        """Add one t1 (wire data without ``replies``/``depth``)."""
        self.comments[data["id"]] = data
        self.children.setdefault(data["parent_id"], []).append(data["id"])
        self._depths.clear()
        self._sizes.clear()

    def depth(self, comment_id: str) -> int:
        """Absolute depth of a comment: 0 at top level."""
        if not self._depths:
            self._index()
        return self._depths[comment_id]

    def descendants(self, comment_id: str) -> int:
        """How many comments sit below one comment (Reddit's ``num_children``)."""
        if not self._sizes:
            self._index()
        return self._sizes[comment_id]

    def _index(self) -> None:
        order: list[str] = []
        stack = [(cid, 0) for cid in self.children.get(self.fullname, [])]
        while stack:
            cid, depth = stack.pop()
            self._depths[cid] = depth
            order.append(cid)
            stack.extend((child, depth + 1) for child in self.children.get(f"t1_{cid}", []))
        for cid in reversed(order):  # children before parents
            self._sizes[cid] = sum(1 + self._sizes[c] for c in self.children.get(f"t1_{cid}", []))
        for cid in self.comments:  # comments whose parent is not in the thread: their own roots
            if cid not in self._depths:
                self._depths[cid] = 0
                self._sizes[cid] = sum(1 for _ in self.children.get(f"t1_{cid}", []))


def _sort_key(sort: str) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    if sort in ("new",):
        return lambda c: (-c["created_utc"], c["id"])
    if sort in ("old",):
        return lambda c: (c["created_utc"], c["id"])
    # confidence, top, best, controversial, qa…: score first (good enough for a fake)
    return lambda c: (-c["score"], c["created_utc"], c["id"])


def _is_deleted_leaf(thread: Thread, cid: str) -> bool:
    data = thread.comments[cid]
    return data.get("body") == "[deleted]" and not thread.children.get(f"t1_{cid}")


class Forest:
    """Every thread and subreddit the fake Reddit knows.

    User-deleted comments without replies are never shown (Reddit hides them),
    so :meth:`visible_ids` is what a complete collection can hold.
    """

    def __init__(
        self, *, seed: int = 0, vanish_rate: float = 0.0, orphans: str = "vanish", top_vanish: bool = False
    ) -> None:
        if orphans not in ORPHAN_RULES:
            raise ValueError(f"unknown orphans rule {orphans!r}: use {' or '.join(ORPHAN_RULES)}")
        self.threads: dict[str, Thread] = {}
        self.private_subreddits: set[str] = set()
        self.subreddits: set[str] = set()
        self.vanish_rate = vanish_rate
        self.orphans = orphans
        self.top_vanish = top_vanish  # under "vanish", unpicked top-level ids vanish too (WIRE-FORMAT §4b allows it)
        self.seed = seed

    # -- building -------------------------------------------------------------------
    def add_thread(
        self, submission: dict[str, Any], comments: Iterable[dict[str, Any]] = (), *, keep_count: bool = False
    ) -> Thread:
        """Add a thread; comments must come parents first.  ``num_comments`` becomes the number of comments,
        or with ``keep_count`` stays what the submission says (Reddit's count can disagree with the tree)."""
        thread = Thread(_copy(submission))
        for data in comments:
            thread.add_comment(_copy(data))
        if not keep_count or not isinstance(thread.submission.get("num_comments"), int):
            thread.submission["num_comments"] = len(thread.comments)
        self.threads[thread.submission["id"]] = thread
        self.subreddits.add(thread.submission["subreddit"].lower())
        return thread

    @classmethod
    def from_file(cls, path: Path, **kwargs: Any) -> Forest:
        """Load a forest saved as ``{"threads": [{"submission", "comments"}], "private_subreddits"}``."""
        doc = json.loads(path.read_text(encoding="utf-8"))
        forest = cls(**kwargs)
        for item in doc["threads"]:
            forest.add_thread(item["submission"], item["comments"])
        forest.subreddits.update(s.lower() for s in doc.get("subreddits", []))
        forest.private_subreddits.update(s.lower() for s in doc.get("private_subreddits", []))
        return forest

    def thing(self, fullname: str) -> dict[str, Any] | None:
        """The current t1 or t3 for a fullname, as ``/api/info`` shows it."""
        kind, _, ident = fullname.partition("_")
        if kind == "t3" and ident in self.threads:
            return {"kind": "t3", "data": _copy(self.threads[ident].submission)}
        if kind == "t1":
            for thread in self.threads.values():
                if ident in thread.comments:
                    return {"kind": "t1", "data": {**_copy(thread.comments[ident]), "replies": ""}}
        return None

    def visible_ids(self, link: str) -> set[str]:
        """The comments of a thread that a tree or morechildren answer can show (all but deleted leaves)."""
        thread = self.threads[link]
        return {cid for cid in thread.comments if not _is_deleted_leaf(thread, cid)}

    def deleted_leaf_ids(self, link: str) -> set[str]:
        """The user-deleted comments without replies: never shown in trees, ``[deleted]`` in /api/info."""
        thread = self.threads[link]
        return {cid for cid in thread.comments if _is_deleted_leaf(thread, cid)}

    # -- search ---------------------------------------------------------------------
    def search(self, subreddit: str, query: str, sort: str) -> list[dict[str, Any]]:
        """Submissions of one subreddit matching a query (``a b`` = all words, ``OR`` = any)."""
        alternatives = [_words(alt) for alt in re.split(r"\s+OR\s+", query)]
        hits = []
        for thread in self.threads.values():
            sub = thread.submission
            if sub["subreddit"].lower() != subreddit.lower():
                continue
            text = f"{sub.get('title', '')} {sub.get('selftext', '')}".lower()
            if any(all(w in text for w in alt) for alt in alternatives if alt):
                hits.append(sub)
        if sort == "new":
            hits.sort(key=lambda s: -s["created_utc"])
        elif sort in ("top", "comments"):
            hits.sort(key=lambda s: -(s["score"] if sort == "top" else s["num_comments"]))
        return [_copy(s) for s in hits]

    # -- trees ----------------------------------------------------------------------
    def tree(
        self, link: str, *, limit: int, sort: str, root: str | None = None, max_depth: int = MAX_DEPTH
    ) -> list[dict[str, Any]]:
        """The two listings of ``GET /comments/{link}`` (or ``/_/{root}``), cut like Reddit."""
        thread = self.threads[link]
        key = _sort_key(sort)
        starts = [root] if root else list(thread.children.get(thread.fullname, []))
        rel: dict[str, int] = {cid: 0 for cid in starts}
        heap = [(key(thread.comments[cid]), cid) for cid in starts]
        heapq.heapify(heap)
        picked: set[str] = set()
        redacted: set[str] = set()  # deleted leaves picked: budget spent, shown nowhere
        spent = 0
        while heap and spent < limit:
            _, cid = heapq.heappop(heap)
            spent += 1
            if _is_deleted_leaf(thread, cid):
                redacted.add(cid)  # the permalink's own comment too: its answer shows no comment
                continue
            picked.add(cid)
            if rel[cid] + 1 < max_depth:
                for child in thread.children.get(f"t1_{cid}", []):
                    rel[child] = rel[cid] + 1
                    heapq.heappush(heap, (key(thread.comments[child]), child))

        def build(cid: str) -> dict[str, Any]:
            data = {**_copy(thread.comments[cid]), "depth": rel[cid]}
            kids = self._listing_children(thread, f"t1_{cid}", picked, redacted, rel[cid] + 1, key, max_depth, build)
            data["replies"] = _listing(kids) if kids else ""
            return {"kind": "t1", "data": data}

        if root:
            top = [build(root)] if root in picked else []
        else:
            top = self._listing_children(thread, thread.fullname, picked, redacted, 0, key, max_depth, build)
        submission = {"kind": "t3", "data": _copy(thread.submission)}
        return [_listing([submission], dist=1), _listing(top)]

    def _listing_children(
        self,
        thread: Thread,
        parent: str,
        picked: set[str],
        redacted: set[str],
        depth: int,
        key: Callable[[dict[str, Any]], tuple[Any, ...]],
        max_depth: int,
        build: Callable[[str], dict[str, Any]],
    ) -> list[dict[str, Any]]:
        kids = sorted(thread.children.get(parent, []), key=lambda c: key(thread.comments[c]))
        if not kids:
            return []
        if depth >= max_depth:
            return [_continue_stub(parent, depth)]
        shown = [build(c) for c in kids if c in picked]
        hidden = [c for c in kids if c not in picked and c not in redacted]
        if hidden:
            if parent.startswith("t1_"):  # the comment's num_children minus its picked children's subtrees
                picks = picked | redacted
                count = thread.descendants(parent[3:]) - sum(1 + thread.descendants(c) for c in kids if c in picks)
            else:  # unpicked top-level candidates: their own subtrees only
                count = sum(1 + thread.descendants(c) for c in hidden)
            shown.append(self._more_stub(parent, hidden, depth, count))
        return shown

    def _more_stub(self, parent: str, ids: list[str], depth: int, count: int) -> dict[str, Any]:
        return {
            "kind": "more",
            "data": {
                "count": count,
                "name": f"t1_{ids[0]}",
                "id": ids[0],
                "parent_id": parent,
                "depth": depth,
                "children": list(ids),
            },
        }

    def _vanishes(self, cid: str, asked: str) -> bool:
        """Whether ``cid`` silently drops out of the answer to the request for ``asked``.

        A function of the request, not of how many came before: the same request
        asked again (a retry after a fault) gets the same answer, so a run with
        faults can be compared request for request with one without.
        """
        if not self.vanish_rate:
            return False
        digest = hashlib.sha256(f"{self.seed}:{cid}:{asked}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.vanish_rate

    def more_children(
        self,
        link: str,
        ids: list[str],
        *,
        sort: str,
        budget: int = MORECHILDREN_BUDGET,
        max_depth: int = MAX_DEPTH,
    ) -> list[dict[str, Any]]:
        """The flat, pre-order ``things`` of ``POST /api/morechildren``."""
        thread = self.threads[link]
        key = _sort_key(sort)
        known = list(dict.fromkeys(i for i in ids if i in thread.comments))
        if not known:
            return []
        depths = {i: thread.depth(i) for i in known}
        shallowest = min(depths.values())
        if shallowest >= max_depth:
            return []
        served = sorted((i for i in known if depths[i] == shallowest), key=lambda c: key(thread.comments[c]))
        heap = [(key(thread.comments[c]), c) for c in served]
        heapq.heapify(heap)
        shown: set[str] = set()
        spent: set[str] = set()
        while heap and budget > 0:
            _, cid = heapq.heappop(heap)
            budget -= 1
            spent.add(cid)
            if _is_deleted_leaf(thread, cid):
                continue  # budget spent, shown nowhere (the builder drops it when rendering)
            shown.add(cid)
            if thread.depth(cid) + 1 < max_depth:
                for child in thread.children.get(f"t1_{cid}", []):
                    heapq.heappush(heap, (key(thread.comments[child]), child))
        things: list[dict[str, Any]] = []

        def emit(cid: str) -> None:
            depth = thread.depth(cid)
            things.append({"kind": "t1", "data": {**_copy(thread.comments[cid]), "depth": depth, "replies": ""}})
            kids = sorted(thread.children.get(f"t1_{cid}", []), key=lambda c: key(thread.comments[c]))
            if kids and depth + 1 >= max_depth:
                things.append(_continue_stub(f"t1_{cid}", max_depth))
                return
            for child in kids:
                if child in shown:
                    emit(child)
            hidden = [c for c in kids if c not in spent]
            if hidden:
                count = thread.descendants(cid) - sum(1 + thread.descendants(c) for c in kids if c in spent)
                things.append(self._more_stub(f"t1_{cid}", hidden, depth + 1, count))

        for cid in served:
            if cid in shown:
                emit(cid)
        leftover = [c for c in served if c not in spent]
        if self.orphans == "vanish" and (shallowest > 0 or self.top_vanish):
            return things  # the archived builder makes a stub for unpicked top-level ids only
        by_parent: dict[str, list[str]] = {}
        asked = ",".join(known)
        for cid in leftover:
            if self._vanishes(cid, asked):
                continue  # Reddit sometimes drops requested ids without a stub
            by_parent.setdefault(thread.comments[cid]["parent_id"], []).append(cid)
        for parent, rest in by_parent.items():
            count = sum(1 + thread.descendants(c) for c in rest)
            things.append(self._more_stub(parent, rest, shallowest, count))
        return things


def _words(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[\w\'-]+", text.replace('"', " ")) if w.upper() not in ("AND",)]


def _listing(children: list[dict[str, Any]], dist: int | None = None) -> dict[str, Any]:
    return {
        "kind": "Listing",
        "data": {"after": None, "dist": dist, "modhash": "", "geo_filter": "", "children": children, "before": None},
    }


def _continue_stub(parent: str, depth: int) -> dict[str, Any]:
    return {
        "kind": "more",
        "data": {"count": 0, "name": "t1__", "id": "_", "parent_id": parent, "depth": depth, "children": []},
    }
