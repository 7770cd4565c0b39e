"""Benchmark: ``validate`` on a version of 1,000,000 comments against one DuckDB scan of the same files.

    python bench/validate_bench.py [--comments 1000000]

Builds a synthetic but valid version (threads of 1,000 comments in chains and
fans, realistic text lengths) with the project's own snapshot writer, then
times, in the same process:

- the reference: DuckDB reading every column of both Parquet files once
  (``SELECT * … `` materialized to Arrow);
- ``validate`` on the version folder (footer schema checks, sha256 of the
  bytes, and the DuckDB column scans for keys, links, depth, statuses and
  timestamps).

It prints both times and their ratio (target: at most 3×).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from schemas import ARROW_SCHEMAS
from scraper.fake_reddit.generate import base36
from scraper.publish.validate import validate
from scraper.store.snapshot import Dataset

THREAD = 1000


def _id36(values: np.ndarray) -> list[str]:
    return [base36(n) for n in values.tolist()]


def build(n: int) -> dict[str, pa.Table]:
    rng = np.random.default_rng(0)
    threads = max(1, n // THREAD)
    base_time = datetime(2024, 1, 1, tzinfo=UTC)
    now = datetime.now(UTC)
    link_ids = _id36(np.arange(threads) + 36**5)
    subs: dict[str, list[object]] = {f.name: [] for f in ARROW_SCHEMAS["submissions"]}
    sub_cols = {
        "name": [f"t3_{x}" for x in link_ids],
        "id": link_ids,
        "subreddit": ["MachineLearning"] * threads,
        "subreddit_id": ["t5_2r3gv"] * threads,
        "author": ["op"] * threads,
        "author_fullname": ["t2_op"] * threads,
        "author_flair_text": [None] * threads,
        "created_utc": [base_time] * threads,
        "edited": [None] * threads,
        "score": [10] * threads,
        "distinguished": [None] * threads,
        "stickied": [False] * threads,
        "locked": [False] * threads,
        "permalink": [f"/r/MachineLearning/comments/{x}/" for x in link_ids],
        "status": ["visible"] * threads,
        "retrieved_at": [now] * threads,
        "source": ["reddit-api"] * threads,
        "found_by": [["seed:x"]] * threads,
        "title": ["Why I left ML"] * threads,
        "selftext": ["text " * 40] * threads,
        "url": ["https://www.reddit.com/"] * threads,
        "domain": ["self.MachineLearning"] * threads,
        "is_self": [True] * threads,
        "num_comments": [THREAD] * threads,
        "upvote_ratio": [0.9] * threads,
        "over_18": [False] * threads,
        "link_flair_text": [None] * threads,
        "removed_by_category": [None] * threads,
    }
    subs.update(sub_cols)
    ids = _id36(np.arange(n) + 36**6)
    pos = np.arange(n) % THREAD
    thread = np.arange(n) // THREAD
    # parent: top level for the first 100 of each thread, else an earlier comment of the same thread
    parent_pos = np.where(pos < 100, -1, (pos * rng.random(n)).astype(np.int64))
    parent_idx = thread * THREAD + parent_pos
    depth = np.zeros(n, dtype=np.int64)
    for i in range(n):  # parents come first, so one pass gives every depth
        if parent_pos[i] >= 0:
            depth[i] = depth[parent_idx[i]] + 1
    link_names = [f"t3_{link_ids[t]}" for t in thread.tolist()]
    parent_names = [link_names[i] if parent_pos[i] < 0 else f"t1_{ids[parent_idx[i]]}" for i in range(n)]
    vocabulary = np.array(
        [
            "model",
            "data",
            "quit",
            "job",
            "research",
            "burnout",
            "pipeline",
            "tuning",
            "paper",
            "deadline",
            "team",
            "salary",
            "engineering",
            "career",
            "I",
            "the",
            "a",
            "was",
            "left",
            "because",
            "now",
            "work",
            "on",
            "backend",
            "and",
            "it",
            "is",
            "better",
        ]
    )
    lengths = rng.integers(4, 90, n)
    words = rng.integers(0, len(vocabulary), int(lengths.sum()))
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    bodies = [" ".join(vocabulary[words[offsets[i] : offsets[i + 1]]]) for i in range(n)]
    created = pa.array((np.full(n, int(base_time.timestamp() * 1e6)) + np.arange(n) * 1_000_000), pa.int64()).cast(
        pa.timestamp("us", tz="UTC")
    )
    comment_cols = {
        "name": pa.array([f"t1_{x}" for x in ids]),
        "id": pa.array(ids),
        "subreddit": pa.array(["MachineLearning"] * n),
        "subreddit_id": pa.array(["t5_2r3gv"] * n),
        "author": pa.array([f"user{k % 5000}" for k in range(n)]),
        "author_fullname": pa.array([f"t2_u{k % 5000}" for k in range(n)]),
        "author_flair_text": pa.nulls(n, pa.string()),
        "created_utc": created,
        "edited": pa.nulls(n, pa.timestamp("us", tz="UTC")),
        "score": pa.array(rng.integers(-5, 500, n)),
        "distinguished": pa.nulls(n, pa.string()),
        "stickied": pa.array([False] * n),
        "locked": pa.array([False] * n),
        "permalink": pa.nulls(n, pa.string()),
        "status": pa.array(["visible"] * n),
        "retrieved_at": pa.array([now] * n, pa.timestamp("us", tz="UTC")),
        "source": pa.array(["reddit-api"] * n),
        "found_by": pa.array([["seed:x"]] * n, ARROW_SCHEMAS["comments"].field("found_by").type),
        "link_id": pa.array(link_names),
        "parent_id": pa.array(parent_names),
        "depth": pa.array(depth),
        "body": pa.array(bodies),
        "is_submitter": pa.array([False] * n),
        "controversiality": pa.array([0] * n),
        "collapsed": pa.array([False] * n),
    }
    comments = pa.Table.from_arrays(
        [comment_cols[f.name] if f.name in comment_cols else _empty(f, n) for f in ARROW_SCHEMAS["comments"]],
        schema=ARROW_SCHEMAS["comments"],
    )
    submissions = pa.Table.from_arrays(
        [
            pa.array(subs[f.name], f.type) if subs.get(f.name) else _empty(f, threads)
            for f in ARROW_SCHEMAS["submissions"]
        ],
        schema=ARROW_SCHEMAS["submissions"],
    )
    return {"submissions": submissions, "comments": comments}


def _empty(field: pa.Field, n: int) -> pa.Array:
    """A column the generator does not fill (fields added by later schema versions): null, or empty if required."""
    if field.nullable:
        return pa.nulls(n, field.type)
    empty = {pa.types.is_list: [], pa.types.is_boolean: False, pa.types.is_string: ""}
    value = next(v for test, v in empty.items() if test(field.type))
    return pa.array([value] * n, field.type)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dataset = Dataset(Path(tmp) / "ds")
        t0 = time.perf_counter()
        manifest = dataset.write_version(build(args.comments), spec_sha256=None, source={"kind": "bench"}, stats={})
        built = time.perf_counter() - t0
        folder = dataset.version_dir(manifest["version"])
        files = [str(folder / "submissions.parquet"), str(folder / "comments.parquet")]
        size = sum(Path(f).stat().st_size for f in files)
        duckdb.sql("select 1").fetchall()  # load DuckDB before timing
        t0 = time.perf_counter()
        for f in files:
            duckdb.sql(f"select * from read_parquet('{f}')").to_arrow_table()
        reference = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = validate(folder)
        ours = time.perf_counter() - t0
    assert report.valid, [c.as_json() for c in report.checks if c.status != "ok"]
    print(f"comments {args.comments:,}  files {size / 1e6:.1f} MB  (built in {built:.1f} s)")
    print(f"DuckDB full scan: {reference:.2f} s")
    print(f"validate:         {ours:.2f} s")
    print(f"ratio:            {ours / reference:.2f}x (target <= 3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
