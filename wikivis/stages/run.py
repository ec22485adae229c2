"""The run context every stage function receives, the stage recorder, and run-id naming.

Run ids (the one place their shape is written):

* a **parent run** is what one orchestrator run (a DAG run, ``run_all``) does for one wiki,
  or across wikis: :func:`run_id_for` → ``<kind>__<wiki>__YYYYMMDDTHHMMSSZ`` or
  ``<kind>__YYYYMMDDTHHMMSSZ``, keyed on the data interval so retries and backfills reuse it;
* each stage records a **child run** :func:`stage_run_id` → ``<run_id>.<stage>`` of kind
  :func:`stage_kind` → ``stage:<stage>``; a shard of a fanned-out stage is
  :func:`shard_stage` → ``<stage>_<shard>`` (folded back together by :func:`stage_of_kind`).

:class:`RunContext` carries what a stage needs and must not work out again: the settings
(built once by the entry point — CLI, Airflow task, demo — and passed in), the lake, the
catalog, the run id, and derived values such as ``model_id``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from wikivis.config import chosen_model_id
from wikivis.errors import WikivisError

if TYPE_CHECKING:
    from wikivis.catalog import Catalog
    from wikivis.config import Settings
    from wikivis.lake import Lake

#: what a task passes to the next one (through XCom under Airflow): ids and paths, never data
Item = dict[str, Any]

RUN_ID_SEP = "__"
STAGE_SEP = "."
STAGE_KIND_PREFIX = "stage:"
_SHARD_SUFFIX_RE = re.compile(r"_\d+$")


def run_id_for(dag_id: str, logical_date_iso: str, wiki: str | None = None) -> str:
    """A parent run id keyed on the data interval, so retries and backfills reuse it."""
    stamp = datetime.fromisoformat(logical_date_iso.replace("Z", "+00:00")).astimezone(UTC)
    return RUN_ID_SEP.join(p for p in (dag_id, wiki, stamp.strftime("%Y%m%dT%H%M%SZ")) if p)


def run_kind(run_id: str) -> str:
    """The kind (DAG id, ``run``) a parent run id starts with."""
    return run_id.split(RUN_ID_SEP, 1)[0] or "run"


def stage_run_id(run_id: str, stage: str) -> str:
    return f"{run_id}{STAGE_SEP}{stage}"


def stage_kind(stage: str) -> str:
    return f"{STAGE_KIND_PREFIX}{stage}"


def shard_stage(stage: str, shard: int) -> str:
    return f"{stage}_{shard}"


def is_stage_kind(kind: str | None) -> bool:
    return str(kind or "").startswith(STAGE_KIND_PREFIX)


def stage_of_kind(kind: str | None) -> str:
    """``stage:metadata_3`` → ``metadata``; a parent run's kind (its DAG) stays as it is."""
    kind = str(kind or "?")
    if is_stage_kind(kind):
        return _SHARD_SUFFIX_RE.sub("", kind.removeprefix(STAGE_KIND_PREFIX))
    return kind


@dataclass(frozen=True)
class RunContext:
    """Everything a stage function needs besides its own arguments."""

    settings: Settings
    lake: Lake
    catalog: Catalog
    run_id: str
    #: the embedding model of this run (derived once from the settings, or from ``embed``)
    model_id: str
    #: the snapshot the run works on, once known (``ingest`` / ``events_catchup`` set it)
    snapshot: str | None = None
    #: ``wiki -> Engine`` on the Wiki Replicas, when the entry point has a connection for them
    replica_engine: Callable[[str], Any] | None = None

    @classmethod
    def open(cls, settings: Settings, run_id: str, *, model_id: str | None = None,
             snapshot: str | None = None, replica_engine: Callable[[str], Any] | None = None) -> RunContext:
        from wikivis.catalog import Catalog
        from wikivis.lake import Lake

        return cls(settings, Lake.from_settings(settings), Catalog(settings.resolved_catalog_url), run_id,
                   chosen_model_id(settings, model_id), snapshot, replica_engine)

    def with_run(self, run_id: str) -> RunContext:
        return replace(self, run_id=run_id)

    def with_snapshot(self, snapshot: str) -> RunContext:
        return replace(self, snapshot=snapshot)


