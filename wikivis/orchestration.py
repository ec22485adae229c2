"""Pure helpers the orchestrator (Airflow DAGs, or anything else) needs around the pipeline.

No Airflow, no I/O beyond reading the settings: the DAG files import this at parse time.

* :func:`interval_keys` — everything a scheduled run is keyed on comes from its *data
  interval*, never from "now": the dump date is the interval's start day, the EventStreams
  catch-up runs until the interval's end.  Reruns, retries and Airflow's own backfills of the
  same interval therefore ask for exactly the same data.
* :func:`validate_backfill_request` — the cross-field checks of the backfill form that JSON
  Schema cannot express (start ≤ end, wikis against the *runtime* settings, range size),
  reported together in one :class:`~wikivis.errors.ConfigError`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from wikivis.config import Settings, load_settings
from wikivis.errors import ConfigError, NotFoundError
from wikivis.stages.graph import NIGHTLY, selected
from wikivis.stages.run import finish_runs, run_id_for

log = logging.getLogger(__name__)

#: pipeline stages a backfill can select, in execution order (from the stage graph)
STAGES: tuple[str, ...] = NIGHTLY.selectable()
#: what each stage does, as the backfill form's pick-list shows it
STAGE_LABELS: dict[str, str] = NIGHTLY.labels()
#: longest date range one backfill request may cover (one snapshot per day)
MAX_BACKFILL_DAYS = 366


def configured_wikis(settings: Settings | None = None) -> list[str]:
    """The article wikis to process: of ``settings``, else of the process's environment and
    TOML file (cheap, no I/O beyond that: what a DAG file reads at parse time)."""
    return list((settings or load_settings()).wikis)


@dataclass(frozen=True)
class IntervalKeys:
    """What one data interval asks for."""

    #: ISO timestamp of the interval start (what the run id is derived from)
    logical: str
    #: dump date YYYYMMDD to ingest (the interval's start day)
    dump_date: str
    #: ISO timestamp up to which EventStreams deltas are applied (the interval's end)
    until: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _parse_instant(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"not an ISO timestamp: {value!r}") from exc


def interval_keys(data_interval_start: str | datetime, data_interval_end: str | datetime) -> IntervalKeys:
    """Keys of the interval ``[start, end)``; ``end`` must not precede ``start``."""
    start, end = _parse_instant(data_interval_start), _parse_instant(data_interval_end)
    if end < start:
        raise ConfigError(f"data interval ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    return IntervalKeys(logical=start.isoformat(), dump_date=start.strftime("%Y%m%d"), until=end.isoformat())


def interval_items(
    dag_id: str,
    data_interval_start: str | datetime,
    data_interval_end: str | datetime,
    wikis: Sequence[str] | None = None,
) -> list[dict[str, str]]:
    """The work of one data interval, one item per wiki; items carry ids only (they travel
    through XCom): ``{"wiki", "run_id", "logical", "dump_date", "until"}``."""
    keys = interval_keys(data_interval_start, data_interval_end)
    return [
        {"wiki": wiki, "run_id": run_id_for(dag_id, keys.logical, wiki), **keys.as_dict()}
        for wiki in (configured_wikis() if wikis is None else wikis)
    ]


def published_items(
    dag_id: str,
    data_interval_start: str | datetime,
    data_interval_end: str | datetime,
    dataset: str = "article_images",
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """Like :func:`interval_items`, plus ``snapshot``: the published snapshot of ``dataset``,
    the base of an events catch-up.  Wikis with nothing published yet are left out (logged):
    their first snapshot comes from a dump."""
    from wikivis.lake import Lake

    settings = settings or load_settings()
    lake = Lake.from_settings(settings)
    items = []
    for item in interval_items(dag_id, data_interval_start, data_interval_end, configured_wikis(settings)):
        snapshot = lake.current(dataset, item["wiki"])
        if snapshot is None:
            log.warning("%s: nothing published for %s yet; its first snapshot comes from a dump", dag_id, item["wiki"])
        else:
            items.append({**item, "snapshot": snapshot})
    return items


def interval_run_id(dag_id: str, data_interval_start: str | datetime) -> str:
    """Run id of the stages that span every wiki (embedding gate, index build)."""
    return run_id_for(dag_id, _parse_instant(data_interval_start).isoformat())


def dates_between(start: date, end: date) -> list[str]:
    """Every day from ``start`` to ``end`` inclusive, as ``YYYYMMDD``."""
    return [(start + timedelta(days=n)).strftime("%Y%m%d") for n in range((end - start).days + 1)]


@dataclass(frozen=True)
class BackfillRequest:
    """A validated backfill form."""

    wikis: tuple[str, ...]
    dates: tuple[str, ...]
    stages: tuple[str, ...]
    force: bool = False
    dry_run: bool = False
    max_images: int = 0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def _parse_day(name: str, value: Any, problems: list[str]) -> date | None:
    if value in (None, ""):
        return None
    text = str(value)
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    problems.append(f"{name} {text!r} is not a date (YYYY-MM-DD)")
    return None


def validate_backfill_request(params: Mapping[str, Any], configured: Sequence[str]) -> BackfillRequest:
    """Check a backfill form as a whole; raise one :class:`ConfigError` listing every problem.

    :param params: the form: ``wikis``, ``start``, ``end`` (optional, defaults to ``start``),
        ``stages``, ``force``, ``dry_run``, ``max_images``.
    :param configured: the wikis the settings allow.
    """
    problems: list[str] = []
    wikis = [str(w) for w in params.get("wikis") or []]
    if not wikis:
        problems.append("choose at least one wiki")
    unknown = sorted(set(wikis) - set(configured))
    if unknown:
        problems.append(f"unknown wiki(s) {', '.join(unknown)}; configured: {', '.join(configured) or 'none'}")

    start = _parse_day("start", params.get("start"), problems)
    end = _parse_day("end", params.get("end"), problems) or start
    dates: list[str] = []
    if start is None and not any(p.startswith("start") for p in problems):
        problems.append("start date is required")
    elif start is not None and end is not None:
        if start > end:
            problems.append(f"inverted date range: start {start.isoformat()} is after end {end.isoformat()}")
        elif (end - start).days + 1 > MAX_BACKFILL_DAYS:
            problems.append(f"date range of {(end - start).days + 1} days exceeds {MAX_BACKFILL_DAYS}")
        else:
            dates = dates_between(start, end)

    stages = [str(s) for s in params.get("stages") or []]
    bad_stages = sorted(set(stages) - set(STAGES))
    if not stages:
        problems.append("choose at least one stage")
    if bad_stages:
        problems.append(f"unknown stage(s) {', '.join(bad_stages)}; known: {', '.join(STAGES)}")

    max_images = params.get("max_images", 0)
    if isinstance(max_images, bool) or not isinstance(max_images, int) or max_images < 0:
        problems.append(f"max_images must be an integer >= 0, not {max_images!r}")

    if problems:
        raise ConfigError("invalid backfill request: " + "; ".join(problems))
    return BackfillRequest(
        wikis=tuple(dict.fromkeys(wikis)),
        dates=tuple(dates),
        stages=tuple(s for s in STAGES if s in stages),
        force=bool(params.get("force", False)),
        dry_run=bool(params.get("dry_run", False)),
        max_images=int(max_images),
    )


def stage_selected(item: Mapping[str, Any], stage: str, *, gate: bool = False) -> bool:
    """Whether ``stage`` (its work, or with ``gate=True`` its gate) runs for this work item.

    Scheduled items carry no choices: every stage runs.  Backfill items carry ``stages``;
    a ``dry_run`` item runs only the (dry) ingest itself, no gate and no other stage.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; known: {', '.join(STAGES)}")
    return selected(item, stage, gate=gate)


