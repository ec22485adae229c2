"""The backfill form: JSON Schema rejects bad types, enums and dates before a run exists;
``validate_request`` (wikivis.orchestration) rejects what JSON Schema cannot express."""

from __future__ import annotations

import copy

import pytest

pytestmark = pytest.mark.dags

GOOD = {"wikis": ["samplewiki"], "start": "2026-11-01", "end": "2026-11-03", "stages": ["ingest", "events"],
        "force": False, "dry_run": False, "max_images": 10}


@pytest.fixture
def form(dagbag):
    return copy.deepcopy(dagbag.dags["wikivis_backfill"].params)


def _validate(form, conf):
    form = copy.deepcopy(form)
    form.update(conf)
    return form.validate()


def test_a_good_form_validates(form):
    assert _validate(form, GOOD)["wikis"] == ["samplewiki"]


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"wikis": ["nosuchwiki"]}, "wikis"),
        ({"wikis": []}, "wikis"),
        ({"start": "2026-13-01"}, "start"),
        ({"end": "yesterday"}, "end"),
        ({"stages": ["ingest", "teleport"]}, "stages"),
        ({"max_images": -1}, "max_images"),
        ({"force": "yes"}, "force"),
    ],
)
def test_json_schema_rejects(form, change, param):
    from airflow.sdk import ParamsDict
    from airflow.sdk.exceptions import ParamValidationError

    assert isinstance(form, ParamsDict)
    with pytest.raises(ParamValidationError, match=param):
        _validate(form, {**GOOD, **change})


def test_an_empty_start_date_is_rejected(form):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match="start"):
        _validate(form, {**GOOD, "start": None})


def test_wikis_and_stages_are_pick_lists_and_every_field_is_described(form):
    """Airflow's trigger form draws a multi-select for ``type: array`` with an ``examples`` (or
    top-level ``enum``) list; ``items.enum`` keeps JSON Schema rejecting anything else."""
    from wikivis.orchestration import STAGE_LABELS, STAGES

    schema = {name: form.get_param(name).schema for name in form}
    for name, choices in (("wikis", ["samplewiki"]), ("stages", list(STAGES))):
        assert schema[name]["type"] == "array"
        assert schema[name]["examples"] == choices
        assert schema[name]["items"]["enum"] == choices
    assert schema["stages"]["values_display"] == STAGE_LABELS
    for name in form:
        assert schema[name].get("title") and form.get_param(name).description, name


def test_the_defaults_alone_are_a_valid_request(form):
    from datetime import UTC, datetime, timedelta

    from wikivis.orchestration import STAGES, validate_backfill_request

    values = form.validate()
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    assert values["start"] in (yesterday, datetime.now(UTC).date().isoformat())  # parsed just before midnight
    assert values["wikis"] == ["samplewiki"] and values["stages"] == list(STAGES)
    request = validate_backfill_request(values, ["samplewiki"])
    assert request.stages == STAGES


def test_json_schema_accepts_an_inverted_range_so_the_first_task_must_refuse_it(form):
    inverted = {**GOOD, "start": "2026-11-03", "end": "2026-11-01"}
    assert _validate(form, inverted)["start"] == "2026-11-03"

    from wikivis.errors import ConfigError
    from wikivis.orchestration import validate_backfill_request

    with pytest.raises(ConfigError, match=r"inverted date range: start 2026-11-03 is after end 2026-11-01"):
        validate_backfill_request(inverted, ["samplewiki"])


def test_the_validation_task_fails_the_run_with_a_clear_error(dagbag, airflow_db, caplog):
    from airflow.sdk import DagRunState, TaskInstanceState

    # only the first task: what runs after it is covered by the nightly end-to-end test
    dag = dagbag.dags["wikivis_backfill"].partial_subset(["validate_request"], include_downstream=False)
    run = dag.test(run_conf={**GOOD, "start": "2026-11-03", "end": "2026-11-01"})
    assert run.state == DagRunState.FAILED
    [ti] = run.get_task_instances()
    assert (ti.task_id, ti.state, ti.try_number) == ("validate_request", TaskInstanceState.FAILED, 1)
    assert "inverted date range: start 2026-11-03 is after end 2026-11-01" in caplog.text
