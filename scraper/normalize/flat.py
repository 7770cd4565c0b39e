"""Archive lines to checked Arrow batches in one SQL pass (DuckDB), with no Python object per row.

The dump path (scraper/dumps.py) reads millions of lines; a Python dict or a
Pydantic object per row costs more than everything else together (about 8,000
rows/s, against DuckDB's own ``read_json`` at 100,000+ on the same file).  So a
block of lines goes to DuckDB as one Arrow column and comes back as one Arrow
batch: DuckDB parses each line once (``json_transform``), and the SQL below
applies the same rules as the row builder (:mod:`scraper.normalize.rows` with
:mod:`scraper.normalize.archive`): the drift of every era (``created_utc`` as
an int, a float or a string; ``edited`` false, true, an int, a float or a
string; ``name``/``permalink`` built where missing; ``link_id``/``parent_id``
prefixed), the archive's deletion facts mapped onto statuses, tombstones, and
the spec's filter (subreddits, time range, keyword rule, thread ids).

Every value is checked against the schema's type; a line whose value does not
fit, or that is not a JSON object, comes back as a quarantine entry naming the
line and the field instead of failing the block.  Tests hold this SQL to the
model path on generated lines of every era.

Differences from the model path, on values the models refuse: a null
``selftext`` is read as ``""`` (the model path quarantines the row), and
integers written as strings are refused.
"""

from __future__ import annotations

import collections
import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas import ARROW_SCHEMAS
from scraper.duck import connect
from scraper.normalize.archive import MATURE_SECONDS
from scraper.normalize.ids import ID_FIELDS, lower_ids
from scraper.normalize.keywords import prefilter
from scraper.normalize.pseudonyms import MAY_NAME_A_USER, TEXT_COLUMNS, Pseudonymizer
from scraper.normalize.repair import needs_repair, repair_text, storable
from scraper.normalize.status import REMOVED_MARKERS
from scraper.spec import keyword_rule

STEMS = {"t3": "submissions", "t1": "comments"}
#: status_of's removal texts as SQL literals (constants of ours, no quote in them)
_REMOVED_SQL = ", ".join(f"'{m}'" for m in REMOVED_MARKERS)
MATURE_MICROS = MATURE_SECONDS * 1_000_000  # score_provisional's threshold, as archive.archive_facts has it

_COMMON = [
    *("id", "name", "created_utc", "edited", "subreddit", "subreddit_id", "author", "author_fullname"),
    *("author_flair_text", "score", "distinguished", "stickied", "locked", "permalink"),
    *("retrieved_on", "retrieved_utc", "_meta"),
]
_KIND_FIELDS = {
    "t3": [
        *("title", "selftext", "url", "domain", "is_self", "num_comments", "upvote_ratio", "over_18"),
        *("link_flair_text", "removed_by_category"),
    ],
    "t1": ["link_id", "parent_id", "body", "is_submitter", "controversiality", "collapsed"],
}

_MACROS = """
CREATE OR REPLACE MACRO jstr(t, v) AS CASE WHEN t = 'VARCHAR' THEN v END;
CREATE OR REPLACE MACRO str_ok(t) AS t IS NULL OR t IN ('VARCHAR', 'NULL');
CREATE OR REPLACE MACRO jint(t, v) AS CASE
    WHEN t IN ('UBIGINT', 'BIGINT') THEN TRY_CAST(v AS BIGINT)
    WHEN t = 'DOUBLE' AND TRY_CAST(v AS DOUBLE) = trunc(TRY_CAST(v AS DOUBLE))
        THEN TRY_CAST(TRY_CAST(v AS DOUBLE) AS BIGINT)
    END;
CREATE OR REPLACE MACRO int_ok(t, v) AS t IS NULL OR t = 'NULL' OR jint(t, v) IS NOT NULL;
CREATE OR REPLACE MACRO jnum(t, v) AS CASE WHEN t IN ('UBIGINT', 'BIGINT', 'DOUBLE') THEN TRY_CAST(v AS DOUBLE) END;
CREATE OR REPLACE MACRO num_ok(t, v) AS t IS NULL OR t = 'NULL' OR jnum(t, v) IS NOT NULL;
CREATE OR REPLACE MACRO bool_ok(t) AS t IS NULL OR t IN ('BOOLEAN', 'NULL');
CREATE OR REPLACE MACRO jbool(t, v) AS CASE WHEN t = 'BOOLEAN' THEN v = 'true' END;
CREATE OR REPLACE MACRO truthy(t, v) AS coalesce(CASE t
    WHEN 'BOOLEAN' THEN v = 'true'
    WHEN 'VARCHAR' THEN length(v) > 0
    WHEN 'UBIGINT' THEN TRY_CAST(v AS DOUBLE) <> 0
    WHEN 'BIGINT' THEN TRY_CAST(v AS DOUBLE) <> 0
    WHEN 'DOUBLE' THEN TRY_CAST(v AS DOUBLE) <> 0
    WHEN 'ARRAY' THEN json_array_length(v) > 0
    WHEN 'OBJECT' THEN v <> '{}'
    ELSE false END, false);
-- f3 (review 2, F5): a flag spelled as text (hand-made files): true/1/yes/y, false/0/no/n or "" (case-blind);
-- any other text is NULL and the line is quarantined (flag_ok), as normalize/archive.py's wire_shape does
CREATE OR REPLACE MACRO flag(t, v) AS CASE WHEN t = 'VARCHAR' THEN CASE
        WHEN lower(trim(v, ' ')) IN ('true', '1', 'yes', 'y') THEN true
        WHEN lower(trim(v, ' ')) IN ('false', '0', 'no', 'n', '') THEN false END
    ELSE truthy(t, v) END;
CREATE OR REPLACE MACRO flag_ok(t, v) AS t IS DISTINCT FROM 'VARCHAR' OR flag(t, v) IS NOT NULL;
CREATE OR REPLACE MACRO epoch(t, v) AS CASE
    WHEN t IN ('UBIGINT', 'BIGINT', 'DOUBLE', 'VARCHAR') THEN TRY_CAST(trunc(TRY_CAST(v AS DOUBLE)) AS BIGINT) END;
CREATE OR REPLACE MACRO micros(seconds) AS TRY_CAST(round(seconds * 1000000) AS BIGINT);
CREATE OR REPLACE MACRO when_micros(t, v) AS CASE WHEN epoch(t, v) > 0 THEN epoch(t, v) * 1000000 END;
"""
#: fields every rule reads only as text (``jstr``, ``str_ok``, ``= 'VARCHAR'``): any other JSON type is an error
_STRINGS = frozenset(
    {
        *("id", "name", "subreddit", "subreddit_id", "author", "author_fullname", "author_flair_text"),
        *("distinguished", "permalink", "link_id", "parent_id", "body", "title", "selftext", "url", "domain"),
        *("link_flair_text", "removed_by_category"),
    }
)
#: SQL: the characters of a blank line, which DuckDB's NDJSON reader skips (space, tab, CR, VT, FF);
#: the block path skips the same lines (a tab-only line was quarantined there and skipped by the reader)
_BLANK = "' ' || chr(9) || chr(13) || chr(11) || chr(12)"
_META = ("was_deleted_later", "was_initially_deleted", "is_edited", "removal_type", "note", "retrieved_2nd_on")


