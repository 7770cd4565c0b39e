"""Reddit's endpoints, one table (PRAW's ``endpoints.py`` habit), and which one a raw record answered.

The endpoint of a request is known when it is made: the client writes its name
into each archived record (``record["endpoint"]``), and everything that reads
the archive dispatches on :func:`endpoint_of`, never on a substring of the URL
(a thread id such as ``info1x`` would otherwise count as an ``/api/info``
request).  Records archived before the field existed are recognised by their
path, matched whole against the same table.

No praw import here: offline commands (ingest, validate) read archives too.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

TOKEN = "token"  # noqa: S105 - the name of the OAuth token endpoint, not a secret
SEARCH = "search"
COMMENTS = "comments"  # a whole thread, or one comment's subtree (its permalink)
MORECHILDREN = "morechildren"
INFO = "info"

#: name -> path template; the client formats these, the reader matches them.
PATHS: dict[str, str] = {
    TOKEN: "/api/v1/access_token",
    SEARCH: "/r/{subreddit}/search",
    COMMENTS: "/comments/{link}/",
    MORECHILDREN: "/api/morechildren/",
    INFO: "/api/info/",
}
COMMENT_SUBTREE = "/comments/{link}/_/{comment}/"

_ID = r"[A-Za-z0-9_]+"
_MATCHERS: list[tuple[str, re.Pattern[str]]] = [
    (TOKEN, re.compile(r"^/api/v1/access_token/?$")),
    (SEARCH, re.compile(rf"^(?:/r/{_ID})?/search/?(?:\.json)?$")),
    (MORECHILDREN, re.compile(r"^/api/morechildren/?(?:\.json)?$")),
    (INFO, re.compile(r"^/api/info/?(?:\.json)?$")),
    (COMMENTS, re.compile(rf"^(?:/r/{_ID})?/comments/{_ID}(?:/[^/]*(?:/{_ID})?)?/?(?:\.json)?$")),
]
_SUBTREE = re.compile(rf"^(?:/r/{_ID})?/comments/{_ID}/[^/]*/({_ID})/?(?:\.json)?$")


def endpoint_from_url(url: str) -> str | None:
    """The endpoint whose path the whole of ``url``'s path matches, or None."""
    path = urlsplit(url).path
    for name, pattern in _MATCHERS:
        if pattern.match(path):
            return name
    return None


def endpoint_of(record: dict[str, Any]) -> str | None:
    """The endpoint a raw record answered: its ``endpoint`` field, else (older archives) its path."""
    named = record.get("endpoint")
    if isinstance(named, str) and named in PATHS:
        return named
    return endpoint_from_url(str(record.get("url") or ""))


def subtree_comment(url: str) -> str | None:
    """The comment id of a permalink (``/comments/{link}/{slug}/{comment}``) URL, or None for a whole thread."""
    match = _SUBTREE.match(urlsplit(url).path)
    return match.group(1) if match else None


__all__ = [
    "COMMENTS",
    "COMMENT_SUBTREE",
    "INFO",
    "MORECHILDREN",
    "PATHS",
    "SEARCH",
    "TOKEN",
    "endpoint_from_url",
    "endpoint_of",
    "subtree_comment",
]
