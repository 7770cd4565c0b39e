"""Adversarial review 10: refused inputs create nothing; a dumps folder needs its spec; cut lines are named."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.cli import main
from scraper.dumps import Chunk, Rule, filter_chunk
from scraper.fake_arctic_shift.dumpfiles import write_zst
from scraper.store.snapshot import Dataset
from tests.conftest import write_spec

SPEC = """
[dataset]
name = "review10"

[archive]
subreddits = ["machinelearning"]
after = "2006-01-01"
before = "2030-01-01"
"""

POST: dict[str, Any] = {
    "id": "abc",
    "created_utc": 1_420_070_400,
    "subreddit": "MachineLearning",
    "title": "I quit",
    "selftext": "leaving",
    "author": "alice",
    "num_comments": 0,
}
OTHER = {**POST, "id": "xyz", "subreddit": "aww"}


def _run(*args: str) -> Any:
    return CliRunner().invoke(main, [*args])


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else ["(missing)"]


# F1: dumps into a folder without dataset.toml is refused; --all opts in to every line.


@pytest.mark.parametrize("exists", [False, True], ids=["missing-folder", "empty-folder"])
def test_dumps_without_a_spec_is_refused_and_creates_nothing(tmp_path: Path, exists: bool) -> None:
    files = write_zst(tmp_path / "RS_2015-01.zst", [POST, OTHER])
    target = tmp_path / "mistyped"
    if exists:
        target.mkdir()
    result = _run("dumps", str(target), str(files))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and str(target) in lines[0] and "dataset.toml" in lines[0] and "--all" in lines[0]
    assert "Traceback" not in result.output
    assert target.exists() is exists and (not exists or not any(target.iterdir()))


def test_dumps_all_keeps_every_line_without_a_spec(tmp_path: Path) -> None:
    files = write_zst(tmp_path / "RS_2015-01.zst", [POST, OTHER])
    target = tmp_path / "everything"
    result = _run("dumps", str(target), str(files), "--all")
    assert result.exit_code == 0, result.output
    manifest = Dataset(target).manifest("v0001")
    assert manifest["stats"]["submissions"] == 2 and manifest["spec_sha256"] is None


def test_dumps_all_with_a_spec_is_refused(tmp_path: Path) -> None:
    files = write_zst(tmp_path / "RS_2015-01.zst", [POST, OTHER])
    target = write_spec(tmp_path / "ds", SPEC)
    result = _run("dumps", str(target), str(files), "--all")
    assert result.exit_code == 2, result.output
    assert "--all" in result.output and "dataset.toml" in result.output
    assert _tree(target) == ["dataset.toml"]
    assert _run("dumps", str(target), str(files)).exit_code == 0  # the spec's lines: one post
    assert Dataset(target).manifest("v0001")["stats"]["submissions"] == 1


# F2: an input refused by ingest or dumps creates nothing (no folder, no .lock).

BAD = {
    "ingest": ["missing.json", "a-folder", "RC_2015-01.zst"],  # the last: a dump file, which ingest does not read
    "dumps": ["RS_2015-02.zst", "a-folder", "stuff.zst"],  # missing; a folder; not a dump file name
}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    command=st.sampled_from(["ingest", "dumps"]),
    goods=st.integers(min_value=0, max_value=3),
    bad=st.integers(min_value=0, max_value=2),
    position=st.integers(min_value=0, max_value=3),
    keep_all=st.booleans(),
)
def test_a_refused_input_creates_nothing(
    tmp_path: Path, command: str, goods: int, bad: int, position: int, keep_all: bool
) -> None:
    """Whatever good files come with it, wherever the bad one stands: exit 1 (2), the bad one named, nothing made."""
    inputs = tmp_path / "in"
    if not inputs.exists():
        inputs.mkdir()
        (inputs / "a-folder").mkdir()
        (inputs / "a.json").write_text("{}", encoding="utf-8")
        write_zst(inputs / "RS_2015-01.zst", [POST])
        write_zst(inputs / "RC_2015-01.zst", [])
        (inputs / "stuff.zst").write_bytes(b"")
    good = "a.json" if command == "ingest" else "RS_2015-01.zst"
    names = [good] * goods
    names.insert(min(position, len(names)), BAD[command][bad])
    target = tmp_path / f"new-{uuid.uuid4().hex}"
    extra = ["--all"] if command == "dumps" and keep_all else []
    result = _run(command, str(target), *(str(inputs / n) for n in names), *extra)
    folder_to_dumps = command == "dumps" and bad == 1  # refused by click's argument type: a usage error
    assert result.exit_code == (2 if folder_to_dumps else 1), result.output
    assert BAD[command][bad] in result.output and "Traceback" not in result.output
    assert not target.exists(), _tree(target)


def test_ingest_refused_input_leaves_an_existing_dataset_as_it_was(tmp_path: Path) -> None:
    target = write_spec(tmp_path / "ds", SPEC)
    result = _run("ingest", str(target), str(tmp_path / "nothere.json"))
    assert result.exit_code == 1 and "no such file" in result.output
    assert _tree(target) == ["dataset.toml"]


# F3: a cut line is "not valid JSON"; valid JSON of another kind says which kind.


def _quarantined(data: bytes) -> list[dict[str, Any]]:
    return filter_chunk(Chunk("RS_2015-01.zst", "t3", 7, data), Rule()).quarantined


@settings(max_examples=25, deadline=None)
@given(
    cuts=st.lists(
        st.tuples(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=12), max_size=4), st.floats(0, 1)),
        min_size=1,
        max_size=12,
    )
)
def test_any_prefix_of_an_object_line_is_not_valid_json(cuts: list[tuple[dict[str, str], float]]) -> None:
    """Lines cut anywhere (between whole ones): each is quarantined as not valid JSON, with its file and line."""
    good = json.dumps(POST).encode()
    lines = [good]
    for post, where in cuts:
        line = json.dumps({**POST, **post}).encode()  # ASCII: every prefix is UTF-8
        lines += [line[: 1 + int(where * (len(line) - 2))], good]
    entries = _quarantined(b"\n".join(lines) + b"\n")
    assert [e["line"] for e in entries] == [7 + 2 * i + 1 for i in range(len(cuts))]
    for entry in entries:
        assert entry["error"].startswith("not valid JSON: "), entry
        assert (entry["file"], entry["field"]) == ("RS_2015-01.zst", "line")


@settings(max_examples=25, deadline=None)
@given(
    values=st.lists(
        st.recursive(st.none() | st.booleans() | st.integers() | st.text(), lambda inner: st.lists(inner)),
        min_size=1,
        max_size=12,
    )
)
def test_valid_json_that_is_no_object_says_so(values: list[Any]) -> None:
    entries = _quarantined(b"".join(json.dumps(value).encode() + b"\n" for value in values))
    assert [e["line"] for e in entries] == [7 + i for i in range(len(values))]
    for entry in entries:
        assert entry["error"].startswith("valid JSON but not an object: "), entry


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b'{"id": "trunc", "title": "quit', "not valid JSON: Unterminated string starting at column 26"),
        (b"[1, 2, 3]", "valid JSON but not an object: an array"),
        (b'"a string"', "valid JSON but not an object: a string"),
        (b"null", "valid JSON but not an object: null"),
        (b"42", "valid JSON but not an object: a number"),
        (b"NaN", "not valid JSON: NaN is not JSON"),
        (b"{} x", "not valid JSON: Extra data at column 4"),
    ],
)
def test_the_reason_names_what_is_wrong(tmp_path: Path, line: bytes, error: str) -> None:
    """End to end: the quarantine file's entry for the line, with its file and line number."""
    folder = write_spec(tmp_path / "ds", SPEC)
    files = write_zst(tmp_path / "RS_2015-01.zst", [POST, line, OTHER])
    result = _run("dumps", str(folder), str(files))
    assert result.exit_code == 0, result.output
    (entry,) = (json.loads(x) for x in (folder / "quarantine" / "v0001.jsonl").read_text().splitlines())
    assert (entry["file"], entry["line"], entry["error"]) == ("RS_2015-01.zst", 2, error)
