"""The README's first command, end to end in a subprocess, and the result opened by readers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def test_demo_builds_a_real_snapshot_offline(tmp_path: Path) -> None:
    target = tmp_path / "leaving-ml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("praw_")}  # no credentials at all
    result = subprocess.run(
        [sys.executable, "-m", "scraper", "demo", "--dataset", str(target)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "RECONSTRUCTED" in result.stderr and "duckdb" in result.stderr
    report = tmp_path / "leaving-ml-report.html"  # the demo writes its report and says where
    assert report.is_file() and f"report: {report}" in result.stderr
    version = target / "versions" / "v0001"
    comments = pd.read_parquet(version / "comments.parquet")
    assert len(comments) == 20
    assert set(comments["status"]) == {"visible", "deleted", "removed"}
    top = duckdb.sql(
        f"select s.title, count(*) as n from '{version}/comments.parquet' c "
        f"join '{version}/submissions.parquet' s on c.link_id = s.name group by 1"
    ).fetchall()
    assert top == [("[D] To those of you who quit machine learning, what do you do now?", 20)]
    assert (target / "index.json").is_file() and any((target / "raw").glob("*.jsonl.gz"))
    # next to it, the history backfill: archive threads re-read through Reddit, gone comments as tombstones
    history = tmp_path / "leaving-ml-history" / "versions" / "v0001"
    assert f"history: wrote {history}" in result.stderr
    subs = pd.read_parquet(history / "submissions.parquet")
    hist_comments = pd.read_parquet(history / "comments.parquet")
    from_archive = subs[subs["found_by"].map(lambda f: any(x.startswith("archive:r/") for x in f))]
    assert len(from_archive) > 10 and set(from_archive["source"]) == {"reddit-api"}
    assert from_archive["archived_at"].notna().all()
    gone = hist_comments[hist_comments["status"] == "unavailable"]
    assert len(gone) > 0 and set(gone["source"]) == {"arctic-shift"} and (gone["body"] == "").all()
