"""EventStreams (``/v2/stream/<a>,<b>``): the sample's history as Server-Sent Events.

Behaviour follows stream.wikimedia.org (KafkaSSE with ``useTimestampForId``):

* every stream is backed by two Kafka topics, ``eqiad.<stream>`` and ``codfw.<stream>``
  (partition 0).  One day of the sample is produced in codfw (a datacentre switchover), and
  every 20th event is *also* produced in the other DC (same ``meta.id``): consumers must
  deduplicate on ``meta.id``.
* each message has a Kafka timestamp (ms); every 23rd event is produced 90 s late, so
  ``meta.dt`` is not monotonic within a topic (out-of-order delivery).
* SSE framing: ``event: message``, ``id: [{"topic","partition","timestamp"}, …]`` (one entry
  per assigned topic; the consumed one is its message timestamp **+ 1 ms**, so resuming
  does not repeat it), ``data: <JSON>``; comments ``:ok`` as keep-alives.  Chunked
  transfer, ``text/event-stream``.
* resume: a ``Last-Event-ID`` header (that JSON array; entries may use ``offset`` or
  ``timestamp``, offset wins) overrides ``?since=`` (ms epoch or ISO-8601).  Topics not
  named start from ``since``, else at the end ("latest").  With neither, streaming starts
  at the end, as in production.  ``"offset": -1`` means the end of the topic (KafkaSSE:
  latest), so a client that sends it back skips what the topic holds.
* idle topics: a topic with nothing to send on a connection (the idle datacentre) appears in
  every id as ``{"topic": …, "partition": 0, "offset": -1}``, as in production (a verbatim
  frame: ``events/clickhouse_blog_sse_frame.txt`` of the shared real-world data); the
  ``sse_chaos`` fault profile does so for every topic not consumed yet on the connection.
* ``sse_chaos`` also drops connections at random (2 % per message, seeded by the request
  number) and starts a resumed connection one message before each position it was sent,
  so the first id's positions move backwards and those messages are delivered again.
* retention: messages older than ``retention_s`` before ``now_ms`` are gone; a position
  before that starts at the oldest retained message (a consumer must notice the gap).
* the stream ends (server closes cleanly) ``end_after_s`` after the last message, sending
  ``:ok`` every ``keepalive_s`` meanwhile; ``drop_after_events`` (or the "drops" fault
  profile) cuts the connection after N messages without the final chunk.
* at most 2 concurrent connections per client IP (``client_ip_connection_limit: 2``); more
  get 429.
"""

from __future__ import annotations

import bisect
import heapq
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wikivis.mirror.base import DropConnection, Request, Response, Service
from wikivis.mirror.faults import FaultProfile
from wikivis.sample import SampleWiki
from wikivis.sample.events import STREAMS

DATACENTRES = ("eqiad", "codfw")
DUPLICATE_EVERY = 20
LATE_EVERY = 23
LATE_MS = 90_000


@dataclass(frozen=True)
class Message:
    timestamp: int  # Kafka message timestamp, ms
    offset: int
    topic: str
    data: bytes


def _dt_ms(dt: str) -> int:
    return int(datetime.fromisoformat(dt.replace("Z", "+00:00")).timestamp() * 1000)


