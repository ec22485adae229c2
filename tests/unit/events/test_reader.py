"""StreamReader: window stop, resume (Last-Event-ID / since), reconnects, deferral, idle, de-dup."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.events.fake_streams import FakeStreams, event, ms
from wikivis.errors import RetriesExceeded
from wikivis.sources.eventstreams import EventFilter, StreamReader, Window, format_event_id, parse_event_id
from wikivis.sources.http import RetryPolicy

UNTIL = datetime(2026, 11, 2, tzinfo=UTC)
FAST = RetryPolicy(backoff_initial_s=0.01, max_attempts=3)
A, B = "eqiad.mediawiki.revision-create", "codfw.mediawiki.revision-create"


def day(session: FakeStreams, n: int = 48, start: str = "2026-11-01T00:00:00Z", step_s: int = 1800) -> None:
    """``n`` events every ``step_s`` seconds from ``start``, alternating two topics."""
    t0 = datetime.fromisoformat(start.replace("Z", "+00:00"))
    for i in range(n):
        dt = (t0 + timedelta(seconds=i * step_s)).strftime("%Y-%m-%dT%H:%M:%SZ")
        session.add(event(f"e{i}", dt, dc="eqiad" if i % 2 == 0 else "codfw"), delay_ms=1)


def reader(session: FakeStreams, *, until: datetime = UNTIL, sleeps: list[float] | None = None, **kw) -> StreamReader:
    kw.setdefault("since", datetime(2026, 11, 1, tzinfo=UTC) if "last_event_id" not in kw else None)
    return StreamReader("http://streams.test", ["mediawiki.revision-create"], session=session,
                        window=Window(until, timedelta(minutes=5), timedelta(minutes=10)), policy=FAST,
                        sleep=(sleeps.append if sleeps is not None else lambda s: None), **kw)


def handle_before_midnight(stream: StreamReader) -> list[str]:
    """Consume ``stream``: defer what belongs to the next day, return the ids handled."""
    handled = []
    for m in stream:
        if m.event["meta"]["dt"] >= "2026-11-02T00:00:00Z":
            stream.defer(m)
        else:
            handled.append(m.event["meta"]["id"])
    return handled


def ids(messages) -> list[str]:
    return [m.event["meta"]["id"] for m in messages]


def test_reads_the_window_then_stops() -> None:
    session = FakeStreams()
    day(session, n=60)  # 30 hours of events
    r = reader(session)
    got = list(r)
    assert r.stats.stop_reason == "until"
    assert ids(got)[:48] == [f"e{i}" for i in range(48)]  # everything before until
    assert len(got) < 60  # it did not read to the end
    assert r.stats.connections == 1
    assert r.stats.reconnects == 0
    assert session.requests_seen[0]["params"] == {"since": "2026-11-01T00:00:00Z"}
    assert "Last-Event-ID" not in session.requests_seen[0]["headers"]


def test_deferred_events_are_read_again_from_the_checkpoint() -> None:
    session = FakeStreams()
    day(session, n=60)
    first = reader(session)
    handled = handle_before_midnight(first)
    checkpoint = first.checkpoint()
    assert checkpoint is not None
    second = reader(session, until=UNTIL + timedelta(days=1), last_event_id=checkpoint)
    again = ids(second)
    assert "Last-Event-ID" in session.requests_seen[-1]["headers"]
    assert again[0] == "e48"  # the first deferred one, not lost
    assert set(handled) | set(again) == {f"e{i}" for i in range(60)}
    assert not set(handled) & set(again)


def test_a_dropped_connection_resumes_without_loss_or_repeats() -> None:
    session = FakeStreams(drop_after=5)
    day(session, n=48)
    sleeps: list[float] = []
    r = reader(session, sleeps=sleeps)
    got = ids(r)
    assert got == [f"e{i}" for i in range(48)]
    assert r.stats.drops >= 9
    assert r.stats.reconnects >= 9
    assert r.stats.stop_reason == "end"
    assert sleeps
    assert all(s == pytest.approx(0.01) for s in sleeps)
    resumed = session.requests_seen[1]["headers"]["Last-Event-ID"]
    assert {e["topic"] for e in json.loads(resumed)} == {A, B}


def test_clean_end_with_progress_reconnects_once_then_stops() -> None:
    session = FakeStreams()
    day(session, n=10)
    r = reader(session)
    assert len(list(r)) == 10
    assert r.stats.stop_reason == "end"
    assert r.stats.connections == 2  # the second one brought nothing


def test_connections_that_bring_nothing_give_up() -> None:
    session = FakeStreams(drop_after=1)
    day(session, n=3)
    session.messages.clear()  # every connection: ":ok" then end → one clean end stops it
    r = reader(session)
    assert list(r) == []
    assert r.stats.stop_reason == "end"

    class Broken(FakeStreams):
        def _frames(self, start):
            from urllib3.exceptions import ProtocolError

            yield b":ok\n\n"
            raise ProtocolError("reset")

    broken = Broken()
    broken.add(event("x", "2026-11-01T00:00:00Z"))
    with pytest.raises(RetriesExceeded, match="brought no event"):
        list(reader(broken))


def test_idle_stream_stops() -> None:
    session = FakeStreams(keepalives=50)
    day(session, n=4)
    clock = iter(range(0, 10_000, 10))
    r = reader(session, idle_timeout_s=35, monotonic=lambda: float(next(clock)))
    assert len(list(r)) == 4
    assert r.stats.stop_reason == "idle"
    assert r.stats.keepalives >= 3


def test_quiet_topic_counts_as_passed_by_the_skew_rule() -> None:
    session = FakeStreams()
    session.add(event("quiet", "2026-11-01T01:00:00Z", dc="codfw"))
    for i in range(30):
        session.add(event(f"busy{i}", f"2026-11-01T{i % 24:02d}:00:00Z" if i < 24 else f"2026-11-02T0{i - 24}:00:00Z"))
    r = reader(session)
    got = ids(r)
    assert r.stats.stop_reason == "until"
    assert got[-1] == "busy25"  # the first message beyond cutoff + skew ends the window
    position = parse_event_id(r.checkpoint() or "[]")[(B, 0)]["timestamp"]
    assert position == ms("2026-11-01T01:00:00Z") + 2  # quiet topic: right after its message


def test_late_events_inside_the_lateness_are_read() -> None:
    session = FakeStreams()
    day(session, n=48)
    session.add(event("late", "2026-11-01T23:59:00Z"), delay_ms=120_000)  # reaches Kafka at 00:01
    session.add(event("next", "2026-11-02T00:30:00Z"))
    got = ids(reader(session))
    assert "late" in got


def test_crlf_framing() -> None:
    session = FakeStreams(crlf=True)
    day(session, n=6)
    assert ids(reader(session)) == [f"e{i}" for i in range(6)]


def test_malformed_data_is_counted_and_skipped() -> None:
    session = FakeStreams()
    day(session, n=3)

    class Bad(FakeStreams):
        def _frames(self, start):
            if len(self.requests_seen) == 1:
                yield b'id: [{"topic":"%s","partition":0,"timestamp":1}]\ndata: {not json\n\n' % A.encode()
            yield from super()._frames(start)

    bad = Bad(messages=list(session.messages))
    r = reader(bad)
    assert len(list(r)) == 3
    assert r.stats.malformed == 1


def test_filter_drops_canaries_other_wikis_and_duplicates() -> None:
    f = EventFilter(frozenset({"samplewiki", "commonswiki"}))
    canary = event("c", "2026-11-01T00:00:00Z")
    canary["meta"]["domain"] = "canary"
    rc = {"meta": {"id": "r", "dt": "2026-11-01T00:00:00Z"}, "wiki": "commonswiki", "type": "log"}
    assert not f.relevant(canary)
    assert not f.relevant(event("o", "2026-11-01T00:00:00Z", wiki="otherwiki"))
    assert f.relevant(rc)
    assert f.first_time(rc)
    assert not f.first_time(rc)  # the other datacentre's copy
    e = event("p", "2026-11-01T00:00:00Z")
    assert f.relevant(e)
    assert f.first_time(e)
    assert f.stats.as_dict() == {"canaries": 1, "other_wikis": 1, "duplicates": 1, "accepted": 2}


def test_event_id_round_trip() -> None:
    raw = '[{"partition":0,"timestamp":5,"topic":"b"},{"partition":0,"offset":7,"topic":"a"}]'
    assert format_event_id(parse_event_id(raw)) == '[{"offset":7,"partition":0,"topic":"a"},{"partition":0,"timestamp":5,"topic":"b"}]'


def test_prefilter_skips_other_wikis_undecoded_but_keeps_positions() -> None:
    session = FakeStreams()
    for i in range(48):
        wiki = "samplewiki" if i % 4 == 0 else "otherwiki"
        dt = (datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=30 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        session.add(event(f"e{i}", dt, wiki=wiki, dc="eqiad" if i % 2 == 0 else "codfw"))
    session.add(event("after", "2026-11-02T01:00:00Z", wiki="otherwiki"))
    plain, filtered = reader(session), reader(session, prefilter=["samplewiki"])
    everything = ids(plain)
    assert ids(filtered) == [i for i in everything if next(
        m.data["database"] for m in session.messages if m.data["meta"]["id"] == i) == "samplewiki"]
    assert filtered.stats.prefiltered == 37  # 36 other-wiki events of the day + the one after
    assert filtered.stats.stop_reason == plain.stats.stop_reason == "until"
    assert filtered.checkpoint() == plain.checkpoint()
    session.spaced_json = True  # not the compact form: decoded after all, same outcome
    spaced = reader(session, prefilter=["samplewiki"])
    assert ids(spaced) == everything
    assert spaced.stats.prefiltered == 0
    assert spaced.checkpoint() == plain.checkpoint()


def test_caught_up_with_real_time_stops_without_waiting_for_the_lateness() -> None:
    session = FakeStreams()
    day(session, n=52)  # e49 is 2026-11-02T00:30; "now" is 20 s later, past the window's end
    r = reader(session, until=datetime(2026, 11, 2, 0, 30, tzinfo=UTC),
               clock=lambda: datetime(2026, 11, 2, 0, 30, 20, tzinfo=UTC))
    assert ids(r)[-1] == "e49"  # the first event within live_slack_s of now
    assert r.stats.stop_reason == "live"


def test_a_checkpoint_past_the_window_reads_nothing() -> None:
    session = FakeStreams()
    day(session, n=4)
    beyond = format_event_id({(t, 0): {"topic": t, "partition": 0, "timestamp": ms("2026-11-03T00:00:00Z")} for t in (A, B)})
    r = reader(session, last_event_id=beyond)
    assert list(r) == []
    assert r.stats.stop_reason == "until"
    assert session.requests_seen == []
    assert r.checkpoint() == beyond
