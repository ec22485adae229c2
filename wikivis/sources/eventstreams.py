"""EventStreams consumer: one composite SSE connection, resumable, bounded to a time window.

Facts this module is built on (docs/reference wikimedia-sources.md §4, anchors on EventStreams):

* **One connection.**  ``GET /v2/stream/a,b,c`` subscribes to several streams at once; the
  service allows 2 connections per client IP, so wikivis never opens one per stream.
* **SSE framing** (WHATWG HTML "server-sent events"): ``field: value`` lines, ``data`` lines
  joined by ``\\n``, ``:`` comments (the server's ``:ok`` keep-alives), ``id``, ``event``,
  ``retry``; a blank line dispatches; lines end in CRLF, LF *or* CR.  :class:`SSEParser` is a
  byte-level incremental parser (``requests.iter_lines`` splits on LF only and mangles a CR
  that ends a chunk, so it is not used).
* **Positions are timestamps.**  Production runs KafkaSSE with ``useTimestampForId``: every
  ``id`` is a JSON array with one entry per assigned topic-partition,
  ``[{"topic": "eqiad.mediawiki.recentchange", "partition": 0, "timestamp": 1767225600001}, …]``,
  where the entry of the topic just consumed is that message's Kafka timestamp **+ 1 ms**.
  Sending the array back as ``Last-Event-ID`` resumes right after it (``offset`` entries are
  honoured too and win over ``timestamp``).  ``?since=`` (ISO or ms) positions topics the
  header does not name.
* **Two datacentres, at-least-once, out of order.**  Every stream has an ``eqiad.`` and a
  ``codfw.`` topic; an event can appear in both (same ``meta.id``) and again after a
  reconnect, and ``meta.dt`` is not monotonic (late producers).  Consumers de-duplicate on
  ``meta.id`` (:class:`EventFilter`) and never assume order.
* **Canaries.**  Monitoring sends ``meta.domain == "canary"`` events to every stream; they
  are dropped, as are other wikis' events.
* **Retention.**  Historical replay reaches back about a week; a position older than that
  silently starts at the oldest retained message.  The caller (:mod:`wikivis.events`) checks
  the age of its checkpoint and the gap before the first message.

Window semantics (:class:`Window`): a run reads the events of ``[start, until)`` by event
time.  Kafka timestamps are assigned when the event reaches Kafka, so an event of
``until - 10 s`` may carry a Kafka timestamp after ``until``: the reader keeps reading until
every topic-partition's position has passed ``until + lateness`` (or, for topics that stay
quiet, until the newest Kafka timestamp seen is ``skew`` beyond that), until the server ends
the stream with nothing new, until no message came for ``idle_timeout_s``, or until it has
caught up with real time.  Events of ``meta.dt >= until`` that are read on the way belong to
the next window: the caller :meth:`StreamReader.defer`\\ s them, which pins that topic's
checkpoint *before* the message, so the next run reads it again.  The checkpoint
(:meth:`StreamReader.checkpoint`) is therefore the newest position per topic-partition up to
which every event has been handled — not simply the last ``id`` received.

Reconnects: a dropped connection (reset, truncated chunk, read timeout) is resumed from the
newest positions with exponential backoff (:class:`~wikivis.sources.http.RetryPolicy`); the
connection attempt itself goes through :func:`wikivis.sources.http.request` (429/5xx with
``Retry-After``).  ``policy.max_attempts`` consecutive connections without a single *new*
event raise :class:`~wikivis.errors.RetriesExceeded`.

Positions only move forward.  After a reconnect the server may replay messages older than
the position sent (at-least-once), and the first ``id`` of a new connection carries the
positions it *started* from, which can be behind ours (``offsetsForTimes`` rounding, a
consumer-group rebalance): a position is replaced only by a newer one of the same kind, per
(topic, partition).  Progress is a message that moves its own topic-partition forward (a new
event); replayed messages, keep-alives and rewritten ids are not progress, so a server that
keeps replaying the same stretch cannot keep a run alive forever.  On top of that a run has a
budget — ``max_connections`` and ``max_run_s`` — and raises
:class:`~wikivis.errors.StreamLimitReached` (a ``RetriesExceeded``) when it runs out.

``offset: -1``.  For a topic-partition it has not consumed anything from (the idle
datacentre), KafkaSSE writes ``{"topic": …, "partition": 0, "offset": -1}`` into the id
(see ``events/clickhouse_blog_sse_frame.txt`` in the shared real-world data).  -1 means "the
end of the partition": sent back as ``Last-Event-ID`` it would skip everything written to
that topic before the next connection (a datacentre switchover).  Such entries are never
kept: they become ``{"timestamp": <the run's start>}`` (:meth:`StreamReader._sanitize`), or
leave the known position as it is.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from wikivis.errors import InputError, RetriesExceeded, StreamLimitReached
from wikivis.sources.http import HttpCounters, RetryPolicy, request

log = logging.getLogger(__name__)

#: the streams wikivis needs: page changes (links are re-read, see wikivis.events), lead-image
#: changes (page-properties-change), deletions/undeletions/moves, and Commons uploads
#: (recentchange, log_type=upload; there is no dedicated upload stream)
PAGE_STREAMS: tuple[str, ...] = (
    "mediawiki.revision-create",
    "mediawiki.page-create",
    "mediawiki.page-properties-change",
    "mediawiki.page-delete",
    "mediawiki.page-undelete",
    "mediawiki.page-move",
)
DEFAULT_STREAMS: tuple[str, ...] = (*PAGE_STREAMS, "mediawiki.recentchange")

_BOM = b"\xef\xbb\xbf"
#: read timeout of the streaming socket; the server sends ``:ok`` keep-alives every ~15 s
DEFAULT_READ_TIMEOUT_S = 60.0

Key = tuple[str, int]  # (topic, partition)


# --------------------------------------------------------------------------- SSE parsing
@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched server-sent event.  ``id`` is the *last event ID* at dispatch time
    (it persists across events, as in the EventSource API)."""

    data: str
    event: str = "message"
    id: str | None = None


