"""One grammar: PATH first or --dataset PATH; data on stdout, messages on stderr; piped output whole."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from scraper.cli import DatasetCommand, main, parse_duration
from tests import forked

ROOT = Path(__file__).resolve().parents[1]
DATASET_COMMANDS = sorted(name for name, command in main.commands.items() if isinstance(command, DatasetCommand))


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset of two versions ingested from the recorded samples (skipped without ../shared)."""
    samples = ROOT.parent / "shared" / "reddit" / "samples"
    if not samples.is_dir():
        pytest.skip("../shared/reddit/samples is not present")
    folder = tmp_path_factory.mktemp("grammar") / "d"
    for name in ("comments_fjn0j9_2020_medium.json", "info_single_comment_2020.json"):
        result = run("ingest", str(folder), str(samples / name))
        assert result.exit_code == 0, result.stderr
    return folder


def test_every_command_but_download_takes_the_dataset_as_path_or_option() -> None:
    assert set(DATASET_COMMANDS) == set(main.commands) - {"download"}
    for name in DATASET_COMMANDS:
        text = run(name, "--help").stdout
        assert "PATH" in text.splitlines()[0] and "--dataset PATH" in text
    # download's dataset is where it installs: --to, or --dataset
    assert "--to, --dataset PATH" in run("download", "--help").stdout


@pytest.mark.parametrize(
    "args",
    [
        ("versions", "{d}"),
        ("show", "{d}", "--version", "v0001"),
        ("diff", "{d}", "v0001", "v0002"),
        ("validate", "{d}"),
    ],
)
def test_path_and_dataset_option_are_the_same(dataset: Path, args: tuple[str, ...]) -> None:
    command, _, *rest = args
    positional = run(command, str(dataset), *rest, "--json")
    for spelling in (["--dataset", str(dataset)], [f"--dataset={dataset}"]):
        aliased = run(command, *rest, "--json", *spelling)
        assert aliased.exit_code == positional.exit_code
        assert aliased.stdout == positional.stdout and aliased.stdout.strip()


def test_ingest_takes_the_dataset_first_or_as_option(tmp_path: Path, dataset: Path) -> None:
    files = [str(ROOT.parent / "shared" / "reddit" / "samples" / "comments_fjn0j9_2020_medium.json")]
    first = run("ingest", str(tmp_path / "a"), *files, "--json")
    second = run("ingest", *files, "--dataset", str(tmp_path / "b"), "--json")
    assert first.exit_code == second.exit_code == 0
    assert json.loads(first.stdout)["stats"] == json.loads(second.stdout)["stats"]


def test_dataset_given_twice_or_missing_is_a_usage_error(dataset: Path) -> None:
    twice = run("show", str(dataset), "--dataset", str(dataset))
    assert twice.exit_code == 2 and "given twice" in twice.stderr
    again = run("show", "--dataset", "a", "--dataset", "b")
    assert again.exit_code == 2 and "more than once" in again.stderr
    assert run("show").exit_code == 2
    dangling = run("show", "--dataset")
    assert dangling.exit_code == 2 and "requires an argument" in dangling.stderr


def test_tables_go_to_stdout_and_messages_to_stderr(dataset: Path) -> None:
    versions = run("versions", str(dataset))
    assert versions.stdout.splitlines()[0].split("\t")[0] == "version"  # not a terminal: tab-separated
    assert [line.split("\t")[0] for line in versions.stdout.splitlines()[1:]] == ["v0001", "v0002"]
    assert "latest: v0002" in versions.stderr and "latest" not in versions.stdout
    shown = run("show", str(dataset))
    fields = dict(line.split("\t", 1) for line in shown.stdout.splitlines() if "\t" in line)
    assert fields["parent"] == "v0001" and "comments.parquet" in fields
    assert shown.stderr == ""


def test_piped_output_is_never_wrapped_or_cut(dataset: Path) -> None:
    """A real process writing to a real pipe, with a narrow terminal declared: every created_at arrives whole.

    The process is forked from this one (tests/forked.py): the pipe and the process are real, the
    interpreter start is skipped."""
    env = {**os.environ, "COLUMNS": "40"}
    for command in ("versions", "show"):
        proc = forked.run(forked.cli(command, str(dataset)), env=env, cwd=ROOT, check=True)
        manifest = json.loads((dataset / "versions" / "v0002" / "manifest.json").read_text())
        assert manifest["created_at"] in proc.stdout
        assert "…" not in proc.stdout.replace("sha256", "")  # rich's ellipsis never cuts a value


def test_bad_duration_names_the_option(tmp_path: Path) -> None:
    result = run("collect", str(tmp_path), "--deadline", "5x")
    assert result.exit_code == 2
    assert "'--deadline'" in result.stderr and "'5x' is not a duration" in result.stderr


@pytest.mark.parametrize(("text", "seconds"), [("90", 90.0), ("90s", 90.0), ("45m", 2700.0), ("2h", 7200.0)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "m", "-3m", "0", "nan", "infh"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
