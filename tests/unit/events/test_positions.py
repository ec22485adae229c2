"""Positions only move forward, ``offset: -1`` is never kept, progress is new events, and a run
has a connection and time budget (issue 15, EventStreams 1-2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.events.fake_streams import FakeStreams, event, ms
from tests.unit.events.test_reader import FAST, UNTIL, A, B, day, handle_before_midnight, ids, reader
from wikivis.errors import RetriesExceeded, StreamLimitReached
from wikivis.sources.eventstreams import EventFilter, StreamReader, Window, format_event_id, parse_event_id
from wikivis.sources.http import RetryPolicy

SINCE = datetime(2026, 11, 1, tzinfo=UTC)


def sent_positions(session: FakeStreams) -> list[dict[tuple[str, int], dict]]:
    return [parse_event_id(r["headers"]["Last-Event-ID"]) for r in session.requests_seen if "Last-Event-ID" in r["headers"]]


def test_positions_sent_back_never_move_backwards() -> None:
    # random drops; every resume starts 3 messages back: a connection cut during the replay
    # used to leave positions behind the ones sent
    session = FakeStreams(drop_probability=0.2, resume_backup=3)
    day(session, n=48)
    r = StreamReader("http://streams.test", ["mediawiki.revision-create"], session=session, since=SINCE,
                     window=Window(UNTIL, timedelta(minutes=5), timedelta(minutes=10)), sleep=lambda s: None,
                     policy=RetryPolicy(backoff_initial_s=0.01, max_attempts=10))
    filt = EventFilter(frozenset({"samplewiki"}))
    got = [m.event["meta"]["id"] for m in r if filt.first_time(m.event)]
    assert got == [f"e{i}" for i in range(48)]  # exact: nothing lost, replays de-duplicated
    sent = sent_positions(session)
    assert len(sent) >= 5
    for key in ((A, 0), (B, 0)):
        stamps = [p[key]["timestamp"] for p in sent if key in p]
        assert stamps == sorted(stamps), f"{key} went backwards: {stamps}"
    assert r.stats.replayed > 0  # the server did replay
    assert r.stats.new_events == 48  # each event counted as progress once


def test_replayed_messages_are_not_progress() -> None:
    """Random drops and a server that backs up on every resume: rewritten positions and
    replayed messages do not count, so the run gives up after max_attempts connections that
    brought nothing new (it used to go on for as long as positions kept changing)."""
    session = FakeStreams(drop_probability=0.3, resume_backup=3)
    day(session, n=48)
    r = reader(session)
    new: set[str] = set()

    def read() -> None:
        for m in r:
            new.add(m.event["meta"]["id"])

    with pytest.raises(RetriesExceeded, match="brought no event"):
        read()
    assert r.stats.connections <= len(new) + FAST.max_attempts + 1
    assert r.stats.new_events == len(new)
    assert r.stats.replayed > 0


def test_a_server_that_only_replays_fails_fast() -> None:
    session = FakeStreams(drop_after=2, resume_backup=4)
    day(session, n=20)
    r = reader(session)
    with pytest.raises(RetriesExceeded, match=r"brought no event .*replayed messages"):
        list(r)
    assert r.stats.connections == 1 + FAST.max_attempts
    assert r.stats.new_events == 2
    # the checkpoint still covers exactly what was read
    assert parse_event_id(r.checkpoint() or "[]")[(B, 0)]["timestamp"] == ms("2026-11-01T00:30:00Z") + 2


def test_a_run_has_a_connection_budget() -> None:
    session = FakeStreams(drop_after=3)
    day(session, n=48)
    r = reader(session, max_connections=4)
    with pytest.raises(StreamLimitReached, match=r"after 4 connections .*events_max_connections.*nothing was checkpointed") as err:
        list(r)
    assert isinstance(err.value, RetriesExceeded)
    assert r.stats.connections == 4
    assert r.stats.stop_reason == "limit"
    assert "http://streams.test" in str(err.value)


def test_a_run_has_a_time_budget() -> None:
    session = FakeStreams(drop_after=3)
    day(session, n=48)
    ticks = iter(range(0, 100_000, 10))  # every look at the clock: 10 s later
    r = reader(session, max_run_s=200, monotonic=lambda: float(next(ticks)))
    with pytest.raises(StreamLimitReached, match=r"200 s of reading .*events_max_run_s"):
        list(r)
    assert r.stats.new_events < 48


def test_offset_minus_one_is_never_sent_back_nor_checkpointed() -> None:
    """The idle datacentre's ``offset: -1`` means "end of partition": sent back after a drop,
    it would skip the codfw events written before the next connection."""
    session = FakeStreams(drop_after=3, idle_offsets=True)
    for i in range(12):  # eqiad first; codfw only becomes active later in the day (a switchover)
        session.add(event(f"a{i}", f"2026-11-01T{i:02d}:00:00Z", dc="eqiad"))
    for i in range(12, 24):
        session.add(event(f"b{i}", f"2026-11-01T{i:02d}:00:00Z", dc="codfw"))
    session.add(event("next", "2026-11-02T01:00:00Z", dc="codfw"))
    r = reader(session)
    got = ids(r)
    assert got[:24] == [f"a{i}" for i in range(12)] + [f"b{i}" for i in range(12, 24)]
    for request in session.requests_seen:
        assert '"offset": -1' not in request["headers"].get("Last-Event-ID", "")
        assert '"offset":-1' not in request["headers"].get("Last-Event-ID", "")
    checkpoint = r.checkpoint() or ""
    assert "offset" not in checkpoint
    assert r.stats.idle_offsets > 0
    # an entry that was -1 stands for the run's start
    first = sent_positions(session)[0]
    assert first[(B, 0)] == {"topic": B, "partition": 0, "timestamp": ms("2026-11-01T00:00:00Z")}


def test_a_stored_minus_one_is_replaced_by_the_start() -> None:
    stored = json.dumps([{"topic": A, "partition": 0, "offset": -1},
                         {"topic": B, "partition": 0, "timestamp": ms("2026-11-01T06:00:00Z")}])
    session = FakeStreams()
    day(session, n=4)
    r = reader(session, last_event_id=stored, start=datetime(2026, 11, 1, 3, tzinfo=UTC))
    assert "offset" not in (r.checkpoint() or "")
    assert parse_event_id(r.checkpoint() or "[]")[(A, 0)]["timestamp"] == ms("2026-11-01T03:00:00Z")


def test_a_newer_position_is_never_replaced_by_an_older_one() -> None:
    session = FakeStreams()
    day(session, n=4)
    newer = format_event_id({(A, 0): {"topic": A, "partition": 0, "timestamp": 10},
                             (B, 0): {"topic": B, "partition": 0, "offset": 7}})
    r = reader(session, last_event_id=newer)
    assert not r._advance((A, 0), {"topic": A, "partition": 0, "timestamp": 9})
    assert not r._advance((B, 0), {"topic": B, "partition": 0, "offset": 6})
    assert not r._advance((B, 0), {"topic": B, "partition": 0, "offset": -1})
    assert r._advance((A, 0), {"topic": A, "partition": 0, "timestamp": 11})
    assert r._advance((B, 0), {"topic": B, "partition": 0, "offset": 8})
    assert r.checkpoint() == format_event_id({(A, 0): {"topic": A, "partition": 0, "timestamp": 11},
                                              (B, 0): {"topic": B, "partition": 0, "offset": 8}})


def test_deferred_boundary_pins_before_a_late_event_that_the_next_run_sees_again() -> None:
    """What cross-run de-duplication is for: a late event read after its topic was pinned is
    handled in this run and delivered again to the next one (the catch-up keeps its id)."""
    session = FakeStreams()
    day(session, n=48)
    session.add(event("after", "2026-11-02T00:00:10Z"))  # deferred: pins eqiad before it
    session.add(event("late", "2026-11-01T23:59:00Z"), delay_ms=120_000)  # reaches Kafka after "after"
    session.add(event("next", "2026-11-02T00:30:00Z"))
    first = reader(session)
    handled = handle_before_midnight(first)
    assert "late" in handled
    second = reader(session, until=UNTIL + timedelta(days=1), last_event_id=first.checkpoint())
    again = ids(second)
    assert again[:2] == ["after", "late"]  # "late" comes again: only its id tells it was applied


def test_a_message_without_meta_topic_is_placed_by_the_entry_that_moved() -> None:
    from wikivis.testing import streamed_response

    def frame(ident: list[dict], eid: str) -> bytes:
        data = {"meta": {"id": eid, "dt": "2026-11-01T01:00:00Z"}, "database": "samplewiki"}
        return b"id: " + json.dumps(ident).encode() + b"\ndata: " + json.dumps(data).encode() + b"\n\n"

    t1, t2 = ms("2026-11-01T01:00:00Z"), ms("2026-11-01T02:00:00Z")
    frames = [
        frame([{"topic": A, "partition": 0, "offset": -1}, {"topic": B, "partition": 0, "timestamp": t1}], "x1"),
        frame([{"topic": A, "partition": 0, "offset": -1}, {"topic": B, "partition": 0, "timestamp": t2}], "x2"),
        frame([{"topic": A, "partition": 0, "timestamp": t2}, {"topic": B, "partition": 0, "timestamp": t2}], "x3"),
    ]

    class Session(FakeStreams):
        def request(self, method, url, **kwargs):  # type: ignore[override]
            self.requests_seen.append(kwargs)
            return streamed_response(url, iter(frames if len(self.requests_seen) == 1 else []))

    r = reader(Session())
    got = list(r)
    assert [m.key for m in got] == [(B, 0), (B, 0), (A, 0)]
    assert [m.kafka_ms for m in got] == [t1 - 1, t2 - 1, t2 - 1]
    assert r.stats.new_events == 3
    assert "offset" not in (r.checkpoint() or "")
