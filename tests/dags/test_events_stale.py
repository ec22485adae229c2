"""EventStreams stale checkpoints in Airflow: never retried, gaps on the monitoring page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.unit.events.test_checkpoint import NoNetwork
from wikivis.catalog import Catalog
from wikivis.errors import StaleCheckpointError
from wikivis.events import catch_up, reconcile

pytestmark = pytest.mark.dags


@pytest.fixture
def catalog(settings):
    cat = Catalog(settings.resolved_catalog_url)
    yield cat
    cat.dispose()


def stale(settings, lake, catalog) -> None:
    with pytest.raises(StaleCheckpointError):
        catch_up(settings, "samplewiki", base_snapshot="20261101", until=datetime(2026, 11, 20, tzinfo=UTC),
                 lake=lake, catalog=catalog, session=NoNetwork())


def test_stale_checkpoints_are_not_retried_by_airflow() -> None:
    from airflow.sdk import RetryAction
    from wikivis_airflow.defaults import RETRY_POLICY

    error = StaleCheckpointError("samplewiki: the events start at … older than the 7-day replay window")
    assert RETRY_POLICY.evaluate(error, try_number=1, max_tries=4).action is RetryAction.FAIL


def test_the_monitoring_page_flags_gaps(settings, lake, catalog) -> None:
    from wikivis_airflow.monitor import collect_status, render_page

    stale(settings, lake, catalog)
    status = collect_status(settings)
    assert status["event_gaps"][0]["reconciled_by"] is None
    page = render_page(status)
    assert 'id="event-gaps"' in page
    assert "2026-11-13T00:00:00Z" in page
    assert "not yet (stale)" in page
    reconcile(catalog, "samplewiki", "20261119")
    assert "20261119" in render_page(collect_status(settings))
