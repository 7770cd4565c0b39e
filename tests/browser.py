"""Open a report in headless Chromium (Debian's chromium + chromium-driver, driven by Selenium).

Used by tests/test_report_browser.py, and to remake the README's screenshot:

    python -m tests.browser build/demo/leaving-ml-report.html docs/report-demo.png \\
        --section answers --height 1180 --scale 0.75

Chromium runs with a fresh profile, no background networking, and a host
resolver that resolves nothing, so even a request the page tried could not
leave the machine; the DevTools network log, the page's resource timing and
its Content-Security-Policy violations tell whether it tried.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--force-device-scale-factor=1",
)

#: Per chart div: whether plotly drew it, its traces, the data points given, and the SVG marks drawn for them.
CHART_STATE = """
return Array.from(document.querySelectorAll('div.chart')).map(function (d) {
  var data = d.data || [];
  var points = data.reduce(function (n, t) {
    var v = t.orientation === 'h' ? t.x : t.y;
    return n + (v || []).filter(function (x) { return x !== null && x !== 0; }).length; }, 0);
  var marks = Array.from(d.querySelectorAll('g.trace g.point path, g.trace path.point, g.trace path.js-line'))
    .filter(function (p) { var b = p.getBBox(); return b.width > 0 || b.height > 0; }).length;
  return {id: d.id, plotted: d.classList.contains('js-plotly-plot'), traces: data.length, points: points, marks: marks};
});
"""
VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', function (e) { window.__violations.push(e.blockedURI); });
"""


def missing() -> str | None:
    """Why the browser test cannot run here, or None."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).is_file():
            return f"{path} not found: install Debian's {package} (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


@dataclass
class PageCheck:
    """What Chromium saw when it opened the page."""

    url: str
    charts: list[dict[str, Any]]
    requests: list[str]
    resources: list[str]
    violations: list[str]
    errors: list[str]
    title: str
    text: str = field(repr=False)
    #: the target of every link on the page, HTML's and the charts' SVG ones (``href`` or ``xlink:href``)
    links: list[str] = field(default_factory=list)
    #: the text of every chart's SVG (tick labels, legends, annotations)
    labels: list[str] = field(default_factory=list)


def open_report(
    html: Path,
    screenshot: Path | None = None,
    *,
    width: int = 1280,
    height: int | None = None,
    section: str | None = None,
    scale: float = 1.0,
) -> PageCheck:
    """Open ``html`` in headless Chromium, wait for the charts, and report what it saw.

    With ``screenshot``: a PNG of the first ``height`` pixels (default: the whole page), or of
    ``height`` pixels from the top of the element with id ``section``, scaled by ``scale``.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never download a driver
    profile = tempfile.mkdtemp(prefix="report-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": VIOLATIONS})
        url = html.resolve().as_uri()
        driver.get(url)
        WebDriverWait(driver, 30, poll_frequency=0.05).until(  # selenium's default looks every 0.5 s
            lambda d: d.execute_script(
                "return Array.from(document.querySelectorAll('div.chart'))"
                ".every(function (d) { return d.classList.contains('js-plotly-plot'); })"
            )
        )
        charts = driver.execute_script(CHART_STATE)
        resources = driver.execute_script(
            "return performance.getEntriesByType('resource').map(function (e) { return e.name; })"
        )
        violations = driver.execute_script("return window.__violations")
        requests = []
        for entry in driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            # the log also holds the new-tab page Chromium shows before the report: keep this document's requests
            if message["method"] == "Network.requestWillBeSent" and message["params"].get("documentURL") == url:
                requests.append(message["params"]["request"]["url"])
        errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        if screenshot is not None:
            full = driver.execute_script("return document.documentElement.scrollHeight")
            top = 0
            if section is not None:
                top = driver.execute_script(
                    "return document.getElementById(arguments[0]).getBoundingClientRect().top + window.scrollY - 8",
                    section,
                )
            clip = {"x": 0, "y": top, "width": width, "height": min(height or full, full - top), "scale": scale}
            shot = driver.execute_cdp_cmd(
                "Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True}
            )
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        return PageCheck(
            url=url,
            charts=charts,
            requests=requests,
            resources=resources,
            violations=violations,
            errors=errors,
            title=driver.title,
            text=driver.execute_script("return document.body.innerText"),
            links=driver.execute_script(
                "return Array.from(document.querySelectorAll('a')).map(function (a) {"
                " return a.getAttribute('href') || a.getAttribute('xlink:href') || ''; })"
            ),
            labels=driver.execute_script(
                "return Array.from(document.querySelectorAll('div.chart svg text')).map(function (t) {"
                " return t.textContent; })"
            ),
        )
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description="Screenshot a report in headless Chromium.")
    parser.add_argument("html", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=None, help="Pixels to capture (default: the whole page).")
    parser.add_argument("--section", default=None, help="Start at the element with this id, e.g. answers.")
    parser.add_argument("--scale", type=float, default=1.0, help="Scale of the PNG, e.g. 0.75.")
    args = parser.parse_args()
    if reason := missing():
        print(reason, file=sys.stderr)
        return 2
    check = open_report(
        args.html, args.png, width=args.width, height=args.height, section=args.section, scale=args.scale
    )
    print(json.dumps({"charts": check.charts, "requests": check.requests, "errors": check.errors}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
