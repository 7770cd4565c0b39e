"""An RE2 prefilter for the ``[filter]`` keyword rule: a pattern DuckDB runs that matches wherever Python's does.

The rule is Python's ``re`` (:func:`scraper.spec.keyword_rule`: Unicode ``\\b``/``\\w``, ``$`` also
before a final newline, any case). The dump reader cannot afford Python on every post (about 50 µs
a post of 1 KB against eight patterns that do not match: 7× the whole posts pass), and DuckDB's
RE2 is not Python's. So each pattern is translated, from Python's own parse of it, into an RE2
pattern that matches a *superset* of the texts Python's matches: a text RE2 refuses is certainly
refused by Python, and only the texts it accepts are judged by Python (adversarial review 7, F2).

Widening, node by node (each step can only add texts): assertions (``^``, ``$``, ``\\b``,
look-around) match everywhere; a back-reference matches any text; ``.`` and negated classes any
character; ``\\w``/``\\d`` any character but ASCII white space (none of Python's word characters is
one), other categories any character; possessive and atomic groups are plain ones; a repeat past
RE2's 1,000 is ``*``. Case is matched by explicit classes (no RE2 ``(?i)``): each character with
every character that Python's ``IGNORECASE`` could take for it (the connected classes of its
simple lower- and upper-case mappings and ``re._casefix``), so RE2's case folding is never relied on.
A pattern this cannot translate (or RE2 cannot compile) gets no prefilter: Python judges every row.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import re
from typing import Any

# Python's own regular-expression internals (the parser, its constants, the extra case pairs and
# the lower-case mapping that IGNORECASE uses), by name: they have no stubs
_parser: Any = importlib.import_module("re._parser")
c: Any = importlib.import_module("re._constants")
_casefix: Any = importlib.import_module("re._casefix")
_sre: Any = importlib.import_module("_sre")

_ANY = r"(?s:.)"
_NOT_SPACE = r"[^\t\n\f\r ]"
_SPACE = frozenset(map(ord, "\t\n\f\r "))
_MAX_CLASS = 4096  # code points a range may cover before its class is widened to any character
_MAX_PATTERN = 100_000  # characters of RE2 pattern past which there is no prefilter
_RE2_REPEAT = 1000


class _Untranslatable(Exception):
    pass


@functools.cache
def _case_classes() -> dict[int, frozenset[int]]:
    """Each code point that has another of its case, with all of them (connected by any case mapping)."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        parent.setdefault(rb, rb)
        if ra != rb:
            parent[ra] = rb

    every = range(0x110000)
    # the code points with a case (a lower- or upper-case mapping other than themselves), in C
    for cp in itertools.compress(every, map(_sre.unicode_iscased, every)):
        lower = _sre.unicode_tolower(cp)
        if lower != cp:
            union(cp, lower)
        ch = chr(cp)
        for other in (ch.upper(), ch.title(), ch.lower()):
            if len(other) == 1 and ord(other) != cp:
                union(cp, ord(other))
    for a, others in getattr(_casefix, "_EXTRA_CASES").items():  # noqa: B009 - a private name, on purpose
        for b in others:
            union(a, b)
    groups: dict[int, set[int]] = {}
    for cp in list(parent):
        groups.setdefault(find(cp), set()).add(cp)
    return {cp: frozenset(group) for group in groups.values() for cp in group}


def _cased(cp: int) -> frozenset[int]:
    return _case_classes().get(cp, frozenset((cp,)))


def _class(points: set[int]) -> str:
    ordered = sorted(points)
    parts: list[str] = []
    start = prev = ordered[0]
    for cp in [*ordered[1:], -2]:
        if cp == prev + 1:
            prev = cp
            continue
        parts.append(f"\\x{{{start:x}}}" if start == prev else f"\\x{{{start:x}}}-\\x{{{prev:x}}}")
        start = prev = cp
    return "[" + "".join(parts) + "]"


def _in(items: list[tuple[Any, Any]]) -> str:
    points: set[int] = set()
    not_space = False
    for op, av in items:
        if op is c.NEGATE:
            return _ANY
        if op is c.LITERAL:
            points |= _cased(av)
        elif op is c.RANGE:
            lo, hi = av
            if hi - lo > _MAX_CLASS:
                return _ANY
            for cp in range(lo, hi + 1):
                points |= _cased(cp)
        elif op is c.CATEGORY and av in (c.CATEGORY_WORD, c.CATEGORY_DIGIT):
            not_space = True
        else:  # other categories (white space, their negations), anything unforeseen
            return _ANY
    if not_space:
        return _NOT_SPACE if not points & _SPACE else _ANY
    return _class(points)


def _seq(items: Any) -> str:
    return "".join(_node(op, av) for op, av in items)


def _node(op: Any, av: Any) -> str:
    if op is c.LITERAL:
        return _class(set(_cased(av)))
    if op in (c.NOT_LITERAL, c.ANY):
        return _ANY
    if op is c.IN:
        return _in(av)
    if op is c.BRANCH:
        return "(?:" + "|".join(_seq(b) for b in av[1]) + ")"
    if op is c.SUBPATTERN:
        return "(?:" + _seq(av[-1]) + ")"
    if op is c.ATOMIC_GROUP:
        return "(?:" + _seq(av) + ")"
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
        lo, hi, sub = av
        inner = "(?:" + _seq(sub) + ")"
        if lo > _RE2_REPEAT:
            return inner + "*"
        if hi is c.MAXREPEAT or hi > _RE2_REPEAT:
            return inner + f"{{{lo},}}"
        return inner + f"{{{lo},{hi}}}"
    if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
        return ""  # a zero-width condition left out: matches where it held and elsewhere
    if op is c.GROUPREF:
        return r"(?s:.*)"
    if op is c.GROUPREF_EXISTS:
        _, yes, no = av
        return "(?:" + _seq(yes) + "|" + (_seq(no) if no else "") + ")"
    raise _Untranslatable(str(op))


def superset(pattern: str) -> str | None:
    """An RE2 pattern (``regexp_matches``, no options) matching every text ``re.search(pattern, text, re.I)`` does.

    None: no such pattern is made (then every text must be judged by Python).
    """
    try:
        translated = _seq(_parser.parse(pattern, re.IGNORECASE))
    except (_Untranslatable, re.error, RecursionError, OverflowError, ValueError, TypeError):
        return None
    return translated if len(translated) <= _MAX_PATTERN else None


@functools.lru_cache(maxsize=64)
def prefilter(patterns: tuple[str, ...]) -> str | None:
    """One RE2 pattern matching every text that any of ``patterns`` matches; None if one has none."""
    parts = [superset(p) for p in patterns]
    if not parts or any(p is None for p in parts):
        return None
    joined = "|".join(f"(?:{p})" for p in parts if p is not None)
    return joined if _re2_compiles(joined) else None


def _re2_compiles(pattern: str) -> bool:
    """Whether DuckDB's RE2 takes ``pattern``: it refuses some that Python runs, e.g. nested counted repeats
    whose product passes 1,000 (``(?:\\w{1,30}\\s+){0,40}``; adversarial review 8 F2)."""
    import duckdb

    from scraper.duck import connect

    con = connect()
    try:
        con.execute("SELECT regexp_matches('', $p)", {"p": pattern}).fetchall()
    except duckdb.Error:
        return False
    finally:
        con.close()
    return True
