"""Wikidata: the Wikibase API (``wbgetentities``) and the Wikidata Query Service (SPARQL).

Both clients follow :mod:`wikivis.sources.http` (policy User-Agent, declared retries,
``Retry-After``, ≤ 3 requests in flight per host); no Airflow, no global state.

``wbgetentities`` (:class:`WikidataClient`):

* ``ids`` takes at most **50** values per request for non-bots (error ``toomanyvalues``
  beyond), so :meth:`WikidataClient.entities` batches and yields one :class:`Entity` per
  distinct requested id.  It goes through the Action API layer, so ``maxlag`` (an HTTP 200
  with error ``maxlag`` + ``Retry-After``) is retried like on any wiki.
* A well-formed id that does not exist comes back as ``{"id": "Q…", "missing": ""}``; a
  malformed one makes the *whole request* fail with ``no-such-entity``, so ids are checked
  against ``Q[1-9][0-9]*`` before anything is sent.
* Redirected items are followed by default (``redirects=yes``): the answer is keyed by the
  requested id but carries the target's ``id``.
* Claims: P18 (*image*, ``commonsMedia``: a file name with spaces, no namespace), P373
  (*Commons category*, a string without ``Category:``), P31 (*instance of*).  Statements
  of rank ``deprecated`` and ``novalue``/``somevalue`` snaks are skipped; ``preferred``
  ones come first.  Sitelinks are ``{wiki: {"site", "title", "badges"}}``.

The Query Service (:class:`SparqlClient`):

* ``GET /sparql?query=…&format=json``; long queries go out as ``POST`` (form-encoded),
  because URLs beyond a few KB are cut by the proxies.
* Every query stops after **60 s**; WDQS then answers HTTP 500 with a Java stack trace
  naming ``java.util.concurrent.TimeoutException``.  That raises
  :class:`~wikivis.errors.QueryTimeout` at once (a retry would time out again); so does a
  client-side read timeout.
* A malformed query is HTTP 400 with ``MalformedQueryException: …`` in the body:
  :class:`~wikivis.errors.MalformedQuery` carries the server's message.
* Rate limits: 5 parallel queries and 60 s of query time per minute per IP; over that, 429
  with ``Retry-After`` (retried, honouring it), and repeated abuse gets 403.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import requests

from wikivis.errors import (
    InputError,
    MalformedQuery,
    NoSitelinks,
    QueryTimeout,
    SourceError,
    UnknownItem,
)
from wikivis.sources.commons import ActionApiClient, api_limiter, file_name
from wikivis.sources.http import (
    ConcurrencyLimiter,
    Cooldown,
    HttpCounters,
    RetryPolicy,
    check_user_agent,
    polite_session,
    request,
)

if TYPE_CHECKING:
    from wikivis.config import Settings

#: ``ids=`` accepts 50 values per request without ``apihighlimits``
IDS_PER_REQUEST = 50
#: WDQS's query deadline, in seconds
WDQS_TIMEOUT_S = 60.0
ITEM_RE = re.compile(r"^Q[1-9]\d{0,11}$")
_RANK_ORDER = {"preferred": 0, "normal": 1}


def check_item_id(value: str) -> str:
    """``q42`` / `` Q42 `` → ``Q42``; anything else is bad input (it would fail a whole batch)."""
    qid = str(value).strip().upper()
    if not ITEM_RE.fullmatch(qid):
        raise InputError(f"not a Wikidata item id: {value!r} (expected e.g. Q42)")
    return qid


@dataclass(frozen=True)
class Entity:
    """What wikivis uses of one item.  ``missing`` items have no claims and no sitelinks."""

    requested: str
    id: str
    label: str = ""
    missing: bool = False
    images: tuple[str, ...] = ()  # P18 as DB keys (underscores)
    commons_category: str | None = None  # P373, without "Category:"
    instance_of: tuple[str, ...] = ()  # P31 item ids
    sitelinks: dict[str, str] = field(default_factory=dict)  # wiki -> title

    def sitelink(self, wiki: str) -> str:
        """The title of the item's article on ``wiki``; raises :class:`NoSitelinks`."""
        if self.missing:
            raise UnknownItem(f"Wikidata has no item {self.requested}")
        try:
            return self.sitelinks[wiki]
        except KeyError:
            where = f"only on {', '.join(sorted(self.sitelinks))}" if self.sitelinks else "no sitelinks at all"
            raise NoSitelinks(f"item {self.id} has no article on {wiki} ({where})") from None


def _values(claims: dict[str, Any], prop: str) -> list[Any]:
    statements = [s for s in claims.get(prop) or () if isinstance(s, dict) and s.get("rank") != "deprecated"]
    statements.sort(key=lambda s: _RANK_ORDER.get(str(s.get("rank")), 1))
    out = []
    for s in statements:
        snak = s.get("mainsnak") or {}
        if snak.get("snaktype", "value") != "value":
            continue
        value = (snak.get("datavalue") or {}).get("value")
        if value is not None:
            out.append(value)
    return out


