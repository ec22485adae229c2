"""Done-when: dump(day 0) + events(day 0 → N) == dump(day N), for every day the mirror has,
also with dropped connections, heavy duplication, late (out-of-order) events, a crash
between the snapshot write and the checkpoint, and unpublished deltas."""

from __future__ import annotations

import json

import pytest

from tests.integration.events.conftest import midnight
from wikivis.errors import StaleCheckpointError
from wikivis.events import CHECKPOINT_NAME, Checkpoint, checkpoint_value, stale_reason

pytestmark = pytest.mark.integration


def test_dump_plus_events_equals_the_dump_of_every_day(harness, sample_wiki) -> None:
    h = harness()

    def check(day, result) -> None:
        assert result.start_from == ("base" if day == 1 else "checkpoint")
        assert result.snapshot == f"{sample_wiki.dates[day]}T000000Z"
        assert result.duplicates > 0  # the mirror repeats every 20th event in the other DC
        assert result.dropped > 0  # canaries and otherwiki
        assert result.dirty_pages > 0
        stored = Checkpoint.from_value(checkpoint_value(h.catalog, sample_wiki.wiki) or "")
        assert stored.snapshot == result.snapshot
        assert stored.until == midnight(sample_wiki.dates[day])

    results = h.chain(each=check)
    assert results[-1].stop_reason == "end"  # nothing after the last day: the server ends the stream
    assert all(r.stop_reason == "until" for r in results[:-1])
    assert not h.lake.current("pages", sample_wiki.wiki)  # publishing is the pipeline's job


@pytest.mark.parametrize("day", [1, 2, 3, 4, 5])
def test_one_window_over_several_days_with_dropped_connections(harness, sample_wiki, day) -> None:
    h = harness(faults={"streams": "drops", "api": "drops"})  # SSE cut every 40 events, 1 request in 5 dropped
    result = h.run(day, sample_wiki.dates[0])
    assert h.differences(result.snapshot, day) == {}
    assert result.reconnects >= 5 * day


def test_connections_cut_every_few_events_chained(harness) -> None:
    h = harness()
    h.mirror.streams.drop_after_events = 17
    results = h.chain()
    assert sum(r.reconnects for r in results) > 50


def test_heavy_duplication_and_late_events(harness, monkeypatch) -> None:
    import wikivis.mirror.streams as streams

    # every 3rd event in both DCs; every 5th reaches Kafka 3 hours late (past midnight, past the
    # next window's first events): the window must read 4 h past its end and defer the rest
    monkeypatch.setattr(streams, "DUPLICATE_EVERY", 3)
    monkeypatch.setattr(streams, "LATE_EVERY", 5)
    monkeypatch.setattr(streams, "LATE_MS", 3 * 3600_000)
    h = harness(events_lateness_s=4 * 3600)
    results = h.chain()
    assert all(r.duplicates > 60 for r in results)
    assert all(r.deferred > 0 for r in results[:-1])


def test_a_crash_between_write_and_checkpoint_is_replayed(harness, sample_wiki, monkeypatch) -> None:
    import wikivis.events.catchup as catchup

    h = harness()
    day1 = h.run(1, sample_wiki.dates[0])
    before = checkpoint_value(h.catalog, sample_wiki.wiki)
    real_commit = catchup._commit_checkpoint

    def crash(*args, **kwargs):
        raise RuntimeError("killed between the snapshot write and the checkpoint")

    monkeypatch.setattr(catchup, "_commit_checkpoint", crash)
    with pytest.raises(RuntimeError, match="killed"):
        h.run(2, day1.snapshot)
    written = h.lake.manifest("article_images", sample_wiki.wiki, "20261103T000000Z").content_hash
    assert checkpoint_value(h.catalog, sample_wiki.wiki) == before  # did not move
    monkeypatch.setattr(catchup, "_commit_checkpoint", real_commit)

    again = h.run(2, day1.snapshot)  # the same events, replayed
    assert again.start_from == "checkpoint"
    assert h.lake.manifest("article_images", sample_wiki.wiki, again.snapshot).content_hash == written
    assert h.differences(again.snapshot, 2) == {}
    h.chain(first=3, base=again.snapshot)


def test_an_unpublished_delta_is_replayed_from_the_published_base(harness, sample_wiki) -> None:
    h = harness()
    h.run(1, sample_wiki.dates[0])  # written, checkpoint moved — but say its gate failed
    result = h.run(2, sample_wiki.dates[0])  # the next run starts from the published dump again
    assert result.start_from == "base"
    assert h.differences(result.snapshot, 2) == {}


def test_a_server_that_lost_the_start_marks_the_wiki_stale(harness, sample_wiki) -> None:
    h = harness()
    h.mirror.streams.retention_s = 2 * 86400  # the server keeps 2 days; we ask for 5
    with pytest.raises(StaleCheckpointError, match=r"started at .* after the requested start") as err:
        h.run(5, sample_wiki.dates[0])
    assert "wikivis dumps ingest --wiki samplewiki" in str(err.value)
    assert stale_reason(h.catalog, sample_wiki.wiki)
    assert checkpoint_value(h.catalog, sample_wiki.wiki) is None
    assert not h.lake.exists("pages", sample_wiki.wiki, "20261106T000000Z")
    # reconciled from a newer dump: the catch-up works again and the mark goes away
    result = h.run(5, sample_wiki.dates[4])
    assert h.differences(result.snapshot, 5) == {}
    assert stale_reason(h.catalog, sample_wiki.wiki) is None


def test_a_checkpoint_older_than_the_replay_window_is_refused(harness, sample_wiki) -> None:
    h = harness(events_replay_days=2)
    first = h.run(1, sample_wiki.dates[0])
    requests_before = h.mirror.stats["streams"]["requests"]
    with pytest.raises(StaleCheckpointError, match="2-day replay window"):
        h.run(4, first.snapshot)
    assert h.mirror.stats["streams"]["requests"] == requests_before  # refused before connecting
    stored = json.loads(h.catalog.get_checkpoint(CHECKPOINT_NAME, sample_wiki.wiki) or "{}")
    assert stored["snapshot"] == first.snapshot


def test_the_window_ends_without_waiting_for_the_stream_to_end(harness, sample_wiki) -> None:
    h = harness(mirror_options={"stream_end_after_s": 120, "stream_keepalive_s": 0.1}, events_idle_timeout_s=1.0)
    mid = h.run(2, sample_wiki.dates[0])
    assert mid.stop_reason == "until"
    last = h.run(5, mid.snapshot)  # no event after the last day: only keep-alives, then idle
    assert last.stop_reason == "idle"
    assert h.differences(last.snapshot, 5) == {}
