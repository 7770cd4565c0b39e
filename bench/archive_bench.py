"""Archive benchmarks: dump ingest against DuckDB on the same file, peak memory, Arctic Shift paging.

Run from the project root::

    python bench/archive_bench.py                 # 100,000 lines; RSS at 30,000 → 300,000 and 100,000 → 1,000,000
    python bench/archive_bench.py --lines 20000 --rss-lines 5000 --json bench/archive_results.json

1. **Dump ingest.** One generated NDJSON comments file (every era's drift, ``_meta``
   facts), read by ``scraper.dumps.ingest_dumps`` into a validated Parquet
   version, and by DuckDB ``COPY (SELECT * FROM read_json(…)) TO … (FORMAT
   parquet)``, in the same run; rows/s of each and the ratio ours / DuckDB, in
   one process and with a Dask ``LocalCluster`` of 2 worker processes (started,
   and its workers' imports done, before the clock starts). ``--rounds`` rounds
   of (DuckDB, ours, DuckDB); each round's ratio is ours against the two DuckDB
   runs around it, and the median round is reported (load on the shared machine
   comes and goes). The CPU seconds of both in-process runs are reported too
   (``time.process_time``: every thread of the process), a figure load barely moves.
   One run of each side comes first and is not counted (one-time costs of a
   process: DuckDB's JSON extension, pyarrow's look for pandas).
   Both sides may use both cores (``threads`` in the output): the reference runs with DuckDB's
   default of one thread per core, ours with one DuckDB thread for the query and a Parquet writer
   thread and a sha256 thread beside it. The same lines with every 500th body a string that reads
   like a number (``"100"``, which the typed reader cannot tell from the number 100 and the dump
   reader checks on its line) are read too, against DuckDB on that file.
   The same lines as a ``window_log=31`` ``.zst`` (which DuckDB's zstd reader
   refuses) are read in-process too, against DuckDB on the plain file. The Dask
   run's CPU seconds are reported too: its workers' and this process's (the
   client, which also holds the ``LocalCluster``'s scheduler), with each task's
   time computing, the Arrow bytes the tasks hand back and the CPU the idle
   cluster takes per second; and the same rounds with the two workers as
   threads of this process (``processes=False``). The load average at the start
   and the end is recorded.
2. **Memory.** Peak RSS of the ingest in a fresh subprocess (without pandas, as the command runs) at N and 10 N
   lines, for each N of ``--rss-lines`` (the ratio should be ~1: input is streamed); at the first N also
   with the file given twice (every line a duplicate: the one-row-per-thing rewrite on all of it).
3. **Paging.** A generated 30,000-post subreddit served by the fake Arctic
   Shift on 127.0.0.1, walked with ``after`` exclusive and inclusive: every post
   found exactly once, and pages asked against the minimum (30,000 / 100).

Figures are ratios against the reference run in the same script, never
absolute claims: the machine is shared.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scraper.dumps import ingest_dumps  # noqa: E402
from scraper.fake_arctic_shift import FakeArcticShift, generate  # noqa: E402
from scraper.fake_arctic_shift.dumpfiles import write_zst  # noqa: E402
from scraper.fake_arctic_shift.generate import base36  # noqa: E402
from scraper.sources.arctic_shift import PAGE_LIMIT, ArcticShiftClient, TimeWalk  # noqa: E402

START, END = 1_420_070_400, 1_735_689_600  # 2015 … 2025


def _in_slice(comment: dict[str, Any], part: int) -> dict[str, Any]:
    """``comment`` of the ``part``-th generated slice with ids no other slice holds.

    Each slice is generated on its own and numbers its comments from the same place, and a dumps
    version keeps one row per thing: without this, most of a large file would be duplicates.
    """
    if not part:
        return comment

    def shifted(cid: str) -> str:
        return base36(int(cid, 36) + part * 10**8)

    out = dict(comment)
    out["id"] = shifted(comment["id"])
    if "name" in comment:
        out["name"] = f"t1_{out['id']}"
    if isinstance(comment.get("permalink"), str):
        out["permalink"] = comment["permalink"].replace(f"/{comment['id']}/", f"/{out['id']}/")
    parent = comment.get("parent_id")
    if isinstance(parent, str) and parent.startswith("t1_"):
        out["parent_id"] = f"t1_{shifted(parent[3:])}"
    return out


def comments_file(folder: Path, lines: int, seed: int = 1) -> Path:
    """A per-subreddit comments file of ``lines`` generated lines, each comment once (written in slices:
    memory stays low)."""
    path = folder / "MachineLearning_comments.jsonl"
    written = 0
    with path.open("wb") as handle:
        part = 0
        while written < lines:
            store = generate(
                subreddits=("MachineLearning",),
                posts=2_000,
                comments_per_post=(8, 12),
                seed=seed + part,
                start=START,
                end=END,
            )
            for comment in store.comments[: lines - written]:
                handle.write(json.dumps(_in_slice(comment, part), separators=(",", ":")).encode() + b"\n")
                written += 1
            part += 1
    return path


def lookalike_file(folder: Path, path: Path, every: int = 500) -> Path:
    """``path`` with every ``every``-th comment's body a string that reads like a number (``"100"``).

    DuckDB's typed reader writes a number into a string column as its text, so the dump reader checks
    such a value on its line (``scraper.normalize.flat._resolve_ambiguous``); real months hold such
    bodies (votes, counts) and all-digit ids. This file shows what the check costs.
    """
    out = folder / "lookalike" / path.name
    out.parent.mkdir(exist_ok=True)
    with path.open("rb") as source, out.open("wb") as target:
        for i, line in enumerate(source):
            if i % every != every - 1:
                target.write(line)
                continue
            comment = json.loads(line)
            comment["body"] = str(i % 1000)
            target.write(json.dumps(comment, separators=(",", ":")).encode() + b"\n")
    return out


def duckdb_threads() -> int:
    """DuckDB's default thread count, which the reference runs with (one per core)."""
    import duckdb

    con = duckdb.connect()
    try:
        return int(con.execute("SELECT current_setting('threads')").fetchall()[0][0])
    finally:
        con.close()


