"""Stale checkpoints: not retried by Airflow, reconciled by the next dump/replica snapshot, the
gap recorded for the monitoring page; replay ids travel with the checkpoint (issue 15, 3-4)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.unit.events.test_checkpoint import NoNetwork
from wikivis.catalog import Catalog
from wikivis.errors import InputError, StaleCheckpointError
from wikivis.events import CHECKPOINT_NAME, Checkpoint, catch_up, checkpoint_value, event_gaps, reconcile, stale_reason


@pytest.fixture
def catalog(settings):
    cat = Catalog(settings.resolved_catalog_url)
    yield cat
    cat.dispose()


def test_replay_ids_round_trip_with_the_checkpoint() -> None:
    cp = Checkpoint('[{"partition":0,"timestamp":5,"topic":"a"}]', datetime(2026, 11, 2, tzinfo=UTC), "20261102T000000Z",
                    ("id-b", "id-a"))
    back = Checkpoint.from_value(cp.to_value())
    assert set(back.replay_ids) == {"id-a", "id-b"}
    assert json.loads(cp.to_value())["replay_ids"] == ["id-a", "id-b"]
    plain = Checkpoint(None, datetime(2026, 11, 2, tzinfo=UTC), "20261102")
    assert "replay_ids" not in plain.to_value()  # the old envelope, unchanged
    assert Checkpoint.from_value(plain.to_value()).replay_ids == ()
    with pytest.raises(InputError, match="replay_ids"):
        Checkpoint.from_value(json.dumps({"until": "2026-11-02T00:00:00Z", "last_event_id": None, "replay_ids": [1]}))


def stale(settings, lake, catalog) -> None:
    with pytest.raises(StaleCheckpointError):
        catch_up(settings, "samplewiki", base_snapshot="20261101", until=datetime(2026, 11, 20, tzinfo=UTC),
                 lake=lake, catalog=catalog, session=NoNetwork())


def test_a_dump_snapshot_reconciles_a_stale_wiki_and_records_the_gap(settings, lake, catalog) -> None:
    stale(settings, lake, catalog)
    mark = json.loads(stale_reason(catalog, "samplewiki") or "{}")
    assert mark["since"] == "2026-11-01T00:00:00Z"
    assert mark["lost_until"] == "2026-11-13T00:00:00Z"  # until - 7 days: the oldest replayable
    gaps = event_gaps(catalog)
    assert [(g["wiki"], g["since"], g["lost_until"], g["reconciled_by"]) for g in gaps] == [
        ("samplewiki", "2026-11-01T00:00:00Z", "2026-11-13T00:00:00Z", None)]

    gap = reconcile(catalog, "samplewiki", "20261119")
    assert gap is not None
    assert gap["reconciled_by"] == "20261119"
    assert stale_reason(catalog, "samplewiki") is None
    cp = Checkpoint.from_value(checkpoint_value(catalog, "samplewiki") or "")
    assert (cp.last_event_id, cp.until, cp.snapshot) == (None, datetime(2026, 11, 19, tzinfo=UTC), "20261119")
    assert [(g["since"], g["lost_until"], g["reconciled_by"]) for g in event_gaps(catalog)] == [
        ("2026-11-01T00:00:00Z", "2026-11-13T00:00:00Z", "20261119")]
    # the next catch-up from that snapshot is inside the replay window: no longer refused
    # (it gets as far as the network)
    with pytest.raises(AssertionError, match="no request expected"):
        catch_up(settings, "samplewiki", base_snapshot="20261119", until=datetime(2026, 11, 20, tzinfo=UTC),
                 lake=lake, catalog=catalog, session=NoNetwork())


def test_reconcile_keeps_a_checkpoint_that_is_ahead_of_the_dump(catalog) -> None:
    ahead = Checkpoint("[]", datetime(2026, 11, 3, 12, tzinfo=UTC), "20261103T120000Z")
    catalog.set_checkpoint(CHECKPOINT_NAME, "samplewiki", ahead.to_value())
    assert reconcile(catalog, "samplewiki", "20261103") is None
    assert checkpoint_value(catalog, "samplewiki") == ahead.to_value()
    # an older one is superseded by the snapshot (no gap: nothing was lost)
    assert reconcile(catalog, "samplewiki", "20261104") is None
    assert Checkpoint.from_value(checkpoint_value(catalog, "samplewiki") or "").snapshot == "20261104"
    assert event_gaps(catalog) == []


def test_replay_ids_are_the_window_tail_and_bounded() -> None:
    from collections import deque

    from tests.unit.events.fake_streams import FakeStreams, event, ms
    from wikivis.events.catchup import CatchUpOptions, _replay_ids
    from wikivis.sources.eventstreams import Received, StreamReader, Window

    until = datetime(2026, 11, 2, tzinfo=UTC)
    topic = "eqiad.mediawiki.revision-create"
    position = json.dumps([{"topic": topic, "partition": 0, "timestamp": ms("2026-11-02T00:10:00Z")}])
    reader = StreamReader("http://streams.test", ["mediawiki.revision-create"], session=FakeStreams(),
                          window=Window(until), last_event_id=position)

    def received(i: int, dt: str) -> tuple[str, Received]:
        return f"e{i}", Received(event(f"e{i}", dt), (topic, 0), ms(dt), None)

    applied = [received(0, "2026-11-01T12:00:00Z")] + [received(i, f"2026-11-01T23:{50 + i:02d}:00Z") for i in range(1, 9)]
    options = CatchUpOptions(lateness_s=300, skew_s=600, gap_slack_s=0, idle_timeout_s=1, read_timeout_s=1)
    # the last 5 minutes before until (the lateness); e0 only as one of the topic's newest reads
    assert _replay_ids(applied, {}, frozenset(), reader, until, options) == ("e5", "e6", "e7", "e8")
    recent = {(topic, 0): deque(["e0", "old", "e8"], maxlen=3)}
    assert _replay_ids(applied, recent, frozenset({"old"}), reader, until, options) == ("e0", "e5", "e6", "e7", "e8", "old")
    capped = CatchUpOptions(lateness_s=3600, skew_s=600, gap_slack_s=0, idle_timeout_s=1, read_timeout_s=1, replay_ids_max=2)
    assert _replay_ids(applied, {}, frozenset(), reader, until, capped) == ("e7", "e8")
    late_kafka = ms("2026-11-01T23:30:00Z")  # a deferred event whose Kafka time is early
    reader.defer(Received(event("e9", "2026-11-02T00:01:00Z"), (topic, 0), late_kafka,
                          {"topic": topic, "partition": 0, "timestamp": late_kafka + 1}))
    # a pin at 23:30 (a late Kafka timestamp): everything after pin - lateness may come again
    assert _replay_ids(applied, {}, frozenset(), reader, until, options) == tuple(f"e{i}" for i in range(1, 9))


def test_an_older_window_finishing_last_leaves_the_newer_checkpoint(catalog) -> None:
    """A backfill's window ending after the nightly's newer one (distributed test): the
    checkpoint stays where the newer window left it, as if the older had run first."""
    from wikivis.events.catchup import _commit_checkpoint

    newer = Checkpoint(None, datetime(2026, 11, 6, tzinfo=UTC), "20261106T000000Z").to_value()
    older = Checkpoint(None, datetime(2026, 11, 5, tzinfo=UTC), "20261105T000000Z").to_value()
    _commit_checkpoint(catalog, "samplewiki", newer)
    _commit_checkpoint(catalog, "samplewiki", older)
    assert catalog.get_checkpoint(CHECKPOINT_NAME, "samplewiki") == newer
    _commit_checkpoint(catalog, "samplewiki", newer)  # the same window again: rewritten, unchanged
    assert catalog.get_checkpoint(CHECKPOINT_NAME, "samplewiki") == newer
