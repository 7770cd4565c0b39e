"""The version card's YAML header is written by a YAML writer: any title reads back unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scraper.ingest import ingest
from scraper.publish.card import front_matter, render_card
from scraper.spec import load_spec
from tests.conftest import examples, write_spec


def header_of(card: str) -> dict[str, Any]:
    """The YAML between the card's first two ``---`` lines, parsed."""
    lines = card.split("\n")
    assert lines[0] == "---"
    end = lines.index("---", 1)
    parsed = yaml.safe_load("\n".join(lines[1:end]))
    assert isinstance(parsed, dict)
    return parsed


HOSTILE = [
    'It\'s "quoted" both ways',
    "back\\slash \\n not a newline \\\\",
    "two\nlines\r\nand\ttabs",
    "key: value # not a comment",
    "---\n---",
    "yes",
    "null",
    "1.5e3",
    "- a list?",
    "{flow: map}",
    "émoji 🧪 and 漢字 and \u2028 line separator \x85 NEL",
    "   leading and trailing spaces   ",
    "",
]


@given(st.text(max_size=80))
@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_title_round_trips_through_the_yaml_header(title: str) -> None:
    header = header_of(front_matter(title, 10))
    assert header["pretty_name"] == title
    assert header["size_categories"] == ["n<1K"]
    assert header["configs"][0] == {"config_name": "comments", "data_files": "comments.parquet", "default": True}


@given(st.sampled_from(HOSTILE))
@example(HOSTILE[0])
@settings(max_examples=len(HOSTILE), deadline=None)
def test_hostile_titles_round_trip(title: str) -> None:
    assert header_of(front_matter(title, 5_000))["pretty_name"] == title


def test_a_written_version_card_has_a_parseable_header(tmp_path: Path) -> None:
    title = "Leaving ML: \"why\" & 'how' \\ — a study\nsecond line"
    escaped = title.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    folder = write_spec(tmp_path / "ds", f'[dataset]\nname = "cards"\ntitle = "{escaped}"\n')
    spec, _ = load_spec(folder)
    assert spec.dataset.title == title
    tree = tmp_path / "t.json"
    tree.write_text(
        '[{"kind":"Listing","data":{"children":[{"kind":"t3","data":{"id":"c1","name":"t3_c1","title":"t",'
        '"selftext":"s","author":"a","subreddit":"x","created_utc":1700000000,"num_comments":0,"score":1,'
        '"permalink":"/r/x/comments/c1/t/"}}]}},{"kind":"Listing","data":{"children":[]}}]'
    )
    manifest = ingest(folder, [tree])
    card = (folder / "versions" / manifest["version"] / "README.md").read_text(encoding="utf-8")
    header = header_of(card)
    assert header["pretty_name"] == title and header["license"] == "other"
    assert header_of(render_card(manifest, spec, {}))["pretty_name"] == title
