"""A Reddit collector and dataset builder for research: versioned, checksummed Parquet snapshots.

The library's front door is :func:`load`; the command line (``python -m scraper``)
is a thin skin over the rest.
"""

__version__ = "0.1.0"
#: The one name of this tool: the distribution, the console script, ``--version``, manifests'
#: ``tool.name`` and the default User-Agent.  The import package is ``scraper`` (``python -m scraper``).
TOOL_NAME = "reddit-research-dataset"

from scraper.study import Snapshot, load  # noqa: E402 - after the names scraper.study reads back

__all__ = ["Snapshot", "__version__", "load"]
