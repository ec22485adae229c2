"""What the monitoring page shows, as JSON-able data read from wikivis' own records.

Sources: the catalog (runs, child stage runs, gate results, the EventStreams checkpoints),
the lake's ``current`` / newest snapshots, the index pointers and per-version ``meta.json``
under ``Settings.index_root``, and the quality reports under ``Settings.reports_root``.
Never Airflow's metadata DB, so the page shows the same whether the pipeline ran from
Airflow, the CLI or ``wikivis demo``.

``wikivis.pipeline`` records each stage as child run ``<run_id>.<stage>`` of kind
``stage:<stage>`` (``<stage>_<shard>`` for mapped shards, folded together here) with its
``metrics``; ``metrics["http"]`` holds the politeness counters as ``{client: counters}``
(``dumps``, ``replicas``, ``eventstreams``, ``action_api``, ``upload``, ...; an older flat
counter dict is shown as client ``all``).

The catalog and the lake are imported on call, so importing this module stays cheap in
every Airflow component.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wikivis.stages.run import is_stage_kind
from wikivis.stages.run import stage_of_kind as stage_name
from wikivis.vocab import snapshot_time

__all__ = ["HTTP_COUNTERS", "collect_status", "health", "http_counters", "is_stage_run", "stage_name", "stage_summary"]

if TYPE_CHECKING:
    from wikivis.config import Settings
    from wikivis.stages.graph import Graph

#: politeness counters shown per run (keys of ``wikivis.sources.http.HttpCounters``)
HTTP_COUNTERS = ("requests", "retries", "throttled", "server_errors", "bytes", "waited_s")
#: stages whose ``metrics["http"]["upload"]`` (or flat counters) are thumbnail downloads
MEDIA_STAGES = ("media", "commons")
#: how much history the page reads (tables page through it; charts show the newest part)
RUNS_LIMIT = 2000
GATES_LIMIT = 2000


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return snapshot_time(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def age_days(snapshot: str | None, now: datetime) -> float | None:
    when = snapshot_time(snapshot)
    return None if when is None else round((now - when).total_seconds() / 86400, 2)


def is_stage_run(run: Mapping[str, Any]) -> bool:
    return is_stage_kind(run.get("kind"))


def parent_of(run: Mapping[str, Any]) -> str:
    params = run.get("params") or {}
    parent = params.get("parent") if isinstance(params, Mapping) else None
    return str(parent or str(run.get("id", "")).rsplit(".", 1)[0])


def stage_seconds(run: Mapping[str, Any]) -> float | None:
    """The stage's own measured time (``metrics.elapsed_s``), else the catalog's wall time."""
    metrics = run.get("metrics") or {}
    value = metrics.get("elapsed_s") if isinstance(metrics, Mapping) else None
    if value is None:
        value = run.get("duration_s")
    return None if value is None else float(value)


def stage_summary(runs: Iterable[Mapping[str, Any]], order: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Per stage (or parent run kind): last run, last success and durations (runs newest first);
    the stages of ``order`` (the graph's) first and in that order, then the others by name."""
    stages: dict[str, dict[str, Any]] = {}
    for run in runs:
        kind = stage_name(run.get("kind"))
        entry = stages.setdefault(
            kind, {"stage": kind, "last_status": run.get("status"), "last_started": run.get("started_at"),
                   "last_success": None, "last_success_duration_s": None, "durations": []},
        )
        if run.get("status") == "success":
            if entry["last_success"] is None:
                entry["last_success"] = run.get("ended_at")
                entry["last_success_duration_s"] = run.get("duration_s")
            if run.get("duration_s") is not None:
                entry["durations"].append(float(run["duration_s"]))
    out = []
    for entry in stages.values():
        durations = entry.pop("durations")
        entry["mean_duration_s"] = round(sum(durations) / len(durations), 2) if durations else None
        out.append(entry)
    rank = {name: n for n, name in enumerate(order)}
    return sorted(out, key=lambda e: (rank.get(e["stage"], len(rank)), e["stage"]))


def http_counters(metrics: Mapping[str, Any] | None) -> dict[str, dict[str, float]]:
    """``metrics["http"]`` as ``{client: counters}``; a flat counter dict becomes client ``all``."""
    http = (metrics or {}).get("http")
    if not isinstance(http, Mapping) or not http:
        return {}
    if any(key in http for key in HTTP_COUNTERS):
        http = {"all": http}
    return {
        str(client): {key: counters.get(key, 0) or 0 for key in HTTP_COUNTERS}
        for client, counters in http.items()
        if isinstance(counters, Mapping)
    }


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        return {"error": f"unreadable {path.name}: {exc}"}
    return data if isinstance(data, dict) else {"value": data}


