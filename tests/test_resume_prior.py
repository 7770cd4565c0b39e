"""A resumed run reads its cut-off archive in two streaming passes and keeps only what it replays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.collect.run import Prior
from scraper.store.raw import RawArchive
from tests.conftest import examples


def _answer(thread: str, n: int) -> dict[str, Any]:
    return {
        "url": f"https://oauth.reddit.com/comments/{thread[3:]}/",
        "params": {"n": n},
        "status": 200,
        "body": "[]",
        "context": {"thread": thread},
    }


def _search(sub: str, after: str | None) -> dict[str, Any]:
    return {
        "url": f"https://oauth.reddit.com/r/{sub}/search",
        "params": {"q": "quit", "after": after},
        "status": 200,
        "body": "{}",
        "context": {},
    }


@settings(max_examples=examples(25), deadline=None)
@given(
    plan=st.lists(
        st.one_of(
            st.tuples(st.just("answer"), st.sampled_from(["t3_a", "t3_b", "t3_c"])),
            st.tuples(st.just("done"), st.sampled_from(["a", "b", "c"])),
            st.tuples(st.just("search"), st.sampled_from(["MachineLearning", "cscareerquestions"])),
            st.tuples(st.just("info"), st.just("")),
        ),
        max_size=30,
    )
)
def test_prior_keeps_events_search_pages_and_answers_of_unfinished_threads_only(
    tmp_path_factory: Any, plan: list[tuple[str, str]]
) -> None:
    path = tmp_path_factory.mktemp("prior") / "run.jsonl.gz"
    written: list[dict[str, Any]] = []
    with RawArchive(path) as archive:
        for n, (kind, what) in enumerate(plan):
            if kind == "answer":
                record = _answer(what, n)
            elif kind == "done":
                record = {"event": "thread", "link": what, "result": {}}
            elif kind == "search":
                record = _search(what, str(n))
            else:
                record = {"url": "https://oauth.reddit.com/api/info", "params": {"id": "t3_a"}, "status": 200}
            archive.append(record)
            written.append(record)
    prior = Prior.read(path)
    finished = {f"t3_{r['link']}" for r in written if "event" in r}
    assert [e["link"] for e in prior.events] == [r["link"] for r in written if "event" in r]
    assert [r["params"] for r in prior.searches] == [r["params"] for r in written if "search" in r.get("url", "")]
    expected: dict[str, list[Any]] = {}
    for r in written:
        thread = (r.get("context") or {}).get("thread")
        if thread and thread not in finished:
            expected.setdefault(thread, []).append(r["params"]["n"])
    assert {t: [r["params"]["n"] for r in rs] for t, rs in prior.answers.items()} == expected


def test_no_archive_is_an_empty_prior(tmp_path: Path) -> None:
    prior = Prior.read(tmp_path / "missing.jsonl.gz")
    assert (prior.events, prior.searches, prior.answers) == ([], [], {})
