"""What every wikivis DAG shares: owner, tags, retries, callbacks, pools, queue, assets, deadline.

Retries.  Sources fail transiently (a 503 from the dumps server, a replica restart), so tasks
retry with exponential backoff (2 min, 4 min, 8 min, capped at 1 h).  Some failures are
deterministic and retrying only delays the alert: :data:`RETRY_POLICY` fails a task at once
on :class:`~wikivis.errors.GateFailed` (the data is bad; a rerun reads the same data) and on
:class:`~wikivis.errors.ConfigError` (including policy refusals) and on
:class:`~wikivis.errors.NotFoundError` (e.g. a backfill date without a dump run).

Pools (created by ``airflow-init`` in ``docker-compose.yml``; see :data:`POOLS`) cap the
Commons traffic of *all* runs together at Wikimedia's published limits, whatever the
number of Celery workers: ``commons_api`` (3 slots — Action API etiquette) and
``commons_upload`` (2 slots — upload.wikimedia.org allows 2 connections per client).

Assets chain the DAGs: dump ready → lake snapshot → embeddings → index.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import (
    Asset,
    AsyncCallback,
    DeadlineAlert,
    DeadlineReference,
    ExceptionRetryPolicy,
    RetryAction,
    RetryRule,
)

from wikivis_airflow.callbacks import deadline_missed, task_failed
from wikivis_airflow.hooks import apply_connections

OWNER = "wikivis"
#: tag vocabulary (tests check every DAG uses only these, and always ``wikivis``)
TAGS = frozenset({"wikivis", "nightly", "events", "backfill", "ingest", "media", "embed", "index"})

#: name → (slots, description)
POOLS: dict[str, tuple[int, str]] = {
    "commons_api": (3, "Commons Action API: at most 3 concurrent requests (API etiquette)"),
    "commons_upload": (2, "upload.wikimedia.org: at most 2 concurrent connections"),
}
COMMONS_API_POOL = "commons_api"
COMMONS_UPLOAD_POOL = "commons_upload"
#: Celery queue served by the GPU worker
GPU_QUEUE = "gpu"

DUMP_READY = Asset("wikivis://dumps/ready")
LAKE_SNAPSHOT = Asset("wikivis://lake/article_images")
EMBEDDINGS = Asset("wikivis://embeddings")
INDEX = Asset("wikivis://index")

RETRY_POLICY = ExceptionRetryPolicy(
    rules=[
        RetryRule(
            exception=["wikivis.errors.GateFailed", "wikivis.errors.ConfigError", "wikivis.errors.NotFoundError"],
            action=RetryAction.FAIL,
            reason="deterministic failure (gate, configuration, missing input): a retry reads the same input",
        ),
    ]
)


def default_args(**overrides: Any) -> dict[str, Any]:
    """Task defaults of the wikivis DAGs."""
    args: dict[str, Any] = {
        "owner": OWNER,
        "retries": 3,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(hours=1),
        "retry_policy": RETRY_POLICY,
        "on_failure_callback": task_failed,
        "on_execute_callback": apply_connections,
    }
    args.update(overrides)
    return args


def deadline(dag_id: str, after: timedelta) -> DeadlineAlert:
    """Alert (``wikivis.deadline_missed``) when a run of ``dag_id`` is not done ``after`` it was queued."""
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=after,
        callback=AsyncCallback(deadline_missed, kwargs={"dag_id": dag_id, "deadline": str(after)}),
    )
