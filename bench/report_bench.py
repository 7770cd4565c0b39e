"""Benchmark: ``report`` on a version of 1,000,000 comments against one DuckDB scan of the same files.

    python bench/report_bench.py [--comments 1000000] [--memory-sizes 250000,1000000]

Builds a synthetic version with the project's own snapshot writer (1,000-comment threads over seven
subreddits and three years, replies in chains and fans, tombstones, heavy-tailed scores, texts that
hit the leaving-ml taxonomy now and then), then, in the same process:

- the reference: DuckDB reading every column of both Parquet files once, streamed in record batches;
- ``write_report`` on the version with leaving-ml's ``[report.taxonomy]`` (after one warm-up run on
  a small version, so imports are not counted).

It prints both times and their ratio. Then, for each of ``--memory-sizes``, it runs the report in a
fresh subprocess and prints that process's peak RSS, to show how memory grows with comments.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from schemas import ARROW_SCHEMAS  # noqa: E402
from scraper.report import write_report  # noqa: E402
from scraper.store.snapshot import Dataset  # noqa: E402

THREAD = 1000
SUBS = ["MachineLearning", "datascience", "learnmachinelearning", "cscareerquestions", "ExperiencedDevs"]
SUBS += ["dataengineering", "MLQuestions"]
WORDS = [
    "I",
    "the",
    "a",
    "and",
    "to",
    "of",
    "it",
    "was",
    "is",
    "now",
    "work",
    "job",
    "left",
    "ML",
    "model",
    "data",
    "team",
    "because",
    "better",
    "but",
    "so",
    "we",
    "they",
    "my",
    "after",
    "years",
    "research",
    "pipeline",
    "tuning",
    "paper",
    "deadline",
    "salary",
    "career",
    "burnout",
    "quit",
]
HITS = [
    "data engineering",
    "MLOps",
    "backend",
    "analytics",
    "quant",
    "PhD",
    "manager",
    "physics",
    "teacher",
    "software engineer",
]


def _fill(schema: pa.Schema, n: int, columns: dict[str, pa.Array]) -> pa.Table:
    """A table of ``schema``: the given columns, every other one null (or false, or empty)."""
    arrays = []
    for f in schema:
        if f.name in columns:
            arrays.append(
                pa.array(columns[f.name], f.type) if not isinstance(columns[f.name], pa.Array) else columns[f.name]
            )
        elif f.nullable:
            arrays.append(pa.nulls(n, f.type))
        elif pa.types.is_boolean(f.type):
            arrays.append(pa.array(np.zeros(n, dtype=bool)))
        elif pa.types.is_list(f.type):
            arrays.append(pa.array([[]] * n, f.type))
        else:
            raise SystemExit(f"bench: no value for required column {f.name} ({f.type}); add it to build()")
    return pa.Table.from_arrays(arrays, schema=schema)


def build(n: int, seed: int = 0) -> dict[str, pa.Table]:
    """A version of ``n`` comments in threads of 1,000."""
    rng = np.random.default_rng(seed)
    threads = max(1, n // THREAD)
    t_ids = [f"b{t:06d}" for t in range(threads)]
    t_sub = [SUBS[t % len(SUBS)] for t in range(threads)]
    start = int(datetime(2022, 1, 1, tzinfo=UTC).timestamp())
    t_created = start + rng.integers(0, 3 * 365 * 86400, threads)
    now = datetime.now(UTC)
    ts = pa.timestamp("us", tz="UTC")
    submissions = _fill(
        ARROW_SCHEMAS["submissions"],
        threads,
        {
            "name": [f"t3_{x}" for x in t_ids],
            "id": t_ids,
            "subreddit": t_sub,
            "subreddit_id": ["t5_x"] * threads,
            "author": [f"u_op{t}" for t in range(threads)],
            "created_utc": pa.array(t_created * 1_000_000, pa.int64()).cast(ts),
            "score": rng.pareto(1.2, threads).astype(np.int64) * 10,
            "permalink": [f"/r/{s}/comments/{x}/t/" for s, x in zip(t_sub, t_ids, strict=True)],
            "status": ["visible"] * threads,
            "retrieved_at": pa.array([now] * threads, ts),
            "source": ["reddit-api"] * threads,
            "found_by": [
                [f'search:r/{s}:"quit ML"'] + (["seed:b000000"] if t == 0 else []) for t, s in enumerate(t_sub)
            ],
            "title": ["Why I left ML"] * threads,
            "selftext": ["text"] * threads,
            "is_self": [True] * threads,
            "num_comments": np.full(threads, THREAD + 3),
        },
    )
    ids = [f"c{i:07d}" for i in range(n)]
    pos = np.arange(n) % THREAD
    thread = np.arange(n) // THREAD
    parent_pos = np.where(pos < 150, -1, (pos * rng.random(n)).astype(np.int64))
    parent_idx = thread * THREAD + parent_pos
    depth = np.zeros(n, dtype=np.int64)
    for i in np.nonzero(parent_pos >= 0)[0].tolist():  # parents come first: one pass gives every depth
        depth[i] = depth[parent_idx[i]] + 1
    link_names = np.array([f"t3_{x}" for x in t_ids])[thread]
    parent_names = np.where(parent_pos < 0, link_names, np.array([f"t1_{x}" for x in ids])[parent_idx])
    status = rng.choice(["visible", "deleted", "removed"], n, p=[0.9, 0.06, 0.04])
    lengths = rng.integers(4, 80, n)
    words = rng.integers(0, len(WORDS), int(lengths.sum()))
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    hit = rng.integers(0, len(HITS) * 3, n)  # a third of the texts name one of the groups
    vocab = np.array(WORDS)
    bodies = [
        ""
        if status[i] != "visible"
        else " ".join(vocab[words[offsets[i] : offsets[i + 1]]])
        + (f" now {HITS[hit[i]]}" if hit[i] < len(HITS) else "")
        for i in range(n)
    ]
    delay = (rng.lognormal(8, 2.5, n)).astype(np.int64)
    comments = _fill(
        ARROW_SCHEMAS["comments"],
        n,
        {
            "name": [f"t1_{x}" for x in ids],
            "id": ids,
            "subreddit": np.array(t_sub)[thread],
            "subreddit_id": ["t5_x"] * n,
            "author": [f"u_{k % 20000}" for k in range(n)],
            "created_utc": pa.array((t_created[thread] + delay) * 1_000_000, pa.int64()).cast(ts),
            "score": (rng.pareto(1.1, n) * 3).astype(np.int64) - 1,
            "permalink": [f"/r/x/comments/{t_ids[t]}/t/{c}/" for t, c in zip(thread.tolist(), ids, strict=True)],
            "status": status,
            "retrieved_at": pa.array([now] * n, ts),
            "source": ["reddit-api"] * n,
            "found_by": pa.array([[]] * n, ARROW_SCHEMAS["comments"].field("found_by").type),
            "link_id": link_names,
            "parent_id": parent_names,
            "depth": depth,
            "body": bodies,
        },
    )
    return {"submissions": submissions, "comments": comments}


def write(folder: Path, n: int, *, changes: bool = False) -> Path:
    """A dataset folder with leaving-ml's spec and one version of ``n`` comments (two with ``changes``)."""
    folder.mkdir(parents=True)
    shutil.copyfile(ROOT / "datasets" / "leaving-ml" / "dataset.toml", folder / "dataset.toml")
    tables = build(n)
    Dataset(folder).write_version(tables, spec_sha256=None, source={"kind": "bench"}, stats={})
    if changes:
        Dataset(folder).write_version(changed(tables), spec_sha256=None, source={"kind": "bench"}, stats={})
    return folder


