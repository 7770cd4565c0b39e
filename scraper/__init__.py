"""A Reddit collector and dataset builder for research: versioned, checksummed Parquet snapshots.

The library's front door is :func:`load`; the command line (``python -m scraper``)
is a thin skin over the rest.
"""

__version__ = "0.1.0"

from scraper.study import Snapshot, load

__all__ = ["Snapshot", "__version__", "load"]
