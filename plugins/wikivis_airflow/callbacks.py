"""Failure and deadline callbacks for the wikivis DAGs.

Kept deliberately light: no ``wikivis`` import (a callback must work even when the package
is broken), no metadata-DB access (Airflow 3 forbids it from task code), no network.

* :func:`task_failed` (``on_failure_callback``) runs in the task's process after the last
  try failed.  It logs one structured line that names the DAG, run, task, map index, try and
  the exception, and bumps the StatsD/OpenTelemetry counter ``wikivis.task_failed`` (and
  ``wikivis.gate_failed`` for a failed gate; both documented in ``docs/monitoring.md``).  A failed gate arrives here as ``GateFailed``;
  its message carries the gate's reason, which is also in the catalog and on the monitoring
  page.
* :func:`dag_run_failed` (the DAGs' ``on_failure_callback``) ends the wikivis runs of a DAG
  run that failed without reaching its ``write_reports`` teardown — a ``dagrun_timeout``, a
  run marked failed by hand — so that none stays ``running``.  It imports ``wikivis`` inside
  a ``try``: a broken package is logged, never raised.  (The teardown does the same work in the
  usual case; ending a run twice is harmless.)  ``wikivis_backfill`` has no ``dagrun_timeout`` and
  does not use it: Airflow 3.3.2's ``dag.test`` crashes building a DAG callback's context for a
  DAG with a required ``Param`` (it re-validates the serialized params without the run's conf).
* :func:`deadline_missed` is the :class:`~airflow.sdk.DeadlineAlert` callback.  Airflow runs
  ``AsyncCallback`` callables in the triggerer with the ``kwargs`` given at definition time
  (plus ``context`` when the callable accepts it), so it must be ``async``.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("wikivis.airflow")

#: metric names (also listed in docs/monitoring.md)
METRIC_TASK_FAILED = "wikivis.task_failed"
METRIC_GATE_FAILED = "wikivis.gate_failed"
METRIC_DEADLINE_MISSED = "wikivis.deadline_missed"


def _incr(metric: str, tags: dict[str, str]) -> None:
    """Bump an Airflow Stats counter; metrics are best effort and never fail a callback."""
    try:
        from airflow.sdk.observability.stats import incr

        incr(metric, tags=tags)
    except Exception:
        log.debug("could not emit %s", metric, exc_info=True)


def describe_failure(context: dict[str, Any]) -> dict[str, Any]:
    """The fields of a failure worth one log line (no parameters, no credentials)."""
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    exc = context.get("exception")
    return {
        "dag_id": getattr(ti, "dag_id", None),
        "run_id": getattr(dag_run, "run_id", None) or getattr(ti, "run_id", None),
        "task_id": getattr(ti, "task_id", None),
        "map_index": getattr(ti, "map_index", -1),
        "try_number": getattr(ti, "try_number", None),
        "error_type": type(exc).__name__ if exc is not None else None,
        "error": str(exc)[:2000] if exc is not None else None,
        "gate": getattr(exc, "gate", None),
    }


def task_failed(context: dict[str, Any]) -> None:
    """``on_failure_callback``: one structured log line + the ``wikivis.task_failed`` counter."""
    info = describe_failure(context)
    log.error(
        "wikivis task failed: dag=%(dag_id)s run=%(run_id)s task=%(task_id)s[%(map_index)s] "
        "try=%(try_number)s %(error_type)s: %(error)s",
        info,
    )
    _incr(METRIC_TASK_FAILED, {"dag_id": str(info["dag_id"]), "task_id": str(info["task_id"])})
    if info["error_type"] == "GateFailed":
        _incr(METRIC_GATE_FAILED, {"dag_id": str(info["dag_id"]), "gate": str(info["gate"])})


def dag_run_failed(context: dict[str, Any]) -> None:
    """DAG-level ``on_failure_callback``: fail the wikivis runs of this DAG run still ``running``."""
    dag_run = context.get("dag_run")
    dag = context.get("dag")
    dag_id = getattr(dag, "dag_id", None) or getattr(dag_run, "dag_id", None)
    if dag_run is None or dag_id is None:
        log.warning("wikivis: DAG run %s failed; no run details in the callback context", context.get("run_id"))
        return
    try:
        from wikivis import orchestration
        from wikivis_airflow.hooks import deployment_settings

        settings = deployment_settings()  # DAG callbacks run outside a task: no connections needed here
        run_ids = orchestration.dag_run_ids(
            str(dag_id), getattr(dag_run, "data_interval_start", None), getattr(dag_run, "data_interval_end", None),
            dict(getattr(dag_run, "conf", None) or {}), settings.wikis,
        )
        reason = f"DAG run {getattr(dag_run, 'run_id', '?')} failed: {context.get('reason') or 'failed'}"
        ended = orchestration.end_runs_of_failed_dag_run(settings, run_ids, reason)
        log.info("wikivis: ended the runs of failed DAG run %s: %s", getattr(dag_run, "run_id", "?"), ended)
    except Exception:
        log.exception("wikivis: could not end the runs of DAG run %s", getattr(dag_run, "run_id", "?"))


async def deadline_missed(dag_id: str = "", deadline: str = "", context: Any = None, **_: Any) -> None:
    """:class:`~airflow.sdk.DeadlineAlert` callback (runs in the triggerer)."""
    run_id = None
    if isinstance(context, dict):
        run_id = (context.get("dag_run") or {}).get("run_id") if isinstance(context.get("dag_run"), dict) else None
    log.warning("wikivis deadline missed: dag=%s run=%s deadline=%s", dag_id, run_id, deadline)
    _incr(METRIC_DEADLINE_MISSED, {"dag_id": dag_id})
