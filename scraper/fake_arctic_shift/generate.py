"""Generated archive data with the field drift of each era, for the fake Arctic Shift and dump fixtures.

Nothing here is real Reddit data: titles and bodies are invented.  The shape of
each line follows the drift table of ARCTIC-SHIFT-AND-DUMPS.md §3.3 (the full
per-month runs are in ``../shared/archives/samples/field_drift.json``): the same
generator writes the fake server's store and the ``.zst`` fixtures, so both
carry every era's quirks.

==================  ======================================================
era (created)       what a line looks like
==================  ======================================================
≤ 2012-05           ``edited`` may be a bare ``true``; short ids
2007-11 … 2015-11   comments' ``created_utc`` is a string (posts from 2014)
2015-08 … 2021-01   comments have no ``name``
< 2017-10           comments have no ``permalink``
< 2018-07           no ``author_fullname``
2021-02 … 2023-03   ``edited`` is a float; comments have only ``retrieved_utc``
2023-11 +           ``_meta`` (second fetch, deletion facts); ``note`` to 2024-04
==================  ======================================================
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from scraper.normalize.archive import counts_settled

_WORDS = [
    *("quit", "machine", "learning", "after", "five", "years", "burned", "out", "research", "data"),
    *("science", "leaving", "the", "field", "switched", "careers", "to", "software", "engineering"),
    *("pivot", "backend", "infra", "happier", "now", "salary", "stress", "deadlines", "papers", "gpu"),
]
KEYWORD_TITLES = (
    "I quit machine learning, AMA",
    "Leaving data science after burnout",
    "Switched careers out of ML: what I do now",
    "Burned out on deep learning research",
)
OTHER_TITLES = ("Best GPU for training?", "Paper discussion: attention", "Weekly simple questions", "Job market")


def _month(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m")


def base36(number: int) -> str:
    """A base-36 id."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words))


def drift(line: dict[str, Any], kind: str, rng: random.Random) -> dict[str, Any]:
    """Reshape a clean line (int ``created_utc``, ``edited`` false or int) the way its era's files have it."""
    created = int(line["created_utc"])
    month = _month(created)
    comment = kind == "t1"
    if line.get("edited") and month <= "2012-05" and rng.random() < 0.5:
        line["edited"] = True
    elif line.get("edited") and not isinstance(line["edited"], bool) and "2021-02" <= month <= "2023-03":
        line["edited"] = float(line["edited"]) + 0.5
    if ("2007-11" <= month <= "2015-11" and comment) or ("2014-01" <= month <= "2015-11" and not comment):
        line["created_utc"] = str(created)
    if comment and "2015-08" <= month <= "2021-01":
        line.pop("name", None)
    if not comment and "2017-01" <= month <= "2018-03":
        line.pop("name", None)
    if comment and month < "2017-10":
        line.pop("permalink", None)
    if month < "2018-07":
        line.pop("author_fullname", None)
    retrieved = created + rng.randint(3600, 90 * 86400) if month < "2023-04" else created + rng.randint(5, 600)
    if comment and "2021-02" <= month <= "2021-06":
        line["retrieved_utc"] = retrieved
    else:
        line["retrieved_on"] = retrieved
    if month >= "2023-11":
        meta: dict[str, Any] = {"retrieved_2nd_on": created + 36 * 3600}
        roll = rng.random()
        if roll < 0.15:
            meta["was_deleted_later"] = True
            reasons = ["deleted", "removed", "removed by reddit"] if comment else ["deleted", "moderator", "reddit"]
            meta["removal_type"] = rng.choice(reasons)
        elif roll < 0.2:
            meta["was_initially_deleted"] = True
            meta["removal_type"] = "deleted"
        if rng.random() < 0.06:
            meta["is_edited"] = True
        if month <= "2024-04" and rng.random() < 0.2:
            meta = {"note": "no_2nd_retrieval"}
        line["_meta"] = meta
    return line


@dataclass
class ArchiveStore:
    """Posts and comments as an archive holds them, sorted by ``created_utc`` then id."""

    posts: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)

    def sort(self) -> None:
        """Order both lists as the dumps are ordered since 2023-04 (created_utc, then id)."""
        for items in (self.posts, self.comments):
            items.sort(key=lambda x: (int(float(x["created_utc"])), int(x["id"], 36)))


