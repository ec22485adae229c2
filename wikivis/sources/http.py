"""Polite HTTP for every Wikimedia client: identity, declared retries, concurrency and bandwidth.

Wikimedia's rules, which every client in :mod:`wikivis.sources` follows through this module:

* **User-Agent** — ``name/version (contact) library/version``.  Generic agents
  (``python-requests/x``) and agents without contact details get HTTP 403.  The live profile
  refuses to start without a contact (:attr:`wikivis.config.Settings.user_agent`).
* **Retry-After** — 429 and 503 (and the API's ``maxlag`` error, which arrives as HTTP 200)
  carry ``Retry-After``; waiting *less* than it says counts as abuse, so the wait is
  ``max(Retry-After, backoff)``, capped by ``max_wait_s`` (a server that asks for longer than
  that makes the request fail rather than stall a run for hours).
* **Concurrency** — Action API ≤ 3, upload.wikimedia.org ≤ 2 and ≤ 25 Mbps over 10-second
  windows, dumps ≤ 2 connections per IP.  :class:`ConcurrencyLimiter` and :class:`TokenBucket`
  are shared by all threads of one client.

The retry policy is *data* (:class:`RetryPolicy`), executed by tenacity; it never swallows an
error into ``None``: when it gives up it raises :class:`~wikivis.errors.RetriesExceeded`
naming the URL and the last status.
"""

from __future__ import annotations

import email.utils
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from wikivis.errors import PolicyError, RetriesExceeded, SourceError

if TYPE_CHECKING:
    from wikivis.config import Settings

RETRYABLE_STATUSES: frozenset[int] = frozenset({429, *range(500, 600)})


@dataclass(frozen=True)
class RetryPolicy:
    """How a client retries: which statuses and exceptions, how long it waits, when it gives up."""

    statuses: frozenset[int] = RETRYABLE_STATUSES
    exceptions: tuple[type[BaseException], ...] = (
        requests.ConnectionError,
        requests.Timeout,
        requests.exceptions.ChunkedEncodingError,
    )
    max_attempts: int = 6
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 60.0
    backoff_multiplier: float = 2.0
    honour_retry_after: bool = True
    #: a Retry-After longer than this fails the request instead of stalling the run
    max_wait_s: float = 600.0

    def backoff(self, attempt: int) -> float:
        """Exponential backoff for the given 1-based attempt number."""
        return min(self.backoff_max_s, self.backoff_initial_s * self.backoff_multiplier ** (attempt - 1))


