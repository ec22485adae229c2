"""The wikivis monitoring page, served by the Airflow API server under ``/wikivis``.

What it shows (all read from wikivis' own records, never from Airflow's metadata DB):

* per stage (the pipeline's child runs ``stage:<name>``, shards folded together) and per
  parent run kind: last success, last status, last and mean duration;
* gate results of the recent runs, failing ones first, with the reason readable;
* quality-report links (``<reports_root>/<run_id>/report.html``, served by this app);
* per dataset × wiki: published (``current``) and newest snapshot, and the published one's age;
* per model: the index ``current.json`` pointer (version, recall);
* politeness counters of the recent runs (``metrics["http"]``: requests, retries, 429s, bytes);
* caption coverage per wiki: share of article images with a caption / alt text
  (:func:`wikivis.captions.coverage.coverage_status`, next to the tutorial's 43 % / 10 %).

Access.  FastAPI apps mounted by a plugin are *not* protected by Airflow's auth by default.
Every route except ``/health`` depends on :func:`require_user`, which validates the Airflow
JWT — ``Authorization: Bearer <token>`` or the ``_token`` cookie the Airflow UI sets — with
the configured auth manager (Airflow's own ``resolve_user_from_token``), then asks the auth
manager whether that user may see the custom view ``wikivis``.  ``/health`` answers only
``{"status": "ok" | "degraded"}`` for external monitors (HTTP 200 / 503): degraded when the
newest interval of a run kind and wiki failed (see :mod:`wikivis.runs`).

Nothing here is imported at parse time beyond FastAPI: the catalog (SQLAlchemy) and the lake
(pyarrow) are imported on the first request, so loading the plugin stays cheap in every
Airflow component.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

if TYPE_CHECKING:
    from wikivis.config import Settings

#: resource name of the monitoring page for the auth manager's ``is_authorized_custom_view``
VIEW_RESOURCE = "wikivis"
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:+=-]{0,254}$")
_SNAPSHOT_DATE_RE = re.compile(r"([0-9]{8})(?:T([0-9]{6})Z)?", re.ASCII)
#: ``wikivis.pipeline`` records each stage as a child run of kind ``stage:<name>`` (``<name>_<shard>``
#: for mapped shards); the parent run's kind is the DAG (or CLI) that started it
STAGE_KIND_PREFIX = "stage:"
_SHARD_SUFFIX_RE = re.compile(r"_\d+$")
#: politeness counters shown per run (keys of ``wikivis.sources.http.HttpCounters``)
HTTP_COUNTERS = ("requests", "retries", "throttled", "server_errors", "bytes", "waited_s")


# --------------------------------------------------------------------------- auth
async def require_user(request: Request) -> Any:
    """Resolve the Airflow user from the bearer token or the UI's ``_token`` cookie (401/403)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
    from airflow.api_fastapi.core_api.security import resolve_user_from_token

    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    token = credentials.strip() if scheme.lower() == "bearer" else request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    user = await resolve_user_from_token(token)
    if not get_auth_manager().is_authorized_custom_view(method="GET", resource_name=VIEW_RESOURCE, user=user):
        raise HTTPException(status_code=403, detail="not allowed to view the wikivis monitor")
    return user


User = Annotated[Any, Depends(require_user)]


