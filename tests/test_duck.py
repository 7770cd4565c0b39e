"""DuckDB connections never draw their progress bar on a command's stdout."""

from __future__ import annotations

from scraper import duck


def test_connections_have_no_progress_bar_and_take_their_limits() -> None:
    con = duck.connect(memory_limit="300MB", threads=1)
    try:
        bar, limit, threads = con.execute(
            "select current_setting('enable_progress_bar'), current_setting('memory_limit'), current_setting('threads')"
        ).fetchone() or (None, None, None)
    finally:
        con.close()
    assert bar is False
    assert limit == "286.1 MiB"  # 300 MB
    assert threads == 1
