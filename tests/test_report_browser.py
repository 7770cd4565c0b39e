"""The report in a real browser: headless Chromium draws every chart with data and asks the network for nothing."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from scraper.report import write_report
from tests.browser import missing, open_report
from tests.report_data import HOSTILE, make_dataset

REASON = missing()


@pytest.mark.skipif(REASON is not None, reason=f"no headless Chromium here: {REASON}")
def test_every_chart_renders_with_data_and_nothing_is_fetched(tmp_path: Path) -> None:
    dataset = make_dataset(tmp_path / "ds", hostile=True)  # markup in a subreddit and a title (adv. review 5, F1)
    html = tmp_path / "report.html"
    result = write_report(dataset, html, against="v0001")
    shot = tmp_path / "report.png"
    seen = open_report(html, shot, height=900)  # the first screen: enough to look at, quick to take

    assert seen.title.startswith("Report test")
    drawn = {c["id"]: c for c in seen.charts}
    assert sorted(drawn) == sorted(result.charts)  # every chart the page holds, and only those
    for chart in seen.charts:
        assert chart["plotted"] and chart["traces"] > 0, chart
        assert chart["points"] > 0 and chart["marks"] > 0, chart  # data given, and SVG marks drawn for it
    assert seen.requests == [seen.url]  # the page itself, nothing else: scripts and styles are inline
    assert seen.resources == [] and seen.violations == []
    assert seen.errors == []
    # the data's markup is shown as written, never drawn: no link but Reddit's, and the text visible as text
    # (Reddit's permalinks, and the terms of use the card cites)
    hosts = {urlsplit(link).netloc for link in seen.links if not link.startswith("#")}
    assert hosts == {"www.reddit.com", "redditinc.com", "support.reddithelp.com"}, seen.links
    assert f"pics{HOSTILE}" in seen.labels, [label for label in seen.labels if "pics" in label]
    assert "What do you do now?" in seen.text and "Changes since v0001" in seen.text
    assert shot.stat().st_size > 50_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
