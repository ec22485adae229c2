import io
import json

import pytest
import requests

from wikivis.errors import RetriesExceeded, SourceError
from wikivis.sources.http import (
    ConcurrencyLimiter,
    HttpCounters,
    RetryPolicy,
    TokenBucket,
    parse_retry_after,
    polite_session,
    request,
)


def response(status: int, body: bytes = b"", headers: dict | None = None) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = body
    r.raw = io.BytesIO(body)
    r.headers.update(headers or {})
    r.url = "http://127.0.0.1/x"
    return r


class ScriptedSession(requests.Session):
    def __init__(self, script):
        super().__init__()
        self.script = list(script)
        self.calls = 0

    def request(self, method, url, **kwargs):  # type: ignore[override]
        self.calls += 1
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


def test_retry_after_is_honoured_over_backoff():
    sleeps: list[float] = []
    session = ScriptedSession([response(429, headers={"Retry-After": "7"}), response(503), response(200, b"ok")])
    counters = HttpCounters()
    r = request(session, "GET", "http://127.0.0.1/x", policy=RetryPolicy(backoff_initial_s=1), counters=counters,
                sleep=sleeps.append)
    assert r.content == b"ok"
    assert sleeps == [7.0, 2.0]  # max(Retry-After, backoff), then exponential backoff
    assert counters.throttled == 1 and counters.server_errors == 1 and counters.retries == 2


def test_mediawiki_maxlag_error_is_retried():
    body = json.dumps({"error": {"code": "maxlag", "info": "Waiting for 10.0.0.1: 6 seconds lagged"}}).encode()
    lagged = response(200, body, {"Content-Type": "application/json", "Retry-After": "5", "X-Database-Lag": "6"})
    sleeps: list[float] = []
    session = ScriptedSession([lagged, response(200, b"{}", {"Content-Type": "application/json"})])
    request(session, "GET", "http://127.0.0.1/api", policy=RetryPolicy(), sleep=sleeps.append)
    assert sleeps == [5.0]


def test_gives_up_with_typed_error_naming_url():
    session = ScriptedSession([response(500)] * 3)
    with pytest.raises(RetriesExceeded, match=r"http://127.0.0.1/x HTTP 500.*3 attempts"):
        request(session, "GET", "http://127.0.0.1/x", policy=RetryPolicy(max_attempts=3), sleep=lambda s: None)


def test_connection_errors_are_retried_then_raised():
    session = ScriptedSession([requests.ConnectionError("reset")] * 2)
    with pytest.raises(RetriesExceeded, match="ConnectionError"):
        request(session, "GET", "http://127.0.0.1/x", policy=RetryPolicy(max_attempts=2), sleep=lambda s: None)


def test_too_long_retry_after_fails_instead_of_stalling():
    session = ScriptedSession([response(429, headers={"Retry-After": "86400"})])
    with pytest.raises(RetriesExceeded, match="Retry-After"):
        request(session, "GET", "http://127.0.0.1/x", policy=RetryPolicy(max_wait_s=60), sleep=lambda s: None)


def test_non_retryable_status_raises_source_error():
    session = ScriptedSession([response(403, b"Please set a user-agent")])
    with pytest.raises(SourceError, match=r"HTTP 403.*user-agent"):
        request(session, "GET", "http://127.0.0.1/x", policy=RetryPolicy(), sleep=lambda s: None)
    assert session.calls == 1


def test_parse_retry_after_forms():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None


def test_token_bucket_caps_every_window():
    now = [0.0]
    slept: list[float] = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    bucket = TokenBucket(1000, window_s=10, clock=lambda: now[0], sleep=sleep)
    bucket.consume(10_000)  # the burst allowance of one window
    assert slept == []
    bucket.consume(5_000)
    assert slept == [5.0]
    # 25 Mbps over 10 s is 31.25 MB per window
    big = TokenBucket(25_000_000 / 8, window_s=10, clock=lambda: now[0], sleep=sleep)
    assert big.capacity == pytest.approx(31_250_000)


def test_concurrency_limiter_and_session_identity():
    limiter = ConcurrencyLimiter(2)
    with limiter.slot(), limiter.slot():
        assert not limiter._sem.acquire(blocking=False)
    s = polite_session("wikivis/0.1 (me@example.org) python-requests/2")
    assert s.headers["User-Agent"].startswith("wikivis/0.1 (me@example.org)")
