"""An operator's day: one-line errors, purge of unknown ids, diff values, one name, offline imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import scraper
from scraper import TOOL_NAME
from scraper.cli import main
from scraper.errors import InputError, SnapshotError
from scraper.store.purge import purge
from tests.conftest import SMALL_SPEC, write_spec
from tests.test_diff import versions, versions_once  # noqa: F401 - the fixtures: two hand-made versions

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


# -- credentials and options -------------------------------------------------------------
@pytest.fixture
def no_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no praw.ini of the project's
    for var in ("praw_client_id", "praw_client_secret", "praw_site", "praw_user_agent"):
        monkeypatch.delenv(var, raising=False)
    return write_spec(tmp_path / "ds", SMALL_SPEC)


def test_missing_credentials_is_one_line_naming_the_setting(no_credentials: Path) -> None:
    result = run("collect", str(no_credentials), "--oauth-url", "http://127.0.0.1:9")
    line = one_line(result.stderr)
    assert result.exit_code == 2
    assert "client_id is not set" in line and "praw_client_id" in line and "--site" in line


def test_praw_ini_section_missing_a_setting_names_it_and_the_section(no_credentials: Path) -> None:
    """A fresh process: PRAW reads praw.ini once per process."""
    (no_credentials.parent / "praw.ini").write_text("[study]\nclient_id=abc\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("praw_")}
    proc = subprocess.run(
        [sys.executable, "-m", "scraper", "collect", str(no_credentials), "--site", "study"],
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=no_credentials.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    line = one_line(proc.stderr)
    assert proc.returncode == 2 and "client_secret is not set" in line and "[study] section of praw.ini" in line


def test_unknown_site_is_one_line(no_credentials: Path) -> None:
    env = {"praw_client_id": "x", "praw_client_secret": "y"}
    result = run("collect", str(no_credentials), "--site", "nosuchsite", env=env)
    line = one_line(result.stderr)
    assert result.exit_code == 2 and "praw.ini has no section [nosuchsite]" in line and "praw_client_id" in line


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["collect", "{d}", "--deadline", "5x"], "'--deadline'"),
        (["collect", "{d}", "--max-requests", "zero"], "'--max-requests'"),
        (["diff", "{d}", "v1", "v2", "--ignore", "scroe"], "'--ignore'"),
        (["nosuchcommand"], "No such command"),
    ],
)
def test_usage_errors_are_one_line_naming_the_option(tmp_path: Path, args: list[str], named: str) -> None:
    folder = write_spec(tmp_path / "ds", SMALL_SPEC)
    result = run(*[a.replace("{d}", str(folder)) for a in args])
    line = one_line(result.stderr)
    assert result.exit_code == 2 and named in line and "--help" in line


def test_load_of_a_missing_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="does not exist"):
        scraper.load(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(SnapshotError, match="is a file"):
        scraper.load(tmp_path / "file")


@pytest.mark.parametrize("command", ["show", "versions", "purge", "publish", "diff"])
def test_a_version_folder_given_as_dataset_is_named(versions: Path, command: str) -> None:  # noqa: F811
    folder = versions / "versions" / "v0001"
    extra = {"purge": ["t1_c2"], "publish": ["--to", str(versions.parent / "pub")], "diff": ["v0001", "v0002"]}
    result = run(command, str(folder), *extra.get(command, []))
    line = one_line(result.stderr)
    assert result.exit_code == 2
    assert f"{folder} is a version folder, not a dataset: give the dataset folder {versions}" in line
    assert run("validate", str(folder)).exit_code == 0  # validate takes a version folder


# -- purge -------------------------------------------------------------------------------
def test_purge_of_an_unknown_fullname_records_nothing(versions: Path) -> None:  # noqa: F811
    def files() -> dict[Path, bytes]:
        return {p: p.read_bytes() for p in versions.rglob("*") if p.is_file() and p.name != ".lock"}

    before = files()
    result = run("purge", str(versions), "t1_c2", "t1_doesnotexist")
    assert result.exit_code == 1
    assert "t1_doesnotexist" in one_line(result.stderr) and "nothing was purged or recorded" in result.stderr
    assert files() == before
    with pytest.raises(InputError):
        purge(versions, ["t1_doesnotexist"])
    assert not (versions / "purges.jsonl").exists()


def test_purge_allow_missing_records_it(versions: Path) -> None:  # noqa: F811
    result = run("purge", str(versions), "t1_c2", "t1_doesnotexist", "--allow-missing", "--json")
    assert result.exit_code == 0
    entry = json.loads(result.stdout)
    assert entry["fullnames"] == ["t1_c2", "t1_doesnotexist"] and sum(entry["rows"].values()) == 2
    logged = [json.loads(line) for line in (versions / "purges.jsonl").read_text().splitlines()]
    assert logged[-1]["fullnames"] == ["t1_c2", "t1_doesnotexist"]


def test_purge_of_an_item_held_by_an_older_version_only(versions: Path) -> None:  # noqa: F811
    assert run("purge", str(versions), "t1_c4").exit_code == 0  # removed in v0002, still in v0001


# -- diff --------------------------------------------------------------------------------
def test_diff_values_old_to_new(versions: Path) -> None:  # noqa: F811
    human = run("diff", str(versions), "v0001", "v0002", "--values")
    assert human.exit_code == 0
    assert "comments t1_c2: " in human.stdout
    line = next(line for line in human.stdout.splitlines() if line.startswith("comments t1_c2: "))
    later = datetime(2024, 2, 1, tzinfo=UTC).isoformat()
    assert "score: 1 → 7" in line and "body: 'body c2' → 'edited'" in line and f"edited: null → {later}" in line
    assert "submissions t3_a: score: 5 → 9" in human.stdout
    data = json.loads(run("diff", str(versions), "v0001", "v0002", "--values", "--json").stdout)
    assert data["values"]["comments"]["t1_c2"]["score"] == [1, 7]
    assert data["values"]["submissions"] == {"t3_a": {"score": [5, 9]}}
    plain = json.loads(run("diff", str(versions), "v0001", "v0002", "--json").stdout)
    assert "values" not in plain


def test_diff_limit_bounds_the_values_listed(versions: Path) -> None:  # noqa: F811
    result = run("diff", str(versions), "v0001", "v0002", "--values", "--limit", "0")
    assert "t1_c2: " not in result.stdout


def test_diff_refuses_an_unknown_ignore_column(versions: Path) -> None:  # noqa: F811
    result = run("diff", str(versions), "v0001", "v0002", "--ignore", "score,scroe")
    assert result.exit_code == 2 and "no column 'scroe' in submissions or comments" in result.stderr
    assert run("diff", str(versions), "v0001", "v0002", "--ignore", " score , edited ").exit_code == 0


# -- one name, completion ------------------------------------------------------------------
def test_one_name_everywhere() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == TOOL_NAME and list(project["scripts"]) == [TOOL_NAME]
    assert run("--version").stdout.strip() == f"{TOOL_NAME}, version {scraper.__version__}"
    from scraper.sources.reddit import DEFAULT_USER_AGENT

    assert f":{TOOL_NAME}:" in DEFAULT_USER_AGENT


def test_shell_completion_as_documented() -> None:
    """click's completion, driven by the variable the README names."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "_REDDIT_RESEARCH_DATASET_COMPLETE": "bash_complete",
        "COMP_WORDS": f"{TOOL_NAME} ver",
        "COMP_CWORD": "1",
    }
    code = f"from scraper.cli import main; main(prog_name={TOOL_NAME!r})"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout.strip() == "plain,versions"
    readme = (ROOT / "README.md").read_text()
    assert f"_REDDIT_RESEARCH_DATASET_COMPLETE=bash_source {TOOL_NAME}" in readme


