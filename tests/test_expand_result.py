"""The result of an expansion names its thread and Reddit's own comment count (what the manifest records)."""

from __future__ import annotations

from typing import Any

from scraper.collect.expand import Expansion, TreeResult, expand_thread
from tests.test_expand import Scripted, more, t1, tree


def test_the_result_names_its_thread_and_reddits_count_and_survives_json() -> None:
    shown = [t1(f"s{i}", "t1_p", depth=1) for i in range(5)]
    first = tree([t1("p", "t3_L", [*shown, more("t1_p", ["x"], count=2)])])

    def more_answer(ids: list[str]) -> list[Any]:
        return [t1("x", "t1_p", depth=1), t1("x1", "t1_x", depth=2)]

    result = expand_thread(Scripted(first, more_answer), "L", expansion=Expansion("L"))
    assert (result.link, result.num_comments, result.held) == ("L", 99, 1 + 5 + 2)  # tree() says 99
    assert result.complete and TreeResult.from_json(result.as_json()) == result
