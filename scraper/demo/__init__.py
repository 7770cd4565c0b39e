"""The offline demo: collect ``leaving-ml`` from a fake Reddit on 127.0.0.1 serving reconstructed data.

Everything but the server is the real collector: PRAW's OAuth flow, search,
tree expansion through load-more and continue-this-thread stubs, the raw
archive, normalization and the snapshot writer.  The server cuts the small
demo thread with small limits (8 comments a tree, 4 a morechildren call,
depth 3) so that the demo walks every kind of stub Reddit sends.

Next to it, :func:`run_history_demo` shows the history backfill: a fake Arctic
Shift (generated posts of the spec's subreddits, 2015-2022, every era's field
drift and ``_meta`` deletion facts) is walked over the spec's ``[archive]``
range; the threads the keyword rule keeps are re-read through the same fake
Reddit, which serves them as they are "today" (some comments gone since), so
the version shows Reddit's answers with the archive's facts beside them and
the comments Reddit no longer serves as ``unavailable`` tombstones.
"""

from __future__ import annotations

import os
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

from scraper.collect.run import CollectReport, collect
from scraper.errors import ConfigError
from scraper.fake_arctic_shift import ArchiveStore, FakeArcticShift, generate
from scraper.fake_arctic_shift.generate import reddit_today
from scraper.fake_reddit import FakeReddit, Forest
from scraper.spec import SPEC_FILE, load_spec

DEMO_DATA = "leaving_ml_demo.json"
#: The demo's pseudonym key, used only when LEAVING_ML_PSEUDONYM_KEY is unset. Not a secret: it
#: pseudonymizes invented demo authors. Real collections set their own key.
DEMO_KEY_ENV = "LEAVING_ML_PSEUDONYM_KEY"
DEMO_KEY = "demo-key-not-secret-reconstructed-data-only"
DEMO_DIR = Path("build/demo/leaving-ml")
SPEC_SOURCE = Path("datasets/leaving-ml") / SPEC_FILE
DEMO_AGENT = "python:reddit-research-dataset-demo:0 (offline demo)"
HISTORY_POSTS = 60
HISTORY_START = 1_420_070_400  # 2015-01-01
HISTORY_END = 1_672_531_200  # 2023-01-01


def demo_forest() -> Forest:
    """The bundled reconstructed thread, loaded into a forest."""
    with resources.as_file(resources.files(__package__) / DEMO_DATA) as path:
        return Forest.from_file(path)


def demo_server(forest: Forest | None = None, **overrides: Any) -> FakeReddit:
    """A fake Reddit cutting trees with the demo's small limits (8 a tree, 4 a morechildren call, depth 3).

    The quota is large: prawcore-style pacing follows the advertised quota (the window spread over
    what is left of it), and the demo should not wait: 10 million a window is 60 microseconds a
    request (100,000 was 6 ms, two seconds of sleep a demo).
    """
    options: dict[str, Any] = {
        "quota": 10_000_000,
        "tree_limit_cap": 8,
        "morechildren_budget": 4,
        "max_depth": 3,
        **overrides,
    }
    return FakeReddit(forest or demo_forest(), **options)


def _copy_spec(dataset_dir: Path, spec_source: Path) -> None:
    spec_target = dataset_dir / SPEC_FILE
    if not spec_target.exists():
        if not spec_source.is_file():
            raise ConfigError(f"{spec_source} not found; run the demo from the project's root or pass --spec.")
        dataset_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(spec_source, spec_target)
    os.environ.setdefault(DEMO_KEY_ENV, DEMO_KEY)


def run_demo(dataset_dir: Path = DEMO_DIR, spec_source: Path = SPEC_SOURCE) -> CollectReport:
    """Collect the demo dataset into ``dataset_dir`` through a fake Reddit on 127.0.0.1 (live listings only)."""
    _copy_spec(dataset_dir, spec_source)
    with demo_server() as server:
        settings = server.client_settings(user_agent=DEMO_AGENT)
        return collect(dataset_dir, settings, archive=False)


def history_store(subreddits: tuple[str, ...]) -> ArchiveStore:
    """The demo archive: generated posts of ``subreddits`` from 2015 to 2022 (invented text, real shapes)."""
    return generate(
        subreddits=subreddits,
        posts=HISTORY_POSTS,
        start=HISTORY_START,
        end=HISTORY_END,
        comments_per_post=(2, 10),
        keyword_share=0.35,
        seed=2015,
    )


def run_history_demo(dataset_dir: Path, spec_source: Path = SPEC_SOURCE) -> CollectReport:
    """Collect the demo dataset with its history: fake Arctic Shift walked, threads re-read through fake Reddit."""
    _copy_spec(dataset_dir, spec_source)
    spec, _ = load_spec(dataset_dir)
    store = history_store(tuple(spec.archive_subreddits() or spec.discovery.subreddits))
    forest = demo_forest()
    reddit_today(store, forest, gone_share=0.15, seed=1)
    with FakeArcticShift(store, rate_reset="1", rate_remaining=1_000_000) as archive, demo_server(forest) as server:
        settings = server.client_settings(user_agent=DEMO_AGENT)
        return collect(dataset_dir, settings, archive_url=archive.url)
