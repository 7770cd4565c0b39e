"""Simulated time for runs against the fake Reddit: it passes only when someone sleeps.

Share one between the server and the client and every wait (pacing, backoff,
``retry-after``) costs nothing, while the order of events stays that of real time::

    clock = SimulatedClock()
    with FakeReddit(forest, clock=clock.now) as server:
        client = RedditClient(server.client_settings(), clock=clock)
"""

from __future__ import annotations


class SimulatedClock:
    """A :class:`scraper.sources.pacing.Clock` whose ``sleep`` moves time forward at once."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        """Simulated monotonic seconds."""
        return self.t

    def sleep(self, seconds: float) -> None:
        """Record the wait and let the time pass."""
        self.sleeps.append(seconds)
        self.t += seconds
