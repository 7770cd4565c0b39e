"""Cards say what happened and what is missing; validate's orphan threshold is a dataset setting."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scraper.cli import main
from scraper.collect.refresh import refresh
from scraper.collect.run import collect
from scraper.errors import InputError
from scraper.fake_reddit import FakeReddit
from scraper.publish.card import missing_context, missing_in_arrow, missing_in_duckdb
from scraper.publish.validate import validate
from tests.conftest import SAMPLES, examples, settings_for, write_spec
from tests.test_resilience import QUICK, SPEC, forest_of


def card(folder: Path, version: str = "v0001") -> str:
    return (folder / "versions" / version / "README.md").read_text(encoding="utf-8")


def statuses(folder: Path, orphan_warn: float | None = None) -> dict[str, str]:
    report = validate(folder, orphan_warn_share=orphan_warn)
    return {c.name: c.status for c in report.checks}


@pytest.fixture
def lone_comment(tmp_path: Path) -> Path:
    """A version ingested from one /api/info answer: a comment without its thread or its parent."""
    sample = SAMPLES / "info_single_comment_2020.json"
    if not sample.is_file():
        pytest.skip("../shared/reddit/samples is not present")
    folder = tmp_path / "ds"
    result = CliRunner().invoke(main, ["ingest", str(folder), str(sample)])
    assert result.exit_code == 0, result.stderr
    return folder


def test_an_ingested_card_claims_no_api_run_and_says_what_is_missing(lone_comment: Path) -> None:
    text = card(lone_comment)
    assert "Built by `ingest` from 1 saved file(s) of Reddit API responses (`info_single_comment_2020.json`)" in text
    assert "No request was made to Reddit and no search was run" in text
    assert "PRAW" not in text and "Queries" not in text and "OAuth" not in text
    assert "**What is missing.** 1 comments (100.0%) belong to 1 threads whose submission is not" in text


def test_orphans_fail_by_default_and_warn_under_the_dataset_setting(lone_comment: Path) -> None:
    assert statuses(lone_comment)["comment link_id has its submission"] == "fail"
    (lone_comment / "dataset.toml").write_text('[dataset]\nname = "lone"\n[validate]\norphan_warn = 1\n')
    got = statuses(lone_comment)
    assert got["comment link_id has its submission"] == "warn" and got["parent_id has its parent"] == "warn"
    assert validate(lone_comment).valid
    assert validate(lone_comment / "versions" / "v0001").valid  # a version folder reads its dataset's setting
    assert not validate(lone_comment, orphan_warn_share=0.5).valid  # the option wins over the setting
    cli = CliRunner().invoke(main, ["validate", str(lone_comment), "--orphan-warn", "0.5", "--json"])
    assert cli.exit_code == 1 and json.loads(cli.stdout)["valid"] is False


def test_a_bad_orphan_setting_is_named(lone_comment: Path) -> None:
    (lone_comment / "dataset.toml").write_text('[dataset]\nname = "lone"\n[validate]\norphan_warn = 3\n')
    with pytest.raises(InputError, match=r"dataset.toml: \[validate\] cannot be read"):
        validate(lone_comment)
    result = CliRunner().invoke(main, ["validate", str(lone_comment)])
    assert result.exit_code == 2 and "--orphan-warn" in result.stderr


def test_collected_and_refreshed_cards_say_what_ran(tmp_path: Path) -> None:
    folder = write_spec(tmp_path / "ds", SPEC)
    with FakeReddit(forest_of(60, 20), quota=10**9) as server:
        report = collect(folder, settings_for(server), retry=QUICK)
        refresh(folder, settings_for(server), retry=QUICK, write_unchanged=True)
    collected = card(folder)
    assert f"official Reddit Data API over OAuth (through PRAW) by run {report.run_id}." in collected
    assert "- Queries (sort relevance" in collected and "`quit machine learning`" in collected
    assert "Every comment's submission and parent comment are in this version." in collected
    refreshed = card(folder, "v0002")
    assert "Refreshed from version v0001" in refreshed and "No search was run." in refreshed
    assert "Queries" not in refreshed


def names(values: list[str]) -> pa.Array:
    return pa.array(values, type=pa.string())


def test_missing_context_counts() -> None:
    subs = pa.table({"name": names(["t3_a"])})
    comments = pa.table(
        {
            "name": names(["t1_1", "t1_2", "t1_3", "t1_4"]),
            "link_id": names(["t3_a", "t3_a", "t3_b", "t3_c"]),
            "parent_id": names(["t3_a", "t1_1", "t1_9", "t1_3"]),
        }
    )
    assert missing_context(subs, comments) == {
        "comments_without_submission": 2,
        "threads_not_held": 2,
        "comments_without_parent": 1,
    }


# names close to each other under SQL's rules: NULL, '' and LIKE's wildcards ('t1_%': any one character after t1)
NAMES = st.sampled_from([None, "", "t1_", "t1_a", "t1_b", "t1xa", "T1_a", "t1%", "t3_a", "t3_b", "t2_a"])


@given(
    subs=st.lists(NAMES, max_size=4),
    rows=st.lists(st.tuples(NAMES, NAMES, NAMES), max_size=8),
    as_files=st.booleans(),
)
@example(subs=[None], rows=[(None, None, None), ("t1_a", None, "t1_b")], as_files=False)  # NULL matches no NULL
@example(subs=["t3_a", "t3_a"], rows=[("t1_a", "t3_a", "t1xa"), ("t1xa", "t3_b", "t1_")], as_files=True)
@settings(max_examples=examples(30), deadline=None)
def test_missing_context_counts_the_same_in_arrow_and_in_duckdb(
    subs: list[str | None], rows: list[tuple[str | None, ...]], as_files: bool
) -> None:
    """Small versions are counted in Arrow, large ones by DuckDB's joins: the same counts (duplicates and NULLs too)."""
    submissions = pa.table({"name": pa.array(subs, pa.string())})
    comments = pa.table(
        {k: pa.array([r[i] for r in rows], pa.string()) for i, k in enumerate(("name", "link_id", "parent_id"))}
    )
    expected = missing_in_duckdb(submissions, comments)
    assert missing_in_arrow(submissions, comments) == expected
    if as_files:  # what the builder passes: its Parquet files, read through the size check
        with tempfile.TemporaryDirectory() as folder:
            paths = [Path(folder) / "s.parquet", Path(folder) / "c.parquet"]
            pq.write_table(submissions, paths[0])
            pq.write_table(comments.append_column("body", pa.array(["x"] * len(rows), pa.string())), paths[1])
            assert missing_context(*paths) == expected
            assert missing_in_duckdb(*paths) == expected


def test_a_merged_ingest_card_names_its_base(lone_comment: Path) -> None:
    sample = SAMPLES / "comments_fjn0j9_2020_medium.json"
    result = CliRunner().invoke(main, ["ingest", str(lone_comment), str(sample)])
    assert result.exit_code == 0, result.stderr
    text = card(lone_comment, "v0002")
    assert "(`comments_fjn0j9_2020_medium.json`), added to version v0001 (the newer sighting" in text
    assert "PRAW" not in text
