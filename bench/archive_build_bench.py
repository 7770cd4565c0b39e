"""Build of a version with an ``[archive]`` section: memory flat in the archive's size, against DuckDB.

    python bench/archive_build_bench.py --comments 100000 500000 [--out bench/archive_build_results.json]

For each size it writes one raw archive (``RawArchive`` itself) of Arctic Shift
``/api/comments/search`` answers, 100 comments a page, each comment carrying the fields
Arctic Shift serves for a comment (the Reddit comment fields plus ``retrieved_on`` and
``_meta``, ARCTIC-SHIFT-AND-DUMPS.md §3), a quarter of them deleted or removed later, and
its threads' posts from ``/api/posts/search``.  Then, each side in its own subprocess
(so its peak RSS is its own):

- **ours**: ``build_version`` with an ``[archive]`` spec over ``read_records`` of the archive
  (collect's final build and ``ingest raw/…`` take this path);
- **reference**: DuckDB ``read_json`` of the same comments as NDJSON → ``COPY`` to zstd Parquet.

It reports seconds, rows/s and peak RSS per side and the ratio; what matters is that our
peak RSS does not grow with the size (the per-thing model path is slower than DuckDB, and
the Arctic Shift API's pace, not the build, bounds how large such an archive gets).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SPEC = """
[dataset]
name = "bench"

[discovery]
subreddits = ["MachineLearning"]