@dataclass
class RetryableResponse(Exception):
    """Raised inside the retry loop for a response whose status the policy retries."""

    response: requests.Response
    retry_after_s: float | None = None
    reason: str = ""

    def __str__(self) -> str:
        return f"HTTP {self.response.status_code} {self.reason}".strip()


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` is either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, parsed.timestamp() - time.time())


@dataclass
class SharedCounters:
    """Counters that several threads of one client bump together (``add`` is atomic).

    Subclasses are dataclasses that declare the counters as fields."""

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False, kw_only=True)

    def add(self, **deltas: float) -> None:
        with self._lock:
            for key, delta in deltas.items():
                setattr(self, key, getattr(self, key) + delta)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


@dataclass
class HttpCounters(SharedCounters):
    """Per-client politeness counters (exported to the catalog / monitoring page)."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0  # 429 + maxlag
    server_errors: int = 0
    bytes: int = 0
    waited_s: float = 0.0


class ConcurrencyLimiter:
    """A bounded semaphore shared by every thread of one client (per host)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("concurrency limit must be >= 1")
        self.limit = limit
        self._sem = threading.BoundedSemaphore(limit)

    @contextmanager
    def slot(self) -> Iterator[None]:
        self._sem.acquire()
        try:
            yield
        finally:
            self._sem.release()


class TokenBucket:
    """Bandwidth cap: at most ``rate`` bytes/s, measured over ``window_s``-second windows.

    Capacity is ``rate * window_s`` so short bursts are allowed, but every window of
    ``window_s`` seconds stays under the cap (upload.wikimedia.org measures 25 Mbps over 10 s).
    ``consume`` blocks until the bytes may be taken; callers consume *after* reading a chunk,
    so the debt is paid before the next read.
    """

    def __init__(self, rate_bytes_per_s: float, window_s: float = 10.0, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate_bytes_per_s <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate_bytes_per_s)
        self.capacity = self.rate * window_s
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        self._lock = threading.Lock()

    def consume(self, n_bytes: int) -> float:
        """Take ``n_bytes``; returns the seconds slept."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= n_bytes
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


class Cooldown:
    """A pause shared by every thread talking to one host.

    A ``Retry-After`` on a 429/503 addresses the *client*, not just the request that got it:
    servers (and the mirror) count any request arriving before the delay has passed as
    ignoring it.  :func:`request` blocks the cooldown when it sees one and waits on it
    before every attempt, so the other threads pause too.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._until = 0.0
        self._lock = threading.Lock()

    def block(self, seconds: float) -> None:
        with self._lock:
            self._until = max(self._until, self._clock() + seconds)

    def wait(self) -> float:
        """Sleep until the cooldown has passed; returns the seconds slept."""
        with self._lock:
            remaining = self._until - self._clock()
        if remaining > 0:
            self._sleep(remaining)
            return remaining
        return 0.0


def mbps_to_bytes_per_s(mbps: float) -> float:
    return mbps * 1_000_000 / 8


_GENERIC_AGENT_RE = re.compile(
    r"^(python-requests|python-urllib|python-httpx|aiohttp|curl|wget|go-http-client|java|okhttp|libwww-perl|mozilla)\b",
    re.IGNORECASE,
)
_POLICY_AGENT_RE = re.compile(r"^\S+/\S+ \([^()]*\S[^()]*\)")


def check_user_agent(user_agent: str) -> str:
    """Refuse an agent that Wikimedia's User-Agent policy answers with HTTP 403: it must read
    ``name/version (contact) ...`` and not be a generic library or browser agent."""
    if not _POLICY_AGENT_RE.match(user_agent or "") or _GENERIC_AGENT_RE.match(user_agent or ""):
        raise PolicyError(
            f"User-Agent {user_agent!r} breaks Wikimedia's User-Agent policy (HTTP 403): use "
            "'name/version (contact URL or e-mail) library/version'"
        )
    return user_agent


def polite_session(user_agent: str | Settings, *, pool_size: int = 4, pool_block: bool = False) -> requests.Session:
    """A keep-alive session carrying the policy User-Agent (and no automatic retries:
    retries belong to :func:`request`, where they are declared and counted).

    ``pool_block=True`` makes ``pool_size`` a hard cap on open connections per host (a
    request waits for a free connection instead of opening an extra, discarded one).
    """
    ua = user_agent if isinstance(user_agent, str) else user_agent.user_agent
    session = requests.Session()
    session.headers["User-Agent"] = ua
    session.headers["Accept-Encoding"] = "gzip"
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0, pool_block=pool_block)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _mediawiki_throttle(response: requests.Response) -> str | None:
    """The Action API reports maxlag/ratelimited as HTTP 200 with an error code."""
    ctype = response.headers.get("Content-Type", "")
    if response.status_code != 200 or "json" not in ctype:
        return None
    if "Retry-After" not in response.headers and "X-Database-Lag" not in response.headers:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("code") in {"maxlag", "ratelimited", "readonly"}:
        return str(error.get("code"))
    return None


def request(
    session: requests.Session,
    method: str,
    url: str,
    *,
    policy: RetryPolicy,
    counters: HttpCounters | None = None,
    limiter: ConcurrencyLimiter | None = None,
    sleep: Callable[[float], None] = time.sleep,
    ok_statuses: tuple[int, ...] = (200, 206),
    cooldown: Cooldown | None = None,
    **kwargs: Any,
) -> requests.Response:
    """Send one request under ``policy``; return a response whose status is in ``ok_statuses``.

    ``stream=True`` responses are returned open (the caller closes them); the concurrency
    slot is held only while the request is being sent, so streaming callers that must hold a
    connection slot for the whole body should take ``limiter.slot()`` themselves.
    """
    counters = counters or HttpCounters()

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        backoff = policy.backoff(state.attempt_number)
        retry_after = exc.retry_after_s if isinstance(exc, RetryableResponse) else None
        delay = max(backoff, retry_after or 0.0) if policy.honour_retry_after else backoff
        if retry_after is not None and retry_after > policy.max_wait_s:
            raise RetriesExceeded(
                f"server asked to wait {retry_after:.0f}s (Retry-After), more than max_wait_s={policy.max_wait_s:.0f}",
                url=url,
                status=exc.response.status_code if isinstance(exc, RetryableResponse) else None,
            )
        counters.add(retries=1, waited_s=delay)
        return delay

    attempts = 0

    def attempt() -> requests.Response:
        nonlocal attempts
        attempts += 1
        if cooldown is not None and attempts == 1:  # retries already waited ≥ their Retry-After
            paused = cooldown.wait()
            if paused:
                counters.add(waited_s=paused)
        counters.add(requests=1)
        if limiter is not None:
            with limiter.slot():
                response = session.request(method, url, **kwargs)
        else:
            response = session.request(method, url, **kwargs)
        status = response.status_code
        throttle = _mediawiki_throttle(response)
        if status in policy.statuses or throttle:
            if status == 429 or throttle:
                counters.add(throttled=1)
            elif status >= 500:
                counters.add(server_errors=1)
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if cooldown is not None and retry_after and policy.honour_retry_after:
                cooldown.block(retry_after)
            response.close()
            raise RetryableResponse(response, retry_after, throttle or response.reason or "")
        return response

    retrying = Retrying(
        stop=stop_after_attempt(policy.max_attempts),
        wait=wait,
        retry=retry_if_exception(lambda e: isinstance(e, (RetryableResponse, *policy.exceptions))),
        sleep=sleep,
        reraise=True,
    )
    try:
        response = retrying(attempt)
    except RetryableResponse as exc:
        raise RetriesExceeded(
            f"gave up after {policy.max_attempts} attempts ({exc})", url=url, status=exc.response.status_code
        ) from None
    except policy.exceptions as exc:
        raise RetriesExceeded(
            f"gave up after {policy.max_attempts} attempts: {exc.__class__.__name__}: {exc}", url=url
        ) from exc
    if response.status_code not in ok_statuses:
        body = ""
        try:
            body = response.text[:300]
        except Exception:
            body = ""
        response.close()
        raise SourceError(f"unexpected response: {body.strip()}", url=url, status=response.status_code)
    if not kwargs.get("stream"):
        counters.add(bytes=len(response.content))
    return response


def policy_from_settings(settings: Settings, **overrides: Any) -> RetryPolicy:
    return RetryPolicy(max_attempts=settings.http_max_attempts, **overrides)
