"""Benchmark: reading a raw archive, diff of two versions, first lookups and validate, each against a reference.

    python bench/datapath_bench.py --comments 200000 1000000 [--out bench/datapath_results.json]

For each size it generates real-format inputs once, then runs every side in its own
subprocess (so each peak RSS is that side's alone) and reports seconds, rows/s, peak RSS
and the ratio ours / reference:

- **archive read**: ``read_records`` over a raw archive of comment-tree responses (each
  comment carries every field of a real Reddit comment, 66 of them, taken from
  ``../shared/reddit/samples`` when present, else from the demo's responses), written by
  ``RawArchive`` itself; reference: ``gzip.open`` + ``json.loads`` of each line of the
  same file.
- **build from the archive**: ``ingest`` of that raw archive into a new dataset (what
  ``collect``'s final build and a rebuild from ``raw/`` do: records decoded, the fast path,
  the merge, the version written); reference: DuckDB ``read_json`` of the same comments as
  NDJSON → ``COPY`` of the same columns to zstd Parquet (as in ``bench/ingest_bench.py``).
- **diff**: ``diff_versions`` on two versions (1% removed, 1% added, 5% scores changed,
  1% bodies edited, 0.5% tombstoned, every ``retrieved_at`` newer); reference: DuckDB full
  outer join by name of a row hash over the same columns, differing names fetched.
  The old per-row Python diff (bench/reference_old.py) runs only up to ``--old-max``
  comments: it held both versions as dicts (5.8 GB at 1M).
- **lookups**: ``Snapshot.row`` and ``path_to_root`` (deepest comment) first calls on a
  loaded snapshot; reference: one pyarrow filter on ``name``.  The old whole-table dict
  index runs up to ``--old-max``.
- **validate** of the older version; reference: one DuckDB scan of every column.

Targets (issue 12): archive read <= 2x and linear in size; diff <= 3x and <= 1 GB peak;
first row / path_to_root <= 100 ms; validate <= 1.5x.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the project and bench/ importable
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scraper.store.raw import RawArchive  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "reddit" / "samples" / "comments_fjn0j9_2020_medium.json"
PER_RESPONSE = 105  # comments in one comment-tree response, as in the 1M = 9,567 records


def peak_rss_mb() -> float:
    """This process's peak RSS.  VmHWM starts afresh at exec; ru_maxrss would carry the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: KiB elsewhere too


# ---------------------------------------------------------------- inputs