def duckdb_rate(path: Path, out: Path, lines: int) -> tuple[float, float]:
    """Rows/s of DuckDB's read_json → COPY … (FORMAT parquet) on ``path``, and the CPU seconds it took."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    started, cpu = time.perf_counter(), time.process_time()
    con.execute(f"COPY (SELECT * FROM read_json('{path}', format='newline_delimited')) TO '{out}' (FORMAT parquet)")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    con.close()
    return lines / elapsed, cpu


def our_rate(path: Path, work: Path, lines: int, **engine: Any) -> tuple[float, float, dict[str, Any]]:
    """Rows/s of ``ingest_dumps`` on ``path`` (a fresh dataset folder), CPU seconds of this process, the manifest."""
    target = work / f"ds-{engine.get('engine', 'local')}"
    shutil.rmtree(target, ignore_errors=True)
    started, cpu = time.perf_counter(), time.process_time()
    manifest = ingest_dumps(target, [path], keep_all=True, **engine)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert manifest["stats"]["comments"] == lines, manifest["stats"]
    return lines / elapsed, cpu, manifest


def median(values: list[float]) -> float:
    """The middle value (the mean of the two middle ones)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def peak_rss_mb(paths: list[Path], work: Path) -> float:
    """Peak RSS (MB) of a fresh process that ingests ``paths``.

    Read from the process's own ``VmHWM`` (``/proc/self/status``), the high-water mark of its memory
    since ``exec``: ``getrusage``'s ``ru_maxrss`` keeps the peak from before ``exec`` too, and a child
    forked from this process starts as large as it is (the figure was then this process's size,
    whatever the input: 503 → 503 MB in the earlier runs).
    """
    target = work / "ds-rss"
    shutil.rmtree(target, ignore_errors=True)
    code = (  # as `python -m scraper dumps` runs: without pandas (scraper/startup.py)
        "import re; from pathlib import Path; from scraper.startup import without_pandas; "
        "without_pandas(); from scraper.dumps import ingest_dumps; "
        f"ingest_dumps(Path({str(target)!r}), [Path(p) for p in {[str(p) for p in paths]!r}], keep_all=True); "
        "print(re.search(r'VmHWM:\\s+(\\d+) kB', Path('/proc/self/status').read_text()).group(1))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return int(result.stdout.strip().splitlines()[-1]) / 1024


def memory(work: Path, sizes: list[int]) -> dict[str, Any]:
    """Peak RSS at N and 10 N lines for each N of ``sizes``, and with every line given twice at the first N.

    Given twice, every line of the second copy is a duplicate of one of the first, so the version's
    one-row-per-thing rewrite runs on all of it (the costliest case for memory).
    """
    out: dict[str, Any] = {}
    for n in sizes:
        pair: list[float] = []
        for lines in (n, 10 * n):
            folder = work / f"rss-{lines}"
            folder.mkdir(exist_ok=True)
            path = comments_file(folder, lines, seed=50)
            pair.append(peak_rss_mb([path], work))
            if n == sizes[0]:
                twice = folder / "copy"
                twice.mkdir(exist_ok=True)
                copy = shutil.copy(path, twice / path.name)
                pair.append(peak_rss_mb([path, Path(copy)], work))
                Path(copy).unlink()
            path.unlink()
        row: dict[str, Any] = {"lines": [n, 10 * n], "mb": [round(pair[0]), round(pair[-1 if n != sizes[0] else 2])]}
        row["ratio_10x_input"] = round(row["mb"][1] / row["mb"][0], 3)
        if n == sizes[0]:
            row["every_line_twice_mb"] = [round(pair[1]), round(pair[3])]
            row["every_line_twice_ratio"] = round(pair[3] / pair[1], 3)
        out[str(n)] = row
    out["target"] = "1.0 ± 0.2"
    return out


def dask_rounds(
    path: Path, work: Path, args: argparse.Namespace, manifest: dict[str, Any], *, processes: bool
) -> dict[str, Any]:
    """Rounds of (DuckDB, ours on a ``LocalCluster`` of 2 single-threaded workers, DuckDB), and where Dask's time goes.

    One cluster serves every round: it is up and its workers have imported this package before the
    clock starts, as the reference's process has imported DuckDB (a long-lived cluster, not its
    start-up). Besides the ratio: the CPU seconds of the workers and of this process (the client,
    which also runs the scheduler), each task's time computing and the bytes it hands back (Dask's
    task stream), and the CPU the idle cluster takes per second (heartbeats, the event loops' ticks):
    a cost of every second the run lasts, whatever it does.
    """
    from distributed import Client, LocalCluster, get_task_stream

    ratios: list[float] = []
    cpu: list[tuple[float, float]] = []  # (the workers', this process's) CPU seconds
    tasks: list[list[float]] = []  # seconds computing, per task, per round
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=processes, dashboard_address="127.0.0.1:0"
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(importlib.import_module, "scraper.dumps")
        our_rate(path, work, args.lines, engine="dask", client=client)  # not counted, as above
        for _ in range(args.rounds):
            duck, _cpu = duckdb_rate(path, work / "duck.parquet", args.lines)
            before = client.run(time.process_time) if processes else {}
            with get_task_stream(client) as stream:
                rate, client_cpu, dask_manifest = our_rate(path, work, args.lines, engine="dask", client=client)
            after = client.run(time.process_time) if processes else {}
            cpu.append((sum(after[w] - before[w] for w in after), client_cpu))
            duck_again, _cpu = duckdb_rate(path, work / "duck2.parquet", args.lines)
            ratios.append(rate / ((duck + duck_again) / 2))
            spans = [t for t in stream.data if "filter_span" in str(t["key"])]
            tasks.append(
                [sum(s["stop"] - s["start"] for s in t["startstops"] if s["action"] == "compute") for t in spans]
            )
        idle = 0.0
        if processes:
            before, started = client.run(time.process_time), time.process_time()
            time.sleep(3)
            after, client_idle = client.run(time.process_time), time.process_time() - started
            idle = (sum(after[w] - before[w] for w in after) + client_idle) / 3
    same = {k: v["sha256"] for k, v in manifest["files"].items()} == {
        k: v["sha256"] for k, v in dask_manifest["files"].items()
    }
    out: dict[str, Any] = {
        "workers": "processes" if processes else "threads of this process",
        "ours_rows_per_s": round(rate),
        "ratio": round(median(ratios), 3),
        "ratios_per_round": [round(r, 3) for r in ratios],
        "same_files_as_local": same,
        "target": 1.0,
        # every worker's CPU plus this process's (the client, and here the scheduler too), for the same
        # lines as the in-process "cpu_seconds" above (with worker threads all of it is this process's)
        "cpu_seconds": {
            "workers": round(median([w for w, _c in cpu]), 3),
            "client_and_scheduler": round(median([c for _w, c in cpu]), 3),
            "total": round(median([w + c for w, c in cpu]), 3),
        },
        "tasks_per_run": len(tasks[-1]),
        "task_compute_seconds_per_round": [[round(t, 3) for t in r] for r in tasks],
        # what the tasks hand back is the kept rows as Arrow batches: the version's rows in Arrow
        "arrow_bytes_handed_back_per_run": sum(
            pq.read_table(f).nbytes for f in (work / "ds-dask").glob("versions/*/*.parquet")
        ),
    }
    if processes:
        out["idle_cluster_cpu_seconds_per_second"] = round(idle, 3)
    return out


def paging(posts: int = 30_000) -> dict[str, Any]:
    """Walk a generated subreddit of ``posts`` posts through the fake Arctic Shift, both ``after`` semantics."""
    store = generate(subreddits=("big",), posts=posts, comments_per_post=(0, 0), seed=3, same_second_share=0.02)

    class Clock:
        t = 0.0

        def now(self) -> float:
            return self.t

        def sleep(self, seconds: float) -> None:
            self.t += seconds

    out: dict[str, Any] = {"posts": posts, "minimum_pages": -(-posts // PAGE_LIMIT)}
    for inclusive in (False, True):
        with FakeArcticShift(store, after_inclusive=inclusive) as fake, ArcticShiftClient(fake.url, clock=Clock()) as c:
            walk = TimeWalk(1_325_376_000, 1_735_689_600)
            ids = [r["id"] for r in walk.walk(lambda a, b: c.search_posts("big", a, b))]
        key = "after_inclusive" if inclusive else "after_exclusive"
        out[key] = {
            "found": len(ids),
            "unique": len(set(ids)),
            "pages": walk.pages,
            "pages_over_minimum": round(walk.pages / out["minimum_pages"], 3),
            "duplicates_dropped": walk.duplicates,
            "gaps": len(walk.gaps),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--lines", type=int, default=100_000, help="lines of the speed comparison")
    parser.add_argument(
        "--rss-lines",
        type=int,
        nargs="+",
        default=[30_000, 100_000],
        help="Ns of the memory comparison (each at N and 10 N lines; the first also with every line given twice)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (DuckDB, ours, DuckDB); the median counts")
    parser.add_argument("--no-dask", action="store_true", help="skip the LocalCluster run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results: dict[str, Any] = {"command": " ".join(["python", "bench/archive_bench.py", *sys.argv[1:]])}
    results["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="archive-bench-") as tmp:
        work = Path(tmp)
        path = comments_file(work, args.lines)
        results["input"] = {"lines": args.lines, "bytes": path.stat().st_size}
        # Rounds of (DuckDB, ours, DuckDB): each round's ratio is ours against the mean of the DuckDB runs
        # around it, so load that comes and goes on the shared machine hits both sides; the median round counts.
        rounds: list[dict[str, float]] = []
        manifest: dict[str, Any] = {}
        # One run of each, not counted, before the rounds: a long-lived process, as the reference's has
        # loaded DuckDB's JSON extension (pyarrow's one-time look for pandas alone is 0.36 s of CPU).
        duckdb_rate(path, work / "duck.parquet", args.lines)
        our_rate(path, work, args.lines)
        for _ in range(args.rounds):
            duck, duck_cpu = duckdb_rate(path, work / "duck.parquet", args.lines)
            ours, ours_cpu, manifest = our_rate(path, work, args.lines)
            duck_again, duck_cpu_again = duckdb_rate(path, work / "duck2.parquet", args.lines)
            rounds.append(
                {
                    "duckdb_rows_per_s": (duck + duck_again) / 2,
                    "ours_rows_per_s": ours,
                    "ratio": ours / ((duck + duck_again) / 2),
                    "duckdb_cpu_s": (duck_cpu + duck_cpu_again) / 2,
                    "ours_cpu_s": ours_cpu,
                }
            )
        reference = median([r["duckdb_rows_per_s"] for r in rounds])
        results["ingest_one_process"] = {
            "duckdb_rows_per_s": round(reference),
            "ours_rows_per_s": round(median([r["ours_rows_per_s"] for r in rounds])),
            "ratio": round(median([r["ratio"] for r in rounds]), 3),
            "ratios_per_round": [round(r["ratio"], 3) for r in rounds],
            "target": 0.6,
            "cpu_seconds": {
                "duckdb": round(median([r["duckdb_cpu_s"] for r in rounds]), 3),
                "ours": round(median([r["ours_cpu_s"] for r in rounds]), 3),
            },
        }
        # Both sides may use every core: the reference with DuckDB's default threads (one per core);
        # ours with one DuckDB thread for the query, a Parquet writer thread and a sha256 thread beside it.
        from scraper.dumps import LOCAL_THREADS

        results["threads"] = {
            "cores": os.cpu_count(),
            "duckdb_reference": duckdb_threads(),
            "ours_duckdb_query": LOCAL_THREADS,
            "ours_beside_it": ["Parquet writer thread", "sha256 thread", "next span read ahead (.zst)"],
        }
        # The same lines with every 500th body a number-like string ("100"): each such row is checked
        # on its line (the typed reader cannot tell the string "100" from the number 100).
        look = lookalike_file(work, path)
        look_ratios, look_cpu = [], []
        for _ in range(args.rounds):
            duck, duck_cpu = duckdb_rate(look, work / "duck.parquet", args.lines)
            rate, cpu, _manifest = our_rate(look, work, args.lines)
            duck_again, duck_cpu_again = duckdb_rate(look, work / "duck2.parquet", args.lines)
            look_ratios.append(rate / ((duck + duck_again) / 2))
            look_cpu.append(((duck_cpu + duck_cpu_again) / 2, cpu))
        results["ingest_one_process_lookalike_bodies"] = {
            "bodies_like_numbers": args.lines // 500,
            "ratio": round(median(look_ratios), 3),
            "ratios_per_round": [round(r, 3) for r in look_ratios],
            "cpu_seconds": {
                "duckdb": round(median([d for d, _ in look_cpu]), 3),
                "ours": round(median([o for _, o in look_cpu]), 3),
            },
        }
        look.unlink()
        # The same lines as a long-window .zst (window_log 31, as the Pushshift-era months): DuckDB's
        # zstd reader refuses such frames, so this is ours against DuckDB on the plain file.
        packed = write_zst(work / "zst" / "MachineLearning_comments.zst", path.read_bytes().splitlines())
        zst_ratios = []
        for _ in range(args.rounds):
            duck, _cpu = duckdb_rate(path, work / "duck.parquet", args.lines)
            zst_rate, _cpu, _manifest = our_rate(packed, work, args.lines)
            duck_again, _cpu = duckdb_rate(path, work / "duck2.parquet", args.lines)
            zst_ratios.append(zst_rate / ((duck + duck_again) / 2))
        results["ingest_zst_one_process"] = {
            "bytes": packed.stat().st_size,
            "ratio_to_duckdb_on_the_plain_file": round(median(zst_ratios), 3),
            "ratios_per_round": [round(r, 3) for r in zst_ratios],
        }
        if not args.no_dask:
            results["ingest_dask_2_workers"] = dask_rounds(path, work, args, manifest, processes=True)
            # the same with the two workers as threads of this process (no transfer, one event loop)
            results["ingest_dask_2_worker_threads"] = dask_rounds(path, work, args, manifest, processes=False)
        results["peak_rss"] = memory(work, args.rss_lines)
    results["paging"] = paging()
    results["bench_process_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