class SSEParser:
    """Incremental ``text/event-stream`` parser over bytes (any chunking, CRLF/LF/CR).

    ``feed(chunk)`` returns the events completed by the chunk; an event still open when the
    connection ends is discarded (:meth:`reset`), as the specification requires.  Comments
    are counted in :attr:`comments` (keep-alives), ``retry`` is kept in :attr:`retry_ms`.
    """

    def __init__(self) -> None:
        self.last_event_id: str | None = None
        self.retry_ms: int | None = None
        self.comments = 0
        self.reset()

    def reset(self) -> None:
        """Forget a partial line/event (a new connection starts a new stream)."""
        self._buffer = b""
        self._skip_lf = False
        self._at_start = True
        self._data: list[bytes] = []
        self._event_type = b""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        if not chunk:
            return out
        if self._skip_lf:  # the previous chunk ended in CR: a LF right after it is the same line end
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        data = self._buffer + chunk if self._buffer else chunk
        if self._at_start:
            if len(data) < len(_BOM) and _BOM.startswith(data):
                self._buffer = data
                return out
            self._at_start = False
            if data.startswith(_BOM):
                data = data[len(_BOM) :]
        if b"\r" in data:
            if data.endswith(b"\r"):
                self._skip_lf = True
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = data.split(b"\n")
        self._buffer = lines.pop()
        for line in lines:
            self._line(line, out)
        return out

    def _line(self, line: bytes, out: list[SSEEvent]) -> None:
        if not line:
            self._dispatch(out)
            return
        if line[0] == 0x3A:  # ":" comment
            self.comments += 1
            return
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data.append(value)
        elif name == b"id":
            if b"\0" not in value:
                self.last_event_id = value.decode("utf-8", "replace")
        elif name == b"event":
            self._event_type = value
        elif name == b"retry" and value.isdigit():
            self.retry_ms = int(value)
        # other field names are ignored (specification)

    def _dispatch(self, out: list[SSEEvent]) -> None:
        if not self._data:
            self._event_type = b""
            return
        data = b"\n".join(self._data).decode("utf-8", "replace")
        kind = self._event_type.decode("utf-8", "replace") if self._event_type else "message"
        out.append(SSEEvent(data=data, event=kind, id=self.last_event_id))
        self._data = []
        self._event_type = b""