def comment_template() -> tuple[dict[str, Any], str]:
    """One real comment's data (every field Reddit sends) and where it came from."""
    if SAMPLE.is_file():
        body = json.loads(SAMPLE.read_text(encoding="utf-8"))["response"]["json"]
        return body[1]["data"]["children"][0]["data"], f"../shared/reddit/samples/{SAMPLE.name}"
    demo = json.loads((ROOT / "scraper" / "demo" / "leaving_ml_demo.json").read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("kind") == "t1" and isinstance(value.get("data"), dict):
                found.append(value["data"])
            for child in value.values():
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    walk(demo)
    return max(found, key=len), "scraper/demo/leaving_ml_demo.json"


def submission(link: str, k: int) -> dict[str, Any]:
    """The submission a comment tree starts with: the fields Reddit sends that the rows keep."""
    return {
        "id": link,
        "name": f"t3_{link}",
        "title": f"To those of you who quit machine learning ({k}), what do you do now?",
        "selftext": "",
        "author": "someone",
        "subreddit": "MachineLearning",
        "subreddit_id": "t5_2r3gv",
        "created_utc": 1_600_000_000.0 + k,
        "score": 100,
        "num_comments": PER_RESPONSE,
        "permalink": f"/r/MachineLearning/comments/{link}/x/",
        "url": f"https://www.reddit.com/r/MachineLearning/comments/{link}/x/",
        "is_self": True,
        "over_18": False,
        "upvote_ratio": 0.97,
        "edited": False,
    }


def write_archive(path: Path, comments: int, ndjson: Path | None = None) -> dict[str, Any]:
    """A raw archive of comment-tree responses holding ``comments`` comments, written by RawArchive.

    ``ndjson``: also write the same comments there, one per line (the reference's input).
    """
    template, origin = comment_template()
    template = {**template, "replies": ""}
    rng = np.random.default_rng(1)
    vocabulary = [
        "".join(rng.choice(list("etaoinshrdlucmfwypvbgkqjxz"), int(rng.integers(2, 10)))) for _ in range(3000)
    ]
    records = 0
    t0 = time.perf_counter()
    lines = ndjson.open("w", encoding="utf-8") if ndjson is not None else None
    with RawArchive(path) as archive:
        for start in range(0, comments, PER_RESPONSE):
            link = f"x{start // PER_RESPONSE:06d}"
            children = []
            for k in range(start, min(start + PER_RESPONSE, comments)):
                cid = f"c{k:07d}"
                words = rng.integers(0, len(vocabulary), int(rng.integers(10, 120)))
                children.append(
                    {
                        "kind": "t1",
                        "data": {
                            **template,
                            "id": cid,
                            "name": f"t1_{cid}",
                            "parent_id": f"t3_{link}",
                            "link_id": f"t3_{link}",
                            "body": " ".join(vocabulary[w] for w in words),
                            "score": int(words[0]) % 500,
                            "created_utc": 1_600_000_000.0 + k,
                            "permalink": f"/r/MachineLearning/comments/{link}/x/{cid}/",
                        },
                    }
                )
            listing = [
                {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": submission(link, start)}]}},
                {"kind": "Listing", "data": {"after": None, "children": children}},
            ]
            archive.append(
                {
                    "run": "bench",
                    "origin": "reddit-api",
                    "method": "GET",
                    "url": f"https://oauth.reddit.com/comments/{link}",
                    "params": {"limit": "500", "sort": "confidence", "raw_json": "1"},
                    "status": 200,
                    "headers": {"content-type": "application/json; charset=UTF-8"},
                    "body": json.dumps(listing),
                    "endpoint": "comments",
                    "seq": records,
                }
            )
            records += 1
            if lines is not None:
                lines.writelines(json.dumps(child["data"]) + "\n" for child in children)
    if lines is not None:
        lines.close()
    return {
        "records": records,
        "bytes": path.stat().st_size,
        "fields_per_comment": len(template),
        "template": origin,
        "seconds_to_write": round(time.perf_counter() - t0, 1),
    }


def write_versions(folder: Path, comments: int) -> dict[str, Any]:
    """Two versions of ``comments`` comments with known differences; returns names for the lookups."""
    from validate_bench import build

    from scraper.store.snapshot import Dataset

    tables = build(comments)
    dataset = Dataset(folder)
    dataset.write_version(tables, spec_sha256=None, source={"kind": "bench"}, stats={})
    old = tables["comments"]
    n = old.num_rows
    rng = np.random.default_rng(2)
    roll = rng.random(n)
    keep = pa.array(roll >= 0.01)  # 1% removed
    score = pc.if_else(pa.array((roll >= 0.01) & (roll < 0.06)), pc.add(old["score"], 1), old["score"])
    body = pc.if_else(
        pa.array((roll >= 0.06) & (roll < 0.07)), pc.binary_join_element_wise(old["body"], " (edited)", ""), old["body"]
    )
    tomb = pa.array((roll >= 0.07) & (roll < 0.075))
    status = pc.if_else(tomb, "deleted", old["status"])
    body = pc.if_else(tomb, "", body)
    later = pc.add(old["retrieved_at"], pa.scalar(timedelta(hours=1), pa.duration("us")))
    new = old.set_column(old.schema.get_field_index("score"), "score", score)
    new = new.set_column(new.schema.get_field_index("body"), "body", body)
    new = new.set_column(new.schema.get_field_index("status"), "status", status)
    new = new.set_column(
        new.schema.get_field_index("retrieved_at"), "retrieved_at", later.cast(old.schema.field("retrieved_at").type)
    )
    added = new.slice(0, max(1, n // 100))
    added = added.set_column(0, "name", pc.binary_join_element_wise(added["name"], "n", ""))
    new = pa.concat_tables([new.filter(keep).cast(old.schema), added.cast(old.schema)])
    dataset.write_version(
        {"submissions": tables["submissions"], "comments": new}, spec_sha256=None, source={"kind": "bench"}, stats={}
    )
    deepest = int(pc.index(old["depth"], pc.max(old["depth"])).as_py())
    return {
        "row_name": old["name"][n // 2].as_py(),
        "deep_name": old["name"][deepest].as_py(),
        "deep_depth": old["depth"][deepest].as_py(),
    }


# ---------------------------------------------------------------- sides (each runs in its own process)


def side_read_ours(path: str) -> dict[str, Any]:
    from scraper.store.raw import read_records

    t0 = time.perf_counter()
    records = sum(1 for _ in read_records(Path(path)))
    return {"seconds": time.perf_counter() - t0, "records": records}


def side_read_reference(path: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    records = 0
    with gzip.open(path, "rb") as handle:
        for line in handle:
            json.loads(line)
            records += 1
    return {"seconds": time.perf_counter() - t0, "records": records}


def side_build_ours(path: str, ndjson: str, target: str) -> dict[str, Any]:
    del ndjson  # the reference's input
    import shutil

    from scraper.ingest import ingest

    shutil.rmtree(target, ignore_errors=True)  # each run builds afresh (a rebuild of the same input writes nothing)
    t0 = time.perf_counter()
    manifest = ingest(Path(target), [Path(path)], replace=True)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rows": manifest["stats"]["comments"]}


def side_build_reference(archive: str, path: str, target: str) -> dict[str, Any]:
    """DuckDB ``read_json`` of the same comments as NDJSON → ``COPY`` of the same columns to zstd Parquet."""
    import duckdb
    from ingest_bench import COLUMNS

    del archive  # ours' input
    out = Path(target) / "reference.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    src, dst = path.replace("'", "''"), str(out).replace("'", "''")
    con.execute(
        f"COPY (SELECT {', '.join(COLUMNS)} FROM read_json('{src}', format = 'newline_delimited')) "
        f"TO '{dst}' (FORMAT parquet, COMPRESSION zstd)"
    )
    seconds = time.perf_counter() - t0
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{dst}')").fetchall()[0][0]
    return {"seconds": seconds, "rows": rows}


def side_diff_ours(folder: str) -> dict[str, Any]:
    from scraper.publish.diff import diff_versions

    t0 = time.perf_counter()
    result = diff_versions(Path(folder), "v0001", "v0002")
    return {"seconds": time.perf_counter() - t0, "summary": result.summary()}


def side_diff_old(folder: str) -> dict[str, Any]:
    from reference_old import reference_diff

    t0 = time.perf_counter()
    result = reference_diff(Path(folder), "v0001", "v0002")
    return {"seconds": time.perf_counter() - t0, "summary": result.summary()}


def side_diff_reference(folder: str) -> dict[str, Any]:
    import duckdb
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    differing = 0
    con = duckdb.connect()
    for stem in ("submissions", "comments"):
        files = [Path(folder) / "versions" / v / f"{stem}.parquet" for v in ("v0001", "v0002")]
        columns = [c for c in pq.read_schema(files[0]).names if c not in ("retrieved_at", "source")]
        row_hash = "hash(" + ", ".join(f'"{c}"' for c in columns) + ")"
        rows = con.execute(
            f"""
            WITH a AS (SELECT name, {row_hash} AS h FROM read_parquet('{files[0]}')),
                 b AS (SELECT name, {row_hash} AS h FROM read_parquet('{files[1]}'))
            SELECT coalesce(a.name, b.name), a.h, b.h FROM a FULL OUTER JOIN b ON a.name = b.name
            WHERE a.h IS DISTINCT FROM b.h
            """
        ).fetchall()
        differing += len(rows)
    return {"seconds": time.perf_counter() - t0, "differing": differing}


def side_lookups(folder: str, row_name: str, deep_name: str, old: str) -> dict[str, Any]:
    import scraper

    t0 = time.perf_counter()
    snap = scraper.load(Path(folder), "v0001")
    loaded = time.perf_counter() - t0
    out: dict[str, Any] = {"load_seconds": loaded}
    t0 = time.perf_counter()
    table = snap.comments
    table.filter(pc.equal(table["name"], row_name)).to_pylist()
    out["reference_filter_seconds"] = time.perf_counter() - t0
    if old == "old":
        from reference_old import DictIndex

        t0 = time.perf_counter()
        index = DictIndex(snap)
        index.rows[row_name]
        out["old_row_seconds"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        index.path_to_root(deep_name)
        out["old_path_seconds_after_row"] = time.perf_counter() - t0
        return out
    t0 = time.perf_counter()
    snap.row(row_name)
    out["row_seconds"] = time.perf_counter() - t0
    fresh = scraper.load(Path(folder), "v0001")
    t0 = time.perf_counter()
    path = fresh.path_to_root(deep_name)
    out["path_to_root_first_call_seconds"] = time.perf_counter() - t0
    out["path_length"] = len(path)
    t0 = time.perf_counter()
    fresh.path_to_root(deep_name)
    out["path_to_root_second_call_seconds"] = time.perf_counter() - t0
    fresh = scraper.load(Path(folder), "v0001")
    t0 = time.perf_counter()
    fresh.thread(path[-1]["name"])
    out["thread_first_call_seconds"] = time.perf_counter() - t0
    return out


def side_validate_ours(folder: str) -> dict[str, Any]:
    from scraper.publish.validate import validate

    t0 = time.perf_counter()
    report = validate(Path(folder) / "versions" / "v0001")
    return {"seconds": time.perf_counter() - t0, "valid": report.valid}


def side_validate_reference(folder: str) -> dict[str, Any]:
    import duckdb

    t0 = time.perf_counter()
    for stem in ("submissions", "comments"):
        duckdb.sql(
            f"select * from read_parquet('{Path(folder) / 'versions' / 'v0001' / f'{stem}.parquet'}')"
        ).to_arrow_table()
    return {"seconds": time.perf_counter() - t0}


SIDES = {name[5:]: fn for name, fn in globals().items() if name.startswith("side_")}


IN_PROCESS = False  # tests run the sides in their own process (no RSS of their own), for speed


def run_side(name: str, *args: str) -> dict[str, Any]:
    """Run one side in a fresh interpreter; its result with the process's peak RSS."""
    if IN_PROCESS:
        return {**SIDES[name](*args), "peak_rss_mb": peak_rss_mb()}
    done = subprocess.run(
        [sys.executable, __file__, "--side", name, *args], check=True, capture_output=True, text=True, cwd=ROOT
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_pair(ours: str, reference: str, repeat: int, *args: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both sides ``repeat`` times, taking turns; each side's fastest run (the machine is shared).

    Every run is checked to give the same answer; the peak RSS kept is the largest seen.
    """
    best: dict[str, dict[str, Any]] = {}
    for _ in range(repeat):
        for name in (ours, reference):
            result = run_side(name, *args)
            kept = best.get(name)
            if kept is not None:
                same = {k: v for k, v in result.items() if k not in ("seconds", "peak_rss_mb")}
                assert same == {k: v for k, v in kept.items() if k not in ("seconds", "peak_rss_mb", "runs")}
                result["peak_rss_mb"] = max(result["peak_rss_mb"], kept["peak_rss_mb"])
                if result["seconds"] > kept["seconds"]:
                    result = {**kept, "peak_rss_mb": result["peak_rss_mb"]}
            result["runs"] = (kept or {}).get("runs", 0) + 1
            best[name] = result
    return best[ours], best[reference]


# ---------------------------------------------------------------- the run


def bench_size(comments: int, old_max: int, work: Path, repeat: int) -> dict[str, Any]:
    out: dict[str, Any] = {"comments": comments}
    archive = work / f"raw-{comments}.jsonl.gz"
    ndjson = work / f"comments-{comments}.ndjson"
    out["archive"] = write_archive(archive, comments, ndjson)
    ours, ref = run_pair("read_ours", "read_reference", repeat, str(archive))
    assert ours["records"] == ref["records"] == out["archive"]["records"], (ours, ref)
    out["archive_read"] = {
        "ours": ours,
        "reference": ref,
        "ratio": ours["seconds"] / ref["seconds"],
        "comments_per_s": {"ours": comments / ours["seconds"], "reference": comments / ref["seconds"]},
    }
    build = work / f"build-{comments}"
    ours, ref = run_pair("build_ours", "build_reference", repeat, str(archive), str(ndjson), str(build))
    assert ours["rows"] == ref["rows"] == comments, (ours, ref)
    out["build"] = {
        "ours": ours,
        "reference": ref,
        "ratio_rows_per_s": ref["seconds"] / ours["seconds"],
        "rows_per_s": {"ours": comments / ours["seconds"], "reference": comments / ref["seconds"]},
    }
    archive.unlink()
    ndjson.unlink()
    folder = work / f"ds-{comments}"
    names = write_versions(folder, comments)
    out["versions"] = names
    ours, ref = run_pair("diff_ours", "diff_reference", repeat, str(folder))
    found = sum(sum(t.values()) for t in ours["summary"].values())
    assert found == ref["differing"], (ours, ref)
    out["diff"] = {
        "ours": ours,
        "reference": ref,
        "ratio": ours["seconds"] / ref["seconds"],
        "rows_per_s": {"ours": 2 * comments / ours["seconds"], "reference": 2 * comments / ref["seconds"]},
    }
    if comments <= old_max:
        old = run_side("diff_old", str(folder))
        assert old["summary"] == ours["summary"]
        out["diff"]["old"] = old
    runs = [run_side("lookups", str(folder), names["row_name"], names["deep_name"], "new") for _ in range(repeat)]
    lookups = {key: min(run[key] for run in runs) if key.endswith("seconds") else runs[0][key] for key in runs[0]}
    lookups["peak_rss_mb"] = max(run["peak_rss_mb"] for run in runs)
    out["lookups"] = lookups
    if comments <= old_max:
        out["lookups"]["old"] = run_side("lookups", str(folder), names["row_name"], names["deep_name"], "old")
    ours, ref = run_pair("validate_ours", "validate_reference", repeat, str(folder))
    assert ours["valid"], ours
    out["validate"] = {"ours": ours, "reference": ref, "ratio": ours["seconds"] / ref["seconds"]}
    return out


def main(argv: list[str] | None = None) -> int:
    global IN_PROCESS  # noqa: PLW0603 - one switch for the whole run
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--comments", type=int, nargs="+", default=[200_000, 1_000_000], help="sizes (multiples of 1,000)"
    )
    parser.add_argument("--old-max", type=int, default=200_000, help="largest size the old diff and lookups run at")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each timed side, best kept (default 2)")
    parser.add_argument("--in-process", action="store_true", help="run every side in this process (tests)")
    parser.add_argument("--side", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    IN_PROCESS = args.in_process
    if args.side:
        name, *rest = args.side
        result = SIDES[name](*rest)
        result["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(result))
        return 0
    results: dict[str, Any] = {
        "command": "python bench/datapath_bench.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count()},
        "sizes": [],
    }
    with tempfile.TemporaryDirectory(prefix="datapath-") as tmp:
        for comments in args.comments:
            results["sizes"].append(bench_size(comments, args.old_max, Path(tmp), args.repeat))
            report(results["sizes"][-1])
    if len(results["sizes"]) >= 2:
        small, large = results["sizes"][0], results["sizes"][-1]
        scale = large["comments"] / small["comments"]
        results["archive_read_linearity"] = (
            large["archive_read"]["ours"]["seconds"] / small["archive_read"]["ours"]["seconds"] / scale
        )
        print(
            f"archive read time per comment, {large['comments']:,} vs {small['comments']:,}: "
            f"{results['archive_read_linearity']:.2f}x (1.0 = linear)"
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


def report(size: dict[str, Any]) -> None:
    n = size["comments"]
    a, d, lk, v = size["archive_read"], size["diff"], size["lookups"], size["validate"]
    print(f"--- {n:,} comments")
    print(
        f"archive read ({size['archive']['records']:,} records, {size['archive']['bytes'] / 1e6:.0f} MB): "
        f"ours {a['ours']['seconds']:.2f} s {a['ours']['peak_rss_mb']:.0f} MB, "
        f"gzip.open+json {a['reference']['seconds']:.2f} s {a['reference']['peak_rss_mb']:.0f} MB, "
        f"ratio {a['ratio']:.2f}x"
    )
    b = size["build"]
    print(
        f"build from the archive (ingest raw/*.jsonl.gz): ours {b['ours']['seconds']:.2f} s "
        f"{b['ours']['peak_rss_mb']:.0f} MB, DuckDB read_json->Parquet {b['reference']['seconds']:.2f} s "
        f"{b['reference']['peak_rss_mb']:.0f} MB, ours/DuckDB rows/s {b['ratio_rows_per_s']:.2f}x"
    )
    old = f", old {d['old']['seconds']:.2f} s {d['old']['peak_rss_mb']:.0f} MB" if "old" in d else ""
    print(
        f"diff: ours {d['ours']['seconds']:.2f} s {d['ours']['peak_rss_mb']:.0f} MB, "
        f"DuckDB join+hash {d['reference']['seconds']:.2f} s {d['reference']['peak_rss_mb']:.0f} MB, "
        f"ratio {d['ratio']:.2f}x{old}"
    )
    print(
        f"lookups: row {lk['row_seconds'] * 1000:.1f} ms, path_to_root (depth {lk['path_length'] - 2}) "
        f"{lk['path_to_root_first_call_seconds'] * 1000:.1f} ms first call, "
        f"thread {lk['thread_first_call_seconds'] * 1000:.1f} ms, "
        f"pyarrow filter {lk['reference_filter_seconds'] * 1000:.1f} ms"
        + (f", old first row {lk['old']['old_row_seconds'] * 1000:.0f} ms" if "old" in lk else "")
    )
    print(
        f"validate: ours {v['ours']['seconds']:.2f} s, DuckDB scan {v['reference']['seconds']:.2f} s, "
        f"ratio {v['ratio']:.2f}x"
    )


if __name__ == "__main__":
    sys.exit(main())
