"""A dataset's spec, ``dataset.toml``: what to collect and how.

Example::

    [dataset]
    name = "leaving-ml"
    title = "Leaving machine learning"

    [discovery]
    subreddits = ["MachineLearning", "datascience"]
    queries = ['"quit machine learning"', '"leaving data science"']
    sort = "relevance"        # relevance | hot | top | new | comments
    time_filter = "all"       # hour | day | week | month | year | all
    max_pages = 10            # 100 results a page; Reddit stops near 1,000
    seeds = ["11ryvao", "https://www.reddit.com/r/MachineLearning/comments/11ryvao/"]

    [filter]                  # optional: keep only threads whose title or selftext matches
    include = ["quit", "leav", "burn(ed|t)? ?out", "switch"]
    exclude = []

    [collection]
    comment_sort = "confidence"

    [archive]                 # optional: history from the Arctic Shift API (docs/ARCHIVES.md)
    subreddits = []           # default: [discovery] subreddits; posts kept by the [filter] rule
    after = "2015-01-01"      # time range of post creation, UTC; before = "now" by default
    text_when_gone = false    # archive text for items Reddit no longer serves (default: withheld)

    [pseudonymize]            # optional: keyed pseudonyms for authors, u/ mentions, profile links
    enabled = true
    key_env = "LEAVING_ML_PSEUDONYM_KEY"   # or key_file = "~/.config/…" (outside the dataset)

    [report.taxonomy]         # optional: groups for the top-level answers in `report` (docs/REPORT.md)
    question = "What do you do now?"
    [[report.taxonomy.groups]]
    name = "Data engineering"
    patterns = ['data engineer', '\bETL\b']
    exclude = []
"""

from __future__ import annotations

import functools
import hashlib
import re
import tomllib
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from scraper.errors import ConfigError
from scraper.sources import names

SPEC_FILE = "dataset.toml"
MAX_SPEC_BYTES = 1 << 20  # a spec is a page of text; a bigger file is something else
_THREAD_URL = re.compile(r"(?:/comments/|redd\.it/)([a-z0-9]+)", re.IGNORECASE)
#: A gallery post's link, on Reddit's own hosts only: imgur's and flickr's galleries are not threads (review 8 F4).
_GALLERY_URL = re.compile(r"^(?:https?://)?(?:[a-z0-9-]+\.)*reddit\.com/gallery/([a-z0-9]+)", re.IGNORECASE)
_THREAD_ID = re.compile(r"^(?:t3_)?([a-z0-9]{1,13})$", re.IGNORECASE)