# -- offline commands do not import praw -----------------------------------------------------
OFFLINE = """
import json, sys
import scraper.ingest
assert "praw" not in sys.modules and "prawcore" not in sys.modules, "import scraper.ingest loaded praw"
from scraper.cli import main
assert "praw" not in sys.modules and "prawcore" not in sys.modules, "import scraper.cli loaded praw"
codes = []
for args in json.loads(sys.argv[1]):
    try:
        main(args, prog_name="test")
    except SystemExit as exc:
        codes.append(exc.code)
import scraper
scraper.load(sys.argv[2]).to_pandas("comments")
print(json.dumps({"codes": codes, "loaded": sorted(m for m in ("praw", "prawcore") if m in sys.modules)}))
"""


def test_offline_commands_never_import_praw(versions: Path, tmp_path: Path) -> None:  # noqa: F811
    """Importing scraper.ingest and scraper.cli, then ingest, validate, show, versions, diff, load: one interpreter."""
    samples = ROOT.parent / "shared" / "reddit" / "samples"
    commands = [
        ["versions", str(versions)],
        ["show", str(versions)],
        ["diff", str(versions), "v0001", "v0002", "--values"],
        ["validate", str(versions)],
    ]
    if samples.is_dir():
        commands.append(["ingest", str(tmp_path / "new"), str(samples / "comments_fjn0j9_2020_medium.json")])
    proc = subprocess.run(
        [sys.executable, "-c", OFFLINE, json.dumps(commands), str(versions)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    outcome = json.loads(proc.stdout.strip().splitlines()[-1])
    assert outcome == {"codes": [0] * len(commands), "loaded": []}


# -- --summary on every command that runs unattended ------------------------------------------
UNATTENDED = ["collect", "refresh", "ingest", "dumps", "validate", "publish", "download", "purge"]


@pytest.mark.parametrize("command", UNATTENDED)
def test_every_unattended_command_takes_summary(command: str) -> None:
    assert "--summary FILE" in run(command, "--help").stdout


def test_summary_is_written_however_the_command_ends(tmp_path: Path) -> None:
    bad = tmp_path / "not-reddit.json"
    bad.write_text('{"hello": 1}')
    summary = tmp_path / "logs" / "ingest.json"
    result = run("ingest", str(tmp_path / "d"), str(bad), "--summary", str(summary))
    assert result.exit_code == 1
    written = json.loads(summary.read_text())
    assert written["command"] == "ingest" and written["exit_code"] == 1 and "not-reddit.json" in written["error"]
    assert written["dataset"] == str(tmp_path / "d") and written["finished_at"] >= written["started_at"]
