"""Ingest benchmark: ours against DuckDB on the same comments, in the same run.

Generates real-format comment-tree responses (recorded interactions as in
../shared/reddit/samples: the comment field set of Reddit's answers, 66 fields,
about 1.8 KB of JSON per comment, replies nested), and the same comments as
NDJSON for the reference.  Each side runs in its own subprocess, which reports
its wall time and peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``; for ours
also the largest worker process's, ``RUSAGE_CHILDREN``):

- ours: ``scraper.ingest.ingest`` of the tree files into a new dataset (``--replace``),
  the files read by one worker process per core (``scraper.ingest.read_files``);
- reference: DuckDB ``read_json`` of the NDJSON → ``COPY`` of the same 21 comment
  columns to zstd Parquet.

Usage (the figures in docs/PERFORMANCE.md, "Data path")::

    python bench/ingest_bench.py --sizes 200000,1000000 --repeat 2 --out bench/ingest_results.json

Tests run it tiny (``--sizes 2000``).  The old per-row build is not run here at
1M comments (it needed 11 GB); its figures are the issue's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = [
    "name",
    "id",
    "subreddit",
    "subreddit_id",
    "author",
    "author_fullname",
    "author_flair_text",
    "created_utc",
    "edited",
    "score",
    "distinguished",
    "stickied",
    "locked",
    "permalink",
    "link_id",
    "parent_id",
    "depth",
    "body",
    "is_submitter",
    "controversiality",
    "collapsed",
]
WORDS = [
    "the",
    "model",
    "data",
    "paper",
    "research",
    "job",
    "industry",
    "academia",
    "leaving",
    "machine",
    "learning",
    "field",
    "years",
    "work",
]


def comment(rng: random.Random, link: str, cid: str, parent: str, depth: int, created: float) -> dict[str, Any]:
    """One comment's data with the field set of Reddit's answers (WIRE-FORMAT §1)."""
    body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(25, 55)))
    author = f"user{rng.randint(1, 50000)}"
    return {
        "total_awards_received": 0,
        "approved_at_utc": None,
        "ups": rng.randint(-5, 500),
        "awarders": [],
        "mod_reason_by": None,
        "banned_by": None,
        "author_flair_type": "text",
        "removal_reason": None,
        "link_id": f"t3_{link}",
        "author_flair_template_id": None,
        "likes": None,
        "replies": "",
        "user_reports": [],
        "saved": False,
        "id": cid,
        "banned_at_utc": None,
        "mod_reason_title": None,
        "gilded": 0,
        "archived": False,
        "no_follow": True,
        "author": author,
        "can_mod_post": False,
        "send_replies": True,
        "parent_id": parent,
        "score": rng.randint(-5, 500),
        "author_fullname": f"t2_{author}",
        "report_reasons": None,
        "approved_by": None,
        "all_awardings": [],
        "subreddit_id": "t5_2r3gv",
        "body": body,
        "edited": False if rng.random() < 0.9 else created + 600.0,
        "downs": 0,
        "author_flair_css_class": None,
        "is_submitter": rng.random() < 0.05,
        "collapsed": False,
        "author_flair_richtext": [],
        "author_patreon_flair": False,
        "body_html": f'<div class="md"><p>{body[:200]}</p>\n</div>',
        "gildings": {},
        "collapsed_reason": None,
        "associated_award": None,
        "stickied": False,
        "author_premium": False,
        "subreddit_type": "public",
        "can_gild": True,
        "top_awarded_type": None,
        "author_flair_text_color": None,
        "score_hidden": False,
        "permalink": f"/r/MachineLearning/comments/{link}/leaving_ml/{cid}/",
        "num_reports": None,
        "locked": False,
        "name": f"t1_{cid}",
        "created": created + 28800.0,
        "subreddit": "MachineLearning",
        "author_flair_text": None,
        "treatment_tags": [],
        "created_utc": created,
        "subreddit_name_prefixed": "r/MachineLearning",
        "controversiality": 0,
        "depth": depth,
        "author_flair_background_color": None,
        "collapsed_because_crowd_control": None,
        "mod_reports": [],
        "mod_note": None,
        "distinguished": None,
    }


def generate(folder: Path, total: int, per_thread: int, seed: int = 1) -> tuple[list[Path], Path]:
    """Tree files (recorded interactions) and one NDJSON of the same comments."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    ndjson = folder / "comments.ndjson"
    made = 0
    with ndjson.open("w", encoding="utf-8") as lines:
        thread = 0
        while made < total:
            count = min(per_thread, total - made)
            link = f"l{thread:06d}"
            created = 1_600_000_000.0 + thread * 3600
            datas: list[dict[str, Any]] = []
            children: list[list[dict[str, Any]]] = []
            top: list[dict[str, Any]] = []
            for i in range(count):
                cid = f"c{thread:05d}x{i:05d}"
                parent_index = rng.randrange(i) if i and rng.random() < 0.8 else None
                depth = 0 if parent_index is None else datas[parent_index]["depth"] + 1
                parent = f"t3_{link}" if parent_index is None else datas[parent_index]["name"]
                data = comment(rng, link, cid, parent, depth, created + i)
                datas.append(data)
                children.append([])
                thing = {"kind": "t1", "data": data}
                if parent_index is None:
                    top.append(thing)
                else:
                    children[parent_index].append(thing)
                lines.write(json.dumps({k: v for k, v in data.items() if k != "replies"}) + "\n")
            for data, kids in zip(datas, children, strict=True):
                if kids:
                    data["replies"] = {"kind": "Listing", "data": {"after": None, "children": kids}}
            submission = {
                "kind": "t3",
                "data": {
                    "id": link,
                    "name": f"t3_{link}",
                    "title": "Leaving ML",
                    "selftext": "",
                    "author": "op",
                    "subreddit": "MachineLearning",
                    "created_utc": created,
                    "num_comments": count,
                },
            }
            doc = {
                "request": {"method": "GET", "url": f"https://oauth.reddit.com/comments/{link}/?limit=500&raw_json=1"},
                "response": {
                    "status": 200,
                    "headers": {"date": "Tue, 01 Dec 2026 12:00:00 GMT"},
                    "json": [
                        {"kind": "Listing", "data": {"children": [submission]}},
                        {"kind": "Listing", "data": {"after": None, "children": top}},
                    ],
                },
            }
            path = folder / f"tree_{link}.json"
            path.write_text(json.dumps(doc), encoding="utf-8")
            files.append(path)
            made += count
            thread += 1
    return files, ndjson


