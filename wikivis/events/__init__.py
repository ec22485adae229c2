"""EventStreams deltas: events → dirty pages/files → re-read → a new lake snapshot.

Public entry points:

* :func:`catch_up` (``wikivis.events.catchup``) — the pipeline stage: base snapshot + events up
  to ``until`` → snapshot ``YYYYMMDDTHHMMSSZ``, then the checkpoint moves.
* :func:`checkpoint_value` — the stored checkpoint (for Airflow's asset state store).
* :func:`stale_reason` — why a wiki is marked stale (None when it is not).
* :func:`reconcile` — after a dump/replica ingest: reset a stale checkpoint, record the gap.
* :func:`event_gaps` — the windows of lost events, for the monitoring page.

The transport (SSE parsing, resume, windowing, de-duplication) is
:mod:`wikivis.sources.eventstreams`.
"""

from wikivis.events.catchup import (
    CHECKPOINT_NAME,
    CatchUpOptions,
    CatchUpResult,
    Checkpoint,
    catch_up,
    checkpoint_value,
    event_gaps,
    reconcile,
    reconcile_after_ingest,
    snapshot_id,
    snapshot_time,
    stale_reason,
)

__all__ = [
    "CHECKPOINT_NAME",
    "CatchUpOptions",
    "CatchUpResult",
    "Checkpoint",
    "catch_up",
    "checkpoint_value",
    "event_gaps",
    "reconcile",
    "reconcile_after_ingest",
    "snapshot_id",
    "snapshot_time",
    "stale_reason",
]
