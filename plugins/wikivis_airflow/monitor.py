"""The wikivis monitoring page, served by the Airflow API server under ``/wikivis``.

The data and the HTML (inline SVG charts, paginated tables) come from
:mod:`wikivis.monitoring`, which runs without Airflow; this module only adds the routes and
Airflow's authentication.  What the page shows, read from wikivis' own records (never from
Airflow's metadata DB): stage durations over the last runs, gate outcomes over time, each
dataset's freshness against the dump and EventStreams positions, thumbnail throughput
against the policy ceiling, the index's recall and size across versions, and the
politeness counters of every Wikimedia client — see ``docs/monitoring.md``.

Access.  FastAPI apps mounted by a plugin are *not* protected by Airflow's auth by default.
Every route except ``/health`` and ``/icon.svg`` depends on :func:`require_user`, which
validates the Airflow JWT — ``Authorization: Bearer <token>`` or the ``_token`` cookie the
Airflow UI sets — with the configured auth manager (Airflow's own
``resolve_user_from_token``), then asks the auth manager whether that user may see the
custom view ``wikivis``.  ``/health`` answers only ``{"status": "ok" | "degraded"}`` for
external monitors (HTTP 200 / 503).

Nothing here is imported at parse time beyond FastAPI and the standard-library-only
:mod:`wikivis.monitoring`: the catalog (SQLAlchemy) and the lake (pyarrow) are imported on
the first request, so loading the plugin stays cheap in every Airflow component.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from wikivis.monitoring import View, collect_status, health, render_page

if TYPE_CHECKING:
    from wikivis.config import Settings

#: resource name of the monitoring page for the auth manager's ``is_authorized_custom_view``
VIEW_RESOURCE = "wikivis"
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:+=-]{0,254}$")
#: the nav entry's icon (a small bar chart), public like any static asset
ICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="currentColor" '
    'stroke-width="2" stroke-linecap="round"><path d="M4 20V10M10 20V4M16 20v-7M22 20H2"/></svg>'
)


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


# --------------------------------------------------------------------------- app
def create_app(settings_factory: Callable[[], Settings] | None = None) -> FastAPI:
    """The monitoring app; ``settings_factory`` defaults to the deployment's settings
    (:func:`wikivis_airflow.hooks.deployment_settings`), read per request."""

    def current_settings() -> Settings:
        if settings_factory is not None:
            return settings_factory()
        from wikivis_airflow.hooks import deployment_settings

        return deployment_settings()

    app = FastAPI(title="wikivis monitor", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/health")
    def health_endpoint() -> JSONResponse:
        # enough runs to see the newest interval of every run kind and wiki (stage rows included)
        state = health(collect_status(current_settings(), runs_limit=500))
        return JSONResponse({"status": state}, status_code=200 if state == "ok" else 503)

    @app.get("/icon.svg")
    def icon() -> Response:
        return Response(ICON_SVG, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request, user: User) -> HTMLResponse:
        prefix = str(request.scope.get("root_path", "")).rstrip("/")
        view = View.from_query(dict(request.query_params))
        return HTMLResponse(render_page(collect_status(current_settings()), prefix, view))

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
