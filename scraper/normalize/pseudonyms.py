"""Keyed pseudonyms for authors: stable within a dataset, unlinkable without its key.

``Pseudonymizer(key)`` replaces ``author`` with ``u_<16 hex>``, ``author_fullname``
with ``t2_<16 hex>`` and every ``u/name`` or ``/u/name`` mention in titles,
selftexts and bodies with ``u/u_<16 hex>``: HMAC-SHA256 of the lower-cased
name under the dataset's key, truncated to 64 bits.  The same key gives the
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
_MENTION = re.compile(r"(?<![\w/])(/?u/)([A-Za-z0-9_-]{3,20})\b")
RowT = TypeVar("RowT", Submission, Comment)


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
        """``text`` with every u/ mention replaced."""
        return _MENTION.sub(lambda m: f"{m.group(1)}{self.name(m.group(2))}", text)

    def row(self, row: RowT) -> RowT:
        """One row with its author, account and mentions replaced."""
        update: dict[str, Any] = {
            "author": self.name(row.author) if row.author else None,
            "author_fullname": self.account(row.author_fullname) if row.author_fullname else None,
        }
        if isinstance(row, Submission):
            update.update(title=self.text(row.title), selftext=self.text(row.selftext))
        else:
            update["body"] = self.text(row.body)
        return row.model_copy(update=update)

    def manifest_entry(self) -> dict[str, Any]:
        """What a manifest says about pseudonymization (never the key)."""
        return {"pseudonymized": True, "method": METHOD, "key_fingerprint": self.fingerprint}


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
