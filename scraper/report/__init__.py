"""The report: one self-contained HTML file that shows a version of a dataset, and what changed since another.

    >>> from scraper.report import write_report
    >>> write_report("datasets/leaving-ml", "report.html", against="v0001")

Flow: :mod:`~scraper.report.figures` computes every number with DuckDB from the
version's Parquet files (:mod:`~scraper.report.taxonomy` groups the top-level
answers by the spec's ``[report.taxonomy]``), :mod:`~scraper.report.charts`
turns them into plotly figures, and :mod:`~scraper.report.page` writes the page.
Needs the ``report`` extra (plotly, jinja2).
"""

from scraper.report.page import ReportResult, write_report

__all__ = ["ReportResult", "write_report"]
