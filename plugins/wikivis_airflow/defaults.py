"""What every wikivis DAG shares: owner, tags, retries, callbacks, pools, queue, assets, deadline.

Retries.  Sources fail transiently (a 503 from the dumps server, a replica restart), so tasks
retry with exponential backoff (2 min, 4 min, 8 min, capped at 1 h; the first delay is the
``task_retry_delay_s`` setting).  Some failures are
deterministic and retrying only delays the alert: :data:`RETRY_POLICY` fails a task at once
on :class:`~wikivis.errors.GateFailed` (the data is bad; a rerun reads the same data) and on
:class:`~wikivis.errors.ConfigError` (including policy refusals), on
:class:`~wikivis.errors.NotFoundError` (e.g. a backfill date without a dump run) and on
:class:`~wikivis.errors.StaleCheckpointError` (an EventStreams checkpoint older than the replay
window: only the next dump or replica ingest reconciles it, see ``wikivis.events.reconcile``).

Pools (created by ``airflow-init`` in ``docker-compose.yml``; see :data:`POOLS`) cap the
dumps and Commons traffic of *all* runs together at Wikimedia's published limits, whatever
the number of Celery workers: ``dumps`` (2 slots — dumps.wikimedia.org: 2 connections per
IP), ``commons_api`` (3 slots — Action API etiquette: 3 concurrent requests) and
``commons_upload`` (2 slots — upload.wikimedia.org: 2 connections, 25 Mbps).
wikivis' own limiters are per process, so a task holding one slot must use only its share:
:func:`share_pool_limits` divides the limits by the pool's slots in the settings the task
passes to its stage (2 ingest tasks × 1 dumps connection; 3 API tasks × 1 request; 2 upload
tasks × 1 connection × 12.5 Mbps).

Assets chain the DAGs: dump ready → lake snapshot → embeddings → index.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, ExceptionRetryPolicy, RetryAction, RetryRule

# exported by airflow.sdk at run time, but missing from its __init__.pyi (3.3): import from the
# defining modules so that mypy sees their types
from airflow.sdk.definitions.callback import AsyncCallback
from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

from wikivis.stages import graph
from wikivis_airflow.callbacks import deadline_missed, task_failed
from wikivis_airflow.hooks import deployment_settings, mask_wikivis_secrets

if TYPE_CHECKING:
    from wikivis.config import Settings

OWNER = "wikivis"
#: tag vocabulary (tests check every DAG uses only these, and always ``wikivis``)
TAGS = frozenset({"wikivis", "nightly", "events", "backfill", "ingest", "media", "embed", "index", "training"})

#: name → (slots, description)
POOLS: dict[str, tuple[int, str]] = {
    "dumps": (2, "dumps.wikimedia.org: at most 2 connections per IP"),
    "commons_api": (3, "Commons Action API: at most 3 concurrent requests (API etiquette)"),
    "commons_upload": (2, "upload.wikimedia.org: at most 2 concurrent connections"),
}
DUMPS_POOL = graph.DUMPS_POOL
COMMONS_API_POOL = graph.COMMONS_API_POOL
COMMONS_UPLOAD_POOL = graph.COMMONS_UPLOAD_POOL
#: Celery queue served by the GPU worker
GPU_QUEUE = graph.GPU_QUEUE

DUMP_READY = Asset(graph.DUMP_READY)
LAKE_SNAPSHOT = Asset(graph.LAKE_SNAPSHOT)
EMBEDDINGS = Asset(graph.EMBEDDINGS)
INDEX = Asset(graph.INDEX)
#: the graph's asset URIs → Airflow assets
ASSETS = {graph.DUMP_READY: DUMP_READY, graph.LAKE_SNAPSHOT: LAKE_SNAPSHOT, graph.EMBEDDINGS: EMBEDDINGS,
          graph.INDEX: INDEX}

RETRY_POLICY = ExceptionRetryPolicy(
    rules=[
        RetryRule(
            exception=["wikivis.errors.GateFailed", "wikivis.errors.ConfigError", "wikivis.errors.NotFoundError",
                       "wikivis.errors.StaleCheckpointError"],
            action=RetryAction.FAIL,
            reason="deterministic failure (gate, configuration, missing input, EventStreams checkpoint older than "
                   "the replay window): a retry reads the same input",
        ),
    ]
)


#: pool → settings limits a task in that pool must share with the pool's other slots
POOL_LIMITS: dict[str, tuple[str, ...]] = {
    DUMPS_POOL: ("dumps_max_connections",),
    COMMONS_API_POOL: ("api_max_concurrency",),
    COMMONS_UPLOAD_POOL: ("upload_max_concurrency", "upload_max_mbps"),
}


def share_pool_limits(settings: Settings, pool: str | None) -> Settings:
    """``settings`` with the politeness limits of ``pool`` divided by the pool's slots (what
    one task holding one slot may use); unchanged for a task outside those pools."""
    if pool not in POOL_LIMITS:
        return settings
    slots = POOLS[pool][0]
    shared: dict[str, Any] = {}
    for field in POOL_LIMITS[pool]:
        value = getattr(settings, field)
        shared[field] = max(1, value // slots) if isinstance(value, int) else value / slots
    return settings.replace(**shared)


def default_args(**overrides: Any) -> dict[str, Any]:
    """Task defaults of the wikivis DAGs (the first retry delay is the ``task_retry_delay_s``
    setting of the deployment, read at parse time)."""
    args: dict[str, Any] = {
        "owner": OWNER,
        "retries": 3,
        "retry_delay": timedelta(seconds=deployment_settings().task_retry_delay_s),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(hours=1),
        "retry_policy": RETRY_POLICY,
        "on_failure_callback": task_failed,
        "on_execute_callback": [mask_wikivis_secrets],
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
