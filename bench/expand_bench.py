"""Benchmark: requests to expand whole comment trees, ours against PRAW's, on trees of three shapes.

    python bench/expand_bench.py [--sizes 2000,6000] [--seeds 1,2,3] [--shapes chains]
                                 [--json bench/expand_results.json] [--doc docs/PERFORMANCE.md [--table held-out]]
    python bench/expand_bench.py --from-json bench/expand_results.json --doc docs/PERFORMANCE.md

Trees come from :func:`scraper.fake_reddit.generate.generate_shaped` in three
shapes, several seeds each, with 4% user-deleted leaves, 1.5% removed and 3%
account-deleted comments:

- ``current``: the earlier generator's shape (a quarter top-level, long
  conversations, a 25-reply chain per 2,000 comments);
- ``ama``: ~80% top-level questions, replies piling onto popular ones (huge
  fan-out), a few follow-ups;
- ``chains``: back-and-forth chains of 30 to 150 replies, far past depth 10,
  among ordinary conversation.

Each tree is served by a fresh fake Reddit on 127.0.0.1 under both of its rule
sets (``orphans="vanish"``: requested ids that miss morechildren's budget
vanish, as in the archived builder; ``orphans="stub"``: they come back in a
stub), to our collector (``expand_thread``) and, in the same run, to PRAW 8's
``submission.comments.replace_more(limit=None)``.  Reported per tree:

- comments held against the tree's true size, wrong parents, and the
  user-deleted leaves: held as tombstones, or never announced by any answer
  (the builder drops a deleted leaf it picks without listing it anywhere, so
  no client can know its id); ``accounted`` says every comment is one or the
  other;
- requests by endpoint, and the ratios of ours to PRAW's, to the morechildren
  lower bound ``1 + ceil(L/100) + C`` (L: shown comments neither in the first
  answer nor at depth 10 or more; C: continue-this-thread stubs the tree needs)
  and to the any-client bound ``max(ceil(N/500), 1 + max(W, ceil(D/500)))`` (N
  comments shown; W the fewest 10-level windows covering the D comments at
  depth 10 or more), and the **known-root bound**, the same with W9: the
  fewest permalinks covering them when each shows nine *new* levels (a client
  can only ask the permalink of a comment whose id an earlier answer gave it,
  and every endpoint shows at most nine levels below that comment: see
  :func:`windows` and docs/PERFORMANCE.md "Comment trees").  Where that bound
  alone exceeds 0.25x PRAW's requests, no client can meet the PRAW target on
  that tree (``praw_target_reachable``);
- ids that vanished (asked through morechildren, neither returned nor
  announced again) and the requests they cost, against ``ceil(vanished/100)+1``;
- a faults run (simulated time: one answer in ten fails, at a random place in
  each ten, and a 30-second 429 throttle after the second answer): the extra
  requests against the injected failures plus one per 429 burst, and whether
  the comment set is identical.
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

from scraper.collect.expand import Expansion, expand_thread
from scraper.fake_reddit import FakeReddit, Forest
from scraper.fake_reddit.clock import SimulatedClock
from scraper.fake_reddit.forest import ORPHAN_RULES
from scraper.fake_reddit.generate import HELD_OUT_SHAPES, SHAPES, generate_shaped
from scraper.fake_reddit.server import CLIENT_ID, CLIENT_SECRET, Faults
from scraper.sources import endpoints as ep
from scraper.sources.pacing import RetryPolicy
from scraper.sources.reddit import RedditClient
from scraper.store.raw import RawArchive, read_records

LINK = "bench1"
THROTTLE = (2, 30.0)  # after the second answer, 30 s over the limit: one 429 burst

TARGETS = {"vs_praw": 0.25, "vs_morechildren_bound": 1.5}


def make_forest(shape: str, size: int, seed: int, orphans: str) -> Forest:
    forest = Forest(seed=seed, orphans=orphans)
    submission, comments = generate_shaped(LINK, size, shape=shape, seed=seed)
    forest.add_thread(submission, comments, keep_count=True)  # ``stale``: num_comments disagrees with the tree
    return forest


class Tree:
    """The shown comments of the benchmark thread: depth, parent and shown replies of each."""

    def __init__(self, depth: dict[str, int], parent: dict[str, str], kids: dict[str, list[str]]) -> None:
        self.depth, self.parent, self.kids = depth, parent, kids

    @classmethod
    def of(cls, forest: Forest) -> Tree:
        thread = forest.threads[LINK]
        visible = forest.visible_ids(LINK)
        return cls(
            {cid: thread.depth(cid) for cid in visible},
            {cid: thread.comments[cid]["parent_id"][3:] for cid in visible},
            {cid: [c for c in thread.children.get(f"t1_{cid}", []) if c in visible] for cid in visible},
        )

    def ancestor(self, cid: str, depth: int) -> str:
        """``cid`` itself or its ancestor at ``depth``."""
        while self.depth[cid] > depth:
            cid = self.parent[cid]
        return cid

    def windows(self, least: int, *, root_known: bool) -> int:
        """The fewest permalinks that show every comment at depth ``least`` or more (10: W, or W9 with
        ``root_known``; 19: W19).

        A permalink shows its comment and nine levels below it (a continue-this-thread stub at the
        tenth).  The issue's W counts all ten levels; with ``root_known`` the comment itself is not
        counted: a client can only ask the permalink of a comment whose id an earlier answer gave it,
        so a permalink shows at most nine levels not seen before.  Deepest uncovered comment first, its
        window rooted nine levels up: a window covering that comment is rooted at one of its ancestors
        within nine levels, and the highest of them covers every comment the others cover that is not
        deeper than it (the deeper ones are covered already), so this greedy is optimal.
        """
        covered: set[str] = set()
        count = 0
        for cid in sorted((c for c, d in self.depth.items() if d >= least), key=lambda c: (-self.depth[c], c)):
            if cid in covered:
                continue
            root = self.ancestor(cid, self.depth[cid] - 9)
            count += 1
            stack = [(root, 0)]
            while stack:
                node, level = stack.pop()
                if level or not root_known:
                    covered.add(node)
                if level < 9:
                    stack.extend((c, level + 1) for c in self.kids[node])
        return count

    def one_tree_bound(self) -> int:
        """A lower bound for a client that asks the whole tree once, in the thread's sort (as PRAW and ours do).

        - A comment at depth 19 or more is first shown or listed by a permalink whose top comment is at most
          nine levels up, so at depth 10 or more: at least W19 such permalinks, and they show nothing at
          depth 9 or less.
        - A comment at depth 10 needs a permalink whose top is at depth 1 to 9 (no other answer reaches
          depth 10): one per distinct depth-1 ancestor of the depth-10 comments at least (A of them).
        - The comments at depth 9 or less (S of them) are held by the tree answer (500 at most), by
          morechildren or /api/info (100 at most each), or by those shallow permalinks, each holding at
          most 500 comments, all in one top-level comment's subtree: with q shallow permalinks at most
          the q largest such 500-slices of the top-level subtrees, g(q).

        So ``1 + W19 + min over q >= A of (q + ceil((S - 500 - g(q)) / 100))``.
        """
        w19 = self.windows(19, root_known=True)
        needed = len({self.ancestor(c, 1) for c, d in self.depth.items() if d == 10})
        per_top = Counter(self.ancestor(c, 0) for c, d in self.depth.items() if d <= 9)
        slices = sorted((min(500, n - k) for n in per_top.values() for k in range(0, n, 500)), reverse=True)
        rest = sum(per_top.values()) - 500
        held = sum(slices[:needed])
        best = needed + math.ceil(max(0, rest - held) / 100)
        for q in range(needed, len(slices)):
            held += slices[q]
            best = min(best, q + 1 + math.ceil(max(0, rest - held) / 100))
        return 1 + w19 + best

    def windows_bound(self) -> int:
        """A second lower bound for a client that asks the whole tree once: ``1 + W9 + min over k of
        (k + ceil((S - 500 - G - g(k)) / 100))``.

        - The comments at depth 10 or more need at least W9 permalinks (nine new levels each), whatever their roots.
        - A permalink shows comments at depth 9 or less only in the subtree of its top comment: those that show
          deep comments lie in the top-level subtrees holding a comment at depth 10 or more, whose comments at
          depth 9 or less number G; any other permalink (k of them) shows at most 500 of another top-level subtree
          (g(k): the k largest 500-slices of those).
        - The rest of the S comments at depth 9 or less come from the tree answer (500) or morechildren and
          /api/info (100 each).
        """
        w9 = self.windows(10, root_known=True)
        per_top = Counter(self.ancestor(c, 0) for c, d in self.depth.items() if d <= 9)
        deep_tops = {self.ancestor(c, 0) for c, d in self.depth.items() if d >= 10}
        rest = sum(per_top.values()) - 500 - sum(n for top, n in per_top.items() if top in deep_tops)
        slices = sorted(
            (min(500, n - k) for top, n in per_top.items() if top not in deep_tops for k in range(0, n, 500)),
            reverse=True,
        )
        best = math.ceil(max(0, rest) / 100)
        for k, size in enumerate(slices, start=1):
            rest -= size
            best = min(best, k + math.ceil(max(0, rest) / 100))
        return 1 + w9 + best


def bounds(forest: Forest) -> dict[str, int]:
    """The lower bounds of the module docstring."""
    tree = Tree.of(forest)
    shown = _count_t1(forest.tree(LINK, limit=500, sort="confidence")[1])
    continues = sum(1 for cid, d in tree.depth.items() if d % 10 == 9 and tree.kids[cid])
    deep = sum(1 for d in tree.depth.values() if d >= 10)
    w10, w9 = tree.windows(10, root_known=False), tree.windows(10, root_known=True)
    morechildren = 1 + math.ceil(max(0, len(tree.depth) - shown - deep) / 100) + continues
    floor = max(math.ceil(len(tree.depth) / 500), 1 + math.ceil(deep / 500))
    known_root = max(floor, 1 + w9)
    return {
        "N": len(tree.depth),
        "D": deep,
        "W": w10,
        "W9": w9,
        "C": continues,
        "morechildren": morechildren,
        "any_client": max(floor, 1 + w10),
        "known_root": known_root,
        "one_tree": max(known_root, tree.one_tree_bound(), tree.windows_bound()),
    }


def _count_t1(value: Any) -> int:
    if isinstance(value, dict):
        own = 1 if value.get("kind") == "t1" else 0
        return own + sum(_count_t1(v) for v in value.values())
    if isinstance(value, list):
        return sum(_count_t1(v) for v in value)
    return 0


def _announced(records: list[dict[str, Any]]) -> set[str]:
    """Every id a stub listed in any archived answer."""
    ids: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("kind") == "more":
                ids.update(str(c) for c in (value.get("data") or {}).get("children") or [])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for record in records:
        try:
            walk(json.loads(record.get("body") or "null"))
        except ValueError:
            continue
    return ids


def run_ours(forest: Forest, faults: Faults | None = None) -> dict[str, Any]:
    clock = SimulatedClock() if faults else None
    with (
        FakeReddit(forest, quota=10**9, faults=faults, clock=clock.now if clock else time.monotonic) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        archive_path = Path(tmp) / "raw.jsonl.gz"
        with RawArchive(archive_path) as archive:
            settings = server.client_settings(user_agent="python:bench:0 (expand bench)")
            if clock:
                client = RedditClient(settings, archive, clock=clock)
            else:
                client = RedditClient(settings, archive, retry=RetryPolicy(base=0.01, cap=0.05))
            start = time.perf_counter()
            expansion = Expansion(LINK)
            result = expand_thread(client, LINK, expansion=expansion)
            wall = time.perf_counter() - start
        records = [r for r in read_records(archive_path) if r.get("status") == 200]
        parents: dict[str, str] = {}
        for cid, parent in expansion.parent.items():
            parents[cid] = f"t1_{parent}" if parent else f"t3_{LINK}"
        return {
            "wall": wall,
            "requests": dict(client.requests_by_endpoint),
            "total": client.request_count,
            "faults": dict(client.faults),
            "injected": sum(1 for e in server.log if e.fault and ep.endpoint_from_url(e.path) != ep.TOKEN),
            "injected_429": sum(1 for e in server.log if e.fault == "429"),
            "parents": parents,
            "result": result,
            "announced": _announced(records),
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
            ep.endpoint_from_url(e.path) or "other" for e in server.log if ep.endpoint_from_url(e.path) != ep.TOKEN
        )
        return {
            "wall": wall,
            "requests": dict(by_endpoint),
            "total": sum(by_endpoint.values()),
            "parents": {c.id: c.parent_id for c in comments},
        }


def correct_parents(forest: Forest, parents: dict[str, str]) -> int:
    comments = forest.threads[LINK].comments
    return sum(1 for cid, parent in parents.items() if cid in comments and comments[cid]["parent_id"] == parent)


def bench_tree(shape: str, size: int, seed: int, orphans: str) -> dict[str, Any]:
    forest = make_forest(shape, size, seed, orphans)
    thread = forest.threads[LINK]
    everything = set(thread.comments)
    deleted = forest.deleted_leaf_ids(LINK)
    lb = bounds(forest)
    ours = run_ours(forest)
    praw_run = run_praw(make_forest(shape, size, seed, orphans))
    faulty = run_ours(
        make_forest(shape, size, seed, orphans), Faults(rate=0.10, pattern="blocks", seed=seed, throttle_429=THROTTLE)
    )
    held = set(ours["parents"])
    right = correct_parents(forest, ours["parents"])
    result = ours["result"]
    never = (deleted - held) - ours["announced"]
    extra = faulty["total"] - ours["total"]
    failures = faulty["injected"] - faulty["injected_429"]
    vanished_cap = math.ceil(result.vanished / 100) + 1
    row: dict[str, Any] = {
        "shape": shape,
        "size": size,
        "seed": seed,
        "orphans": orphans,
        "true_comments": len(everything),
        "shown_comments": lb["N"],
        "bounds": lb,
        "ours": {
            "held": len(held & everything),
            "correct_parents": right,
            "requests": ours["requests"],
            "total": ours["total"],
            "wall_s": round(ours["wall"], 3),
            "unresolved": len(result.unresolved),
            "deleted_leaves": len(deleted),
            "tombstones": len(deleted & held),
            "never_announced": len(never),
            "accounted": held | never == everything,
            "vanished": result.vanished,
            "on_vanished": result.on_vanished,
            "on_vanished_cap": vanished_cap,
        },
        "praw": {
            "held": len(set(praw_run["parents"]) & everything),
            "correct_parents": correct_parents(forest, praw_run["parents"]),
            "requests": praw_run["requests"],
            "total": praw_run["total"],
            "wall_s": round(praw_run["wall"], 3),
        },
        "faults": {
            "injected_failures": failures,
            "bursts_429": 1 if faulty["injected_429"] else 0,
            "extra_requests": extra,
            "identical": set(faulty["parents"]) == held,
        },
    }
    row["ratio_vs_praw"] = round(ours["total"] / praw_run["total"], 3)
    row["ratio_vs_morechildren_bound"] = round(ours["total"] / lb["morechildren"], 3)
    row["ratio_vs_any_client_bound"] = round(ours["total"] / lb["any_client"], 3)
    row.update(praw_reach(lb, praw_run["total"]))
    row["ratio_vs_one_tree_bound"] = round(ours["total"] / lb["one_tree"], 3)
    row["meets_targets"] = meets(row)
    return row


def praw_reach(lb: dict[str, int], praw_total: int) -> dict[str, Any]:
    """Whether the 0.25x PRAW target is within reach: no client makes fewer requests than the known-root
    bound, none that asks the whole tree once fewer than the one-tree bound."""
    return {
        "known_root_bound_vs_praw": round(lb["known_root"] / praw_total, 3),
        "one_tree_bound_vs_praw": round(lb["one_tree"] / praw_total, 3),
        "praw_target_reachable": lb["known_root"] <= TARGETS["vs_praw"] * praw_total,
        "praw_target_reachable_one_tree": lb["one_tree"] <= TARGETS["vs_praw"] * praw_total,
    }


def meets(row: dict[str, Any]) -> bool:
    """The issue's targets for one tree (asked of trees of 2,000 comments or more)."""
    o, f = row["ours"], row["faults"]
    return (
        o["correct_parents"] == o["held"]
        and o["accounted"]
        and o["unresolved"] == 0
        and row["ratio_vs_praw"] <= TARGETS["vs_praw"]
        and row["ratio_vs_morechildren_bound"] <= TARGETS["vs_morechildren_bound"]
        and o["on_vanished"] <= o["on_vanished_cap"]
        and f["injected_failures"] <= f["extra_requests"] <= f["injected_failures"] + f["bursts_429"]
        and f["identical"]
    )