def changed(tables: dict[str, pa.Table], seed: int = 1) -> dict[str, pa.Table]:
    """The next version: 1% of comments gone, 1% tombstoned, 1% edited, 5% with a new score."""
    comments = tables["comments"]
    n = comments.num_rows
    draw = np.random.default_rng(seed).random(n)
    visible = np.asarray(comments["status"].to_numpy(zero_copy_only=False) == "visible")
    tomb = pa.array((draw >= 0.01) & (draw < 0.02) & visible)
    edit = pa.array((draw >= 0.02) & (draw < 0.03) & visible)
    rescore = pa.array((draw >= 0.03) & (draw < 0.08))
    body = pc.if_else(
        tomb, "", pc.if_else(edit, pc.binary_join_element_wise(comments["body"], " (edit)", ""), comments["body"])
    )
    columns = {
        "status": pc.if_else(tomb, "deleted", comments["status"]),
        "body": body,
        "author": pc.if_else(tomb, pa.scalar(None, pa.string()), comments["author"]),
        "score": pc.if_else(rescore, pc.add(comments["score"], 1), comments["score"]),
    }
    for name, column in columns.items():
        i = comments.schema.get_field_index(name)
        comments = comments.set_column(i, comments.schema.field(i), column.cast(comments.schema.field(i).type))
    comments = comments.filter(pa.array(draw >= 0.01))
    return {"submissions": tables["submissions"], "comments": comments}


