"""Benchmark: requests and wall time to expand whole comment trees, ours against PRAW's.

    python bench/expand_bench.py [--sizes 200,2000,10000] [--json bench/results.json]

For each generated tree (many stubs, deep chains past depth 10, deleted leaves)
a fresh fake Reddit on 127.0.0.1 serves the same thread to

- our collector (``expand_thread``), and
- PRAW 8's ``submission.comments.replace_more(limit=None)``, the reference,

in the same process, one after the other.  Reported for each: comments
collected against the tree's true size (comments Reddit would show), wrong
parents, requests by endpoint, wall time, and the ratios against PRAW and
against the lower bound

    LB = 1 + ceil(L / 100) + C

where C is the number of continue-this-thread stubs the tree needs (shown
comments at depth 9, 19, … with replies) and L the comments neither in the
first answer nor below depth 10 (those behind load-more stubs).

Faults runs repeat ours, in simulated time (server and client share a
:class:`SimulatedClock`, so backoff and ``retry-after`` cost no real seconds),
and check the comment set is identical and the requests spent:

- ``faults``: exactly one API answer in ten fails, evenly (the tenth,
  twentieth, …; 500, 503, cut connection, malformed JSON in turn) and, after
  the second answer, the server throttles for 30 seconds, answering every
  request 429 with ``retry-after``: the burst of 429s Reddit sends to a client
  over its limit;
- ``block_faults``: exactly one answer in each ten fails, at a random place, of
  a random kind, over ``--fault-seeds`` seeds, with the same throttle;
- ``bernoulli_faults``: each answer fails with probability 0.1 (so a run may see
  more or fewer than 10%), over the same seeds, with the same throttle;
- ``forced_burst``: Bernoulli 10% plus three 429s forced on consecutive requests
  whatever the client does (a count no client can lower).

``paced`` repeats ours, in simulated time, against a server that enforces a
quota per 600-second window with honest ``x-ratelimit-*`` headers: Reddit's
1,000 (100 a minute) and a tight 50, so the pacer must wait for resets.  It
reports the 429s received (the target is none) and the simulated minutes.

``wasted`` is extra requests minus injected faults: a retry that was not the
repeat of a failed answer.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import praw

from scraper.collect.expand import expand_thread
from scraper.fake_reddit import FakeReddit, Forest
from scraper.fake_reddit.clock import SimulatedClock
from scraper.fake_reddit.generate import generate_thread
from scraper.fake_reddit.server import CLIENT_ID, CLIENT_SECRET, Faults
from scraper.normalize import build_rows, harvest_records
from scraper.sources.pacing import RetryPolicy
from scraper.sources.reddit import RedditClient, RedditSettings
from scraper.store.raw import RawArchive, read_records

LINK = "bench1"


def make_forest(size: int, seed: int) -> Forest:
    forest = Forest(seed=seed, vanish_rate=0.05)
    submission, comments = generate_thread(LINK, size, seed=seed, deep_chains=max(1, size // 2000), chain_length=25)
    forest.add_thread(submission, comments)
    return forest


def lower_bound(forest: Forest) -> int:
    thread = forest.threads[LINK]
    visible = forest.visible_ids(LINK)
    first = forest.tree(LINK, limit=500, sort="confidence")
    shown = _count_t1(first[1])
    depth = {cid: thread.depth(cid) for cid in visible}
    continues = sum(
        1 for cid in visible if depth[cid] % 10 == 9 and any(c in visible for c in thread.children.get(f"t1_{cid}", []))
    )
    deep = sum(1 for d in depth.values() if d >= 10)
    return 1 + math.ceil(max(0, len(visible) - shown - deep) / 100) + continues


def _count_t1(value: Any) -> int:
    if isinstance(value, dict):
        own = 1 if value.get("kind") == "t1" else 0
        return own + sum(_count_t1(v) for v in value.values())
    if isinstance(value, list):
        return sum(_count_t1(v) for v in value)
    return 0


def settings(server: FakeReddit) -> RedditSettings:
    return server.client_settings(user_agent="python:bench:0 (expand bench)")


def run_ours(
    forest: Forest, faults: Faults | None = None, *, simulated: bool = False, quota: int = 10**9
) -> dict[str, Any]:
    clock = SimulatedClock() if simulated else None
    server_clock = clock.now if clock else time.monotonic
    with (
        FakeReddit(forest, quota=quota, faults=faults, clock=server_clock) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        archive_path = Path(tmp) / "raw.jsonl.gz"
        with RawArchive(archive_path) as archive:
            if clock:  # the default retry policy: its waits cost simulated seconds only
                client = RedditClient(settings(server), archive, clock=clock)
            else:
                client = RedditClient(settings(server), archive, retry=RetryPolicy(base=0.01, cap=0.05))
            start = time.perf_counter()
            result = expand_thread(client, LINK)
            wall = time.perf_counter() - start
        rows = build_rows(harvest_records(read_records(archive_path)))
        parents = {r.id: r.parent_id for r in rows.comments}
        return {
            "wall": wall,
            "requests": dict(client.requests_by_endpoint),
            "total": client.request_count,
            "faults": dict(client.faults),
            "injected": sum(1 for e in server.log if e.fault and "access_token" not in e.path),
            "ids": set(parents),
            "parents": parents,
            "unresolved": len(result.unresolved),
            "server_429": server.count_status(429),
            "simulated_s": clock.t - SimulatedClock().t if clock else None,
        }


THROTTLE = (2, 30.0)  # after the second answer, 30 s over the limit


def faults_row(size: int, seed: int, faults: Faults, clean: dict[str, Any], truth: set[str]) -> dict[str, Any]:
    run = run_ours(make_forest(size, seed), faults, simulated=True)
    extra = run["total"] - clean["total"]
    return {
        "collected": len(run["ids"] & truth),
        "identical": run["ids"] & truth == clean["ids"] & truth,
        "total": run["total"],
        "faults_seen": run["faults"],
        "injected": run["injected"],
        "wasted": extra - run["injected"],
        "extra_requests": round(extra / clean["total"], 3),
        "failure_share": round((run["injected"] - run["faults"].get("429", 0)) / run["total"], 3),
    }


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    extras = [r["extra_requests"] for r in rows]
    return {
        "seeds": len(rows),
        "all_identical": all(r["identical"] for r in rows),
        "wasted": sum(r["wasted"] for r in rows),
        "extra_mean": round(sum(extras) / len(extras), 3),
        "extra_min": min(extras),
        "extra_max": max(extras),
        "over_15_percent": sum(1 for e in extras if e > 0.15),
        "failure_share_mean": round(sum(r["failure_share"] for r in rows) / len(rows), 3),
    }


def run_praw(forest: Forest) -> dict[str, Any]:
    with FakeReddit(forest, quota=10**9) as server, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reddit = praw.Reddit(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            user_agent="python:bench:0 (praw)",
            oauth_url=server.url,
            reddit_url=server.url,
            check_for_updates=False,
        )
        start = time.perf_counter()
        submission = reddit.submission(LINK)
        submission.comment_sort = "confidence"
        submission.comments.replace_more(limit=None)
        comments = submission.comments.list()
        wall = time.perf_counter() - start
        by_endpoint = Counter(
            "morechildren" if "morechildren" in e.path else "comments"
            for e in server.log
            if "access_token" not in e.path
        )
        parents = {c.id: c.parent_id for c in comments}
        return {
            "wall": wall,
            "requests": dict(by_endpoint),
            "total": sum(by_endpoint.values()),
            "ids": set(parents),
            "parents": parents,
        }


def wrong_parents(forest: Forest, parents: dict[str, str]) -> int:
    comments = forest.threads[LINK].comments
    return sum(1 for cid, parent in parents.items() if comments[cid]["parent_id"] != parent)


def bench(size: int, seed: int, fault_seeds: int) -> dict[str, Any]:
    forest = make_forest(size, seed)
    truth = forest.visible_ids(LINK)
    lb = lower_bound(forest)
    ours = run_ours(forest)
    reference = run_praw(make_forest(size, seed))  # same tree, same vanishing draws
    clean = run_ours(make_forest(size, seed), simulated=True)
    even = faults_row(size, seed, Faults(rate=0.10, pattern="even", throttle_429=THROTTLE), clean, truth)
    seeds = range(1, fault_seeds + 1)
    blocks = [
        faults_row(size, seed, Faults(rate=0.10, pattern="blocks", seed=s, throttle_429=THROTTLE), clean, truth)
        for s in seeds
    ]
    bernoulli = [faults_row(size, seed, Faults(rate=0.10, seed=s, throttle_429=THROTTLE), clean, truth) for s in seeds]
    forced = faults_row(size, seed, Faults(rate=0.10, seed=seed, burst_429=(5, 3)), clean, truth)
    paced = {  # Reddit's quota (1,000 requests a 600-second window) and a tight one (50), honest headers
        str(quota): run_ours(make_forest(size, seed), simulated=True, quota=quota) for quota in (1000, 50)
    }
    row = {
        "size": size,
        "true_comments": len(truth),
        "lower_bound": lb,
        "ours": {
            "collected": len(ours["ids"] & truth),
            "wrong_parents": wrong_parents(forest, ours["parents"]),
            "requests": ours["requests"],
            "total": ours["total"],
            "wall_s": round(ours["wall"], 3),
            "unresolved": ours["unresolved"],
            "server_429": ours["server_429"],
        },
        "praw": {
            "collected": len(reference["ids"] & truth),
            "wrong_parents": wrong_parents(forest, reference["parents"]),
            "requests": reference["requests"],
            "total": reference["total"],
            "wall_s": round(reference["wall"], 3),
        },
        "faults": even,
        "block_faults": summary(blocks),
        "bernoulli_faults": summary(bernoulli),
        "forced_burst": forced,
        "paced": {
            quota: {
                "requests": run["total"],
                "server_429": run["server_429"],
                "identical": run["ids"] & truth == ours["ids"] & truth,
                "simulated_minutes": round(run["simulated_s"] / 60, 1),
            }
            for quota, run in paced.items()
        },
    }
    row["ratio_vs_praw"] = round(ours["total"] / reference["total"], 3)
    row["ratio_vs_lower_bound"] = round(ours["total"] / lb, 3)
    row["wall_ratio_vs_praw"] = round(ours["wall"] / reference["wall"], 3)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200,2000,10000")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--fault-seeds", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the faults run logs every retry
    rows = [bench(int(s), args.seed, args.fault_seeds) for s in args.sizes.split(",")]
    print(
        f"{'size':>6} {'true':>6} | {'ours':>6} {'req':>5} {'s':>6} | {'praw':>6} {'req':>5} {'s':>6} | "
        f"{'LB':>4} {'vsPRAW':>6} {'vsLB':>5}"
    )
    for r in rows:
        o, p = r["ours"], r["praw"]
        print(
            f"{r['size']:>6} {r['true_comments']:>6} | {o['collected']:>6} {o['total']:>5} {o['wall_s']:>6.2f} | "
            f"{p['collected']:>6} {p['total']:>5} {p['wall_s']:>6.2f} | {r['lower_bound']:>4} "
            f"{r['ratio_vs_praw']:>6.2f} {r['ratio_vs_lower_bound']:>5.2f}"
        )
    print("\nextra requests with faults (same comment set? wasted retries), 30 s throttle after answer 2:")
    print(f"{'size':>6} | 10% even | 10% in blocks: mean [min, max] | Bernoulli 0.1: mean [min, max] | forced 3×429")
    for r in rows:
        f, k, b, x = r["faults"], r["block_faults"], r["bernoulli_faults"], r["forced_burst"]
        same = all([f["identical"], k["all_identical"], b["all_identical"], x["identical"]])
        wasted = f["wasted"] + k["wasted"] + b["wasted"] + x["wasted"]
        print(
            f"{r['size']:>6} | {f['extra_requests']:+.1%} | "
            f"{k['extra_mean']:+.1%} [{k['extra_min']:+.1%}, {k['extra_max']:+.1%}] | "
            f"{b['extra_mean']:+.1%} [{b['extra_min']:+.1%}, {b['extra_max']:+.1%}] "
            f"(failed {b['failure_share_mean']:.1%}) | {x['extra_requests']:+.1%} | "
            f"{'same' if same else 'DIFFERENT'}, wasted {wasted}"
        )
    print("\npaced by the x-ratelimit headers (simulated time): requests, 429s received, minutes")
    for r in rows:
        cells = [
            f"quota {q}/600 s: {v['requests']} req, {v['server_429']} × 429, {v['simulated_minutes']} min"
            for q, v in r["paced"].items()
        ]
        print(f"{r['size']:>6} | " + " | ".join(cells))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