def _json_type(fragment: str, field: str = "") -> str:
    """``json_type`` of a JSON fragment from its first character (the fragment is parsed once, not again per field).

    ``json_transform`` hands back fragments re-serialized by DuckDB: a string starts with ``"``, a
    number with a digit or ``-`` (a real one holds ``.`` or an exponent), JSON ``null`` is SQL NULL.
    Integers are ``BIGINT`` here whatever their size: every rule below treats ``UBIGINT`` the same.
    A field the rules only read as text (:data:`_STRINGS`) is ``VARCHAR`` or ``OTHER``.
    """
    if field in _STRINGS:
        return f"CASE WHEN ascii({fragment}) = 34 THEN 'VARCHAR' WHEN {fragment} IS NOT NULL THEN 'OTHER' END"
    return f"""CASE WHEN {fragment} IS NOT NULL THEN CASE ascii({fragment})
        WHEN 34 THEN 'VARCHAR' WHEN 116 THEN 'BOOLEAN' WHEN 102 THEN 'BOOLEAN' WHEN 123 THEN 'OBJECT'
        WHEN 91 THEN 'ARRAY' WHEN 110 THEN 'NULL'
        ELSE CASE WHEN contains({fragment}, '.') OR contains({fragment}, 'e') OR contains({fragment}, 'E')
            THEN 'DOUBLE' ELSE 'BIGINT' END END END"""


#: fields the fast reader takes only as JSON integers (or null): every era writes them so
#: (../shared/archives drift tables); any other value sends the span to the block path
_FAST_INTS = frozenset({"score", "controversiality", "num_comments", "retrieved_on", "retrieved_utc"})
#: fields the fast reader takes only as JSON booleans (or null), likewise
_FAST_BOOLS = frozenset({"stickied", "locked", "is_submitter", "collapsed", "is_self", "over_18"})


def _fast_field(field: str) -> tuple[str, str | None]:
    """The fast reader's ``t_``/``v_`` columns for a field read as a JSON fragment, and when its value is unusual.

    The usual JSON type of a field (a string for :data:`_STRINGS`, an integer for :data:`_FAST_INTS`,
    a boolean for :data:`_FAST_BOOLS`, each or null) is taken without looking at each value's type
    again: its ``t_`` column is that type, its ``v_`` column the value. A value of any other JSON
    type makes the second part true, and the row unusual: the span then goes to the block path,
    which judges every value by its own type (so the rules see the same ``t_``/``v_`` as there).
    Fields whose type drifts between eras (``created_utc``, ``edited``, ``upvote_ratio``, ``_meta``)
    are typed value by value, as in the block path.
    """
    q = f'"{field}"'
    if field in _STRINGS:  # a string fragment starts with a quote; JSON null is SQL NULL
        return f"'VARCHAR' AS t_{field}, {q}->>'$' AS v_{field}", f"ascii({q}) <> 34"
    if field in _FAST_INTS:  # digits and a sign only (a real number holds '.' or an exponent; NaN does not cast)
        text = f"{q}::VARCHAR"
        unusual = (
            f"({q} IS NOT NULL AND (TRY_CAST({text} AS BIGINT) IS NULL"
            f" OR contains({text}, '.') OR contains({text}, 'e') OR contains({text}, 'E')))"
        )
        return f"CASE WHEN {q} IS NOT NULL THEN 'BIGINT' END AS t_{field}, {text} AS v_{field}", unusual
    if field in _FAST_BOOLS:
        return (
            f"CASE WHEN {q} IS NOT NULL THEN 'BOOLEAN' END AS t_{field}, {q}::VARCHAR AS v_{field}",
            f"{q}::VARCHAR NOT IN ('true', 'false')",
        )
    return _typed_field(field), None


def _ambiguous(value: str) -> str:
    """SQL: the ``VARCHAR`` ``value`` could be the text DuckDB's reader writes for a JSON value that is no string.

    Such a text is always valid JSON (``true``, ``12``, ``1000.0`` for ``1e3``, ``1E400``, ``NaN``,
    ``[1,2]``, ``{"a":1}``: the reader takes the NaN and infinity literals, and so does
    ``json_valid``), so every value that is not valid JSON is certainly a string; the rest (a body
    ``"42"``, an all-digit id) are checked on their line (:func:`_resolve_ambiguous`). A test of the
    first character before ``json_valid`` measured no cheaper.
    """
    return f"json_valid({value})"


def _typed_field(field: str) -> str:
    """A field's ``t_``/``v_`` columns typed value by value from its JSON fragment (any JSON type)."""
    q = f'"{field}"'
    return f"""{_json_type(q, field)} AS t_{field},
            CASE WHEN ascii({q}) = 34 THEN {q}->>'$' {"" if field in _STRINGS else f"ELSE {q}::VARCHAR "}END AS v_{field}"""


