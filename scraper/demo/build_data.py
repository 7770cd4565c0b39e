"""Rebuild the bundled demo data from the seed thread's text (``../shared/seeds/``).

    python -m scraper.demo.build_data ../shared/seeds/000_e91842549e85a6c5.txt

The seed gives the title, the selftext and the comments' texts as a flat list.
Everything else is **reconstructed**: which comment answers which, the comment
ids, authors, scores and times are invented, in Reddit's wire format
(WIRE-FORMAT §5–§7).  The thread keeps its public id 11ryvao so that the
``leaving-ml`` spec's seed finds it.  The output is committed as
``scraper/demo/leaving_ml_demo.json``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from scraper.fake_reddit.generate import base36

OUT = Path(__file__).with_name("leaving_ml_demo.json")
SUBREDDITS = [
    "MachineLearning",
    "datascience",
    "learnmachinelearning",
    "cscareerquestions",
    "ExperiencedDevs",
    "dataengineering",
    "MLQuestions",
]
CREATED = 1678960800.0  # 2023-03-16T10:00:00Z, invented
SUBREDDIT_ID = "t5_2r3gv"
OP = "demo_op"
#: Reconstructed reply structure: comment index -> parent comment index (absent: top level).
PARENTS = {14: 1, 16: 11, 18: 2, 17: 18, 19: 17}
OP_COMMENTS = {18}


def parse_seed(text: str) -> tuple[str, str, list[str]]:
    """Title, selftext and comment bodies from a seed file."""
    title = re.search(r"^Title: (.*)$", text, re.MULTILINE)
    content = text.split("\nContent:\n", 1)[1].split("\nComments:\n", 1)
    bodies: list[str] = []
    for line in content[1].splitlines():
        if line.startswith("- "):
            bodies.append(line[2:])
        elif bodies:
            bodies[-1] += "\n" + line
    return (title.group(1).strip() if title else ""), content[0].strip(), [b.strip() for b in bodies]


def build(seed_text: str) -> dict[str, Any]:
    """The demo forest: one reconstructed thread and the spec's other subreddits, empty."""
    title, selftext, bodies = parse_seed(seed_text)
    title = title.removeprefix("[D] ").strip()
    link = "11ryvao"
    slug = f"/r/MachineLearning/comments/{link}/d_to_those_of_you_who_quit_machine_learning_what/"
    submission = {
        "id": link,
        "name": f"t3_{link}",
        "title": f"[D] {title}",
        "selftext": selftext,
        "author": OP,
        "author_fullname": "t2_demoop1",
        "author_flair_text": None,
        "subreddit": "MachineLearning",
        "subreddit_id": SUBREDDIT_ID,
        "subreddit_name_prefixed": "r/MachineLearning",
        "subreddit_type": "public",
        "created_utc": CREATED,
        "created": CREATED,
        "edited": False,
        "score": 212,
        "ups": 212,
        "downs": 0,
        "upvote_ratio": 0.94,
        "num_comments": len(bodies),
        "num_crossposts": 0,
        "is_self": True,
        "domain": "self.MachineLearning",
        "url": f"https://www.reddit.com{slug}",
        "permalink": slug,
        "over_18": False,
        "spoiler": False,
        "locked": False,
        "archived": True,
        "stickied": False,
        "pinned": False,
        "quarantine": False,
        "contest_mode": False,
        "distinguished": None,
        "link_flair_text": "Discussion",
        "link_flair_css_class": "one",
        "removed_by_category": None,
        "suggested_sort": None,
        "is_original_content": False,
        "is_robot_indexable": True,
        "thumbnail": "self",
        "likes": None,
        "saved": False,
        "hidden": False,
        "clicked": False,
        "visited": False,
        "view_count": None,
    }
    comments = []
    ids = [base36(int("jcaa000", 36) + 7 * i) for i in range(len(bodies))]
    for i, body in enumerate(bodies):
        deleted = body in ("[deleted]", "[removed]")
        author = "[deleted]" if deleted else (OP if i in OP_COMMENTS else f"demo_user_{i:02d}")
        parent = f"t1_{ids[PARENTS[i]]}" if i in PARENTS else f"t3_{link}"
        created = CREATED + 600 + 900 * i
        data: dict[str, Any] = {
            "id": ids[i],
            "name": f"t1_{ids[i]}",
            "parent_id": parent,
            "link_id": f"t3_{link}",
            "author": author,
            "body": body,
            "subreddit": "MachineLearning",
            "subreddit_id": SUBREDDIT_ID,
            "subreddit_name_prefixed": "r/MachineLearning",
            "subreddit_type": "public",
            "created_utc": created,
            "created": created,
            "edited": created + 3600 if i == 4 else False,
            "score": max(1, 120 - 6 * i) if not deleted else 1,
            "ups": max(1, 120 - 6 * i),
            "downs": 0,
            "controversiality": 0,
            "score_hidden": False,
            "distinguished": None,
            "stickied": False,
            "is_submitter": i in OP_COMMENTS,
            "locked": False,
            "archived": True,
            "collapsed": deleted,
            "collapsed_reason": None,
            "gilded": 0,
            "total_awards_received": 0,
            "likes": None,
            "removal_reason": None,
            "banned_by": None,
            "author_flair_text": None,
            "permalink": f"{slug}{ids[i]}/",
        }
        if not deleted:
            data["author_fullname"] = f"t2_demo{i:02d}"
        comments.append(data)
    # Parents first, as the forest expects.
    by_name = {d["name"]: d for d in comments}
    comments.sort(key=lambda c: _depth(c, by_name))
    return {
        "note": "RECONSTRUCTED demo data: texts from the seed thread; ids (but the thread's), authors, "
        "scores, times and reply structure invented. Not a Reddit recording.",
        "subreddits": SUBREDDITS,
        "private_subreddits": [],
        "threads": [{"submission": submission, "comments": comments}],
    }


def _depth(comment: dict[str, Any], by_name: dict[str, dict[str, Any]]) -> int:
    depth = 0
    while comment["parent_id"].startswith("t1_"):
        comment = by_name[comment["parent_id"]]
        depth += 1
    return depth


def main(argv: list[str]) -> int:
    """Write the demo data from the seed file named in ``argv``."""
    seed = Path(argv[0]) if argv else Path(__file__).parents[2] / "../shared/seeds/000_e91842549e85a6c5.txt"
    OUT.write_text(
        json.dumps(build(seed.read_text(encoding="utf-8")), indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
