"""Ids and fullnames in Reddit's case: lower-case base 36 (WIRE-FORMAT §3.3), on every path.

Reddit sends ids lower-case; a hand-made or converted file given to ``ingest`` may not
(``"id": "AbC12"``, ``"name": "t1_AbC12"``).  The archive paths have always lower-cased an
ASCII id (:func:`scraper.normalize.archive.wire_shape`, ``flat.py``); the API and ingest paths
(the model path and the fast path of :mod:`scraper.normalize.sightings`) do the same, so one
item is one row whichever way it came, and ``purge`` can name it (adversarial review 4, F1).
A value with a non-ASCII character is kept as written (no such id exists; lower-casing it
could make it equal to an ASCII one: the Kelvin sign lower-cases to ``k``).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

#: The fields of a thing that hold its id or a fullname.
ID_FIELDS = ("id", "name", "link_id", "parent_id")


def lower_id(value: Any) -> Any:
    """An id or fullname in Reddit's case: lower-cased when it is ASCII text; anything else as it is."""
    return value.lower() if isinstance(value, str) and value.isascii() else value


def lowered_ids(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with its :data:`ID_FIELDS` in Reddit's case (``data`` itself when they already are)."""
    changed = {k: lowered for k in ID_FIELDS if k in data and (lowered := lower_id(data[k])) != data[k]}
    return {**data, **changed} if changed else data


def lower_ids(column: pa.Array | pa.ChunkedArray) -> Any:
    """:func:`lower_id` of each value of a string column."""
    if pc.all(pc.equal(column, pc.ascii_lower(column))).as_py() is not False:
        return column  # the everyday case: Reddit's ids, nothing to change
    return pc.if_else(pc.fill_null(pc.string_is_ascii(column), False), pc.ascii_lower(column), column)