def parse_entity(requested: str, body: dict[str, Any]) -> Entity:
    """One entry of ``wbgetentities``'s ``entities`` object → :class:`Entity`."""
    if "missing" in body:
        return Entity(requested, str(body.get("id") or requested), missing=True)
    claims = body.get("claims") or {}
    images = tuple(dict.fromkeys(file_name(str(v)) for v in _values(claims, "P18") if isinstance(v, str) and v.strip()))
    categories = [str(v).strip() for v in _values(claims, "P373") if isinstance(v, str) and v.strip()]
    category = re.sub(r"^category:\s*", "", categories[0], flags=re.IGNORECASE) if categories else None
    instance_of = tuple(v["id"] for v in _values(claims, "P31") if isinstance(v, dict) and "id" in v)
    sitelinks = {
        str(site): str(link.get("title", ""))
        for site, link in sorted((body.get("sitelinks") or {}).items())
        if isinstance(link, dict)
    }
    labels = body.get("labels") or {}
    label = next((v.get("value", "") for v in labels.values() if isinstance(v, dict)), "")
    return Entity(requested, str(body.get("id") or requested), str(label), False, images, category, instance_of, sitelinks)


class WikidataClient:
    """``wbgetentities`` for items, on top of the polite Action API client."""

    def __init__(self, api: ActionApiClient, *, languages: str = "en") -> None:
        self.api = api
        self.languages = languages

    @classmethod
    def from_settings(cls, settings: Settings, *, session: requests.Session | None = None, **kwargs: Any) -> WikidataClient:
        url = settings.wikidata_api_url
        api = ActionApiClient(
            url,
            session=session or polite_session(settings, pool_size=settings.api_max_concurrency),
            policy=kwargs.pop("policy", None) or RetryPolicy(max_attempts=settings.http_max_attempts),
            limiter=kwargs.pop("limiter", None) or api_limiter(url, settings.api_max_concurrency),
            maxlag=settings.maxlag,
            timeout_s=settings.http_timeout_s,
            **kwargs,
        )
        return cls(api)

    @property
    def counters(self) -> HttpCounters:
        return self.api.counters

    def entities(self, ids: Iterable[str]) -> Iterator[Entity]:
        """Each distinct id's :class:`Entity`, 50 ids per request (missing items are values)."""
        wanted = list(dict.fromkeys(check_item_id(i) for i in ids))
        for start in range(0, len(wanted), IDS_PER_REQUEST):
            batch = wanted[start : start + IDS_PER_REQUEST]
            body = self.api.call({
                "action": "wbgetentities",
                "ids": "|".join(batch),
                "props": "claims|sitelinks|labels",
                "languages": self.languages,
                "redirects": "yes",
            })
            found = body.get("entities")
            if not isinstance(found, dict):
                raise SourceError("wbgetentities: no 'entities' object in the answer", url=self.api.api_url)
            for qid in batch:
                entry = found.get(qid)
                if not isinstance(entry, dict):
                    raise SourceError(f"wbgetentities did not answer for {qid}", url=self.api.api_url)
                yield parse_entity(qid, entry)

    def entity(self, qid: str) -> Entity:
        """One item; raises :class:`UnknownItem` when Wikidata has none by that id."""
        entity = next(self.entities([qid]))
        if entity.missing:
            raise UnknownItem(f"Wikidata has no item {entity.requested} ({self.api.api_url})")
        return entity


# --------------------------------------------------------------------------- SPARQL


@dataclass(frozen=True)
class SparqlResult:
    """SPARQL 1.1 JSON results: ``vars`` and one dict per solution (``{var: {type, value}}``)."""

    vars: tuple[str, ...]
    bindings: tuple[dict[str, dict[str, str]], ...]

    def rows(self) -> Iterator[dict[str, str | None]]:
        """Plain values per solution, unbound variables as ``None``."""
        for b in self.bindings:
            yield {v: (b[v].get("value") if v in b else None) for v in self.vars}


ENTITY_PREFIX = "http://www.wikidata.org/entity/"
FILEPATH_PREFIX = "http://commons.wikimedia.org/wiki/Special:FilePath/"


def entity_id(uri: str | None) -> str | None:
    """``http://www.wikidata.org/entity/Q42`` → ``Q42`` (other values unchanged)."""
    if uri and uri.startswith(ENTITY_PREFIX):
        return uri[len(ENTITY_PREFIX):]
    return uri


def filepath_name(uri: str | None) -> str | None:
    """A P18 value as WDQS returns it (``…/Special:FilePath/Foo%20bar.jpg``) → ``Foo_bar.jpg``."""
    if not uri:
        return uri
    from urllib.parse import unquote

    if uri.startswith(FILEPATH_PREFIX) or uri.startswith(FILEPATH_PREFIX.replace("http:", "https:")):
        return file_name(unquote(uri.rsplit("/", 1)[1]))
    return uri


