"""Reddit's own syntax for the names and ids this tool puts into URLs.

Nothing from a spec, a stored file or an answer goes into a request path
unless it matches here, so a name such as ``../../api/v1/access_token?x=``
can never steer an authenticated request elsewhere.  The rules are Reddit's
(reddit-archive/reddit):

* subreddit names: ``subreddit_rx = \\A[A-Za-z0-9][A-Za-z0-9_]{2,20}\\Z`` and the two-letter
  language subreddits ``\\A[a-z]{2}\\Z`` (``r2/r2/models/subreddit.py``); ``all`` and
  ``popular`` are Reddit's special listings; ``a+b`` joins names into a multireddit;
* ids: base-36 of the thing's integer id (``r2/lib/utils``: ``to36``), lower-case digits
  and letters, at most 13 of them for a 64-bit id;
* fullnames: ``t1_`` comment, ``t2_`` account, ``t3_`` link, ``t4_`` message, ``t5_``
  subreddit, ``t6_`` award, then the id (``Thing._fullname``).
"""

from __future__ import annotations

import re

SUBREDDIT = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_]{2,20}\Z")
LANGUAGE_SUBREDDIT = re.compile(r"\A[a-z]{2}\Z")
SPECIAL_SUBREDDITS = frozenset({"all", "popular"})
ID36 = re.compile(r"\A[0-9a-z]{1,13}\Z")
FULLNAME = re.compile(r"\At[1-6]_[0-9a-z]{1,13}\Z")


def is_subreddit(name: str) -> bool:
    """Whether ``name`` is a subreddit name, a special listing or a ``+``-joined multireddit of names."""
    parts = name.split("+")
    return all(
        SUBREDDIT.match(p) or LANGUAGE_SUBREDDIT.match(p) or p.lower() in SPECIAL_SUBREDDITS for p in parts
    ) and bool(name)


def subreddit(name: str) -> str:
    """``name`` if it is a subreddit name by Reddit's rule; ValueError otherwise."""
    if not isinstance(name, str) or not is_subreddit(name):
        raise ValueError(
            f"{name!r} is not a subreddit name (3-21 letters, digits or _, starting with a letter or digit)"
        )
    return name


def id36(value: str, what: str = "id") -> str:
    """``value`` if it is a base-36 thing id; ValueError otherwise."""
    if not isinstance(value, str) or not ID36.match(value):
        raise ValueError(f"{value!r} is not a Reddit {what} (base-36: 0-9 and a-z, up to 13)")
    return value


def fullname(value: str, kinds: str = "123456") -> str:
    """``value`` if it is a fullname (``t3_abc``) of one of ``kinds``; ValueError otherwise."""
    if not isinstance(value, str) or not FULLNAME.match(value) or value[1] not in kinds:
        prefixes = ", ".join(f"t{k}_" for k in kinds)
        raise ValueError(f"{value!r} is not a Reddit fullname ({prefixes} then a base-36 id)")
    return value
