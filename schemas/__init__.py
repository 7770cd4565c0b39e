"""The dataset's schema: Pydantic models, and the Arrow schema, JSON Schema and data dictionary derived from them."""

from schemas.arrow import ARROW_SCHEMAS, arrow_schema
from schemas.models import MODELS, SCHEMA_VERSION, STATUS_RULES, Comment, Status, Submission, schema_compatible

__all__ = [
    "ARROW_SCHEMAS",
    "MODELS",
    "SCHEMA_VERSION",
    "STATUS_RULES",
    "Comment",
    "Status",
    "Submission",
    "arrow_schema",
    "schema_compatible",
]
