"""
### wikivis_backfill — rebuild chosen stages for chosen wikis and snapshot dates

Manual only (no schedule): trigger it from the UI form or with
`airflow dags trigger wikivis_backfill -c '{"wikis": ["samplewiki"], "start": "2026-11-01", "end": "2026-11-03"}'`.

**Form** (validated by JSON Schema before the run is created):

| field | meaning |
|---|---|
| `wikis` | pick-list of the configured wikis (`WIKIVIS_WIKIS`); default all |
| `start`, `end` | snapshot (dump) dates, `YYYY-MM-DD` (date pickers); `start` defaults to yesterday, `end` empty = only `start` |
| `stages` | pick-list of `ingest`, `events`, `media`, `embed`, `index`, `publish`; default all |
| `force` | re-ingest even when the snapshot already exists |
| `dry_run` | plan and check the ingest only; write nothing, run no other stage |
| `max_images` | cap on images fetched per snapshot (0 = no cap) |

The first task, `validate_request`, checks what JSON Schema cannot (start ≤ end, the wikis
against the settings of the *worker*, a range of at most a year) and fails the run at once
with every problem listed.  Each (wiki, date) then goes through the same tasks as
`wikivis_nightly`, keyed on that date as if it were the scheduled interval; stages not chosen
pass the item through.  Only the newest snapshot per wiki is published.

To replay *scheduled* intervals instead, use Airflow's own backfill of the nightly DAG:
`airflow backfill create --dag-id wikivis_nightly --from-date 2026-11-01 --to-date 2026-11-03 --max-active-runs 1`
(one interval at a time, oldest first; a backfill's concurrency is its own, 10 unless
`--max-active-runs` says otherwise, whatever the DAG's `max_active_runs`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task
from wikivis_airflow import stages
from wikivis_airflow.defaults import deadline, default_args

from wikivis.orchestration import STAGE_LABELS, STAGES, configured_wikis

DAG_ID = "wikivis_backfill"
WIKIS = configured_wikis()  # cheap: settings from env/TOML; the run re-checks on the worker

YESTERDAY = pendulum.yesterday("UTC").to_date_string()  # the form's default date (re-read at each parse)

PARAMS = {
    "wikis": Param(
        WIKIS, type="array", items={"type": "string", "enum": WIKIS}, examples=WIKIS, minItems=1, uniqueItems=True,
        title="Wikis", description="Configured wikis (WIKIVIS_WIKIS) to rebuild; pick one or more.",
    ),
    "start": Param(
        YESTERDAY, type="string", format="date", title="First snapshot date",
        description="Dump (snapshot) date to start from, YYYY-MM-DD; defaults to yesterday.",
    ),
    "end": Param(
        None, type=["null", "string"], format="date", title="Last snapshot date",
        description="Last dump date, YYYY-MM-DD, not before the first and at most a year after it; empty = only the first.",
    ),
    "stages": Param(
        list(STAGES), type="array", items={"type": "string", "enum": list(STAGES)}, examples=list(STAGES),
        values_display=STAGE_LABELS, minItems=1, uniqueItems=True, title="Stages",
        description="Stages to run, in pipeline order whatever the order chosen; stages left out pass their input through.",
    ),
    "force": Param(False, type="boolean", title="Force",
                   description="Re-ingest snapshots that already exist in the lake (otherwise they are reused)."),
    "dry_run": Param(False, type="boolean", title="Dry run",
                     description="Plan and check the ingest only: write nothing, run no other stage."),
    "max_images": Param(0, type="integer", minimum=0, title="Max images",
                        description="Cap on thumbnails fetched per snapshot; 0 = no cap."),
}


@dag(
    dag_id=DAG_ID,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params=PARAMS,
    default_args=default_args(),
    deadline=deadline(DAG_ID, timedelta(days=2)),
    tags=["wikivis", "backfill"],
    doc_md=__doc__,
)
def wikivis_backfill() -> None:
    @task(retries=0)
    def validate_request(params: Any = None) -> dict[str, Any]:
        from wikivis_airflow.hooks import task_settings

        from wikivis import orchestration

        return orchestration.backfill_run(DAG_ID, dict(params), task_settings().wikis)

    @task(retries=0)
    def plan(run: dict[str, Any]) -> list[dict[str, Any]]:
        from wikivis import orchestration

        return orchestration.backfill_items(DAG_ID, run)

    run = validate_request()
    stages.wire(plan(run), run)


wikivis_backfill()
