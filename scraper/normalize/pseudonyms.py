"""Keyed pseudonyms for authors: stable within a dataset, unlinkable without its key.

``Pseudonymizer(key)`` replaces ``author`` with ``u_<16 hex>``, ``author_fullname``
with ``t2_<16 hex>``, and in titles, selftexts, bodies and link URLs every name
that points at a user (:data:`PROFILE`): a ``u/name`` or ``/u/name`` mention, a
profile link on any reddit.com host (``https://www.reddit.com/user/name``,
``old.reddit.com/u/name``, ``np.reddit.com/user/name/comments``, with or without
a scheme, inside Markdown links too), a relative ``/user/name`` link, a user's
profile subreddit ``r/u_name`` and a ``message/compose?to=name`` link; each also
written with Markdown escapes (``u/Jane\\_Doe``, as Reddit's rich-text editor
stores a mention) or percent-encoded once (``%2Fuser%2Fname``, ``compose?to=u%2Fname``,
an out.reddit.com redirect's ``url=https%3A%2F%2Fwww.reddit.com%2Fuser%2Fname``).  The
name, unescaped and decoded (so it is the author's own pseudonym), becomes
``u_<16 hex>``: HMAC-SHA256 of the lower-cased name under the dataset's
key, truncated to 64 bits.  Nothing else is rewritten: other sites' ``/user/``
paths, subreddit links and words like ``user/admin`` stay as written.  The same key gives the
same pseudonym in every version; another key gives unrelated ones.  The key
lives outside the dataset folder (an environment variable or a file that the
spec names); manifests record only a fingerprint (an HMAC of a constant), so
a run with the wrong key is stopped before it writes anything.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from schemas import Comment, Submission
from scraper.errors import ConfigError

MIN_KEY_BYTES = 16
METHOD = "HMAC-SHA256 of the lower-cased name, first 64 bits, hex; key kept outside the dataset"
#: One character of a username as it may be written: a name character, a Markdown-escaped ``\_`` or ``\-`` (Reddit's
#: rich-text editor stores a mention as ``u/Jane\_Doe``) or a percent-encoded ``%5F`` or ``%2D``.
_NAME = r"(?:[A-Za-z0-9_-]|\\[_-]|%(?i:5f|2d))"
#: ``/`` as written or percent-encoded once (``%2F``: a link inside a redirect URL or a query parameter).
_SLASH = r"(?i:/|%2f)"
#: After a percent-encoded space, ``&``, ``=`` or ``?`` (``hi%20u%2FJane``), where a written one would do too.
_ENCODED_GAP = r"(?<=%2[06]|%3[dDfF])"
#: A reddit.com host (any subdomain: www, old, new, np, m, ...), with or without a scheme, not part of a longer name.
_HOST = rf"(?:(?<![\w.-])|{_ENCODED_GAP})(?i:https?(?::|%3a))?(?:{_SLASH}{_SLASH})?(?:[\w-]+\.)*(?i:reddit\.com)"
#: Where a username stands.  The group that matched says how (each is written as it is); ``name`` is replaced.
PROFILE = re.compile(
    r"(?:"
    rf"(?P<link>{_HOST}{_SLASH}(?i:u|user){_SLASH})"  # a profile link on a reddit.com host
    rf"|(?P<relative>(?:(?<![\w./-])|{_ENCODED_GAP}){_SLASH}(?i:user){_SLASH})"  # a relative /user/name link
    # a profile subreddit: r/u_name, /r/u_name, reddit.com/r/u_name, r/u\_name
    rf"|(?P<subreddit>(?:{_HOST}{_SLASH}|(?:(?<![\w/])|{_ENCODED_GAP}){_SLASH}?)r{_SLASH})(?P<u_>u(?:_|\\_|%5[fF]))"
    # a message to a user: compose?to=name, ?to=/u/name, ?to=u%2Fname, ?subject=…&to=name, or all of it
    # percent-encoded in a redirect; at most 20 parameters of 200 characters before to= (each try stays short)
    rf"|(?P<message>(?:{_HOST}|(?<![\w./-])|{_ENCODED_GAP}){_SLASH}message{_SLASH}compose{_SLASH}?"
    rf"(?i:\?|%3f)(?:(?:(?!&|%26)[^\s#&]){{0,200}}(?:&|%26)){{0,20}}?(?i:to)(?i:=|%3d)(?:{_SLASH}?u{_SLASH})?)"
    rf"|(?P<mention>(?:(?<![\w/])|{_ENCODED_GAP}){_SLASH}?u{_SLASH})"  # a mention: u/name, /u/name, u%2Fname
    rf")(?P<name>{_NAME}+)(?!{_NAME})"
)
_UNWRITTEN = re.compile(r"\\([_-])|%(?i:5f|2d)")
_MENTION_LENGTH = range(3, 21)  # a bare mention is linked by Reddit for names of 3 to 20 characters
RowT = TypeVar("RowT", Submission, Comment)
#: The text columns whose user names are replaced, by table (the model path, the merge and the dump path).
TEXT_COLUMNS = {"submissions": ("title", "selftext", "url"), "comments": ("body",)}
#: What a text must hold to name a user at all (a cheap filter before :data:`PROFILE`), case-blind.
MAY_NAME_A_USER = r"(?i)u/|user/|u_|u\\_|u%5f|u(?:ser)?%2f|compose"
_MAY_NAME_A_USER = re.compile(MAY_NAME_A_USER)


@dataclass(frozen=True)
class Pseudonymizer:
    """Replaces author names, author ids and u/ mentions with keyed pseudonyms."""

    key: bytes

    def _digest(self, kind: str, value: str) -> str:
        return hmac.new(self.key, f"{kind}:{value.lower()}".encode(), hashlib.sha256).hexdigest()[:16]

    @property
    def fingerprint(self) -> str:
        """Identifies the key without revealing it (recorded in manifests)."""
        return self._digest("fingerprint", "reddit-research-dataset")

    def name(self, author: str) -> str:
        """The pseudonym of a username."""
        return f"u_{self._digest('author', author)}"

    def account(self, fullname: str) -> str:
        """The pseudonym of an account fullname (``t2_…``)."""
        return f"t2_{self._digest('account', fullname)}"

    def text(self, text: str) -> str:
        """``text`` with every name that points at a user replaced (:data:`PROFILE`)."""
        return PROFILE.sub(self._replace, text) if _MAY_NAME_A_USER.search(text) else text

    def _replace(self, match: re.Match[str]) -> str:
        name = _UNWRITTEN.sub(_unwritten, match.group("name"))  # as Reddit holds it: u/Jane\_Doe is Jane_Doe
        if match.group("mention") is not None and len(name) not in _MENTION_LENGTH:
            return match.group(0)  # Reddit links a bare mention only for a name of a username's length
        if match.group("subreddit") is not None:  # r/u_name: the subreddit is u_name, the pseudonym is u_<hex>
            return f"{match.group(0)[: match.start('u_') - match.start()]}{self.name(name)}"
        return f"{match.group(0)[: match.start('name') - match.start()]}{self.name(name)}"

    def row(self, row: RowT) -> RowT:
        """One row with its author, account and mentions replaced."""
        update: dict[str, Any] = {
            "author": self.name(row.author) if row.author else None,
            "author_fullname": self.account(row.author_fullname) if row.author_fullname else None,
        }
        if isinstance(row, Submission):
            update.update(title=self.text(row.title), selftext=self.text(row.selftext))
            update["url"] = self.text(row.url) if row.url else row.url  # a link post may link a profile
        else:
            update["body"] = self.text(row.body)
        return row.model_copy(update=update)

    def manifest_entry(self) -> dict[str, Any]:
        """What a manifest says about pseudonymization (never the key)."""
        return {"pseudonymized": True, "method": METHOD, "key_fingerprint": self.fingerprint}


def _unwritten(match: re.Match[str]) -> str:
    """One escaped or percent-encoded name character as itself."""
    return match.group(1) or ("_" if match.group(0).lower() == "%5f" else "-")


def load_key(dataset_dir: Path, *, key_env: str | None, key_file: str | None) -> Pseudonymizer:
    """Read the dataset's key from the environment or a file outside the dataset; check it."""
    raw: bytes | None = None
    where = ""
    if key_env:
        value = os.environ.get(key_env)
        raw, where = (value.encode() if value else None), f"environment variable {key_env}"
    if raw is None and key_file:
        path = Path(key_file).expanduser().resolve()
        where = f"key file {path}"
        if path.is_relative_to(dataset_dir.resolve()):
            raise ConfigError(f"{where} is inside the dataset folder; keep the pseudonym key outside it")
        raw = path.read_bytes().strip() if path.is_file() else None
    if raw is None:
        raise ConfigError(
            f"pseudonymization is on for {dataset_dir} but no key was found ({where or 'no key_env or key_file'}); "
            "set it before running, nothing was written"
        )
    if len(raw) < MIN_KEY_BYTES:
        raise ConfigError(f"the pseudonym key in {where} is shorter than {MIN_KEY_BYTES} bytes")
    return Pseudonymizer(raw)


def check_key(pseudonymizer: Pseudonymizer, previous: dict[str, Any] | None, dataset_dir: Path) -> None:
    """Stop when the key differs from the one the dataset's earlier versions were made with."""
    earlier = (previous or {}).get("pseudonymization") or {}
    fingerprint = earlier.get("key_fingerprint")
    if fingerprint and fingerprint != pseudonymizer.fingerprint:
        raise ConfigError(
            f"the pseudonym key differs from the one {dataset_dir} was made with "
            f"(fingerprint {pseudonymizer.fingerprint}, versions say {fingerprint}); nothing was written"
        )