@contextmanager
def stage(ctx: RunContext, name: str, wiki: str | None, **params: Any) -> Iterator[dict[str, Any]]:
    """Record a stage execution as child run ``<run_id>.<name>``; yields a metrics dict.

    A failing stage marks its child run failed and re-raises; the *parent* run stays
    ``running``: under Airflow the task may be retried, and only the end of the DAG run
    decides the parent's status (:func:`finish_runs`).  Outside Airflow, ``run_all`` fails
    the parent itself (nothing retries it).  A parent left ``failed`` by an earlier attempt of
    the same interval (a cleared DAG run) is reopened."""
    catalog, run_id = ctx.catalog, ctx.run_id
    parent = catalog.get_run(run_id)
    if parent is None or parent.get("status") == "failed":
        catalog.start_run(run_kind(run_id), wiki, {"wiki": wiki}, run_id=run_id)
    child = catalog.start_run(stage_kind(name), wiki, {"parent": run_id, **params}, run_id=stage_run_id(run_id, name))
    metrics: dict[str, Any] = {}
    started = time.perf_counter()
    try:
        yield metrics
    except Exception as exc:
        catalog.finish_run(child, "failed", failure_message(name, exc), metrics)
        raise
    metrics.setdefault("elapsed_s", round(time.perf_counter() - started, 3))
    catalog.finish_run(child, "success", None, metrics)


def failure_message(name: str, exc: BaseException) -> str:
    """``<stage>: <reason>`` for the catalog (URL passwords masked)."""
    from wikivis.logsafe import mask_secrets

    if isinstance(exc, WikivisError):
        return mask_secrets(f"{name}: {exc}")
    return mask_secrets(f"{name}: unexpected {exc.__class__.__name__}: {exc}")


def summary(data: Mapping[str, Any]) -> dict[str, Any]:
    """The scalar (and flat-dict) fields of a stage result's ``as_dict()``, for its metrics."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        flat = isinstance(value, dict) and all(isinstance(v, (str, int, float, bool)) for v in value.values())
        if isinstance(value, (str, int, float, bool)) or value is None or flat:
            out[key] = value
    return out


def finish_runs(settings: Settings, run_ids: list[str], *, failed: bool, reason: str | None = None,
                only_running: bool = False) -> dict[str, str]:
    """End the parent runs of one orchestrator run (a DAG run, or ``run_all``).

    ``failed``: the orchestrator run failed — every run still ``running`` becomes ``failed``
    with the message of its newest failed stage, else ``reason``.  Otherwise every run still
    ``running`` becomes ``success`` (published or not).  Runs that never started are left out;
    runs already ended keep their status unless ``failed`` (a run that published and then
    failed, e.g. in evaluation, is failed; ``only_running`` keeps them).  Returns ``{run_id: status}``."""
    from wikivis.catalog import Catalog

    catalog = Catalog(settings.resolved_catalog_url)
    out: dict[str, str] = {}
    try:
        for run_id in dict.fromkeys(run_ids):
            run = catalog.get_run(run_id)
            if run is None:
                continue
            if run["status"] == "running" or (failed and not only_running and run["status"] != "failed"):
                status = "failed" if failed else "success"
                message = (_failed_stage_message(catalog, run_id) or reason or "the run failed") if failed else None
                catalog.finish_run(run_id, status, message)
                out[run_id] = status
            else:
                out[run_id] = str(run["status"])
    finally:
        catalog.dispose()
    return out


def _failed_stage_message(catalog: Catalog, run_id: str) -> str | None:
    for run in catalog.runs(limit=1000):
        if run["status"] == "failed" and (run.get("params") or {}).get("parent") == run_id:
            return str(run.get("message") or "") or None
    return None
