"""Generated threads for tests and benchmarks: any size, from a seed, in Reddit's wire format.

Shapes that make Reddit cut trees: many top-level comments, wide reply fans,
deep chains past depth 10 (continue-this-thread), deleted leaves (which
morechildren spends budget on without showing) and deleted parents with
replies kept.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

BASE_TIME = 1_700_000_000.0


def base36(number: int) -> str:
    """A non-negative integer in Reddit's id alphabet (``0-9a-z``)."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out


def generate_thread(
    link: str,
    n_comments: int,
    *,
    seed: int = 0,
    subreddit: str = "MachineLearning",
    deep_chains: int = 3,
    chain_length: int = 25,
    deleted_rate: float = 0.03,
    title: str = "Generated thread",
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A submission and ``n_comments`` comments (parents first)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    base = int("k0000", 36) + seed * 10_000_000
    submission = {
        "id": link,
        "name": f"t3_{link}",
        "title": title,
        "selftext": f"Generated for tests (seed {seed}).",
        "author": "gen_op",
        "author_fullname": "t2_genop",
        "subreddit": subreddit,
        "subreddit_id": "t5_gen",
        "created_utc": BASE_TIME,
        "edited": False,
        "score": 100,
        "upvote_ratio": 0.9,
        "num_comments": n_comments,
        "is_self": True,
        "domain": f"self.{subreddit}",
        "over_18": False,
        "locked": False,
        "stickied": False,
        "distinguished": None,
        "link_flair_text": None,
        "removed_by_category": None,
        "url": f"https://www.reddit.com/r/{subreddit}/comments/{link}/generated/",
        "permalink": f"/r/{subreddit}/comments/{link}/generated/",
    }
    comments: list[dict[str, Any]] = []
    depth: dict[str, int] = {}

    def add(parent: str) -> str:
        cid = base36(base + len(comments))
        deleted = rng.random() < deleted_rate
        author = "[deleted]" if deleted else f"user{rng.randrange(5000)}"
        data: dict[str, Any] = {
            "id": cid,
            "name": f"t1_{cid}",
            "parent_id": parent,
            "link_id": f"t3_{link}",
            "author": author,
            "body": "[deleted]" if deleted else f"comment {len(comments)} (seed {seed})",
            "subreddit": subreddit,
            "subreddit_id": "t5_gen",
            "created_utc": BASE_TIME + 60 * len(comments),
            "edited": False,
            "score": rng.randrange(-5, 200),
            "controversiality": 0,
            "distinguished": None,
            "stickied": False,
            "is_submitter": False,
            "locked": False,
            "collapsed": False,
            "permalink": f"/r/{subreddit}/comments/{link}/generated/{cid}/",
        }
        if not deleted:
            data["author_fullname"] = f"t2_u{author[4:]}"
        comments.append(data)
        depth[cid] = 0 if parent.startswith("t3_") else depth[parent[3:]] + 1
        return cid

    chains = min(deep_chains, max(0, n_comments // (chain_length + 1)))
    for _ in range(chains):
        parent = f"t3_{link}"
        for _ in range(chain_length):
            parent = f"t1_{add(parent)}"
    while len(comments) < n_comments:
        roll = rng.random()
        if roll < 0.25 or not comments:
            add(f"t3_{link}")
        else:
            # Prefer recent comments as parents: long conversations, wide fans.
            pick = comments[int(len(comments) * (1 - rng.random() ** 3)) - 1] if roll < 0.8 else rng.choice(comments)
            add(f"t1_{pick['id']}")
    return submission, comments


#: Tree shapes of :func:`generate_shaped` (the benchmark's default set).
SHAPES = ("current", "ama", "chains")
#: Further shapes, built apart from the rules they test (the benchmark's held-out set, the property tests):
#:
#: - ``mixed``: a few top-level comments start deep chains (40-250 replies, side replies along them),
#:   a few others fan out (100-400 direct replies), the rest ordinary conversation;
#: - ``wide``: one top-level comment holds three quarters of the thread as direct replies;
#: - ``boundary``: chains ending exactly at depths 8 to 12, some with a fan of replies at their end
#:   (the 10-level window's edges);
#: - ``continues``: bushy subtrees branching at depths 8 to 12 (many continue-this-thread stubs);
#: - ``lastbig``: ``mixed``, scored so that the sort puts the largest subtrees last at every level;
#: - ``deleted``: ``current`` with 15% user-deleted leaves, 5% user-deleted comments with live replies and
#:   whole user-deleted subtrees (about 5% of the comments);
#: - ``removed``: ``current`` with 35% removed and 25% account-deleted comments;
#: - ``stale``: ``current`` whose ``num_comments`` disagrees with the tree (8% over or 7% under, by seed).
HELD_OUT_SHAPES = ("mixed", "wide", "boundary", "continues", "lastbig", "deleted", "removed", "stale")
#: Shares of user-deleted leaves, removed, account-deleted, user-deleted with replies, whole deleted subtrees.
_PROFILES: dict[str, tuple[float, float, float, float, float]] = {
    "deleted": (0.15, 0.015, 0.03, 0.05, 0.05),
    "removed": (0.04, 0.35, 0.25, 0.0, 0.0),
}
_BASE_OF = {"lastbig": "mixed", "deleted": "current", "removed": "current", "stale": "current"}


def _growing() -> tuple[list[int], list[int], Callable[[int], int]]:
    """An empty structure to grow: its parents (by index; ``-1``: top level), each comment's depth,
    and the function that adds one reply to a parent and returns the reply's index."""
    parents: list[int] = []
    depth: list[int] = []

    def add(parent: int) -> int:
        parents.append(parent)
        depth.append(0 if parent < 0 else depth[parent] + 1)
        return len(parents) - 1

    return parents, depth, add


def _held_out(shape: str, n: int, rng: random.Random) -> list[int] | None:
    """The parents of a :data:`HELD_OUT_SHAPES` structure (``None``: not one of them)."""
    parents, depth, add = _growing()

    def chat() -> None:
        if rng.random() < 0.3 or not parents:
            add(-1)
        else:
            add(int(len(parents) * (1 - rng.random() ** 3)) - 1)

    def run(at: int, length: int) -> int:
        for _ in range(length):
            if len(parents) >= n:
                break
            at = add(at)
        return at

    if shape == "mixed":
        for _ in range(max(1, n // 1500)):
            at = add(-1)
            for _ in range(rng.randrange(40, 251)):
                if len(parents) >= n:
                    break
                at = add(at)
                if rng.random() < 0.1 and len(parents) < n:
                    add(at)  # a side reply along the chain
        for _ in range(max(1, n // 1000)):
            top = add(-1) if len(parents) < n else -1
            for _ in range(rng.randrange(100, 401)):
                if len(parents) >= n:
                    break
                add(top)
        while len(parents) < n:
            chat()
    elif shape == "wide":
        top = add(-1)
        while len(parents) < n:
            roll = rng.random()
            if roll < 0.75:
                add(top)
            elif roll < 0.85 and len(parents) > 1:
                add(rng.randrange(1, len(parents)))
            else:
                add(-1)
    elif shape == "boundary":
        while len(parents) < n:
            if rng.random() < 0.3:
                chat()
                continue
            shallow = [i for i in range(max(0, len(parents) - 100), len(parents)) if depth[i] < 3]
            start = rng.choice(shallow) if shallow and rng.random() < 0.5 else -1
            end = rng.randrange(8, 13)  # the chain's last comment at depth 8 to 12
            at = run(start, end - (depth[start] if start >= 0 else -1))
            for _ in range(rng.choice((0, 0, 1, 3))):  # a fan at the end
                if len(parents) < n:
                    add(at)
    elif shape == "continues":
        while len(parents) < n:
            if rng.random() < 0.2:
                chat()
                continue
            at = run(-1, rng.randrange(8, 13))
            for _ in range(rng.randrange(2, 7)):
                run(at, rng.randrange(1, 16))
    else:
        return None
    return parents[:n]


def _subtree_sizes(parents: list[int]) -> list[int]:
    sizes = [1] * len(parents)
    for i in range(len(parents) - 1, -1, -1):  # parents come first
        if parents[i] >= 0:
            sizes[parents[i]] += sizes[i]
    return sizes


def _structure(shape: str, n: int, rng: random.Random) -> list[int]:
    """The parent of each comment, by index (``-1``: top level); parents come first."""
    parents, depth, add = _growing()

    if shape == "ama":
        # ~80% top-level questions; replies pile onto popular ones (rich get richer), some follow-ups.
        popular: list[int] = []
        replies: list[int] = []
        while len(parents) < n:
            roll = rng.random()
            if roll < 0.8 or not parents:
                popular.append(add(-1))
            elif roll < 0.94 or not replies:
                parent = rng.choice(popular)
                popular.append(parent)
                replies.append(add(parent))
            else:
                replies.append(add(rng.choice(replies)))
        return parents
    if shape == "chains":
        # back-and-forth chains of 30 to 150 replies (far past depth 10; ~20% of the comments) among ordinary
        # conversation
        while len(parents) < n:
            if rng.random() < 0.0025 and n - len(parents) > 30:
                length = min(rng.randrange(30, 151), n - len(parents))
                shallow = [i for i in range(max(0, len(parents) - 200), len(parents)) if depth[i] < 5]
                at = add(-1 if not shallow or rng.random() < 0.5 else rng.choice(shallow))
                for _ in range(length - 1):
                    at = add(at)
            elif rng.random() < 0.25 or not parents:
                add(-1)
            else:
                add(int(len(parents) * (1 - rng.random() ** 3)) - 1)
        return parents[:n]
    if shape in _BASE_OF:
        return _structure(_BASE_OF[shape], n, rng)
    held_out = _held_out(shape, n, rng)
    if held_out is not None:
        return held_out
    if shape != "current":
        raise ValueError(f"unknown shape {shape!r}: use {', '.join(SHAPES + HELD_OUT_SHAPES)}")
    chains = max(1, n // 2000) if n > 26 else 0
    for _ in range(chains):
        at = -1
        for _ in range(25):
            at = add(at)
    while len(parents) < n:
        roll = rng.random()
        if roll < 0.25 or not parents:
            add(-1)
        elif roll < 0.8:
            add(int(len(parents) * (1 - rng.random() ** 3)) - 1)
        else:
            add(rng.randrange(len(parents)))
    return parents


def generate_shaped(
    link: str,
    n_comments: int,
    *,
    shape: str = "current",
    seed: int = 0,
    subreddit: str = "MachineLearning",
    deleted_leaves: float = 0.04,
    removed: float = 0.015,
    account_deleted: float = 0.03,
    title: str = "Generated thread",
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A submission and ``n_comments`` comments of one :data:`SHAPES` shape (parents first).

    Shares of all comments: ``deleted_leaves`` user-deleted comments without
    replies (author and body ``[deleted]``), ``removed`` removed by moderators
    (body ``[removed]``), ``account_deleted`` whose author's account is gone
    (author ``[deleted]``, text kept); WIRE-FORMAT §7.  The :data:`HELD_OUT_SHAPES`
    ``deleted`` and ``removed`` set their own shares, and ``deleted`` adds
    user-deleted comments with live replies and whole user-deleted subtrees.
    """
    rng = random.Random(f"{shape}:{seed}")  # noqa: S311 - reproducible test data
    submission, _ = generate_thread(link, 0, seed=seed, subreddit=subreddit, title=title)
    parents = _structure(shape, n_comments, rng)
    deleted_parents, deleted_subtrees = 0.0, 0.0
    if shape in _PROFILES:
        deleted_leaves, removed, account_deleted, deleted_parents, deleted_subtrees = _PROFILES[shape]
    base = int("k0000", 36) + seed * 10_000_000
    ids = [base36(base + i) for i in range(len(parents))]
    has_reply = {p for p in parents if p >= 0}
    leaves = [i for i in range(len(parents)) if i not in has_reply]
    gone = set(rng.sample(leaves, min(len(leaves), round(deleted_leaves * len(parents)))))
    if deleted_parents or deleted_subtrees:
        gone |= _deleted_inner(parents, has_reply, deleted_parents, deleted_subtrees, rng)
    rest = [i for i in range(len(parents)) if i not in gone]
    marked = rng.sample(rest, min(len(rest), round((removed + account_deleted) * len(parents))))
    cut = round(removed * len(parents))
    was_removed, account_gone = set(marked[:cut]), set(marked[cut:])
    comments = []
    for i, parent in enumerate(parents):
        cid = ids[i]
        author = f"user{rng.randrange(5000)}"
        body = f"comment {i} ({shape}, seed {seed})"
        if i in gone:
            author, body = "[deleted]", "[deleted]"
        elif i in was_removed:
            author, body = "[deleted]", "[removed]"
        elif i in account_gone:
            author = "[deleted]"
        data: dict[str, Any] = {
            "id": cid,
            "name": f"t1_{cid}",
            "parent_id": f"t3_{link}" if parent < 0 else f"t1_{ids[parent]}",
            "link_id": f"t3_{link}",
            "author": author,
            "body": body,
            "subreddit": subreddit,
            "subreddit_id": "t5_gen",
            "created_utc": BASE_TIME + 60 * i,
            "edited": False,
            "score": int(rng.paretovariate(1.3)) - 1 - (rng.random() < 0.1) * rng.randrange(10),
            "controversiality": 0,
            "distinguished": None,
            "stickied": False,
            "is_submitter": False,
            "locked": False,
            "collapsed": False,
            "permalink": f"/r/{subreddit}/comments/{link}/generated/{cid}/",
        }
        if author != "[deleted]":
            data["author_fullname"] = f"t2_u{author[4:]}"
        comments.append(data)
    if shape == "lastbig":  # the largest subtrees sort last at every level (confidence, top)
        for data, size in zip(comments, _subtree_sizes(parents), strict=True):
            data["score"] = 1000 - size - rng.randrange(3)
    submission["num_comments"] = len(comments)
    if shape == "stale":  # Reddit's count drifts from the tree (removed spam, counts cached)
        submission["num_comments"] = round(len(comments) * (1.08 if seed % 2 else 0.93))
    return submission, comments


def _deleted_inner(
    parents: list[int], has_reply: set[int], share: float, subtrees: float, rng: random.Random
) -> set[int]:
    """User-deleted comments with replies (``share`` of all, their replies live) and whole user-deleted
    subtrees of 2 to 20 comments (about ``subtrees`` of all): their leaves are deleted leaves, their inner
    comments deleted comments whose replies are all deleted."""
    n = len(parents)
    kids: dict[int, list[int]] = {}
    for i, p in enumerate(parents):
        if p >= 0:
            kids.setdefault(p, []).append(i)
    sizes = _subtree_sizes(parents)
    inner = sorted(has_reply)
    gone: set[int] = set()
    candidates = [i for i in inner if 2 <= sizes[i] <= 20]
    rng.shuffle(candidates)
    for root in candidates:
        if len(gone) >= subtrees * n:
            break
        stack = [root]
        while stack:
            node = stack.pop()
            gone.add(node)
            stack.extend(kids.get(node, ()))
    live_inner = [i for i in inner if i not in gone]
    gone.update(rng.sample(live_inner, min(len(live_inner), round(share * n))))
    return gone
