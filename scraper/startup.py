"""What the command-line process sets up before its command runs: no pandas in it.

pyarrow looks for pandas once a process, the first time it converts Python
objects (``pa.array`` of a list, ``Table.from_pylist``, a Python scalar given to a
compute function, importing ``pyarrow.dataset``): its Cython shim and its C++
converter each import pandas, to know pandas' objects and null sentinels.  That
import costs about 0.45 s of CPU in every ``collect``, ``refresh``, ``ingest``,
``validate``, ``report`` or ``demo`` run, and no command uses pandas: it is the
``study`` extra's, for :meth:`scraper.study.Snapshot.to_pandas` in the library.

:func:`without_pandas` (called by :func:`scraper.cli.run`, the entry of
``python -m scraper`` and of the console script; never by ``import scraper`` nor
by :func:`scraper.cli.main` alone) makes ``import pandas`` fail in the process,
as it fails on the base install, which has no pandas.  pyarrow, DuckDB, plotly
and dask then take their paths for a Python without pandas, which the base
install takes anyway; none of them needs pandas, and no pandas object can exist
in the process.  Both of pyarrow's looks are made once a process and keep their
answer, so the refusal costs nothing after them.  ``tests/test_startup.py``
holds that commands run without importing pandas and that the library's
``to_pandas`` is untouched.

Written by hand: pyarrow has no setting for this.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

PANDAS = "pandas"


class RefusePandas(importlib.abc.MetaPathFinder):
    """A finder, first on ``sys.meta_path``, that refuses ``import pandas`` (and its submodules)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] == PANDAS:
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: the command line runs without pandas (scraper/startup.py); "
                "for pandas, use the library (scraper.load(...).to_pandas())",
                name=fullname,
            )
        return None


def without_pandas() -> None:
    """Refuse ``import pandas`` in this process from now on, unless pandas is imported already."""
    if PANDAS in sys.modules or any(isinstance(finder, RefusePandas) for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, RefusePandas())
