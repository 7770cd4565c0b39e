"""The JSON Schema files committed beside the models, generated from them.

Run ``python -m schemas`` after changing a model; a test fails while the
committed files differ from what the models generate.
"""

from __future__ import annotations

import json
from pathlib import Path

from schemas.models import MODELS, SCHEMA_VERSION

SCHEMA_DIR = Path(__file__).resolve().parent


def json_schema_text(stem: str) -> str:
    """Return the canonical JSON Schema text of one table's model."""
    schema = MODELS[stem].model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$comment"] = f"Generated from schemas/models.py (SCHEMA_VERSION {SCHEMA_VERSION}); do not edit."
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def json_schema_path(stem: str) -> Path:
    """Return where the JSON Schema of one table is committed."""
    return SCHEMA_DIR / f"{stem[:-1]}.schema.json"


def write_json_schemas() -> list[Path]:
    """Write every table's JSON Schema file and return their paths."""
    written = []
    for stem in MODELS:
        path = json_schema_path(stem)
        path.write_text(json_schema_text(stem), encoding="utf-8")
        written.append(path)
    return written
