"""A Reddit collector and dataset builder for research: versioned, checksummed Parquet snapshots.

The library's front door is :func:`load`; the command line (``python -m scraper``)
is a thin skin over the rest.
"""

from __future__ import annotations

import typing

__version__ = "0.1.0"
#: The one name of this tool: the distribution, the console script, ``--version``, manifests'
#: ``tool.name`` and the default User-Agent.  The import package is ``scraper`` (``python -m scraper``).
TOOL_NAME = "reddit-research-dataset"

if typing.TYPE_CHECKING:
    from scraper.study import Snapshot, load

__all__ = ["Snapshot", "__version__", "load"]


def __getattr__(name: str) -> typing.Any:
    """``load`` and ``Snapshot`` imported on first use (PEP 562).

    ``scraper.study`` imports pyarrow, numpy and the schema models: about 0.3 s of CPU that
    every ``python -m scraper`` start and every ``import scraper.<module>`` paid, also where
    the command never reads a snapshot (``--help``, completion, an error in the arguments).
    """
    if name in ("Snapshot", "load"):
        from scraper import study

        value = getattr(study, name)
        globals()[name] = value  # once: later lookups find it without this function
        return value
    raise AttributeError(f"module 'scraper' has no attribute {name!r}")