def _select(
    kind: str,
    keyword: tuple[bool, bool, bool] | None,
    filtered: bool,
    *,
    fast: bool = False,
    usual: bool = True,
    strings: bool = False,
) -> str:
    """The SQL that turns lines into schema columns plus ``err``, ``reason``, ``link_norm`` and ``kw``.

    ``keyword`` (posts): ``kw`` is the text the ``[filter]`` keyword rule reads (title, newline,
    selftext) on each row no other reason leaves out, else NULL; :func:`_judge` runs the rule on it.

    ``fast``: DuckDB's own NDJSON reader on the file ``$path`` (parallel, each line parsed once, no
    Python per line); a malformed line stops that query (the caller then runs the block path).
    ``usual`` (with ``fast``): the fields of one usual JSON type are taken at that type, and a row
    with a value of another type comes back with ``err = 'unusual'`` (:func:`_fast_field`);
    otherwise every field is typed value by value, as in the block path.
    ``strings`` (with ``fast`` and ``usual``): DuckDB's reader also types the string fields itself
    (``VARCHAR``: no JSON fragment written and unquoted again); as it writes a value of another JSON
    type into such a column as its text, a row where any of them reads like such a text comes back
    with ``amb``, the list of those fields' values, for :func:`_resolve_ambiguous` to check on its line.
    Otherwise the table ``lines(n, line, ok)``: every line is judged, one that is not a JSON object
    comes back with ``err = 'line'`` (``'blank'`` for a blank one).
    """
    fields = _COMMON + _KIND_FIELDS[kind]
    spec = "{" + ",".join(f'"{f}":"JSON"' for f in fields) + "}"
    string_spec = "{" + ",".join(f'"{f}":"VARCHAR"' for f in fields) + "}"
    typed = ", ".join(f"{_json_type(f'j.{f}', f)} AS t_{f}, s.{f} AS v_{f}" for f in fields)
    meta_spec = "{" + ",".join(f'"{f}":"JSON"' for f in _META) + "}"
    meta_typed = ", ".join(
        f"{_json_type(f'm.{f}')} AS m_t_{f}, CASE WHEN ascii(m.{f}) = 34 THEN m.{f}->>'$' ELSE m.{f}::VARCHAR END AS m_v_{f}"
        for f in _META
    )
    text = "body" if kind == "t1" else "selftext"
    post = kind == "t3"
    if post:
        reason = f"""CASE
            WHEN {filtered} AND NOT list_contains($subreddits, lower(coalesce(nullif(jstr(t_subreddit, v_subreddit), ''), $file_subreddit, ''))) THEN 'subreddit'
            WHEN created IS NOT NULL AND $after IS NOT NULL AND created < $after THEN 'time'
            WHEN created IS NOT NULL AND $before IS NOT NULL AND created >= $before THEN 'time'
            {"WHEN NOT regexp_matches(kw_text, $include) THEN 'keyword'" if keyword and keyword[1] else ""}
            END"""
    else:
        reason = f"""CASE
            WHEN $links_given THEN NULL  -- the thread ids are matched by the caller (an Arrow hash set)
            WHEN {filtered} AND NOT list_contains($subreddits, lower(coalesce(nullif(jstr(t_subreddit, v_subreddit), ''), $file_subreddit, ''))) THEN 'subreddit'
            WHEN created IS NOT NULL AND $after IS NOT NULL AND created < $after THEN 'time'
            END"""
    kind_checks = (
        """WHEN NOT str_ok(t_title) OR v_title IS NULL THEN 'title'
           WHEN NOT str_ok(t_selftext) THEN 'selftext'
           WHEN NOT str_ok(t_url) THEN 'url'
           WHEN NOT str_ok(t_domain) THEN 'domain'
           WHEN NOT int_ok(t_num_comments, v_num_comments) THEN 'num_comments'
           WHEN NOT num_ok(t_upvote_ratio, v_upvote_ratio) THEN 'upvote_ratio'
           WHEN NOT str_ok(t_link_flair_text) THEN 'link_flair_text'
           WHEN NOT str_ok(t_removed_by_category) THEN 'removed_by_category'
           WHEN NOT flag_ok(t_is_self, v_is_self) THEN 'is_self'
           WHEN NOT flag_ok(t_over_18, v_over_18) THEN 'over_18'"""
        if post
        else """WHEN NOT str_ok(t_link_id) OR v_link_id IS NULL THEN 'link_id'
           WHEN NOT str_ok(t_parent_id) OR v_parent_id IS NULL THEN 'parent_id'
           WHEN NOT str_ok(t_body) OR v_body IS NULL THEN 'body'
           WHEN NOT int_ok(t_controversiality, v_controversiality) THEN 'controversiality'
           WHEN NOT bool_ok(t_collapsed) THEN 'collapsed'
           WHEN NOT flag_ok(t_is_submitter, v_is_submitter) THEN 'is_submitter'"""
    )
    kind_columns = (
        """CASE WHEN tomb THEN '' ELSE jstr(t_title, v_title) END AS title,
           CASE WHEN tomb THEN '' ELSE coalesce(jstr(t_selftext, v_selftext), '') END AS selftext,
           CASE WHEN tomb THEN NULL ELSE jstr(t_url, v_url) END AS url,
           jstr(t_domain, v_domain) AS domain,
           flag(t_is_self, v_is_self) AS is_self,
           jint(t_num_comments, v_num_comments) AS num_comments,
           jnum(t_upvote_ratio, v_upvote_ratio) AS upvote_ratio,
           flag(t_over_18, v_over_18) AS over_18,
           jstr(t_link_flair_text, v_link_flair_text) AS link_flair_text,
           jstr(t_removed_by_category, v_removed_by_category) AS removed_by_category"""
        if post
        else """link_norm_raw AS link_id,
           parent AS parent_id,
           CASE WHEN starts_with(parent, 't3_') THEN 0 END::BIGINT AS depth,
           CASE WHEN tomb THEN '' ELSE jstr(t_body, v_body) END AS body,
           flag(t_is_submitter, v_is_submitter) AS is_submitter,
           jint(t_controversiality, v_controversiality) AS controversiality,
           jbool(t_collapsed, v_collapsed) AS collapsed"""
    )
    link = (
        """CASE WHEN jstr(t_link_id, v_link_id) <> '' AND NOT starts_with(jstr(t_link_id, v_link_id), 't1_')
                    AND NOT starts_with(jstr(t_link_id, v_link_id), 't3_') THEN 't3_' || jstr(t_link_id, v_link_id)
                ELSE jstr(t_link_id, v_link_id) END"""
        if not post
        else "NULL"
    )
    # f3 (review 2, F5): a bare parent id equal to the thread's own id is the submission (t3_), else a comment (t1_)
    parent = (
        """CASE WHEN jstr(t_parent_id, v_parent_id) <> '' AND NOT starts_with(jstr(t_parent_id, v_parent_id), 't1_')
                    AND NOT starts_with(jstr(t_parent_id, v_parent_id), 't3_')
                THEN CASE WHEN lower(jstr(t_parent_id, v_parent_id))
                               = regexp_replace(lower(coalesce(jstr(t_link_id, v_link_id), '')), '^t3_', '')
                          THEN 't3_' ELSE 't1_' END || jstr(t_parent_id, v_parent_id)
                ELSE jstr(t_parent_id, v_parent_id) END"""
        if not post
        else "NULL"
    )
    built_permalink = (
        "CASE WHEN coalesce(sub, '') <> '' THEN '/r/' || sub || '/comments/' || tid || '/' END"
        if post
        else """CASE WHEN coalesce(sub, '') <> '' AND link_norm_raw IS NOT NULL
                THEN '/r/' || sub || '/comments/' || substr(link_norm_raw, 4) || '/_/' || tid || '/' END"""
    )
    slugless = (
        "CASE WHEN coalesce(sub, '') <> '' THEN '/r/' || sub ELSE '' END || '/comments/' || tid || '/'"
        if post
        else """CASE WHEN coalesce(sub, '') <> '' THEN '/r/' || sub ELSE '' END || '/comments/'
                || substr(coalesce(link_norm_raw, ''), 4) || '/_/' || tid || '/'"""
    )
    category = "jstr(t_removed_by_category, v_removed_by_category)" if post else "NULL"
    # The keyword rule is not run here: DuckDB's regular expressions (RE2) are not Python's (ASCII
    # \b and \w, no $ before a final newline), and the rule must keep what collect and archive keep
    # (adversarial review 7, F2). The text it reads goes out for the rows still kept; _judge runs
    # the spec's own rule (scraper.spec.keyword_rule) on them.
    # An RE2 pattern matching a superset of what the include patterns match ($include, from
    # scraper.normalize.keywords) leaves out here the posts that Python's rule would certainly leave
    # out; with no include patterns, one for the exclude patterns ($exclude) tells the posts that
    # Python's rule would certainly keep.
    post_keyword = post and keyword is not None
    if keyword is not None and keyword[0]:
        judged = "true"
    elif keyword is not None and keyword[2]:
        judged = "regexp_matches(kw_text, $exclude)"
    else:
        judged = "true"
    kw_text = (
        "coalesce(jstr(t_title, v_title), '') || chr(10) || coalesce(jstr(t_selftext, v_selftext), '')"
        if post_keyword
        else "NULL::VARCHAR"
    )
    keyword_text = (
        f"CASE WHEN bad IS NULL AND reason IS NULL AND {judged} THEN kw_text END" if post_keyword else "NULL::VARCHAR"
    )
    # Built from this module's constants and the schema's field names only; every value a user
    # gives (subreddits, patterns, range, ids, source) goes in as a query parameter.
    amb = "NULL::VARCHAR[]"
    typed_strings: list[str] = []
    if fast:
        strings = strings and usual
        typed_strings = [f for f in fields if f in _STRINGS] if strings else []
        columns = "{" + ",".join(f"'{f}':'{'VARCHAR' if f in typed_strings else 'JSON'}'" for f in fields) + "}"
        if usual:
            projections, unusual = zip(
                *(
                    (f"'VARCHAR' AS t_{f}, \"{f}\" AS v_{f}", None) if f in typed_strings else _fast_field(f)
                    for f in fields
                ),
                strict=True,
            )
            bad = f"""CASE WHEN coalesce({" OR ".join(u for u in unusual if u)}, false) THEN 'unusual' END"""
        else:
            projections = tuple(_typed_field(f) for f in fields)
            bad = "NULL::VARCHAR"
        if typed_strings:
            amb = f"""CASE WHEN {" OR ".join(_ambiguous(f'"{f}"') for f in typed_strings)}
                THEN [{", ".join(f'"{f}"' for f in typed_strings)}] END"""
        head = f"""
WITH typed AS (
    SELECT NULL::BIGINT AS n, {bad} AS bad, {amb} AS amb,
        {", ".join(projections)}
    FROM read_json($path, format = 'newline_delimited', columns = {columns}, compression = 'uncompressed')
"""
    else:
        head = f"""
WITH objects AS (
    SELECT n, line, CASE WHEN starts_with(ltrim(line, {_BLANK}), '{{') THEN try(json_transform(line, '{spec}')) END AS j
    FROM lines WHERE ok  -- j NULL: not JSON (valid JSON starting with {{ is an object)
), parsed AS (
    SELECT n, j, CASE WHEN j IS NOT NULL THEN json_transform(line, '{string_spec}') END AS s,
        CASE WHEN j IS NULL THEN CASE WHEN trim(line, {_BLANK}) = '' THEN 'blank' ELSE 'line' END END AS bad
    FROM objects
), typed AS (
    SELECT n, bad, NULL::VARCHAR[] AS amb, {typed}
    FROM parsed
"""
    sql = (
        head
        + f"""), metad AS (
    SELECT *, json_transform(CASE WHEN t__meta = 'OBJECT' THEN v__meta END, '{meta_spec}') AS m
    FROM typed
), withmeta AS (
    SELECT *, {meta_typed}
    FROM metad
), base AS (
    SELECT *,
        CASE WHEN t_id = 'VARCHAR' AND jstr(t_id, v_id) <> ''
             THEN CASE WHEN regexp_matches(jstr(t_id, v_id), '^[\\x00-\\x7f]*$') THEN lower(jstr(t_id, v_id)) ELSE jstr(t_id, v_id) END
        END AS tid,
        epoch(t_created_utc, v_created_utc) AS created,
        jstr(t_subreddit, v_subreddit) AS sub,
        {link} AS link_norm_raw,
        lower({link}) AS link_norm,
        {parent} AS parent,
        NULL AS meta_unused
    FROM withmeta
), facts AS (
    SELECT *,
        truthy(m_t_was_deleted_later, m_v_was_deleted_later) AS wdl,
        truthy(m_t_was_initially_deleted, m_v_was_initially_deleted) AS wid,
        truthy(m_t_is_edited, m_v_is_edited) AS m_edited,
        m_t_removal_type AS removal_t, m_v_removal_type AS removal,
        m_t_note AS note_t, m_v_note AS note,
        coalesce(when_micros(t_retrieved_on, v_retrieved_on), when_micros(t_retrieved_utc, v_retrieved_utc)) AS first_fetch,
        when_micros(m_t_retrieved_2nd_on, m_v_retrieved_2nd_on) AS second_fetch,
        jstr(t_{text}, v_{text}) AS txt,
        jstr(t_author, v_author) = '[deleted]' AS author_gone,
        {category} AS category,
        {kw_text} AS kw_text
    FROM base
), judged AS (
    SELECT *,
        greatest(first_fetch, second_fetch) AS latest,
        CASE
            WHEN wdl THEN
                CASE WHEN coalesce(removal, '') IN ('deleted', 'author') THEN 'deleted' ELSE 'removed' END
            -- was_initially_deleted only dates the row (archived, below): the markers still decide, as in
            -- archive.archive_facts (adversarial review 6, F9: a "[removed]" body was judged visible here)
            WHEN txt = '[deleted]' AND ({"true" if post else "false"} OR coalesce(author_gone, false)) THEN 'deleted'
            WHEN txt IN ({_REMOVED_SQL}) OR (coalesce(category, '') <> '' AND category NOT IN ('deleted', 'author'))
                THEN 'removed'
            WHEN category IN ('deleted', 'author') THEN 'deleted'
            WHEN coalesce(author_gone, false) THEN 'account_deleted'
            ELSE 'visible'
        END AS status,
        CASE WHEN bad IS NULL THEN {reason} END AS reason,
        CASE
            WHEN bad IS NOT NULL THEN bad
            WHEN tid IS NULL THEN 'id'
            WHEN created IS NULL THEN 'created_utc'
            WHEN NOT (t_edited IN ('BOOLEAN', 'NULL') OR epoch(t_edited, v_edited) IS NOT NULL)
                THEN 'edited'
            WHEN NOT str_ok(t_subreddit) THEN 'subreddit'
            WHEN NOT str_ok(t_subreddit_id) THEN 'subreddit_id'
            WHEN NOT str_ok(t_author) THEN 'author'
            WHEN NOT str_ok(t_author_fullname) THEN 'author_fullname'
            WHEN NOT str_ok(t_author_flair_text) THEN 'author_flair_text'
            WHEN NOT int_ok(t_score, v_score) THEN 'score'
            WHEN NOT str_ok(t_distinguished) THEN 'distinguished'
            WHEN NOT str_ok(t_permalink) THEN 'permalink'
            WHEN NOT str_ok(t_name) THEN 'name'
            WHEN NOT flag_ok(t_stickied, v_stickied) THEN 'stickied'
            WHEN NOT flag_ok(t_locked, v_locked) THEN 'locked'
            {kind_checks}
        END AS err
    FROM facts
), shaped AS (
    SELECT *,
        status <> 'visible' AS tomb,
        CASE
            WHEN wdl OR wid THEN coalesce(second_fetch, latest)
            WHEN status <> 'visible' THEN coalesce(first_fetch, latest)
            ELSE latest
        END AS archived
    FROM judged
)
SELECT n, err, reason, amb, {"link_norm" if not post else "NULL::VARCHAR"} AS link_norm, {keyword_text} AS kw,
    coalesce(nullif(jstr(t_name, v_name), ''), '{kind}_' || tid) AS name,
    tid AS id,
    sub AS subreddit,
    jstr(t_subreddit_id, v_subreddit_id) AS subreddit_id,
    CASE WHEN tomb OR author_gone THEN NULL ELSE jstr(t_author, v_author) END AS author,
    CASE WHEN tomb THEN NULL ELSE jstr(t_author_fullname, v_author_fullname) END AS author_fullname,
    CASE WHEN tomb THEN NULL ELSE jstr(t_author_flair_text, v_author_flair_text) END AS author_flair_text,
    created * 1000000 AS created_utc,
    CASE  -- an edit time before the creation is none (archives send 1 for true): edited, time unknown
        WHEN t_edited = 'VARCHAR' AND epoch(t_edited, v_edited) <> 0
            AND epoch(t_edited, v_edited) * 1000000 >= created * 1000000 THEN epoch(t_edited, v_edited) * 1000000
        WHEN t_edited IN ('UBIGINT', 'BIGINT', 'DOUBLE') AND jnum(t_edited, v_edited) <> 0
            AND micros(jnum(t_edited, v_edited)) >= created * 1000000 THEN micros(jnum(t_edited, v_edited))
    END AS edited,
    CASE
        WHEN coalesce(m_edited, false) THEN true  -- _meta.is_edited: changed between the fetches (archive.wire_shape)
        WHEN t_edited = 'BOOLEAN' THEN jbool(t_edited, v_edited)
        WHEN t_edited = 'VARCHAR' THEN epoch(t_edited, v_edited) <> 0
        WHEN t_edited IN ('UBIGINT', 'BIGINT', 'DOUBLE') THEN jnum(t_edited, v_edited) <> 0
        ELSE false
    END AS is_edited,
    jint(t_score, v_score) AS score,
    jstr(t_distinguished, v_distinguished) AS distinguished,
    flag(t_stickied, v_stickied) AS stickied,
    flag(t_locked, v_locked) AS locked,
    CASE WHEN tomb THEN {slugless} ELSE coalesce(nullif(jstr(t_permalink, v_permalink), ''), {built_permalink}) END AS permalink,
    status,
    coalesce(archived, created * 1000000) AS retrieved_at,
    -- source, the lists found_by and archive_flags, and archive_status (= status) are put together
    -- in Arrow (_to_schema) from these columns: cheaper than a list or a constant per row here
    CASE WHEN coalesce(sub, '') <> '' THEN 'archive:r/' || sub ELSE $source END AS found,
    archived AS archived_at,
    wdl AS flag_wdl,
    wid AS flag_wid,
    m_edited AS flag_edited,
    CASE WHEN truthy(removal_t, removal) THEN 'removal_type:' || removal END AS flag_removal,
    CASE WHEN truthy(note_t, note) THEN 'note:' || note END AS flag_note,
    latest IS NULL OR latest - created * 1000000 < {MATURE_MICROS} AS flag_provisional,
    {kind_columns}
FROM shaped
{"" if fast else "ORDER BY n"}
"""
    )
    if fast and usual:  # each such field's type is known here: fewer expressions to bind, fold and run
        for f in typed_strings:
            sql = sql.replace(f"jstr(t_{f}, v_{f})", f"v_{f}").replace(f"NOT str_ok(t_{f})", "false")
        for f in _FAST_INTS:  # a JSON integer or null (any other value made the row unusual)
            sql = sql.replace(f"jint(t_{f}, v_{f})", f"TRY_CAST(v_{f} AS BIGINT)")
            sql = sql.replace(f"NOT int_ok(t_{f}, v_{f})", "false")
        for f in _FAST_BOOLS:  # a JSON boolean or null, likewise
            sql = sql.replace(f"flag(t_{f}, v_{f})", f"coalesce(v_{f} = 'true', false)")
            sql = sql.replace(f"jbool(t_{f}, v_{f})", f"(v_{f} = 'true')")
            sql = sql.replace(f"NOT flag_ok(t_{f}, v_{f})", "false").replace(f"NOT bool_ok(t_{f})", "false")
    return sql


