"""A small threaded HTTP/1.1 server shared by the mirror's four services.

Why not FastAPI/uvicorn: the mirror must misbehave on purpose (drop a connection without an
answer, promise a Content-Length and send half, cut an SSE stream mid-chunk) and count how
polite each client was; the stdlib ``ThreadingHTTPServer`` gives direct control of the
socket.  It speaks HTTP/1.1 with keep-alive (Content-Length on every plain answer),
chunked transfer for streams, and single-range ``Range`` requests (206/416).

Politeness accounting (:class:`ServerStats`), per server:

* ``peak_concurrency``: most requests in flight at once from one client IP (a request
  that is refused for going over the cap still counts: it was concurrent).
* ``refused_over_limit``: requests answered 503 (dumps, like nginx ``limit_conn``) or 429
  (upload, EventStreams) because the client already had the maximum in flight.  An idle
  keep-alive connection does not count; only requests being served do.
* ``bad_user_agent``: requests answered 403 for a missing or generic User-Agent.
* ``ignored_retry_after``: requests that arrived from a client before the ``Retry-After``
  delay of an earlier 429/503/maxlag answer to that client had elapsed.
* ``throttled_429``, ``nonstandard_widths``, ``bytes_sent``, ``status`` (counts per code).
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from wikivis.mirror.faults import FaultProfile

#: library defaults that identify nobody (Wikimedia's User-Agent policy answers these with 403)
GENERIC_AGENTS = re.compile(
    r"^(python-requests|python-urllib|python-httpx|httpx|aiohttp|curl|wget|go-http-client|okhttp|java|"
    r"axios|node-fetch|libwww-perl|scrapy|mozilla|apache-httpclient|postmanruntime)\b",
    re.IGNORECASE,
)
_CONTACT = re.compile(r"\(([^)]*(@|https?://|www\.)[^)]*)\)")
UA_403_BODY = (
    "Please set a user-agent and respect our robot policy https://w.wiki/4wJS. "
    "See also https://phabricator.wikimedia.org/T400119.\n"
)


def user_agent_ok(agent: str | None) -> bool:
    """``name/version (contact: URL or e-mail) …``, and ``name`` is not a bare library."""
    if not agent or "/" not in agent.split(" ", 1)[0]:
        return False
    return not GENERIC_AGENTS.match(agent) and bool(_CONTACT.search(agent))


@dataclass
class Request:
    method: str
    path: str  # percent-decoded
    raw_path: str
    query: dict[str, str]
    headers: Any  # email.message.Message
    client: str
    number: int = 0  # per-server request counter (drives the deterministic faults)


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterator[bytes] | None = None  # chunked body (SSE); chunks are written as produced
    payload: bool = False  # file bytes: eligible for truncate/corrupt faults and bandwidth caps
    retry_after: int | None = None

    @classmethod
    def json(cls, obj: Any, status: int = 200, **kw: Any) -> Response:
        body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return cls(status, body, "application/json; charset=utf-8", **kw)

    @classmethod
    def text(cls, text: str, status: int = 200, **kw: Any) -> Response:
        return cls(status, text.encode("utf-8"), **kw)


class DropConnection(Exception):
    """Raised (or returned as a fault) to close the socket without any answer."""


@dataclass
class ServerStats:
    requests: int = 0
    bytes_sent: int = 0
    peak_concurrency: int = 0
    refused_over_limit: int = 0
    throttled_429: int = 0
    bad_user_agent: int = 0
    ignored_retry_after: int = 0
    nonstandard_widths: int = 0
    dropped: int = 0
    status: Counter[int] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "status"}
        out["status"] = dict(sorted(self.status.items()))
        return out


class Service:
    """One mirror server's behaviour: subclasses implement :meth:`handle`."""

    name = "service"
    max_per_client: int | None = None
    over_limit_status = 503
    check_user_agent = True

    def __init__(self, faults: FaultProfile) -> None:
        self.faults = faults
        self.stats = ServerStats()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._in_flight: Counter[str] = Counter()
        self._blocked_until: dict[str, float] = {}
        self._counter = 0
        self._truncated_paths: set[str] = set()
        self.latency_s = 0.0  # extra per-request latency on top of the fault profile
        self.bandwidth_bytes_per_s = 0.0  # total across connections; 0 = unlimited
        self._bw_lock = threading.Lock()
        self._bw_next = 0.0

    def handle(self, request: Request) -> Response:  # pragma: no cover - abstract
        raise NotImplementedError

    def reset_stats(self) -> None:
        with self.lock:
            self.stats = ServerStats()
            self._blocked_until.clear()

    # ------------------------------------------------------------------ accounting
    def next_number(self) -> int:
        with self.lock:
            self._counter += 1
            return self._counter

    def first_truncation(self, path: str) -> bool:
        """Whether ``path`` may be truncated now: each path at most once, like a connection
        cut mid-transfer. Counting requests alone is not enough: with two clients in flight
        the same file's retries can land on every n-th request again and again."""
        with self.lock:
            if path in self._truncated_paths:
                return False
            self._truncated_paths.add(path)
            return True

    def enter(self, client: str) -> bool:
        """Count a request in; False when the client is over its concurrency cap."""
        with self.lock:
            self.stats.requests += 1
            now = time.monotonic()
            if self._blocked_until.get(client, 0.0) > now:
                self.stats.ignored_retry_after += 1
            self._in_flight[client] += 1
            current = self._in_flight[client]
            self.stats.peak_concurrency = max(self.stats.peak_concurrency, current)
            return self.max_per_client is None or current <= self.max_per_client

    def leave(self, client: str) -> None:
        with self.lock:
            self._in_flight[client] -= 1

    def record(self, client: str, response: Response) -> None:
        with self.lock:
            self.stats.status[response.status] += 1
            if response.status == 429:
                self.stats.throttled_429 += 1
            if response.retry_after is not None:
                self._blocked_until[client] = time.monotonic() + response.retry_after

    def sent(self, n: int) -> None:
        with self.lock:
            self.stats.bytes_sent += n

    def pace(self, n: int) -> None:
        """Bandwidth cap shared by all connections of this server (bytes per second)."""
        rate = self.bandwidth_bytes_per_s
        if rate <= 0:
            return
        with self._bw_lock:
            now = time.monotonic()
            start = max(now, self._bw_next)
            self._bw_next = start + n / rate
            delay = start - now
        if delay > 0:
            time.sleep(delay)


