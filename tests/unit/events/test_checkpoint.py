"""Checkpoint envelope, snapshot ids, and the stale-checkpoint refusal (no I/O reached)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import requests

from wikivis.catalog import Catalog
from wikivis.errors import InputError, StaleCheckpointError
from wikivis.events import (
    CHECKPOINT_NAME,
    Checkpoint,
    catch_up,
    checkpoint_value,
    snapshot_id,
    snapshot_time,
    stale_reason,
)


def test_snapshot_ids() -> None:
    assert snapshot_id(datetime(2026, 11, 2, tzinfo=UTC)) == "20261102T000000Z"
    assert snapshot_id(datetime(2026, 11, 2, 13, 30)) == "20261102T133000Z"  # naive = UTC
    assert snapshot_time("20261101") == datetime(2026, 11, 1, tzinfo=UTC)
    assert snapshot_time("20261101T120000Z") == datetime(2026, 11, 1, 12, tzinfo=UTC)
    assert "20261102" < snapshot_id(datetime(2026, 11, 2, tzinfo=UTC)) < "20261103"
    with pytest.raises(InputError):
        snapshot_time("2026-11-01")


def test_checkpoint_round_trip_and_bare_arrays() -> None:
    cp = Checkpoint('[{"partition":0,"timestamp":5,"topic":"a"}]', datetime(2026, 11, 2, tzinfo=UTC), "20261102T000000Z")
    assert Checkpoint.from_value(cp.to_value()) == cp
    bare = Checkpoint.from_value('[{"topic":"a","partition":0,"timestamp":1793491200000}]')
    assert bare.snapshot is None
    assert bare.until == datetime(2026, 11, 1, tzinfo=UTC)
    for bad in ("nope", '{"until": "x"}', '[{"topic": "a"}]', json.dumps({"until": "2026-11-01T00:00:00Z", "last_event_id": "{"})):
        with pytest.raises(InputError):
            Checkpoint.from_value(bad)


class NoNetwork(requests.Session):
    def request(self, *args, **kwargs):  # type: ignore[override]
        raise AssertionError("no request expected")


@pytest.fixture
def catalog(settings):
    cat = Catalog(settings.resolved_catalog_url)
    yield cat
    cat.dispose()


def test_a_start_beyond_the_replay_window_is_refused(settings, lake, catalog) -> None:
    with pytest.raises(StaleCheckpointError, match=r"wikivis dumps ingest --wiki samplewiki.*replica pull") as err:
        catch_up(settings, "samplewiki", base_snapshot="20261101", until=datetime(2026, 11, 20, tzinfo=UTC),
                 lake=lake, catalog=catalog, session=NoNetwork())
    assert err.value.exit_code == 7
    assert "older than the 7-day replay window" in str(err.value)
    assert json.loads(stale_reason(catalog, "samplewiki") or "{}")["since"] == "2026-11-01T00:00:00Z"
    assert checkpoint_value(catalog, "samplewiki") is None


def test_an_old_checkpoint_of_the_base_is_refused_too(settings, lake, catalog) -> None:
    old = Checkpoint('[{"partition":0,"timestamp":5,"topic":"a"}]', datetime(2026, 11, 2, tzinfo=UTC), "20261102T000000Z")
    catalog.set_checkpoint(CHECKPOINT_NAME, "samplewiki", old.to_value())
    with pytest.raises(StaleCheckpointError, match="checkpoint"):
        catch_up(settings, "samplewiki", base_snapshot="20261102T000000Z", until=datetime(2026, 11, 3, tzinfo=UTC),
                 now=datetime(2026, 11, 28, tzinfo=UTC), lake=lake, catalog=catalog, session=NoNetwork())


def test_until_must_be_after_the_start(settings, lake, catalog) -> None:
    with pytest.raises(InputError, match="not after the start"):
        catch_up(settings, "samplewiki", base_snapshot="20261102", until=datetime(2026, 11, 2, tzinfo=UTC),
                 lake=lake, catalog=catalog, session=NoNetwork())
