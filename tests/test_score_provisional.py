"""``score_provisional`` flags first-fetch scores, not the normal ~36 h re-fetch (adversarial review 7, F7).

ARCTIC-SHIFT-AND-DUMPS §1.4: every item is fetched at creation and again ~36 h later; until then scores
"will be 1 or 0".  A 48 h threshold flagged practically every row from 2023-11 on.  The threshold is
24 h (between the two fetches) on the model path (``archive_facts``) and the dump path (DuckDB SQL).
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.normalize.archive import MATURE_SECONDS, archive_facts, counts_settled
from tests.conftest import examples
from tests.test_dumps import _flat_rows, _model_values

CREATED = 1_735_689_600
HOUR = 3600
#: fetch offsets after creation: first fetches (seconds, minutes), early and normal re-fetches, late ones
OFFSET = st.one_of(
    st.sampled_from([5, 600, 23 * HOUR, MATURE_SECONDS - 1, MATURE_SECONDS, 30 * HOUR, 36 * HOUR, 48 * HOUR]),
    st.integers(min_value=1, max_value=90 * 24 * HOUR),
)


def test_the_normal_second_fetch_is_mature_and_a_first_fetch_is_not() -> None:
    line = {"id": "k1", "created_utc": CREATED, "retrieved_on": CREATED + 10, "body": "b", "author": "a"}
    assert "score_provisional" in archive_facts(line, "t1").flags  # fetched once, at creation
    line["_meta"] = {"retrieved_2nd_on": CREATED + 36 * HOUR}
    assert "score_provisional" not in archive_facts(line, "t1").flags  # the reference's ~36 h re-fetch
    line["_meta"] = {"retrieved_2nd_on": CREATED + 30 * HOUR}
    assert "score_provisional" not in archive_facts(line, "t1").flags  # a re-fetch a little early
    post = {"id": "p", "created_utc": CREATED, "retrieved_on": CREATED + 10, "_meta": line["_meta"]}
    assert counts_settled(post)  # its num_comments is believed too


@settings(max_examples=examples(20), deadline=None)
@given(
    kind=st.sampled_from(["t1", "t3"]),
    cases=st.lists(st.tuples(OFFSET, st.one_of(st.none(), OFFSET)), min_size=1, max_size=20),
)
def test_both_paths_flag_a_score_fetched_less_than_a_day_after_creation(
    kind: str, cases: list[tuple[int, int | None]]
) -> None:
    objs = []
    for n, (first, second) in enumerate(cases):
        obj: dict[str, Any] = {
            "id": f"x{n}",
            "created_utc": CREATED,
            "subreddit": "MachineLearning",
            "subreddit_id": "t5_2r3gv",
            "author": "alice",
            "score": 3,
            "retrieved_on": CREATED + first,
        }
        if second is not None:
            obj["_meta"] = {"retrieved_2nd_on": CREATED + second}
        if kind == "t1":
            obj.update(link_id="t3_p", parent_id="t3_p", body="text")
        else:
            obj.update(title="t", selftext="text")
        objs.append(obj)
    flat = _flat_rows(objs, kind, "dump:x")
    for obj, (first, second) in zip(objs, cases, strict=True):
        model = _model_values(obj, kind, "dump:x")
        model["status"] = str(model["status"])
        assert flat[model["name"]] == model, obj
        latest = max(first, second or 0)
        assert ("score_provisional" in model["archive_flags"]) is (latest < 24 * HOUR), obj