def iter_sse(chunks: Iterable[bytes], parser: SSEParser | None = None) -> Iterator[SSEEvent]:
    """Events of a byte stream (convenience for tests and the benchmark)."""
    parser = parser or SSEParser()
    for chunk in chunks:
        yield from parser.feed(chunk)


# --------------------------------------------------------------------------- positions
def parse_event_id(raw: str, *, source: str = "Last-Event-ID") -> dict[Key, dict[str, Any]]:
    """``[{"topic", "partition", "timestamp"|"offset"}, …]`` → ``{(topic, partition): entry}``."""
    try:
        items = json.loads(raw)
    except ValueError as exc:
        raise InputError(f"not a JSON array of topic positions: {raw[:120]!r}", source=source) from exc
    if not isinstance(items, list):
        raise InputError(f"not a JSON array of topic positions: {raw[:120]!r}", source=source)
    out: dict[Key, dict[str, Any]] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("topic"), str):
            raise InputError(f"position without a topic: {item!r}", source=source)
        if item.get("timestamp") is None and item.get("offset") is None:
            raise InputError(f"position without timestamp or offset: {item!r}", source=source)
        out[(item["topic"], int(item.get("partition", 0)))] = item
    return out


def format_event_id(entries: dict[Key, dict[str, Any]]) -> str:
    """The inverse of :func:`parse_event_id`, in a stable (topic, partition) order."""
    return json.dumps([entries[k] for k in sorted(entries)], separators=(",", ":"), sort_keys=True)


def to_ms(when: datetime) -> int:
    return int(aware(when).timestamp() * 1000)