def reference_scan(folder: Path) -> float:
    """Seconds for DuckDB to read every column of both files once, streamed."""
    version = folder / "versions" / "v0001"
    t0 = time.perf_counter()
    con = duckdb.connect(config={"threads": 2})
    for stem in ("submissions", "comments"):
        reader = con.sql(f"SELECT * FROM read_parquet('{version / stem}.parquet')").to_arrow_reader(100_000)
        for _ in reader:
            pass
    con.close()
    return time.perf_counter() - t0


# Peak RSS from VmHWM: a fresh process's own high-water mark (ru_maxrss would carry the parent's over exec).
CHILD = """
import re, sys, time
from pathlib import Path
from scraper.report import write_report
t0 = time.perf_counter()
write_report(sys.argv[1], sys.argv[2], version=sys.argv[3], against=sys.argv[4] if len(sys.argv) > 4 else None)
status = Path("/proc/self/status").read_text()
print(time.perf_counter() - t0, int(re.search(r"VmHWM:\\s+(\\d+)", status).group(1)) / 1024)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=1_000_000)
    parser.add_argument("--memory-sizes", default="250000,1000000", help="Sizes for the peak-RSS runs ('' for none).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_report(write(root / "warm", 2000), root / "warm.html")  # imports and first-call costs
        t0 = time.perf_counter()
        folder = write(root / "big", args.comments, changes=True)
        built = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in (folder / "versions").rglob("*.parquet"))
        # The machine is shared: scan, report, scan, report, scan; the best of each.
        scans, reports = [reference_scan(folder)], []
        for _ in range(2):
            result = write_report(folder, root / "big.html", version="v0001")
            reports.append(result.seconds)
            scans.append(reference_scan(folder))
        reference, reference_again, ours = min(scans), max(scans), min(reports)
        print(f"comments {args.comments:,}  files {size / 1e6:.1f} MB  (built in {built:.1f} s)")
        print(f"DuckDB full scan:  {reference:.2f} s (best of 3; worst {reference_again:.2f} s)")
        print(
            f"report:            {ours:.2f} s (best of 2; worst {max(reports):.2f} s; "
            f"{result.bytes / 1e6:.1f} MB of HTML, {len(result.charts)} charts)"
        )
        print(f"ratio:             {ours / reference:.2f}x (best against best)")
        against = write_report(folder, root / "against.html", version="v0002", against="v0001")
        print(f"report --against:  {against.seconds:.2f} s ({against.seconds / reference:.2f}x the best scan)")
        for n in [int(s) for s in args.memory_sizes.split(",") if s]:
            target = folder if n == args.comments else write(root / f"m{n}", n)
            runs = [("", ["v0001"])] + ([("--against", ["v0002", "v0001"])] if target == folder else [])
            for label, versions in runs:
                out = (
                    subprocess.run(
                        [sys.executable, "-c", CHILD, str(target), str(root / f"m{n}.html"), *versions],
                        capture_output=True,
                        text=True,
                        check=True,
                        cwd=ROOT,
                    )
                    .stdout.splitlines()[-1]
                    .split()
                )  # the child's last line: seconds and MB
                print(
                    f"report {label:9} in a fresh process, {n:>9,} comments: {float(out[0]):.2f} s, "
                    f"peak RSS {float(out[1]):.0f} MB"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
