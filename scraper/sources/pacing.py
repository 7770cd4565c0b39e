"""Pacing and retrying Reddit requests: one policy, ours, with an injectable clock.

prawcore paces only when responses carry ``x-ratelimit-*`` headers, retries
three times with sleeps it owns, and raises on 429.  We replace both so that
every wait goes through one clock (tests and benchmarks inject a fake one):

- :class:`Pacer` spreads the requests left in Reddit's window over the seconds
  left in it, from the headers; when a response has none (common, WIRE-FORMAT
  §12) it assumes the documented quota, 100 requests a minute.
- :class:`RetryPolicy` retries 5xx, timeouts, dropped connections and
  malformed bodies with capped, jittered exponential backoff; 429 waits for
  ``retry-after`` (else the window's reset, else a minute).

Header values are read leniently: ``x-ratelimit-*`` as any decimal number
(Reddit sends ``remaining`` as ``"598.0"``), ``retry-after`` as delay-seconds or
an HTTP-date (RFC 9110 §10.2.3).  A value that is not a finite number (``inf``,
``nan``, garbage) counts as absent, and every wait is clamped to Reddit's
600-second window, so a hostile header can neither crash a run nor stall it.

Usage::

    pacer = Pacer()
    pacer.wait()                      # before each request
    pacer.update(response.headers)    # after each response
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

DOCUMENTED_PER_MINUTE = 100  # Reddit's policy per OAuth client (r/modnews, 2023)
WINDOW_SECONDS = 600


def header_number(value: str | None) -> float | None:
    """A header's value as a finite number (``"300"``, ``"598.0"``), else None (absent, ``inf``, ``nan``, text)."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def retry_after_seconds(value: str | None, wall_now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` asks for: delay-seconds or an HTTP-date (RFC 9110), else None.

    ``wall_now`` (epoch seconds; default: now) is what an HTTP-date is counted from.  The
    result may be negative (a date past) or huge; callers clamp it.
    """
    seconds = header_number(value)
    if seconds is not None or value is None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        return None
    return when.timestamp() - (time.time() if wall_now is None else wall_now)


class Clock:
    """Real time; tests pass an object with the same two methods."""

    def now(self) -> float:
        """Monotonic seconds."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Wait."""
        time.sleep(seconds)


@dataclass
class Pacer:
    """Waits before each request so that the rate limit is never hit."""

    clock: Clock = field(default_factory=Clock)
    per_minute_without_headers: int = DOCUMENTED_PER_MINUTE
    next_at: float = 0.0
    waited: float = 0.0
    remaining: int | None = None

    def wait(self) -> None:
        """Sleep until the next request may go."""
        delay = self.next_at - self.clock.now()
        if delay > 0:
            self.waited += delay
            self.clock.sleep(delay)

    def update(self, headers: Mapping[str, str]) -> None:
        """Schedule the next request from a response's headers."""
        now = self.clock.now()
        left = header_number(headers.get("x-ratelimit-remaining"))
        reset_in = header_number(headers.get("x-ratelimit-reset"))
        if left is None or reset_in is None:  # absent or unusable: the documented quota
            self.next_at = now + 60.0 / self.per_minute_without_headers
            return
        remaining = int(left)
        reset = min(max(0, int(reset_in)), WINDOW_SECONDS)
        self.remaining = remaining
        if remaining <= 0:
            self.next_at = now + max(reset, 1)
        else:
            # The remaining requests spread evenly over what is left of the window.
            self.next_at = now + reset / (remaining + 1)

    def hold(self, seconds: float) -> None:
        """Make the next request wait at least ``seconds`` (after a 429)."""
        self.next_at = max(self.next_at, self.clock.now() + seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry transient faults.

    ``RetryPolicy(max_retries=6, base=1.0, cap=60.0)`` waits about 1, 2, 4, 8,
    16, 32 seconds (each times a random factor in [0.5, 1.5]) before giving up.
    """

    max_retries: int = 6
    base: float = 1.0
    cap: float = 60.0
    max_429_waits: int = 8
    default_retry_after: float = 60.0
    jitter: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        return float(min(self.cap, self.base * 2 ** (attempt - 1)) * (0.5 + self.jitter()))

    def patience(self, attempt: int) -> float:
        """Seconds of backoff still ahead after retry number ``attempt``, at the mean jitter (for messages)."""
        return float(sum(min(self.cap, self.base * 2 ** (k - 1)) for k in range(attempt + 1, self.max_retries + 1)))

    def retry_after(self, header: str | None, reset: str | None = None, wall_now: float | None = None) -> float:
        """Seconds to wait after a 429: ``retry-after`` (seconds or HTTP-date), else the window's reset,
        else :attr:`default_retry_after`; at least a second, at most the 600-second window."""
        for seconds in (retry_after_seconds(header, wall_now), header_number(reset)):
            if seconds is not None:
                return min(max(1.0, seconds), float(WINDOW_SECONDS))
        return self.default_retry_after
