"""The Reddit Data API, through praw and prawcore, with every response archived.

PRAW brings what its users expect: credentials from ``praw.ini`` or the
``praw_*`` environment variables, OAuth, prawcore's pacing from the
``x-ratelimit-*`` headers and its retries of 5xx and dropped connections.  We
use its raw request layer (``Reddit.request``) rather than its lazy objects,
because normalization runs from the raw responses kept in the archive, and
because tree expansion is ours (PRAW's ``replace_more`` spends one request per
stub).  prawcore's errors are translated here and nowhere else.
"""

from __future__ import annotations

import collections
import configparser
import json
import logging
import os
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import praw
import prawcore
import requests
from praw.exceptions import MissingRequiredAttributeException, RedditAPIException
from prawcore.rate_limit import RateLimiter
from prawcore.sessions import RetryStrategy

from scraper import TOOL_NAME, __version__
from scraper.cutoff import Cutoff, watched_adapter
from scraper.errors import (
    AuthError,
    BudgetExhausted,
    ConfigError,
    CredentialsMissing,
    RedditError,
    ScraperError,
    SubredditUnavailable,
    ThreadUnavailable,
    TooManyIds,
    TransientError,
)
from scraper.sources import endpoints as ep
from scraper.sources import names
from scraper.sources.pacing import WINDOW_SECONDS, Clock, Pacer, RetryPolicy, header_number, retry_after_seconds
from scraper.store.raw import KEPT_HEADERS, RawArchive, redact_form, redact_token_body
from scraper.watch import emit

log = logging.getLogger(__name__)


DEFAULT_USER_AGENT = f"python:{TOOL_NAME}:{__version__} (research dataset builder; set praw_user_agent)"
TREE_LIMIT = 500  # the most comments Reddit shows in one tree answer
MORECHILDREN_MAX_IDS = 100
INFO_MAX_IDS = 100


