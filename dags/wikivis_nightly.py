"""
### wikivis_nightly — refresh the lake, the embeddings and the index, then publish

One run per **data interval** (a UTC day).  Everything a run asks for is keyed on that
interval, never on "now": the dump dated the interval's start day, EventStreams deltas up
to the interval's end, and run ids from `wikivis.stages.run.run_id_for(dag, interval start, wiki)`.
Retries, reruns and `airflow backfill create --dag-id wikivis_nightly` therefore redo the
same work and write the same snapshots.

**Stages** (generated from `wikivis.stages.graph.NIGHTLY`), mapped over the configured wikis
(read inside `plan`):

1. `wait_for_dump` — deferrable sensor (`DumpReadyTrigger` in the triggerer) until a
   complete dump run dated on or before the interval start exists (dumps come twice a
   month; the newest one plus EventStreams is today's state); soft-fails (skips the run's
   downstream work) when none appears within a day;
2. `ingest` (pool `dumps`, 2 slots: the dumps server's 2 connections per IP, shared by every
   run) → `gate_tables`; 3. `events_catchup` → `gate_events`;
4. `plan_media_shards` → `fetch_metadata` (pool `commons_api`, 3 slots) and `fetch_media`
   (pool `commons_upload`, 2 slots), mapped over shards → `merge_commons` → `gate_media`;
5. `embed` (Celery queue `gpu`) → `gate_embeddings`; 6. `build_index` → `gate_index`
   (recall); 7. `publish` records one publication naming every dataset's snapshot (what
   readers see); `write_reports` always runs.

A failing gate raises `GateFailed`: the task fails without retrying, nothing downstream
runs, nothing is published, and the reason is on the monitoring page (`/wikivis/`)
and in the run's quality report.

**Assets**: `wikivis://dumps/ready` → `wikivis://lake/article_images` →
`wikivis://embeddings` → `wikivis://index`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag, task
from wikivis_airflow import stages
from wikivis_airflow.callbacks import dag_run_failed
from wikivis_airflow.defaults import DUMP_READY, deadline, default_args
from wikivis_airflow.sensors import DumpReadySensor

DAG_ID = "wikivis_nightly"


def sensor_kwargs(item: dict[str, Any]) -> dict[str, Any]:
    return {"wiki": item["wiki"], "dump_date": item["dump_date"]}


@dag(
    dag_id=DAG_ID,
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    on_failure_callback=dag_run_failed,  # ends its wikivis runs even when the teardown never ran
    dagrun_timeout=timedelta(hours=23),
    deadline=deadline(DAG_ID, timedelta(hours=12)),
    tags=["wikivis", "nightly"],
    doc_md=__doc__,
)
def wikivis_nightly() -> None:
    @task(retries=0)
    def plan(data_interval_start: Any = None, data_interval_end: Any = None) -> list[dict[str, str]]:
        from wikivis_airflow.hooks import task_settings

        from wikivis import orchestration

        return orchestration.interval_items(DAG_ID, data_interval_start, data_interval_end, task_settings().wikis)

    @task(retries=0)
    def cross_wiki_run(data_interval_start: Any = None) -> dict[str, str]:
        from wikivis import orchestration

        return {"run_id": orchestration.interval_run_id(DAG_ID, data_interval_start)}

    items = plan()
    waited = DumpReadySensor.partial(
        task_id="wait_for_dump",
        timeout=int(timedelta(days=1).total_seconds()),
        poke_interval=300,
        soft_fail=True,
        outlets=[DUMP_READY],
    ).expand_kwargs(items.map(sensor_kwargs))
    stages.wire(items, cross_wiki_run(), after=waited)


wikivis_nightly()
