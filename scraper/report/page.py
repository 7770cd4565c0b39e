"""The report page: one self-contained HTML file of a version (and what changed since another).

Jinja2 fills ``template.html.j2`` (autoescaped: every text from Reddit is
escaped); plotly's JavaScript and every chart's JSON are inlined, the styles
are in the page, and a Content-Security-Policy forbids any request, so the
file opens offline and fetches nothing.
"""

from __future__ import annotations

import functools
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from scraper import __version__
from scraper.errors import ConfigError, storage_error
from scraper.report import figures as fig_mod
from scraper.spec import SPEC_FILE, load_spec
from scraper.store.outfile import write_output
from scraper.store.tablefile import scan_error
from scraper.study import locate

INSTALL_HINT = "pip install 'reddit-research-dataset[report]'"


@dataclass
class ReportResult:
    """What :func:`write_report` wrote."""

    out: Path
    version: str
    against: str | None
    bytes: int
    charts: list[str]
    seconds: float

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "out": str(self.out),
            "version": self.version,
            "against": self.against,
            "bytes": self.bytes,
            "charts": self.charts,
            "seconds": round(self.seconds, 3),
        }


def _spec_dir(path: Path, folder: Path) -> Path:
    """The dataset folder holding ``dataset.toml``: ``path`` itself, or two levels above a version folder."""
    if (path / SPEC_FILE).is_file():
        return path
    return folder.parent.parent


def terms_of_use(folder: Path, manifest: dict[str, Any]) -> str:
    """The card's "Terms of use" section as Markdown (the card module's text if the card has none)."""
    from scraper.publish.card import TERMS

    card = (manifest.get("card") or {}).get("name")
    try:
        text = (folder / card).read_text(encoding="utf-8") if card else ""
    except OSError:
        text = ""
    match = re.search(r"^## Terms of use\s*$(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    return match.group(1).strip() if match else TERMS


def _facts(manifest: dict[str, Any]) -> list[tuple[str, str]]:
    source = manifest.get("source") or {}
    pseudo = manifest.get("pseudonymization") or {}
    tomb = manifest.get("tombstones") or {}
    tool = manifest.get("tool") or {}
    facts = [
        ("dataset", str(manifest.get("dataset"))),
        ("version", str(manifest.get("version"))),
        ("parent", str(manifest.get("parent") or "none")),
        ("created", str(manifest.get("created_at"))),
        ("schema", str(manifest.get("schema_version"))),
        ("tool", f"{tool.get('name')} {tool.get('version')}"),
        ("spec sha256", str(manifest.get("spec_sha256") or "n/a")),
        ("source", str(source.get("kind", "n/a"))),
    ]
    for key in ("runs", "files", "base"):
        if source.get(key):
            value = source[key]
            facts.append((f"source {key}", ", ".join(map(str, value)) if isinstance(value, list) else str(value)))
    facts.append(
        (
            "pseudonyms",
            f"yes: {pseudo.get('method')}; key fingerprint {pseudo.get('key_fingerprint')}"
            if pseudo.get("pseudonymized")
            else "no: authors are Reddit names",
        )
    )
    facts.append(("tombstones", f"{tomb.get('total', 0)} ({tomb.get('added', 0)} new since the parent)"))
    facts.append(("quarantined", str((manifest.get("stats") or {}).get("quarantined", 0))))
    return facts


def _minutes(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value < 120:
        return f"{value:g} min"
    if value < 48 * 60:
        return f"{value / 60:.1f} h"
    return f"{value / 1440:.1f} days"


@functools.cache
def _environment() -> Any:
    """The report's template environment, made once a process: it compiles the template once (10-20 ms a report)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("scraper.report", "."), autoescape=True, undefined=jinja2.StrictUndefined
    )


def write_report(
    path: str | Path,
    out: str | Path,
    *,
    version: str = "latest",
    against: str | None = None,
    ignore: frozenset[str] = frozenset(),
) -> ReportResult:
    """Write the report of one version of the dataset at ``path`` (compared with ``against``) to ``out``."""
    started = time.perf_counter()
    try:
        import jinja2  # noqa: F401 - missing, it is the ConfigError below; used by _environment
        import markupsafe
        from markdown_it import MarkdownIt
        from plotly.io import to_json
        from plotly.offline import get_plotlyjs

        from scraper.report import charts as chart_mod
    except ImportError as exc:
        raise ConfigError(f"the report needs {exc.name}: {INSTALL_HINT}") from None
    path, out = Path(path), Path(out)
    try:  # before the work: a folder that cannot be made fails at once
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, out) from None
    folder, manifest = locate(path, version)
    spec_dir = _spec_dir(path, folder)
    spec_found = (spec_dir / SPEC_FILE).is_file()
    spec = load_spec(spec_dir)[0] if spec_found else None
    taxonomy = spec.report.taxonomy if spec else None
    pseudonymized = bool((manifest.get("pseudonymization") or {}).get("pseudonymized"))

    con = fig_mod.connect(folder)
    scanned = [folder]
    try:
        f = fig_mod.compute(con, manifest, taxonomy, pseudonymized=pseudonymized)
        if against is not None:
            from scraper.publish.diff import diff_versions

            result = diff_versions(path, against, manifest["version"], ignore=ignore)
            scanned.append(locate(path, against)[0])
            fig_mod.attach(con, scanned[-1], "0")
            f.changes = fig_mod.changes(con, result)
    except duckdb.Error as exc:  # a file that matched its manifest but does not read (bad UTF-8, a bad page)
        raise scan_error(exc, scanned) from None
    finally:
        con.close()

    charts: dict[str, Any] = {}
    for build in (chart_mod.coverage, chart_mod.shape, chart_mod.answers, chart_mod.changes):
        charts.update(build(f))
    env = _environment()
    markdown = MarkdownIt("commonmark", {"html": False})
    statuses = sorted({s for c in f.status.values() for s in c}, key=lambda s: (s != "visible", s))
    html = env.get_template("template.html.j2").render(
        title=(spec.dataset.title if spec and spec.dataset.title else manifest.get("dataset", path.name)),
        version=manifest["version"],
        manifest=manifest,
        f=f,
        a=f.answers,
        changes=f.changes,
        ignored=sorted(ignore),
        statuses=statuses,
        unresolved_total=sum(len(e.get("unresolved") or {}) for e in manifest.get("completeness") or []),
        minutes=_minutes,
        pseudonymized=pseudonymized,
        spec_found=spec_found,
        quotes_per_group=fig_mod.QUOTES_PER_GROUP,
        facts=_facts(manifest),
        # trusted HTML: Markdown rendered with raw HTML off, plotly's own script, JSON with every "<" escaped
        terms_html=markupsafe.Markup(markdown.render(terms_of_use(folder, manifest))),  # noqa: S704
        plotly_js=markupsafe.Markup(get_plotlyjs()),  # noqa: S704
        charts={
            key: markupsafe.Markup(_script_json(to_json(fig, validate=False)))  # noqa: S704
            for key, fig in charts.items()
        },
        tool_version=__version__,
    )
    _write_atomic(out, html)
    return ReportResult(
        out=out,
        version=manifest["version"],
        against=against,
        bytes=len(html.encode("utf-8")),
        charts=list(charts),
        seconds=time.perf_counter() - started,
    )


def _script_json(text: str) -> str:
    """JSON safe inside a ``<script>`` element: no ``<`` that could close it."""
    return text.replace("<", "\\u003c")


def _write_atomic(out: Path, html: str) -> None:
    """The page at ``out``: atomically for a regular file, written directly to a device, FIFO or /dev/stdout."""
    write_output(out, html.encode("utf-8"), fsync=False)
