"""A Reddit collector and dataset builder for research: versioned, checksummed Parquet snapshots."""

__version__ = "0.1.0"