@dataclass(frozen=True)
class RedditSettings:
    """How to reach Reddit.  Unset values come from praw.ini or ``praw_*`` variables.

    ``oauth_url`` and ``reddit_url`` point the client at another server, such as
    the fake Reddit that tests start on 127.0.0.1.  They can also be set with the
    environment variables ``SCRAPER_OAUTH_URL`` and ``SCRAPER_REDDIT_URL``.
    """

    site: str | None = None
    oauth_url: str | None = None
    reddit_url: str | None = None
    user_agent: str | None = None
    timeout: int = 16
    client_id: str | None = field(default=None, repr=False)
    client_secret: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, **overrides: Any) -> RedditSettings:
        """Build settings from the environment, with explicit values taking precedence."""
        values: dict[str, Any] = {
            "site": os.environ.get("praw_site") or None,
            "oauth_url": os.environ.get("SCRAPER_OAUTH_URL") or None,
            "reddit_url": os.environ.get("SCRAPER_REDDIT_URL") or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


class _Context:
    """What the collector is doing, written into each archived record."""

    def __init__(self) -> None:
        self.tags: dict[str, Any] = {}
        self.endpoint: str | None = None  # of the API call being made (endpoints.py)


#: The most a Reddit answer may hold, decompressed. A real one is at most a few MB (a 500-comment
#: tree with every field is about 1 MB); past this it is not an answer.
MAX_ANSWER_BYTES = 64 * 2**20


class AnswerTooLarge(Exception):
    """An answer longer than :data:`MAX_ANSWER_BYTES`; it reaches the caller as a failed request."""


def _read_body(response: requests.Response, limit: int) -> None:
    """Read the body of a streamed response, refusing one past ``limit`` bytes; ``.content`` then holds it."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=1 << 16):
        size += len(chunk)
        if size > limit:
            raise AnswerTooLarge(f"an answer longer than {limit:,} bytes, which no Reddit answer is")
        chunks.append(chunk)
    # what requests' own ``.content`` does once it has read a body
    response._content = b"".join(chunks)  # noqa: SLF001
    response._content_consumed = True  # noqa: SLF001


class ArchivingRequestor(prawcore.Requestor):
    """A prawcore requestor that appends every response to the raw archive."""

    def __init__(
        self,
        *args: Any,
        archive: RawArchive | None = None,
        context: _Context | None = None,
        observer: Callable[[Any], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._archive = archive
        self._context = context or _Context()
        self._observer = observer
        self.run_id = ""
        #: seconds left before the run's deadline (None: no deadline); a request is cut off there
        self.time_left: Callable[[], float | None] = lambda: None
        self.cutoff = Cutoff()
        adapter = watched_adapter(self.cutoff)
        self._http.mount("https://", adapter)
        self._http.mount("http://", adapter)

    def request(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> requests.Response:
        """Make the request, then archive request and response before returning.

        The body is read here, at most :data:`MAX_ANSWER_BYTES` of it (after decompression): an
        answer that goes on past that (a broken proxy, a hostile server) is a failed request
        (:class:`AnswerTooLarge`, retried like a network error), not one held in memory whole.
        """
        requested_at = datetime.now(UTC)
        # prawcore passes its own 16 s to every call and PRAW 8.0.3 never hands it the configured
        # timeout, so the requestor's timeout (ours, from RedditSettings) wins here.
        # A server dripping its answer a byte at a time meets no read timeout: the whole request,
        # headers and body, ends at the deadline (adv3 F5); _call then stops the run.
        with self.cutoff.within(self.time_left()):
            response: requests.Response = super().request(*args, timeout=self.timeout, stream=True, **kwargs)
            try:
                _read_body(response, MAX_ANSWER_BYTES)
            except Exception as exc:  # noqa: BLE001 - as prawcore wraps a failed read of a body it read itself
                response.close()
                raise prawcore.RequestException(exc, args, kwargs) from None
        if self.cutoff.fired:  # an answer cut off can look whole (headers ended by the close): never kept
            response.close()
            raise prawcore.RequestException(TimeoutError("cut off at the deadline"), args, kwargs)
        if self._archive is not None:
            self._archive.append(self._record(response, requested_at))
        _plain_retry_after(response)
        if self._observer is not None and ep.endpoint_from_url(str(response.request.url)) != ep.TOKEN:
            self._observer(response.headers)
        return response

    def _record(self, response: requests.Response, requested_at: datetime) -> dict[str, Any]:
        prepared = response.request
        split = urlsplit(prepared.url or "")
        form = None
        if isinstance(prepared.body, (str, bytes)) and prepared.body:
            body = prepared.body.decode() if isinstance(prepared.body, bytes) else prepared.body
            form = redact_form(dict(parse_qsl(body, keep_blank_values=True)))
        text = response.text
        # The token fetch prawcore makes inside an API call is the token endpoint's, not the call's.
        endpoint = ep.TOKEN if ep.endpoint_from_url(split.path) == ep.TOKEN else self._context.endpoint
        if endpoint == ep.TOKEN:
            text = redact_token_body(text)
        return {
            "run": self.run_id,
            "origin": "reddit-api",
            "endpoint": endpoint,
            "requested_at": requested_at.isoformat(),
            "received_at": datetime.now(UTC).isoformat(),
            "method": prepared.method,
            "url": f"{split.scheme}://{split.netloc}{split.path}",
            "params": dict(parse_qsl(split.query, keep_blank_values=True)),
            "form": form,
            "status": response.status_code,
            "headers": {k: response.headers[k] for k in KEPT_HEADERS if k in response.headers},
            "body": text,
            "context": dict(self._context.tags),
        }


class _OneAttempt(RetryStrategy):
    """prawcore's retries off: :class:`RetryPolicy` retries, with our clock."""

    def _sleep_seconds(self) -> float | None:
        return None

    def consume_available_retry(self) -> RetryStrategy:
        return self

    def should_retry_on_failure(self) -> bool:
        return False


class _Unpaced(RateLimiter):
    """prawcore's pacing off: :class:`Pacer` paces, with our clock, and reads the headers.

    prawcore's own ``update`` does ``int()`` on ``x-ratelimit-used``/``-reset``, which a
    ``"300.0"`` or ``"inf"`` breaks (adv3 F3); nothing of ours reads what it would keep.
    """

    def delay(self) -> None:
        return

    def update(self, *, response_headers: Any) -> None:
        return


def _plain_retry_after(response: requests.Response) -> None:
    """Put a ``Retry-After`` prawcore can read: seconds, or none.

    prawcore's ``TooManyRequests`` does ``float(retry-after)``, which an HTTP-date (RFC 9110
    allows one) breaks; the archive has already kept the header as Reddit sent it.
    """
    value = response.headers.get("retry-after")
    if value is None or header_number(value) is not None:
        return
    seconds = retry_after_seconds(value)
    if seconds is None:
        del response.headers["retry-after"]
    else:
        response.headers["retry-after"] = str(seconds)


class RedditClient:
    """The few Reddit API calls the collector makes: paced, retried, budgeted, errors translated."""

    def __init__(
        self,
        settings: RedditSettings,
        archive: RawArchive | None = None,
        *,
        run_id: str = "",
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        max_requests: int | None = None,
        deadline: float | None = None,
    ) -> None:
        self._context = _Context()
        self.clock = clock or Clock()
        self.pacer = Pacer(self.clock)
        self.retry = retry or RetryPolicy()
        self.max_requests = max_requests
        self.deadline = deadline
        self.requests_by_endpoint: collections.Counter[str] = collections.Counter()
        self.faults: collections.Counter[str] = collections.Counter()
        kwargs: dict[str, Any] = {
            "check_for_updates": False,
            "requestor_class": ArchivingRequestor,
            "requestor_kwargs": {
                "archive": archive,
                "context": self._context,
                "observer": self.pacer.update,
                "timeout": settings.timeout,
            },
            "timeout": settings.timeout,
        }
        if settings.oauth_url:
            kwargs["oauth_url"] = settings.oauth_url
        if settings.reddit_url:
            kwargs["reddit_url"] = settings.reddit_url
        if settings.client_id:
            kwargs["client_id"] = settings.client_id
            kwargs["client_secret"] = settings.client_secret
        if settings.user_agent:
            kwargs["user_agent"] = settings.user_agent
        elif not os.environ.get("praw_user_agent"):
            kwargs["user_agent"] = DEFAULT_USER_AGENT
        try:
            with warnings.catch_warnings():
                # PRAW warns when praw.ini overrides the endpoints: that is our documented use.
                warnings.simplefilter("ignore")
                self.reddit = praw.Reddit(settings.site, **kwargs)
        except MissingRequiredAttributeException as exc:
            raise CredentialsMissing(_missing_setting(exc, settings.site)) from None
        except configparser.NoSectionError as exc:
            raise ConfigError(
                f"praw.ini has no section [{exc.section}] (named by --site or praw_site): add it to a praw.ini "
                "in the working directory or ~/.config/, or drop --site and set praw_client_id and "
                "praw_client_secret in the environment."
            ) from None
        except (configparser.Error, ValueError, KeyError) as exc:  # bad types in praw.ini
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            message = f"cannot configure the Reddit client from praw.ini or praw_* variables: {first}"
            raise ConfigError(message) from None
        core = self.reddit._core  # noqa: SLF001 - the only handle praw gives on its requestor
        assert core is not None
        requestor = core.requestor
        assert isinstance(requestor, ArchivingRequestor)
        requestor.run_id = run_id
        requestor.time_left = self._time_left
        self._cutoff: Cutoff = requestor.cutoff
        core._retry_strategy_class = _OneAttempt  # noqa: SLF001
        core._rate_limiter = _Unpaced(window_size=WINDOW_SECONDS)  # noqa: SLF001

    @property
    def request_count(self) -> int:
        """Requests made so far, all endpoints."""
        return sum(self.requests_by_endpoint.values())

    @contextmanager
    def context(self, **tags: Any) -> Iterator[None]:
        """Tag the archived records of the requests made inside the block."""
        saved = dict(self._context.tags)
        self._context.tags.update(tags)
        try:
            yield
        finally:
            self._context.tags = saved

    def _time_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - self.clock.now()

    def _check_budget(self) -> None:
        if self.max_requests is not None and self.request_count >= self.max_requests:
            raise BudgetExhausted(f"request budget of {self.max_requests} reached; run again to continue.")
        if self.deadline is not None and max(self.clock.now(), self.pacer.next_at) >= self.deadline:
            # the deadline has passed, or would pass while waiting for the next request (a 429's
            # retry-after, a spent rate-limit window, a backoff): stop now rather than after the wait
            raise BudgetExhausted("deadline reached; run again to continue.")

    def _call(
        self, endpoint: str, item: str, *, shape: Callable[[Any], str | None] | None = None, **kwargs: Any
    ) -> Any:
        """Make one API call: paced, retried on transient faults, errors translated.

        ``shape`` says what is wrong with an answer that is JSON but not the endpoint's shape (None when it
        is right): such an answer is a fault of Reddit's, retried as a 5xx is (adversarial review 9, F2).
        """
        retries = waits_429 = 0
        reauthorized = False
        while True:
            self._check_budget()
            self.pacer.wait()
            self.requests_by_endpoint[endpoint] += 1
            self._context.endpoint = endpoint
            try:
                result = self.reddit.request(**kwargs)
                if shape is not None and (wrong := shape(result)) is not None:
                    url = f"{str(kwargs.get('method', '')).upper()} {kwargs.get('path', '')}"
                    log.debug("%s answered %s: %s", url, item, wrong)
                    try:
                        retries = self._backoff(retries, item, "an answer of another shape", url)
                    except TransientError as exc:
                        raise TransientError(f"{exc} The last answer was {wrong}.") from None
                    continue
                return result
            except prawcore.TooManyRequests as exc:
                waits_429 = self._wait_429(exc, waits_429, item)
            except prawcore.OAuthException as exc:
                raise AuthError(
                    f"Reddit refused the credentials ({exc.error}); check praw_client_id, "
                    "praw_client_secret (and username/password for script apps)."
                ) from None
            except prawcore.ResponseException as exc:
                status = exc.response.status_code
                if status == 429:  # the token endpoint's 429 comes as a plain ResponseException (adv3 F9)
                    waits_429 = self._wait_429(exc, waits_429, item)
                    continue
                if status == 401 and not reauthorized and endpoint != ep.TOKEN:
                    reauthorized = True  # prawcore dropped the token; the next call fetches a new one
                    continue
                if endpoint == ep.MORECHILDREN and status in (400, 413, 414):
                    raise TooManyIds(f"Reddit refused {item} as too long (HTTP {status})") from None
                if status >= 500 or isinstance(exc, prawcore.BadJSON):
                    fault = f"HTTP {status}" if status >= 500 else "bad JSON"
                    retries = self._backoff(retries, item, fault, _url_of(exc))
                    continue
                raise _translate(exc, endpoint, item) from None
            except prawcore.RequestException as exc:
                if self._cutoff.fired:
                    raise BudgetExhausted(
                        f"deadline reached during a request for {item} (the answer was still coming); "
                        "run again to continue."
                    ) from None
                name = exc.original_exception.__class__.__name__
                log.debug("%s on %s: %s", name, item, exc.original_exception)
                retries = self._backoff(retries, item, name, _url_of(exc))
            except RecursionError:  # an answer nested too deeply to parse: Reddit's answer is bad, not the dataset
                url = f"{kwargs.get('method', '')} {kwargs.get('path', '')}"
                retries = self._backoff(retries, item, "JSON nested too deeply", url)
            except RedditAPIException as exc:
                raise RedditError(f"Reddit rejected the request for {item}: {exc}") from None
            except prawcore.PrawcoreException as exc:
                raise ScraperError(f"request for {item} failed: {exc}") from None

    def _wait_429(self, exc: prawcore.ResponseException, waits: int, item: str) -> int:
        """Hold the next request as a 429 asks (``retry-after``, else the reset, else a minute); the waits so far."""
        self.faults["429"] += 1
        waits += 1
        if waits > self.retry.max_429_waits:
            raise TransientError(f"still rate-limited after {waits - 1} waits on {item}; try again later.") from None
        headers = exc.response.headers
        wait = self.retry.retry_after(headers.get("retry-after"), headers.get("x-ratelimit-reset"))
        url = _url_of(exc)
        emit(
            log,
            "rate-limited",
            "rate-limited (429) on %s (%s); waiting %.0f s as Reddit asks (wait %d of %d)",
            url,
            item,
            wait,
            waits,
            self.retry.max_429_waits,
            url=url,
            wait=wait,
            attempt=waits,
            max_waits=self.retry.max_429_waits,
        )
        self.pacer.hold(wait)
        return waits

    def _backoff(self, retries: int, item: str, fault: str, url: str) -> int:
        self.faults[fault] += 1
        retries += 1
        if retries > self.retry.max_retries:
            raise TransientError(
                f"Reddit kept failing on {item} ({fault} from {url}, {retries} attempts); "
                "check the network and run the same command again."
            )
        wait = self.retry.backoff(retries)
        ahead = self.retry.patience(retries)
        emit(
            log,
            "retry",
            "%s from %s (%s); retry %d of %d in %.1f s, %s",
            fault,
            url,
            item,
            retries,
            self.retry.max_retries,
            wait,
            f"then about {ahead:.0f} s more of retries before giving up" if ahead else "the last one",
            url=url,
            fault=fault,
            attempt=retries,
            max_retries=self.retry.max_retries,
            wait=round(wait, 3),
            gives_up_after=round(wait + ahead, 3),
        )
        self.pacer.hold(wait)
        return retries

    def search(
        self, subreddit: str, query: str, *, sort: str, time_filter: str, after: str | None = None
    ) -> dict[str, Any]:
        """One page (≤100) of a subreddit search."""
        subreddit = _checked(names.subreddit, subreddit, "subreddit")
        if after:
            _checked(names.fullname, after, "search cursor")
        params: dict[str, Any] = {"q": query, "restrict_sr": "on", "sort": sort, "t": time_filter, "limit": 100}
        if after:
            params["after"] = after
        return self._page(
            ep.SEARCH,
            f"r/{subreddit}",
            method="GET",
            path=ep.PATHS[ep.SEARCH].format(subreddit=subreddit),
            params=params,
        )

    def comment_tree(
        self, link: str, *, comment: str | None = None, sort: str = "confidence", limit: int = TREE_LIMIT
    ) -> list[Any]:
        """A submission and its comment tree, or one comment's subtree (``comment``)."""
        link = _checked(names.id36, link, "thread id")
        if comment:
            comment = _checked(names.id36, comment, "comment id")
        path = (
            ep.COMMENT_SUBTREE.format(link=link, comment=comment)
            if comment
            else ep.PATHS[ep.COMMENTS].format(link=link)
        )
        params = {"limit": limit, "sort": sort}
        result: list[Any] = self._call(
            ep.COMMENTS, f"thread t3_{link}", shape=_tree_shape, method="GET", path=path, params=params
        )
        return result

    def more_children(self, link_fullname: str, ids: list[str], *, sort: str = "confidence") -> list[Any]:
        """The things Reddit returns for up to 100 ids of load-more stubs."""
        _checked(lambda v: names.fullname(v, "3"), link_fullname, "thread")
        for cid in ids:
            _checked(names.id36, cid, "comment id")
        data = {"children": ",".join(ids), "link_id": link_fullname, "sort": sort}
        result = self._call(
            ep.MORECHILDREN,
            f"comments of {link_fullname}",
            shape=_more_shape,
            method="POST",
            path=ep.PATHS[ep.MORECHILDREN],
            data=data,
        )
        return list(result["json"]["data"]["things"])

    def info(self, fullnames: list[str]) -> dict[str, Any]:
        """The current state of up to 100 items by fullname."""
        for name in fullnames:
            _checked(names.fullname, name, "item")
        return self._page(ep.INFO, "items", method="GET", path=ep.PATHS[ep.INFO], params={"id": ",".join(fullnames)})

    def _page(self, endpoint: str, item: str, **kwargs: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call(endpoint, item, shape=_listing_shape, **kwargs)
        return result


# What is wrong with a 200 answer of valid JSON that is not its endpoint's shape (None: nothing). An error
# envelope (``{"json": {"errors": [...]}}``, ``{}``) in place of an answer is Reddit's fault, like a 5xx: retried,
# and a run that keeps getting it stops with 75 (try again later), never a thread given up with exit 1.
def _errors_of(result: Any) -> str:
    body = result.get("json") if isinstance(result, dict) else None
    errors = body.get("errors") if isinstance(body, dict) else None
    return f": errors {json.dumps(errors)[:200]}" if errors else ""


def _tree_shape(result: Any) -> str | None:
    if isinstance(result, list) and len(result) == 2:
        return None
    return f"an answer that is not a two-listing comment tree{_errors_of(result)}"


def _more_shape(result: Any) -> str | None:
    body = result.get("json") if isinstance(result, dict) else None
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, dict) and isinstance(data.get("things"), list):
        return None
    return f"a morechildren answer without things{_errors_of(result)}"


def _listing_shape(result: Any) -> str | None:
    if isinstance(result, dict) and result.get("kind") == "Listing":
        return None
    return f"an answer that is not a Listing{_errors_of(result)}"


def _checked(check: Callable[[str], str], value: str, what: str) -> str:
    """``value`` once ``check`` passes it; otherwise no request is made and the run stops with one line."""
    try:
        return check(value)
    except ValueError as exc:
        raise RedditError(f"refusing to put {what} {value!r} into a request to Reddit: {exc}") from None


def _missing_setting(exc: Exception, site: str | None) -> str:
    """One line naming the credential PRAW missed and where to put it (PRAW's own text is three)."""
    match = re.search(r"'(\w+)'", str(exc))
    name = match.group(1) if match else "client_id"
    where = f"in the [{site}] section of praw.ini" if site else "in a praw.ini section named with --site"
    return (
        f"Reddit credentials are missing: {name} is not set. Set praw_{name} in the environment, "
        f"or put {name} {where} (README: Credentials)."
    )


def _url_of(exc: prawcore.PrawcoreException) -> str:
    """``GET https://host/path`` of the request that failed (no query: it may carry ids, never secrets)."""
    if isinstance(exc, prawcore.RequestException):
        args = [str(a) for a in exc.request_args[:2]]
        args[:1] = [a.upper() for a in args[:1]]
    elif isinstance(exc, prawcore.ResponseException):
        args = [str(exc.response.request.method), str(exc.response.request.url or exc.response.url)]
    else:
        return "?"
    return " ".join(a.split("?", 1)[0] for a in args)


def _translate(exc: prawcore.ResponseException, endpoint: str, item: str) -> ScraperError:
    status = exc.response.status_code
    reason = ""
    try:
        payload = exc.response.json()
        if isinstance(payload, dict):
            reason = str(payload.get("reason") or payload.get("message") or "")
    except ValueError:
        pass
    detail = f" ({reason})" if reason else ""
    if status == 401:
        return AuthError(f"Reddit did not accept the token for {item} (401); check the app's credentials.")
    if endpoint == ep.SEARCH and (status in (403, 404) or isinstance(exc, prawcore.Redirect)):
        kind = "private, banned or quarantined" if status == 403 else "unknown"
        return SubredditUnavailable(
            f"{item} cannot be searched: {kind} subreddit{detail} (HTTP {status}). "
            "Remove it from dataset.toml or check its spelling."
        )
    if endpoint in (ep.COMMENTS, ep.MORECHILDREN) and status in (403, 404):
        kind = "private or quarantined" if status == 403 else "deleted or never existed"
        return ThreadUnavailable(f"{item} is {kind}{detail} (HTTP {status}).")
    if status >= 500:
        return TransientError(f"Reddit kept failing on {item} (HTTP {status}); try again later.")
    return RedditError(f"Reddit refused {item} (HTTP {status}){detail}.")
