"""wikivis.orchestration: the pure helpers behind the DAGs (no Airflow needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from wikivis.errors import ConfigError
from wikivis.orchestration import (
    STAGES,
    dates_between,
    interval_keys,
    newest_per_wiki,
    stage_selected,
    validate_backfill_request,
)

CONFIGURED = ["samplewiki", "frwiki"]


def test_interval_keys_come_from_the_data_interval_only():
    keys = interval_keys("2026-11-19T00:00:00+00:00", datetime(2026, 11, 20, tzinfo=UTC))
    assert keys.as_dict() == {
        "logical": "2026-11-19T00:00:00+00:00",
        "dump_date": "20261119",
        "until": "2026-11-20T00:00:00+00:00",
    }
    assert interval_keys("2026-11-19T00:00:00+00:00", "2026-11-20T00:00:00+00:00") == keys


def test_an_interval_that_ends_before_it_starts_is_refused():
    with pytest.raises(ConfigError, match="ends"):
        interval_keys("2026-11-20T00:00:00+00:00", "2026-11-19T00:00:00+00:00")


def test_a_valid_request_is_normalised():
    request = validate_backfill_request(
        {"wikis": ["frwiki", "samplewiki", "frwiki"], "start": "2026-11-30", "end": "2026-12-02",
         "stages": ["publish", "ingest"], "max_images": 5},
        CONFIGURED,
    )
    assert request.wikis == ("frwiki", "samplewiki")
    assert request.dates == ("20261130", "20261201", "20261202")
    assert request.stages == ("ingest", "publish")  # pipeline order, whatever the form's order
    assert (request.force, request.dry_run, request.max_images) == (False, False, 5)


def test_a_single_date_needs_no_end():
    assert validate_backfill_request({"wikis": ["samplewiki"], "start": "2026-11-01", "end": None,
                                      "stages": ["ingest"]}, CONFIGURED).dates == ("20261101",)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as raised:
        validate_backfill_request(
            {"wikis": ["nosuchwiki"], "start": "2026-11-03", "end": "2026-11-01", "stages": ["teleport"],
             "max_images": -3},
            CONFIGURED,
        )
    message = str(raised.value)
    assert "unknown wiki(s) nosuchwiki; configured: samplewiki, frwiki" in message
    assert "inverted date range: start 2026-11-03 is after end 2026-11-01" in message
    assert "unknown stage(s) teleport" in message
    assert "max_images must be an integer >= 0, not -3" in message


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"start": None}, "start date is required"),
        ({"start": "01/11/2026"}, "start '01/11/2026' is not a date"),
        ({"end": "2028-01-01"}, "exceeds 366"),
        ({"wikis": []}, "choose at least one wiki"),
        ({"stages": []}, "choose at least one stage"),
        ({"max_images": True}, "max_images must be an integer"),
    ],
)
def test_single_problems(params, expected):
    good = {"wikis": ["samplewiki"], "start": "2026-11-01", "stages": list(STAGES)}
    with pytest.raises(ConfigError, match=expected):
        validate_backfill_request({**good, **params}, CONFIGURED)


def test_dates_between_is_inclusive():
    start = datetime(2026, 2, 27).date()
    assert dates_between(start, datetime(2026, 3, 1).date()) == ["20260227", "20260228", "20260301"]


def test_stage_selection():
    assert all(stage_selected({}, stage) for stage in STAGES)  # scheduled items run everything
    chosen = {"stages": ["ingest", "index"]}
    assert stage_selected(chosen, "ingest")
    assert stage_selected(chosen, "index")
    assert not stage_selected(chosen, "media")
    dry = {"stages": list(STAGES), "dry_run": True}
    assert stage_selected(dry, "ingest")
    assert not stage_selected(dry, "ingest", gate=True)
    assert not any(stage_selected(dry, stage) for stage in STAGES if stage != "ingest")
    with pytest.raises(ValueError, match="unknown stage"):
        stage_selected({}, "teleport")


def test_newest_per_wiki_keeps_the_latest_snapshot_of_each_wiki():
    items = [
        {"wiki": "samplewiki", "snapshot": "20261101T235959Z", "run_id": "a"},
        {"wiki": "frwiki", "snapshot": "20261101", "run_id": "b"},
        {"wiki": "samplewiki", "snapshot": "20261102", "run_id": "c"},
        {"wiki": "samplewiki", "snapshot": "20261102T120000Z", "run_id": "d"},
    ]
    assert [i["run_id"] for i in newest_per_wiki(items)] == ["b", "d"]