def read_index(index_root: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``current.json`` pointer per model, and the ``meta.json`` of every version kept on disk."""
    pointers: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    if not index_root.is_dir():
        return pointers, versions
    for model_dir in sorted(p for p in index_root.iterdir() if p.is_dir()):
        pointer = model_dir / "current.json"
        if pointer.is_file():
            pointers.append({"model": model_dir.name, **_read_json(pointer)})
        for version_dir in sorted(p for p in model_dir.iterdir() if p.is_dir() and p.name.startswith("v-")):
            meta = version_dir / "meta.json"
            if meta.is_file():
                data = _read_json(meta)
                versions.append({"model": model_dir.name, "version": data.get("version", version_dir.name[2:]),
                                 "recall": data.get("recall_at_k"), "threshold": data.get("recall_threshold"),
                                 "n": data.get("n"), "built_at": data.get("built_at"), "source": "disk"})
    return pointers, versions


def index_history(stage_runs: Iterable[Mapping[str, Any]], on_disk: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Index versions oldest first: the ``build_index`` stage runs' metrics (they outlive pruned
    versions), completed by the versions still on disk."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for run in stage_runs:
        if stage_name(run.get("kind")) != "build_index" or run.get("status") != "success":
            continue
        m = run.get("metrics") or {}
        version = m.get("version")
        if not version:
            continue
        key = (str(m.get("model_id") or "?"), str(version))
        seen[key] = {"model": key[0], "version": key[1], "recall": m.get("recall"), "threshold": m.get("threshold"),
                     "n": m.get("n"), "built_at": run.get("ended_at"), "source": "run", "run": parent_of(run)}
    for entry in on_disk:
        key = (str(entry.get("model")), str(entry.get("version")))
        match = next((v for (model, ver), v in seen.items() if ver == key[1]), None)
        if match is None:
            seen[key] = dict(entry)
        else:
            for field in ("recall", "threshold", "n"):
                if match.get(field) is None:
                    match[field] = entry.get(field)
    return sorted(seen.values(), key=lambda v: str(v["version"]))


def _open_catalog(settings: Settings) -> Any | None:
    """The catalog, or ``None`` when it does not exist yet (the monitor never creates it)."""
    import sqlalchemy as sa

    from wikivis.catalog import Catalog

    url = settings.resolved_catalog_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return None
    catalog = Catalog(url, migrate=False)
    # the lake's Iceberg catalog shares the database and may have created it before any run
    if not sa.inspect(catalog.engine).has_table("runs"):
        catalog.dispose()
        return None
    return catalog


def _positions(runs: list[dict[str, Any]], checkpoints: Mapping[str, str | None]) -> dict[str, dict[str, Any]]:
    """Per wiki: the newest dump ingested (ingest stage metrics) and the EventStreams position."""
    out: dict[str, dict[str, Any]] = {}
    for run in runs:  # newest first
        if stage_name(run.get("kind")) != "ingest" or run.get("status") != "success":
            continue
        wiki = str(run.get("wiki") or "")
        dump = (run.get("metrics") or {}).get("dump_date") or (run.get("metrics") or {}).get("snapshot")
        if wiki and dump and "dump" not in out.get(wiki, {}):
            out.setdefault(wiki, {})["dump"] = str(dump)
    for wiki, value in checkpoints.items():
        until = None
        if value:
            try:
                until = json.loads(value).get("until")
            except (ValueError, AttributeError):
                until = None
        if until:
            out.setdefault(wiki, {})["events_until"] = str(until)
    return out


def collect_status(settings: Settings, *, runs_limit: int = RUNS_LIMIT, gates_limit: int = GATES_LIMIT,
                   now: datetime | None = None, graph: Graph | None = None) -> dict[str, Any]:
    """Everything the page shows, newest first, as JSON-able data; ``pipeline`` lists the
    stages of ``graph`` (default the nightly graph) in order."""
    from wikivis.lake import Lake
    from wikivis.stages.graph import NIGHTLY

    now = now or datetime.now(UTC)
    pipeline = (graph or NIGHTLY).stage_names()
    status: dict[str, Any] = {"generated_at": now.isoformat(timespec="seconds"), "catalog_error": None,
                              "pipeline": pipeline}
    runs: list[dict[str, Any]] = []
    gates: list[dict[str, Any]] = []
    lake = Lake.from_settings(settings)
    wiki_names: set[str] = set()
    try:
        for dataset in lake.datasets():
            wiki_names.update(lake.wikis(dataset))
    except Exception:  # a half-written lake must not take the page down
        pass
    checkpoints: dict[str, str | None] = {}
    status["event_gaps"] = []
    try:
        catalog = _open_catalog(settings)
        if catalog is not None:
            try:
                runs = catalog.runs(limit=runs_limit)
                gates = catalog.gate_results(limit=gates_limit)
                from wikivis.events import event_gaps

                status["event_gaps"] = event_gaps(catalog)
                for wiki in sorted(wiki_names | {str(r.get("wiki")) for r in runs if r.get("wiki")}):
                    checkpoints[wiki] = catalog.get_checkpoint("eventstreams", wiki)
            finally:
                catalog.dispose()
    except Exception as exc:
        from wikivis.logsafe import mask_secrets

        status["catalog_error"] = mask_secrets(f"{type(exc).__name__}: {exc}")
    from wikivis.runs import newest_intervals

    status["intervals"] = newest_intervals(runs)
    reports_root = settings.reports_root
    stage_runs = [r for r in runs if is_stage_run(r)]
    status["stages"] = stage_summary(runs, pipeline)
    status["runs"] = [
        {
            **{k: run.get(k) for k in ("id", "kind", "wiki", "status", "started_at", "ended_at", "duration_s", "message")},
            "report": (reports_root / str(run["id"]) / "report.html").is_file(),
            "branch": None,
        }
        for run in runs
        if not is_stage_run(run)
    ]
    # a failed run's writes stay on its lake branch for inspection (`wikivis lake show --run`)
    for run in [r for r in status["runs"] if r["status"] == "failed"][:10]:
        try:
            written = lake.branches(str(run["id"]))
        except Exception:
            written = {}
        if written:
            run["branch"] = {d: [m.snapshot for m in ms] for d, ms in written.items()}
    status["stage_runs"] = [
        {"id": run["id"], "run": parent_of(run), "stage": stage_name(run.get("kind")), "task": run["id"].rsplit(".", 1)[-1],
         "wiki": run.get("wiki"), "status": run.get("status"), "started_at": run.get("started_at"),
         "ended_at": run.get("ended_at"), "seconds": stage_seconds(run), "message": run.get("message")}
        for run in stage_runs
    ]
    status["http"] = [
        {"run": parent_of(run), "task": str(run["id"]).rsplit(".", 1)[-1], "stage": stage_name(run.get("kind")),
         "client": client, "started_at": run.get("started_at"), "ended_at": run.get("ended_at"),
         "seconds": stage_seconds(run), **counters}
        for run in stage_runs
        for client, counters in http_counters(run.get("metrics")).items()
    ]
    totals: dict[str, dict[str, float]] = {}
    for row in status["http"]:
        entry = totals.setdefault(row["client"], {"client": row["client"], "stage_runs": 0,
                                                  **{k: 0 for k in HTTP_COUNTERS}})
        entry["stage_runs"] += 1
        for key in HTTP_COUNTERS:
            entry[key] += row.get(key) or 0
    status["http_totals"] = sorted(totals.values(), key=lambda t: str(t["client"]))
    status["gates"] = gates  # newest first (catalog order)
    recent_ids = {parent_of(run) for run in runs} | {str(run["id"]) for run in runs if not is_stage_run(run)}
    status["failing_gates"] = [g for g in gates
                               if g.get("outcome") == "fail" and (not recent_ids or g.get("run_id") in recent_ids)]

    positions = _positions(runs, checkpoints)
    status["positions"] = positions
    freshness = []
    for dataset in lake.datasets():
        for wiki in lake.wikis(dataset):
            current, latest = lake.current(dataset, wiki), lake.latest(dataset, wiki)
            freshness.append({"dataset": dataset, "wiki": wiki, "current": current, "latest": latest,
                              "current_age_days": age_days(current, now),
                              "dump": positions.get(wiki, {}).get("dump"),
                              "events_until": positions.get(wiki, {}).get("events_until")})
    status["freshness"] = freshness
    try:
        from wikivis.captions.coverage import coverage_status

        status["captions"] = coverage_status(settings, lake=lake)
    except Exception as exc:  # the page shows what it can
        status["captions"] = [{"wiki": "?", "error": f"{type(exc).__name__}: {exc}"}]
    pointers, on_disk = read_index(settings.index_root)
    status["index"] = pointers
    status["index_history"] = index_history(reversed(stage_runs), on_disk)
    status["policy"] = {"upload_max_mbps": settings.upload_max_mbps,
                        "upload_max_concurrency": settings.upload_max_concurrency,
                        "api_max_concurrency": settings.api_max_concurrency,
                        "recall_threshold": settings.recall_threshold}
    return status


def health(status: Mapping[str, Any]) -> str:
    """``degraded`` when the catalog is unreadable or the newest interval of some run kind and
    wiki failed (:mod:`wikivis.runs`).  Neither a stage try that Airflow retries nor a later
    backfill of an older date changes that."""
    if status.get("catalog_error"):
        return "degraded"
    if any(entry.get("status") == "failed" for entry in status.get("intervals", [])):
        return "degraded"
    return "ok"
