"""The project's own files: CI runs the README's test command; the shipped job examples are complete."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import scraper

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = re.search(r"# 2\. .*\n(python3 -m venv .*)\n", readme)
    assert command is not None
    test_command = command.group(1).split("&&")[-1].strip()  # .venv/bin/python -m pytest
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci.splitlines()
    assert ".venv/bin/ruff check ." in ci and ".venv/bin/mypy" in ci


def test_project_ci_workflow_runs_ci_script() -> None:
    workflow = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
    steps = workflow["jobs"]["test"]["steps"]
    assert {"run": "bash .ci/run"} in steps


def test_collect_workflow_is_scheduled_serialized_and_validated() -> None:
    workflow = yaml.safe_load((ROOT / ".github/workflows/collect.yml").read_text())
    assert workflow[True]["schedule"][0]["cron"]  # YAML reads the key "on" as True
    assert workflow["concurrency"]["group"] and workflow["concurrency"]["cancel-in-progress"] is False
    steps = {step.get("name"): step for step in workflow["jobs"]["collect"]["steps"]}
    assert "secrets.REDDIT_CLIENT_SECRET" in steps["collect"]["env"]["praw_client_secret"]
    assert "python -m scraper" in steps["collect"]["run"] and "75" in steps["collect"]["run"]
    assert steps["validate"]["run"] == "python -m scraper validate datasets/leaving-ml"
    assert "publish" in steps["publish"]["run"]
    assert "LEAVING_ML_PSEUDONYM_KEY" in steps["collect"]["env"]


def test_systemd_units_name_each_other_and_treat_75_as_success() -> None:
    service = (ROOT / "deploy/systemd/reddit-dataset-collect.service").read_text()
    timer = (ROOT / "deploy/systemd/reddit-dataset-collect.timer").read_text()
    assert "Type=oneshot" in service and "SuccessExitStatus=75" in service and "EnvironmentFile=" in service
    assert "python -m scraper" in service and "OnCalendar=" in timer and "Persistent=true" in timer


def test_public_api_is_listed() -> None:
    """``__all__`` lists exactly the functions and classes the package offers (constants and
    submodules aside), and each listed name is the real object."""
    for name in scraper.__all__:  # ``load`` and ``Snapshot`` are imported on first use (PEP 562)
        getattr(scraper, name)
    offered = {
        name
        for name, value in vars(scraper).items()
        if not name.startswith("_") and (callable(value) and not isinstance(value, type(scraper)))
    }
    assert sorted(scraper.__all__) == sorted({*offered, "__version__"}) == ["Snapshot", "__version__", "load"]
    assert scraper.__version__ == scraper.__dict__["__version__"] and isinstance(scraper.__version__, str)
    from scraper.study import Snapshot, load

    assert (scraper.load, scraper.Snapshot) == (load, Snapshot)


def test_the_comment_tree_table_is_the_committed_benchmark_results() -> None:
    """docs/PERFORMANCE.md "Comment trees" shows ``bench/expand_results.json``, rendered, not typed by hand."""
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("expand_bench", ROOT / "bench" / "expand_bench.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = json.loads((ROOT / "bench" / "expand_results.json").read_text(encoding="utf-8"))
    doc = (ROOT / "docs" / "PERFORMANCE.md").read_text(encoding="utf-8")
    table = doc.split(bench.TABLE_START, 1)[1].split(bench.TABLE_END, 1)[0].strip()
    assert table == bench.render_table(results)
    assert {r["shape"] for r in results} == {"current", "ama", "chains"}
    assert {r["orphans"] for r in results} == {"vanish", "stub"}
    for row in results:  # what the doc's prose claims of every row
        ours, faults = row["ours"], row["faults"]
        assert ours["accounted"] and ours["correct_parents"] == ours["held"] and ours["unresolved"] == 0
        assert ours["on_vanished"] <= ours["on_vanished_cap"] and faults["identical"]
        assert faults["injected_failures"] <= faults["extra_requests"] <= faults["injected_failures"] + 1
    assert "docs/PERFORMANCE.md#comment-trees" in (ROOT / "README.md").read_text(encoding="utf-8")