@dataclass(frozen=True)
class Selection:
    """What a block keeps (the picklable part of a dump run's filter)."""

    subreddits: tuple[str, ...] = ()  # lower case; empty: any
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    after: int | None = None
    before: int | None = None
    links: frozenset[str] | None = None  # comments: exactly these thread fullnames (lower case)
    #: f3 (review 2, F7): a per-subreddit file's own subreddit (lower case), for its lines that name none
    file_subreddit: str | None = None
    threads: int = 1  # DuckDB threads a reading may use: scraper.dumps.LOCAL_THREADS in-process, one per Dask worker


_local = threading.local()


def _connection(threads: int) -> duckdb.DuckDBPyConnection:
    """One DuckDB connection per thread (a task may run on any worker thread), macros defined once."""
    con = getattr(_local, "con", None)
    if con is None or _local.threads != threads:
        con = connect(threads=threads)
        _local.threads = threads
        con.execute(_MACROS)
        _local.con = con
        _local.sql = {}
    return con


def _sql(
    kind: str, selection: Selection, *, fast: bool, usual: bool = True, strings: bool = False
) -> tuple[str, dict[str, Any]]:
    """The query for ``kind`` under ``selection`` (built once per thread) and its parameters."""
    keyword = _keyword_plan(selection)
    key = (kind, keyword, bool(selection.subreddits), fast, usual, strings)
    sql: str | None = _local.sql.get(key)
    if sql is None:
        sql = _local.sql[key] = _select(
            kind, keyword, bool(selection.subreddits), fast=fast, usual=usual, strings=strings
        )
    params = {
        "subreddits": list(selection.subreddits),
        "after": selection.after,
        "before": selection.before,
        "links_given": selection.links is not None,
        "file_subreddit": selection.file_subreddit,
        "include": prefilter(selection.include),
        "exclude": prefilter(selection.exclude),
    }
    return sql, {k: v for k, v in params.items() if f"${k}" in sql}


