"""``python -m schemas`` regenerates the committed JSON Schema files and the data dictionary (docs/SCHEMA.md)."""

from schemas.dictionary import write_dictionary
from schemas.jsonschema import write_json_schemas

for path in [*write_json_schemas(), write_dictionary()]:
    print(path)
