"""Issue 15 against the mirror: random drops across all 14 topic-partitions with positions that
move backwards on resume and ``offset: -1`` ids (the ``sse_chaos`` profile); cross-run
de-duplication with its audit dataset; the mirror's own -1 ids."""

from __future__ import annotations

import itertools
import json

import pytest
import requests

from tests.integration.events.conftest import midnight
from wikivis.errors import RetriesExceeded, StreamLimitReached
from wikivis.events import CHECKPOINT_NAME, Checkpoint, checkpoint_value
from wikivis.sources.eventstreams import DEFAULT_STREAMS, SSEParser

pytestmark = pytest.mark.integration

UA = "wikivis-tests/1.0 (tests@example.org) python-requests/2"


def audit_ids(h, snapshot: str) -> list[str]:
    return h.lake.read("events_applied", h.sample.wiki, snapshot).column("meta_id").to_pylist()


def test_random_drops_across_14_partitions_end_exactly_or_with_a_clear_error(harness, sample_wiki) -> None:
    h = harness(faults={"streams": "sse_chaos"})
    results = []

    def check(day, result) -> None:
        stored = checkpoint_value(h.catalog, sample_wiki.wiki) or ""
        assert '"offset"' not in (Checkpoint.from_value(stored).last_event_id or "")  # no -1, ever
        results.append(result)

    try:
        h.chain(each=check)  # each day equals that day's dump (checked inside chain)
    except RetriesExceeded as exc:  # the only other end would be bounded, typed, explained
        pytest.fail(f"sse_chaos should complete with the default budget: {type(exc).__name__}: {exc}")
    assert len(DEFAULT_STREAMS) * 2 == 14
    assert sum(r.reconnects for r in results) > 20
    assert sum(r.resent for r in results) > 0  # resumed connections went back and re-sent
    # every event applied once across the whole chain, even with replays after each resume
    seen: list[str] = []
    for r in results:
        seen += audit_ids(h, r.snapshot)
    assert len(seen) == len(set(seen))
    assert sum(r.events_applied for r in results) == len(seen)


def test_the_connection_budget_ends_a_run_with_a_clear_error(harness, sample_wiki) -> None:
    h = harness(faults={"streams": "sse_chaos"}, events_max_connections=3)
    with pytest.raises(StreamLimitReached, match=r"after 3 connections .*events_max_connections.*nothing was checkpointed"):
        h.run(3, sample_wiki.dates[0])
    assert checkpoint_value(h.catalog, sample_wiki.wiki) is None
    assert not h.lake.exists("pages", sample_wiki.wiki, f"{sample_wiki.dates[3]}T000000Z")


def test_events_are_applied_once_across_runs_around_deferred_boundaries(harness, sample_wiki, monkeypatch) -> None:
    import wikivis.mirror.streams as streams

    # every 3rd event in both DCs, every 5th reaches Kafka 3 h late: each window pins topics
    # before deferred events and reads late ones after the pin, which the next run reads again
    monkeypatch.setattr(streams, "DUPLICATE_EVERY", 3)
    monkeypatch.setattr(streams, "LATE_EVERY", 5)
    monkeypatch.setattr(streams, "LATE_MS", 3 * 3600_000)
    h = harness(events_lateness_s=4 * 3600)
    results = h.chain()
    assert sum(r.replayed for r in results) > 0  # the next runs did see them again
    per_run = [set(audit_ids(h, r.snapshot)) for r in results]
    for a, b in itertools.pairwise(per_run):
        assert not a & b, f"applied twice: {sorted(a & b)[:5]}"
    assert [len(ids) for ids in per_run] == [r.events_applied for r in results]
    stored = json.loads(h.catalog.get_checkpoint(CHECKPOINT_NAME, sample_wiki.wiki) or "{}")
    assert isinstance(stored.get("replay_ids", []), list)


def test_the_mirror_sends_minus_one_for_an_idle_datacentre_and_honours_it(mirror, sample_wiki) -> None:
    """Outside the switchover day codfw is (nearly) idle: a topic with nothing to send has the
    entry ``offset: -1``; sent back, -1 means "the end of the partition" (the mirror skips
    what the topic holds, like KafkaSSE)."""
    start = midnight(sample_wiki.dates[-2])
    since = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    topics = mirror.streams.topics
    after = {t: [m for m in ms if m.timestamp >= start.timestamp() * 1000] for t, ms in topics.items()}
    stream = next(t.removeprefix("eqiad.") for t in sorted(after)
                  if t.startswith("eqiad.") and after[t] and not after.get(t.replace("eqiad.", "codfw.", 1)))
    url = f"{mirror.settings().eventstreams_url}/v2/stream/{stream}"

    def first_ids(headers: dict[str, str], n: int = 3) -> list[list[dict]]:
        parser, out = SSEParser(), []
        with requests.get(url, params={"since": since}, headers={"User-Agent": UA, **headers}, stream=True, timeout=30) as r:
            assert r.status_code == 200
            for chunk in r.iter_content(chunk_size=None):
                out += [json.loads(e.id or "[]") for e in parser.feed(chunk)]
                if len(out) >= n:
                    break
        return out

    ids = first_ids({})
    assert ids
    entries = {e["topic"]: e for e in ids[0]}
    assert entries[f"codfw.{stream}"] == {"topic": f"codfw.{stream}", "partition": 0, "offset": -1}
    assert "timestamp" in entries[f"eqiad.{stream}"]
    # -1 for eqiad: nothing of eqiad comes (only codfw could, and it is idle)
    skipped = json.dumps([{"topic": f"eqiad.{stream}", "partition": 0, "offset": -1}])
    assert first_ids({"Last-Event-ID": skipped}) == []


def test_the_next_dump_ingest_reconciles_a_stale_wiki(harness, sample_wiki) -> None:
    """Stale → not retried (typed error) → the nightly's next ingest resets the checkpoint to
    the dump's time and records the gap → the catch-up from that dump works again."""
    from wikivis.errors import StaleCheckpointError
    from wikivis.events import event_gaps, stale_reason
    from wikivis.stages.ingest import ingest
    from wikivis.stages.run import RunContext

    h = harness(events_replay_days=2)
    first = h.run(1, sample_wiki.dates[0])
    with pytest.raises(StaleCheckpointError):
        h.run(4, first.snapshot)
    assert stale_reason(h.catalog, sample_wiki.wiki)
    assert event_gaps(h.catalog)[0]["reconciled_by"] is None
    ctx = RunContext.open(h.settings, "wikivis_nightly__samplewiki__test")
    out = ingest(ctx, sample_wiki.wiki, sample_wiki.dates[3])
    assert out["snapshot"] == sample_wiki.dates[3]
    assert stale_reason(h.catalog, sample_wiki.wiki) is None
    gap = event_gaps(h.catalog)[0]
    assert (gap["since"], gap["reconciled_by"]) == (midnight(sample_wiki.dates[1]).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                                    sample_wiki.dates[3])
    stored = Checkpoint.from_value(checkpoint_value(h.catalog, sample_wiki.wiki) or "")
    assert (stored.snapshot, stored.until, stored.last_event_id) == (sample_wiki.dates[3], midnight(sample_wiki.dates[3]), None)
    result = h.run(4, sample_wiki.dates[3])
    assert result.start_from == "checkpoint"
    assert h.differences(result.snapshot, 4) == {}