def build_topics(sample: SampleWiki) -> dict[str, list[Message]]:
    """Spread the sample's events over eqiad/codfw topics with Kafka timestamps and offsets."""
    switch_day = sample.dates[min(len(sample.dates) - 1, 3)]
    switch = (_dt_ms(f"{switch_day[:4]}-{switch_day[4:6]}-{switch_day[6:]}T00:00:00Z") - 86_400_000, None)
    staged: dict[str, list[tuple[int, int, dict[str, Any]]]] = {}
    last_second, k = -1, 0
    for i, event in enumerate(sample.events):
        base = _dt_ms(event["meta"]["dt"])
        k = k + 1 if base == last_second else 0
        last_second = base
        ts = base + 1 + 3 * k
        stream = event["meta"]["stream"]
        dc = "codfw" if switch[0] <= ts < switch[0] + 86_400_000 else "eqiad"
        if i % LATE_EVERY == LATE_EVERY - 1:
            ts += LATE_MS
        staged.setdefault(f"{dc}.{stream}", []).append((ts, i, event))
        if i % DUPLICATE_EVERY == DUPLICATE_EVERY - 1:
            other = "eqiad" if dc == "codfw" else "codfw"
            staged.setdefault(f"{other}.{stream}", []).append((ts + 250, i, event))
    topics: dict[str, list[Message]] = {}
    for topic, items in staged.items():
        items.sort(key=lambda t: (t[0], t[1]))
        messages = []
        previous = -1
        for offset, (ts, _, event) in enumerate(items):
            ts = max(ts, previous + 1)  # strictly increasing per topic: "timestamp + 1" resumes exactly
            previous = ts
            meta = {**event["meta"], "topic": topic, "partition": 0, "offset": offset}
            data = json.dumps({**event, "meta": meta}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            messages.append(Message(ts, offset, topic, data))
        topics[topic] = messages
    return topics


class StreamsService(Service):
    name = "streams"
    max_per_client = 2
    over_limit_status = 429

    def __init__(self, sample: SampleWiki, faults: FaultProfile, *, end_after_s: float = 0.0, keepalive_s: float = 15.0) -> None:
        super().__init__(faults)
        self.sample = sample
        self.topics = build_topics(sample)
        self._timestamps = {t: [m.timestamp for m in ms] for t, ms in self.topics.items()}
        last = sample.dates[-1]
        self.now_ms = _dt_ms(f"{last[:4]}-{last[4:6]}-{last[6:]}T01:00:00Z")
        self.retention_s = 7 * 86400.0
        self.end_after_s = end_after_s
        self.keepalive_s = keepalive_s
        self.drop_after_events = 0

    # ------------------------------------------------------------------ positions
    def _retained_from(self, topic: str) -> int:
        return bisect.bisect_left(self._timestamps.get(topic, []), self.now_ms - int(self.retention_s * 1000))

    def _index_for_timestamp(self, topic: str, ts: int) -> int:
        return max(self._retained_from(topic), bisect.bisect_left(self._timestamps.get(topic, []), ts))

    def _index_for_offset(self, topic: str, offset: int) -> int:
        return max(self._retained_from(topic), offset)

    def handle(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        if len(parts) != 3 or parts[:2] != ["v2", "stream"]:
            return Response.text("Not Found\n", 404)
        streams = []
        for name in parts[2].split(","):
            full = name if name.startswith("mediawiki.") else f"mediawiki.{name}"
            if full not in STREAMS:
                return Response.json(
                    {"type": "not_found", "title": "Not Found", "method": "get",
                     "detail": f"{name} is not an available stream", "uri": request.raw_path}, 404)
            streams.append(full)
        topics = [f"{dc}.{s}" for s in dict.fromkeys(streams) for dc in DATACENTRES]
        try:
            start = self._start_positions(request, topics)
        except ValueError as exc:
            return Response.json({"type": "bad_request", "title": "Bad Request", "detail": str(exc)}, 400)
        headers = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no", "Access-Control-Allow-Origin": "*"}
        truncate = self.faults.hits(self.faults.truncate_every, request.number)
        rng = random.Random(self.faults.seed * 1_000_003 + request.number)
        return Response(200, content_type="text/event-stream; charset=utf-8", headers=headers,
                        stream=self._events(topics, start, truncate=truncate, rng=rng))

    def _start_positions(self, request: Request, topics: list[str]) -> dict[str, int]:
        end = {t: len(self.topics.get(t, [])) for t in topics}
        since = request.query.get("since")
        since_ms: int | None = None
        if since:
            if since.isdigit():
                since_ms = int(since)
            else:
                try:
                    since_ms = int(datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp() * 1000)
                except ValueError:
                    raise ValueError(f"since={since!r} is neither ms since the epoch nor an ISO-8601 date") from None
        start = {t: (self._index_for_timestamp(t, since_ms) if since_ms is not None else end[t]) for t in topics}
        header = request.headers.get("Last-Event-ID")
        if header:
            try:
                assignments = json.loads(header)
                if not isinstance(assignments, list):
                    raise TypeError
            except (ValueError, TypeError):
                raise ValueError("Last-Event-ID must be a JSON array of {topic, partition, offset|timestamp}") from None
            backup = self.faults.sse_resume_backup
            for item in assignments:
                topic = item.get("topic") if isinstance(item, dict) else None
                if topic not in start:
                    continue
                if item.get("offset") is not None and int(item["offset"]) < 0:
                    start[topic] = end[topic]  # -1: the end of the partition ("latest")
                elif item.get("offset") is not None:
                    start[topic] = self._index_for_offset(topic, int(item["offset"]))
                elif item.get("timestamp") is not None:
                    start[topic] = self._index_for_timestamp(topic, int(item["timestamp"]))
                if backup and start[topic] < end[topic]:  # at-least-once: back up and re-send
                    start[topic] = max(self._retained_from(topic), start[topic] - backup)
        return start

    def _events(self, topics: list[str], start: dict[str, int], *, truncate: bool,
                rng: random.Random | None = None) -> Iterator[bytes]:
        positions: dict[str, int | None] = {}
        for t in topics:
            messages = self.topics.get(t, [])
            idle = start[t] >= len(messages) or self.faults.sse_idle_offsets
            positions[t] = None if idle else messages[start[t]].timestamp  # None: "offset": -1
        drop_p = self.faults.sse_drop_probability
        heap = [(self.topics[t][i].timestamp, t, i) for t, i in start.items() if i < len(self.topics.get(t, []))]
        heapq.heapify(heap)
        yield b":ok\n\n"
        drop_after = self.drop_after_events or self.faults.sse_drop_every_events
        sent = 0
        while heap and not self.stopping.is_set():
            _, topic, i = heapq.heappop(heap)
            message = self.topics[topic][i]
            if i + 1 < len(self.topics[topic]):
                heapq.heappush(heap, (self.topics[topic][i + 1].timestamp, topic, i + 1))
            positions[topic] = message.timestamp + 1
            ident = json.dumps([{"topic": t, "partition": 0, "timestamp": positions[t]} if positions[t] is not None
                                else {"topic": t, "partition": 0, "offset": -1} for t in topics], separators=(",", ":"))
            frame = b"event: message\nid: " + ident.encode() + b"\ndata: " + message.data + b"\n\n"
            if truncate and sent == 10:
                yield frame[: len(frame) // 2]
                raise DropConnection
            yield frame
            sent += 1
            if drop_after and sent >= drop_after:
                raise DropConnection
            if drop_p and rng is not None and rng.random() < drop_p:
                raise DropConnection
        deadline = time.monotonic() + self.end_after_s
        while time.monotonic() < deadline and not self.stopping.is_set():
            self.stopping.wait(min(self.keepalive_s, max(0.0, deadline - time.monotonic())))
            yield b":ok\n\n"