def _keyword_plan(selection: Selection) -> tuple[bool, bool, bool] | None:
    """The keyword rule's part of the SQL: (include patterns, their RE2 prefilter, the exclude patterns' one)."""
    if not selection.include and not selection.exclude:
        return None
    return bool(selection.include), prefilter(selection.include) is not None, prefilter(selection.exclude) is not None


class NeedsLines(Exception):
    """The fast reader cannot judge this input alone (a malformed line, or a value to quarantine).

    ``unusual``: only values of an unusual JSON type for their field were met (the fast reader that
    types every value itself can still read the input; see :func:`normalize_file`).
    ``ambiguous``: a string field read by DuckDB's typed reader held a value that is no JSON string,
    or one that could not be checked on its line: the fast reader that takes the string fields as
    JSON fragments can still read the input.
    """

    def __init__(self, message: str, *, unusual: bool = False, ambiguous: bool = False) -> None:
        super().__init__(message)
        self.unusual = unusual
        self.ambiguous = ambiguous


class _LineFinder:
    """The lines of an NDJSON file by their place among its non-blank lines (the rows of DuckDB's reader).

    Asked for places in increasing order, it reads the file once from the start, a piece at a time
    (the newlines found by numpy), and keeps no line it was not asked for. A blank line (only
    whitespace: space, tab, CR, VT, FF, as DuckDB's reader skips them) has no row.
    """

    PIECE = 16 << 20

    def __init__(self, path: str) -> None:
        self.path = path
        self.handle: Any = None
        self.carry = b""  # the start of a line cut by the end of the last piece
        self.done = 0  # non-blank lines passed so far
        self.end = False

    def lines(self, places: list[int]) -> list[bytes]:
        """The non-blank lines at ``places`` (0-based, increasing, at or after any asked before)."""
        if self.handle is None:
            self.handle = open(self.path, "rb")  # noqa: SIM115 - closed by close()
        found: list[bytes] = []
        wanted = collections.deque(places)
        while wanted:
            piece = b"" if self.end else self.handle.read(self.PIECE)
            data = self.carry + piece
            if not piece:
                self.end = True
                if not data:
                    raise LookupError(f"{self.path}: fewer lines than rows")
                if not data.endswith(b"\n"):
                    data += b"\n"
            ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
            starts = np.concatenate(([0], ends[:-1] + 1))
            self.carry = data[int(ends[-1]) + 1 :] if len(ends) else data
            if not len(ends):
                continue
            lengths = ends - starts
            first = np.frombuffer(data, np.uint8)[np.minimum(starts, len(data) - 1)]
            maybe_blank = np.flatnonzero((lengths == 0) | np.isin(first, (9, 11, 12, 13, 32)))
            blank = np.zeros(len(ends), dtype=bool)
            for k in maybe_blank.tolist():
                blank[k] = not data[int(starts[k]) : int(ends[k])].strip()
            kept = np.flatnonzero(~blank)
            while wanted and wanted[0] < self.done + len(kept):
                k = int(kept[wanted.popleft() - self.done])
                found.append(data[int(starts[k]) : int(ends[k])])
            if not wanted and found and k < len(ends) - 1:
                # lines of this piece after the last one asked stay for the next call: a later batch's rows
                self.carry = data[int(starts[k + 1]) :]
                self.done += int(np.searchsorted(kept, k, side="right"))
            else:
                self.done += len(kept)
        return found

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