# --------------------------------------------------------------------------- data
def _snapshot_time(snapshot: str | None) -> datetime | None:
    match = _SNAPSHOT_DATE_RE.fullmatch(snapshot or "")
    if not match:
        return None
    return datetime.strptime(match.group(1) + (match.group(2) or "000000"), "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def _age_days(snapshot: str | None, now: datetime) -> float | None:
    when = _snapshot_time(snapshot)
    return None if when is None else round((now - when).total_seconds() / 86400, 2)


def stage_name(kind: str | None) -> str:
    """``stage:metadata_3`` → ``metadata``; a parent run's kind (its DAG) stays as it is."""
    kind = str(kind or "?")
    if kind.startswith(STAGE_KIND_PREFIX):
        return _SHARD_SUFFIX_RE.sub("", kind.removeprefix(STAGE_KIND_PREFIX))
    return kind


def is_stage_run(run: Mapping[str, Any]) -> bool:
    return str(run.get("kind") or "").startswith(STAGE_KIND_PREFIX)


def stage_summary(runs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per stage (or parent run kind): last run, last success and durations (runs newest first)."""
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
    return sorted(out, key=lambda e: e["stage"])


def http_counters(metrics: Mapping[str, Any] | None) -> dict[str, dict[str, float]]:
    """``metrics["http"]`` as ``{client: counters}``; a flat counter dict becomes client ``all``."""
    http = (metrics or {}).get("http")
    if not isinstance(http, Mapping) or not http:
        return {}
    if any(key in http for key in HTTP_COUNTERS):
        http = {"all": http}
    return {
        str(client): {key: counters.get(key, 0) for key in HTTP_COUNTERS}
        for client, counters in http.items()
        if isinstance(counters, Mapping)
    }


def _read_index_pointers(index_root: Path) -> list[dict[str, Any]]:
    pointers = []
    if index_root.is_dir():
        for model_dir in sorted(p for p in index_root.iterdir() if p.is_dir()):
            pointer = model_dir / "current.json"
            if pointer.is_file():
                try:
                    data = json.loads(pointer.read_text("utf-8"))
                except (OSError, ValueError) as exc:
                    data = {"error": f"unreadable current.json: {exc}"}
                pointers.append({"model": model_dir.name, **(data if isinstance(data, dict) else {"value": data})})
    return pointers


def _open_catalog(settings: Settings) -> Any | None:
    """The catalog, or ``None`` when it does not exist yet (the monitor never creates it)."""
    from wikivis.catalog import Catalog

    url = settings.resolved_catalog_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return None
    return Catalog(url, migrate=False)


def collect_status(settings: Settings, *, runs_limit: int = 500, now: datetime | None = None) -> dict[str, Any]:
    """Everything the page shows, as JSON-able data."""
    from wikivis.lake import Lake

    now = now or datetime.now(UTC)
    status: dict[str, Any] = {"generated_at": now.isoformat(timespec="seconds"), "catalog_error": None}
    runs: list[dict[str, Any]] = []
    gates: list[dict[str, Any]] = []
    status["event_gaps"] = []
    try:
        catalog = _open_catalog(settings)
        if catalog is not None:
            try:
                runs = catalog.runs(limit=runs_limit)
                gates = catalog.gate_results(limit=500)
                from wikivis.events import event_gaps

                status["event_gaps"] = event_gaps(catalog)
            finally:
                catalog.dispose()
    except Exception as exc:
        from wikivis.logsafe import mask_secrets

        status["catalog_error"] = mask_secrets(f"{type(exc).__name__}: {exc}")
    from wikivis.runs import newest_intervals

    reports_root = settings.reports_root
    status["stages"] = stage_summary(runs)
    status["intervals"] = newest_intervals(runs)
    status["runs"] = [
        {
            **{k: run.get(k) for k in ("id", "kind", "wiki", "status", "started_at", "ended_at", "duration_s", "message")},
            "report": (reports_root / str(run["id"]) / "report.html").is_file(),
        }
        for run in runs
        if not is_stage_run(run)
    ]
    status["http"] = [
        {"run": run["id"], "stage": stage_name(run.get("kind")), "client": client, **counters}
        for run in runs
        for client, counters in http_counters(run.get("metrics")).items()
    ]
    recent_ids = {str(run["id"]).split(".", 1)[0] for run in runs}
    shown = [g for g in gates if not recent_ids or g.get("run_id") in recent_ids]
    status["gates"] = sorted(shown, key=lambda g: (g.get("outcome") != "fail", g.get("outcome") != "warn"))
    status["failing_gates"] = [g for g in shown if g.get("outcome") == "fail"]

    lake = Lake.from_settings(settings)
    freshness = []
    for dataset in lake.datasets():
        for wiki in lake.wikis(dataset):
            current, latest = lake.current(dataset, wiki), lake.latest(dataset, wiki)
            freshness.append({"dataset": dataset, "wiki": wiki, "current": current, "latest": latest,
                              "current_age_days": _age_days(current, now)})
    status["freshness"] = freshness
    status["index"] = _read_index_pointers(settings.index_root)
    try:
        from wikivis.captions.coverage import coverage_status

        status["captions"] = coverage_status(settings, lake=lake)
    except Exception as exc:  # the page shows what it can
        status["captions"] = [{"wiki": "?", "error": f"{type(exc).__name__}: {exc}"}]
    return status


def health(status: Mapping[str, Any]) -> str:
    """``degraded`` when the catalog is unreadable or the newest interval of some run kind
    and wiki failed (:mod:`wikivis.runs`).  Neither a stage try that Airflow retries nor a
    later backfill of an older date changes that."""
    if status.get("catalog_error"):
        return "degraded"
    if any(entry.get("status") == "failed" for entry in status.get("intervals", [])):
        return "degraded"
    return "ok"


# --------------------------------------------------------------------------- page
def _cell(value: Any) -> str:
    if value is None:
        return '<td class="none">–</td>'
    if isinstance(value, float):
        value = f"{value:,.2f}"
    elif isinstance(value, int) and not isinstance(value, bool):
        value = f"{value:,}"
    return f"<td>{html.escape(str(value))}</td>"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, raw_columns: Sequence[int] = (),
           row_class: Callable[[Sequence[Any]], str] | None = None, empty: str = "nothing yet") -> str:
    body = []
    for row in rows:
        cells = "".join(str(v) if i in raw_columns else _cell(v) for i, v in enumerate(row))
        cls = f' class="{row_class(row)}"' if row_class else ""
        body.append(f"<tr{cls}>{cells}</tr>")
    if not body:
        return f'<p class="empty">{html.escape(empty)}</p>'
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1d2327}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}
table{border-collapse:collapse;font-size:.85rem}th,td{border:1px solid #ccd0d4;padding:.25rem .5rem;text-align:left}
th{background:#f0f0f1}.none{color:#999}.empty{color:#777}
tr.fail td{background:#fcf0f1}tr.warn td{background:#fcf9e8}tr.pass td{background:#f0f6f0}
.badge{padding:.1rem .4rem;border-radius:.2rem;color:#fff}.ok{background:#00a32a}.degraded{background:#d63638}
.reason{font-family:ui-monospace,monospace;white-space:pre-wrap}
"""


def render_page(status: Mapping[str, Any], prefix: str = "") -> str:
    """The monitoring page as one self-contained HTML document."""
    state = health(status)
    parts = [
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>wikivis monitor</title><style>{_CSS}</style></head><body>",
        f'<h1>wikivis monitor <span class="badge {state}" id="health">{state}</span></h1>',
        f"<p>generated {html.escape(status['generated_at'])}</p>",
    ]
    if status.get("catalog_error"):
        parts.append(f'<p class="reason">catalog unreadable: {html.escape(status["catalog_error"])}</p>')

    failing = status.get("failing_gates", [])
    parts.append('<h2 id="failing-gates">Failing gates</h2>')
    parts.append(_table(
        ["run", "stage", "dataset", "gate", "reason"],
        ([g.get("run_id"), g.get("stage"), g.get("dataset"), g.get("gate"),
          f'<td class="reason">{html.escape(str(g.get("message") or ""))}</td>'] for g in failing),
        raw_columns=(4,), row_class=lambda _: "fail", empty="no failing gate",
    ))

    parts.append('<h2 id="event-gaps">EventStreams gaps (events that could not be replayed)</h2>')
    parts.append(_table(
        ["wiki", "lost from", "lost until", "reconciled by", "reason"],
        ([g.get("wiki"), g.get("since"), g.get("lost_until"), g.get("reconciled_by") or "not yet (stale)",
          f'<td class="reason">{html.escape(str(g.get("reason") or ""))}</td>'] for g in status.get("event_gaps", [])),
        raw_columns=(4,), row_class=lambda row: "fail" if row[3] == "not yet (stale)" else "warn", empty="no gap",
    ))

    parts.append("<h2>Stages</h2>")
    parts.append(_table(
        ["stage or run kind", "last status", "last started", "last success", "its duration (s)", "mean duration (s)"],
        ([s["stage"], s["last_status"], s["last_started"], s["last_success"], s["last_success_duration_s"],
          s["mean_duration_s"]] for s in status.get("stages", [])),
    ))

    parts.append('<h2 id="intervals">Newest interval per run kind and wiki (health)</h2>')
    parts.append(_table(
        ["run kind", "wiki", "interval", "run", "status", "message"],
        ([i["kind"], i["wiki"], i["interval"], i["run_id"], i["status"], i.get("message")]
         for i in status.get("intervals", [])),
        row_class=lambda row: "fail" if row[4] == "failed" else "pass",
    ))

    parts.append('<h2 id="gates">Gate results</h2>')
    parts.append(_table(
        ["run", "stage", "dataset", "gate", "outcome", "message", "at"],
        ([g.get("run_id"), g.get("stage"), g.get("dataset"), g.get("gate"), g.get("outcome"),
          f'<td class="reason">{html.escape(str(g.get("message") or ""))}</td>', g.get("created_at")]
         for g in status.get("gates", [])),
        raw_columns=(5,), row_class=lambda row: str(row[4]),
    ))

    parts.append("<h2>Runs and quality reports</h2>")  # parent runs; their stages are above
    parts.append(_table(
        ["run", "stage", "wiki", "status", "started", "duration (s)", "report", "message"],
        ([r["id"], r["kind"], r["wiki"], r["status"], r["started_at"], r["duration_s"],
          (f'<td><a href="{html.escape(prefix)}/reports/{quote(r["id"], safe="")}/report.html">report</a></td>'
           if r["report"] else _cell(None)), r.get("message")] for r in status.get("runs", [])),
        raw_columns=(6,),
    ))

    parts.append("<h2>Snapshot freshness</h2>")
    parts.append(_table(
        ["dataset", "wiki", "published (current)", "newest", "published age (days)"],
        ([f["dataset"], f["wiki"], f["current"], f["latest"], f["current_age_days"]] for f in status.get("freshness", [])),
    ))

    parts.append("<h2>Index</h2>")
    parts.append(_table(
        ["model", "version", "recall", "details"],
        ([p.get("model"), p.get("version"),
          next((v for k, v in p.items() if "recall" in k and isinstance(v, (int, float))), None),
          json.dumps({k: v for k, v in p.items() if k not in ("model", "version")}, sort_keys=True, default=str)[:300]]
         for p in status.get("index", [])),
    ))

    parts.append('<h2 id="captions">Caption coverage</h2>')
    parts.append(_table(
        ["wiki", "snapshot", "article images", "with caption", "with alt text", "bad alt text", "tutorial (enwiki)"],
        ([c.get("wiki"), c.get("snapshot"), c.get("images"),
          f"{c['caption_share']:.1%}" if "caption_share" in c else c.get("error"),
          f"{c['alt_share']:.1%}" if "alt_share" in c else None, c.get("bad_alt"),
          "43% / 10%"] for c in status.get("captions", [])),
        empty="no captions extracted yet",
    ))

    parts.append("<h2>Politeness (HTTP counters per stage run)</h2>")
    parts.append(_table(
        ["run", "stage", "client", *HTTP_COUNTERS],
        ([h["run"], h["stage"], h["client"], *(h.get(k) for k in HTTP_COUNTERS)] for h in status.get("http", [])),
        empty="no HTTP counters recorded",
    ))
    parts.append("</body></html>")
    return "\n".join(parts)


# --------------------------------------------------------------------------- app
def create_app(settings_factory: Callable[[], Settings] | None = None) -> FastAPI:
    """The monitoring app; ``settings_factory`` defaults to ``wikivis.config.get_settings``."""

    def current_settings() -> Settings:
        if settings_factory is not None:
            return settings_factory()
        from wikivis.config import get_settings

        return get_settings()

    app = FastAPI(title="wikivis monitor", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/health")
    def health_endpoint() -> JSONResponse:
        state = health(collect_status(current_settings(), runs_limit=500))
        return JSONResponse({"status": state}, status_code=200 if state == "ok" else 503)

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request, user: User) -> HTMLResponse:
        prefix = str(request.scope.get("root_path", "")).rstrip("/")
        return HTMLResponse(render_page(collect_status(current_settings()), prefix))

    @app.get("/api/status")
    def status_json(user: User) -> JSONResponse:
        return JSONResponse(collect_status(current_settings()))

    @app.get("/reports/{run_id}/report.html")
    def report(run_id: str, user: User) -> FileResponse:
        if not _RUN_ID_RE.fullmatch(run_id):
            raise HTTPException(status_code=404, detail="no such report")
        root = current_settings().reports_root.resolve()
        path = (root / run_id / "report.html").resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise HTTPException(status_code=404, detail="no such report")
        return FileResponse(path, media_type="text/html")

    return app
