"""DAG governance: the files parse, stay light, and carry the policies the project promises
(owner, tags, docs, retries with backoff, failure callback, pools, GPU queue, assets, params)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest

from tests.dags.airflow_env import DAGS_FOLDER, PLUGINS_FOLDER, REPO

pytestmark = pytest.mark.dags

DAG_IDS = {"wikivis_nightly", "wikivis_events", "wikivis_backfill", "wikivis_training"}
HEAVY = ("torch", "pandas", "pyarrow", "faiss", "PIL", "numpy")
#: tasks that must not retry (planning, validation, reporting)
NO_RETRY = {"plan", "cross_wiki_run", "validate_request", "write_reports"}
PIPELINE_TASKS = {
    "ingest", "gate_tables", "events_catchup", "gate_events", "plan_media_shards", "flatten", "fetch_metadata",
    "fetch_media", "merge_commons", "gate_media", "embed", "gate_embeddings", "build_index", "gate_index", "newest_per_wiki", "captions",
    "wikidata",
    "publish", "write_reports",
}


def test_dagbag_has_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == DAG_IDS


@pytest.mark.parametrize("path", [*sorted(DAGS_FOLDER.glob("*.py")), PLUGINS_FOLDER / "wikivis_plugin.py"], ids=lambda p: p.name)
def test_importing_a_dag_file_loads_no_heavy_library(path):
    """Parse-time hygiene, checked in a fresh interpreter (the test process has imported everything)."""
    code = (
        "import importlib.util, json, sys\n"
        f"sys.path[:0] = [{str(REPO)!r}, {str(PLUGINS_FOLDER)!r}]\n"
        f"spec = importlib.util.spec_from_file_location('under_test', {str(path)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        f"print(json.dumps([name for name in {HEAVY!r} if name in sys.modules]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_every_dag_is_documented_owned_tagged_and_retries_with_backoff(dagbag):
    from wikivis_airflow.callbacks import task_failed
    from wikivis_airflow.defaults import OWNER, RETRY_POLICY, TAGS
    from wikivis_airflow.hooks import mask_wikivis_secrets

    for dag in dagbag.dags.values():
        assert (dag.doc_md or "").strip().startswith("###"), dag.dag_id
        assert "wikivis" in dag.tags, dag.dag_id
        assert set(dag.tags) <= TAGS, dag.dag_id
        assert dag.catchup is False, dag.dag_id
        assert dag.deadline, dag.dag_id
        for task in dag.tasks:
            where = f"{dag.dag_id}.{task.task_id}"
            assert task.owner == OWNER, where
            callbacks = task.on_failure_callback  # a list on operators, as given on mapped ones
            assert (callbacks if isinstance(callbacks, list) else [callbacks]) == [task_failed], where
            assert list(task.on_execute_callback) == [mask_wikivis_secrets], where
            if task.task_id in NO_RETRY:
                assert task.retries == 0, where
            else:
                assert task.retries >= 1, where
                assert task.retry_exponential_backoff >= 2, where
                assert task.max_retry_delay == timedelta(hours=1) or dag.dag_id == "wikivis_events", where
                assert task.retry_policy is RETRY_POLICY, where


def test_a_gate_failure_is_never_retried():
    from airflow.sdk import RetryAction
    from wikivis_airflow.defaults import RETRY_POLICY

    from wikivis.errors import ConfigError, GateFailed, PolicyError, SourceError

    for error in (GateFailed("dangling files", gate="dangling"), ConfigError("bad"), PolicyError("no contact")):
        assert RETRY_POLICY.evaluate(error, try_number=1, max_tries=4).action is RetryAction.FAIL
    assert RETRY_POLICY.evaluate(SourceError("503", url="u"), try_number=1, max_tries=4).action is RetryAction.DEFAULT


def test_nightly_structure(dagbag):
    from airflow.sdk import CronDataIntervalTimetable
    from wikivis_airflow.defaults import DUMP_READY, EMBEDDINGS, GPU_QUEUE, INDEX, LAKE_SNAPSHOT
    from wikivis_airflow.sensors import DumpReadySensor

    dag = dagbag.dags["wikivis_nightly"]
    assert set(dag.task_ids) == PIPELINE_TASKS | {"plan", "cross_wiki_run", "wait_for_dump"}
    assert isinstance(dag.timetable, CronDataIntervalTimetable)  # runs keyed on a data interval
    assert dag.max_active_runs == 1
    tasks = dag.task_dict
    assert tasks["ingest"].pool == "dumps"
    assert tasks["fetch_metadata"].pool == "commons_api"
    assert tasks["fetch_media"].pool == "commons_upload"
    assert tasks["embed"].queue == GPU_QUEUE
    assert {t.queue for t in dag.tasks if t.task_id != "embed"} == {"default"}
    sensor = tasks["wait_for_dump"]
    assert sensor.operator_class is DumpReadySensor or sensor.operator_class.__name__ == "DumpReadySensor"
    assert sensor.partial_kwargs["soft_fail"] is True
    assert tasks["ingest"].upstream_task_ids == {"plan", "wait_for_dump"}
    assert DUMP_READY in tasks["ingest"].inlets
    assert LAKE_SNAPSHOT in tasks["ingest"].outlets
    assert EMBEDDINGS in tasks["embed"].outlets
    assert INDEX in tasks["build_index"].outlets
    assert tasks["publish"].upstream_task_ids == {"gate_index", "newest_per_wiki", "captions", "wikidata"}
    assert tasks["wikidata"].upstream_task_ids == {"gate_events"}
    assert tasks["captions"].upstream_task_ids == {"gate_events"}  # captions are gated before publish
    assert tasks["write_reports"].is_teardown  # runs after a failure, does not decide the run state
    assert {t.task_id for t in dag.leaves} == {"write_reports"}
    assert tasks["publish"].downstream_task_ids == {"write_reports"}  # so publish decides the run state
    # the shard merge is its own step, after every shard and before the media gate
    assert tasks["merge_commons"].upstream_task_ids == {"gate_events", "fetch_media"}
    assert tasks["gate_media"].upstream_task_ids == {"merge_commons"}


def test_events_dag_is_a_frequent_single_run_micro_batch(dagbag):
    dag = dagbag.dags["wikivis_events"]
    assert dag.max_active_runs == 1
    assert dag.timetable.expression == "*/30 * * * *"
    assert set(dag.task_ids) == {"plan", "events_catchup", "gate_events", "publish"}


def test_pools_match_the_declared_limits():
    from wikivis_airflow.defaults import POOLS

    assert POOLS["dumps"][0] == 2
    assert POOLS["commons_api"][0] == 3
    assert POOLS["commons_upload"][0] == 2


def test_backfill_form_schema(dagbag):
    from wikivis.orchestration import STAGES, configured_wikis

    dag = dagbag.dags["wikivis_backfill"]
    assert dag.schedule is None
    schema = {name: param.schema for name, param in dag.params.items()}
    assert schema["wikis"]["items"]["enum"] == configured_wikis()
    assert schema["stages"]["items"]["enum"] == list(STAGES)
    assert schema["start"]["format"] == "date"
    assert schema["end"]["format"] == "date"
    assert (schema["max_images"]["type"], schema["max_images"]["minimum"]) == ("integer", 0)
    assert {schema[k]["type"] for k in ("force", "dry_run")} == {"boolean"}


def test_weekly_training_trains_on_gpu_and_gates_before_serving(dagbag):
    from wikivis_airflow.defaults import GPU_QUEUE

    dag = dagbag.dags["wikivis_training"]
    assert dag.timetable.expression == "0 6 * * 0"  # weekly
    assert dag.max_active_runs == 1
    assert set(dag.task_ids) == {"plan", "train_candidate", "promote"}
    assert dag.task_dict["train_candidate"].queue == GPU_QUEUE
    assert dag.task_dict["promote"].queue == "default"
    assert dag.task_dict["promote"].upstream_task_ids == {"train_candidate"}
