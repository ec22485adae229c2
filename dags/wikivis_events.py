"""
### wikivis_events — EventStreams micro-batches between two nightly runs

Every 30 minutes, for each configured wiki: apply the EventStreams changes (page edits,
image links, deletions) of the data interval onto the **published** lake snapshot, gate
the result, and publish it.  The index is not rebuilt here (the nightly run does that);
`publish` gets no index version, so the index pointer stays where it is.

* One run at a time (`max_active_runs=1`): each batch starts from the snapshot the
  previous one published, and the EventStreams checkpoint (Last-Event-ID) in the catalog
  moves forward only once.
* Keyed on the data interval: deltas up to `data_interval_end`; the run id comes from
  `wikivis.stages.run.run_id_for(dag, interval start, wiki)`, so a retry rewrites the same delta
  snapshot.
* A wiki with nothing published yet is left out, with a warning in `plan`'s log (the
  nightly DAG makes its first snapshot).
* A failing `gate_events` stops that wiki's batch; the published snapshot stays.

**Assets**: updates `wikivis://lake/article_images`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag, task
from wikivis_airflow import stages
from wikivis_airflow.callbacks import dag_run_failed
from wikivis_airflow.defaults import deadline, default_args

from wikivis.stages.graph import EVENTS

DAG_ID = "wikivis_events"


@dag(
    dag_id=DAG_ID,
    schedule=CronDataIntervalTimetable("*/30 * * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(retries=2, retry_delay=timedelta(minutes=1), max_retry_delay=timedelta(minutes=10)),
    on_failure_callback=dag_run_failed,  # ends its wikivis runs even when the teardown never ran
    dagrun_timeout=timedelta(minutes=25),
    deadline=deadline(DAG_ID, timedelta(minutes=20)),
    tags=["wikivis", "events"],
    doc_md=__doc__,
)
def wikivis_events() -> None:
    @task(retries=0)
    def plan(data_interval_start: Any = None, data_interval_end: Any = None) -> list[dict[str, Any]]:
        from wikivis_airflow.hooks import task_settings

        from wikivis import orchestration

        return orchestration.published_items(DAG_ID, data_interval_start, data_interval_end, settings=task_settings())

    stages.wire(plan(), None, graph=EVENTS, report=False)


wikivis_events()