def _resolve_ambiguous(finder: _LineFinder, first_row: int, amb: pa.ChunkedArray | pa.Array, fields: list[str]) -> None:
    """Check the string fields of the rows flagged ``amb`` on their lines; raise if any is no JSON string.

    ``amb`` holds, for a row where a string field read like the text of another JSON type, the
    values DuckDB's typed reader gave for ``fields``. Each such row's line is parsed by Python's
    ``json`` and every one of those fields must be a string equal to that value (or absent or null
    where it is null); otherwise (a number in ``body``, a line Python reads otherwise, a row that is
    not the line it was taken for) :class:`NeedsLines` is raised with ``ambiguous``.
    """
    column = amb.combine_chunks() if isinstance(amb, pa.ChunkedArray) else amb
    rows = np.flatnonzero(column.is_valid().to_numpy(zero_copy_only=False)).tolist()
    try:
        lines = finder.lines([first_row + r for r in rows])
    except (OSError, LookupError) as exc:
        raise NeedsLines(f"{finder.path}: {exc}", ambiguous=True) from None
    for row, raw in zip(rows, lines, strict=True):
        values = column[row].as_py()
        try:
            parsed = json.loads(raw.decode("utf-8").lstrip("\ufeff"))
        except (ValueError, RecursionError):
            parsed = None
        if not isinstance(parsed, dict) or not all(
            parsed.get(field) is None if value is None else parsed.get(field) == value and type(parsed[field]) is str
            for field, value in zip(fields, values, strict=True)
        ):
            raise NeedsLines(f"{finder.path}: a string field holds a value of another JSON type", ambiguous=True)


