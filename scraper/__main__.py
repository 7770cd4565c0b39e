"""``python -m scraper`` runs the command line."""

from scraper import sigterm

sigterm.hold(process=True)  # first: a SIGTERM while the command line starts is noted, not fatal (scraper/sigterm.py)

from scraper.cli import run  # noqa: E402 - after the hold

run()
