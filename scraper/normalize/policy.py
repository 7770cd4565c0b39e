"""Row policies applied before anything is written: which threads are kept, tombstones (and pseudonyms,
see pseudonyms.py).

Reddit's terms ask data users to honour deletions, so no version carries the
text of an item that was deleted, removed, or whose author's account was gone
when the version was made.  Such an item keeps its row as a *tombstone*: ids,
parent links, timestamps, scores and status stay, so the thread's structure
holds; title, selftext, body, URL, author and author flair are emptied, and
the permalink loses its title slug.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from schemas import Comment, Status, Submission
from scraper.normalize.harvest import Seen

if TYPE_CHECKING:
    from scraper.spec import DatasetSpec

RowT = TypeVar("RowT", Submission, Comment)


def is_tombstone(row: Submission | Comment) -> bool:
    """Whether a row's text must not be published."""
    return row.status is not Status.VISIBLE


def _slugless(row: Submission | Comment) -> str:
    prefix = f"/r/{row.subreddit}" if row.subreddit else ""  # /comments/<id>/ resolves without it
    if isinstance(row, Submission):
        return f"{prefix}/comments/{row.id}/"
    return f"{prefix}/comments/{row.link_id[3:]}/_/{row.id}/"


def tombstone(row: RowT) -> RowT:
    """The row with its text and author emptied (a no-op for visible rows)."""
    if not is_tombstone(row):
        return row
    common = {"author": None, "author_fullname": None, "author_flair_text": None, "permalink": _slugless(row)}
    if isinstance(row, Submission):
        return row.model_copy(update={**common, "title": "", "selftext": "", "url": None})
    return row.model_copy(update={**common, "body": ""})


def keep_rule(spec: DatasetSpec) -> Callable[[Seen, list[str]], bool]:
    """The spec's thread filter: seeds are kept, searched threads must match it, saved files are the user's choice."""

    def keep(seen: Seen, found_by: list[str]) -> bool:
        if any(label.startswith("seed:") for label in found_by):
            return True
        if any(label.startswith(("search:", "archive:")) for label in found_by):
            return spec.filter.matches(seen.data.get("title") or "", seen.data.get("selftext") or "")
        return True  # a thread from a saved file: the user chose it

    return keep
