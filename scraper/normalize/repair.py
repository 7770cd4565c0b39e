"""Values Parquet cannot store, made storable: lone UTF-16 surrogates become U+FFFD.

JSON may carry half of a surrogate pair (``"\\ud83d"``, a truncated emoji);
Python's decoder accepts it, but a string holding one is not valid UTF-8 and
pyarrow refuses to write it.  Real archives carry such strings, so they are
repaired rather than allowed to stop a run, and every repair is counted in the
version's manifest (``stats.repaired``).  File names that are not valid UTF-8
reach Python as the same kind of surrogate (``surrogateescape``) and are
repaired the same way.  The raw JSON of a quarantined thing is kept exact:
its line is written with ``\\u`` escapes instead (:func:`json_line`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD."""
    return _SURROGATE.sub(REPLACEMENT, text)


def needs_repair(text: str) -> bool:
    """Whether ``text`` holds a code point that UTF-8 cannot encode."""
    return _SURROGATE.search(text) is not None


def repair_fields(data: dict[str, Any], counts: Counter[str]) -> dict[str, Any]:
    """``data`` with its top-level string values made storable; each repaired field counted in ``counts``."""
    repaired: dict[str, Any] | None = None
    for key, value in data.items():
        if isinstance(value, str) and needs_repair(value):
            if repaired is None:
                repaired = dict(data)
            repaired[key] = storable(value)
            counts[str(key)] += 1
    return data if repaired is None else repaired


def repair_text(text: str, counts: Counter[str], what: str) -> str:
    """One string made storable, counted under ``what``."""
    if needs_repair(text):
        counts[what] += 1
        return storable(text)
    return text


def json_line(payload: Any) -> str:
    """``payload`` as one line of JSON, readable UTF-8 where possible, ``\\u`` escapes where it must."""
    line = json.dumps(payload, ensure_ascii=False, sort_keys=True)
    if needs_repair(line):
        return json.dumps(payload, ensure_ascii=True, sort_keys=True)
    return line
