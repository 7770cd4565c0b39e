"""The data dictionary: generated from the models, complete, current, summarized in cards; Snapshot's short repr."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import TypeAdapter

import scraper
from schemas import MODELS, STATUS_RULES, Status
from schemas.dictionary import DICTIONARY_PATH, card_summary, dictionary_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_committed_dictionary_matches_the_models() -> None:
    assert DICTIONARY_PATH == ROOT / "docs" / "SCHEMA.md"
    assert DICTIONARY_PATH.read_text(encoding="utf-8") == dictionary_markdown(), "run: python -m schemas"


@pytest.mark.parametrize("stem", sorted(MODELS))
def test_every_column_has_meaning_example_and_reddit_source(stem: str) -> None:
    text = dictionary_markdown()
    for name, info in MODELS[stem].model_fields.items():
        assert info.description, name
        assert info.examples and len(info.examples) == 1, name
        TypeAdapter(info.annotation).validate_python(info.examples[0])  # the example is a value of the column
        extra = info.json_schema_extra
        assert isinstance(extra, dict) and extra.get("reddit"), name
        assert f"| `{name}` | `" in text, name


def test_every_status_has_its_rule() -> None:
    assert set(STATUS_RULES) == set(Status)
    text = dictionary_markdown()
    for status in Status:
        assert f". `{status.value}`: " in text


def test_card_summary_lists_every_column_once_per_table() -> None:
    lines = card_summary()
    for stem, model in MODELS.items():
        start = lines.index(f"`{stem}.parquet`:") + 4  # the title, a blank line, the header and its rule
        rows = lines[start : start + len(model.model_fields)]
        assert [r.split("`")[1] for r in rows] == list(model.model_fields)
        assert lines[start + len(model.model_fields)] == ""


def test_every_version_card_carries_the_summary(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scraper.cli import main

    sample = ROOT.parent / "shared" / "reddit" / "samples" / "comments_fjn0j9_2020_medium.json"
    if not sample.is_file():
        pytest.skip("../shared/reddit/samples is not present")
    assert CliRunner().invoke(main, ["ingest", str(tmp_path / "d"), str(sample)]).exit_code == 0
    card = (tmp_path / "d" / "versions" / "v0001" / "README.md").read_text()
    assert "## Columns" in card and "`docs/SCHEMA.md`" in card
    for name in MODELS["comments"].model_fields:
        assert f"| `{name}` |" in card
    snap = scraper.load(tmp_path / "d")
    text = repr(snap)
    assert text.startswith("<Snapshot ") and " v0001: schema " in text
    assert len(text.splitlines()) <= 8 and len(text) < 800  # a summary, not the manifest and the tables
    assert f"comments     {snap.comments.num_rows:,} rows × {snap.comments.num_columns} columns" in text
    assert str(snap) == text
