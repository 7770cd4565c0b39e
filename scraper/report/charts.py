"""The report's charts: plotly figures drawn from :class:`~scraper.report.figures.Figures`.

Plotly draws them in the browser from JSON; its JavaScript (``plotly.min.js``,
shipped inside the ``plotly`` package) is inlined once in the page, so the page
needs no network.  Only numbers, and the names that label them, reach this module:
every aggregation is done in :mod:`scraper.report.figures`; every name from the data
goes through :func:`_plain`, so plotly never reads it as markup.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from scraper.report.figures import Figures

PALETTE = ["#3b6ea8", "#e07b39", "#5a9e6f", "#b5545c", "#7f6aa8", "#c9a227", "#4fa3b5", "#8c6d4f", "#d16fa5", "#6b7b8c"]
GREY = "#b8bec6"
STATUS_COLOURS = {
    "visible": "#5a9e6f",
    "deleted": "#e07b39",
    "removed": "#b5545c",
    "account_deleted": "#c9a227",
    "purged": "#6b7b8c",
    "unavailable": "#7f6aa8",
}
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"


#: Every chart's layout, and every axis's, before a chart's own settings.
_LAYOUT: dict[str, Any] = {
    "template": "none",  # styled here: plotly's named templates cost ~0.1 s a figure to copy
    "paper_bgcolor": "white",
    "plot_bgcolor": "white",
    "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
    "font": {"family": FONT, "size": 12, "color": "#1f2933"},
    "colorway": PALETTE,
    "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
    "bargap": 0.15,
}
_AXES: dict[str, Any] = {"automargin": True, "gridcolor": "#e9edf2", "zerolinecolor": "#cfd6de", "linecolor": "#cfd6de"}


def _plain(text: Any) -> str:
    """``text`` from the data (a subreddit, a title, a fullname, a group's name) as plotly shows it, inert.

    Plotly draws text as its own small HTML (``<a href>``, ``<b>``, ``<span style>``, ``<br>``) in
    labels, legends and hover boxes: a subreddit named ``pics<a href="https://…">`` would be a live
    link to another host in the chart (adversarial review 5, F1).  Its entities are decoded, so the
    three characters that make markup are given as entities and shown as written.
    """
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _layout(fig: go.Figure, *, height: int = 320, **extra: Any) -> go.Figure:
    """``fig`` with the report's layout, then ``extra`` (nested dicts merge, as ``update_layout`` merges them).

    The layout is merged as plain dicts and the figure made again from them: plotly's
    ``update_layout`` and ``update_xaxes`` cost 3-9 ms of CPU a call (each walks the figure's
    properties), a new figure from dicts about 1 ms; the figure's JSON is the same.
    """
    spec = fig.to_plotly_json()
    layout: dict[str, Any] = spec["layout"]
    _merged(layout, {**_LAYOUT, "height": height, **extra})
    for name in ("xaxis", "yaxis", *(n for n in layout if n[1:5] == "axis" and n[5:].isdigit())):
        axis = layout.setdefault(name, {})
        _merged(axis, _AXES)
        if name in ("xaxis", "yaxis") and axis.get("type") == "log":
            axis["dtick"] = 1  # ticks at powers of ten only
    return go.Figure(spec["data"], layout=layout)


def _merged(into: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``into`` updated from ``update``: a dict merges into a dict (recursively), anything else replaces."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merged(into[key], value)
        else:
            into[key] = value
    return into


def _counts_axis(values: list[int]) -> dict[str, Any]:
    """A count axis from zero; whole-number ticks where the counts are small."""
    axis: dict[str, Any] = {"rangemode": "tozero"}
    if max(values, default=0) <= 5:
        axis.update(dtick=1, tick0=0)
    return axis


def _bar(x: list[Any], y: list[Any], name: str, colour: str, **extra: Any) -> go.Bar:
    return go.Bar(x=x, y=y, name=name, marker={"color": colour}, **extra)


def _status_order(status: str) -> tuple[int, str]:
    order = list(STATUS_COLOURS)
    return (order.index(status) if status in order else len(order), status)


def coverage(f: Figures) -> dict[str, go.Figure]:
    """Threads and comments per subreddit and month, discovery, statuses, completeness."""
    charts: dict[str, go.Figure] = {}
    subs = [_plain(s) for s, _, _ in f.per_subreddit][::-1]
    fig = make_subplots(
        rows=1, cols=2, shared_yaxes=True, subplot_titles=("threads", "comments"), horizontal_spacing=0.04
    )
    fig.add_trace(
        _bar([t for _, t, _ in f.per_subreddit][::-1], subs, "threads", PALETTE[0], orientation="h"), row=1, col=1
    )
    fig.add_trace(
        _bar([c for _, _, c in f.per_subreddit][::-1], subs, "comments", PALETTE[1], orientation="h"), row=1, col=2
    )
    fig.update_xaxes(_counts_axis([t for _, t, _ in f.per_subreddit]), row=1, col=1)
    fig.update_xaxes(_counts_axis([c for _, _, c in f.per_subreddit]), row=1, col=2)
    charts["chart-subreddits"] = _layout(fig, height=max(220, 60 + 28 * len(subs)), showlegend=False)

    months = [m for m, _, _ in f.by_month]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(_bar(months, [t for _, t, _ in f.by_month], "threads", PALETTE[0]), secondary_y=False)
    fig.add_trace(
        go.Scatter(
            x=months,
            y=[c for _, _, c in f.by_month],
            name="comments",
            mode="lines+markers",
            line={"color": PALETTE[1], "width": 2},
        ),
        secondary_y=True,
    )
    fig.update_yaxes(title_text="threads", secondary_y=False, **_counts_axis([t for _, t, _ in f.by_month]))
    fig.update_yaxes(title_text="comments", secondary_y=True, showgrid=False, rangemode="tozero", tickmode="auto")
    fig.update_xaxes(type="category", title_text="month the thread was posted")
    charts["chart-months"] = _layout(fig)

    found = f.found_by[:20][::-1]
    charts["chart-found-by"] = _layout(
        go.Figure(_bar([n for _, n in found], [_plain(h) for h, _ in found], "threads", PALETTE[2], orientation="h")),
        height=max(220, 40 + 26 * len(found)),
        xaxis={"title": "threads found", **_counts_axis([n for _, n in found])},
    )

    fig = go.Figure()
    tables = list(f.status)
    for status in sorted({s for counts in f.status.values() for s in counts}, key=_status_order):
        shares = [f.status[t].get(status, 0) / max(1, sum(f.status[t].values())) for t in tables]
        counts = [f.status[t].get(status, 0) for t in tables]
        fig.add_trace(
            go.Bar(
                x=shares,
                y=tables,
                name=_plain(status),
                orientation="h",
                marker={"color": STATUS_COLOURS.get(status, GREY)},
                customdata=counts,
                hovertemplate="%{y}: %{x:.1%} " + _plain(status) + " (%{customdata:,})<extra></extra>",
            )
        )
    charts["chart-status"] = _layout(fig, height=200, barmode="stack", xaxis={"tickformat": ".0%", "range": [0, 1]})

    charts["chart-completeness"] = _layout(
        go.Figure(
            _bar([b for b, _ in f.completeness_bands], [n for _, n in f.completeness_bands], "threads", PALETTE[0])
        ),
        height=260,
        xaxis={"title": "comments held ÷ comments Reddit states"},
        yaxis={"title": "threads", **_counts_axis([n for _, n in f.completeness_bands])},
    )
    return charts


def shape(f: Figures) -> dict[str, go.Figure]:
    """Comments per thread, depth, replies per top-level comment, time to comment, scores."""
    charts: dict[str, go.Figure] = {}
    for key, data, xtitle, ytitle, colour in (
        ("chart-per-thread", f.comments_per_thread, "comments in the thread", "threads", PALETTE[0]),
        ("chart-depth", f.depth, "depth (0 = top level)", "comments", PALETTE[1]),
        ("chart-replies", f.replies_per_top_level, "direct replies", "top-level comments", PALETTE[2]),
    ):
        fig = go.Figure(_bar([x for x, _ in data], [y for _, y in data], ytitle, colour))
        charts[key] = _layout(
            fig, height=280, xaxis={"type": "category", "title": xtitle}, yaxis={"type": "log", "title": ytitle}
        )

    fig = go.Figure()
    labels = [b for b, _, _ in f.time_to_comment]
    fig.add_trace(_bar(labels, [t for _, t, _ in f.time_to_comment], "top-level answers", PALETTE[0]))
    fig.add_trace(_bar(labels, [r for _, _, r in f.time_to_comment], "replies", PALETTE[1]))
    charts["chart-timing"] = _layout(
        fig,
        xaxis={"type": "category", "title": "time from the post to the comment"},
        yaxis={"type": "log", "title": "comments"},
    )

    fig = go.Figure()
    labels = [b for b, _, _ in f.scores]
    for i, kind in enumerate(("comments", "submissions")):
        shares = [100 * row[1 + i] or None for row in f.scores]  # in %; zero has no place on a log axis
        fig.add_trace(
            _bar(labels, shares, kind, PALETTE[i], hovertemplate="%{x}: %{y:.3~g}%<extra>" + kind + "</extra>")
        )
    charts["chart-scores"] = _layout(
        fig,
        xaxis={"type": "category", "title": "score (bins double in width: a log scale)"},
        yaxis={"type": "log", "title": "% of items", "tickformat": "~g", "ticksuffix": "%"},
    )
    return charts


def answers(f: Figures) -> dict[str, go.Figure]:
    """The taxonomy's groups: counts with shares, and shares over time."""
    a = f.answers
    if a is None:
        return {}
    charts: dict[str, go.Figure] = {}
    names = list(a.counts)
    base = max(1, a.with_text)
    labels = [*map(_plain, names), "unmatched"][::-1]
    values = [*(a.counts[n] for n in names), a.unmatched][::-1]
    colours = [*(PALETTE[i % len(PALETTE)] for i in range(len(names))), GREY][::-1]
    charts["chart-answers"] = _layout(
        go.Figure(
            go.Bar(
                x=values,
                y=labels,
                orientation="h",
                marker={"color": colours},
                text=[f"{v:,} · {v / base:.0%}" for v in values],
                textposition="outside",
                cliponaxis=False,
                hovertemplate="%{y}: %{x:,} answers<extra></extra>",
            )
        ),
        height=max(240, 40 + 30 * len(labels)),
        xaxis={"title": "answers", "range": [0, max(values, default=1) * 1.3], **_counts_axis(values)},
        showlegend=False,
    )
    fig = go.Figure()
    periods = [row["period"] for row in a.over_time]
    for i, name in enumerate(names):
        fig.add_trace(
            go.Scatter(
                x=periods,
                y=[row["groups"][name] / row["answers"] if row["answers"] else None for row in a.over_time],
                name=_plain(name),
                mode="lines+markers",
                line={"color": PALETTE[i % len(PALETTE)]},
            )
        )
    fig.add_trace(
        go.Scatter(
            x=periods,
            y=[row["unmatched"] / row["answers"] if row["answers"] else None for row in a.over_time],
            name="unmatched",
            mode="lines+markers",
            line={"color": GREY, "dash": "dot"},
        )
    )
    charts["chart-answers-time"] = _layout(
        fig,
        height=max(300, 40 + 30 * len(names)),
        legend={"orientation": "v", "x": 1.02, "y": 1, "yanchor": "top", "font": {"size": 11}},
        xaxis={"type": "category", "title": f"{a.period} of the answer"},
        yaxis={"tickformat": ".0%", "title": "share of the answers with text"},
    )
    return charts


def changes(f: Figures) -> dict[str, go.Figure]:
    """Added, removed, tombstoned and changed items of the threads that changed most."""
    ch = f.changes
    if ch is None or not ch.per_thread:
        return {}
    rows = ch.per_thread[::-1]
    labels = [_plain(r["thread"]) for r in rows]
    fig = go.Figure()
    for i, kind in enumerate(("added", "removed", "tombstoned", "changed")):
        fig.add_trace(
            go.Bar(
                x=[r[kind] for r in rows],
                y=labels,
                name=kind,
                orientation="h",
                marker={"color": PALETTE[i]},
                customdata=[_plain((r["title"] or "")[:80]) for r in rows],
                hovertemplate="%{y} %{customdata}: %{x:,} " + kind + "<extra></extra>",
            )
        )
    return {
        "chart-changes": _layout(fig, height=max(240, 60 + 24 * len(rows)), barmode="stack", xaxis={"title": "items"})
    }
