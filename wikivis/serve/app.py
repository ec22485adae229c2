"""HTTP API over :class:`~wikivis.recommend.service.RecommenderService`.

Endpoints::

    GET /similar?file=<file name | File:… | sha1>&k=10
    GET /suggest?article=<title>&k=10&model=auto|visrank|curatornet
    GET /healthz                 (no token; counts, index kind, p50/p95 latency per endpoint)

Behaviour that callers can rely on:

* unknown titles/files → **404** ``{"error": "not_found", "reason": "unknown article 'X'"}``;
  bad parameters (``k`` outside 1..:data:`MAX_K`, empty names, unknown model) → **422**
  ``{"error": "invalid_request", "reason": …, "detail": [...]}``; a service that cannot
  load (nothing published yet, unreadable index) → **503** with a *generic* reason (the
  details — file paths, faiss error text — go to the server log only, also on
  ``/healthz``, which answers without a token); anything else → **500**
  ``{"error": "internal"}`` — never a traceback in a response.
* **Bearer token.**  ``require_token=None`` means: required when ``Settings.serve_token``
  is set or ``Settings.serve_host`` is not a loopback address.  A token that is required
  but not configured is a :class:`~wikivis.errors.ConfigError` at app creation, so an
  exposed server cannot start open.  Tokens are compared in constant time.  When a token
  is required, ``/docs`` and ``/openapi.json`` require it too (``/redoc`` is off): the schema
  is part of what the token protects.
* The service is loaded on first use (the app can be created, and mounted, before the
  pipeline has published anything); a failed load is retried on the next request.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import threading
import time
from collections import deque
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import Depends, FastAPI, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from wikivis import __version__
from wikivis.config import Settings
from wikivis.errors import ConfigError, NotFoundError, WikivisError
from wikivis.recommend.loading import load_service
from wikivis.recommend.service import ModelUnavailable, RecommenderService

log = logging.getLogger(__name__)

MAX_K = 100
_LATENCY_WINDOW = 2048
_TIMED_PATHS = frozenset({"/similar", "/suggest", "/healthz"})
#: module level so that FastAPI can resolve the dependency in string annotations
_BEARER = HTTPBearer(auto_error=False)


def is_loopback(host: str) -> bool:
    """``127.0.0.0/8``, ``::1`` and ``localhost`` are loopback; names and other IPs are not."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def token_required(settings: Settings, require_token: bool | None = None) -> bool:
    """Whether requests need ``Authorization: Bearer <serve_token>`` (see module doc)."""
    required = (
        (bool(settings.serve_token) or not is_loopback(settings.serve_host)) if require_token is None else require_token
    )
    if required and not settings.serve_token:
        raise ConfigError(
            f"serving on {settings.serve_host} needs a bearer token: set WIKIVIS_SERVE_TOKEN (or bind to 127.0.0.1)"
        )
    return required


# ------------------------------------------------------------------------ response models
class SuggestionOut(BaseModel):
    sha1: str
    file_name: str
    score: float
    rank: int
    source: str
    seed_images: list[str]
    seed_articles: list[str]


class SimilarOut(BaseModel):
    file: str
    sha1: str
    k: int
    results: list[SuggestionOut]


class SeedArticleOut(BaseModel):
    title: str
    page_id: int
    weight: float
    via: list[str]


class SuggestOut(BaseModel):
    article: str
    page_id: int
    illustrated: bool
    model: str
    k: int
    suggestions: list[SuggestionOut]
    seed_articles: list[SeedArticleOut]
    note: str


