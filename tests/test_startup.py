"""The command-line process runs without pandas (scraper/startup.py); the library keeps it.

The command line's own run of ``collect`` (``python -m scraper``, which builds
tables and so made pyarrow import pandas) is checked in
``tests/test_cli.py::test_credentials_and_endpoints_from_praw_ini``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import scraper
from scraper.startup import RefusePandas, without_pandas

ROOT = Path(__file__).resolve().parents[1]

# Every way pyarrow looked for pandas in a command: a list, rows, a Python scalar in a compute
# call, pyarrow.dataset, a Parquet round trip; then the refusal's message.
CONVERSIONS = """
import json, sys
import pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq
from scraper.startup import without_pandas
without_pandas()
without_pandas()  # a second call changes nothing
import pyarrow.dataset
table = pa.Table.from_pylist([{"a": 1, "b": "x"}, {"a": None, "b": "y"}])
assert pa.array([1, None, 3]).null_count == 1
assert pc.equal(table["b"], "x").to_pylist() == [True, False]
pq.write_table(table, sys.argv[1])
assert pq.read_table(sys.argv[1]).equals(table)
try:
    import pandas
except ModuleNotFoundError as exc:
    refused = str(exc)
else:
    refused = ""
print(json.dumps({
    "pandas": "pandas" in sys.modules,
    "pyarrow_sees_pandas": pa.lib._pandas_api.have_pandas,
    "refused": refused,
    "finders": sum(type(f).__name__ == "RefusePandas" for f in sys.meta_path),
}))
"""


def test_pyarrow_converts_without_importing_pandas(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CONVERSIONS, str(tmp_path / "t.parquet")],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    outcome = json.loads(proc.stdout.strip().splitlines()[-1])
    assert outcome["pandas"] is False and outcome["pyarrow_sees_pandas"] is False
    assert outcome["finders"] == 1
    assert "command line runs without pandas" in outcome["refused"] and "to_pandas" in outcome["refused"]


def test_refuse_pandas_refuses_pandas_and_its_submodules_only() -> None:
    finder = RefusePandas()
    for name in ("pandas", "pandas.core.frame"):
        with pytest.raises(ModuleNotFoundError) as caught:
            finder.find_spec(name, None)
        assert caught.value.name == name
    for name in ("pandas_compat", "pyarrow.pandas_compat", "polars"):
        assert finder.find_spec(name, None) is None


def test_the_library_and_main_alone_keep_pandas(tmp_path: Path) -> None:
    """Where pandas is imported already, nothing is refused; ``main`` (not ``run``) installs nothing."""
    import pandas as pd
    from click.testing import CliRunner

    from scraper.cli import main
    from tests.test_diff import com, sub, write

    folder = tmp_path / "ds"
    write(folder, [sub()], [com("c1"), com("c2")])
    assert CliRunner().invoke(main, ["versions", str(folder)]).exit_code == 0
    without_pandas()
    assert not any(isinstance(f, RefusePandas) for f in sys.meta_path)
    comments = scraper.load(folder).to_pandas("comments")
    assert isinstance(comments, pd.DataFrame) and list(comments["name"]) == ["t1_c1", "t1_c2"]
