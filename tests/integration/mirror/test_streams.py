"""EventStreams: SSE framing, since / Last-Event-ID resume, duplicates, retention, drops, caps."""

from __future__ import annotations

import json

import pytest
import requests

from tests.integration.mirror.conftest import GOOD_UA, sse_events

pytestmark = pytest.mark.integration
STREAMS = "recentchange,revision-create,page-properties-change,page-delete,page-undelete,page-move,page-create"


def _start(sample_wiki) -> str:
    d = sample_wiki.dates[0]
    return f"{d[:4]}-{d[4:6]}-{d[6:]}T00:00:00Z"


def test_full_replay_since(mirror, sample_wiki, http) -> None:
    response = http.get(f"{mirror.urls['streams']}/v2/stream/{STREAMS}", params={"since": _start(sample_wiki)}, stream=True)
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers["Transfer-Encoding"] == "chunked"
    events = list(sse_events(response))
    assert {e["event"] for e in events} == {"message"}
    ids = {e["data"]["meta"]["id"] for e in events}
    assert ids == {e["meta"]["id"] for e in sample_wiki.events}  # everything, once deduplicated
    assert len(events) > len(ids)  # eqiad/codfw duplicates
    topics = {e["data"]["meta"]["topic"].split(".")[0] for e in events}
    assert topics == {"eqiad", "codfw"}
    dts = [e["data"]["meta"]["dt"] for e in events]
    assert dts != sorted(dts)  # some out-of-order delivery
    assert any(e["data"]["meta"]["domain"] == "canary" for e in events)
    first = events[0]
    (entry,) = [i for i in first["id"] if i["topic"] == first["data"]["meta"]["topic"]]
    assert entry["partition"] == 0
    assert len(first["id"]) == 14  # one entry per assigned topic (7 streams x 2 DCs)


def test_since_as_ms_equals_iso(mirror, sample_wiki, http) -> None:
    d = sample_wiki.dates[3]
    iso = f"{d[:4]}-{d[4:6]}-{d[6:]}T00:00:00Z"
    from datetime import datetime

    ms = int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
    url = f"{mirror.urls['streams']}/v2/stream/recentchange"
    a = [e["data"]["meta"]["id"] for e in sse_events(http.get(url, params={"since": iso}, stream=True))]
    b = [e["data"]["meta"]["id"] for e in sse_events(http.get(url, params={"since": str(ms)}, stream=True))]
    assert a == b
    assert a


def test_no_position_starts_at_latest(mirror, http) -> None:
    events = list(sse_events(http.get(f"{mirror.urls['streams']}/v2/stream/recentchange", stream=True)))
    assert events == []


def test_last_event_id_resumes_without_repeats(mirror_factory, sample_wiki, http) -> None:
    running = mirror_factory()
    running.streams.drop_after_events = 100
    url = f"{running.urls['streams']}/v2/stream/revision-create,recentchange"
    received, last_id, connections = [], None, 0
    while True:
        headers = {"Last-Event-ID": json.dumps(last_id)} if last_id else {}
        params = {} if last_id else {"since": _start(sample_wiki)}
        connections += 1
        got = 0
        try:
            for event in sse_events(http.get(url, params=params, headers=headers, stream=True)):
                received.append(event)
                last_id = event["id"]
                got += 1
        except requests.exceptions.ChunkedEncodingError:
            continue  # dropped: resume from the last id
        if got == 0 or got < 100:
            break
    assert connections > 3
    running.streams.drop_after_events = 0
    baseline = list(sse_events(http.get(url, params={"since": _start(sample_wiki)}, stream=True)))
    # same messages in the same order: nothing lost, nothing repeated across reconnects
    key = lambda e: (e["data"]["meta"]["topic"], e["data"]["meta"]["offset"])  # noqa: E731
    assert [key(e) for e in received] == [key(e) for e in baseline]


def test_offset_in_last_event_id(mirror, http) -> None:
    url = f"{mirror.urls['streams']}/v2/stream/recentchange"
    header = json.dumps([{"topic": "eqiad.mediawiki.recentchange", "partition": 0, "offset": 5}])
    events = list(sse_events(http.get(url, headers={"Last-Event-ID": header}, stream=True)))
    assert events[0]["data"]["meta"]["offset"] == 5
    assert {e["data"]["meta"]["topic"] for e in events} == {"eqiad.mediawiki.recentchange"}


def test_retention_window(mirror_factory, sample_wiki, http) -> None:
    running = mirror_factory()
    running.streams.retention_s = 2 * 86400
    events = list(sse_events(http.get(f"{running.urls['streams']}/v2/stream/revision-create",
                                      params={"since": _start(sample_wiki)}, stream=True)))
    d = sample_wiki.dates[-3]
    assert events
    # everything older than two days before "now" (the last dump date + 1 h) is gone
    assert min(e["data"]["meta"]["dt"] for e in events) >= f"{d[:4]}-{d[4:6]}-{d[6:]}T01:00:00Z"[:13]


def test_unknown_stream_and_bad_since(mirror, http) -> None:
    assert http.get(f"{mirror.urls['streams']}/v2/stream/nope").status_code == 404
    assert http.get(f"{mirror.urls['streams']}/v2/stream/recentchange", params={"since": "yesterday"}).status_code == 400


def test_third_connection_gets_429(mirror_factory, sample_wiki) -> None:
    running = mirror_factory(stream_end_after_s=30, stream_keepalive_s=0.2)
    url = f"{running.urls['streams']}/v2/stream/recentchange"
    sessions = [requests.Session() for _ in range(3)]
    try:
        open_streams = [s.get(url, headers={"User-Agent": GOOD_UA}, stream=True) for s in sessions[:2]]
        assert [r.status_code for r in open_streams] == [200, 200]
        third = sessions[2].get(url, headers={"User-Agent": GOOD_UA})
        assert third.status_code == 429
        assert running.stats["streams"]["refused_over_limit"] == 1
    finally:
        for s in sessions:
            s.close()