def newest_per_wiki(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The item with the newest snapshot of each wiki (what a run publishes), in wiki order.

    Snapshot ids sort as strings (``YYYYMMDD`` < ``YYYYMMDDTHHMMSSZ`` of a later delta).
    """
    newest: dict[str, Mapping[str, Any]] = {}
    for item in items:
        wiki = str(item["wiki"])
        if wiki not in newest or str(item["snapshot"]) > str(newest[wiki]["snapshot"]):
            newest[wiki] = item
    return [dict(newest[wiki]) for wiki in sorted(newest)]


def backfill_run(dag_id: str, params: Mapping[str, Any], configured: Sequence[str] | None = None) -> dict[str, Any]:
    """Validate a backfill form and return the cross-wiki ``run``: the request plus a run id
    keyed on the range's last day (rerunning the same request reuses the same run ids)."""
    request = validate_backfill_request(params, configured_wikis() if configured is None else configured)
    last_day = datetime.strptime(request.dates[-1], "%Y%m%d").replace(tzinfo=UTC)
    return {"run_id": run_id_for(dag_id, last_day.isoformat()), **request.as_dict()}


def backfill_items(dag_id: str, run: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One work item per (wiki, date) of a validated backfill ``run``, each keyed on its day
    as if it were that day's scheduled interval, and carrying the form's choices."""
    choices = {key: run[key] for key in ("stages", "force", "dry_run", "max_images")}
    items = []
    for day in run["dates"]:
        start = datetime.strptime(day, "%Y%m%d").replace(tzinfo=UTC)
        items += [{**item, **choices} for item in interval_items(dag_id, start, start + timedelta(days=1), run["wikis"])]
    return items


#: task states that make a DAG run fail (Airflow's ``TaskInstanceState`` values)
FAILED_TASK_STATES = frozenset({"failed", "upstream_failed"})


def run_ids_of(items: Sequence[Mapping[str, Any]] | None, run: Mapping[str, Any] | None) -> list[str]:
    """The catalog run ids of one DAG run: its work items' and the cross-wiki ``run``'s.

    Either may be ``None``: an upstream task that failed (e.g. ``validate_request`` of a
    backfill) leaves no XCom, and then there is nothing to end or report."""
    ids = [str(item["run_id"]) for item in (items[:] if items is not None else []) if item and item.get("run_id")]
    if run and run.get("run_id"):
        ids.append(str(run["run_id"]))
    return list(dict.fromkeys(ids))


def failed_tasks(task_states: Mapping[str, Any], *, ignore: str = "") -> list[str]:
    """Tasks (``task_id`` or ``task_id_<map index>``) whose state fails the DAG run."""
    return sorted(task for task, state in task_states.items()
                  if str(getattr(state, "value", state)) in FAILED_TASK_STATES and task != ignore)


def end_dag_run(settings: Settings, run_ids: Sequence[str], task_states: Mapping[str, Any], *,
                ignore: str = "") -> dict[str, str]:
    """End the catalog runs of a DAG run from its task states (the teardown calls this once
    every other task is done, retries included): failed if a task failed, else success."""
    failed = failed_tasks(task_states, ignore=ignore)
    reason = f"DAG run failed: task(s) {', '.join(failed[:5])}{' …' if len(failed) > 5 else ''} failed" if failed else None
    ended = finish_runs(settings, list(run_ids), failed=bool(failed), reason=reason)
    log.info("runs ended: %s", ", ".join(f"{k}={v}" for k, v in ended.items()) or "none started")
    return ended


def dag_run_ids(dag_id: str, data_interval_start: Any, data_interval_end: Any,
                conf: Mapping[str, Any] | None = None, wikis: Sequence[str] | None = None) -> list[str]:
    """Every catalog run id a DAG run may have started, from what Airflow knows of it: the
    backfill form (``conf``) for ``wikivis_backfill``, else the data interval."""
    if conf and conf.get("wikis") is not None and conf.get("start"):
        try:
            run = backfill_run(dag_id, conf, wikis)
        except ConfigError:
            return []  # refused form: nothing started
        return run_ids_of(backfill_items(dag_id, run), run)
    if data_interval_start is None or data_interval_end is None:
        return []
    items = interval_items(dag_id, data_interval_start, data_interval_end, wikis)
    return run_ids_of(items, {"run_id": interval_run_id(dag_id, data_interval_start)})


def end_runs_of_failed_dag_run(settings: Settings, run_ids: Sequence[str], reason: str) -> dict[str, str]:
    """Fail the runs still ``running`` of a DAG run that failed (``on_failure_callback``)."""
    return finish_runs(settings, list(run_ids), failed=True, reason=reason, only_running=True)


def write_reports(settings: Settings, run_ids: Sequence[str]) -> list[str]:
    """Write the quality report of each run (duplicates once); return the HTML paths.

    A run that never started (e.g. the index run when a per-wiki gate stopped the DAG run
    earlier) has nothing to report: it is logged and left out.
    """
    from wikivis.stages.publish import write_report
    from wikivis.stages.run import RunContext

    written = []
    for run_id in dict.fromkeys(run_ids):
        try:
            written.append(str(write_report(RunContext.open(settings, run_id))["html"]))
        except NotFoundError as exc:
            log.info("no report for %s: %s", run_id, exc)
    return written