class _Latency:
    """Recent request durations per endpoint (ms), for ``/healthz``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._samples: dict[str, deque[float]] = {}

    def add(self, path: str, ms: float) -> None:
        with self._lock:
            self._samples.setdefault(path, deque(maxlen=_LATENCY_WINDOW)).append(ms)

    def summary(self) -> dict[str, dict[str, float]]:
        with self._lock:
            snap = {p: list(v) for p, v in self._samples.items()}
        return {
            p: {
                "n": len(v),
                "p50_ms": round(float(np.percentile(v, 50)), 3),
                "p95_ms": round(float(np.percentile(v, 95)), 3),
            }
            for p, v in snap.items()
            if v
        }


class _ServiceHolder:
    def __init__(self, settings: Settings, service: RecommenderService | None) -> None:
        self._settings = settings
        self._service = service
        self._lock = threading.Lock()

    def get(self) -> RecommenderService:
        if self._service is None:
            with self._lock:
                if self._service is None:
                    self._service = load_service(self._settings)
        return self._service


class ServiceUnavailable(WikivisError):
    """The recommender could not be loaded (nothing published yet, unreadable index...)."""


#: what a client is told when the service cannot load; the cause is logged server-side only
NOTHING_PUBLISHED = "nothing published to serve yet (article_images, embeddings or index missing); see the server log"
LOAD_FAILED = "the recommender could not be loaded; see the server log"


def _error(status: int, error: str, reason: str, **extra: Any) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": error, "reason": reason, **extra})


def create_app(
    settings: Settings,
    *,
    require_token: bool | None = None,
    service: RecommenderService | None = None,
) -> FastAPI:
    """The FastAPI app; ``service`` defaults to one loaded lazily from ``settings``."""
    needs_token = token_required(settings, require_token)
    holder = _ServiceHolder(settings, service)
    latency = _Latency()
    app = FastAPI(
        title="wikivis recommendations",
        version=__version__,
        docs_url=None if needs_token else "/docs",
        redoc_url=None if needs_token else "/redoc",
        openapi_url=None if needs_token else "/openapi.json",
    )

    def authorise(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]) -> None:
        if not needs_token:
            return
        given = credentials.credentials if credentials is not None else ""
        if not given or not hmac.compare_digest(given.encode(), settings.serve_token.encode()):
            raise _Unauthorised()

    def current_service() -> RecommenderService:
        try:
            return holder.get()
        except Exception as exc:  # paths and faiss/IO error text stay in the server log
            log.warning("wikivis serve: the recommender could not be loaded: %s", exc, exc_info=True)
            raise ServiceUnavailable(NOTHING_PUBLISHED if isinstance(exc, NotFoundError) else LOAD_FAILED) from exc

    @app.middleware("http")
    async def record_latency(request: Request, call_next: Any) -> Any:
        started = time.perf_counter()
        response = await call_next(request)
        if request.url.path in _TIMED_PATHS:
            latency.add(request.url.path, (time.perf_counter() - started) * 1000)
        return response

    @app.exception_handler(_Unauthorised)
    async def unauthorised(_request: Request, _exc: _Unauthorised) -> JSONResponse:
        response = _error(401, "unauthorized", "missing or wrong bearer token")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(ModelUnavailable)
    async def model_unavailable(_request: Request, exc: ModelUnavailable) -> JSONResponse:
        return _error(503, "model_unavailable", str(exc))

    @app.exception_handler(NotFoundError)
    async def not_found(_request: Request, exc: NotFoundError) -> JSONResponse:
        return _error(404, "not_found", str(exc))

    @app.exception_handler(ServiceUnavailable)
    async def unavailable(_request: Request, exc: ServiceUnavailable) -> JSONResponse:
        return _error(503, "unavailable", str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = jsonable_encoder(exc.errors())
        reason = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg', '')}" for e in errors)
        return _error(422, "invalid_request", reason, detail=errors)

    @app.exception_handler(Exception)
    async def internal(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in wikivis serve", exc_info=exc)
        return _error(500, "internal", "internal error; see the server log")

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        try:
            body = current_service().health()
        except ServiceUnavailable as exc:
            return _error(503, "unavailable", str(exc), latency=latency.summary())
        return JSONResponse({**body, "auth": needs_token, "latency": latency.summary()})

    if needs_token:

        @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(authorise)])
        def openapi() -> JSONResponse:
            return JSONResponse(app.openapi())

        @app.get("/docs", include_in_schema=False, dependencies=[Depends(authorise)])
        def docs() -> HTMLResponse:
            return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - docs")

    @app.get("/similar", response_model=SimilarOut, dependencies=[Depends(authorise)])
    def similar(
        file: Annotated[str, Query(min_length=1, max_length=512, description="file name, File:…, or sha1")],
        k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
    ) -> dict[str, Any]:
        svc = current_service()
        results = svc.similar(file, k)
        sha1 = svc.data.resolve_file(file) or ""
        return {
            "file": svc.data.display_name(sha1) or file,
            "sha1": sha1,
            "k": k,
            "results": [r.to_dict() for r in results],
        }

    @app.get("/suggest", response_model=SuggestOut, dependencies=[Depends(authorise)])
    def suggest(
        article: Annotated[str, Query(min_length=1, max_length=512, description="article title")],
        k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
        model: Literal["auto", "visrank", "curatornet"] = "auto",
    ) -> dict[str, Any]:
        result = current_service().suggest(article, k, model=model)
        return {**result.to_dict(), "k": k}

    return app


class _Unauthorised(Exception):
    pass