def compiled(patterns: list[str]) -> list[str]:
    """``patterns`` unchanged if each is a regular expression, else a ValueError naming the bad one."""
    for pattern in patterns:
        try:
            re.compile(pattern)
        except (re.error, OverflowError, RecursionError) as exc:
            raise ValueError(f"bad regular expression {pattern[:80]!r}: {exc}") from None
    return patterns


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetInfo(_Section):
    """``[dataset]``: naming and citation."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    title: str = ""
    description: str = ""
    license: str = "Reddit User Agreement; not for model training without the authors' permission"


class Discovery(_Section):
    """``[discovery]``: which threads to collect."""

    subreddits: list[str] = Field(default_factory=list)
    queries: list[str] = Field(default_factory=list)
    sort: Literal["relevance", "hot", "top", "new", "comments"] = "relevance"
    time_filter: Literal["hour", "day", "week", "month", "year", "all"] = "all"
    max_pages: int = Field(default=10, ge=1, le=10)
    seeds: list[str] = Field(default_factory=list)

    @field_validator("subreddits")
    @classmethod
    def _strip_prefix(cls, value: list[str]) -> list[str]:
        return [names.subreddit(re.sub(r"^/?r/", "", s.strip())) for s in value]

    @field_validator("seeds")
    @classmethod
    def _parse_seeds(cls, value: list[str]) -> list[str]:
        return [thread_id(s) for s in value]


class Filter(_Section):
    """``[filter]``: a keyword rule on title and selftext (regular expressions, any case)."""

    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)

    @field_validator("include", "exclude")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        return compiled(value)

    def matches(self, title: str, selftext: str) -> bool:
        """Whether a thread with this title and selftext passes the rule."""
        return keyword_rule(tuple(self.include), tuple(self.exclude))(f"{title}\n{selftext}")


@functools.lru_cache(maxsize=64)
def keyword_rule(include: tuple[str, ...], exclude: tuple[str, ...]) -> Callable[[str], bool]:
    """The ``[filter]`` rule on a thread's text (``title + "\\n" + selftext``): Python's ``re``, any case.

    The one definition of what the rule keeps: collect, archive, refilter (:meth:`Filter.matches`)
    and the dump reader (:mod:`scraper.normalize.flat`, on the rows its SQL did not already leave
    out) all call it, so the same posts give the same threads whichever way they come. Unicode
    ``\\b``/``\\w``, and ``$`` also before a final newline (a link post's text ends with one), are
    Python's semantics, which DuckDB's RE2 does not share (adversarial review 7, F2).
    """
    includes = [re.compile(p, re.IGNORECASE).search for p in include]
    excludes = [re.compile(p, re.IGNORECASE).search for p in exclude]

    def passes(text: str) -> bool:
        if includes and not any(search(text) for search in includes):
            return False
        return not any(search(text) for search in excludes)

    return passes


class Collection(_Section):
    """``[collection]``: how trees are fetched."""

    comment_sort: Literal["confidence", "top", "new", "controversial", "old", "qa"] = "confidence"


class Archive(_Section):
    """``[archive]``: history from the Arctic Shift API, over subreddits and a time range.

    Posts are enumerated by time and kept by the spec's ``[filter]`` rule (the
    API's keyword search is documented as unreliable).  Threads found are
    collected through Reddit when credentials exist; the archive's copy is used
    only for items Reddit no longer serves, and its text only with
    ``text_when_gone = true``.
    """

    url: str = "https://arctic-shift.photon-reddit.com"
    subreddits: list[str] = Field(default_factory=list)
    after: date = date(2015, 1, 1)
    before: date | Literal["now"] = "now"
    tree_max: int = Field(default=2000, ge=0, description="threads with more comments are paged by link_id")
    text_when_gone: bool = False

    @field_validator("subreddits")
    @classmethod
    def _strip_prefix(cls, value: list[str]) -> list[str]:
        return [re.sub(r"^/?r/", "", s.strip()) for s in value]

    @model_validator(mode="after")
    def _ordered(self) -> Archive:
        if self.before != "now" and not self.after < self.before:
            raise ValueError(f"after ({self.after}) must be before before ({self.before})")
        return self

    def range_epochs(self, now: datetime | None = None) -> tuple[int, int]:
        """``[after, before)`` as epoch seconds (``now`` for an open end)."""
        start = int(datetime.combine(self.after, time(), tzinfo=UTC).timestamp())
        if self.before == "now":
            end = int((now or datetime.now(UTC)).timestamp())
        else:
            end = int(datetime.combine(self.before, time(), tzinfo=UTC).timestamp())
        return start, end


class Pseudonymize(_Section):
    """``[pseudonymize]``: keyed pseudonyms for authors (see scraper/normalize/pseudonyms.py)."""

    enabled: bool = False
    key_env: str | None = None
    key_file: str | None = None


class TaxonomyGroup(_Section):
    """One group of ``[report.taxonomy]``: an answer joins it when any pattern matches and no exclude does."""

    name: str = Field(min_length=1)
    patterns: list[str] = Field(min_length=1)
    exclude: list[str] = Field(default_factory=list)

    @field_validator("patterns", "exclude")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        return compiled(value)


class Taxonomy(_Section):
    """``[report.taxonomy]``: a keyword taxonomy of the threads' top-level answers (scraper/report/taxonomy.py)."""

    question: str = ""
    groups: list[TaxonomyGroup] = Field(min_length=1)

    @field_validator("groups")
    @classmethod
    def _unique(cls, value: list[TaxonomyGroup]) -> list[TaxonomyGroup]:
        names = [g.name for g in value]
        if len(set(names)) != len(names):
            raise ValueError(f"group names repeat: {sorted(n for n in set(names) if names.count(n) > 1)}")
        return value


class ReportOptions(_Section):
    """``[report]``: what ``python -m scraper report`` adds for this dataset."""

    taxonomy: Taxonomy | None = None


class ValidateOptions(_Section):
    """``[validate]``: how ``validate`` judges this dataset.

    ``orphan_warn``: comments whose submission or parent comment the version does not
    hold warn, rather than fail, up to this share of the comments (0 to 1).  Windowed
    archive collections and ingested listings hold comments without their threads.
    """

    orphan_warn: float = Field(default=0.05, ge=0, le=1)


class DatasetSpec(_Section):
    """The whole ``dataset.toml``."""

    dataset: DatasetInfo
    discovery: Discovery = Field(default_factory=Discovery)
    filter: Filter = Field(default_factory=Filter)
    collection: Collection = Field(default_factory=Collection)
    pseudonymize: Pseudonymize = Field(default_factory=Pseudonymize)
    archive: Archive | None = None
    report: ReportOptions = Field(default_factory=ReportOptions)
    checks: ValidateOptions = Field(default_factory=ValidateOptions, alias="validate")

    def archive_subreddits(self) -> list[str]:
        """The subreddits the archive is searched over: ``[archive]``'s, else ``[discovery]``'s."""
        if self.archive is None:
            return []
        return self.archive.subreddits or self.discovery.subreddits


def thread_id(value: str) -> str:
    """The base-36 id of a thread given as an id, a ``t3_`` fullname or a URL."""
    value = value.strip()
    if match := _GALLERY_URL.match(value) or _THREAD_URL.search(value):
        return names.id36(match.group(1).lower(), "thread id")
    if match := _THREAD_ID.match(value):
        return match.group(1).lower()
    raise ValueError(f"{value[:80]!r} is neither a thread id nor a Reddit thread URL")


def load_spec(dataset_dir: Path) -> tuple[DatasetSpec, str]:
    """Read and check ``dataset.toml``; return the spec and the sha256 of its bytes."""
    path = dataset_dir / SPEC_FILE
    try:
        if path.stat().st_size > MAX_SPEC_BYTES:
            raise ConfigError(f"{path} is over {MAX_SPEC_BYTES // 1024} KiB: not a dataset spec")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path} not found: a dataset folder needs a {SPEC_FILE} (see README).") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder; it must be the dataset's spec file (see README).") from None
    except OSError as exc:  # a symlink loop, no permission
        raise ConfigError(f"{path} cannot be read: {exc.strerror or exc}; fix the file (see README).") from None
    try:
        spec = DatasetSpec.model_validate(tomllib.loads(raw.decode("utf-8")))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8 (TOML must be UTF-8)") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a dataset spec") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: [{where}] {first['msg']} ({exc.error_count()} problem(s) in all)") from None
    return spec, hashlib.sha256(raw).hexdigest()