def byte_range(request: Request, body: bytes, response: Response) -> Response:
    """Apply a single ``Range: bytes=a-b`` header (206 + Content-Range, or 416)."""
    response.headers["Accept-Ranges"] = "bytes"
    header = request.headers.get("Range")
    if not header or response.status != 200:
        return response
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    size = len(body)
    if not match or match.groups() == ("", ""):
        return response  # unsupported (multi-range, other units): full answer, as servers may
    first, last = match.groups()
    if first == "":
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), (int(last) if last else size - 1)
        end = min(end, size - 1)
    if start >= size or start > end:
        return Response(416, b"", headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"})
    response.status = 206
    response.body = body[start : end + 1]
    response.headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mirror"
    sys_version = ""
    timeout = 30  # idle keep-alive connections go away eventually
    # production servers send small answers at once; with Nagle on, every answer on a reused
    # (keep-alive) connection would stall ~40 ms behind the client's delayed ACK
    disable_nagle_algorithm = True

    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        self._serve(head=False, form=body)

    # ------------------------------------------------------------------
    def _serve(self, *, head: bool, form: str = "") -> None:
        service = self.server.service
        client = self.client_address[0]
        split = urlsplit(self.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        if form:
            query.update(parse_qsl(form, keep_blank_values=True))
        request = Request(self.command, unquote(split.path), split.path, query, self.headers, client)
        allowed = service.enter(client)
        self._counted = True
        try:
            response = self._respond(service, request, allowed)
            if response is None:
                return
            service.record(client, response)
            self._write(service, request, response, head=head)
        except (DropConnection, ConnectionError, TimeoutError):
            self.close_connection = True
        finally:
            if self._counted:
                service.leave(client)

    def _leave_before_close(self, service: Service) -> None:
        """Stop counting this request before the socket closes: the client sees the close at
        once and may connect again, which must not look like a third connection in flight."""
        if self._counted:
            self._counted = False
            service.leave(self.client_address[0])

    def _respond(self, service: Service, request: Request, allowed: bool) -> Response | None:
        faults = service.faults
        if not allowed:
            with service.lock:
                service.stats.refused_over_limit += 1
            status = service.over_limit_status
            message = "Too many concurrent connections from your address" if status == 429 else "Service Temporarily Unavailable"
            return Response.text(message + "\n", status, retry_after=1, headers={"Retry-After": "1"})
        if service.check_user_agent and not user_agent_ok(request.headers.get("User-Agent")):
            with service.lock:
                service.stats.bad_user_agent += 1
            return Response.text(UA_403_BODY, 403)
        delay = faults.latency_s + service.latency_s
        if delay:
            time.sleep(delay)
        n = service.next_number()
        if faults.hits(faults.drop_every, n):
            with service.lock:
                service.stats.dropped += 1
            self.close_connection = True
            self._leave_before_close(service)
            self._hard_close()
            return None
        if faults.hits(faults.error_every, n):
            status = (500, 502, 503)[(n // max(1, faults.error_every)) % 3]
            return Response.text(f"injected fault: HTTP {status}\n", status)
        if faults.throttled(n):
            after = faults.retry_after_s
            return Response.text("Too Many Requests\n", 429, retry_after=after, headers={"Retry-After": str(after)})
        request.number = n
        response = service.handle(request)
        if response.payload:
            if faults.hits(faults.corrupt_every, n) and response.body:
                body = bytearray(response.body)
                for i in range(len(body) // 2, len(body), max(1, len(body) // 64)):
                    body[i] ^= 0x5A
                response.body = bytes(body)
            if faults.hits(faults.truncate_every, n) and response.body and service.first_truncation(request.path):
                response.headers["X-Mirror-Truncate"] = str(len(response.body) // 2)
        return response

    def _hard_close(self) -> None:
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _write(self, service: Service, request: Request, response: Response, *, head: bool) -> None:
        truncate_at = response.headers.pop("X-Mirror-Truncate", None)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for key, value in response.headers.items():
            self.send_header(key, value)
        if response.stream is not None and not head:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._write_stream(service, response.stream)
            return
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if head:
            return
        body = response.body
        if truncate_at is not None:
            body = body[: int(truncate_at)]
        if response.payload and service.bandwidth_bytes_per_s > 0:
            step = 64 * 1024
            for i in range(0, len(body), step):
                chunk = body[i : i + step]
                service.pace(len(chunk))
                self.wfile.write(chunk)
                service.sent(len(chunk))
        else:
            self.wfile.write(body)
            service.sent(len(body))
        if truncate_at is not None:
            self.wfile.flush()
            self.close_connection = True
            self._leave_before_close(service)
            self._hard_close()

    def _write_stream(self, service: Service, chunks: Iterator[bytes]) -> None:
        try:
            for chunk in chunks:
                if not chunk:
                    continue
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
                service.sent(len(chunk))
        except DropConnection:  # the stream decided to cut the connection mid-way
            self.close_connection = True
            self._hard_close()
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], service: Service) -> None:
        self.service = service
        self.open_sockets: set[socket.socket] = set()
        self._sockets_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up on a keep-alive connection is normal, not worth a traceback."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._sockets_lock:
            self.open_sockets.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._sockets_lock:
                self.open_sockets.discard(request)

    def close_all(self) -> None:
        with self._sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class RunningServer:
    """A service bound to ``host:port`` and served from a background thread."""

    def __init__(self, service: Service, host: str, port: int) -> None:
        self.service = service
        self.httpd = _Server((host, port), service)
        self.host, self.port = str(self.httpd.server_address[0]), int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.service.stopping.set()
        if self.thread.is_alive():
            self.httpd.shutdown()  # blocks forever when serve_forever never ran
        self.httpd.server_close()
        self.httpd.close_all()
        if self.thread.is_alive():
            self.thread.join(timeout=5)
