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


def column(description: str, *, example: Any, reddit: str, since: str | None = None, **field: Any) -> Any:
    """A column's :func:`~pydantic.Field`: what it means, an example value, and where Reddit sends it.

    ``reddit`` names the wire field the value comes from (or how it is derived), ``since``
    the schema version that added the column.  They reach the JSON Schema files and the
    data dictionary (docs/SCHEMA.md, ``python -m schemas``), so the models stay the one
    place a column is described.
    """
    extra: dict[str, Any] = {"reddit": reddit}
    if since is not None:
        extra["since"] = since
    return Field(description=description, examples=[example], json_schema_extra=extra, **field)


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


#: How a row's status is decided, in the order the rules are tried (scraper/normalize/status.py, WIRE-FORMAT §5-§7).
#: Every status but ``visible`` makes the row a tombstone: title, selftext, body, url, author, author_fullname
#: and author_flair_text are emptied, the permalink loses its title slug; ids, links, times and score stay.
STATUS_RULES: dict[Status, str] = {
    Status.REMOVED: "the body or selftext is `[removed]` or `[ Removed by Reddit ]`, or a submission's "
    "`removed_by_category` is set to "
    "anything but `author` or `deleted`, or a moderator's view of the item says `removed` or `spam` is true or "
    "names who removed it in `banned_by` (the text a moderator still sees is not kept; `approved` alone does not "
    "override these): removed by moderators or Reddit",
    Status.DELETED: "the body or selftext and the author are both `[deleted]`, or a submission's "
    "`removed_by_category` is `author` or `deleted`: deleted by its author",
    Status.ACCOUNT_DELETED: "the author is `[deleted]` and the text is kept: the author's account is gone",
    Status.VISIBLE: "none of the above: Reddit shows the item",
    Status.PURGED: "set by `python -m scraper purge` on a removal request, in every stored version",
    Status.UNAVAILABLE: "Reddit was asked and no longer serves the item; it is known only from an archive "
    "(docs/ARCHIVES.md)",
}


