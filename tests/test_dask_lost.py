"""`dumps --engine dask` when the cluster goes away mid-run: exit 75, one line, the dataset untouched."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scraper import dumps
from scraper.dumps import ingest_dumps
from scraper.errors import TransientError, from_exception
from tests.conftest import write_spec
from tests.test_dump_spans import SPEC


@pytest.fixture(scope="module")
def doomed() -> Iterator[tuple[Any, Any]]:
    """A LocalCluster of 2 workers and its client, for a test that closes the cluster (made before the
    per-test network guard, as conftest's dask_client is)."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:0")
    client = Client(cluster)
    try:
        yield cluster, client
    finally:
        client.close()
        cluster.close()


def test_a_cluster_closed_mid_run_is_try_again_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, doomed: tuple[Any, Any]
) -> None:
    cluster, client = doomed
    folder = write_spec(tmp_path / "ds", SPEC)
    files = []
    for month in range(1, 4):  # three files: three spans, the cluster closed after the first
        path = tmp_path / f"RS_2016-0{month}.jsonl"
        post = {"id": f"p{month}", "subreddit": "MachineLearning", "created_utc": 1_452_000_000 + month, "title": "t"}
        path.write_text(json.dumps(post) + "\n")
        files.append(path)
    spans = dumps._spans

    def closing(*args: Any) -> Iterator[Any]:
        for number, span in enumerate(spans(*args)):
            if number == 1:
                cluster.close()  # the scheduler and its workers go away while the run submits
            yield span

    monkeypatch.setattr(dumps, "_spans", closing)
    with pytest.raises(TransientError) as caught:
        ingest_dumps(folder, files, engine="dask", client=client)
    message = str(caught.value)
    assert caught.value.exit_code == 75
    assert "lost the Dask cluster" in message and "run the same command again" in message
    assert "damaged" not in message and "\n" not in message
    assert not (folder / "versions").exists() or not any((folder / "versions").iterdir())
    assert not list(folder.glob(".dumps.*"))  # the work folder is cleaned up


def test_a_closed_connection_reaching_the_boundary_is_not_a_damaged_dataset() -> None:
    from distributed.comm.core import CommClosedError

    error = from_exception(CommClosedError("in <TCP (closed) ConnectionPool.scatter local=tcp://x>: Stream is closed"))
    assert isinstance(error, TransientError) and error.exit_code == 75
    assert "lost the Dask cluster" in str(error) and "damaged" not in str(error)


def test_a_scheduler_that_does_not_answer_at_connect_is_try_again_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A well-formed address with nothing listening (a cluster restarting): 75 and one line, as for a cluster
    lost mid-run; only an address that does not parse is a usage error (test_dumps_rerun)."""
    import socket

    from click.testing import CliRunner

    from scraper import engine
    from scraper.cli import main

    monkeypatch.setattr(engine, "CONNECT_TIMEOUT", "0.3s")  # the real wait is 20 s; the outcome is the same
    with socket.socket() as probe:  # a free port on loopback: closed once the probe is gone
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = write_spec(tmp_path / "ds", SPEC)
    path = tmp_path / "RS_2016-01.jsonl"
    path.write_text(json.dumps({"id": "p1", "subreddit": "MachineLearning", "created_utc": 1_452_000_000}) + "\n")
    address = f"tcp://127.0.0.1:{port}"
    result = CliRunner().invoke(main, ["dumps", str(folder), str(path), "--engine", "dask", "--scheduler", address])
    assert result.exit_code == 75, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot reach the Dask scheduler" in lines[0] and address in lines[0]
    assert "run the same command again" in lines[0] and "Traceback" not in result.output
    assert not (folder / "versions").exists() or not any((folder / "versions").iterdir())
