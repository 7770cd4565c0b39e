"""The winners of the final pass's first step, against a plain-Python reading of the same sightings.

``merge._winners`` streams the sightings sorted by key, newest first (a sighting the models refused
only when none of its key fits), and keeps the first row of each key; the per-key facts (held by the
base version, the base's largest depth) are reduced over key runs that may cross batch boundaries,
so the batch size is drawn small here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.normalize import merge, runs
from scraper.normalize.sightings import FOUND_SCHEMA
from tests.conftest import examples

SIGHTING = st.tuples(
    st.sampled_from(["t1_a", "t1_b", "t1_c", "t1_d", "t1_e"]),  # key
    st.integers(0, 3),  # retrieved_at (seconds)
    st.sampled_from(["t3_x", "t1_a", "t1_b"]),  # parent
    st.one_of(st.none(), st.integers(0, 12)),  # Reddit's depth
    st.booleans(),  # from the base version
    st.booleans(),  # refused by the models (``_qfield`` set): wins only when no sighting of its key fits (adv4 F4)
)


def _reference(sightings: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    rows = []
    for key in sorted({s[0] for s in sightings}):
        mine = [(s, seq) for seq, s in enumerate(sightings) if s[0] == key]
        fitting = [item for item in mine if not item[0][5]] or mine
        (winner, _) = max(fitting, key=lambda item: (item[0][1], item[1]))
        base_depths = [s[3] for s, _ in mine if s[4] and s[3] is not None]
        rows.append(
            {
                "_key": key,
                "_parent": winner[2],
                "_rdepth": winner[3],
                "_in_base": any(s[4] for s, _ in mine),
                "_base_depth": max(base_depths) if base_depths else None,
            }
        )
    return rows


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sightings=st.lists(SIGHTING, min_size=1, max_size=30), batch_rows=st.integers(1, 6), files=st.integers(1, 3))
def test_winners_streamed_in_any_batches_are_the_newest_sighting_and_the_key_facts(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    sightings: list[tuple[Any, ...]],
    batch_rows: int,
    files: int,
) -> None:
    folder = tmp_path_factory.mktemp("winners")
    paths: list[Path] = []
    for part in range(files):  # sightings dealt over several staging files, as worker parts are
        chosen = [(seq, s) for seq, s in enumerate(sightings) if seq % files == part]
        if not chosen:
            continue
        table = pa.table(
            {
                "_key": [s[0] for _, s in chosen],
                "retrieved_at": pa.array([s[1] * 1_000_000 for _, s in chosen], pa.timestamp("us", tz="UTC")),
                "_seq": pa.array([seq for seq, _ in chosen], pa.int64()),
                "_parent": [s[2] for _, s in chosen],
                "_rdepth": pa.array([s[3] for _, s in chosen], pa.int64()),
                "_pre": [s[4] for _, s in chosen],
                "_qfield": pa.array(["score" if s[5] else None for _, s in chosen], pa.string()),
            }
        )
        paths.append(folder / f"part{part}.arrow")
        table = table.append_column("_arch", pa.nulls(table.num_rows, pa.bool_()))
        runs.write_run(paths[-1], table.append_column("status", pa.nulls(table.num_rows, pa.string())))
    monkeypatch.setattr(merge, "BATCH_ROWS", batch_rows)
    monkeypatch.setattr(runs, "GROUP_ROWS", 2)
    got = merge._winners(paths, "comments", merge._NEWEST_FIRST, spill=folder / "spill")
    assert got is not None
    assert got.select(["_key", "_parent", "_rdepth", "_in_base", "_base_depth"]).to_pylist() == _reference(sightings)


_FOUND = "SELECT thread, list_sort(list(DISTINCT label)) AS labels FROM read_parquet({src}) GROUP BY thread"


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    findings=st.lists(
        st.tuples(st.sampled_from(["t3_a", "t3_b", "t3_\u00e9", "t3_A"]), st.sampled_from(["q:x", "q:y", "seed", "Q"])),
        max_size=30,
    ),
    files=st.integers(1, 3),
)
def test_found_labels_are_duckdbs_distinct_sorted_lists(
    tmp_path_factory: pytest.TempPathFactory, findings: list[tuple[str, str]], files: int
) -> None:
    """The labels that found each thread, against the DuckDB query merge ran before (until 2026-12-02)."""
    from scraper import duck

    folder = tmp_path_factory.mktemp("found")
    paths = []
    for part in range(files):
        chosen = findings[part::files]
        paths.append(folder / f"found{part}.parquet")
        pq.write_table(
            pa.table({"thread": [t for t, _ in chosen], "label": [lb for _, lb in chosen]}, FOUND_SCHEMA), paths[-1]
        )
    got = merge._found(paths)
    con = duck.connect()
    try:
        src = "[" + ", ".join(f"'{p}'" for p in paths) + "]"
        want = con.sql(_FOUND.format(src=src)).to_arrow_table()
    finally:
        con.close()
    assert got.schema == pa.schema([("thread", pa.string()), ("labels", pa.list_(pa.string()))])
    as_dict = dict(zip(got["thread"].to_pylist(), got["labels"].to_pylist(), strict=True))
    assert as_dict == dict(zip(want["thread"].to_pylist(), want["labels"].to_pylist(), strict=True))
    assert len(as_dict) == got.num_rows
