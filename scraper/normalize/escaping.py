"""Reddit's legacy HTML escaping of JSON strings, undone (WIRE-FORMAT §9).

Unless a request has ``raw_json=1``, Reddit escapes ``<``, ``>`` and ``&`` in every
string of its JSON answer as ``&lt;``, ``&gt;`` and ``&amp;``, and nothing else.  The
collector always asks with ``raw_json=1``; a recorded answer whose request did not is
unescaped by ingest before it is read (:func:`unescape_strings`), so one item is
stored with the same text whichever way it came in.  Exactly those three entities are
undone, in one pass: a literal ``&quot;`` or ``&#39;`` a user typed stays as typed,
and ``&amp;lt;`` (a typed ``&lt;``) becomes ``&lt;``, not ``<``.
"""

from __future__ import annotations

import re
from typing import Any

_ENTITY = re.compile("&(lt|gt|amp);")
_CHARS = {"lt": "<", "gt": ">", "amp": "&"}


def _char(match: re.Match[str]) -> str:
    return _CHARS[match.group(1)]


def reddit_escape(text: str) -> str:
    """``text`` as Reddit sends it without ``raw_json=1``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def reddit_unescape(text: str) -> str:
    """``text`` as Reddit sent it without ``raw_json=1``, back to what it was."""
    return _ENTITY.sub(_char, text) if "&" in text else text


def unescape_strings(value: Any) -> Any:
    """Every string in a parsed JSON answer unescaped (:func:`reddit_unescape`), in place; the answer returned.

    Keys stay as they are (Reddit's keys hold none of the three).  Walked without recursion,
    so an answer nested as deep as the JSON decoder reads is read here too.
    """
    if isinstance(value, str):
        return reddit_unescape(value)
    stack = [value] if isinstance(value, dict | list) else []
    while stack:
        node = stack.pop()
        pairs = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        for key, item in pairs:
            if isinstance(item, str):
                if "&" in item:
                    node[key] = reddit_unescape(item)
            elif isinstance(item, dict | list):
                stack.append(item)
    return value
