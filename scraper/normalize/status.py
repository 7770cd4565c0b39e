"""The status rule: what Reddit shows of an item, from the markers of one sighting (WIRE-FORMAT §5–§7).

Statuses are tried in this order (``schemas.STATUS_RULES`` says the same to users):

- ``removed``: the body or selftext is ``[removed]``, or ``[ Removed by Reddit ]`` (an admin
  removal, ARCTIC-SHIFT-AND-DUMPS §2 caveat 3; :data:`REMOVED_MARKERS`); or a submission's ``removed_by_category``
  is set to anything but ``author``/``deleted``; or, in a moderator's view (§5: ``removed``,
  ``spam`` and ``banned_by`` are sent only when the viewer moderates the subreddit, §7: "a
  moderator viewer sees the content with ``removed: true``"), ``removed`` or ``spam`` is true or
  ``banned_by`` names who removed it (a username, or ``true``).  A moderator sees the text of a
  removed item, and Reddit shows everybody else ``[removed]``, so it is a tombstone like any
  removal.  ``approved: true`` never brings the text back by itself: an approved item has
  ``removed`` false and no ``banned_by`` (``fszpw9i`` in the gx8r8z sample), so the flags already
  say it is shown;
- ``deleted``: the text and the author are both ``[deleted]``, or a submission's
  ``removed_by_category`` is ``author``/``deleted``;
- ``account_deleted``: the author is ``[deleted]`` and the text is kept;
- ``visible``: none of the above.

:data:`GONE_RANK` orders the statuses that Reddit cannot undo (a user deletion, an account
deletion) for the merge of sightings (``scraper.normalize.merge``, ``harvest.Harvest.add``).
"""

from __future__ import annotations

from typing import Any

from schemas import Status

DELETED = "[deleted]"
REMOVED = "[removed]"
#: Admins' removals: the reference's spelling (ARCTIC-SHIFT-AND-DUMPS §2 caveat 3), matched exactly as "[removed]" is.
REDDIT_REMOVED = "[ Removed by Reddit ]"
#: Texts that say the item was removed (WIRE-FORMAT §7 names only "[removed]"; the archive reference adds Reddit's).
REMOVED_MARKERS = (REMOVED, REDDIT_REMOVED)
#: removed_by_category values that mean the author deleted the post (WIRE-FORMAT §6).
AUTHOR_CATEGORIES = frozenset({"author", "deleted"})
#: Text values of a moderator flag that mean "not set" (hand-made files; Reddit sends booleans).
_UNSET_WORDS = frozenset({"", "false", "0", "no", "n", "null", "none"})

#: How final a status is on Reddit: an author's deletion cannot be undone (the text is gone for
#: good), nor can an account's (the author stays ``[deleted]``).  Removals can (a moderator may
#: approve the item again), and so can nothing else.  Among Reddit's sightings of one thing, one
#: with a higher rank wins over any with a lower rank, however much newer: a later answer that
#: still shows the text is a stale copy (a cached listing or tree), not the item coming back.
#: A removal ranks with the account's deletion (1) among the sightings of a thing one of which showed
#: its account deleted: ``merge._gone_rank`` and ``Harvest._rank`` apply that.
GONE_RANK: dict[str, int] = {Status.DELETED.value: 2, Status.ACCOUNT_DELETED.value: 1}


def _flag(value: Any) -> bool:
    """A ``removed``/``spam`` flag: true, a non-zero number, or a text that is not a "no" word."""
    if isinstance(value, str):
        return value.strip().lower() not in _UNSET_WORDS
    return bool(value)


def moderator_removed(data: dict[str, Any]) -> bool:
    """Whether a moderator's view of the thing says it was removed or filtered as spam (WIRE-FORMAT §5).

    ``banned_by`` is whoever removed it: a moderator's name (any non-empty text) or ``true``.
    """
    banned = data.get("banned_by")
    banned_set = banned != "" if isinstance(banned, str) else bool(banned)
    return _flag(data.get("removed")) or _flag(data.get("spam")) or banned_set


def status_of(kind: str, text: Any, author: Any, category: Any, *, mod_removed: bool = False) -> Status:
    """The status rule on the markers it reads: the body or selftext, the author, the removal category,
    and whether a moderator's view flags the thing removed (:func:`moderator_removed`)."""
    author_gone = author == DELETED
    if mod_removed or text in REMOVED_MARKERS or (kind == "t3" and category and category not in AUTHOR_CATEGORIES):
        return Status.REMOVED
    if text == DELETED and author_gone:
        return Status.DELETED
    if kind == "t3" and category in AUTHOR_CATEGORIES:
        return Status.DELETED
    if author_gone:
        return Status.ACCOUNT_DELETED
    return Status.VISIBLE


def thing_status(data: dict[str, Any], kind: str) -> Status:
    """Derive visible / deleted / removed / account_deleted from Reddit's markers (WIRE-FORMAT §5–§7)."""
    text = data.get("body") if kind == "t1" else data.get("selftext")
    category = data.get("removed_by_category")
    return status_of(kind, text, data.get("author"), category, mod_removed=moderator_removed(data))


def marked_status(data: dict[str, Any], kind: str) -> Status | None:
    """:func:`thing_status`, or None where the markers cannot be read (an unhashable ``removed_by_category``).

    A quarantined sighting still carries it, so that the merge ranks it (:data:`GONE_RANK`).
    """
    try:
        return thing_status(data, kind)
    except TypeError:
        return None


def gone_rank(data: dict[str, Any], kind: str) -> int:
    """:data:`GONE_RANK` of a thing's status (0 for a status Reddit can undo)."""
    status = marked_status(data, kind)
    return 0 if status is None else GONE_RANK.get(status.value, 0)
