"""The command line: help on every command, documented in the README, one-line errors, exit codes."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from scraper.cli import main
from scraper.fake_reddit import FakeReddit
from scraper.fake_reddit.server import CLIENT_ID, CLIENT_SECRET
from scraper.sources.pacing import Clock
from tests.conftest import SMALL_SPEC, write_spec

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = sorted(main.commands)


def run(*args: str, env: dict[str, str] | None = None) -> click.testing.Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def reddit_env(server: FakeReddit) -> dict[str, str]:
    return {
        "SCRAPER_OAUTH_URL": server.url,
        "SCRAPER_REDDIT_URL": server.url,
        "praw_client_id": CLIENT_ID,
        "praw_client_secret": CLIENT_SECRET,
        "praw_user_agent": "python:tests:0 (cli)",
    }


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example_and_is_in_the_readme(command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0
    assert "Example:" in result.stdout
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"python -m scraper {command}" in readme


def test_collect_ingest_show_versions_round_trip_with_json(tmp_path: Path, fake_reddit: FakeReddit) -> None:
    folder = write_spec(tmp_path / "ds", SMALL_SPEC)
    result = run("collect", "--dataset", str(folder), "--json", env=reddit_env(fake_reddit))
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["version"] == "v0001" and summary["comments_held"] == 20
    assert "comments held / stated" in result.stderr  # people's output goes to stderr

    versions = run("versions", str(folder), "--json")
    assert json.loads(versions.stdout)["latest"] == "v0001"
    shown = run("show", str(folder), "--version", "v0001", "--json")
    manifest = json.loads(shown.stdout)
    assert manifest["files"]["comments.parquet"]["rows"] == 20


def test_ingest_writes_a_version(tmp_path: Path, samples: Path) -> None:
    result = run(
        "ingest", "--dataset", str(tmp_path / "new"), str(samples / "comments_fjn0j9_2020_medium.json"), "--json"
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["stats"]["comments"] == 114
    assert "wrote" in result.stderr


def test_exit_1_on_bad_input_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "not-reddit.json"
    bad.write_text('{"hello": 1}')
    result = run("ingest", "--dataset", str(tmp_path / "d"), str(bad))
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "not-reddit.json" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "d" / "versions").exists()


def test_exit_1_on_unknown_version(tmp_path: Path, samples: Path) -> None:
    run("ingest", "--dataset", str(tmp_path / "d"), str(samples / "info_single_comment_2020.json"))
    result = run("show", str(tmp_path / "d"), "--version", "v0042")
    assert result.exit_code == 1 and "no version 'v0042'" in result.stderr


def test_exit_1_when_a_subreddit_is_unavailable_but_the_version_is_written(
    tmp_path: Path, fake_reddit: FakeReddit
) -> None:
    spec = SMALL_SPEC.replace('["MachineLearning"]', '["MachineLearning", "nosuchsub"]')
    folder = write_spec(tmp_path / "ds", spec)
    result = run("collect", "--dataset", str(folder), env=reddit_env(fake_reddit))
    assert result.exit_code == 1
    assert "r/nosuchsub" in result.stderr
    assert (folder / "versions" / "v0001" / "manifest.json").is_file()


def test_exit_2_on_bad_dataset_toml(tmp_path: Path) -> None:
    folder = write_spec(tmp_path / "ds", '[dataset]\nname = "x"\n[discovery]\nsort = "sideways"\n')
    result = run("collect", "--dataset", str(folder))
    assert result.exit_code == 2
    assert "dataset.toml: [discovery.sort]" in result.stderr


def test_exit_2_on_toml_syntax_and_missing_spec(tmp_path: Path) -> None:
    folder = write_spec(tmp_path / "ds", "[dataset\n")
    assert run("collect", "--dataset", str(folder)).exit_code == 2
    result = run("collect", "--dataset", str(tmp_path / "empty"))
    assert result.exit_code == 2 and "dataset.toml" in result.stderr


def test_exit_2_on_missing_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for var in ("praw_client_id", "praw_client_secret", "praw_site"):
        monkeypatch.delenv(var, raising=False)
    folder = write_spec(tmp_path / "ds", SMALL_SPEC)
    result = run("collect", "--dataset", str(folder), "--oauth-url", "http://127.0.0.1:9")
    assert result.exit_code == 2 and "praw_client_id" in result.stderr


def test_exit_2_on_usage_error() -> None:
    assert run("show").exit_code == 2


def test_exit_75_when_reddit_is_unreachable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []  # the backoff before the retry is asked for, not slept through
    monkeypatch.setattr(Clock, "sleep", lambda self, seconds: waits.append(seconds))
    with socket.socket() as sock:  # a port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    folder = write_spec(tmp_path / "ds", SMALL_SPEC)
    env = {
        "SCRAPER_OAUTH_URL": url,
        "SCRAPER_REDDIT_URL": url,
        "praw_client_id": "x",
        "praw_client_secret": "y",
        "praw_user_agent": "python:tests:0 (cli)",
    }
    result = run("collect", "--dataset", str(folder), "--max-retries", "1", env=env)
    assert result.exit_code == 75
    assert waits and all(w > 0 for w in waits)  # it backed off and retried before giving up
    assert "try again" in result.stderr or "run the same command again" in result.stderr


def test_credentials_and_endpoints_from_praw_ini(tmp_path: Path, fake_reddit: FakeReddit) -> None:
    import os
    import subprocess
    import sys

    (tmp_path / "praw.ini").write_text(
        f"[study]\nclient_id={CLIENT_ID}\nclient_secret={CLIENT_SECRET}\n"
        f"user_agent=python:tests:0 (praw.ini)\noauth_url={fake_reddit.url}\nreddit_url={fake_reddit.url}\n",
        encoding="utf-8",
    )
    folder = write_spec(tmp_path / "ds", SMALL_SPEC)
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith(("praw_", "scraper_"))}
    env["PYTHONPATH"] = str(ROOT)
    command = ["collect", "--dataset", str(folder), "--site", "study", "--json"]
    result = subprocess.run(
        # -X importtime: the command line's own process runs without pandas (scraper/startup.py)
        [sys.executable, "-X", "importtime", "-m", "scraper", *command],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["comments_held"] == 20
    assert fake_reddit.log[0].path == "/api/v1/access_token"
    lines = result.stderr.splitlines()
    imported = {line.rpartition("|")[2].strip() for line in lines if line.startswith("import time:")}
    assert {"pyarrow", "praw"} <= imported, sorted(imported)
    # a refused import is listed too (as "pandas"); pandas loaded would list its submodules
    assert not [name for name in imported if name.startswith("pandas.")]


def test_debug_logs_carry_no_secrets(tmp_path: Path, fake_reddit: FakeReddit, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    folder = write_spec(tmp_path / "ds", SMALL_SPEC)
    log = tmp_path / "log.jsonl"
    root = logging.getLogger()
    handlers = list(root.handlers)
    caplog.set_level(logging.DEBUG)  # everything prawcore, urllib3 and we log, at the most verbose
    try:
        result = run("-vv", "--log-json", str(log), "collect", "--dataset", str(folder), env=reddit_env(fake_reddit))
    finally:
        for handler in root.handlers[len(handlers) :]:
            handler.close()
        root.handlers[:] = handlers
    assert result.exit_code == 0
    assert "prawcore" in caplog.text and "/api/morechildren" in caplog.text  # debug logs were on
    (token,) = fake_reddit.tokens
    for text in (result.stderr, log.read_text(), caplog.text):
        assert CLIENT_SECRET not in text and token not in text