def generate(
    *,
    subreddits: tuple[str, ...] = ("MachineLearning", "datascience"),
    posts: int = 60,
    start: int = 1_325_376_000,  # 2012-01-01
    end: int = 1_735_689_600,  # 2025-01-01
    comments_per_post: tuple[int, int] = (0, 12),
    keyword_share: float = 0.3,
    seed: int = 0,
    same_second_share: float = 0.0,
) -> ArchiveStore:
    """An archive of ``posts`` posts spread over [start, end) with comment trees, each line in its era's shape."""
    rng = random.Random(seed)  # noqa: S311 - reproducible fixtures, not secrets
    store = ArchiveStore()
    post_seq = 1_000_000 + rng.randint(0, 1000)
    comment_seq = 60_000_000 + rng.randint(0, 1000)
    times = sorted(rng.randrange(start, end) for _ in range(posts))
    for index in range(1, len(times)):
        if rng.random() < same_second_share:
            times[index] = times[index - 1]
    for created in times:
        post_seq += rng.randint(1, 50)
        sub = rng.choice(subreddits)
        post_id = base36(post_seq)
        keyword = rng.random() < keyword_share
        author = f"user{rng.randint(1, 400)}"
        post = {
            "id": post_id,
            "name": f"t3_{post_id}",
            "subreddit": sub,
            "subreddit_id": f"t5_{base36(abs(hash(sub)) % 10**6)}",
            "author": author,
            "author_fullname": f"t2_{base36(rng.randint(10**6, 10**8))}",
            "author_flair_text": None,
            "created_utc": created,
            "edited": created + rng.randint(60, 86400) if rng.random() < 0.1 else False,
            "title": rng.choice(KEYWORD_TITLES if keyword else OTHER_TITLES),
            "selftext": _text(rng, rng.randint(5, 40)),
            "url": f"https://www.reddit.com/r/{sub}/comments/{post_id}/",
            "domain": f"self.{sub}",
            "is_self": True,
            "score": rng.randint(0, 500),
            "num_comments": 0,
            "upvote_ratio": round(rng.random(), 2),
            "over_18": False,
            "link_flair_text": None,
            "removed_by_category": None,
            "stickied": False,
            "locked": False,
            "distinguished": None,
            "permalink": f"/r/{sub}/comments/{post_id}/slug/",
        }
        roll = rng.random()
        if roll < 0.05:
            post["selftext"], post["author"] = "[deleted]", "[deleted]"
        elif roll < 0.1:
            post["selftext"], post["removed_by_category"] = "[removed]", "moderator"
        thread: list[dict[str, Any]] = []
        for _ in range(rng.randint(*comments_per_post)):
            comment_seq += rng.randint(1, 5)
            cid = base36(comment_seq)
            parent = f"t3_{post_id}" if not thread or rng.random() < 0.4 else f"t1_{rng.choice(thread)['id']}"
            when = created + rng.randint(1, 7 * 86400)
            comment = {
                "id": cid,
                "name": f"t1_{cid}",
                "link_id": f"t3_{post_id}",
                "parent_id": parent,
                "subreddit": sub,
                "subreddit_id": post["subreddit_id"],
                "author": f"user{rng.randint(1, 400)}",
                "author_fullname": f"t2_{base36(rng.randint(10**6, 10**8))}",
                "author_flair_text": None,
                "created_utc": when,
                "edited": when + rng.randint(60, 3600) if rng.random() < 0.1 else False,
                "body": _text(rng, rng.randint(3, 30)),
                "score": rng.randint(-5, 100),
                "controversiality": 0,
                "stickied": False,
                "locked": False,
                "distinguished": None,
                "is_submitter": False,
                "collapsed": False,
                "permalink": f"/r/{sub}/comments/{post_id}/slug/{cid}/",
            }
            roll = rng.random()
            if roll < 0.05:
                comment["body"], comment["author"] = "[deleted]", "[deleted]"
            elif roll < 0.08:
                comment["body"] = "[removed]"
            thread.append(comment)
        post["num_comments"] = len(thread)
        post = drift(post, "t3", rng)
        if not counts_settled(post):  # a first-fetch count, "1 or 0" (reference §1.4, pitfall 1)
            post["num_comments"] = min(len(thread), rng.randint(0, 1))
        store.posts.append(post)
        store.comments.extend(drift(c, "t1", rng) for c in thread)
    store.sort()
    return store


def reddit_today(store: ArchiveStore, forest: Any, *, gone_share: float = 0.1, seed: int = 0) -> set[str]:
    """Add the archive's threads to a fake Reddit ``forest`` as Reddit would serve them today.

    Items the archive saw deleted later (``_meta.was_deleted_later``) read ``[deleted]``
    on Reddit; ``gone_share`` of the other comments are no longer served at all.
    Returns the fullnames of the comments Reddit no longer serves.
    """
    from scraper.normalize.archive import wire_shape

    rng = random.Random(seed)  # noqa: S311 - reproducible fixtures
    by_link: dict[str, list[dict[str, Any]]] = {}
    for comment in store.comments:
        by_link.setdefault(str(comment["link_id"]), []).append(comment)
    gone: set[str] = set()
    for post in store.posts:
        submission = _today(wire_shape(post, "t3"), "selftext")
        comments = []
        kept_ids: set[str] = set()
        for comment in sorted(by_link.get(f"t3_{submission['id']}", []), key=lambda c: int(float(c["created_utc"]))):
            data = _today(wire_shape(comment, "t1"), "body")
            parent = str(data["parent_id"])
            if rng.random() < gone_share or (parent.startswith("t1_") and parent[3:] not in kept_ids):
                gone.add(str(data["name"]))
                continue
            kept_ids.add(str(data["id"]))
            comments.append(data)
        forest.add_thread(submission, comments)
    return gone


def _today(data: dict[str, Any], text: str) -> dict[str, Any]:
    meta = data.pop("_meta", None) or {}
    for key in ("retrieved_on", "retrieved_utc"):
        data.pop(key, None)
    if meta.get("was_deleted_later"):
        data[text] = "[deleted]" if meta.get("removal_type") == "deleted" else "[removed]"
        if meta.get("removal_type") == "deleted":
            data["author"] = "[deleted]"
    data["created_utc"] = float(data["created_utc"])
    data.setdefault("score", 1)
    if data.get("score") is None:
        data["score"] = 0
    return data
