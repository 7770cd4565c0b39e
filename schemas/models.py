"""The Pydantic models for one submission row and one comment row.

These models are the single source of truth for the dataset's shape: the Arrow
schema (:mod:`schemas.arrow`) and the committed JSON Schema files are derived
from them.  Field names follow Reddit's own where Reddit has one; ``name`` is
Reddit's fullname (``t3_…``/``t1_…``), the stable key of every row.
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

#: Bumped on every change to the models. Additive changes bump the minor part,
#: anything that renames, removes or retypes a column bumps the major part.
SCHEMA_VERSION = "1.3"  # 1.1: status "purged"; 1.2: is_edited, subreddit nullable (schemas/upgrade.py);
# 1.3: archive provenance (archived_at, archive_status, archive_flags), status "unavailable"


def schema_compatible(version: str | None) -> bool:
    """Whether files of schema ``version`` read with these models: the same major version."""
    return str(version or "").split(".", maxsplit=1)[0] == SCHEMA_VERSION.split(".", maxsplit=1)[0]


class Status(enum.StrEnum):
    """What Reddit shows of an item, derived from its markers (WIRE-FORMAT §7)."""

    VISIBLE = "visible"
    DELETED = "deleted"
    """Deleted by its author: author and text are both ``[deleted]``."""
    REMOVED = "removed"
    """Removed by moderators or Reddit: text ``[removed]`` (or ``removed_by_category``)."""
    ACCOUNT_DELETED = "account_deleted"
    """The author's account is gone, the text is kept."""
    PURGED = "purged"
    """Text and author removed from the dataset on request (``python -m scraper purge``)."""
    UNAVAILABLE = "unavailable"
    """Reddit was asked and no longer serves the item; it is known only from an archive (docs/ARCHIVES.md)."""


class _Row(BaseModel):
    """Fields shared by submissions and comments, provenance included."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)

    name: str = Field(description="Reddit fullname, e.g. t3_11ryvao; the row's stable key.")
    id: str = Field(description="Base-36 id without the kind prefix.")
    subreddit: str | None = Field(
        description="Subreddit name without the r/ prefix; null where an archive line lacks it "
        "(about 0.1% of 2014-2017 submissions in the monthly dumps)."
    )
    subreddit_id: str | None = Field(description="Subreddit fullname (t5_…).")
    author: str | None = Field(
        description="Author's username; null when the account is deleted (Reddit's '[deleted]')."
    )
    author_fullname: str | None = Field(description="Author's account fullname (t2_…).")
    author_flair_text: str | None = Field(description="Author's flair text in the subreddit.")
    created_utc: AwareDatetime = Field(description="Creation time, UTC.")
    edited: AwareDatetime | None = Field(
        description="Time of the last edit, UTC; null when never edited (Reddit sends false) "
        "or when the time is unknown (see is_edited)."
    )
    is_edited: bool = Field(
        description="Edited at least once. True with a null edited time where Reddit sends edited: true "
        "(items edited before about 2012, when no edit time was stored).",
        json_schema_extra={"since": "1.2"},
    )
    score: int | None = Field(description="Score at retrieval time.")
    distinguished: str | None = Field(description="null, moderator, admin or special.")
    stickied: bool = Field(description="Pinned by moderators.")
    locked: bool = Field(description="Locked: no new replies.")
    permalink: str | None = Field(description="Path of the item on reddit.com, relative.")
    status: Status = Field(
        description="visible, deleted (by its author), removed (by moderators or Reddit), "
        "account_deleted (text kept on Reddit, author gone), purged (text removed from the dataset on request), "
        "unavailable (Reddit no longer serves it; known only from an archive)."
    )
    retrieved_at: AwareDatetime = Field(description="When the response holding this row arrived, UTC.")
    source: str = Field(
        description="Where the row came from: 'reddit-api' for collection, 'arctic-shift' for the Arctic Shift API, "
        "'dump:<file>' for a dump file, 'file:<name>' for ingest."
    )
    found_by: list[str] = Field(
        description="Discovery provenance of the row's thread: 'search:r/<sub>:<query>', 'seed:<id>', "
        "'archive:r/<sub>' or 'file:<name>'."
    )
    archived_at: AwareDatetime | None = Field(
        default=None,
        description="When an archive (Arctic Shift, a dump) captured the item, UTC: _meta.retrieved_2nd_on, "
        "else retrieved_on / retrieved_utc; null when the row was never seen in an archive.",
        json_schema_extra={"since": "1.3"},
    )
    archive_status: Status | None = Field(
        default=None,
        description="The item's state by the archive's deletion facts (_meta and text markers mapped onto "
        "statuses, docs/ARCHIVES.md); null when the row was never seen in an archive.",
        json_schema_extra={"since": "1.3"},
    )
    archive_flags: list[str] = Field(
        default_factory=list,
        description="The archive's facts behind archive_status: was_deleted_later, was_initially_deleted, "
        "removal_type:<value>, is_edited, note:<value>, score_provisional.",
        json_schema_extra={"since": "1.3"},
    )

    @model_validator(mode="before")
    @classmethod
    def _older_rows(cls, data: Any) -> Any:
        """A row read from a version older than 1.2 has no ``is_edited``: its ``edited`` time says it."""
        if isinstance(data, dict) and "is_edited" not in data:
            return {**data, "is_edited": data.get("edited") is not None}
        return data

    @model_validator(mode="after")
    def _edit_time_means_edited(self) -> _Row:
        if self.edited is not None and not self.is_edited:
            raise ValueError("is_edited must be true when edited holds a time")
        return self


class Submission(_Row):
    """One Reddit submission (kind t3)."""

    title: str = Field(description="Title as Reddit sends it (raw, not HTML-escaped).")
    selftext: str = Field(description="Body Markdown; '' for link posts.")
    url: str | None = Field(description="Link target, or the post's own URL for self posts.")
    domain: str | None = Field(description="Link domain; self.<sub> for self posts.")
    is_self: bool = Field(description="Text post rather than link post.")
    num_comments: int | None = Field(description="Comment count Reddit states (approximate).")
    upvote_ratio: float | None = Field(description="Share of upvotes, 0..1.")
    over_18: bool = Field(description="Marked NSFW.")
    link_flair_text: str | None = Field(description="Post flair text.")
    removed_by_category: str | None = Field(
        description="Reddit's removal marker (moderator, reddit, automod_filtered, author, deleted, …)."
    )


class Comment(_Row):
    """One Reddit comment (kind t1)."""

    link_id: str = Field(description="Fullname of the comment's submission (t3_…).")
    parent_id: str = Field(description="Fullname of the parent: t3_… for top level, t1_… otherwise.")
    depth: int | None = Field(
        description="0 for top level; computed from the parent chain. Null when the chain is not held."
    )
    body: str = Field(description="Body Markdown as Reddit sends it.")
    is_submitter: bool = Field(description="Written by the submission's author.")
    controversiality: int | None = Field(description="0 or 1.")
    collapsed: bool | None = Field(description="Collapsed by default in Reddit's view.")


MODELS: dict[str, type[_Row]] = {"submissions": Submission, "comments": Comment}
"""The dataset's tables, by file stem."""

__all__ = ["MODELS", "SCHEMA_VERSION", "Comment", "Status", "Submission", "schema_compatible"]
