"""DuckDB connections as this tool opens them: quiet on stdout, limits given by the caller.

DuckDB draws a progress bar on standard output for a query that runs longer than
two seconds; a command's stdout is its result (``--json``, a path, a table), so
every connection here turns the bar off.  Where a command wants progress, it shows
it on stderr with rich.
"""

from __future__ import annotations

from typing import Any

import duckdb


def connect(**config: Any) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with ``config`` (e.g. ``memory_limit``) and no progress bar."""
    con = duckdb.connect(config=config) if config else duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    return con
