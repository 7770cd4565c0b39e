"""Files of an older minor schema version, checked as written and read as the current one.

A minor version only adds columns or lets a column hold null where it could
not before (models.py).  Each added field names the version that introduced
it (``json_schema_extra={"since": "1.2"}``), so a file can be checked against
the schema *its* version wrote (:func:`schema_at`), and a loaded table is
brought to the current schema (:func:`upgrade_table`): an added column is
derived from the columns the old version had (:data:`DERIVED`), or is null.
:func:`schema_problems` is the one test of whether a file's schema is one of
them: ``validate`` reports it, ``report`` and ``diff`` refuse a file that fails
it before they query it.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

from schemas.arrow import ARROW_SCHEMAS
from schemas.models import MODELS, SCHEMA_VERSION, schema_compatible


def version_tuple(version: str | None) -> tuple[int, ...]:
    """``"1.2"`` → ``(1, 2)``; an unreadable version sorts first."""
    try:
        return tuple(int(part) for part in str(version).split("."))
    except ValueError:
        return (0,)


def field_since(model: type[BaseModel], name: str) -> str:
    """The schema version that introduced a field (``1.0`` for the original ones)."""
    extra = model.model_fields[name].json_schema_extra
    since = extra.get("since") if isinstance(extra, dict) else None
    return str(since) if since else "1.0"


def schema_at(stem: str, version: str | None) -> pa.Schema:
    """The columns a file of ``version`` holds: the current schema without the fields added since."""
    model, current = MODELS[stem], ARROW_SCHEMAS[stem]
    written = version_tuple(version)
    keep = [f for f in current if version_tuple(field_since(model, f.name)) <= written]
    return pa.schema(keep, metadata=current.metadata)


def schema_problems(stem: str, actual: pa.Schema) -> list[str]:
    """What keeps a Parquet file's schema from being table ``stem`` as written by some version of this major.

    The file's ``schema_version`` (Parquet key-value metadata) says which version wrote
    it; it must hold exactly that version's columns (:func:`schema_at`), of their types,
    and be no laxer about nulls (a file may be stricter: an older minor version).  An
    empty list: the file reads, upgraded by :func:`upgrade_table` where it is older.
    """
    meta = (actual.metadata or {}).get(b"schema_version", b"").decode(errors="replace")
    expected = schema_at(stem, meta) if schema_compatible(meta) else ARROW_SCHEMAS[stem]
    # missing and extra columns first: a check shows the first few problems, and a dropped column
    # is the one to name before the type changes a rewrite (pandas: string → large_string) makes
    problems = [f"missing {f.name}" for f in expected if f.name not in actual.names]
    problems.extend(f"unexpected {name}" for name in actual.names if name not in expected.names)
    for field_ in expected:
        if field_.name not in actual.names:
            continue
        got = actual.field(field_.name)
        if not got.type.equals(field_.type):
            problems.append(f"{field_.name}: {got.type} != {field_.type}")
        elif got.nullable and not field_.nullable:  # a file may be stricter than the models (older minor)
            problems.append(f"{field_.name}: nullable {got.nullable} != {field_.nullable}")
    if not schema_compatible(meta):
        problems.append(f"schema_version {meta or 'absent'}")
    return problems


def _is_edited(table: pa.Table) -> pa.Array:
    # Before 1.2 a row with edited: true was quarantined, so a held row was edited exactly when it had a time.
    return pc.is_valid(table.column("edited")).combine_chunks()


def _no_archive_flags(table: pa.Table) -> pa.Array:
    # Before 1.3 no row came from an archive: no archive facts.
    return pa.array([[]] * table.num_rows, type=ARROW_SCHEMAS["comments"].field("archive_flags").type)


#: How each added column is derived from a table of a version without it.
DERIVED: dict[str, Callable[[pa.Table], pa.Array]] = {"is_edited": _is_edited, "archive_flags": _no_archive_flags}


def upgrade_table(stem: str, table: pa.Table) -> pa.Table:
    """``table`` in the current schema: added columns derived, widened nullability applied.

    A table already in the current schema is returned unchanged.
    """
    target = ARROW_SCHEMAS[stem]
    if table.schema.equals(target, check_metadata=False):
        return table
    columns = []
    for field in target:
        if field.name in table.column_names:
            columns.append(table.column(field.name))
        elif field.name in DERIVED:
            columns.append(DERIVED[field.name](table))
        elif field.nullable:
            columns.append(pa.nulls(table.num_rows, field.type))
        else:  # a non-null column added without a derivation: a bug in this module, caught by its tests
            raise ValueError(f"{stem}: no way to derive column {field.name} for an older version")
    old = (table.schema.metadata or {}).get(b"schema_version", b"").decode()
    metadata = {**(target.metadata or {}), b"schema_version": SCHEMA_VERSION.encode(), b"upgraded_from": old.encode()}
    return pa.Table.from_arrays(columns, schema=target.with_metadata(metadata))


__all__ = ["DERIVED", "field_since", "schema_at", "schema_problems", "upgrade_table", "version_tuple"]