def aware(when: datetime) -> datetime:
    """Naive datetimes are taken as UTC."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def iso(when: datetime) -> str:
    return aware(when).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_dt(value: Any) -> datetime | None:
    """``meta.dt`` (ISO-8601, ``Z`` or offset, optional fraction) → aware datetime, or None."""
    if not isinstance(value, str):
        return None
    try:
        return aware(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


@dataclass(frozen=True)
class Window:
    """Read events up to ``until`` (exclusive, by ``meta.dt``).

    ``lateness``: how far past ``until`` (in Kafka time) an event of the window may still
    arrive.  ``skew``: how far the newest Kafka timestamp seen must be beyond
    ``until + lateness`` before topics that stayed quiet count as finished.
    """

    until: datetime
    lateness: timedelta = timedelta(minutes=5)
    skew: timedelta = timedelta(minutes=10)

    @property
    def cutoff_ms(self) -> int:
        return to_ms(self.until + self.lateness)


@dataclass(frozen=True, slots=True)
class Received:
    """One message: its decoded JSON, where it came from, and its Kafka timestamp (ms)."""

    event: dict[str, Any]
    key: Key
    kafka_ms: int | None
    position: dict[str, Any] | None  # this topic-partition's entry of the message's id


@dataclass
class ReaderStats:
    connections: int = 0
    reconnects: int = 0  # connections after the first (drops, clean ends with progress)
    drops: int = 0  # connections that ended with an error
    messages: int = 0
    malformed: int = 0  # data that is not a JSON object (counted, logged, skipped)
    prefiltered: int = 0  # set aside undecoded: no wanted wiki named anywhere in the data
    new_events: int = 0  # messages that moved their topic-partition's position forward
    replayed: int = 0  # messages at or behind their topic-partition's position (re-sent)
    idle_offsets: int = 0  # "offset": -1 entries replaced by the run's start timestamp
    other_events: int = 0  # SSE events of another type than "message"
    keepalives: int = 0
    first_kafka_ms: int | None = None  # smallest Kafka timestamp seen
    newest_kafka_ms: int | None = None  # largest Kafka timestamp seen (the frontier)
    stop_reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True, slots=True)
class _Skipped:
    """A message the prefilter set aside undecoded (it still moved its topic's position)."""

    key: Key
    kafka_ms: int


class _Dropped(Exception):
    """The connection ended with an error (reset, truncated, timeout)."""


class StreamReader:
    """Reads one composite stream from a position until a :class:`Window` is complete.

    Iterate it to get :class:`Received` messages; call :meth:`defer` for a message that the
    caller leaves for the next window; :meth:`checkpoint` gives the ``Last-Event-ID`` to
    persist once everything handled has been stored.
    """

    def __init__(
        self,
        base_url: str,
        streams: Iterable[str] = DEFAULT_STREAMS,
        *,
        session: requests.Session,
        window: Window,
        last_event_id: str | None = None,
        since: datetime | None = None,
        policy: RetryPolicy | None = None,
        counters: HttpCounters | None = None,
        read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
        idle_timeout_s: float = 120.0,
        live_slack_s: float = 30.0,
        prefilter: Iterable[str] = (),
        start: datetime | None = None,
        max_connections: int = 500,
        max_run_s: float = 3 * 3600.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.streams = tuple(dict.fromkeys(streams))
        if not self.streams:
            raise ValueError("no streams to read")
        self.url = f"{base_url.rstrip('/')}/v2/stream/{','.join(self.streams)}"
        self.session = session
        self.window = window
        self.since = since
        self.policy = policy or RetryPolicy()
        self.counters = counters or HttpCounters()
        self.read_timeout_s = read_timeout_s
        self.idle_timeout_s = idle_timeout_s
        self.live_slack_s = live_slack_s
        self.clock = clock
        self.monotonic = monotonic
        self.sleep = sleep
        self.stats = ReaderStats()
        self.max_connections = max_connections
        self.max_run_s = max_run_s
        #: the timestamp an ``offset: -1`` entry stands for: the run's start (``since``)
        begin = start if start is not None else since
        self._fallback_ms = to_ms(begin if begin is not None else clock())
        #: wiki names: data naming none of them (as a JSON string) is not decoded at all
        needles = [re.escape(f'"{w}"') for w in prefilter]
        self._wanted = re.compile("|".join(needles)) if needles else None
        #: newest position per topic-partition (the server's view after the last message)
        self.positions: dict[Key, dict[str, Any]] = {}
        if last_event_id:
            for key, entry in parse_event_id(last_event_id).items():
                self._advance(key, entry)
        #: topic-partitions whose checkpoint is pinned before a deferred message
        self.pinned: dict[Key, dict[str, Any]] = {}
        self._resume_entries = dict(self.positions)
        self._unpinnable = False
        self._full_id_pending = True
        self._parser = SSEParser()
        self._started = False

    # ------------------------------------------------------------------ checkpoint
    def defer(self, message: Received) -> None:
        """Leave ``message`` for the next run: its topic's checkpoint stays before it."""
        if message.key in self.pinned:
            return
        entry = message.position
        if entry is None:  # no position says where it is: the whole run will be read again
            log.warning("%s: cannot tell the position of a deferred message; the checkpoint stays at the start", self.url)
            self._unpinnable = True
            return
        pinned = dict(entry)
        if pinned.get("offset") is not None:
            pinned["offset"] = int(pinned["offset"]) - 1
        if pinned.get("timestamp") is not None:
            pinned["timestamp"] = int(pinned["timestamp"]) - 1  # the message's own timestamp
        self.pinned[message.key] = pinned

    def checkpoint(self) -> str | None:
        """``Last-Event-ID`` covering every message handled (deferred ones excluded)."""
        if self._unpinnable:
            return format_event_id(self._resume_entries) if self._resume_entries else None
        entries = {**self.positions, **self.pinned}
        return format_event_id(entries) if entries else None

    # ------------------------------------------------------------------ stopping
    def _position_ms(self, entry: dict[str, Any]) -> int | None:
        ts = entry.get("timestamp")
        return int(ts) if ts is not None and entry.get("offset") is None else None

    def window_complete(self) -> bool:
        """Every topic-partition has passed ``until + lateness`` (quiet ones by the skew rule)."""
        cutoff = self.window.cutoff_ms
        newest = self.stats.newest_kafka_ms
        if newest is not None and newest >= cutoff + int(self.window.skew.total_seconds() * 1000):
            return True
        if not self.positions:
            return False
        for entry in self.positions.values():
            position = self._position_ms(entry)
            if position is None or position <= cutoff:
                return False
        return True

    def _caught_up_live(self) -> bool:
        now = self.clock()
        newest = self.stats.newest_kafka_ms
        return (
            now >= aware(self.window.until)
            and newest is not None
            and newest >= to_ms(now) - int(self.live_slack_s * 1000)
        )

    # ------------------------------------------------------------------ reading
    def __iter__(self) -> Iterator[Received]:
        if self._started:
            raise RuntimeError("a StreamReader is read once")
        self._started = True
        if self.window_complete():  # resumed past the window already (a rerun)
            self.stats.stop_reason = "until"
            return
        failures = 0
        last_message_at = began = self.monotonic()
        self._deadline = began + self.max_run_s if self.max_run_s > 0 else float("inf")
        while True:
            if self.max_connections > 0 and self.stats.connections >= self.max_connections:
                raise self._limit(f"{self.stats.connections} connections (the run's limit, events_max_connections)")
            if self.stats.connections:
                self.stats.reconnects += 1
            self.stats.connections += 1
            received_before = self.stats.messages
            new_before = self.stats.new_events
            try:
                cutoff = self.window.cutoff_ms
                live_from = to_ms(self.window.until) - int(self.live_slack_s * 1000)
                for message in self._connection():
                    last_message_at = self.monotonic()
                    if last_message_at > self._deadline:
                        raise self._limit(f"{self.max_run_s:g} s of reading (the run's limit, events_max_run_s)")
                    if isinstance(message, Received):  # else: set aside by the prefilter
                        yield message
                    # a topic passes the cutoff only with a message of its own beyond it
                    kafka_ms = message.kafka_ms
                    if (kafka_ms is None or kafka_ms >= cutoff) and self.window_complete():
                        self.stats.stop_reason = "until"
                        return
                    if (kafka_ms is None or kafka_ms >= live_from) and self._caught_up_live():
                        self.stats.stop_reason = "live"
                        return
                ended_cleanly = True
            except _Dropped as exc:
                ended_cleanly = False
                self.stats.drops += 1
                log.info("%s: connection dropped after %d messages: %s", self.url, self.stats.messages - received_before, exc)
            except _Idle:
                self.stats.stop_reason = "idle"
                return
            progress = self.stats.new_events > new_before  # replayed messages are no progress
            if ended_cleanly and not progress:
                self.stats.stop_reason = "end"
                return
            now = self.monotonic()
            if now - last_message_at > self.idle_timeout_s:
                self.stats.stop_reason = "idle"
                return
            failures = 0 if progress else failures + 1
            if failures >= self.policy.max_attempts:
                raise RetriesExceeded(
                    f"{failures} connections in a row brought no event (last: {'closed' if ended_cleanly else 'dropped'}; "
                    f"{self.stats.replayed} replayed messages, {self.stats.new_events} new events in {self.stats.connections} "
                    f"connections)",
                    url=self.url,
                )
            if not ended_cleanly or failures:
                delay = self.policy.backoff(max(1, failures))
                if self._parser.retry_ms is not None:
                    delay = max(delay, self._parser.retry_ms / 1000)
                if now + delay > self._deadline:
                    raise self._limit(f"{self.max_run_s:g} s of reading (the run's limit, events_max_run_s)")
                self.counters.add(waited_s=delay)
                self.sleep(delay)

    def _limit(self, what: str) -> StreamLimitReached:
        stats = self.stats
        frontier = (datetime.fromtimestamp(stats.newest_kafka_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                    if stats.newest_kafka_ms is not None else "nothing")
        self.stats.stop_reason = "limit"
        return StreamLimitReached(
            f"stopped after {what} before the window ending {iso(self.window.until)} was complete: "
            f"{stats.new_events} new events and {stats.replayed} replayed messages in {stats.connections} "
            f"connections ({stats.drops} dropped), read up to {frontier}; nothing was checkpointed",
            url=self.url,
        )

    def _request_headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        resume = self.checkpoint_for_resume()
        if resume:
            headers["Last-Event-ID"] = resume
        return headers

    def checkpoint_for_resume(self) -> str | None:
        """Where a (re)connection resumes: the newest positions (deferred messages were seen)."""
        return format_event_id(self.positions) if self.positions else None

    def _connection(self) -> Iterator[Received | _Skipped]:
        params = {"since": iso(self.since)} if self.since is not None else None
        response = request(
            self.session,
            "GET",
            self.url,
            policy=self.policy,
            counters=self.counters,
            sleep=self.sleep,
            stream=True,
            params=params,
            headers=self._request_headers(),
            timeout=(min(30.0, self.read_timeout_s), self.read_timeout_s),
        )
        self._parser.reset()
        self._full_id_pending = True
        idle_since = self.monotonic()
        try:
            chunks = response.iter_content(chunk_size=None)
            while True:
                try:
                    chunk = next(chunks)
                except StopIteration:
                    return
                except (requests.RequestException, OSError) as exc:
                    raise _Dropped(f"{type(exc).__name__}: {exc}") from exc
                comments = self._parser.comments
                self.counters.add(bytes=len(chunk))
                events = self._parser.feed(chunk)
                self.stats.keepalives += self._parser.comments - comments
                if not events:
                    if self.monotonic() - idle_since > self.idle_timeout_s:
                        raise _Idle
                    continue
                idle_since = self.monotonic()
                for sse in events:
                    message = self._message(sse)
                    if message is not None:
                        yield message
        finally:
            response.close()

    def _message(self, sse: SSEEvent) -> Received | _Skipped | None:
        if sse.event != "message":
            self.stats.other_events += 1
            if sse.event == "error":
                log.warning("%s: server error event: %s", self.url, sse.data[:300])
            return None
        self.stats.messages += 1
        if not (sse.id and self._full_id_pending):
            return self._handle(sse)
        # the first id of a connection: every assigned topic's position (later ids differ only
        # in the consumed topic's entry, which _own_position reads cheaply).  Merged after the
        # message's own entry, so that entry tells whether the message is new.
        self._full_id_pending = False
        try:
            return self._handle(sse)
        finally:
            self._update_positions(sse.id)

    def _handle(self, sse: SSEEvent) -> Received | _Skipped | None:
        if self._wanted is not None and sse.id and self._wanted.search(sse.data) is None:
            skipped = self._skip(sse.data, sse.id)
            if skipped is not None:
                return skipped
        try:
            event = json.loads(sse.data)
            if not isinstance(event, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            self.stats.malformed += 1
            log.warning("%s: message %d is not a JSON object (%s): %r", self.url, self.stats.messages, exc, sse.data[:200])
            if sse.id:
                self._update_positions(sse.id)  # counted and skipped: a resume goes past it
            return None
        meta = event.get("meta") or {}
        topic = meta.get("topic")
        key: Key = (topic, int(meta.get("partition") or 0)) if isinstance(topic, str) else ("", 0)
        entry = _own_position(sse.id, key) if sse.id else None
        if entry is None and sse.id:  # no meta.topic, or an unusual id: read it whole
            before = dict(self.positions)
            entries = self._update_positions(sse.id)
            if key not in entries:  # the one entry that moved is the message's topic
                moved = [k for k, e in entries.items() if not _idle(e) and before.get(k) != self.positions.get(k)]
                if len(moved) == 1:
                    key = moved[0]
            entry = entries.get(key)
            if entry is not None and _idle(entry):
                entry = None
            self._count(before.get(key) != self.positions.get(key) if entry is not None else True)
        elif entry is not None:
            if _idle(entry):
                entry = None
                self._count(True)
            else:
                self._count(self._advance(key, entry))
        else:
            self._count(True)  # nothing tells where it is: new as far as anyone can tell
        kafka_ms: int | None = None
        if entry is not None and entry.get("timestamp") is not None:
            kafka_ms = int(entry["timestamp"]) - 1  # KafkaSSE: message timestamp + 1
        else:
            dt = parse_dt(meta.get("dt"))
            kafka_ms = to_ms(dt) if dt is not None else None
        if kafka_ms is not None:
            self._track(kafka_ms)
        return Received(event=event, key=key, kafka_ms=kafka_ms, position=entry)

    def _skip(self, data: str, raw_id: str) -> _Skipped | None:
        """Set an irrelevant message aside undecoded, if its position can be read without it."""
        found = _topic_of(data)
        position = _own_position(raw_id, found) if found is not None else None
        if found is None or position is None or position.get("timestamp") is None:
            return None  # decode it after all
        self._count(self._advance(found, position))
        self.stats.prefiltered += 1
        kafka = int(position["timestamp"]) - 1
        self._track(kafka)
        return _Skipped(found, kafka)

    def _track(self, kafka_ms: int) -> None:
        stats = self.stats
        if stats.first_kafka_ms is None or kafka_ms < stats.first_kafka_ms:
            stats.first_kafka_ms = kafka_ms
        if stats.newest_kafka_ms is None or kafka_ms > stats.newest_kafka_ms:
            stats.newest_kafka_ms = kafka_ms

    def _update_positions(self, raw_id: str) -> dict[Key, dict[str, Any]]:
        """Merge every entry of an id into :attr:`positions`, forward only; returns the
        entries as sent."""
        try:
            entries = parse_event_id(raw_id, source=f"{self.url} id of message {self.stats.messages}")
        except InputError as exc:
            log.warning("%s", exc)
            return {}
        for key, entry in entries.items():
            self._advance(key, entry)
        return entries

    def _count(self, new: bool) -> None:
        if new:
            self.stats.new_events += 1
        else:
            self.stats.replayed += 1

    def _sanitize(self, key: Key, entry: dict[str, Any]) -> dict[str, Any]:
        """An ``offset: -1`` entry (end of partition) → the run's start as a timestamp."""
        if not _idle(entry):
            return entry
        self.stats.idle_offsets += 1
        return {"topic": key[0], "partition": key[1], "timestamp": self._fallback_ms}

    def _advance(self, key: Key, entry: dict[str, Any]) -> bool:
        """Set ``key``'s position to ``entry`` if that is ahead of the known one; True if so."""
        entry = self._sanitize(key, entry)
        old = self.positions.get(key)
        if old is None or _ahead(entry, old):
            self.positions[key] = entry
            return True
        return False


def _topic_of(data: str) -> Key | None:
    """``meta.topic``/``meta.partition`` of an undecoded message, read from EventStreams'
    compact JSON (``"topic":"…"``); None when absent, spaced differently or ambiguous."""
    at = data.find('"topic":"')
    if at < 0 or data.find('"topic":', at + 9) >= 0:
        return None
    end = data.find('"', at + 9)
    topic = data[at + 9 : end]
    if end < 0 or "\\" in topic:
        return None
    partition = 0
    p = data.find('"partition":')
    if p >= 0:
        digits = _DIGITS_RE.match(data, p + 12)
        if digits is None or data.find('"partition":', p + 12) >= 0:
            return None
        partition = int(digits.group())
    return topic, partition


_DIGITS_RE = re.compile(r"\d+")


def _own_position(raw_id: str, key: Key) -> dict[str, Any] | None:
    """The entry of ``key`` in an SSE id, without parsing the whole array (ids carry one entry
    per assigned topic-partition, ~1 KB for a composite stream; this is the hot path)."""
    topic, partition = key
    if not topic:
        return None
    needle = '"' + topic + '"'
    at = raw_id.find(needle)
    while at >= 0:
        start, end = raw_id.rfind("{", 0, at), raw_id.find("}", at)
        if start < 0 or end < 0:
            return None
        try:
            entry = json.loads(raw_id[start : end + 1])
        except ValueError:
            return None
        if isinstance(entry, dict) and entry.get("topic") == topic and int(entry.get("partition") or 0) == partition:
            return entry if entry.get("timestamp") is not None or entry.get("offset") is not None else None
        at = raw_id.find(needle, end)
    return None


def _idle(entry: dict[str, Any]) -> bool:
    """KafkaSSE's "nothing consumed from this partition": ``offset`` -1 (any negative)."""
    offset = entry.get("offset")
    try:
        return offset is not None and int(offset) < 0
    except (TypeError, ValueError):
        return False


def _ahead(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Whether position ``new`` is past ``old`` (offsets compare with offsets, timestamps with
    timestamps; an offset entry wins over a timestamp one, as on the server)."""
    new_offset, old_offset = new.get("offset"), old.get("offset")
    if new_offset is not None and old_offset is not None:
        return int(new_offset) > int(old_offset)
    if new_offset is None and old_offset is None:
        new_ts, old_ts = new.get("timestamp"), old.get("timestamp")
        if new_ts is None or old_ts is None:
            return new_ts is not None
        return int(new_ts) > int(old_ts)
    return new_offset is not None  # kinds differ: the server honours the offset


class _Idle(Exception):
    """No message for ``idle_timeout_s`` (only keep-alives, or nothing)."""


# --------------------------------------------------------------------------- filtering
@dataclass
class FilterStats:
    canaries: int = 0
    other_wikis: int = 0
    duplicates: int = 0
    accepted: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class EventFilter:
    """Keeps the events of ``wikis`` (``database``; ``wiki`` in recentchange, ``wiki_id`` in
    page_change.v1); drops
    canaries; :meth:`first_time` de-duplicates on ``meta.id`` (both DCs, reconnects)."""

    wikis: frozenset[str]
    stats: FilterStats = field(default_factory=FilterStats)
    _seen: set[str] = field(default_factory=set, repr=False)

    @staticmethod
    def wiki_of(event: dict[str, Any]) -> str | None:
        for field_name in ("database", "wiki", "wiki_id"):  # page streams, recentchange, page_change.v1
            wiki = event.get(field_name)
            if wiki is not None:
                return wiki if isinstance(wiki, str) else None
        return None

    def relevant(self, event: dict[str, Any]) -> bool:
        meta = event.get("meta") or {}
        if meta.get("domain") == "canary":
            self.stats.canaries += 1
            return False
        if self.wiki_of(event) not in self.wikis:
            self.stats.other_wikis += 1
            return False
        return True

    def first_time(self, event: dict[str, Any]) -> bool:
        """True the first time an event id is seen (events without an id always pass)."""
        event_id = (event.get("meta") or {}).get("id")
        if event_id is not None:
            if event_id in self._seen:
                self.stats.duplicates += 1
                return False
            self._seen.add(event_id)
        self.stats.accepted += 1
        return True
