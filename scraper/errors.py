"""Every error the tool raises on purpose, in one tree.

::

    ScraperError                 base; carries an exit code for the CLI
    ├── ConfigError              exit 2: bad dataset.toml, missing credentials, bad options
    │   └── CredentialsMissing   exit 2: no Reddit credentials configured at all
    ├── RedditError              exit 1: Reddit refused a request for good (403, 404, 400)
    │   ├── AuthError            exit 2: credentials rejected by the token endpoint
    │   ├── SubredditUnavailable exit 1: unknown, private, banned or quarantined subreddit
    │   ├── TooManyIds           (internal) an id list refused as too long: expansion splits it
    │   └── ThreadUnavailable    exit 1: a seed thread that is deleted or private
    ├── ArchiveError             exit 1: the Arctic Shift API refused a request (400, bad answer)
    ├── TransientError           exit 75: network down, 5xx or 429 after retries: try again later
    │   └── BudgetExhausted      exit 75: --max-requests or --deadline reached; run again to continue
    ├── SnapshotError            exit 1: a version exists already, a staging folder in use
    │   └── IntegrityError       exit 1: a file, manifest or index does not match its checksum
    │       └── RawArchiveDamaged exit 1: a raw archive damaged other than by a torn last record
    ├── Locked                   exit 73: another run holds the dataset's lock
    └── InputError               exit 1: a file given to ingest that is not a Reddit response

Third-party errors (prawcore, requests, pyarrow, tomllib) are wrapped where
they are caught, so no layer above :mod:`scraper.sources` sees them.  Messages
name the item and say what to do next.
"""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_NEEDS_PERSON = 1
EXIT_CONFIG = 2
EXIT_LOCKED = 73  # EX_CANTCREAT from sysexits.h: another run is collecting this dataset
EXIT_TRY_LATER = 75  # EX_TEMPFAIL from sysexits.h, understood by schedulers


class ScraperError(Exception):
    """Base of every error this tool raises on purpose."""

    exit_code = EXIT_NEEDS_PERSON


class ConfigError(ScraperError):
    """The configuration, the dataset spec or the command line is wrong."""

    exit_code = EXIT_CONFIG


class CredentialsMissing(ConfigError):
    """No Reddit credentials are configured (an archive-only run can go on without them)."""


class RedditError(ScraperError):
    """Reddit answered a request with a refusal that retrying will not fix."""


class AuthError(RedditError):
    """The OAuth token endpoint rejected the credentials."""

    exit_code = EXIT_CONFIG


class SubredditUnavailable(RedditError):
    """A subreddit in the spec does not exist or cannot be read."""


class ThreadUnavailable(RedditError):
    """A seed thread does not exist (any more) or cannot be read."""


class ArchiveError(ScraperError):
    """An archive (the Arctic Shift API) refused a request for good; retrying will not help."""


class TransientError(ScraperError):
    """A fault that may pass: network, server errors, rate limits."""

    exit_code = EXIT_TRY_LATER


class BudgetExhausted(TransientError):
    """The run's request budget or deadline was reached; what was collected is kept."""


class TooManyIds(RedditError):
    """Reddit refused an id list as too long (400, 413 or 414): split it and ask again."""


class SnapshotError(ScraperError):
    """A snapshot cannot be written or read as asked."""


class IntegrityError(SnapshotError):
    """Data that does not match its manifest or index: a tampered or broken copy."""


class RawArchiveDamaged(IntegrityError):
    """A raw archive file with damage other than a torn last record; ``offset`` is where it starts.

    Raised before anything is changed: the file is neither cut nor appended to.
    """

    def __init__(self, message: str, *, path: Path, offset: int) -> None:
        super().__init__(message)
        self.path = path
        self.offset = offset


class Locked(ScraperError):
    """Another run holds the dataset's lock."""

    exit_code = EXIT_LOCKED


class InputError(ScraperError):
    """A file given to ingest is not a Reddit API response this tool understands."""
