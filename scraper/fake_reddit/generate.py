"""Generated threads for tests and benchmarks: any size, from a seed, in Reddit's wire format.

Shapes that make Reddit cut trees: many top-level comments, wide reply fans,
deep chains past depth 10 (continue-this-thread), deleted leaves (which
morechildren spends budget on without showing) and deleted parents with
replies kept.
"""

from __future__ import annotations

import random
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