def measure_ours(folder: Path, out: Path) -> dict[str, Any]:
    from scraper.ingest import ingest

    files = sorted(folder.glob("tree_*.json"))
    start = time.perf_counter()
    manifest = ingest(out, files, replace=True)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": manifest["stats"]["comments"]}


def measure_duckdb(folder: Path, out: Path) -> dict[str, Any]:
    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    con = duckdb.connect()
    src = str(folder / "comments.ndjson").replace("'", "''")
    dst = str(out / "comments.parquet").replace("'", "''")
    con.execute(
        f"COPY (SELECT {', '.join(COLUMNS)} FROM read_json('{src}', format = 'newline_delimited')) "
        f"TO '{dst}' (FORMAT parquet, COMPRESSION zstd)"
    )
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{dst}')").fetchone()
    con.close()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": int(rows[0]) if rows else 0}


def run_side(side: str, folder: Path, out: Path) -> dict[str, Any]:
    """One side in a fresh subprocess, into an empty target; its wall time, rows and peak RSS."""
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, __file__, "--measure", side, "--data", str(folder), "--target", str(out)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{side} failed: {proc.stderr.strip().splitlines()[-1:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200000,1000000", help="comment counts, comma-separated")
    parser.add_argument("--per-thread", type=int, default=1000, help="comments per tree response")
    parser.add_argument("--out", type=Path, default=None, help="write the results JSON here")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each side, taking turns; the fastest is kept")
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the generated inputs in --workdir and reuse them next time"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="where to generate (default: a temp folder)")
    parser.add_argument("--measure", choices=["ours", "duckdb"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--target", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        fn = measure_ours if args.measure == "ours" else measure_duckdb
        result = fn(args.data, args.target)
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        # ingest's worker processes (one per core, scraper.ingest.read_files): the largest one's peak;
        # at most ``cpus`` of them run at once, so self + cpus x this bounds the total from above
        result["worker_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
        print(json.dumps(result))
        return
    work = args.workdir or Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    results: dict[str, Any] = {
        "command": "python bench/ingest_bench.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count()},
        "runs": [],
    }
    try:
        for size in [int(s) for s in args.sizes.split(",")]:
            data = work / f"data-{size}"
            made = data / ".generated.json"
            params = json.dumps({"comments": size, "per_thread": args.per_thread, "seed": 1})
            if args.keep_data and made.exists() and made.read_text(encoding="utf-8") == params:
                files, ndjson = sorted(data.glob("tree_*.json")), data / "comments.ndjson"
            else:
                files, ndjson = generate(data, size, args.per_thread)
                made.write_text(params, encoding="utf-8")
            json_bytes = sum(p.stat().st_size for p in files)
            ours_runs, ref_runs = [], []
            for _ in range(args.repeat):  # taking turns; the fastest run of each side is kept (a shared machine)
                ours_runs.append(run_side("ours", data, work / f"ours-{size}"))
                ref_runs.append(run_side("duckdb", data, work / f"duckdb-{size}"))
            ours = min(ours_runs, key=lambda r: r["seconds"])
            ref = min(ref_runs, key=lambda r: r["seconds"])
            run = {
                "comments": size,
                "tree_files": len(files),
                "json_mb": round(json_bytes / 2**20, 1),
                "ndjson_mb": round(ndjson.stat().st_size / 2**20, 1),
                "load_average_1min": round(os.getloadavg()[0], 2),
                "ours": {**ours, "rows_per_s": round(ours["rows"] / ours["seconds"])},
                "duckdb": {**ref, "rows_per_s": round(ref["rows"] / ref["seconds"])},
            }
            run["ratio_rows_per_s"] = round(run["ours"]["rows_per_s"] / run["duckdb"]["rows_per_s"], 3)
            results["runs"].append(run)
            print(json.dumps(run), flush=True)
            if not args.keep_data:
                shutil.rmtree(data, ignore_errors=True)
            shutil.rmtree(work / f"ours-{size}", ignore_errors=True)
            shutil.rmtree(work / f"duckdb-{size}", ignore_errors=True)
        rss = [r["ours"]["peak_rss_mb"] for r in results["runs"]]
        if len(rss) > 1:
            results["ours_rss_growth"] = round(max(rss) / min(rss) - 1, 3)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
