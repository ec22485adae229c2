"""Real EventStreams artefacts (``../shared/realworld-data/events/``, read at test time, never
copied into the repository): a verbatim production SSE frame with an ``offset: -1`` entry and
real events of several schemas, served byte for byte through the reader."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from wikivis.events.dirty import DirtySet
from wikivis.sources.eventstreams import EventFilter, SSEParser, StreamReader, Window, parse_dt, parse_event_id, to_ms
from wikivis.sources.http import RetryPolicy
from wikivis.testing import streamed_response

ROOT = Path(__file__).resolve().parents[3]
#: the shared folder beside the checkout (``<repo>/../shared``); worktrees one level deeper
CANDIDATES = (ROOT.parent / "shared", ROOT.parent.parent / "shared", ROOT / "shared")
FAST = RetryPolicy(backoff_initial_s=0.01, max_attempts=3)


@pytest.fixture(scope="module")
def events_dir() -> Path:
    for base in CANDIDATES:
        found = base / "realworld-data" / "events"
        if found.is_dir():
            return found
    pytest.skip(f"real-world EventStreams data not found (looked in {', '.join(str(c) for c in CANDIDATES)})")


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


class ExactServer(requests.Session):
    """Serves real event bodies byte for byte as KafkaSSE frames: the consumed topic's entry is
    its timestamp + 1, topics not consumed yet on the connection are ``offset: -1``."""

    def __init__(self, lines: list[bytes]) -> None:
        super().__init__()
        self.headers["User-Agent"] = "wikivis-tests/1.0 (tests@example.org) python-requests/2"
        self.messages = []
        for line in lines:
            meta = json.loads(line)["meta"]
            dt = parse_dt(meta["dt"])
            assert dt is not None
            self.messages.append(((meta["topic"], int(meta.get("partition", 0))), to_ms(dt), line))
        self.messages.sort(key=lambda m: m[1])
        self.keys = sorted({m[0] for m in self.messages})
        self.sent_ids: list[str] = []

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        header = (kwargs.get("headers") or {}).get("Last-Event-ID")
        if header:
            self.sent_ids.append(header)
        since = (kwargs.get("params") or {}).get("since")
        start = dict.fromkeys(self.keys, to_ms(parse_dt(since)) if since else 0)  # type: ignore[arg-type]
        for key, entry in parse_event_id(header).items() if header else ():
            start[key] = 2**62 if int(entry.get("offset", 0)) < 0 else int(entry["timestamp"])
        return streamed_response(url, self._frames(start))

    def _frames(self, start: dict[tuple[str, int], int]) -> Iterator[bytes]:
        positions: dict[tuple[str, int], int | None] = dict.fromkeys(self.keys)
        for key, ts, line in self.messages:
            if ts < start[key]:
                continue
            positions[key] = ts + 1
            ident = json.dumps([{"topic": k[0], "partition": k[1], "offset": -1} if positions[k] is None
                                else {"topic": k[0], "partition": k[1], "timestamp": positions[k]} for k in self.keys])
            yield from chunked(b"event: message\nid: " + ident.encode() + b"\ndata: " + line + b"\n\n", 97)


def read_all(lines: list[bytes], wikis: set[str]) -> tuple[StreamReader, list[Any], ExactServer]:
    server = ExactServer(lines)
    first = min(ts for _, ts, _ in server.messages)
    since = datetime.fromtimestamp(first / 1000, UTC)
    reader = StreamReader("http://streams.test", ["mediawiki.recentchange"], session=server, since=since,
                          window=Window(since + timedelta(days=30)), policy=FAST, sleep=lambda s: None,
                          prefilter=sorted(wikis))
    return reader, list(reader), server


def test_the_production_frame_is_parsed_exactly_and_its_minus_one_never_kept(events_dir) -> None:
    raw = (events_dir / "clickhouse_blog_sse_frame.txt").read_bytes()
    whole = SSEParser().feed(raw)
    assert len(whole) == 1
    for size in (1, 7, 64):  # any chunking gives the same event
        parser = SSEParser()
        assert [e for c in chunked(raw, size) for e in parser.feed(c)] == whole
    frame = whole[0]
    assert frame.event == "message"
    positions = parse_event_id(frame.id or "")
    assert positions == {
        ("eqiad.mediawiki.recentchange", 0): {"topic": "eqiad.mediawiki.recentchange", "partition": 0, "offset": -1},
        ("codfw.mediawiki.recentchange", 0): {"topic": "codfw.mediawiki.recentchange", "partition": 0, "timestamp": 1772536525049},
    }
    event = json.loads(frame.data)
    assert event["meta"]["id"] == "9106b913-64f9-4dff-a325-ac43492cc81d"
    assert "Prévot" in event["comment"]  # UTF-8 intact

    class OneFrame(requests.Session):
        def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            self.last_event_id = (kwargs.get("headers") or {}).get("Last-Event-ID")
            return streamed_response(url, iter(chunked(raw, 50) if self.last_event_id is None else []))

    session = OneFrame()
    start = datetime(2026, 3, 3, 11, tzinfo=UTC)
    reader = StreamReader("http://streams.test", ["mediawiki.recentchange"], session=session, since=start,
                          window=Window(datetime(2026, 3, 4, tzinfo=UTC)), policy=FAST, sleep=lambda s: None)
    got = list(reader)
    assert [m.event for m in got] == [event]
    assert got[0].key == ("codfw.mediawiki.recentchange", 0)
    assert got[0].kafka_ms == 1772536525048 == to_ms(parse_dt(event["meta"]["dt"]))  # type: ignore[arg-type]
    assert reader.stats.stop_reason == "end"
    # the -1 became the run's start, in what was sent back and in the checkpoint
    sent = parse_event_id(session.last_event_id or "")
    assert sent[("eqiad.mediawiki.recentchange", 0)] == {"topic": "eqiad.mediawiki.recentchange", "partition": 0,
                                                          "timestamp": to_ms(start)}
    assert "offset" not in (reader.checkpoint() or "")
    assert EventFilter(frozenset({"commonswiki"})).relevant(event)
    dirty = DirtySet("enwiki", "commonswiki")
    assert not dirty.add(event)  # a category change names no file the datasets hold


def test_a_truncated_production_frame_is_refused(events_dir) -> None:
    raw = (events_dir / "clickhouse_blog_sse_frame.txt").read_bytes()
    for cut in (len(raw) // 2, len(raw) - 2):  # no blank line: the event never dispatches
        assert SSEParser().feed(raw[:cut]) == []


@pytest.mark.parametrize(("name", "wiki", "files", "accepted"), [
    ("dec_capstone_events.jsonl", "dewiki", {'Recueil._"La_proie_du_mort"_film_de_W._S._Van_Dyke_-_btv1b10520780m_(08_of_29).jpg'}, 2),
    ("wikimediasampler_events.jsonl", "warwiki", {"Wissensturm_Linz,_Eingangsbereich_-_Panorama_(06).jpg"}, 2),
    ("polars_wikimedia.ndjson", "enwiki", set(), 100),
])
def test_real_events_are_read_exactly(events_dir, name, wiki, files, accepted) -> None:
    lines = [line for line in (events_dir / name).read_bytes().split(b"\n") if line.strip()]
    reader, got, server = read_all(lines, {wiki, "commonswiki"})
    by_id = {json.loads(line)["meta"]["id"]: json.loads(line) for line in lines}
    decoded = [m.event for m in got]
    assert all(by_id[e["meta"]["id"]] == e for e in decoded)  # decoded exactly
    filt = EventFilter(frozenset({wiki, "commonswiki"}))
    dirty = DirtySet(wiki, "commonswiki")
    for m in got:
        assert m.key == (m.event["meta"]["topic"], m.event["meta"]["partition"])
        assert m.kafka_ms == to_ms(parse_dt(m.event["meta"]["dt"]))  # type: ignore[arg-type]
        if filt.relevant(m.event) and filt.first_time(m.event):
            dirty.add(m.event)
    assert filt.stats.accepted == accepted
    assert len(decoded) + reader.stats.prefiltered == len(lines)  # every message seen, none lost
    assert dirty.files == files
    assert reader.stats.malformed == 0
    for sent in server.sent_ids:
        assert '"offset": -1' not in sent and '"offset":-1' not in sent
    assert "offset" not in (reader.checkpoint() or "")
