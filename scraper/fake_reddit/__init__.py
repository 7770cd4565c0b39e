"""A fake Reddit that answers like the real one, for tests, benchmarks and the offline demo.

:class:`~scraper.fake_reddit.forest.Forest` holds threads and cuts trees the way
Reddit's ``builder.py`` does; :class:`~scraper.fake_reddit.server.FakeReddit`
serves it over HTTP on 127.0.0.1 with OAuth, rate-limit headers and 429s.
"""

from scraper.fake_reddit.forest import Forest
from scraper.fake_reddit.server import FakeReddit

__all__ = ["FakeReddit", "Forest"]
