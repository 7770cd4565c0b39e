"""Normalization: raw API responses in, schema rows out."""

from scraper.normalize.harvest import Harvest, harvest_records
from scraper.normalize.rows import Quarantined, RowSet, build_rows, comment_row, submission_row
from scraper.normalize.status import thing_status

__all__ = [
    "Harvest",
    "Quarantined",
    "RowSet",
    "build_rows",
    "comment_row",
    "harvest_records",
    "submission_row",
    "thing_status",
]
