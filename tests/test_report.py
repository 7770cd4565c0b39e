"""The report: numbers in the page against direct DuckDB queries on the files, the taxonomy matcher, the CLI."""

from __future__ import annotations

import json
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.cli import main
from scraper.errors import ConfigError
from scraper.publish.diff import diff_versions
from scraper.report import write_report
from scraper.report.figures import pow2_label, quote
from scraper.report.taxonomy import classify
from scraper.spec import Taxonomy, load_spec
from tests.conftest import examples
from tests.report_data import make_dataset


class Page(HTMLParser):
    """The numbers a reader sees (``data-figure`` elements) and each chart's JSON."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.figures: dict[str, str] = {}
        self.charts: dict[str, Any] = {}
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self._open: tuple[str, str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if a.get("data-figure"):
            self._open = ("figure", str(a["data-figure"]))
        elif tag == "script" and a.get("data-chart"):
            self._open = ("chart", str(a["data-chart"]))

    def handle_data(self, data: str) -> None:
        if self._open and self._open[0] == "figure":
            self.figures[self._open[1]] = data.strip()
        elif self._open:
            self.charts[self._open[1]] = json.loads(data)
        self._open = None

    def number(self, key: str) -> int:
        return int(self.figures[key].replace(",", ""))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("report") / "ds")


@pytest.fixture(scope="module")
def page(dataset: Path) -> Page:
    out = dataset.parent / "report.html"
    result = write_report(dataset, out, against="v0001")
    assert result.version == "v0002" and out.stat().st_size == result.bytes
    return Page(out.read_text(encoding="utf-8"))


def q(dataset: Path, sql: str) -> list[tuple[Any, ...]]:
    folder = dataset / "versions" / "v0002"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE VIEW s AS SELECT * FROM '{folder}/submissions.parquet'")
    con.execute(f"CREATE VIEW c AS SELECT * FROM '{folder}/comments.parquet'")
    return con.execute(sql).fetchall()


def test_page_numbers_equal_direct_queries(dataset: Path, page: Page) -> None:
    assert page.number("threads") == q(dataset, "SELECT count(*) FROM s")[0][0] == 9
    assert page.number("comments") == q(dataset, "SELECT count(*) FROM c")[0][0]
    assert page.number("top_level") == q(dataset, "SELECT count(*) FROM c WHERE parent_id = link_id")[0][0]
    for status, n in q(dataset, "SELECT status, count(*) FROM c GROUP BY 1"):
        assert page.number(f"status-comments-{status}") == n
    # per subreddit: both traces of the chart
    subs = page.charts["chart-subreddits"]["data"]
    drawn = dict(zip(subs[1]["y"], subs[1]["x"], strict=True))
    assert drawn == dict(q(dataset, "SELECT subreddit, count(*) FROM c GROUP BY 1"))
    assert dict(zip(subs[0]["y"], subs[0]["x"], strict=True)) == dict(
        q(dataset, "SELECT subreddit, count(*) FROM s GROUP BY 1")
    )
    # comments by month of their thread
    months = page.charts["chart-months"]["data"][1]
    expected = q(
        dataset,
        "SELECT strftime(s.created_utc, '%Y-%m') m, count(*) FROM c JOIN s ON c.link_id = s.name GROUP BY 1 ORDER BY 1",
    )
    assert list(zip(months["x"], months["y"], strict=True)) == expected
    # depth distribution
    depth = page.charts["chart-depth"]["data"][0]
    assert [int(x) for x in depth["x"]] == [r[0] for r in q(dataset, "SELECT depth FROM c GROUP BY 1 ORDER BY 1")]
    assert depth["y"] == [n for _, n in q(dataset, "SELECT depth, count(*) FROM c GROUP BY 1 ORDER BY 1")]
    # found_by, search labels folded over subreddits
    found = page.charts["chart-found-by"]["data"][0]
    assert dict(zip(found["y"], found["x"], strict=True)) == {'search: "quit ML"': 9, "seed:th0": 1}


def test_answers_match_the_rule_run_directly(dataset: Path, page: Page) -> None:
    answers = (
        "FROM c WHERE parent_id = link_id AND NOT stickied AND distinguished IS NULL AND NOT is_submitter "
        "AND body <> ''"
    )
    with_text = q(dataset, f"SELECT count(*) {answers}")[0][0]
    data_eng = q(dataset, f"SELECT count(*) {answers} AND regexp_matches(body, 'data engineer|\\bETL\\b', 'i')")[0][0]
    research = q(
        dataset,
        f"SELECT count(*) {answers} AND regexp_matches(body, '\\bresearch|\\bphd\\b', 'i') "
        "AND NOT regexp_matches(body, 'quant research', 'i')",
    )[0][0]
    unmatched = q(
        dataset, f"SELECT count(*) {answers} AND NOT regexp_matches(body, 'data engineer|etl|research|phd|quant', 'i')"
    )[0][0]
    assert page.number("answers-with-text") == with_text > 0
    assert page.number("group-0") == data_eng > 0
    assert page.number("group-1") == research > 0
    assert page.number("answers-unmatched") == unmatched > 0
    bars = page.charts["chart-answers"]["data"][0]
    assert dict(zip(bars["y"], bars["x"], strict=True))["unmatched"] == unmatched


def test_changes_come_from_diff(dataset: Path, page: Page) -> None:
    summary = diff_versions(dataset, "v0001", "v0002").summary()
    for table, counts in summary.items():
        for kind, n in counts.items():
            assert page.number(f"change-{table}-{kind}") == n
    assert page.number("change-comments-removed") == 1
    assert page.number("change-comments-edited") == 1
    assert page.number("change-submissions-added") == 1
    per_thread = page.charts["chart-changes"]["data"]
    by_kind = {t["name"]: dict(zip(t["y"], t["x"], strict=True)) for t in per_thread}
    assert by_kind["removed"]["t3_th0"] == 1 and by_kind["added"]["t3_th8"] == 8 + 10 + 1


def test_page_is_self_contained(page: Page) -> None:
    for tag, attrs in page.tags:
        assert tag != "link", attrs
        assert not (tag in ("script", "img", "iframe") and attrs.get("src")), attrs
    assert len(page.charts) == 13 and all(chart["data"] for chart in page.charts.values())


def test_quotes_are_pseudonymized_or_anonymous(tmp_path: Path) -> None:
    dataset = make_dataset(tmp_path / "plain", pseudonymized=False)
    out = tmp_path / "r.html"
    write_report(dataset, out)
    html = out.read_text(encoding="utf-8")
    assert "authors are not shown" in html and "u_1" not in html.split("In their words")[1]
    assert quote("ask u/someone_else about it", "", pseudonymized=False) == ("", "", "ask u/… about it")


def test_report_cli(dataset: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "sub" / "r.html"
    version_folder = dataset / "versions" / "v0001"  # a version folder: the spec two levels up is found
    result = runner.invoke(main, ["report", "--dataset", str(version_folder), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["version"] == "v0001"
    assert "No <code>[report.taxonomy]</code>" not in out.read_text(encoding="utf-8")
    missing = runner.invoke(main, ["report", str(dataset), "--version", "v0009", "--out", str(out)])
    assert missing.exit_code == 1 and "v0009" in missing.stderr and "Traceback" not in missing.output
    blocked = runner.invoke(main, ["report", str(dataset), "--out", str(out / "x.html")])  # a file as the folder
    assert blocked.exit_code == 74 and f"cannot use {out}" in blocked.stderr
    assert len(blocked.stderr.strip().splitlines()) == 1


def test_report_without_taxonomy_says_so(dataset: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    (bare / "versions").mkdir(parents=True)
    (dataset / "versions" / "v0001").rename(bare / "versions" / "v0001")
    try:
        write_report(bare, tmp_path / "r.html")  # no dataset.toml: no taxonomy, said so
        assert "No <code>[report.taxonomy]</code>" in (tmp_path / "r.html").read_text(encoding="utf-8")
    finally:
        (bare / "versions" / "v0001").rename(dataset / "versions" / "v0001")


WORDS = st.sampled_from(["the", "model", "job", "now", "work", "left", "ML", "data", "team", "I", "and"])
KEYWORDS = ["airflow", "backend", "phd", "quant", "farmer"]


CON = duckdb.connect()


@settings(max_examples=examples(30), deadline=None)
@given(
    texts=st.lists(
        st.lists(st.one_of(WORDS, st.sampled_from([*KEYWORDS, "Backend", "PHD"])), max_size=12).map(" ".join),
        max_size=8,
    ),
    excluded=st.sampled_from([[], ["farmer"]]),
)
def test_taxonomy_matches_exactly_the_keywords_and_never_forces(texts: list[str], excluded: list[str]) -> None:
    taxonomy = Taxonomy.model_validate(
        {
            "groups": [
                {"name": "eng", "patterns": ["airflow", "backend"]},
                {"name": "research", "patterns": ["phd"], "exclude": excluded},
                {"name": "other", "patterns": ["quant", "farmer"]},
            ]
        }
    )
    got = classify(taxonomy, texts, CON)
    assert len(got) == len(texts)
    for text, groups in zip(texts, got, strict=True):
        low = text.lower()
        expected = [
            g.name
            for g in taxonomy.groups
            if any(p in low for p in g.patterns) and not any(x in low for x in g.exclude)
        ]
        assert groups == expected  # unmatched texts stay unmatched ([]), never put in a group
        if not any(k in low for k in KEYWORDS):
            assert groups == []


def test_taxonomy_refuses_what_re2_cannot_run() -> None:
    taxonomy = Taxonomy.model_validate({"groups": [{"name": "look-behind", "patterns": ["(?<=data )engineer"]}]})
    with pytest.raises(ConfigError, match=r"group 'look-behind'.*RE2"):
        classify(taxonomy, ["data engineer"])


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ("[[report.taxonomy.groups]]\nname = 'a'\npatterns = ['(']", "bad regular expression"),
        ("[[report.taxonomy.groups]]\nname = 'a'\npatterns = []", "report.taxonomy.groups.0.patterns"),
        (
            "[[report.taxonomy.groups]]\nname = 'a'\npatterns = ['x']\n[[report.taxonomy.groups]]\nname = 'a'\n"
            "patterns = ['y']",
            "group names repeat",
        ),
    ],
)
def test_bad_taxonomy_in_the_spec_is_one_clear_error(tmp_path: Path, groups: str, message: str) -> None:
    (tmp_path / "dataset.toml").write_text(f"[dataset]\nname = 'x'\n[report.taxonomy]\n{groups}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_spec(tmp_path)


def test_leaving_ml_taxonomy_loads_and_runs_in_duckdb() -> None:
    spec, _ = load_spec(Path(__file__).resolve().parents[1] / "datasets" / "leaving-ml")
    taxonomy = spec.report.taxonomy
    assert taxonomy is not None and len(taxonomy.groups) == 9
    got = classify(
        taxonomy,
        ["Now I do MLOps and data engineering", "I went into a quant research position", "Still searching"],
    )
    assert got == [["Data engineering", "MLOps and platform"], ["Quant and finance"], []]


def test_pow2_labels() -> None:
    assert [pow2_label(b) for b in (-1, 0, 1, 2, 3, 11)] == ["< 0", "0", "1", "2–3", "4–7", "1,024–2,047"]


def test_a_damaged_version_is_one_line_and_no_report(tmp_path: Path) -> None:
    dataset = make_dataset(tmp_path / "ds")
    parquet = dataset / "versions" / "v0002" / "comments.parquet"
    data = bytearray(parquet.read_bytes())
    data[len(data) // 2] ^= 0xFF
    parquet.write_bytes(bytes(data))
    out = tmp_path / "r.html"
    result = CliRunner().invoke(main, ["report", str(dataset), "--out", str(out)])
    assert result.exit_code == 1 and "comments.parquet" in result.stderr, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and not out.exists()


@st.composite
def versions(draw: st.DrawFn) -> tuple[list[Any], list[Any]]:
    """A few threads with comments in any tree shape, any status, scores that may be negative or null."""
    from datetime import timedelta

    from schemas import Comment, Status, Submission
    from tests.report_data import NOW, _common

    subs, comments = [], []
    for t in range(draw(st.integers(1, 3))):
        link = f"t3_h{t}"
        sub = draw(st.sampled_from(["a", "b", None]))
        row = _common(link, sub, NOW - timedelta(days=draw(st.integers(0, 900))), Status.VISIBLE, "u_x")
        row.update(score=draw(st.one_of(st.none(), st.integers(-50, 10**6))), found_by=["seed:h0"])
        subs.append(
            Submission(
                **row,
                title="t",
                selftext="",
                url=None,
                domain=None,
                is_self=True,
                num_comments=draw(st.one_of(st.none(), st.integers(0, 40))),
                upvote_ratio=None,
                over_18=False,
                link_flair_text=None,
                removed_by_category=None,
            )
        )
        held: list[tuple[str, int]] = []
        for k in range(draw(st.integers(0, 12))):
            name = f"t1_h{t}x{k}"
            parent, depth = draw(st.sampled_from([(link, -1), *held]))
            status = draw(st.sampled_from(list(Status)))
            c = _common(name, sub, row["created_utc"] + timedelta(seconds=draw(st.integers(-60, 10**8))), status, None)
            c.update(score=draw(st.one_of(st.none(), st.integers(-50, 5000))))
            body = draw(st.sampled_from(["data engineer now", "a PhD", "nothing", ""])) if status == "visible" else ""
            comments.append(
                Comment(
                    **c,
                    link_id=link,
                    parent_id=parent,
                    depth=depth + 1,
                    body=body,
                    is_submitter=False,
                    controversiality=0,
                    collapsed=False,
                )
            )
            held.append((name, depth + 1))
    return subs, comments


@settings(max_examples=examples(6), deadline=None)
@given(version=versions())
def test_figures_equal_direct_counts_on_any_version(version: tuple[list[Any], list[Any]]) -> None:
    import tempfile

    import pyarrow.parquet as pq

    from scraper.report.figures import compute, connect, pow2_bucket
    from scraper.spec import load_spec
    from scraper.store.snapshot import rows_to_table
    from tests.report_data import SPEC

    subs, comments = version
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "dataset.toml").write_text(SPEC.replace("{pseudo}", "true"), encoding="utf-8")
        tables = {"submissions": rows_to_table("submissions", subs), "comments": rows_to_table("comments", comments)}
        for stem, table in tables.items():
            pq.write_table(table, folder / f"{stem}.parquet")
        con = connect(folder)
        f = compute(con, {}, load_spec(folder)[0].report.taxonomy, pseudonymized=True)
        direct = duckdb.connect()
        direct.register("c", tables["comments"])
        expected_scores = dict(
            direct.execute(
                f"SELECT {pow2_bucket('score')}, count(*) FROM c WHERE score IS NOT NULL GROUP BY 1"
            ).fetchall()
        )
        con.close()
    assert f.totals["threads"] == len(subs) and f.totals["comments"] == len(comments)
    assert f.status.get("comments", {}) == {s: n for s, n in Counter(c.status.value for c in comments).items()}
    assert dict(f.depth) == {str(d): n for d, n in Counter(c.depth for c in comments).items()}
    assert sum(top + rest for _, top, rest in f.time_to_comment) == len(comments)
    total = sum(expected_scores.values())
    for label, share, _ in f.scores:
        bucket = next((b for b in range(-1, 40) if pow2_label(b) == label), None)
        assert share == pytest.approx(expected_scores.get(bucket, 0) / total if total else 0)
    assert f.answers is not None
    answers = [c for c in comments if c.parent_id == c.link_id and c.body]
    assert f.answers.with_text == len(answers)
    assert f.answers.unmatched == sum(1 for c in answers if c.body == "nothing")
    assert f.answers.counts["Data engineering"] == sum(1 for c in answers if "data engineer" in c.body)


def _is_reddit_url(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme == "https" and parts.netloc == "www.reddit.com" and "\\" not in url


@settings(max_examples=examples(200), deadline=None)
@given(
    permalink=st.one_of(
        st.text(),
        st.builds(lambda a, b: a + b, st.sampled_from(["/", "//", "@", "\\", ":", "/x@", "/\\", "https:"]), st.text()),
    )
)
def test_a_permalink_links_to_reddit_or_is_text(permalink: str) -> None:
    from scraper.report.figures import reddit_link

    link = reddit_link(permalink)
    assert link is None or (_is_reddit_url(link) and link.endswith(permalink))


@settings(max_examples=examples(50), deadline=None)
@given(path=st.lists(st.text("abcdefghijklmnopqrstuvwxyz0123456789_-.", min_size=1), max_size=6))
def test_a_plain_reddit_path_is_linked(path: list[str]) -> None:
    from scraper.report.figures import reddit_link

    permalink = "/" + "/".join(path) + "/"
    assert reddit_link(permalink) == "https://www.reddit.com" + permalink or permalink.startswith("//")


def test_hostile_permalinks_never_link_to_another_host(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tests.test_odd_files import resign

    dataset = make_dataset(tmp_path / "ds")
    folder = dataset / "versions" / "v0002"
    hostile = ["@evil.example/x", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "/ok/@evil.example"]
    for stem in ("submissions", "comments"):
        table = pq.read_table(folder / f"{stem}.parquet")
        i = table.schema.get_field_index("permalink")
        values = [hostile[k % len(hostile)] for k in range(table.num_rows)]
        table = table.set_column(i, table.schema.field(i), pa.array(values, pa.string()))
        pq.write_table(table, folder / f"{stem}.parquet")
    resign(dataset, "v0002")
    out = tmp_path / "r.html"
    write_report(dataset, out)
    html = out.read_text(encoding="utf-8")
    hrefs = [str(a.get("href")) for tag, a in Page(html).tags if tag == "a"]
    assert not [h for h in hrefs if "evil" in h or "@" in h or "\\" in h or h.startswith("javascript")], hrefs
    assert not [h for h in hrefs if "www.reddit.com" in h], hrefs  # every permalink was hostile: none is linked
    assert "<td>t3_th0 Thread 0" in html  # the threads are still listed, as text


def _reference_layout(fig: Any, *, height: int = 320, **extra: Any) -> Any:
    """The report's layout as plotly's own update methods apply it (what charts._layout replaced)."""
    from scraper.report import charts

    fig.update_layout(**{**charts._LAYOUT, "height": height, **extra})
    fig.update_xaxes(**charts._AXES)
    fig.update_yaxes(**charts._AXES)
    for axis in (fig.layout.xaxis, fig.layout.yaxis):
        if axis.type == "log":
            axis.dtick = 1
    return fig


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"showlegend": False, "xaxis": {"title": "x", "rangemode": "tozero"}, "yaxis": {"type": "log", "title": "y"}},
        {"barmode": "stack", "legend": {"orientation": "v", "font": {"size": 11}}, "margin": {"t": 5}},
    ],
)
@pytest.mark.parametrize("subplots", [False, True])
def test_the_layout_merged_as_dicts_equals_plotly_s_update(extra: dict[str, Any], subplots: bool) -> None:
    """``charts._layout`` merges dicts and makes the figure again: the same JSON as ``update_layout`` and
    ``update_xaxes``/``update_yaxes`` on every axis (subplots' second axes too), log axes' ticks included."""
    import plotly.graph_objects as go
    from plotly.io import to_json
    from plotly.subplots import make_subplots

    from scraper.report import charts

    def made() -> Any:
        if not subplots:
            return go.Figure(go.Bar(x=[1, 2], y=[3, 4], name="a"))
        fig = make_subplots(rows=1, cols=2, shared_yaxes=True, subplot_titles=("a", "b"))
        fig.add_trace(go.Bar(x=[1], y=["s"], orientation="h"), row=1, col=1)
        fig.add_trace(go.Bar(x=[2], y=["s"], orientation="h"), row=1, col=2)
        fig.update_xaxes({"rangemode": "tozero", "dtick": 1}, row=1, col=2)
        return fig

    got = json.loads(to_json(charts._layout(made(), height=250, **extra), validate=False))
    want = json.loads(to_json(_reference_layout(made(), height=250, **extra), validate=False))
    assert got == want


@settings(max_examples=examples(60), deadline=None)
@given(st.text(alphabet=st.sampled_from(["<", ">", "&", "a", "b", "/", '"', "=", ";", "#", "x", "é", " "])))
def test_names_from_the_data_reach_plotly_as_text_not_markup(name: str) -> None:
    """A subreddit, title or label holding ``<a href>`` or entities is shown as written (adv. review 5, F1)."""
    import html

    from scraper.report.charts import _plain

    shown = _plain(name)
    assert "<" not in shown and ">" not in shown
    assert html.unescape(shown) == name  # plotly decodes the entities: the reader sees exactly the name
