"""The fast decoder's view of Reddit's wire format: only the fields the rows need, strictly typed.

These msgspec types describe the *happy path*: every field with exactly the
JSON type that the models (:mod:`schemas.models`) take without conversion.
msgspec decodes a response straight into them, skipping the ~45 fields the
schema does not keep, and creates no per-field Python dicts.  A document that
does not fit (a wrong type anywhere, a lone UTF-16 surrogate, a kind this view
does not know, a number out of range) raises :class:`msgspec.ValidationError`
or :class:`msgspec.DecodeError`; its things are then built one by one through
the models (``scraper.normalize.rows``), which decide what is quarantined.
Accepting less than the models never changes a row, it only costs time, and
``tests/test_fastpath.py`` holds both paths to the same rows.

The structs are made with ``gc=False``: they hold no references that can form
cycles, so the cyclic collector never has to scan the millions of them a large
ingest creates.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

#: Epoch seconds that :func:`datetime.fromtimestamp` turns into years 1..9999.
MIN_EPOCH = -62135596800.0
MAX_EPOCH = 253402300799.0
Epoch = Annotated[float, msgspec.Meta(ge=MIN_EPOCH, le=MAX_EPOCH)]
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class T1Data(msgspec.Struct, gc=False):
    """A comment's wire fields, in the order of :data:`T1_FIELDS`."""

    id: str
    created_utc: Epoch
    body: str
    link_id: str
    parent_id: str
    name: str | None = None
    subreddit: str | None = None
    subreddit_id: str | None = None
    author: str | None = None
    author_fullname: str | None = None
    author_flair_text: str | None = None
    edited: bool | Epoch | None = False
    score: Int64 | None = None
    distinguished: str | None = None
    stickied: bool | None = False
    locked: bool | None = False
    permalink: str | None = None
    is_submitter: bool | None = False
    controversiality: Int64 | None = None
    collapsed: bool | None = None
    # a moderator's view only (WIRE-FORMAT §5): removed or spam-filtered (scraper/normalize/status.py)
    removed: bool | None = None
    spam: bool | None = None
    banned_by: str | bool | None = None
    depth: Int64 | msgspec.UnsetType | None = msgspec.UNSET
    replies: T1Listing | str = ""


class T3Data(msgspec.Struct, gc=False):
    """A submission's wire fields, in the order of :data:`T3_FIELDS`."""

    id: str
    created_utc: Epoch
    title: str
    name: str | None = None
    subreddit: str | None = None
    subreddit_id: str | None = None
    author: str | None = None
    author_fullname: str | None = None
    author_flair_text: str | None = None
    edited: bool | Epoch | None = False
    score: Int64 | None = None
    distinguished: str | None = None
    stickied: bool | None = False
    locked: bool | None = False
    permalink: str | None = None
    selftext: str = ""
    url: str | None = None
    domain: str | None = None
    is_self: bool | None = False
    num_comments: Int64 | None = None
    upvote_ratio: float | None = None
    over_18: bool | None = False
    link_flair_text: str | None = None
    removed_by_category: str | None = None
    # a moderator's view only (WIRE-FORMAT §5, §6): removed or spam-filtered (scraper/normalize/status.py)
    removed: bool | None = None
    spam: bool | None = None
    banned_by: str | bool | None = None


class T1Thing(msgspec.Struct, tag_field="kind", tag="t1", gc=False):
    data: T1Data


class T3Thing(msgspec.Struct, tag_field="kind", tag="t3", gc=False):
    data: T3Data


class MoreThing(msgspec.Struct, tag_field="kind", tag="more", gc=False):
    pass


Thing = T1Thing | T3Thing | MoreThing


class ListingData(msgspec.Struct, gc=False):
    children: list[Thing] | None = None


class T1ListingData(msgspec.Struct, gc=False):
    children: list[T1Thing | MoreThing] | None = None


class T1Listing(msgspec.Struct, tag_field="kind", tag="Listing", gc=False):
    data: T1ListingData


class Listing(msgspec.Struct, tag_field="kind", tag="Listing", gc=False):
    data: ListingData


class MoreJsonData(msgspec.Struct, gc=False):
    things: list[Thing] | None = None


class MoreJson(msgspec.Struct, gc=False):
    data: MoreJsonData | None = None


class MoreChildren(msgspec.Struct, gc=False):
    json: MoreJson


#: A comment tree: ``[Listing of the submission, Listing of comments]``.
Tree = tuple[Listing, T1Listing]

T1_FIELDS: tuple[str, ...] = T1Data.__struct_fields__
T3_FIELDS: tuple[str, ...] = T3Data.__struct_fields__

TREE_DECODER = msgspec.json.Decoder(Tree)
LISTING_DECODER = msgspec.json.Decoder(Listing)
MORE_DECODER = msgspec.json.Decoder(MoreChildren)
T1_DECODER = msgspec.json.Decoder(T1Data)
T3_DECODER = msgspec.json.Decoder(T3Data)

#: What a failed fast decode raises; the document then takes the model path.
NotFast = (msgspec.ValidationError, msgspec.DecodeError)


def decode(raw: bytes | str | Any, decoder: msgspec.json.Decoder[Any], kind: type) -> Any:
    """``raw`` JSON text or an already parsed object, decoded into ``kind``, strictly."""
    if isinstance(raw, bytes | str):
        return decoder.decode(raw)
    return msgspec.convert(raw, kind, strict=True)
