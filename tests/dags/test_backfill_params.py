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


def test_a_missing_start_date_is_rejected(form):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match="start"):
        _validate(form, {k: v for k, v in GOOD.items() if k != "start"})


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
