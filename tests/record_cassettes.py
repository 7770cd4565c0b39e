"""Re-record the cassettes in tests/cassettes from the fake Reddit on 127.0.0.1.

    python tests/record_cassettes.py

Each cassette is the traffic of one collection run, written with Reddit's
hosts and placeholders for every secret (see cassette_setup.py).  The test of
the same name replays it with ``record_mode="none"``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import vcr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scraper.collect.run import collect
from scraper.demo import demo_forest, demo_server
from tests.cassette_setup import PrettyJSON, vcr_kwargs
from tests.test_cassettes import CASSETTE_SPECS, CLIENT, CLIENT_SECRET

CASSETTES = Path(__file__).resolve().parent / "cassettes"


def record(name: str, spec: str) -> Path:
    """Record one collection run into ``tests/cassettes/<name>.json``."""
    forest = demo_forest()
    forest.private_subreddits.add("secretsub")
    recorder = vcr.VCR(record_mode="all", **vcr_kwargs())
    recorder.register_serializer("json", PrettyJSON)
    path = CASSETTES / f"{name}.json"
    with (
        demo_server(forest, client_id=CLIENT, client_secret=CLIENT_SECRET) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        folder = Path(tmp) / "ds"
        folder.mkdir()
        (folder / "dataset.toml").write_text(spec, encoding="utf-8")
        settings = server.client_settings(user_agent="python:cassettes:0 (recording)")
        with recorder.use_cassette(str(path)):
            collect(folder, settings)
    return path


if __name__ == "__main__":
    for cassette_name, cassette_spec in CASSETTE_SPECS.items():
        print(record(cassette_name, cassette_spec))
