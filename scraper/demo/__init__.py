"""The offline demo: collect ``leaving-ml`` from a fake Reddit on 127.0.0.1 serving reconstructed data.

Everything but the server is the real collector: PRAW's OAuth flow, search,
tree expansion through load-more and continue-this-thread stubs, the raw
archive, normalization and the snapshot writer.  The server cuts the small
demo thread with small limits (8 comments a tree, 4 a morechildren call,
depth 3) so that the demo walks every kind of stub Reddit sends.
"""

from __future__ import annotations

import os
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

from scraper.collect.run import CollectReport, collect
from scraper.errors import ConfigError
from scraper.fake_reddit import FakeReddit, Forest
from scraper.spec import SPEC_FILE

DEMO_DATA = "leaving_ml_demo.json"
#: The demo's pseudonym key, used only when LEAVING_ML_PSEUDONYM_KEY is unset. Not a secret: it
#: pseudonymizes invented demo authors. Real collections set their own key.
DEMO_KEY_ENV = "LEAVING_ML_PSEUDONYM_KEY"
DEMO_KEY = "demo-key-not-secret-reconstructed-data-only"
DEMO_DIR = Path("build/demo/leaving-ml")
SPEC_SOURCE = Path("datasets/leaving-ml") / SPEC_FILE


def demo_forest() -> Forest:
    """The bundled reconstructed thread, loaded into a forest."""
    with resources.as_file(resources.files(__package__) / DEMO_DATA) as path:
        return Forest.from_file(path)


def demo_server(forest: Forest | None = None, **overrides: Any) -> FakeReddit:
    """A fake Reddit cutting trees with the demo's small limits (8 a tree, 4 a morechildren call, depth 3).

    The quota is large: prawcore-style pacing follows the advertised quota, and the demo should not
    wait a minute.
    """
    options: dict[str, Any] = {
        "quota": 100_000,
        "tree_limit_cap": 8,
        "morechildren_budget": 4,
        "max_depth": 3,
        **overrides,
    }
    return FakeReddit(forest or demo_forest(), **options)


def run_demo(dataset_dir: Path = DEMO_DIR, spec_source: Path = SPEC_SOURCE) -> CollectReport:
    """Collect the demo dataset into ``dataset_dir`` through a fake Reddit on 127.0.0.1."""
    spec_target = dataset_dir / SPEC_FILE
    if not spec_target.exists():
        if not spec_source.is_file():
            raise ConfigError(f"{spec_source} not found; run the demo from the project's root or pass --spec.")
        dataset_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(spec_source, spec_target)
    os.environ.setdefault(DEMO_KEY_ENV, DEMO_KEY)
    with demo_server() as server:
        settings = server.client_settings(user_agent="python:reddit-research-dataset-demo:0 (offline demo)")
        return collect(dataset_dir, settings)