def normalize_file(
    path: str,
    kind: str,
    *,
    source: str,
    selection: Selection,
    pseudonymizer: Pseudonymizer | None = None,
    batch_rows: int = 1 << 16,
    usual: bool = True,
    strings: bool = False,
) -> Iterator[tuple[pa.RecordBatch | None, dict[str, int]]]:
    """An NDJSON file → (kept rows, counts) per result batch, read by DuckDB's own parallel reader.

    Raises :class:`NeedsLines` as soon as a line needs the block path (:func:`normalize_block`):
    one that does not parse or is not an object, or a value that does not fit the schema (the
    quarantine needs its line number, which this reader does not know). Batches already yielded
    are exactly the first rows the block path keeps, in order, so a caller can go on from there.

    ``usual``: fields of one usual JSON type are taken at that type (cheaper); a value of another
    type raises :class:`NeedsLines` with ``unusual`` set, and the same file read with ``usual=False``
    (every value typed by itself) gives the same rows in the same order.

    ``strings`` (with ``usual``): DuckDB's reader types the string fields itself; a row whose string
    value could be the text of another JSON type is checked on its line (:func:`_resolve_ambiguous`)
    before its batch is given, and one that is not a string there raises :class:`NeedsLines` with
    ``ambiguous`` set: the same file read with ``strings=False`` gives the same rows in the same order.
    """
    con = _connection(selection.threads)
    strings = strings and usual
    sql, params = _sql(kind, selection, fast=True, usual=usual, strings=strings)
    params["source"] = source
    params["path"] = path
    reader = None
    finder = _LineFinder(path) if strings else None
    fields = [f for f in _COMMON + _KIND_FIELDS[kind] if f in _STRINGS]
    row = 0  # rows read before this batch
    try:
        reader = con.sql(sql, params=params).to_arrow_reader(batch_size=batch_rows)
        for result in reader:
            counts: dict[str, int] = {"lines": result.num_rows}
            if pc.any(pc.is_valid(result["err"])).as_py():
                errors = pc.unique(result["err"].drop_null()).to_pylist()
                if errors == ["unusual"]:
                    raise NeedsLines(f"{path}: a value of an unusual JSON type for its field", unusual=True)
                raise NeedsLines(f"{path}: a value does not fit the schema")
            if finder is not None and result["amb"].null_count < result.num_rows:
                _resolve_ambiguous(finder, row, result["amb"], fields)
            row += result.num_rows
            good = _judge(pa.Table.from_batches([result]), selection, counts)
            counts["kept"] = good.num_rows
            yield (_to_schema(STEMS[kind], good, source, pseudonymizer) if good.num_rows else None), counts
    except (duckdb.Error, pa.ArrowException, OSError) as exc:  # a malformed line, not an object, not UTF-8, …
        # (met while streaming, DuckDB's error comes through the Arrow reader as an OSError; a real
        # I/O error comes back from the block path, which reads the same file)
        raise NeedsLines(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    finally:
        # The reader holds the connection until it is read out or closed; the caller's next reading
        # (the block path) uses the same connection, and the exception that stopped this one may
        # outlive it (a log record holding it), so close it now rather than when it is collected.
        if reader is not None:
            reader.close()
        if finder is not None:
            finder.close()


def _judge(result: pa.Table, selection: Selection, counts: dict[str, int]) -> pa.Table:
    """The rows of ``result`` that the selection keeps (reasons counted in ``counts``); ``err`` rows stay."""
    reasons = result["reason"]
    if selection.include or selection.exclude:
        reasons = _keyword_reasons(result["kw"], reasons, selection)
    if selection.links is not None:  # comments of exactly these threads: one hash set, never a substring
        links = _local.__dict__.get("links")
        if links is None or links[0] is not selection.links:
            links = _local.links = (selection.links, pa.array(sorted(selection.links), pa.string()))
        known = pc.is_in(result["link_norm"], value_set=links[1])
        unparsed = pc.fill_null(pc.is_in(result["err"], value_set=pa.array(["line", "blank"])), False)
        # a comment without a usable link_id names no thread: it is quarantined (its err says why), not filtered
        named = pc.is_valid(result["link_norm"])
        gone = pc.and_(pc.and_(pc.invert(pc.fill_null(known, False)), pc.invert(unparsed)), named)
        reasons = pc.if_else(gone, pa.scalar("thread", pa.string()), reasons.cast(pa.string()))
    if reasons.null_count == len(reasons):  # everything kept: no copy
        return result
    for item in pc.value_counts(reasons.filter(pc.is_valid(reasons))).to_pylist():
        counts[f"filtered_{item['values']}"] = counts.get(f"filtered_{item['values']}", 0) + item["counts"]
    return result.filter(pc.is_null(reasons))


def _keyword_reasons(
    texts: pa.ChunkedArray | pa.Array, reasons: pa.ChunkedArray | pa.Array, selection: Selection
) -> pa.ChunkedArray | pa.Array:
    """``reasons`` with ``keyword`` where the spec's own rule (:func:`scraper.spec.keyword_rule`) leaves a text out.

    ``texts`` is NULL on the rows already left out (or not parsed): only the others are judged, in
    Python's ``re``, exactly as collect, archive and refilter judge them (adversarial review 7, F2).
    """
    if texts.null_count == len(texts):
        return reasons
    passes = keyword_rule(selection.include, selection.exclude)
    out = [text is not None and not passes(text) for text in texts.to_pylist()]
    if not any(out):
        return reasons
    return pc.if_else(pa.array(out), pa.scalar("keyword", pa.string()), reasons.cast(pa.string()))


def _lines(data: bytes, first_line: int) -> tuple[pa.Table, list[tuple[int, str, bytes]]]:
    """The block's lines as an Arrow table ``(n, line, ok)``; lines that are not UTF-8 come back apart."""
    if not data.endswith(b"\n"):
        data += b"\n"
    raw = pa.py_buffer(data)
    ends: list[int] = []  # bytes.find is a C loop: faster here than a vectorized compare of every byte
    at = data.find(b"\n")
    while at >= 0:
        ends.append(at + 1)
        at = data.find(b"\n", at + 1)
    count = len(ends)
    offsets = pa.array([0, *ends], pa.int64())
    with_newlines = pa.Array.from_buffers(pa.large_binary(), count, [None, offsets.buffers()[1], raw])
    trimmed = pc.binary_slice(with_newlines, 0, -1)  # each line without its newline
    bad: list[tuple[int, str, bytes]] = []
    try:
        text = trimmed.cast(pa.large_string())
        ok = pa.array([True] * count)
    except pa.ArrowInvalid:
        values = trimmed.to_pylist()
        decoded: list[str] = []
        flags: list[bool] = []
        for index, value in enumerate(values):
            try:
                decoded.append(value.decode("utf-8"))
                flags.append(True)
            except UnicodeDecodeError as exc:
                decoded.append("")
                flags.append(False)
                bad.append((first_line + index, f"not UTF-8 ({exc.reason} at byte {exc.start})", value))
        text, ok = pa.array(decoded, pa.large_string()), pa.array(flags)
    if _BOM in data:  # a byte order mark opening a line (a file's first, or files joined): not part of the JSON
        text = pc.utf8_ltrim(text, characters="\ufeff")
    numbers = pa.array(range(first_line, first_line + count), pa.int64())
    return pa.table({"n": numbers, "line": text, "ok": ok}), bad


_BOM = "\ufeff".encode()


def normalize_block(
    data: bytes,
    first_line: int,
    kind: str,
    *,
    source: str,
    selection: Selection,
    pseudonymizer: Pseudonymizer | None = None,
) -> tuple[pa.RecordBatch | None, list[dict[str, Any]], dict[str, int]]:
    """A block of whole lines → (kept rows as a batch, quarantine entries, counts by outcome)."""
    con = _connection(selection.threads)
    lines, bad = _lines(data, first_line)
    counts: dict[str, int] = {}
    lines = _repaired(lines, counts)
    sql, params = _sql(kind, selection, fast=False)
    params["source"] = source
    # DuckDB scans an Arrow table one record batch per thread: cut the block so every thread gets a share.
    per_thread = -(-lines.num_rows // (4 * selection.threads))
    con.register("lines", pa.Table.from_batches(lines.to_batches(max_chunksize=max(2048, per_thread))))
    try:
        answer = con.sql(sql, params=params).to_arrow_table()
    finally:
        con.unregister("lines")
    kept = _judge(answer, selection, counts)
    errors = kept.filter(pc.is_valid(kept["err"]))
    blank = 0
    quarantined = [_entry(n, "line", message, value) for n, message, value in bad]
    text = lines["line"]
    for n, err in zip(errors["n"].to_pylist(), errors["err"].to_pylist(), strict=True):
        if err == "blank":
            blank += 1
            continue
        raw = text[n - first_line].as_py().encode()
        message = unparsed_reason(raw) if err == "line" else f"{err}: the value does not fit the schema's type"
        quarantined.append(_entry(n, err, message, raw))
    counts["lines"] = answer.num_rows - blank + len(bad)
    good = kept.filter(pc.is_null(kept["err"]))
    quarantined.sort(key=lambda q: q["line"])
    counts["quarantined"] = len(quarantined)
    counts["kept"] = good.num_rows
    if good.num_rows == 0:
        return None, quarantined, counts
    return _to_schema(STEMS[kind], good, source, pseudonymizer), quarantined, counts


#: a ``\\u`` escape of a UTF-16 surrogate (paired ones too: the line is then parsed to tell)
_SURROGATE_ESCAPE = r"\\[uU][dD][89a-fA-F][0-9a-fA-F]{2}"


def _repaired(lines: pa.Table, counts: dict[str, int]) -> pa.Table:
    """``lines`` with each lone UTF-16 surrogate escape (``"\\ud83d"``, half an emoji) made U+FFFD.

    Such a line is valid JSON, which DuckDB's parser refuses; the collected path repairs these
    strings (:mod:`scraper.normalize.repair`), so the dump path does too instead of quarantining
    real data.  Only lines holding a surrogate escape are parsed here (by Python's ``json``, which
    takes them); a repaired line is written back without the lone halves, and each repair is
    counted under ``repaired_<field>`` (the top-level key that held it).
    """
    text = lines["line"]
    suspect = pc.fill_null(pc.match_substring_regex(text, _SURROGATE_ESCAPE), False)
    if not pc.any(suspect).as_py():
        return lines
    values = text.to_pylist()
    for index in np.flatnonzero(suspect.to_numpy(zero_copy_only=False)).tolist():
        try:
            parsed = json.loads(values[index])
        except (ValueError, RecursionError):
            continue  # not JSON: quarantined as such below
        if not isinstance(parsed, dict) or not needs_repair(json.dumps(parsed, ensure_ascii=False)):
            continue  # only paired surrogates (read fine), or not an object
        fixed: Counter[str] = Counter()
        repaired = {storable(str(key)): _storable_value(value, fixed, str(key)) for key, value in parsed.items()}
        values[index] = json.dumps(repaired, ensure_ascii=False)
        for field, count in fixed.items():
            counts[f"repaired_{field}"] = counts.get(f"repaired_{field}", 0) + count
    return lines.set_column(lines.schema.get_field_index("line"), "line", pa.array(values, pa.large_string()))


def _storable_value(value: Any, counts: Counter[str], field: str) -> Any:
    if isinstance(value, str):
        return repair_text(value, counts, storable(field))
    if isinstance(value, list):
        return [_storable_value(v, counts, field) for v in value]
    if isinstance(value, dict):
        return {storable(str(k)): _storable_value(v, counts, field) for k, v in value.items()}
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true or false"}


def unparsed_reason(raw: bytes) -> str:
    """Why a (UTF-8) line the reader did not take as an object is quarantined: not valid JSON, or JSON of another kind.

    Run only on lines to quarantine (rare): Python's ``json`` (strict: ``NaN`` and ``Infinity`` are
    not JSON) says where a cut or malformed line breaks.
    """
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        return "not read: nested too deeply"
    except json.JSONDecodeError as exc:  # the line's own number is in the entry: the column says where
        at = "" if exc.msg.endswith(" at") else " at"  # "Unterminated string starting at"
        return f"not valid JSON: {exc.msg}{at} column {exc.colno}"
    except ValueError as exc:  # NaN, Infinity
        return f"not valid JSON: {exc}"
    if value is None:
        return "valid JSON but not an object: null"
    kind = _JSON_KINDS.get(type(value))
    if kind is None:  # an object the reader would not take
        return "a JSON object that could not be read"
    return f"valid JSON but not an object: {kind}"


def _entry(n: int, field: str, error: str, raw: bytes) -> dict[str, Any]:
    return {"line": n, "field": field, "error": error[:500], "raw": raw[:20_000].decode("utf-8", errors="replace")}


#: the archive flags in their order in ``archive_flags``: the SQL's boolean columns, then its text columns
_BOOL_FLAGS = {
    "flag_wdl": "was_deleted_later",
    "flag_wid": "was_initially_deleted",
    "flag_edited": "is_edited",
    "flag_provisional": "score_provisional",
}
_FLAG_ORDER = ("flag_wdl", "flag_wid", "flag_edited", "flag_removal", "flag_note", "flag_provisional")


def _archive_flags(table: pa.Table, type_: pa.DataType) -> pa.ListArray:
    """The ``archive_flags`` lists from the SQL's flag columns: each row's flags that hold, in :data:`_FLAG_ORDER`."""
    n = table.num_rows
    held = np.empty((n, len(_FLAG_ORDER)), dtype=bool)
    index = np.empty((n, len(_FLAG_ORDER)), dtype=np.int64)
    names = list(_BOOL_FLAGS)
    rows = np.arange(n, dtype=np.int64)
    texts: list[pa.Array] = []
    for k, column in enumerate(_FLAG_ORDER):
        values = table[column].combine_chunks()
        if column in _BOOL_FLAGS:
            held[:, k] = pc.fill_null(values, False).to_numpy(zero_copy_only=False)
            index[:, k] = names.index(column)  # a position in the constant names
        else:
            held[:, k] = pc.is_valid(values).to_numpy(zero_copy_only=False)
            index[:, k] = len(names) + len(texts) * n + rows  # this row's text
            texts.append(values.cast(pa.string()))
    pool = pa.concat_arrays([pa.array(list(_BOOL_FLAGS.values()), pa.string()), *texts])
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(held.sum(axis=1), out=offsets[1:])
    values = pc.take(pool, pa.array(index[held]))  # row by row, each row's flags in order
    return pa.ListArray.from_arrays(pa.array(offsets), values, type=type_)


def _to_schema(stem: str, table: pa.Table, source: str, pseudonymizer: Pseudonymizer | None) -> pa.RecordBatch:
    schema = ARROW_SCHEMAS[stem]
    n = table.num_rows
    arrays = []
    for field in schema:
        if field.name == "source":
            column = pa.repeat(pa.scalar(source, pa.string()), n)
        elif field.name == "found_by":  # one label per row
            found = table["found"].combine_chunks().cast(pa.string())
            column = pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), found, type=field.type)
        elif field.name == "archive_flags":
            column = _archive_flags(table, field.type)
        else:
            column = table["status" if field.name == "archive_status" else field.name].combine_chunks()
            if pa.types.is_timestamp(field.type):
                column = column.cast(pa.int64()).cast(field.type)
            else:
                column = column.cast(field.type)
            if field.name in ID_FIELDS:  # a line's name, link_id and parent_id in Reddit's case, as its id (F1)
                column = lower_ids(column)
        arrays.append(column)
    batch = pa.RecordBatch.from_arrays(arrays, schema=schema)
    if pseudonymizer is not None:
        batch = pseudonymize_batch(batch, stem, pseudonymizer)
    return batch


