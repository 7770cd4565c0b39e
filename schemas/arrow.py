"""The Arrow schema of each table, derived from the Pydantic models.

Nothing here names a column: every field, its type and its nullability come
from :mod:`schemas.models`, so the Parquet files can never drift from them.
"""

from __future__ import annotations

import enum
import types
import typing
from datetime import datetime
from typing import Any

import pyarrow as pa
from pydantic import AwareDatetime, BaseModel

from schemas.models import MODELS, SCHEMA_VERSION

_SCALARS: dict[Any, pa.DataType] = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
    datetime: pa.timestamp("us", tz="UTC"),
    AwareDatetime: pa.timestamp("us", tz="UTC"),
}


def _arrow_type(annotation: Any) -> tuple[pa.DataType, bool]:
    """Map one field annotation to ``(arrow type, nullable)``."""
    nullable = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        nullable = len(args) != len(typing.get_args(annotation))
        if len(args) != 1:
            raise TypeError(f"unsupported union {annotation!r}")
        annotation = args[0]
        origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
        origin = typing.get_origin(annotation)
    if origin is list:
        (item,) = typing.get_args(annotation)
        item_type, _ = _arrow_type(item)
        return pa.list_(pa.field("item", item_type, nullable=False)), nullable
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return pa.string(), nullable
    if annotation in _SCALARS:
        return _SCALARS[annotation], nullable
    raise TypeError(f"no Arrow type for {annotation!r}")


def arrow_schema(model: type[BaseModel]) -> pa.Schema:
    """Return the Arrow schema of ``model``'s table, with the schema version in its metadata."""
    fields = []
    for name, info in model.model_fields.items():
        arrow_type, nullable = _arrow_type(info.annotation)
        metadata = {"description": info.description} if info.description else None
        fields.append(pa.field(name, arrow_type, nullable=nullable, metadata=metadata))
    return pa.schema(fields, metadata={"schema_version": SCHEMA_VERSION, "model": model.__name__})


ARROW_SCHEMAS: dict[str, pa.Schema] = {stem: arrow_schema(m) for stem, m in MODELS.items()}
"""The Arrow schema of each table, by file stem."""
