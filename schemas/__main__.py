"""``python -m schemas`` regenerates the committed JSON Schema files."""

from schemas.jsonschema import write_json_schemas

for path in write_json_schemas():
    print(path)