class _Row(BaseModel):
    """Fields shared by submissions and comments, provenance included."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)

    name: str = column(
        "Reddit fullname: kind prefix and id; the row's stable key, unique in a version.",
        example="t3_11ryvao",
        reddit="name (else t3_/t1_ + id)",
    )
    id: str = column("Base-36 id without the kind prefix.", example="11ryvao", reddit="id")
    subreddit: str | None = column(
        "Subreddit name without the r/ prefix; null where an archive line lacks it "
        "(about 0.1% of 2014-2017 submissions in the monthly dumps).",
        example="MachineLearning",
        reddit="subreddit",
    )
    subreddit_id: str | None = column("Subreddit fullname (t5_…).", example="t5_2r3gv", reddit="subreddit_id")
    author: str | None = column(
        "Author's username (a keyed pseudonym u_… in pseudonymized versions); null when Reddit shows "
        "'[deleted]' and in tombstones.",
        example="u_5f0c4e2a9b1d7c36",
        reddit="author",
    )
    author_fullname: str | None = column(
        "Author's account fullname (t2_…, pseudonymized with author); null in tombstones.",
        example="t2_9a7e31c04d6b2f58",
        reddit="author_fullname",
    )
    author_flair_text: str | None = column(
        "Author's flair text in the subreddit; null in tombstones.", example="Researcher", reddit="author_flair_text"
    )
    created_utc: AwareDatetime = column(
        "Creation time, UTC.", example="2023-03-15T10:42:17Z", reddit="created_utc (epoch seconds)"
    )
    edited: AwareDatetime | None = column(
        "Time of the last edit, UTC; null when never edited (Reddit sends false) "
        "or when the time is unknown (see is_edited).",
        example="2023-03-15T12:05:00Z",
        reddit="edited (false, epoch seconds, or true)",
    )
    is_edited: bool = column(
        "Edited at least once. True with a null edited time where Reddit sends edited: true "
        "(items edited before about 2012, when no edit time was stored), and where an old archive "
        "sends an integer for true (1, or any time before the creation); an archive's 0 is false. "
        "Also true, with a null edited time, where Arctic Shift's _meta.is_edited says the text changed "
        "between its two fetches (its edited keeps the first fetch's false).",
        example=True,
        reddit="edited is not false (archives: or _meta.is_edited)",
        since="1.2",
    )
    score: int | None = column(
        "Score (upvotes minus downvotes, fuzzed by Reddit) at retrieval time.", example=42, reddit="score"
    )
    distinguished: str | None = column(
        "null, moderator, admin or special: the author spoke in that role.", example="moderator", reddit="distinguished"
    )
    stickied: bool = column("Pinned by moderators.", example=False, reddit="stickied (absent: false)")
    locked: bool = column("Locked: no new replies.", example=False, reddit="locked (absent: false)")
    permalink: str | None = column(
        "Path of the item on reddit.com, relative; without the title slug in tombstones.",
        example="/r/MachineLearning/comments/11ryvao/d_to_those_of_you_who_quit_machine_learning/",
        reddit="permalink",
    )
    status: Status = column(
        "visible, deleted (by its author), removed (by moderators or Reddit), "
        "account_deleted (text kept on Reddit, author gone), purged (text removed from the dataset on request), "
        "unavailable (Reddit no longer serves it; known only from an archive).",
        example="visible",
        reddit="derived from body/selftext, author and removed_by_category (STATUS_RULES)",
    )
    retrieved_at: AwareDatetime = column(
        "When the response holding this row arrived, UTC. For an ingested answer that does not say "
        "(a plain saved body; a recorded one without a usable Date header): the earliest moment it can "
        "have been fetched, the newest created_utc or edit time of any thing in it, so any sighting "
        "dated later wins the merge (docs/OPERATIONS.md, Ingest).",
        example="2026-12-01T11:42:50Z",
        reddit="not Reddit's: the time the answer arrived (a saved file's Date header)",
    )
    source: str = column(
        "Where the row came from: 'reddit-api' for collection, 'arctic-shift' for the Arctic Shift API, "
        "'dump:<file>' for a dump file, 'file:<name>' for ingest.",
        example="reddit-api",
        reddit="not Reddit's: provenance",
    )
    found_by: list[str] = column(
        "Discovery provenance of the row's thread: 'search:r/<sub>:<query>', 'seed:<id>', "
        "'archive:r/<sub>' or 'file:<name>'.",
        example=['search:r/MachineLearning:"quit machine learning"', "seed:11ryvao"],
        reddit="not Reddit's: the searches and seeds that found the thread",
    )
    archived_at: AwareDatetime | None = column(
        "When an archive (Arctic Shift, a dump) captured the item, UTC: _meta.retrieved_2nd_on, "
        "else retrieved_on / retrieved_utc; null when the row was never seen in an archive.",
        example="2023-03-16T02:10:44Z",
        reddit="the archive's _meta.retrieved_2nd_on, retrieved_on or retrieved_utc",
        since="1.3",
        default=None,
    )
    archive_status: Status | None = column(
        "The item's state by the archive's deletion facts (_meta and text markers mapped onto "
        "statuses, docs/ARCHIVES.md); null when the row was never seen in an archive.",
        example="deleted",
        reddit="the archive's _meta and text markers",
        since="1.3",
        default=None,
    )
    archive_flags: list[str] = column(
        "The archive's facts behind archive_status: was_deleted_later, was_initially_deleted, "
        "removal_type:<value>, is_edited, note:<value>, score_provisional.",
        example=["was_deleted_later"],
        reddit="the archive's _meta",
        since="1.3",
        default_factory=list,
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

    title: str = column(
        "Title as Reddit sends it (raw, not HTML-escaped); '' in tombstones.",
        example="[D] To those of you who quit machine learning, what do you do now?",
        reddit="title",
    )
    selftext: str = column(
        "Body Markdown; '' for link posts and in tombstones.",
        example="I left ML research last year…",
        reddit="selftext",
    )
    url: str | None = column(
        "Link target, or the post's own URL for self posts; null in tombstones.",
        example="https://www.reddit.com/r/MachineLearning/comments/11ryvao/d_to_those_of_you_who_quit_machine_learning/",
        reddit="url",
    )
    domain: str | None = column(
        "Link domain; self.<sub> for self posts.", example="self.MachineLearning", reddit="domain"
    )
    is_self: bool = column("Text post rather than link post.", example=True, reddit="is_self (absent: false)")
    num_comments: int | None = column(
        "Comment count Reddit states (approximate; counts comments it no longer shows).",
        example=372,
        reddit="num_comments",
    )
    upvote_ratio: float | None = column("Share of upvotes, 0..1.", example=0.96, reddit="upvote_ratio")
    over_18: bool = column("Marked NSFW.", example=False, reddit="over_18 (absent: false)")
    link_flair_text: str | None = column("Post flair text.", example="Discussion", reddit="link_flair_text")
    removed_by_category: str | None = column(
        "Reddit's removal marker (moderator, reddit, automod_filtered, author, deleted, …); null when not removed.",
        example="moderator",
        reddit="removed_by_category",
    )


class Comment(_Row):
    """One Reddit comment (kind t1)."""

    link_id: str = column("Fullname of the comment's submission (t3_…).", example="t3_11ryvao", reddit="link_id")
    parent_id: str = column(
        "Fullname of the parent: t3_… for top level, t1_… otherwise.", example="t1_jcaa00s", reddit="parent_id"
    )
    depth: int | None = column(
        "0 for top level; computed from the parent chain. Null when the chain is not held.",
        example=1,
        reddit="computed from parent_id; Reddit's depth (which restarts at 0 in permalink answers) only "
        "where the chain is not held and the answer was a whole tree",
    )
    body: str = column(
        "Body Markdown as Reddit sends it; '' in tombstones.", example="I went into data engineering.", reddit="body"
    )
    is_submitter: bool = column(
        "Written by the submission's author.", example=False, reddit="is_submitter (absent: false)"
    )
    controversiality: int | None = column(
        "1 when Reddit marks the comment controversial (many up- and downvotes), else 0.",
        example=0,
        reddit="controversiality",
    )
    collapsed: bool | None = column("Collapsed by default in Reddit's view.", example=False, reddit="collapsed")


MODELS: dict[str, type[_Row]] = {"submissions": Submission, "comments": Comment}
"""The dataset's tables, by file stem."""

__all__ = ["MODELS", "SCHEMA_VERSION", "STATUS_RULES", "Comment", "Status", "Submission", "schema_compatible"]