def pseudonymize_batch(batch: pa.RecordBatch, stem: str, pseudonymizer: Pseudonymizer) -> pa.RecordBatch:
    """:meth:`Pseudonymizer.row` on a batch: each distinct author once, texts only where they may name a user."""
    columns = {name: batch[name] for name in batch.schema.names}
    for name, convert in (("author", pseudonymizer.name), ("author_fullname", pseudonymizer.account)):
        values = columns[name]
        distinct = pc.unique(values.drop_null())
        mapped = pa.array([convert(v) for v in distinct.to_pylist()], pa.string())
        index = pc.index_in(values, value_set=distinct)
        columns[name] = pc.take(mapped, index)
    for name in TEXT_COLUMNS[stem]:  # fa (adv3 F11): profile links and link URLs too, as Pseudonymizer.row
        values = columns[name]
        mentions = pc.match_substring_regex(values, MAY_NAME_A_USER)
        if pc.any(mentions).as_py():
            texts = values.to_pylist()
            flags = mentions.to_pylist()
            columns[name] = pa.array(
                [pseudonymizer.text(t) if f else t for t, f in zip(texts, flags, strict=True)], pa.string()
            )
    return pa.RecordBatch.from_arrays([columns[n] for n in batch.schema.names], schema=batch.schema)