def _server_message(body: str) -> str:
    """The useful line of a WDQS error page (a Java stack trace)."""
    for line in body.splitlines():
        if "MalformedQueryException" in line or "QueryParseException" in line:
            return line.rsplit("Exception:", 1)[-1].strip() or line.strip()
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    return lines[0][:300] if lines else "(empty body)"


class SparqlClient:
    """A polite client for one SPARQL endpoint (the Wikidata Query Service)."""

    def __init__(
        self,
        endpoint: str,
        *,
        session: requests.Session,
        policy: RetryPolicy | None = None,
        limiter: ConcurrencyLimiter | None = None,
        counters: HttpCounters | None = None,
        timeout_s: float = WDQS_TIMEOUT_S + 5,
        post_threshold: int = 2000,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        check_user_agent(str(session.headers.get("User-Agent", "")))
        self.endpoint = endpoint
        self.session = session
        # a 500 is WDQS's timeout (or a query error): never retried blindly
        self.policy = policy or RetryPolicy(
            statuses=frozenset({429, 502, 503, 504}),
            exceptions=(requests.ConnectionError, requests.exceptions.ChunkedEncodingError),
        )
        self.limiter = limiter or ConcurrencyLimiter(3)
        self.counters = counters or HttpCounters()
        self.timeout_s = timeout_s
        self.post_threshold = post_threshold
        self.sleep = sleep
        self.cooldown = Cooldown(sleep=sleep)

    @classmethod
    def from_settings(cls, settings: Settings, *, session: requests.Session | None = None, **kwargs: Any) -> SparqlClient:
        return cls(
            settings.wdqs_url,
            session=session or polite_session(settings, pool_size=settings.wdqs_max_concurrency),
            limiter=kwargs.pop("limiter", None) or api_limiter(settings.wdqs_url, settings.wdqs_max_concurrency),
            post_threshold=settings.wdqs_post_threshold,
            **kwargs,
        )

    def query(self, sparql: str) -> SparqlResult:
        """Run one SELECT query; typed errors for malformed queries and timeouts."""
        if not sparql.strip():
            raise MalformedQuery("empty SPARQL query", source=self.endpoint)
        headers = {"Accept": "application/sparql-results+json"}
        encoded = urlencode({"query": sparql, "format": "json"}, quote_via=quote)
        method = "POST" if len(encoded) > self.post_threshold else "GET"
        kwargs: dict[str, Any] = {"headers": headers, "timeout": self.timeout_s}
        if method == "POST":
            kwargs["data"] = {"query": sparql, "format": "json"}
        else:
            kwargs["params"] = {"query": sparql, "format": "json"}
        try:
            response = request(
                self.session, method, self.endpoint, policy=self.policy, counters=self.counters,
                limiter=self.limiter, sleep=self.sleep, cooldown=self.cooldown,
                ok_statuses=(200, 400, 500), **kwargs,
            )
        except requests.Timeout as exc:
            raise QueryTimeout(
                f"no answer within {self.timeout_s:.0f}s (WDQS stops queries after {WDQS_TIMEOUT_S:.0f}s): "
                "narrow the query (LIMIT, more specific patterns)", url=self.endpoint,
            ) from exc
        status = response.status_code
        if status == 400:
            raise MalformedQuery(f"the Query Service refused the query: {_server_message(response.text)}", source=self.endpoint)
        if status == 500:
            text = response.text
            if "TimeoutException" in text:
                raise QueryTimeout(
                    f"the query ran into the Query Service's {WDQS_TIMEOUT_S:.0f}-second limit: narrow it "
                    "(LIMIT, more specific patterns) or split it", url=self.endpoint, status=500,
                )
            raise SourceError(f"query failed: {_server_message(text)}", url=self.endpoint, status=500)
        try:
            body = response.json()
            head_vars = tuple(str(v) for v in body["head"]["vars"])
            bindings = tuple(dict(b) for b in body["results"]["bindings"])
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceError(f"not SPARQL JSON results ({response.headers.get('Content-Type')})", url=self.endpoint) from exc
        return SparqlResult(head_vars, bindings)


def instances_with_image_query(class_id: str, *, limit: int | None = None) -> str:
    """The tutorial's "images of a class", the Wikidata way: items that are an instance of
    ``class_id`` and have an image (P18)."""
    qid = check_item_id(class_id)
    tail = f"\nLIMIT {int(limit)}" if limit else ""
    return (
        "SELECT ?item ?image WHERE {\n"
        f"  ?item wdt:P31 wd:{qid} .\n"
        "  ?item wdt:P18 ?image .\n"
        "}" + tail
    )