[archive]
url = "https://arctic-shift.example"
subreddits = ["MachineLearning"]
after = "2012-01-01"
before = "2025-01-01"
"""
PER_PAGE = 100
PER_THREAD = 500


def comment(i: int) -> dict[str, Any]:
    thread = f"t{i // PER_THREAD:06d}"
    parent = f"t3_{thread}" if i % PER_THREAD < 5 else f"t1_c{i - 1 - (i % 3):07d}"
    item: dict[str, Any] = {
        "id": f"c{i:07d}",
        "link_id": f"t3_{thread}",
        "parent_id": parent,
        "author": f"user{i % 997}",
        "author_fullname": f"t2_u{i % 997}",
        "author_flair_text": None,
        "body": f"comment {i}: why I left machine learning for something with fewer deadlines " * 3,
        "created_utc": 1_500_000_000 + i,
        "edited": False if i % 7 else 1_500_000_900 + i,
        "score": i % 50,
        "subreddit": "MachineLearning",
        "subreddit_id": "t5_2r3gv",
        "distinguished": None,
        "stickied": False,
        "locked": False,
        "is_submitter": i % 11 == 0,
        "controversiality": 0,
        "collapsed": False,
        "gilded": 0,
        "retrieved_on": 1_500_100_000 + i,
        "permalink": f"/r/MachineLearning/comments/{thread}/_/c{i:07d}/",
    }
    if i % 4 == 0:
        item["_meta"] = {
            "was_deleted_later": True,
            "removal_type": "deleted" if i % 8 else "moderator",
            "retrieved_2nd_on": 1_600_000_000 + i,
        }
    return item


def post(t: int) -> dict[str, Any]:
    return {
        "id": f"t{t:06d}",
        "title": f"To those of you who quit machine learning ({t})",
        "selftext": "what do you do now?",
        "author": f"user{t % 997}",
        "created_utc": 1_499_000_000 + t,
        "subreddit": "MachineLearning",
        "num_comments": PER_THREAD,
        "retrieved_on": 1_500_100_000 + t,
    }


def generate(folder: Path, comments: int) -> tuple[Path, Path]:
    """The raw archive of the answers, and the same comments as NDJSON for the reference."""
    from scraper.store.raw import RawArchive

    folder.mkdir(parents=True, exist_ok=True)
    raw = folder / "raw.jsonl.gz"
    ndjson = folder / "comments.ndjson"
    threads = (comments + PER_THREAD - 1) // PER_THREAD
    with RawArchive(raw) as archive, ndjson.open("w", encoding="utf-8") as lines:
        for start in range(0, threads, PER_PAGE):
            archive.append(
                {
                    "origin": "arctic-shift",
                    "url": "https://arctic-shift.example/api/posts/search",
                    "params": {"subreddit": "MachineLearning"},
                    "status": 200,
                    "received_at": "2026-11-01T00:00:00+00:00",
                    "json": {"data": [post(t) for t in range(start, min(threads, start + PER_PAGE))]},
                }
            )
        for start in range(0, comments, PER_PAGE):
            page = [comment(i) for i in range(start, min(comments, start + PER_PAGE))]
            archive.append(
                {
                    "origin": "arctic-shift",
                    "url": "https://arctic-shift.example/api/comments/search",
                    "params": {"link_id": page[0]["link_id"]},
                    "status": 200,
                    "received_at": "2026-11-01T00:00:00+00:00",
                    "json": {"data": page},
                }
            )
            for item in page:
                lines.write(json.dumps(item) + "\n")
    return raw, ndjson


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def side_ours(raw: str, target: str) -> dict[str, Any]:
    from scraper.build import build_version
    from scraper.spec import load_spec
    from scraper.store.raw import read_records
    from scraper.store.snapshot import Dataset

    folder = Path(target)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dataset.toml").write_text(SPEC, encoding="utf-8")
    spec, _ = load_spec(folder)
    start = time.perf_counter()
    manifest = build_version(
        Dataset(folder), read_records(Path(raw)), spec_sha256=None, source={"kind": "b"}, spec=spec
    )
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": manifest["stats"]["comments"], "peak_rss_mb": peak_rss_mb()}


def side_reference(ndjson: str, target: str) -> dict[str, Any]:
    import duckdb

    out = Path(target) / "reference.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    columns = ", ".join(
        [
            "id",
            "link_id",
            "parent_id",
            "author",
            "author_fullname",
            "author_flair_text",
            "body",
            "created_utc",
            "edited",
            "score",
            "subreddit",
            "subreddit_id",
            "distinguished",
            "stickied",
            "locked",
            "is_submitter",
            "controversiality",
            "collapsed",
            "permalink",
            "retrieved_on",
            "_meta",
        ]
    )
    escaped = ndjson.replace("'", "''")
    target_sql = str(out).replace("'", "''")
    con.execute(
        f"COPY (SELECT {columns} FROM read_json('{escaped}', format='newline_delimited')) "
        f"TO '{target_sql}' (FORMAT parquet, COMPRESSION zstd)"
    )
    rows = con.sql(f"SELECT count(*) FROM read_parquet('{target_sql}')").fetchall()[0]
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": rows[0] if rows else 0, "peak_rss_mb": peak_rss_mb()}


def run_side(name: str, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--side", name, *args], check=True, capture_output=True, text=True, cwd=ROOT
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--comments", type=int, nargs="+", default=[100_000, 500_000])
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--side", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side:
        name, *rest = args.side
        result = side_ours(*rest) if name == "ours" else side_reference(*rest)
        print(json.dumps(result))
        return 0
    sizes = []
    with tempfile.TemporaryDirectory(prefix="archive-build-bench-") as tmp:
        for comments in args.comments:
            work = Path(tmp) / str(comments)
            raw, ndjson = generate(work, comments)
            ours = run_side("ours", str(raw), str(work / "ours"))
            reference = run_side("reference", str(ndjson), str(work / "reference"))
            for side in (ours, reference):
                side["rows_per_s"] = round(side["rows"] / side["seconds"])
            size = {
                "comments": comments,
                "raw_mb": round(raw.stat().st_size / 2**20, 1),
                "load_average_1min": round(os.getloadavg()[0], 2),
                "ours": ours,
                "duckdb": reference,
                "ratio_rows_per_s": round(ours["rows_per_s"] / reference["rows_per_s"], 3),
            }
            sizes.append(size)
            print(
                f"{comments:>9,} comments: ours {ours['seconds']:.1f} s, {ours['peak_rss_mb']:.0f} MB; "
                f"DuckDB {reference['seconds']:.1f} s, {reference['peak_rss_mb']:.0f} MB; "
                f"ratio {size['ratio_rows_per_s']}",
                flush=True,
            )
    result: dict[str, Any] = {
        "command": "python bench/archive_build_bench.py " + " ".join(argv or sys.argv[1:]),
        "sizes": sizes,
    }
    if len(sizes) > 1:
        result["ours_rss_growth"] = round(sizes[-1]["ours"]["peak_rss_mb"] / sizes[0]["ours"]["peak_rss_mb"] - 1, 3)
        print(f"peak RSS, largest over smallest: {result['ours_rss_growth'] + 1:.2f}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
