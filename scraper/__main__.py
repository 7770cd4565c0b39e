"""``python -m scraper`` runs the command line."""

from scraper import sigterm

sigterm.hold(process=True)  # first: a SIGTERM while the command line starts is noted, not fatal (scraper/sigterm.py)

from scraper.terminal import ensure_streams  # noqa: E402 - after the hold

ensure_streams()  # started with >&- or 2>&-: /dev/null in their place, before any file takes descriptor 1 or 2

from scraper.cli import run  # noqa: E402 - after the hold

run()
