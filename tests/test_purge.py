"""purge: no trace of the text in any version or the raw archive, searched byte by byte."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
from click.testing import CliRunner

from scraper.cli import main
from scraper.collect.refresh import refresh
from scraper.collect.run import collect
from scraper.fake_reddit import FakeReddit, Forest
from scraper.fake_reddit.generate import generate_thread
from scraper.publish.validate import validate
from tests.conftest import settings_for, write_spec

SECRET = "PLEASE-REMOVE-my-words-4242"
SPEC = """
[dataset]
name = "purge"
[discovery]
subreddits = ["MachineLearning"]
queries = ["quit"]
"""


def every_byte(folder: Path) -> bytes:
    """Every file's bytes, with gzip members and Parquet tables decoded."""
    out = b""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        out += data
        if path.suffix == ".gz":
            out += gzip.decompress(data)
        if path.suffix == ".parquet":
            out += json.dumps(pq.read_table(path).to_pylist(), default=str, ensure_ascii=False).encode()
    return out


def card_and_counts(version: Path) -> tuple[str, dict[str, int]]:
    """A version's card and its rows by status, counted over both tables."""
    counts: Counter[str] = Counter()
    for stem in ("submissions", "comments"):
        counts.update(pq.read_table(version / f"{stem}.parquet", columns=["status"])["status"].to_pylist())
    return (version / "README.md").read_text(encoding="utf-8"), dict(sorted(counts.items()))


def test_purge_leaves_no_trace_and_keeps_everything_valid(tmp_path: Path) -> None:
    forest = Forest()
    sub, comments = generate_thread("p0", 60, seed=4, title="I quit ML", deleted_rate=0)
    target = comments[10]
    target["body"] = f"some text {SECRET} more text"
    forest.add_thread(sub, comments)
    folder = write_spec(tmp_path / "ds", SPEC)
    with FakeReddit(forest, quota=10**9) as server:
        collect(folder, settings_for(server))
        forest.threads["p0"].comments[comments[11]["id"]]["score"] += 5
        refresh(folder, settings_for(server))  # a second version, and a second raw archive
    assert SECRET.encode() in every_byte(folder)
    before = {v: card_and_counts(folder / "versions" / v) for v in ("v0001", "v0002")}
    name = target["name"]
    result = CliRunner().invoke(main, ["purge", str(folder), name, "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["rows"] == {"v0001": 1, "v0002": 1} and sum(report["raw_things"].values()) >= 2
    assert SECRET.encode() not in every_byte(folder)
    for version in ("v0001", "v0002"):
        row = next(
            r
            for r in pq.read_table(folder / "versions" / version / "comments.parquet").to_pylist()
            if r["name"] == name
        )
        assert (row["status"], row["body"], row["author"]) == ("purged", "", None)
        assert row["parent_id"] == target["parent_id"]
        manifest = json.loads((folder / "versions" / version / "manifest.json").read_text())
        assert manifest["purges"][0]["items"] == 1
        # the manifest's and the card's counts are those of the purged tables: one visible row fewer
        card, counts = card_and_counts(folder / "versions" / version)
        old_card, old_counts = before[version]
        assert counts == {**old_counts, "visible": old_counts["visible"] - 1, "purged": 1}
        assert manifest["stats"]["status"] == counts
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        assert f"Statuses: {statuses}." in card and card.count("Statuses:") == 1
        for file, info in manifest["files"].items():  # each file's line has its new size and checksum
            assert f"| {file} | {info['rows']} | {info['bytes']} | `{info['sha256']}` |" in card
        assert [line for line in card.splitlines() if line not in old_card.splitlines()] == [
            line for line in card.splitlines() if line.startswith(("| comments.parquet |", "Statuses:"))
        ]
    assert validate(folder).valid
    log = [json.loads(line) for line in (folder / "purges.jsonl").read_text().splitlines()]
    assert log[0]["fullnames"] == [name]


def test_purge_refuses_what_is_not_a_fullname(tmp_path: Path) -> None:
    folder = write_spec(tmp_path / "ds", SPEC)
    result = CliRunner().invoke(main, ["purge", str(folder), "hello"])
    assert result.exit_code == 1 and "not fullnames: hello" in result.stderr