TABLE_START, TABLE_END = "<!-- expand table -->", "<!-- /expand table -->"


def markers(name: str) -> tuple[str, str]:
    """The markers of one table in the doc: the main one (``""``) or a named one (e.g. ``"held-out"``)."""
    if not name:
        return TABLE_START, TABLE_END
    return f"<!-- expand table {name} -->", f"<!-- /expand table {name} -->"


def render_table(rows: list[dict[str, Any]]) -> str:
    """The Markdown table of docs/PERFORMANCE.md "Comment trees", from the results (a test checks the two agree)."""
    lines = [
        "| shape | comments | seed | orphans | held: tombstones + never announced | requests: tree / more / info "
        "| PRAW: requests (held) | ÷ PRAW | ÷ morechildren bound | ÷ any-client bound "
        "| bounds ÷ PRAW: known root / one tree | vanished: cost ≤ cap | faults: failed → extra |",
        "|---|---:|---:|---|---|---|---|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        o, p, f, q = r["ours"], r["praw"], r["faults"], r["ours"]["requests"]
        lines.append(
            f"| {r['shape']} | {r['size']:,} | {r['seed']} | {r['orphans']} "
            f"| {o['held']:,}: {o['tombstones']} + {o['never_announced']}{'' if o['accounted'] else ' (NOT ALL)'} "
            f"| {o['total']}: {q.get('comments', 0)} / {q.get('morechildren', 0)} / {q.get('info', 0)} "
            f"| {p['total']} ({p['held']:,}) | {r['ratio_vs_praw']:.2f} | {r['ratio_vs_morechildren_bound']:.2f} "
            f"(LB {r['bounds']['morechildren']}) | {r['ratio_vs_any_client_bound']:.2f} "
            f"(LB {r['bounds']['any_client']}) "
            f"| {_over(r['known_root_bound_vs_praw'])} / {_over(r['one_tree_bound_vs_praw'])} "
            f"(LB {r['bounds']['known_root']} / {r['bounds']['one_tree']}) "
            f"| {o['vanished']}: {o['on_vanished']} ≤ {o['on_vanished_cap']} "
            f"| {f['injected_failures']} + {f['bursts_429']}×429 → +{f['extra_requests']}"
            f"{'' if f['identical'] else ' (DIFFERENT)'} |"
        )
    return "\n".join(lines)


def _over(ratio: float) -> str:
    """A bound's ratio to PRAW's requests, in bold where it alone misses the 0.25x target."""
    return f"**{ratio:.3f}**" if ratio > TARGETS["vs_praw"] else f"{ratio:.3f}"


def write_doc_table(doc: Path, rows: list[dict[str, Any]], name: str = "") -> None:
    """Replace the table between the markers ``name`` in ``doc``."""
    start, end = markers(name)
    text = doc.read_text(encoding="utf-8")
    head, found, rest = text.partition(start)
    if not found:
        raise SystemExit(f"{doc}: no {start} marker; add the pair {start} {end} where the table goes")
    _, _, tail = rest.partition(end)
    doc.write_text(f"{head}{start}\n{render_table(rows)}\n{end}{tail}", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,6000")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument(
        "--shapes", default=",".join(SHAPES), help=f"any of {', '.join(SHAPES + HELD_OUT_SHAPES)} (held out: the last)"
    )
    parser.add_argument("--orphans", default=",".join(ORPHAN_RULES))
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--from-json", help="render the table of these results (files joined by commas) into --doc, run nothing"
    )
    parser.add_argument("--doc", type=Path, help="write the table between the markers of this file")
    parser.add_argument("--table", default="", help='the named table\'s markers (e.g. "held-out"), not the main one')
    args = parser.parse_args()
    if args.from_json:
        rows = [row for name in args.from_json.split(",") for row in json.loads(Path(name).read_text(encoding="utf-8"))]
        if args.json:  # the results joined into one file
            args.json.write_text(json.dumps(rows, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        if args.doc:
            write_doc_table(args.doc, rows, args.table)
        print(render_table(rows))
        return 0
    logging.disable(logging.WARNING)  # the faults run logs every retry
    rows = []
    print(
        f"{'shape':>7} {'size':>6} {'seed':>4} {'orphans':>7} | {'true':>6} {'held':>6} {'tomb':>4} {'never':>5} | "
        f"{'req':>4} (tree/more/info) | {'PRAW':>5} {'held':>6} | {'xPRAW':>5} {'xMC':>5} {'xANY':>5} "
        f"{'KRxP':>5} {'1TxP':>5} | "
        f"{'van':>4} {'cost':>4} | {'fail':>4} {'extra':>5} | ok"
    )
    for shape in args.shapes.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            for seed in (int(s) for s in args.seeds.split(",")):
                for orphans in args.orphans.split(","):
                    row = bench_tree(shape, size, seed, orphans)
                    rows.append(row)
                    o, p, f, r = row["ours"], row["praw"], row["faults"], row["ours"]["requests"]
                    print(
                        f"{shape:>7} {size:>6} {seed:>4} {orphans:>7} | {row['true_comments']:>6} {o['held']:>6} "
                        f"{o['tombstones']:>4} {o['never_announced']:>5} | {o['total']:>4} "
                        f"({r.get('comments', 0)}/{r.get('morechildren', 0)}/{r.get('info', 0)}) | "
                        f"{p['total']:>5} {p['held']:>6} | {row['ratio_vs_praw']:>5.2f} "
                        f"{row['ratio_vs_morechildren_bound']:>5.2f} {row['ratio_vs_any_client_bound']:>5.2f} "
                        f"{row['known_root_bound_vs_praw']:>5.2f} {row['one_tree_bound_vs_praw']:>5.2f} | "
                        f"{o['vanished']:>4} {o['on_vanished']:>4} | "
                        f"{f['injected_failures']:>4} {f['extra_requests']:>5} | "
                        f"{'yes' if row['meets_targets'] else 'NO'}",
                        flush=True,
                    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if args.doc:
        write_doc_table(args.doc, rows, args.table)
    for r in rows:
        if not r["praw_target_reachable_one_tree"]:
            print(
                f"{r['shape']} {r['size']} seed {r['seed']} {r['orphans']}: 0.25x PRAW's {r['praw']['total']} "
                f"requests is below the {'known-root' if not r['praw_target_reachable'] else 'one-tree'} bound "
                f"({r['bounds']['known_root']} / {r['bounds']['one_tree']})"
            )
    return 0 if all(r["meets_targets"] for r in rows if r["size"] >= 2000) else 1


if __name__ == "__main__":
    sys.exit(main())
