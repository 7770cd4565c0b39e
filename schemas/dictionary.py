"""The data dictionary, docs/SCHEMA.md, generated from the models.

Every column of both tables with its Parquet type, nullability, meaning, an
example, the Reddit field it comes from and the schema version that added it,
then the status rules.  All of it is read from :mod:`schemas.models` (each
column's :func:`~schemas.models.column` metadata) and :mod:`schemas.arrow`, so
the dictionary cannot drift from the files: ``python -m schemas`` rewrites it and
a test fails while the committed one differs.  :func:`card_summary` is the short
form every version card carries.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic.fields import FieldInfo

from schemas.arrow import ARROW_SCHEMAS
from schemas.models import MODELS, SCHEMA_VERSION, STATUS_RULES

#: Where the dictionary is committed, in a source checkout.
DICTIONARY_PATH = Path(__file__).resolve().parents[1] / "docs" / "SCHEMA.md"


def type_name(arrow_type: pa.DataType) -> str:
    """A short Arrow type: ``string``, ``int64``, ``timestamp[us, UTC]``, ``list<string>``."""
    if pa.types.is_list(arrow_type):
        return f"list<{type_name(arrow_type.value_type)}>"
    if pa.types.is_timestamp(arrow_type):
        return f"timestamp[{arrow_type.unit}, {arrow_type.tz}]"
    return str(arrow_type)


def _example(info: FieldInfo) -> str:
    value: Any = (info.examples or [None])[0]
    if isinstance(value, datetime):
        value = value.isoformat()
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def _extra(info: FieldInfo, key: str) -> str:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return str(extra.get(key) or "")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _rows(stems: list[str], names: list[str]) -> list[str]:
    lines = [
        "| column | type | null | meaning | example | from Reddit | since |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in names:
        stem = next(s for s in stems if name in MODELS[s].model_fields)
        info = MODELS[stem].model_fields[name]
        field = ARROW_SCHEMAS[stem].field(name)
        cells = [
            f"`{name}`",
            f"`{type_name(field.type)}`",
            "yes" if field.nullable else "no",
            info.description or "",
            _example(info),
            _extra(info, "reddit"),
            _extra(info, "since") or "1.0",
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def dictionary_markdown() -> str:
    """The whole data dictionary, as committed in docs/SCHEMA.md."""
    subs, comments = list(MODELS["submissions"].model_fields), list(MODELS["comments"].model_fields)
    shared = [n for n in subs if n in comments]
    lines = [
        "# Data dictionary",
        "",
        f"<!-- Generated from schemas/models.py (SCHEMA_VERSION {SCHEMA_VERSION}) by `python -m schemas`; "
        "do not edit. A test fails while it differs from the models. -->",
        "",
        f"Schema version **{SCHEMA_VERSION}**. Every version holds two Parquet files, `submissions.parquet` "
        "(one row per thread, kind `t3`) and `comments.parquet` (one row per comment, kind `t1`). `name`, "
        "Reddit's fullname, is each row's key: unique across both files of a version and stable across "
        "versions, so versions join and diff on it. A comment's `link_id` is its submission's `name`; its "
        "`parent_id` is the `name` of its parent comment, or its `link_id` at the top level.",
        "",
        "*type* is the Parquet (Arrow) type; *null* whether the column may be null; *from Reddit* the field of "
        "Reddit's JSON the value comes from, or how it is derived; *since* the schema version that added the "
        "column (a minor version only adds columns; older files load with them filled, `schemas/upgrade.py`). "
        "The same descriptions are in each Parquet file's field metadata and in `schemas/*.schema.json`.",
        "",
        f"## Columns of both tables ({len(shared)})",
        "",
        *_rows(["submissions"], shared),
        "",
        f"## `submissions.parquet` only ({len(subs) - len(shared)})",
        "",
        *_rows(["submissions"], [n for n in subs if n not in shared]),
        "",
        f"## `comments.parquet` only ({len(comments) - len(shared)})",
        "",
        *_rows(["comments"], [n for n in comments if n not in shared]),
        "",
        "## Status rules",
        "",
        "`status` is derived from Reddit's markers when a row is built, trying the first four rules in order "
        "(`scraper/normalize/status.py`, WIRE-FORMAT §5-§7); the last two are set by the tool:",
        "",
    ]
    lines += [f"{n}. `{status.value}`: {rule}." for n, (status, rule) in enumerate(STATUS_RULES.items(), 1)]
    lines += [
        "",
        "Every row whose status is not `visible` is a *tombstone*: `title`, `selftext` and `body` are `''`; "
        "`url`, `author`, `author_fullname` and `author_flair_text` are null; the `permalink` loses its title "
        "slug. Ids, links, times, `score` and `status` stay, so threads keep their shape. `validate` fails a "
        "tombstone that carries text.",
        "",
    ]
    return "\n".join(lines)


def card_summary() -> list[str]:
    """The columns in short, for a version card: name, type and the first sentence of the meaning."""
    lines = []
    for stem, model in MODELS.items():
        lines += [f"`{stem}.parquet`:", "", "| column | type | meaning |", "|---|---|---|"]
        for name, info in model.model_fields.items():
            field = ARROW_SCHEMAS[stem].field(name)
            nullable = ", null" if field.nullable else ""
            meaning = (info.description or "").split(". ")[0].rstrip(".")
            lines.append(f"| `{name}` | `{type_name(field.type)}`{nullable} | {_cell(meaning)} |")
        lines.append("")
    return lines


def write_dictionary(path: Path = DICTIONARY_PATH) -> Path:
    """Write docs/SCHEMA.md and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dictionary_markdown(), encoding="utf-8")
    return path
