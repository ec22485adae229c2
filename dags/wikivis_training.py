"""
### wikivis_training — weekly CuratorNet training behind an evaluation gate

Every Sunday, for each configured wiki, on the published data:

1. `train_candidate` (Celery queue `gpu`): measure CuratorNet on the evaluation's held-out
   split, train it on every link, and write a **versioned** checkpoint
   (`<home>/models/curatornet/versions/<wiki>--<model>/v-<time>/`). Serving is untouched.
2. `promote`: the evaluation gate. The candidate's held-out recall@10 and nDCG@10 must not
   fall more than `release_max_regression` below the current model's; then the checkpoint
   becomes the one `suggest` and the API load, and `current.json` names it. Otherwise
   `GateFailed` (never retried): serving keeps the current model, the verdict is in the
   candidate's `gate.json`.

See `wikivis.recommend.release`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag, task
from wikivis_airflow import stages
from wikivis_airflow.defaults import deadline, default_args

from wikivis.stages.graph import TRAINING

DAG_ID = "wikivis_training"


@dag(
    dag_id=DAG_ID,
    schedule=CronDataIntervalTimetable("0 6 * * 0", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 4, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    dagrun_timeout=timedelta(hours=12),
    deadline=deadline(DAG_ID, timedelta(hours=8)),
    tags=["wikivis", "training"],
    doc_md=__doc__,
)
def wikivis_training() -> None:
    @task(retries=0)
    def plan(data_interval_start: Any = None, data_interval_end: Any = None) -> list[dict[str, str]]:
        from wikivis_airflow.hooks import task_settings

        from wikivis import orchestration

        return orchestration.interval_items(DAG_ID, data_interval_start, data_interval_end, task_settings().wikis)

    stages.wire(plan(), None, graph=TRAINING, report=False)

wikivis_training()
