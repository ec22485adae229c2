"""An in-memory EventStreams server behind a ``requests.Session`` (no sockets).

It follows the same rules as stream.wikimedia.org / the mirror: one entry per assigned topic
in every ``id`` (the consumed topic's entry is its Kafka timestamp + 1), ``Last-Event-ID``
positions win over ``since``, messages delivered in Kafka-timestamp order across topics.
Faults: ``drop_after`` messages per connection (cut without the final chunk), ``keepalives``
(``:ok`` frames sent after the last message instead of closing), ``crlf`` framing,
``resume_backup`` (a resumed connection starts that many messages before each position sent:
its first id goes backwards and those messages come again), ``idle_offsets`` (topics not
consumed yet on a connection appear as ``"offset": -1``, which as ``Last-Event-ID`` means the
end of the topic, as on KafkaSSE).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from urllib3.exceptions import ProtocolError

from wikivis.testing import streamed_response

UA = "wikivis-tests/1.0 (tests@example.org) python-requests/2"
END = 2**62  # a start position past every message


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp() * 1000)


def event(eid: str, dt: str, *, wiki: str = "samplewiki", stream: str = "mediawiki.revision-create",
          dc: str = "eqiad", **body: Any) -> dict[str, Any]:
    return {
        "meta": {"id": eid, "dt": dt, "stream": stream, "domain": "x.wikipedia.org", "topic": f"{dc}.{stream}", "partition": 0},
        "database": wiki,
        **body,
    }


@dataclass
class Message:
    topic: str
    ts: int
    data: dict[str, Any]


@dataclass
class FakeStreams(requests.Session):
    messages: list[Message] = field(default_factory=list)
    topics: tuple[str, ...] = ()
    drop_after: int = 0
    keepalives: int = 0
    crlf: bool = False
    spaced_json: bool = False  # EventStreams writes compact JSON; other servers may not
    resume_backup: int = 0
    idle_offsets: bool = False
    drop_probability: float = 0.0  # each message ends the connection with this probability (seeded)
    requests_seen: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()
        self.headers["User-Agent"] = UA
        self.messages.sort(key=lambda m: m.ts)
        self.topics = self.topics or tuple(sorted({m.topic for m in self.messages}))

    def add(self, data: dict[str, Any], *, delay_ms: int = 1, topic: str | None = None) -> None:
        topic = topic or data["meta"]["topic"]
        ts = ms(data["meta"]["dt"]) + delay_ms
        self.messages.append(Message(topic, ts, {**data, "meta": {**data["meta"], "topic": topic}}))
        self.messages.sort(key=lambda m: m.ts)
        if topic not in self.topics:
            self.topics = tuple(sorted({*self.topics, topic}))

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        headers = kwargs.get("headers") or {}
        params = kwargs.get("params") or {}
        self.requests_seen.append({"url": url, "headers": dict(headers), "params": dict(params)})
        start = {t: 0 for t in self.topics}
        if params.get("since"):
            since = ms(params["since"])
            start = dict.fromkeys(self.topics, since)
        if headers.get("Last-Event-ID"):
            for item in json.loads(headers["Last-Event-ID"]):
                if item["topic"] not in start:
                    continue
                if item.get("offset") is not None and int(item["offset"]) < 0:
                    start[item["topic"]] = END  # KafkaSSE: -1 is the end of the partition
                    continue
                start[item["topic"]] = int(item["timestamp"])
                if self.resume_backup:
                    older = [m.ts for m in self.messages if m.topic == item["topic"] and m.ts < start[item["topic"]]]
                    if older:
                        start[item["topic"]] = older[-self.resume_backup:][0]
        return streamed_response(url, self._frames(start))

    def _frames(self, start: dict[str, int]) -> Iterator[bytes]:
        nl = b"\r\n" if self.crlf else b"\n"
        rng = random.Random(len(self.requests_seen))
        positions: dict[str, int | None] = {t: None if self.idle_offsets or ts >= END else ts for t, ts in start.items()}
        yield b":ok" + nl + nl
        sent = 0
        for m in self.messages:
            if m.ts < start[m.topic]:
                continue
            positions[m.topic] = m.ts + 1
            ident = json.dumps([{"topic": t, "partition": 0, "timestamp": positions[t]} if positions[t] is not None
                                else {"topic": t, "partition": 0, "offset": -1} for t in self.topics])
            yield b"event: message" + nl + b"id: " + ident.encode() + nl + b"data: " + json.dumps(m.data, separators=None if self.spaced_json else (",", ":")).encode() + nl + nl
            sent += 1
            if self.drop_after and sent >= self.drop_after:
                raise ProtocolError("Connection broken: IncompleteRead")
            if self.drop_probability and rng.random() < self.drop_probability:
                raise ProtocolError("Connection broken: IncompleteRead")
        for _ in range(self.keepalives):
            yield b":ok" + nl + nl
